"""`pip install -e .` puts the programs on the PATH as xlmeta-<name> (setup.py console_scripts)."""
import subprocess
import sys
from pathlib import Path

NAMES = ("train", "evaluate", "export", "plan", "report", "analyze", "tokenizer", "study")


def test_console_scripts_are_installed_and_run():
    bin_dir = Path(sys.executable).parent
    assert all((bin_dir / f"xlmeta-{name}").is_file() for name in NAMES)
    r = subprocess.run([str(bin_dir / "xlmeta-train"), "--help"], capture_output=True, text=True, timeout=120)
    out = r.stdout + r.stderr  # absl's --help exits 1, as with python -m xlmeta_jax.train --help
    assert "Pretrain an encoder" in out and "--workdir" in out and "Traceback" not in out
