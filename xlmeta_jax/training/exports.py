"""Hugging Face folders written while training (config.export_hf): every `every` steps and/or
at phase ends, into EXPORT_DIR/step_<N> (default WORKDIR/hf); process 0 writes."""
from __future__ import annotations

from pathlib import Path

from xlmeta_jax.data import tokenizer
from xlmeta_jax.interop import hf
from xlmeta_jax.parallel.hosts import first_process, host_params


class PeriodicExport:
    def __init__(self, config, workdir: Path, model_cfg):
        self.cfg, self.workdir, self.model_cfg = config.export_hf, workdir, model_cfg

    @property
    def enabled(self) -> bool:
        return bool(self.cfg.every or self.cfg.phase_end)

    def check(self, params) -> None:
        """Refuses a model that cannot be exported now, not after hours of training."""
        if self.enabled:
            hf.to_hf_state_dict(host_params(params), self.model_cfg, drop_extra=self.cfg.drop_extra)

    def due(self, step: int, at_phase_end: bool = False) -> bool:
        every_n = bool(self.cfg.every) and step % self.cfg.every == 0
        return every_n or bool(self.cfg.phase_end and at_phase_end)

    def __call__(self, step: int, params) -> None:
        """Writes step `step`'s folder (the loop asks `due` first)."""
        params = host_params(params)  # a collective: every process takes part
        if first_process():
            out = Path(self.cfg.dir or self.workdir / "hf") / f"step_{step}"
            hf.save_hf(out, params, self.model_cfg, self.workdir / "tokenizer" / tokenizer.MODEL_FILE,
                       drop_extra=self.cfg.drop_extra, overwrite=True)
