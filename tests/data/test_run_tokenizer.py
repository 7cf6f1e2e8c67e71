"""data/inputs.run_tokenizer: one process writes the run's tokenizer, the others only read it
(on a shared run folder, processes that all copied a Hugging Face tokenizer raced on one
temporary file)."""
from tests.conftest import smoke_config
from xlmeta_jax.data import inputs, tokenizer


def test_only_the_first_process_adopts_or_trains_the_tokenizer(tiny_corpus, tmp_path, monkeypatch):
    c = smoke_config(tiny_corpus)
    texts = inputs.read(c)
    written = inputs.run_tokenizer(c, tmp_path / "first" / "tokenizer", texts)  # process 0: trains
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / tokenizer.MODEL_FILE).write_bytes((tmp_path / "first" / "tokenizer" / tokenizer.MODEL_FILE).read_bytes())
    c.init.from_hf = str(hf)

    shared = tmp_path / "shared" / "tokenizer"
    inputs.run_tokenizer(c, shared, texts)  # process 0 adopts the Hugging Face tokenizer
    writes = []
    monkeypatch.setattr(inputs, "first_process", lambda: False)
    monkeypatch.setattr(inputs, "adopt_tokenizer", lambda *a: writes.append(("adopt", a)))
    monkeypatch.setattr(tokenizer, "train", lambda *a, **k: writes.append(("train", a)))
    other = inputs.run_tokenizer(c, shared, texts)  # another process: reads what process 0 wrote
    assert writes == []
    assert other.sha256 == written.sha256
