"""files.write_atomically: the whole file or the old one, never half, and no temporary left."""
from pathlib import Path

import pytest

from xlmeta_jax.files import write_atomically


def test_writes_text_and_bytes_into_new_folders_and_leaves_nothing_else(tmp_path):
    path = write_atomically(tmp_path / "a" / "b" / "x.json", "é\n")
    assert path.read_bytes() == "é\n".encode("utf-8")
    write_atomically(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    assert [p.name for p in path.parent.iterdir()] == ["x.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = write_atomically(tmp_path / "x.txt", "old")

    def full_disk(self, data):
        self.open("wb").write(data[:1])  # part of the bytes reach the disk, then the write fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError):
        write_atomically(path, "new and longer")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]
