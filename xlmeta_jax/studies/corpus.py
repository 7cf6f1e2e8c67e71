"""What studies' `prepare` hooks build their corpus folders from: the Bible corpus's verse pairs,
written one verse per document (as the control, where verse documents let structure emerge
several times sooner than chapters: docs/studies/control-search.md). Several seeds may run
`prepare` at once: files are written to a per-process temporary name and renamed into place.

Shares of the training text are taken in blocks of BLOCK consecutive train verses (about a
chapter: 24,600 train verses in 952 train chapters), so that a share is whole passages, as a
share of chapters would be: `(every, offset)` keeps the blocks i with i % every == offset, e.g.
(20, 0) about 5% (a low-resource language), (2, 0) and (2, 1) two disjoint halves. Blocks are
counted on one English verse list for every language, so that the halves of two languages hold
no verse in common even though each pair file lacks a few verses of the others.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from xlmeta_jax.files import write_atomically

SPLITS = ("train", "valid", "test")
BLOCK = 25
# How far ahead of the last match an English verse is looked for in the reference list (a pair
# file lacks the verses whose other side was empty or held-out text: a few hundred in 24,600).
LOOKAHEAD = 64
WORD = re.compile(r"\w+")
ALL = (1, 0)


def write_lines(path: Path, lines: Iterable[str]) -> None:
    write_atomically(path, "".join(line + "\n" for line in lines))


def verse_pairs(bible: Path, lang: str, split: str) -> list[tuple[str, str]]:
    """(English verse, `lang` verse) of one split of the Bible corpus (parallel/en-<lang>.<split>.tsv)."""
    lines = (Path(bible) / "parallel" / f"en-{lang}.{split}.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines]


def positions(english: Sequence[str], reference: Sequence[str]) -> list[int]:
    """Each English verse's index in `reference` (English verses in Bible order, as `english`):
    found by searching forward from the last match; a verse `reference` lacks takes the last
    match's index."""
    out, at = [], 0
    for verse in english:
        ahead = [j for j in range(at, min(at + LOOKAHEAD, len(reference))) if reference[j] == verse]
        at = ahead[0] if ahead else at
        out.append(at)
    return out


def blocks(rows: Sequence, share: tuple[int, int], where: Sequence[int] | None = None, block: int = BLOCK) -> list:
    """The rows in the blocks of `block` consecutive verses with index i % every == offset; a
    row's verse index is `where[row]` (default: its own index)."""
    every, offset = share
    if not 0 <= offset < every:
        raise ValueError(f"share {share}: give (every, offset) with 0 <= offset < every")
    where = range(len(rows)) if where is None else where
    return [r for r, i in zip(rows, where) if (i // block) % every == offset]


def spread(rows: Sequence, n: int) -> list:
    """`n` rows evenly spaced over all of `rows` (all of them if there are fewer)."""
    if n >= len(rows):
        return list(rows)
    return [rows[i * len(rows) // n] for i in range(n)]


def verse_corpus(bible: Path, out: Path, languages: Sequence[str], *,
                 shares: Mapping[str, tuple[int, int]] | None = None, english: tuple[int, int] = ALL,
                 parallel: Sequence[str] = (), fit: int = 0, exclusive: bool = False) -> Path:
    """A study corpus at `out` of English and `languages`, one verse per document:
    mono/<lang>.{train,valid,test}.txt, heldout/en-<lang>.test.tsv (every held-out test pair),
    parallel/en-<lang>.train.tsv for the `parallel` languages (the same share of verse pairs as
    their documents) and, with `fit` > 0, fit/en-<lang>.train.tsv: `fit` train pairs spread over
    all train verses (for maps fitted after training; no training reads them).
    English is the English side of the first language's pairs, which are also the reference for
    the blocks; `shares` and `english` take a share of the train verses (blocks(); default all);
    valid and test stay whole. `exclusive` drops from the other languages' train verses those
    that pair with English's: whose English side is among English's train verses, or whose own
    text translates one of them elsewhere (formulaic verses repeat at several places, so halves
    of different blocks would otherwise still hold some translation pairs)."""
    shares = shares or {}
    for split in SPLITS:
        pairs = {lang: verse_pairs(bible, lang, split) for lang in languages}
        reference = [en for en, _ in pairs[languages[0]]]

        def kept(rows: list, share: tuple[int, int]) -> list:
            if split != "train" or share == ALL:
                return rows
            return blocks(rows, share, positions([en for en, _ in rows], reference))

        english_rows = [en for en, _ in kept(pairs[languages[0]], english)]
        write_lines(out / f"mono/en.{split}.txt", english_rows)
        seen = set(english_rows) if exclusive and split == "train" else set()
        for lang, rows in pairs.items():
            paired = {x for en, x in rows if en in seen}
            own = [(en, x) for en, x in kept(rows, shares.get(lang, ALL)) if en not in seen and x not in paired]
            write_lines(out / f"mono/{lang}.{split}.txt", [x for _, x in own])
            if split == "train" and lang in parallel:
                write_lines(out / f"parallel/en-{lang}.train.tsv", [f"{en}\t{x}" for en, x in own])
            if split == "train" and fit:
                write_lines(out / f"fit/en-{lang}.train.tsv", [f"{en}\t{x}" for en, x in spread(rows, fit)])
            if split == "test":
                write_lines(out / f"heldout/en-{lang}.test.tsv", [f"{en}\t{x}" for en, x in rows])
    return out


def language_view(corpus: Path, lang: str, folders: Sequence[str] = ("heldout", "fit")) -> Path:
    """corpus/only_<lang>/<folder>/en-<lang>.* for each folder's files of `lang`: a pattern with
    {lang} under it matches that language alone (an arm that knows one language pair)."""
    view = Path(corpus) / f"only_{lang}"
    for folder in folders:
        for path in sorted((Path(corpus) / folder).glob(f"en-{lang}.*")):
            write_lines(view / folder / path.name, path.read_text(encoding="utf-8").splitlines())
    return view


def words(lines: Iterable[str]) -> set[str]:
    return {w for line in lines for w in WORD.findall(line.lower())}


def corpus_dictionary(entries: Iterable[tuple[str, str]], english: set[str],
                      foreign: set[str]) -> list[tuple[str, str]]:
    """The dictionary entries whose words all occur in the corpus on their side: a word the
    corpus never uses has no trained vector to be judged by (BLI 'filtered to the corpus')."""
    return [(en, x) for en, x in entries
            if WORD.search(en) and WORD.search(x)
            and set(WORD.findall(en.lower())) <= english and set(WORD.findall(x.lower())) <= foreign]


def corpus_dictionaries(corpus: Path, dictionaries: str, languages: Sequence[str], out: Path) -> Path:
    """out/en-<lang>.txt: the entries of `dictionaries` (a path with {lang}, english<TAB>foreign
    lines) whose words occur in the corpus's train text (mono/<lang>.train.txt)."""
    english = words((Path(corpus) / "mono" / "en.train.txt").read_text(encoding="utf-8").splitlines())
    for lang in languages:
        foreign = words((Path(corpus) / "mono" / f"{lang}.train.txt").read_text(encoding="utf-8").splitlines())
        lines = Path(dictionaries.format(lang=lang)).read_text(encoding="utf-8").splitlines()
        entries = [tuple(l.split("\t", 1)) for l in lines if "\t" in l]
        write_lines(out / f"en-{lang}.txt", [f"{en}\t{x}" for en, x in corpus_dictionary(entries, english, foreign)])
    return out
