"""The configs behind studies/veco2.py, xlmp.py, trelm.py and emerging.py: every size and role
validates, and the arms of a study differ only in what the study compares."""
import pytest

from tests.conftest import load_config
from xlmeta_jax import config as config_lib
from xlmeta_jax import config_parts as parts
from xlmeta_jax.objectives import registry

SIZES = ("smoke", "demo", "study")


def loaded(name: str, arg: str):
    c = load_config(name, arg)
    config_lib.validate(c, registry.objectives())
    return c


def without(c, *keys: str) -> dict:
    """The config as plain data, without the dotted keys the arms may differ in."""
    flat = config_lib.flatten(config_lib.to_plain(c))
    return {k: v for k, v in flat.items() if not k.startswith(keys)}


@pytest.mark.parametrize("size", SIZES)
def test_veco2_arms_differ_only_in_the_contrastive_objectives(size):
    tlm, veco2 = loaded("bible_tlm", size), loaded("bible_veco2", size)
    assert without(tlm, "phases[0].objectives") == without(veco2, "phases[0].objectives")
    assert dict(tlm.phases[0].objectives) == dict(mlm=1.0, tlm=1.0)
    assert dict(veco2.phases[0].objectives) == dict(mlm=1.0, tlm=1.0, seq_contrast=1.0, tok_contrast=0.5)
    streams = veco2.phases[0].streams  # 'all': the study's corpus holds its six languages
    assert (streams.mono.languages, streams.parallel.languages) == ("all", "all")
    assert veco2.model.languages and veco2.model.language_vector  # the one TLM: XLM's language embeddings


@pytest.mark.parametrize("size", SIZES)
def test_xlmp_arms_differ_only_in_the_prompt_pool(size):
    mlm, xlmp = loaded("bible_mixture", size), loaded("bible_xlmp", size)
    assert without(mlm, "phases[0].objectives", "model.prompt") == without(xlmp, "phases[0].objectives", "model.prompt")
    assert xlmp.model.prompt_pool == 16 and not mlm.model.prompt_pool
    assert dict(xlmp.phases[0].objectives) == dict(mlm=1.0, prompt_match=0.1)
    assert set(parts.BIBLE_LOW_RESOURCE) < set(mlm.phases[0].streams.mono.languages)


@pytest.mark.parametrize("size", SIZES)
def test_emerging_roles_share_what_their_names_say(size):
    shared, none, top, mono = (loaded("bible_emerging", size if r == "shared" else f"{size}_{r}")
                               for r in ("shared", "no_anchors", "shared_top", "mono"))
    assert not shared.model.separate_embeddings and not shared.model.language_layers
    assert none.model.separate_embeddings and none.model.shared_specials and not none.model.language_layers
    assert top.model.separate_embeddings and top.model.language_layers == top.model.layers // 2
    assert not any(c.model.language_vector for c in (shared, none, top))
    assert without(shared, "model.separate_embeddings", "model.shared_specials", "model.language_layers") == \
        without(top, "model.separate_embeddings", "model.shared_specials", "model.language_layers")
    # two monolingual models see one bilingual model's tokens
    assert 2 * mono.phases[0].steps == shared.phases[0].steps and mono.phases[0].streams.mono.languages == ("en",)
    assert mono.model.hidden == shared.model.hidden and mono.model.layers == shared.model.layers


@pytest.mark.parametrize("size", SIZES)
def test_trelm_arms_start_differently_and_read_the_same_target_text(size):
    transfer, random, scratch = (loaded("bible_trelm", size + r) for r in ("", "_random", "_scratch"))
    source_en, source_multi = (loaded("bible_trelm", f"{size}_source_{s}") for s in ("en", "multi"))
    assert without(transfer, "transfer.init") == without(random, "transfer.init")
    assert (transfer.transfer.init, random.transfer.init) == ("adversarial", "random")
    assert scratch.model == transfer.model and scratch.model.tri_layer and not scratch.transfer.source
    target = parts.BIBLE_TRELM_TARGET
    mono_rows = lambda c: sum(p.steps * p.batch_size for p in c.phases if p.streams.mono.languages == (target,))  # noqa: E731
    assert mono_rows(transfer) == mono_rows(scratch) and config_lib.total_steps(transfer) == config_lib.total_steps(scratch)
    assert transfer.optimizer == scratch.optimizer
    for source in (source_en, source_multi):  # the transfer copies every block: the shapes must agree
        assert {k: source.model[k] for k in ("hidden", "layers", "heads", "mlp", "max_positions")} == \
            {k: transfer.model[k] for k in ("hidden", "layers", "heads", "mlp", "max_positions")}
        assert target not in source.phases[0].streams.mono.languages
    assert source_en.phases[0].streams.mono.languages == ("en",)
