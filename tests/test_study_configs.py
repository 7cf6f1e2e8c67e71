"""The configs behind the studies: the control's model shares nothing but blocks, positions and
special tokens; the two meta-pretraining arms see the same tokens with the same schedule."""
from tests.conftest import load_config
from xlmeta_jax import config as config_lib
from xlmeta_jax.objectives import registry


def test_control_shares_only_blocks_positions_and_specials():
    for size in ("smoke", "demo", "study"):
        c = load_config("control", size)
        config_lib.validate(c, registry.objectives())
        m = c.model
        assert m.separate_embeddings and m.shared_specials and not m.language_vector and m.languages == 2
        assert c.phases[0].streams.mono.languages == ("en", "fake")


def test_meta_and_joint_arms_differ_only_in_the_first_steps():
    for size in ("smoke", "demo", "study"):
        meta, joint = load_config("bible_meta", size), load_config("bible_joint", size)
        for c in (meta, joint):
            config_lib.validate(c, registry.objectives())
        tokens = lambda c: sum(p.steps * p.batch_size for p in c.phases) * c.data.seq_len  # noqa: E731
        assert tokens(meta) == tokens(joint)
        assert config_lib.total_steps(meta) == config_lib.total_steps(joint)
        assert meta.optimizer == joint.optimizer and meta.model == joint.model
        assert [p.name for p in meta.phases] == ["meta", "xling"] and meta.phases[0].streams.mono.languages == ("en",)
        assert meta.phases[1].streams.mono == joint.phases[0].streams.mono
