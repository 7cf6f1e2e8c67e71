"""A tiny study on the tiny corpus: held-out TSV pairs and MLM text written here, and a
study file whose arms are smoke-size runs of a few steps."""
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import EN_OF, ROOT, SENTENCES

SMOKE = f"{ROOT}/configs/demo.py:smoke"


def write_heldout(root: Path) -> Path:
    """pairs/en-<lang>.test.tsv (english<TAB>foreign) and mlm/<lang>.txt for de and ru."""
    (root / "pairs").mkdir(parents=True, exist_ok=True)
    (root / "mlm").mkdir(exist_ok=True)
    for lang in ("de", "ru"):
        rows = [f"{SENTENCES['en'][EN_OF[i]]}\t{x}" for i, x in enumerate(SENTENCES[lang])]
        (root / "pairs" / f"en-{lang}.test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        (root / "mlm" / f"{lang}.txt").write_text("\n".join(SENTENCES[lang] * 3) + "\n", encoding="utf-8")
    return root


EVALUATION = ('dict(pairs="{heldout}/pairs/en-{lang}.test.tsv", layer=1, mlm_files="{heldout}/mlm/*.txt", '
              'tatoeba="{shared}/tatoeba", langs=("deu",))')


def write_study(path: Path, corpus: Path, heldout: Path, *, arms: str, hypotheses: str = "()",
                evaluation: str = EVALUATION, extra: str = "") -> Path:
    """A study file; `arms`, `hypotheses` and `evaluation` are Python source, with COMMON (the
    smoke overrides) and SMOKE (the config) in scope."""
    path.write_text(textwrap.dedent(f'''
        from xlmeta_jax.studies.spec import Arm, Hypothesis, Study

        def prepare(study_dir):
            return {{"corpus": {str(corpus)!r}, "heldout": {str(heldout)!r}}}

        COMMON = {{"data.corpus_dir": "{{corpus}}", "tokenizer.vocab_size": 200, "phases[0].steps": 3,
                  "phases[1].steps": 3, "eval.retrieval.pairs": "{{heldout}}/pairs/en-{{lang}}.test.tsv"}}
        SMOKE = {SMOKE!r}

        def get_study():
            return Study(
                arms={arms}, seeds=(0, 1), eval_every=3, hypotheses={hypotheses}, {extra}
                evaluation={evaluation})
        '''))
    return path


@pytest.fixture(scope="session")
def heldout(tmp_path_factory) -> Path:
    return write_heldout(tmp_path_factory.mktemp("heldout"))


# ------------------------------------------------------------------------------------------
# A fake Bible corpus and a fake ../shared/data, for the studies of studies/*.py at smoke size.
# Verses are sentences of a small English vocabulary; each language writes every word in its
# own script (Latin with its own endings, Cyrillic, Arabic, Hangul), so translations are word
# for word and the same word pairs make the dictionaries.

BIBLE_LANGUAGES = ("de", "fr", "es", "pt", "ru", "ar", "fa", "ko")
ENGLISH = ("god", "king", "house", "water", "land", "people", "son", "day", "word", "light", "fire", "city",
           "go", "said", "came", "gave", "saw", "took", "made", "heard", "great", "holy", "all", "and")
SCRIPTS = {"ru": "абвгдежзиклмнопрстуфхцчшыэюя", "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
           "fa": "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی", "ko": "가나다라마바사아자차카타파하거너더러머버서어저처커터퍼허"}
ENDINGS = {"de": "en", "fr": "e", "es": "o", "pt": "ão"}
FAKE_SPLITS = {"train": 600, "valid": 40, "test": 60}


def fake_word(word: str, lang: str) -> str:
    if lang in ENDINGS:
        return word[::-1] + ENDINGS[lang]
    letters = SCRIPTS[lang]
    return "".join(letters[(ord(c) * 7 + i) % len(letters)] for i, c in enumerate(word))


def fake_verses(split: str, n: int) -> list[list[str]]:
    rng = np.random.default_rng(len(split))
    p = 1 / np.arange(1, len(ENGLISH) + 1)
    return [list(rng.choice(ENGLISH, size=rng.integers(4, 10), p=p / p.sum())) for _ in range(n)]


def write_fake_bible(cache: Path) -> Path:
    """<cache>/corpora/bible-v1 with parallel/en-<lang>.<split>.tsv and a manifest that
    build_bible_corpus() accepts, so that studies' prepare() find it without the network."""
    from xlmeta_jax.data import bible

    out = cache / "corpora" / bible.CORPUS_NAME
    files = {}
    for split, n in FAKE_SPLITS.items():
        verses = fake_verses(split, n)
        for lang in BIBLE_LANGUAGES:
            rel = f"parallel/en-{lang}.{split}.tsv"
            lines = [f"{' '.join(v).capitalize()}.\t{' '.join(fake_word(w, lang) for w in v)}." for v in verses]
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text("\n".join(lines) + "\n", encoding="utf-8")
            files[rel] = {"sha256": hashlib.sha256((out / rel).read_bytes()).hexdigest()}
    manifest = {"format": bible.MANIFEST_FORMAT, "package": {"version": bible.PACKAGE_VERSION},
                "allow_copyrighted": False, "files": files}
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def conllu(sentences: list[list[tuple[str, str]]], lang: str) -> str:
    blocks = []
    for i, words in enumerate(sentences):
        rows = [f"{j}\t{w}\t{w}\t{tag}\t_\t_\t0\t_\t_\t_" for j, (w, tag) in enumerate(words, 1)]
        blocks.append(f"# sent_id = s{i}\n# text = {' '.join(w for w, _ in words)}\n" + "\n".join(rows))
    return "\n\n".join(blocks) + "\n"


def write_fake_shared(root: Path) -> Path:
    """dictionaries/, tatoeba/, ud/en_ewt and ud/pud of ../shared/data in miniature."""
    tags = {w: ("VERB" if w in ("go", "said", "came", "gave", "saw", "took", "made", "heard") else
                "ADJ" if w in ("great", "holy", "all") else "CCONJ" if w == "and" else "NOUN") for w in ENGLISH}
    iso3 = {"de": "deu", "fr": "fra", "es": "spa", "ru": "rus", "ar": "ara"}
    (root / "dictionaries").mkdir(parents=True)
    for lang in BIBLE_LANGUAGES:
        pairs = [f"{w}\t{fake_word(w, lang)}" for w in ENGLISH]
        (root / "dictionaries" / f"en-{lang}.0-5000.txt").write_text("\n".join(pairs[::2]) + "\n", encoding="utf-8")
        (root / "dictionaries" / f"en-{lang}.5000-6500.txt").write_text("\n".join(pairs[1::2]) + "\n",
                                                                          encoding="utf-8")
    verses = fake_verses("shared", 40)
    (root / "tatoeba").mkdir()
    for lang, code in iso3.items():
        (root / "tatoeba" / f"tatoeba.{code}-eng.eng").write_text("\n".join(" ".join(v) for v in verses) + "\n")
        (root / "tatoeba" / f"tatoeba.{code}-eng.{code}").write_text(
            "\n".join(" ".join(fake_word(w, lang) for w in v) for v in verses) + "\n", encoding="utf-8")
    (root / "ud" / "en_ewt").mkdir(parents=True)
    english = [[(w, tags[w]) for w in v] for v in verses]
    for split in ("train", "dev"):
        (root / "ud" / "en_ewt" / f"en_ewt-ud-{split}.conllu").write_text(conllu(english, "en"))
    for name, lang in (("English", "en"), ("German", "de"), ("French", "fr"), ("Spanish", "es"), ("Russian", "ru")):
        folder = root / "ud" / "pud" / f"UD_{name}-PUD"
        folder.mkdir(parents=True)
        rows = english if lang == "en" else [[(fake_word(w, lang), t) for w, t in s] for s in english]
        (folder / f"{lang}_pud-ud-test.conllu").write_text(conllu(rows, lang), encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def fake_bible(tmp_path_factory) -> dict:
    """{"cache": an XLMETA_JAX_CACHE holding the fake Bible corpus, "shared": a fake --shared_data}."""
    root = tmp_path_factory.mktemp("fake_bible")
    write_fake_bible(root / "cache")
    return {"cache": root / "cache", "shared": write_fake_shared(root / "shared")}


# The command line of the Bible studies' tests (test_study_<name>.py), on the fake corpus and data.
def cli(fake_bible, *args, timeout=900):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLMETA_JAX_CACHE": str(fake_bible["cache"])}
    proc = subprocess.run([sys.executable, "-m", "xlmeta_jax.study", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def run_and_report(fake_bible, folder, study, *args) -> tuple[dict, str]:
    shared = f"--shared_data={fake_bible['shared']}"
    cli(fake_bible, "run", f"--study=studies/{study}", f"--workdir={folder}", "--seeds=0", shared, *args)
    md = cli(fake_bible, "report", f"--workdir={folder}").stdout
    return json.loads((folder / "results.json").read_text()), md
