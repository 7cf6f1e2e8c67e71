"""What the train loop measures while it trains, with the model it is training: held-out
masked-LM loss and accuracy per language on fixed (seeded) masks, and the retrieval curve of
config.eval.retrieval. The retrieval curve is also measured at step 0, as the floor."""
from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
from ml_collections import config_dict

from xlmeta_jax import config as config_lib
from xlmeta_jax.data import inputs as inputs_lib
from xlmeta_jax.eval import mlm, retrieval
from xlmeta_jax.eval.encode import Loaded
from xlmeta_jax.parallel import sharding
from xlmeta_jax.parallel.hosts import host_params


class Validation:
    def __init__(self, config, model, inputs: inputs_lib.RunInputs, mesh, rules, source_tok=None):
        """`source_tok`: a TreLM run's source tokenizer; the curve reads English through it, as
        training did and as the evaluation of its checkpoints does (eval/encode.py)."""
        self.model, self.mesh, self.rules = model, mesh, rules
        self.sets = inputs_lib.eval_batches(config, inputs)
        self.curve = retrieval.training_curve(curve_config(config.eval.retrieval, inputs.corpus_dir),
                                              Loaded(model, {}, inputs.tok, inputs.ids, "", None, source_tok))

    def retrieval(self, params) -> dict[str, float]:
        """The retrieval curve's point (at step 0: the floor, the same model measured the same way)."""
        return self.curve(host_params(params)) if self.curve else {}

    def __call__(self, params) -> dict[str, float]:
        return {**self.held_out_mlm(params), **self.retrieval(params)}

    def held_out_mlm(self, params) -> dict[str, float]:
        """eval/<lang>/loss and /acc on the validation text (sharded like training), and means."""
        out = {}
        for lang, batches in self.sets.items():
            size = len(batches[0]["tokens"])
            rows = sharding.process_rows(size, self.mesh, self.rules)
            sums = [jax.device_get(mlm.sums(params, sharding.put_batch({k: v[rows] for k, v in b.items()},
                                                                       self.mesh, self.rules, size), model=self.model))
                    for b in batches]
            pooled = mlm.pooled(sums)
            out[f"eval/{lang}/loss"], out[f"eval/{lang}/acc"] = pooled["loss"], pooled["acc"]
        out["eval/loss"] = float(np.mean([out[f"eval/{l}/loss"] for l in self.sets]))
        out["eval/acc"] = float(np.mean([out[f"eval/{l}/acc"] for l in self.sets]))
        return out


def curve_config(cfg, corpus_dir: Path | None):
    """config.eval.retrieval with `{corpus}` in its pairs pattern set to the run's corpus folder
    (a config cannot know where the cache puts a named corpus)."""
    if "{corpus}" not in cfg.pairs:
        return cfg
    if corpus_dir is None:
        raise config_lib.ConfigError(f"config.eval.retrieval.pairs={cfg.pairs!r}: {{corpus}} names the corpus "
                                     f"folder, but this run reads none (config.data.mono/parallel are set); "
                                     f"give the path")
    cfg = config_dict.ConfigDict(config_lib.to_plain(cfg))
    cfg.pairs = cfg.pairs.replace("{corpus}", str(corpus_dir))
    return cfg
