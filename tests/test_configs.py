"""Every config file builds, validates and locks at every size; the paper-scale ones
describe XLM-R base/large and read TFDS by name."""
import pytest

from tests.conftest import ROOT, load_config
from xlmeta_jax import config as config_lib
from xlmeta_jax.objectives import registry
from xlmeta_jax.parallel import mesh

FILES = sorted(p.stem for p in (ROOT / "configs").glob("*.py"))


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("size", ["smoke", "demo"])
def test_small_sizes_validate_on_one_device(name, size):
    c = load_config(name, size)
    config_lib.validate(c, registry.objectives())
    mesh.check(c, 1)
    assert all(p.steps >= 10 for p in c.phases)
    with pytest.raises(AttributeError):
        c.not_a_key = 1  # locked


@pytest.mark.parametrize("size, arch", [("base", (768, 12, 12, 3072)), ("large", (1024, 24, 16, 4096))])
def test_paper_scale(size, arch):
    c = load_config("xlm_meta", size)
    assert (c.model.hidden, c.model.layers, c.model.heads, c.model.mlp) == arch
    assert (c.tokenizer.vocab_size + 2, c.data.seq_len, c.data.mono) == (250_002, 512, "tfds:wikipedia/20230601.{lang}")
    assert (c.model.dtype, c.model.scan_layers) == ("bfloat16", True)
    config_lib.validate(c, registry.objectives())
    mesh.check(c, 64)
    assert mesh.mesh_shape(load_config("xlm_meta", f"{size},fsdp_tp").mesh, 64) == {"data": 1, "fsdp": 16, "tensor": 4}
