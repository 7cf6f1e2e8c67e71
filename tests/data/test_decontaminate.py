"""Decontamination: evaluation lines planted in the training text are dropped and counted,
whatever their case, width or spacing; everything else is kept."""
import pytest

from xlmeta_jax.data import decontaminate
from xlmeta_jax.data.sources import DataError
from xlmeta_jax.data import inputs


def test_normalize_folds_case_width_and_spacing():
    assert decontaminate.normalize("  Hello,\t  World ") == "hello, world"
    assert decontaminate.normalize("ＨＥＬＬＯ, world") == "hello, world"  # NFKC: fullwidth letters
    assert decontaminate.normalize("Straße") == decontaminate.normalize("STRASSE")  # casefold, not lower
    assert decontaminate.normalize("Hello world") != decontaminate.normalize("Hello, world")


def test_planted_duplicates_are_dropped_and_counted(tmp_path):
    evals = tmp_path / "tatoeba.tsv"
    evals.write_text("The cat sleeps.\tLe chat dort.\nWhere is the station?\tOù est la gare ?\n", encoding="utf-8")
    excluded = decontaminate.load_exclusions([evals])
    train = ["the  CAT sleeps.", "A dog barks.", "le chat dort.", "Où est la gare ?", "Where is the station",
             "ＴＨＥ ＣＡＴ ＳＬＥＥＰＳ."]
    kept, dropped = decontaminate.drop_excluded(train, excluded)
    assert dropped == 4
    assert kept == ["A dog barks.", "Where is the station"]  # no '?': a different sentence


def test_missing_exclusion_file_names_it(tmp_path):
    with pytest.raises(DataError, match=r"nope\.txt: exclusion file not found.*config.data.exclude"):
        decontaminate.load_exclusions([tmp_path / "nope.txt"])


def test_the_loop_drops_excluded_training_lines_and_pairs_but_not_validation():
    texts = inputs.Texts({"en": ["Keep me.", "Drop me."]}, {"en": ["Drop me."]},
                       {"de": [("Drop me.", "Bleib."), ("Stay.", "Bleib.")]}, frozenset({decontaminate.normalize("drop ME.")}))
    out = inputs.decontaminated(texts)
    assert out.mono_train == {"en": ["Keep me."]}
    assert out.mono_valid == {"en": ["Drop me."]}
    assert out.pairs == {"de": [("Stay.", "Bleib.")]}
    with pytest.raises(DataError, match="config.data.exclude: every en training line"):
        inputs.decontaminated(inputs.Texts({"en": ["Drop me."]}, {}, {}, frozenset({"drop me."})))
