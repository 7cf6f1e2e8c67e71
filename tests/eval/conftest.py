"""A tiny trained run folder and tiny evaluation files shared by the evaluation tests.

The run logs the alignment curve (config.eval.retrieval) on the tiny Tatoeba folder."""
from pathlib import Path

import pytest

from tests.conftest import EN_OF, SENTENCES, WORDS, smoke_config
from xlmeta_jax.training import loop

TATOEBA_CODES = {"de": "deu", "ru": "rus", "zh": "cmn"}


def conllu_lines(sent_id: str, text: str) -> list[str]:
    words = text.replace(".", " .").replace("。", " 。").split()
    tags = ["PUNCT" if w in ".。," else "NOUN" if len(w) > 4 else "DET" for w in words]
    return [f"# sent_id = {sent_id}", f"# text = {text}"] + [
        f"{i}\t{w}\t_\t{t}\t_\t_\t0\t_\t_\t_" for i, (w, t) in enumerate(zip(words, tags), 1)] + [""]


def write_eval_data(root: Path) -> Path:
    """tatoeba/ (deu, rus, cmn), pud/ (en, de, ru: multi-way by sent_id), dict/ (en-de, en-ru), mlm/."""
    for lang, code in TATOEBA_CODES.items():
        (root / "tatoeba").mkdir(parents=True, exist_ok=True)
        (root / "tatoeba" / f"tatoeba.{code}-eng.{code}").write_text("\n".join(SENTENCES[lang]) + "\n")
        (root / "tatoeba" / f"tatoeba.{code}-eng.eng").write_text(
            "\n".join(SENTENCES["en"][i] for i in EN_OF) + "\n")
    (root / "pud").mkdir()
    for lang in ("en", "de", "ru"):
        texts = [SENTENCES["en"][i] for i in EN_OF] if lang == "en" else SENTENCES[lang]
        lines = [l for i, t in enumerate(texts) for l in conllu_lines(f"s{i}", t)]
        (root / "pud" / f"{lang}_pud-ud-test.conllu").write_text("\n".join(lines) + "\n")
    (root / "ud").mkdir()
    lines = [l for i, t in enumerate(SENTENCES["en"] * 5) for l in conllu_lines(f"t{i}", t)]
    (root / "ud" / "en_tiny-ud-train.conllu").write_text("\n".join(lines) + "\n")
    (root / "ud" / "en_tiny-ud-dev.conllu").write_text("\n".join(lines[: len(lines) // 5]) + "\n")
    (root / "dict").mkdir()
    for lang in ("de", "ru"):
        (root / "dict" / f"en-{lang}.txt").write_text("\n".join(f"{e}\t{x}" for e, x in WORDS[lang]) + "\n")
    (root / "mlm").mkdir()
    for lang in ("de", "zh"):
        (root / "mlm" / f"{lang}.txt").write_text("\n".join(SENTENCES[lang] * 3) + "\n")
    return root


@pytest.fixture(scope="session")
def eval_data(tmp_path_factory) -> Path:
    return write_eval_data(tmp_path_factory.mktemp("eval_data"))


@pytest.fixture(scope="session")
def tiny_run(tiny_corpus, eval_data, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("eval_run")
    c = smoke_config(tiny_corpus)
    c.phases[0].steps, c.phases[1].steps = 4, 4
    c.checkpoint.every, c.eval.every = 4, 4
    c.eval.retrieval.tatoeba = str(eval_data / "tatoeba")
    c.eval.retrieval.langs = ["deu", "rus"]
    loop.train(c, workdir)
    return workdir
