"""One language, two spellings: runs name languages by the corpora's ISO 639-1 codes (`de`),
Tatoeba's files by ISO 639-3 codes (`deu`; its Mandarin is `cmn`, its Persian `pes`, its
Swahili `swh`). Evaluation matches the two through this table, so that a model's language
embedding and a Tatoeba file are found under either code.

The table holds the languages the project's corpora and configs use (config_parts.LANGUAGES,
the Bible and demo corpora, the dictionaries); a code outside it matches only itself.
"""
from __future__ import annotations

from typing import Iterable

ISO_639_1 = {
    "ara": "ar", "ben": "bn", "cmn": "zh", "deu": "de", "ell": "el", "eng": "en", "fin": "fi", "fra": "fr",
    "hin": "hi", "ind": "id", "ita": "it", "jpn": "ja", "kor": "ko", "pes": "fa", "pol": "pl", "por": "pt",
    "ron": "ro", "rus": "ru", "spa": "es", "swh": "sw", "tgl": "tl", "tha": "th", "tur": "tr", "ukr": "uk",
    "urd": "ur", "vie": "vi",
}


def canonical(code: str) -> str:
    """The ISO 639-1 code of a tabled ISO 639-3 code; any other code as it is."""
    return ISO_639_1.get(code, code)


def matching(code: str, codes: Iterable[str]) -> list[str]:
    """The codes among `codes` that name `code`'s language: `code` itself when present (an
    exact name always wins), else every code with its canonical form."""
    codes = list(codes)
    if code in codes:
        return [code]
    return [c for c in codes if canonical(c) == canonical(code)]
