"""What studies' `prepare` hooks build their corpus folders from: the Bible corpus's verse pairs,
written one verse per document. Several seeds may run `prepare` at once: files are written to a
per-process temporary name and renamed into place."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable


def write_lines(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    tmp.replace(path)


def verse_pairs(bible: Path, lang: str, split: str) -> list[tuple[str, str]]:
    """(English verse, `lang` verse) of one split of the Bible corpus (parallel/en-<lang>.<split>.tsv)."""
    lines = (Path(bible) / "parallel" / f"en-{lang}.{split}.tsv").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t")) for line in lines]
