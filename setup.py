"""xlmeta_jax: cross-lingual encoder pretraining (XLM-R family) in JAX/Flax."""
from setuptools import find_packages, setup

setup(
    name="xlmeta_jax",
    version="0.1.0",
    description="Cross-lingual MLM pretraining methods (XLM meta-pretraining, VECO 2.0, XLM-P, TreLM) in JAX/Flax",
    packages=find_packages(include=["xlmeta_jax", "xlmeta_jax.*"]),
    python_requires=">=3.10",
    # Ranges tested together on Python 3.11 (see README "Versions").
    install_requires=[
        "jax>=0.10.2,<0.11",
        "flax>=0.12.8,<0.13",
        "optax>=0.2.8,<0.3",
        "orbax-checkpoint>=0.12.8,<0.13",
        "ml-collections>=1.1.0,<1.2",
        "absl-py>=2.1,<3",
        "sentencepiece>=0.2.0,<0.3",
        "tensorflow-datasets>=4.9.10,<4.10",
        "importlib_resources>=6,<8",  # tfds's dataset preparation imports it without declaring it
        "grain>=0.2.18,<0.3",
        "numpy>=2.0,<2.5",
        "tensorboardX>=2.6,<2.7",
        "tqdm>=4.66,<5",
        "safetensors>=0.8,<0.9",  # Hugging Face export/import without torch
        "matplotlib>=3.9,<4",  # PNG plots of evaluation and analysis reports
        "pyarrow>=26.0.1,<27",  # parquet: sources, read a row group at a time (data/formats.py)
        "zstandard>=0.25,<0.26",  # jsonl: sources compressed as .zst
    ],
    # The entry points on the PATH after `pip install`: xlmeta-train is `python -m xlmeta_jax.train`, ...
    entry_points={"console_scripts": [
        f"xlmeta-{name} = xlmeta_jax.cli:script"
        for name in ("train", "evaluate", "export", "plan", "report", "analyze", "tokenizer", "study")]},
    extras_require={
        # torch pinned exactly: 2.13.0 is the CPU build; a looser pin pulls a multi-GB CUDA build.
        # mkdocs: tests/test_docs.py builds the site in strict mode (~3 s to install, ~3 s to build).
        "test": ["pytest>=9.0,<10", "pytest-xdist>=3.8,<4", "torch==2.13.0", "transformers>=5.23,<6", "mkdocs==1.6.1"],
        # The documentation site alone (`make docs`): MkDocs with its default theme.
        "docs": ["mkdocs==1.6.1"],
    },
)
