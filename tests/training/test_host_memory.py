"""training/host_memory.py: freed blocks are reused instead of page-faulted back in."""
import json
import subprocess
import sys

import pytest

# Allocates, touches and frees a block of MB megabytes ROUNDS times (as a train step does with
# its temporaries) and prints the minor page faults of all rounds but the first.
PROBE = """
import json, resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from xlmeta_jax.training import host_memory
    assert host_memory.keep_freed_memory()
mb, rounds = int(sys.argv[2]), int(sys.argv[3])
faults = []
for _ in range(rounds):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.ones(mb * 2**18, np.float32)
    del block
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(sum(faults[1:])))
"""


def _faults(mode: str, mb: int = 64, rounds: int = 10) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode, str(mb), str(rounds)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_freed_blocks_are_reused_without_page_faults():
    default, keep = _faults("default"), _faults("keep")
    # glibc unmaps the block on free: every round faults it in again (at least once per 2 MB
    # page when the kernel uses huge pages).
    assert default >= 9 * 64 // 2
    assert keep < default / 20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc")
def test_blocks_past_two_gigabytes_are_kept_too():
    # The study shape's step frees over 2 GB at the top of the heap (shared_top_fr): with a
    # trim threshold of 2**31 - 1 glibc handed it back every step, ~100,000 faults a step. Here
    # that was 1,405 faults a round with 2 MB pages (588,800 with 4 KB ones); none are expected.
    assert _faults("keep", mb=2300, rounds=3) < 50



@pytest.mark.parametrize("setting, jax_platforms, accelerator, applies", [
    ("auto", "", False, True),  # no GPU/TPU plugin: JAX runs on the CPU, where it was measured
    ("auto", "", True, False),  # a GPU/TPU run: unmeasured there, left as glibc has it
    ("auto", "cpu", True, True),
    ("auto", "cuda,cpu", False, False),
    ("on", "tpu", True, True),
    ("off", "cpu", False, False),
])
def test_freed_memory_is_kept_on_the_cpu_backend_unless_asked(setting, jax_platforms, accelerator, applies):
    from xlmeta_jax.training import host_memory

    assert host_memory.wanted(setting, jax_platforms, accelerator) is applies


def test_a_wrong_setting_names_the_key():
    from xlmeta_jax.config import ConfigError
    from xlmeta_jax.training import host_memory

    with pytest.raises(ConfigError, match=r"config.host.keep_freed_memory: True; allowed"):
        host_memory.wanted(True, "", False)
