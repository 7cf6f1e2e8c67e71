"""Readers for the evaluation formats: Tatoeba folders, CoNLL-U files (one language or a
parallel multi-way set aligned by `# sent_id`), `english<TAB>foreign` TSV files (held-out
pairs), MUSE-style dictionaries, plain text.

Nothing here knows a language list: languages come from file names, so any language
in these formats works (Tatoeba's ISO 639-3 codes also answer to a run's codes for them).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from xlmeta_jax.data import sources
from xlmeta_jax.eval import languages
from xlmeta_jax.eval.encode import EvalError

_TATOEBA = re.compile(r"^tatoeba\.([^.]+)-eng\.\1$")


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise EvalError(f"{path}: no such file")
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def tatoeba(folder: str | Path, langs: Sequence[str] | None = None) -> dict[str, tuple[list[str], list[str]]]:
    """{lang: (sentences in lang, their English translations)} from `tatoeba.<code>-eng.<code>` and
    `tatoeba.<code>-eng.eng` (line i translates line i); all languages present by default, keyed by
    their file codes. `langs` may name a language by its file code (`deu`) or by a run's code for
    it (`de`: eval/languages.py): the result keeps the name asked, so that a study's Tatoeba
    numbers sit beside its other numbers for the same language."""
    folder = Path(folder)
    if not folder.is_dir():
        raise EvalError(f"{folder}: no such Tatoeba folder (expected tatoeba.<lang>-eng.<lang> and .eng files)")
    present = sorted(m.group(1) for p in folder.iterdir() if (m := _TATOEBA.match(p.name)))
    if not present:
        raise EvalError(f"{folder}: no tatoeba.<lang>-eng.<lang> files")
    codes = {lang: languages.matching(lang, present) for lang in langs or present}
    missing = sorted(lang for lang, found in codes.items() if len(found) != 1)
    if missing:
        raise EvalError(f"--langs {missing}: not in {folder}, under these codes or their ISO 639-3 ones; "
                        f"present: {','.join(present)}")
    out = {}
    for lang, (code,) in codes.items():
        x = _lines(folder / f"tatoeba.{code}-eng.{code}")
        en = _lines(folder / f"tatoeba.{code}-eng.eng")
        if len(x) != len(en):
            raise EvalError(f"{folder}/tatoeba.{code}-eng.*: {len(x)} and {len(en)} lines; line i of one must "
                            f"translate line i of the other")
        out[lang] = (x, en)
    return out


def tsv_pairs(pattern: str, key: str) -> dict[str, tuple[list[str], list[str]]]:
    """{lang: (sentences in lang, their English translations)} from `english<TAB>foreign` files
    matching `pattern`, a glob with {lang} where the language goes (CORPUS/parallel/en-{lang}.test.tsv):
    the language is what {lang} matched. `key` (the flag or config key) is named in errors."""
    if "{lang}" not in pattern:
        raise EvalError(f"{key}={pattern!r}: put {{lang}} where the language goes, e.g. "
                        f"CORPUS/parallel/en-{{lang}}.test.tsv")
    source = sources.Source("tsv", pattern, key)  # the data sources' {lang} matching, one glob rule
    try:
        langs = source.languages(tfds_data_dir="")
    except sources.DataError:
        raise EvalError(f"{key}={pattern!r} matches no file; fix the path (files english<TAB>foreign, "
                        f"{{lang}} where the language goes)") from None
    out = {}
    for lang in langs:
        pairs = sources.read_pairs(source.files(lang, ""), name=f"{key}: {source.pattern(lang, '')}")
        out[lang] = ([x for _, x in pairs], [en for en, _ in pairs])
    return out


@dataclass(frozen=True)
class Sentence:
    sent_id: str
    text: str
    words: list[str]  # syntactic words (multi-word token ranges and empty nodes skipped)
    upos: list[str]


def conllu(path: str | Path) -> list[Sentence]:
    """Sentences of a CoNLL-U file. Words are the syntactic words (French `du` -> `de le`),
    which carry the UPOS tags; `text` is the `# text` comment (or the words joined)."""
    path = Path(path)
    out, meta, words, tags = [], {}, [], []

    def flush(lineno: int) -> None:
        if words:
            sid = meta.get("sent_id", f"{path.name}:{lineno}")
            out.append(Sentence(sid, meta.get("text", " ".join(words)), list(words), list(tags)))
        meta.clear(), words.clear(), tags.clear()

    lineno = 0
    for lineno, line in enumerate(_lines(path), 1):
        if not line.strip():
            flush(lineno)
        elif line.startswith("#"):
            key, eq, value = line[1:].partition("=")
            if eq:
                meta[key.strip()] = value.strip()
        else:
            cols = line.split("\t")
            if len(cols) != 10:
                raise EvalError(f"{path}:{lineno}: {len(cols)} tab-separated columns, CoNLL-U has 10")
            if cols[0].isdigit():
                words.append(cols[1])
                tags.append(cols[3])
    flush(lineno + 1)
    if not out:
        raise EvalError(f"{path}: no sentences")
    return out


def conllu_language(path: str | Path) -> str:
    """The language code of a UD file name: `de_pud-ud-test.conllu` -> `de`."""
    return Path(path).name.split("_")[0].split("-")[0]


def parallel_conllu(paths: Sequence[str | Path]) -> dict[str, list[str]]:
    """{lang: texts} of a multi-way parallel set (e.g. PUD): the sentences whose `# sent_id`
    is in every file, in the same order."""
    by_lang = {}
    for p in paths:
        lang = conllu_language(p)
        if lang in by_lang:
            raise EvalError(f"{p}: a second file for language {lang!r} (from the file name)")
        by_lang[lang] = {s.sent_id: s.text for s in conllu(p)}
    common = [sid for sid in next(iter(by_lang.values())) if all(sid in v for v in by_lang.values())]
    if not common:
        raise EvalError(f"{[str(p) for p in paths]}: no # sent_id common to all files; they are not parallel")
    return {lang: [texts[sid] for sid in common] for lang, texts in by_lang.items()}


def dictionary(path: str | Path) -> list[tuple[str, str]]:
    """`source<TAB>target` pairs in file order (several lines per source word allowed)."""
    pairs = []
    for lineno, line in enumerate(_lines(Path(path)), 1):
        src, tab, tgt = line.strip().partition("\t")
        if not tab:
            src, _, tgt = line.strip().partition(" ")  # MUSE files separate with a space
        if src and tgt:
            pairs.append((src, tgt.strip()))
    if not pairs:
        raise EvalError(f"{path}: no 'source<TAB>target' line")
    return pairs


def text(path: str | Path, limit: int | None = None) -> list[str]:
    """Non-empty lines of a text file."""
    return [l for l in _lines(Path(path)) if l.strip()][:limit]
