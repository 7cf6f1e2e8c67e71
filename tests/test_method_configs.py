"""The combined method config (meta-pretraining + TLM + VECO 2.0 + XLM-P) runs through
the real CLI on the tiny corpus; every objective of every phase logs finite metrics
under its own name, and the model has the options the methods need."""
import json
import math
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, load_config
from xlmeta_jax.config import to_plain

OBJECTIVES = {"meta": {"mlm", "prompt_match"},
              "xling": {"mlm", "prompt_match", "tlm", "seq_contrast", "tok_contrast"}}


def test_configs_compose_the_methods():
    c = load_config("meta_veco2_xlmp", "smoke")
    assert {p.name: set(p.objectives) for p in c.phases} == OBJECTIVES
    assert c.model.languages > 0 and c.model.prompt_pool > 0
    assert set(c.phases[1].streams) == {"mono", "parallel"}
    assert set(load_config("veco2", "smoke").phases[1].objectives) == {"mlm", "tlm", "seq_contrast", "tok_contrast"}
    assert set(load_config("xlmp", "smoke").phases[0].objectives) == {"mlm", "prompt_match"}
    assert set(load_config("xlm_meta_tlm", "smoke").phases[1].objectives) == {"mlm", "tlm"}


def load_size(name: str, size: str):
    """configs/<name>.py at `size`, or None when the file has no such size (the Bible study
    configs have no paper-scale `base`)."""
    try:
        return load_config(name, size)
    except ValueError as e:
        if "unknown size" not in str(e):
            raise
        return None


@pytest.mark.parametrize("size", ["smoke", "base"])
def test_every_config_with_tlm_trains_the_one_tlm(size):
    """TLM is one definition (config_parts.tlm_pairs and add_language_embeddings, which each
    config that trains `tlm` calls): the same pairs stream in the multilingual phase and XLM's
    language embeddings wherever `tlm` trains (veco2.py once trained it without the embeddings,
    under the same name). Every such config at smoke size; at `base`, those that have it."""
    with_tlm = {}
    for name in sorted(p.stem for p in (ROOT / "configs").glob("*.py")):
        if any("tlm" in p.objectives for p in load_config(name, "smoke").phases):
            c = load_size(name, size)
            if c is not None:
                with_tlm[name] = (c.model.languages, c.model.language_vector,
                                  json.dumps(to_plain(c.phases[-1].streams)))
    assert {"xlm_meta_tlm", "veco2", "meta_veco2_xlmp"} <= set(with_tlm)
    assert len(set(with_tlm.values())) == 1, with_tlm
    languages, vector, streams = with_tlm["xlm_meta_tlm"]
    assert languages > 0 and vector
    assert "en" not in json.loads(streams)["parallel"]["languages"]  # English-X pairs: English is the other side


@pytest.mark.parametrize("name", ["bible_tlm", "bible_veco2"])
def test_the_bible_tlm_configs_have_only_bible_sizes(name):
    """A Bible config's every size is a run on the Bible corpus; paper scale is the method
    configs' (a `base` here once was XLM-R base on Wikipedia under a Bible config's name)."""
    with pytest.raises(ValueError, match="unknown size 'base'"):
        load_config(name, "base")


def test_the_config_shown_in_the_methods_doc_is_the_file():
    doc = (ROOT / "docs" / "methods.md").read_text().split("The whole config:\n\n```python\n")[1].split("```")[0]
    assert doc in (ROOT / "configs" / "meta_veco2_xlmp.py").read_text()


def test_all_objectives_train_through_the_cli(tiny_corpus, tmp_path):
    r = subprocess.run([sys.executable, "-m", "xlmeta_jax.train", "--config=configs/meta_veco2_xlmp.py:smoke",
                        f"--workdir={tmp_path}", f"--config.data.corpus_dir={tiny_corpus}",
                        "--config.tokenizer.vocab_size=200", "--config.tokenizer.character_coverage=1.0"],
                       cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    records = [json.loads(l) for l in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for phase, objectives in OBJECTIVES.items():
        logged = [x for x in records if x["phase"] == phase and "loss" in x]
        assert logged, phase
        for name in objectives:
            values = [x[f"{name}/loss"] for x in logged]
            assert all(v is not None and math.isfinite(v) for v in values), (phase, name, values)
    xling = [x for x in records if x["phase"] == "xling" and "loss" in x]
    assert all(x["tok_contrast/pairs"] > 0 for x in xling)  # the dictionary found word pairs
