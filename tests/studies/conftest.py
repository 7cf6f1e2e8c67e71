"""A tiny study on the tiny corpus: held-out TSV pairs and MLM text written here, and a
study file whose arms are smoke-size runs of a few steps."""
import textwrap
from pathlib import Path

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
