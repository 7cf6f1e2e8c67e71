"""Retrieval accuracy on cases with known answers, and the evaluation readers on tiny files."""
import numpy as np
import pytest

from tests.conftest import EN_OF, SENTENCES
from xlmeta_jax.eval import alignment, encode, readers, retrieval


def test_a_known_permutation_gives_its_fixed_point_fraction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 64))
    perm = np.arange(20)
    perm[:6] = [1, 2, 0, 4, 5, 3]  # 6 rows displaced, 14 fixed
    acc = retrieval.accuracy(x, x[perm])
    assert acc["x2en"] == acc["en2x"] == pytest.approx(14 / 20)


def test_csls_and_centering_options_score_as_numpy():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(12, 8)) + 3.0, rng.normal(size=(12, 8)) - 2.0
    xc, yc = x - x.mean(0), y - y.mean(0)
    cos = (xc / np.linalg.norm(xc, axis=1, keepdims=True)) @ (yc / np.linalg.norm(yc, axis=1, keepdims=True)).T
    r_x = np.sort(cos, axis=1)[:, -3:].mean(1)
    r_y = np.sort(cos, axis=0)[-3:].mean(0)
    np.testing.assert_allclose(retrieval.scores(x, y, center=True, csls_k=3), 2 * cos - r_x[:, None] - r_y[None],
                               atol=1e-12)
    expected = np.mean(np.argmax(2 * cos - r_x[:, None] - r_y[None], axis=1) == np.arange(12))
    assert retrieval.accuracy(x, y, center=True, csls_k=3)["x2en"] == expected


@pytest.fixture(scope="module")
def loaded(tiny_run):
    return encode.load(tiny_run)


def test_identical_encoders_on_both_sides_retrieve_everything(loaded):
    sents = SENTENCES["en"] + SENTENCES["de"]
    r = retrieval.evaluate(loaded, {"xx": (sents, sents)}, all_layers=True)
    assert r["layer"] == loaded.num_layers // 2
    assert r["per_language"]["xx"] == {"x2en": 1.0, "en2x": 1.0, "mean": 1.0, "n": len(sents)}
    assert len(r["average_by_layer"]["mean"]) == loaded.num_layers + 1
    assert all(a == 1.0 for a in r["average_by_layer"]["mean"])


def test_per_language_results_match_the_vectors(loaded):
    pairs = {lang: (SENTENCES[lang], [SENTENCES["en"][i] for i in EN_OF]) for lang in ("de", "ru")}
    r = retrieval.evaluate(loaded, pairs, layer=-1, csls_k=2)
    assert r["layer"] == loaded.num_layers
    for lang, (xs, ens) in pairs.items():
        v = encode.sentence_vectors(loaded, xs, layers=[-1], lang=lang)[0]
        w = encode.sentence_vectors(loaded, ens, layers=[-1], lang="en")[0]
        assert r["per_language"][lang]["x2en"] == alignment.top_k_accuracy(alignment.csls(v, w, 2))
        assert r["by_layer"][lang]["x2en"][-1] == r["per_language"][lang]["x2en"]
    assert r["average"]["en2x"] == pytest.approx(np.mean([r["per_language"][l]["en2x"] for l in pairs]))


CONLLU = """# sent_id = s1
# text = Du vin.
1-2\tDu\t_\t_\t_\t_\t_\t_\t_\t_
1\tDe\tde\tADP\t_\t_\t3\tcase\t_\t_
2\tle\tle\tDET\t_\t_\t3\tdet\t_\t_
3\tvin\tvin\tNOUN\t_\t_\t0\troot\t_\tSpaceAfter=No
3.1\tx\tx\tX\t_\t_\t_\t_\t_\t_
4\t.\t.\tPUNCT\t_\t_\t3\tpunct\t_\t_

# sent_id = s2
# text = Oui
1\tOui\toui\tINTJ\t_\t_\t0\troot\t_\t_
"""


def test_conllu_reader_keeps_syntactic_words_and_tags(tmp_path):
    (tmp_path / "fr_pud-ud-test.conllu").write_text(CONLLU)
    (tmp_path / "en_pud-ud-test.conllu").write_text(CONLLU.replace("# sent_id = s1", "# sent_id = s0")
                                                      .replace("Oui", "Yes"))
    s = readers.conllu(tmp_path / "fr_pud-ud-test.conllu")
    assert [(x.sent_id, x.text, x.words, x.upos) for x in s] == [
        ("s1", "Du vin.", ["De", "le", "vin", "."], ["ADP", "DET", "NOUN", "PUNCT"]),
        ("s2", "Oui", ["Oui"], ["INTJ"])]
    par = readers.parallel_conllu(sorted(tmp_path.glob("*.conllu")))
    assert par == {"en": ["Yes"], "fr": ["Oui"]}


def test_tatoeba_reader_finds_languages_and_checks_lengths(tmp_path):
    for lang, lines in (("deu", ["Hallo", "Ja"]), ("rus", ["Привет", "Да"])):
        (tmp_path / f"tatoeba.{lang}-eng.{lang}").write_text("\n".join(lines) + "\n")
        (tmp_path / f"tatoeba.{lang}-eng.eng").write_text("Hello\nYes\n")
    assert readers.tatoeba(tmp_path) == {"deu": (["Hallo", "Ja"], ["Hello", "Yes"]),
                                         "rus": (["Привет", "Да"], ["Hello", "Yes"])}
    with pytest.raises(encode.EvalError, match="present: deu,rus"):
        readers.tatoeba(tmp_path, ["fra"])
    (tmp_path / "tatoeba.rus-eng.eng").write_text("Hello\n")
    with pytest.raises(encode.EvalError, match="line i"):
        readers.tatoeba(tmp_path, ["rus"])


def test_dictionary_reader_accepts_tabs_and_spaces(tmp_path):
    (tmp_path / "d.txt").write_text("cat\tKatze\ncat\tKater\ndog Hund\n\n")
    assert readers.dictionary(tmp_path / "d.txt") == [("cat", "Katze"), ("cat", "Kater"), ("dog", "Hund")]
