"""A tiny trained run folder shared by the evaluation tests (smoke config, tiny corpus)."""
import pytest

from tests.conftest import smoke_config
from xlmeta_jax.training import loop


@pytest.fixture(scope="session")
def tiny_run(tiny_corpus, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("eval_run")
    c = smoke_config(tiny_corpus)
    c.phases[0].steps, c.phases[1].steps = 4, 4
    c.checkpoint.every, c.eval.every = 4, 4
    loop.train(c, workdir)
    return workdir
