"""Decontamination: training lines equal to an evaluation line are dropped.

Two lines are equal after normalisation: Unicode NFKC, case folding, whitespace runs
collapsed and stripped; "Hello,   World" and "ＨＥＬＬＯ, world" are one line. Exclusion
files hold one sentence per line, or tab-separated columns (Tatoeba, dictionaries), each
column counting as a line of its own.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Iterable

from xlmeta_jax.data.sources import DataError, iter_lines


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def load_exclusions(paths: Iterable[str | Path]) -> set[str]:
    """Normalised lines (and tab-separated columns) of every file in `paths`."""
    out: set[str] = set()
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"{path}: exclusion file not found; fix the path in --exclude / config.data.exclude "
                            f"or remove it")
        for line in iter_lines(path):
            out.update(n for column in line.split("\t") if (n := normalize(column)))
    return out


def drop_excluded(lines: Iterable[str], excluded: set[str]) -> tuple[list[str], int]:
    """(the lines not in `excluded` after normalisation, how many were dropped)."""
    lines = list(lines)
    kept = [line for line in lines if normalize(line) not in excluded] if excluded else lines
    return kept, len(lines) - len(kept)
