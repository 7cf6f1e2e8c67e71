"""XLM meta-pretraining at XLM-R large scale: 24 layers, hidden 1024, 16 heads, MLP 4096.

Everything else (phases, data, sizes `:smoke`/`:demo`, presets) as configs/xlm_meta_base.py.
"""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("xlm_meta_base", Path(__file__).with_name("xlm_meta_base.py"))
_base = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_base)

ARCH = dict(hidden=1024, layers=24, heads=16, mlp=4096)


def get_config(arg: str = "base"):
    return _base.build(arg, ARCH, "configs/xlm_meta_large.py")
