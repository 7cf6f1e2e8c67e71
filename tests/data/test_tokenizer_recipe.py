"""The tokenizer recipe: alpha quotas, the streamed sample, fertility and unknown rate, and
`python -m xlmeta_jax.tokenizer train` on the tiny corpus."""
import os
import subprocess
import sys

import numpy as np

from tests.conftest import ROOT, SENTENCES
from xlmeta_jax.data import mixture, recipe, tokenizer


def test_quotas_follow_n_to_the_alpha():
    sizes = {"en": 10_000, "sw": 100}
    q = mixture.quotas(sizes, 0.3, 1000)
    w = np.array([10_000, 100], float) ** 0.3
    assert q == {"en": round(1000 * w[0] / w.sum()), "sw": round(1000 * w[1] / w.sum())}
    assert mixture.quotas({"en": 10_000, "xx": 1}, 1.0, 100)["xx"] == 1  # every language gets a line


def test_sampled_lines_draw_each_languages_quota_from_its_own_file(tmp_path):
    texts = {}
    for lang, n in (("en", 500), ("de", 20)):
        path = tmp_path / f"{lang}.txt"
        path.write_bytes("".join(f"{lang} line {i}\n" for i in range(n)).encode() + b"\xff\xfe invalid UTF-8\n")
        texts[lang] = recipe.TextFile(path)
    counts = {lang: t.count()[0] for lang, t in texts.items()}
    quota = mixture.quotas(counts, 0.5, 100)
    sample = list(recipe.sampled_lines(texts, counts, quota, seed=0))
    for lang in texts:
        drawn = [s for s in sample if s.startswith(f"{lang} line")]
        assert len(drawn) == quota[lang]
    de = [s for s in sample if s.startswith("de")]
    assert len(set(de)) == len(de) or quota["de"] > counts["de"]  # without replacement while it can
    assert sample == list(recipe.sampled_lines(texts, counts, quota, seed=0))  # seeded


def test_excluded_lines_are_not_counted_or_sampled(tmp_path):
    path = tmp_path / "en.txt"
    path.write_text("Keep one.\nEVAL line\nKeep two.\n", encoding="utf-8")
    text = recipe.TextFile(path, excluded=frozenset({"eval line"}))
    assert text.count() == (2, 1, 9.0)  # 9.0: the mean length of the kept lines
    assert list(text.lines()) == ["Keep one.", "Keep two."]


def test_records_are_drawn_by_index_and_unusable_ones_skipped():
    docs = [f"doc {i}" for i in range(50)] + ["EVAL line", "x"]
    records = recipe.Records(docs, "tfds:test/en", min_chars=2, excluded=frozenset({"eval line"}))
    assert records.count() == (52, 0, sum(map(len, docs)) / 52)
    assert list(records.drawn(np.array([0, 3, 3, 50, 51]), lambda lang, n: None, "en")) == ["doc 0", "doc 3", "doc 3"]
    sample = list(recipe.sampled_lines({"en": records}, {"en": 52}, {"en": 20}, seed=0))
    assert 0 < len(sample) <= 20 and set(sample) <= set(docs[:50])


def test_a_sample_of_long_documents_is_cut_to_the_character_budget():
    sizes, mean_chars = {"en": 1000, "ko": 100}, {"en": 3500.0, "ko": 2000.0}
    lines = tokenizer.sample_quotas(sizes, mean_chars, 0.3, 200_000, None)
    assert lines == mixture.quotas(sizes, 0.3, 200_000)  # no budget: the lines alone
    budget = 10_000_000
    cut = tokenizer.sample_quotas(sizes, mean_chars, 0.3, 200_000, budget)
    chars = sum(k * mean_chars[l] for l, k in cut.items())
    assert 0.99 * budget <= chars <= budget * 1.001  # about the budget, not ~6e8 characters
    w = {l: n ** 0.3 for l, n in sizes.items()}
    assert abs(cut["ko"] / sum(cut.values()) - w["ko"] / sum(w.values())) < 1e-3  # the same shares
    assert tokenizer.sample_quotas(sizes, mean_chars, 0.3, 1000, budget) == mixture.quotas(sizes, 0.3, 1000)


def test_balanced_sample_keeps_to_the_character_budget():
    docs = {"en": ["word " * 200] * 50, "de": ["wort " * 100] * 50}  # 1,000- and 500-character documents
    sample = tokenizer.balanced_sample(docs, 1.0, 1000, seed=0, max_chars=20_000)
    assert 18_000 <= sum(map(len, sample)) <= 20_100
    assert len(tokenizer.balanced_sample(docs, 1.0, 1000, seed=0)) == 1000  # no budget: all 1,000 lines


class FakeTok:
    """encode() gives each word one piece, and <unk> for words with a digit."""
    def encode(self, lines):
        return [np.array([tokenizer.UNK if any(c.isdigit() for c in w) else 10 for w in line.split()] * 2)
                for line in lines]


def test_fertility_and_unknown_rate_by_hand():
    lines = ["a b c", "d 4"]  # 5 words; FakeTok doubles every piece: 10 pieces, 2 of them <unk>
    assert tokenizer.fertility(FakeTok(), lines) == 2.0
    assert tokenizer.unknown_rate(FakeTok(), lines) == 0.2


def cli(*args):
    return subprocess.run([sys.executable, "-m", "xlmeta_jax.tokenizer", *args], cwd=ROOT, capture_output=True,
                          text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"), timeout=300)


def test_cli_trains_and_prints_the_table(tiny_corpus, tmp_path):
    evals = tmp_path / "eval.txt"
    evals.write_text(SENTENCES["de"][0] + "\n", encoding="utf-8")
    common = ["train", "--config=configs/demo.py:smoke", f"--config.data.corpus_dir={tiny_corpus}",
              "--config.tokenizer.vocab_size=200", "--config.tokenizer.character_coverage=1.0"]
    r = cli(*common, f"--out={tmp_path / 'tok'}", f"--exclude={evals}")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "tok" / tokenizer.MODEL_FILE).is_file()
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in r.stdout.splitlines() if line.startswith("| ") and not line.startswith("| language")}
    assert set(rows) == set(SENTENCES)  # the last phase of demo.py reads every language
    assert int(rows["de"][1].replace(",", "")) > 0 and int(rows["en"][1]) == 0  # the planted de line, dropped
    assert all(float(cols[4]) >= 1.0 for cols in rows.values())  # fertility: at least a piece per word
    bad = cli(*common, f"--out={tmp_path / 'tok2'}", f"--exclude={tmp_path / 'missing.txt'}")
    assert bad.returncode == 2 and "missing.txt: exclusion file not found" in bad.stderr
