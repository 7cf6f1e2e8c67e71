"""Shared fixtures: a tiny multilingual corpus in the corpus-folder layout.

Tests never need the network or ../shared/data: the corpus is written here from
a few sentences per language (Latin, Cyrillic, CJK and Arabic scripts).
"""
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Many tests compile the same tiny train steps, in this process and in CLI subprocesses
# (which inherit the environment): share one persistent compilation cache per session.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", tempfile.mkdtemp(prefix="xlmeta_jax_jit_"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# Tests compile hundreds of tiny programs, whose compile time is mostly LLVM's optimisation and
# whose speed is not at stake: optimisation level 0 (a CLI smoke run: 25.7 -> 16.9 s CPU, the
# step's compile 20 -> 10 s). It leaves the arithmetic alone (no fast-math either way), and
# subprocesses inherit it (give them simulated devices with `with_devices`).
XLA_TEST_FLAGS = "--xla_backend_optimization_level=0"
if XLA_TEST_FLAGS not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_TEST_FLAGS}".strip()
# Likewise the same tiny tokenizer, trained on the same sample in most runs (data/tokenizer.py).
os.environ.setdefault("XLMETA_JAX_TOKENIZER_CACHE", tempfile.mkdtemp(prefix="xlmeta_jax_tok_"))

# `make test` hands whole files to two workers (--dist loadfile) in collection order: a long
# file collected last runs alone at the end. So the long files go first, longest first (CPU
# seconds of each in a profile of the suite on 2026-12-02, beside other jobs: only their order
# matters), and the short ones fill in around them.
LONG_FILES = {
    "methods/trelm/test_trelm.py": 161, "training/test_resume.py": 159, "parallel/test_meshes.py": 147,
    "test_bad_input.py": 128, "studies/test_study_trelm.py": 110, "studies/test_study_cli.py": 102,
    "test_method_configs.py": 89, "studies/test_study_emerging.py": 71, "studies/test_study_veco2.py": 67,
    "parallel/test_multiprocess.py": 64, "training/test_plan.py": 59, "studies/test_study_xlmp.py": 55,
}


def with_devices(devices: int) -> dict[str, str]:
    """The environment of a CPU subprocess with `devices` simulated devices (and the test flags)."""
    flags = f"{os.environ['XLA_FLAGS']} --xla_force_host_platform_device_count={devices}"
    return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=flags)


def pytest_collection_modifyitems(items):
    gone = [f for f in LONG_FILES if not (ROOT / "tests" / f).is_file()]
    assert not gone, f"tests/conftest.py LONG_FILES names files that are gone: {gone}"

    def cost(item) -> int:
        return LONG_FILES.get(Path(item.fspath).relative_to(ROOT / "tests").as_posix(), 0)

    items[:] = sorted(items, key=lambda item: -cost(item))  # stable: each file's tests keep their order


SENTENCES = {
    "en": ["The quick brown fox jumps over the lazy dog.", "Please enter a valid email address.",
           "This field is required.", "The password is too short.", "Save the changes and continue editing.",
           "Documentation is written in plain text.", "A model learns from many languages at once."],
    "de": ["Bitte geben Sie eine gültige E-Mail-Adresse ein.", "Dieses Feld ist zwingend erforderlich.",
           "Das Passwort ist zu kurz.", "Änderungen speichern und weiter bearbeiten.",
           "Der schnelle braune Fuchs springt über den faulen Hund."],
    "ru": ["Пожалуйста, введите правильный адрес электронной почты.", "Обязательное поле.",
           "Пароль слишком короткий.", "Сохранить изменения и продолжить редактирование.",
           "Быстрая коричневая лиса прыгает через ленивую собаку."],
    "zh": ["请输入有效的电子邮件地址。", "这个字段是必填项。", "密码太短了。", "保存更改并继续编辑。", "敏捷的棕色狐狸跳过了懒狗。"],
    "ar": ["يرجى إدخال عنوان بريد إلكتروني صالح.", "هذا الحقل مطلوب.", "كلمة المرور قصيرة جدا.",
           "احفظ التغييرات وتابع التحرير.", "الثعلب البني السريع يقفز فوق الكلب الكسول."],
}


# SENTENCES[x][i] translates SENTENCES["en"][EN_OF[i]]; single words make a dictionary.
EN_OF = [1, 2, 3, 4, 0]
WORDS = {"de": [("password", "Passwort"), ("field", "Feld"), ("fox", "Fuchs")],
         "ru": [("password", "Пароль"), ("field", "поле"), ("fox", "лиса")],
         "zh": [("password", "密码"), ("field", "字段"), ("fox", "狐狸")],
         "ar": [("field", "الحقل"), ("fox", "الثعلب")]}


def write_corpus(root: Path, docs_per_lang: int = 300, seed: int = 0) -> Path:
    """Documents of 1-4 shuffled sentences per language, train and valid, and English-X
    translation pairs (sentences and single words) in parallel/."""
    rng = np.random.default_rng(seed)
    (root / "parallel").mkdir(parents=True, exist_ok=True)
    for lang, words in WORDS.items():
        pairs = [(SENTENCES["en"][EN_OF[i]], s) for i, s in enumerate(SENTENCES[lang])] + words
        for split in ("train", "valid"):
            lines = [f"{en}\t{x}" for en, x in pairs]
            (root / "parallel" / f"en-{lang}.{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for split, n in (("train", docs_per_lang), ("valid", max(docs_per_lang // 10, 4))):
        for lang, sents in SENTENCES.items():
            path = root / "mono" / f"{lang}.{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = [" ".join(rng.choice(sents, size=rng.integers(1, 5))) for _ in range(n)]
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def load_config(name: str, arg: str | None = None):
    spec = importlib.util.spec_from_file_location(f"cfg_{name}", ROOT / "configs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg) if arg else module.get_config()


def smoke_config(corpus_dir: Path, **data):
    c = load_config("demo", "smoke")
    c.data.corpus_dir = str(corpus_dir)
    c.tokenizer.vocab_size = 200
    c.data.update(data)
    return c
