"""A language's code becomes the run's language id: Tatoeba's ISO 639-3 codes find the run's
ISO 639-1 ones, and a language the run's embeddings do not know is refused by name, never read
as language 0 (which is whatever language sorts first)."""
import dataclasses

import flax.linen as nn
import jax
import numpy as np
import pytest

from tests.conftest import SENTENCES
from xlmeta_jax.config import ConfigError, base_config
from xlmeta_jax.eval import encode, languages, readers, retrieval
from xlmeta_jax.model.encoder import Encoder, init_params


@pytest.fixture(scope="module")
def with_embeddings(tiny_run):
    """The tiny run's tokenizer and languages (ar, de, en, ru, zh) in a model with XLM's language
    embeddings (random weights: only which embedding a text gets matters here)."""
    m = encode.load(tiny_run)
    model = Encoder(dataclasses.replace(m.model.cfg, languages=len(m.lang_ids)))
    params = jax.tree.map(np.asarray, nn.unbox(init_params(model, jax.random.key(0))))
    return dataclasses.replace(m, model=model, params=params)


def test_codes_match_across_the_two_iso_standards():
    assert languages.matching("deu", ["ar", "de", "en"]) == ["de"]
    assert languages.matching("de", ["cmn", "deu", "rus"]) == ["deu"]
    assert languages.matching("cmn", ["en", "zh"]) == ["zh"]
    assert languages.matching("de", ["de", "deu"]) == ["de"]  # an exact name wins
    assert languages.matching("fra", ["de", "en"]) == [] and languages.matching("xyz", ["xyz"]) == ["xyz"]


def test_tatoeba_codes_get_the_runs_language_ids(with_embeddings):
    m = with_embeddings
    assert m.lang_ids == {"ar": 0, "de": 1, "en": 2, "ru": 3, "zh": 4}
    assert [m.lang_id(c) for c in ("deu", "rus", "cmn", "eng", "de")] == [1, 3, 4, 2, 1]
    german = SENTENCES["de"]
    as_deu, as_de, as_ar = (encode.sentence_vectors(m, german, layers=[1], lang=lang) for lang in ("deu", "de", "ar"))
    np.testing.assert_array_equal(as_deu, as_de)
    assert not np.allclose(as_deu, as_ar)  # id 0 (Arabic) would read German as another language


def test_a_language_the_embeddings_do_not_know_is_refused_by_name(with_embeddings, tmp_path):
    with pytest.raises(encode.EvalError, match=r"language 'fra': .*\['ar', 'de', 'en', 'ru', 'zh'\].*ISO 639-3"):
        with_embeddings.lang_id("fra")
    with pytest.raises(encode.EvalError, match="language None"):
        with_embeddings.lang_id(None)
    # retrieval refuses before encoding anything, naming the language
    pairs = {"deu": (SENTENCES["de"], SENTENCES["en"][:5]), "fra": (["Bonjour."], ["Hello."])}
    with pytest.raises(encode.EvalError, match="'fra'"):
        retrieval.evaluate(with_embeddings, pairs)
    # and a training run's retrieval curve at start-up, naming the config key
    (tmp_path / "tatoeba.fra-eng.fra").write_text("Bonjour.\n")
    (tmp_path / "tatoeba.fra-eng.eng").write_text("Hello.\n")
    cfg = base_config().eval.retrieval
    cfg.tatoeba = str(tmp_path)
    with pytest.raises(ConfigError, match=r"config\.eval\.retrieval: language 'fra'"):
        retrieval.training_curve(cfg, with_embeddings)


def test_a_model_without_language_embeddings_reads_any_language(tiny_run):
    m = encode.load(tiny_run)
    assert m.model.cfg.languages == 0 and m.lang_id("fra") == m.lang_id(None) == 0


def test_tatoeba_languages_answer_to_the_runs_codes(eval_data):
    by_run_code = readers.tatoeba(eval_data / "tatoeba", ["de", "zh"])
    by_file_code = readers.tatoeba(eval_data / "tatoeba", ["deu", "cmn"])
    assert list(by_run_code) == ["de", "zh"]
    assert list(by_run_code.values()) == list(by_file_code.values())
    with pytest.raises(encode.EvalError, match=r"\['fr'\]: not in .*present: cmn,deu,rus"):
        readers.tatoeba(eval_data / "tatoeba", ["de", "fr"])
