"""The study corpora that prepare() hooks write from the Bible corpus: shares of the train verses
in blocks (a low-resource language, disjoint halves), the held-out pairs whole, the fit pairs, a
one-language view, and dictionaries filtered to the corpus. Expected values are counted by hand
from the block rule, not taken from the code."""
from pathlib import Path

import pytest

from xlmeta_jax.studies import corpus


def write_bible(root: Path, verses: dict[str, dict[str, list[tuple[str, str]]]]) -> Path:
    for lang, splits in verses.items():
        for split, pairs in splits.items():
            corpus.write_lines(root / "parallel" / f"en-{lang}.{split}.tsv", [f"{en}\t{x}" for en, x in pairs])
    return root


def english(i: int) -> str:
    return f"verse {i}"


@pytest.fixture
def bible(tmp_path) -> Path:
    """100 train verses (4 blocks of 25), 6 valid, 8 test; ru lacks train verses 10-19 (held-out
    text on its side), so its pair list is shifted by 10 after them."""
    train = list(range(100))
    held = {"valid": range(100, 106), "test": range(106, 114)}
    pairs = {lang: {"train": [(english(i), f"{lang}{i}") for i in train if not (lang == "ru" and 10 <= i < 20)],
                    **{s: [(english(i), f"{lang}{i}") for i in r] for s, r in held.items()}}
             for lang in ("fr", "ru", "de")}
    return write_bible(tmp_path / "bible", pairs)


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_blocks_keep_every_nth_block_of_25():
    rows = list(range(100))
    assert corpus.blocks(rows, (2, 0)) == [*range(0, 25), *range(50, 75)]
    assert corpus.blocks(rows, (4, 3)) == list(range(75, 100))
    assert corpus.blocks(rows, (1, 0)) == rows
    with pytest.raises(ValueError, match="offset < every"):
        corpus.blocks(rows, (2, 2))


def test_positions_follow_the_reference_past_missing_verses():
    reference = [english(i) for i in range(100)]
    own = [english(i) for i in range(100) if not 10 <= i < 20] + ["a verse the reference lacks"]
    assert corpus.positions(own, reference) == [*range(10), *range(20, 100), 99]


def test_low_resource_share_and_whole_held_out_text(bible, tmp_path):
    out = corpus.verse_corpus(bible, tmp_path / "c", ("fr", "de"), shares={"de": (4, 0)}, parallel=("de",))
    assert lines(out / "mono/de.train.txt") == [f"de{i}" for i in range(25)]  # the first of 4 blocks
    assert lines(out / "mono/fr.train.txt") == [f"fr{i}" for i in range(100)]
    assert lines(out / "mono/en.train.txt") == [english(i) for i in range(100)]  # from the first language's pairs
    assert lines(out / "parallel/en-de.train.tsv") == [f"{english(i)}\tde{i}" for i in range(25)]
    assert not (out / "parallel/en-fr.train.tsv").exists()
    for lang in ("de", "fr"):
        assert lines(out / f"mono/{lang}.test.txt") == [f"{lang}{i}" for i in range(106, 114)]
        assert lines(out / f"mono/{lang}.valid.txt") == [f"{lang}{i}" for i in range(100, 106)]
        assert lines(out / f"heldout/en-{lang}.test.tsv") == [f"{english(i)}\t{lang}{i}" for i in range(106, 114)]
    train = set(lines(out / "mono/de.train.txt")) | set(lines(out / "mono/en.train.txt"))
    assert not train & (set(lines(out / "mono/de.test.txt")) | set(lines(out / "mono/en.test.txt")))


def test_halves_of_two_languages_share_no_verse_though_one_lacks_some(bible, tmp_path):
    out = corpus.verse_corpus(bible, tmp_path / "c", ("fr", "ru"), english=(2, 0),
                              shares={"fr": (2, 1), "ru": (2, 1)}, fit=10)
    en = {int(l.split()[1]) for l in lines(out / "mono/en.train.txt")}
    ru = {int(l[2:]) for l in lines(out / "mono/ru.train.txt")}
    fr = {int(l[2:]) for l in lines(out / "mono/fr.train.txt")}
    assert en == {*range(25), *range(50, 75)}
    assert fr == ru == {*range(25, 50), *range(75, 100)}  # ru's shifted list counted on English's blocks
    # 10 of ru's 90 train pairs, every 9th of its list (rows 10.. hold verses 20..), from both halves
    assert [int(l.split("\t")[1][2:]) for l in lines(out / "fit/en-ru.train.tsv")] == [0, 9, 28, 37, 46, 55, 64, 73,
                                                                                        82, 91]
    view = corpus.language_view(out, "ru")
    assert sorted(p.relative_to(view).as_posix() for p in view.rglob("*.tsv")) == ["fit/en-ru.train.tsv",
                                                                                   "heldout/en-ru.test.tsv"]
    assert lines(view / "heldout/en-ru.test.tsv") == lines(out / "heldout/en-ru.test.tsv")


def test_exclusive_halves_drop_verses_repeated_in_the_english_half(tmp_path):
    """A formula at verse 3 (English half) repeats at verse 30 (other half), and the French of
    verse 4 (English half) repeats at verse 40 under other English: either would pair with
    English training text; `exclusive` drops both from the other half."""
    def pair(i):
        return ("And he said,", f"fr{i}") if i in (3, 30) else (english(i), "fr4") if i in (4, 40) else \
            (english(i), f"fr{i}")
    bible = write_bible(tmp_path / "b", {"fr": {"train": [pair(i) for i in range(50)], "valid": [], "test": []}})
    plain = corpus.verse_corpus(bible, tmp_path / "plain", ("fr",), english=(2, 0), shares={"fr": (2, 1)})
    only = corpus.verse_corpus(bible, tmp_path / "only", ("fr",), english=(2, 0), shares={"fr": (2, 1)}, exclusive=True)
    assert {"fr30", "fr4"} <= set(lines(plain / "mono/fr.train.txt"))
    assert lines(only / "mono/fr.train.txt") == [f"fr{i}" for i in range(25, 50) if i not in (30, 40)]


def test_spread_takes_evenly_spaced_rows():
    assert corpus.spread(list(range(10)), 5) == [0, 2, 4, 6, 8]
    assert corpus.spread([1, 2], 5) == [1, 2]


def test_dictionaries_keep_the_entries_whose_words_the_corpus_uses(tmp_path):
    (tmp_path / "mono").mkdir()
    (tmp_path / "mono/en.train.txt").write_text("In the beginning God created the heaven.\nLight!\n")
    (tmp_path / "mono/de.train.txt").write_text("Im Anfang schuf Gott Himmel.\n")
    (tmp_path / "en-de.test.txt").write_text("god\tgott\nlight\tlicht\nheaven\thimmel\ncomputer\tcomputer\n"
                                             "beginning\tim anfang\nno tab here\n")
    out = corpus.corpus_dictionaries(tmp_path, str(tmp_path / "en-{lang}.test.txt"), ("de",), tmp_path / "bli")
    assert lines(out / "en-de.txt") == ["god\tgott", "heaven\thimmel", "beginning\tim anfang"]
