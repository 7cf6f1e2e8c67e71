"""The studies' analyses beyond the suite, against independent references: XLM-P's prompt choice
recomputed in numpy from the pool's keys and the word table; the alignment analysis of a model
with itself on identical sentences (CKA 1, retrieval 100% before and after the map); the script
affinity by hand."""
import numpy as np
import pytest

from xlmeta_jax.data import tokenizer
from xlmeta_jax.eval.encode import Loaded, batches, initial_params
from xlmeta_jax.model.encoder import Encoder, ModelConfig
from xlmeta_jax.studies import analyses

TEXTS = {"en": ["the king gave the land to his son", "water came out of the rock", "light and fire in the city",
                "the people heard the word", "a great and holy day", "he saw the house of god"],
         "ru": ["царь дал землю сыну своему", "вода вышла из скалы", "свет и огонь в городе"],
         "ko": ["왕이 땅을 아들에게 주었다", "물이 바위에서 나왔다", "성 안에 빛과 불이 있었다"]}


@pytest.fixture(scope="module")
def tok(tmp_path_factory):
    lines = [l for ls in TEXTS.values() for l in ls] * 5
    return tokenizer.train_on(iter(lines), tmp_path_factory.mktemp("tok"), vocab_size=120, character_coverage=1.0)


def model(tok, **cfg) -> Loaded:
    encoder = Encoder(ModelConfig(vocab_size=tok.vocab_size, hidden=16, layers=2, heads=2, mlp=32, max_positions=66,
                                  dropout=0.0, attention_dropout=0.0, **cfg))
    return Loaded(encoder, initial_params(encoder, seed=3), tok, {}, "tiny@0", 0)


def numpy_choices(m: Loaded, lines: list[str], lang: str) -> np.ndarray:
    """Prompt counts by hand: the mean word embedding over a row's real tokens (<s> and </s>
    included) is the query; the top-k keys by cosine are its prompts."""
    table = np.asarray(m.params["word_embeddings"]["embedding"], np.float64)
    keys = np.asarray(m.params["prompt_pool"]["keys"], np.float64)
    counts = np.zeros(len(keys), np.int64)
    for idx, batch in batches(m, lines, lang=lang, batch_size=4, max_len=64):
        for row in range(len(idx)):
            real = batch["segment_ids"][row] > 0
            query = table[batch["tokens"][row][real]].mean(0)
            cos = keys @ query / (np.linalg.norm(keys, axis=1) * np.linalg.norm(query))
            counts[np.argsort(-cos)[:m.model.cfg.prompt_top_k]] += 1
    return counts


def test_prompt_choice_matches_a_numpy_recomputation(tok, tmp_path):
    m = model(tok, prompt_pool=6, prompt_length=2, prompt_top_k=2)
    for lang, lines in TEXTS.items():
        (tmp_path / f"{lang}.test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = analyses.run("prompts", m, {"texts": str(tmp_path / "{lang}.test.txt")}, layer=1, batch_size=4, max_len=64)
    assert (out["pool"], out["top_k"]) == (6, 2)
    assert {l: v["script"] for l, v in out["per_language"].items()} == {"en": "Latin", "ru": "Cyrillic", "ko": "Hangul"}
    for lang, lines in TEXTS.items():
        assert out["per_language"][lang]["counts"] == numpy_choices(m, lines, lang).tolist()
        assert sum(out["per_language"][lang]["counts"]) == 2 * len(lines)
    assert out["affinity"] is None and out["across"] is not None  # one language per script: nothing within


def test_a_model_without_a_pool_has_no_prompt_result(tok, tmp_path):
    (tmp_path / "en.test.txt").write_text("a\n")
    assert analyses.run("prompts", model(tok), {"texts": str(tmp_path / "{lang}.test.txt")}, layer=1) == {"pool": 0}


def test_script_affinity_by_hand():
    shares = {"en": np.array([1.0, 0.0]), "fr": np.array([1.0, 0.0]), "ru": np.array([0.6, 0.8])}
    out = analyses.script_affinity(shares, {"en": "Latin", "fr": "Latin", "ru": "Cyrillic"})
    assert out["within"] == pytest.approx(1.0) and out["across"] == pytest.approx(0.6)  # cos(en, ru) = cos(fr, ru)
    assert out["affinity"] == pytest.approx(0.4)


def test_a_model_aligned_with_itself_on_the_same_sentences(tok, tmp_path):
    """English and 'xx' are the same sentences through the same model: identical vectors. The
    map is fitted on more pairs (30) than dimensions (16), so that it is fixed everywhere."""
    m = model(tok)
    en = TEXTS["en"]
    fit = [f"{a} {b}" for a in en for b in en if a != b]
    (tmp_path / "test-xx.tsv").write_text("\n".join(f"{s}\t{s}" for s in en) + "\n")
    (tmp_path / "fit-xx.tsv").write_text("\n".join(f"{s}\t{s}" for s in fit) + "\n")
    opts = {"test": str(tmp_path / "test-{lang}.tsv"), "fit": str(tmp_path / "fit-{lang}.tsv")}
    out = analyses.run("alignment", m, opts, english=m, layer=-1, batch_size=4, max_len=64)
    assert out["layer"] == 2 and list(out["per_language"]) == ["xx"]
    xx = out["per_language"]["xx"]
    assert (xx["fit_pairs"], xx["test_pairs"]) == (30, 6) and len(xx["layers"]) == 3
    for layer in xx["layers"]:
        assert layer["cka"] == pytest.approx(1.0) and layer["cka_test"] == pytest.approx(1.0)
        assert layer["before"]["mean"] == layer["after"]["mean"] == 1.0


def test_analysis_options_are_checked():
    from xlmeta_jax.eval.encode import EvalError

    with pytest.raises(EvalError, match=r"alignment options \['tests'\] unknown"):
        analyses.check("alignment", {"tests": "x", "test": "a/{lang}", "fit": "b/{lang}"}, "evaluation")
    with pytest.raises(EvalError, match=r"alignment.fit='b.tsv'; give a file pattern with \{lang\}"):
        analyses.check("alignment", {"test": "a/{lang}", "fit": "b.tsv"}, "evaluation")
    with pytest.raises(EvalError, match="prompts=3; give a dict"):
        analyses.check("prompts", 3, "evaluation")
