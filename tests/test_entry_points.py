"""`pip install -e .` puts the programs on the PATH as xlmeta-<name> (setup.py console_scripts)."""
import subprocess
import sys
from pathlib import Path

NAMES = ("train", "evaluate", "export", "plan", "report", "analyze", "tokenizer", "study")


def test_console_scripts_are_installed_and_run():
    bin_dir = Path(sys.executable).parent
    assert all((bin_dir / f"xlmeta-{name}").is_file() for name in NAMES)
    r = subprocess.run([str(bin_dir / "xlmeta-train"), "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "--workdir" in r.stdout + r.stderr
