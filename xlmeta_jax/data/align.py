"""Word alignments of translation pairs from a bilingual dictionary (VECO 2.0's
token-level positives).

An English word (a run of word characters) and a foreign string are aligned when
the dictionary lists the string as a translation of the word (lower-cased) and the
string occurs in the foreign sentence: as a whole word in scripts written with
spaces, anywhere in scripts without (Chinese, Japanese, Thai). Each word is
represented by its first sub-word piece: the piece holding its first byte.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import numpy as np

from xlmeta_jax.data.sources import DataError, read_lines

log = logging.getLogger(__name__)
WORD = re.compile(r"\w+")
UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "HANGUL SYLLABLE")


def fold(text: str) -> str:
    """Lower-case, one character for one character: match offsets found in the folded
    text are then offsets in the original ('İ'.lower() is two characters: it folds to 'i')."""
    return "".join(c.lower()[0] for c in text)


def read_dictionary(path: str | Path) -> dict[str, set[str]]:
    """`english<TAB>foreign` lines -> {english word: {translations}} (folded); lines of
    invalid UTF-8 are skipped and counted, as for corpus files."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: dictionary not found; give config.objectives.tok_contrast.dictionary as a "
                        f"path with {{lang}} (e.g. /data/en-{{lang}}.txt) or '' to use single-word corpus pairs")
    out: dict[str, set[str]] = defaultdict(set)
    skipped = 0
    for line in read_lines(path):
        fields = [f.strip() for f in line.split("\t")]
        if line.startswith("#") or len(fields) != 2 or not all(fields):  # comments, other column counts
            skipped += 1
            continue
        out[fold(fields[0])].add(fold(fields[1]))
    if skipped:
        log.warning("%s: skipped %d line(s) that are not 'english<TAB>foreign' (comments, missing or extra "
                    "columns)", path, skipped)
    if not out:
        raise DataError(f"{path}: no 'english<TAB>foreign' line")
    return dict(out)


def dictionary_from_pairs(pairs: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Single-word translation pairs of a parallel corpus as a dictionary (UI catalogs
    hold many: 'Delete' -> 'Löschen')."""
    out: dict[str, set[str]] = defaultdict(set)
    for en, x in pairs:
        if WORD.fullmatch(en) and x and not any(c.isspace() for c in x) and len(x) <= 24:
            out[fold(en)].add(fold(x))
    return dict(out)


def _unspaced(text: str) -> bool:
    return any(unicodedata.name(c, "").startswith(UNSPACED_SCRIPTS) for c in text)


def _piece_at(ends: np.ndarray, byte_offset: int) -> int:
    """Index of the piece holding the byte at `byte_offset` (the first whose end is past it)."""
    return int(np.searchsorted(ends, byte_offset, side="right"))


def find(term: str, text: str) -> int:
    """Character offset of `term` in folded `text` (whole word unless unspaced), or -1."""
    if _unspaced(term):
        return text.find(term)
    m = re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text)
    return m.start() if m else -1


def align_pair(src: str, tgt: str, src_ends: np.ndarray, tgt_ends: np.ndarray,
               dictionary: dict[str, set[str]]) -> np.ndarray:
    """[k, 2] (English piece index, foreign piece index) of dictionary translations."""
    links, folded = [], fold(tgt)
    for m in WORD.finditer(src):
        for term in sorted(dictionary.get(fold(m.group()), ())):
            at = find(term, folded)
            if at >= 0:
                i = _piece_at(src_ends, len(src[:m.start()].encode()))
                j = _piece_at(tgt_ends, len(tgt[:at].encode()))
                links.append((i, j))
                break
    return np.array(links, np.int32).reshape(-1, 2)
