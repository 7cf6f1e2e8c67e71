"""The demo-corpus builder on hand-written inputs: no network, no real archives.

Expectations are written out by hand from the .po / reST rules, never taken
from the code's own output.
"""
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from xlmeta_jax.data import corpora

PO_SNIPPET = r'''# Translators:
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: views.py:1
msgid "Save"
msgstr "Speichern"

msgid ""
"A long message "
"on two lines"
msgstr ""
"Eine lange Nachricht "
"auf zwei Zeilen"

msgid "Say \"hi\"\tnow\\"
msgstr "Sag \"hallo\"\tjetzt\\"

#, fuzzy
msgid "Unsure"
msgstr "Unsicher"

#, python-format, fuzzy
msgid "Also unsure %(x)s"
msgstr "Auch unsicher %(x)s"

msgid "%(count)d item"
msgid_plural "%(count)d items"
msgstr[0] "%(count)d Element"
msgstr[1] "%(count)d Elemente"

msgctxt "month"
msgid "May"
msgstr "Mai"

msgid "Untranslated"
msgstr ""

#~ msgid "Obsolete"
#~ msgstr "Veraltet"
msgid "Last"
msgstr "Letzte"
'''


def test_parse_po_exact_pairs():
    assert corpora.parse_po(PO_SNIPPET) == [
        ("Save", "Speichern"),
        ("A long message on two lines", "Eine lange Nachricht auf zwei Zeilen"),
        ('Say "hi"\tnow\\', 'Sag "hallo"\tjetzt\\'),
        ("May", "Mai"),
        ("Last", "Letzte"),
    ]


def test_parse_po_malformed_names_file_and_line():
    with pytest.raises(ValueError, match=r"x\.po:2"):
        corpora.parse_po('msgid "a"\nbogus line\n', source="x.po")


@pytest.mark.parametrize("raw, expected", [
    ("Delete %(name)s?", "Delete?"),
    ("%(count)d items selected", "items selected"),
    ("Hello {0}, welcome to {site_name}!", "Hello, welcome to!"),
    ("Page %s of %d", "Page of"),
    ('Click <a href="/x/">here</a> to <b>continue</b>.', "Click here to continue."),
    ("Line one<br>line two", "Line one line two"),
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("100%% sure", "100% sure"),
    ("Object “%(obj)s” saved", "Object saved"),
    ("  spaced\n out\ttext ", "spaced out text"),
])
def test_clean_po_text(raw, expected):
    assert corpora.clean_po_text(raw) == expected


@pytest.mark.parametrize("text, useful", [
    ("OK", True), ("保存", True), ("Сохранить", True), ("x", False), ("42", False), ("- !", False), ("", False),
])
def test_is_useful(text, useful):
    assert corpora.is_useful(text) is useful


RST_SNIPPET = """\
=============
Working forms
=============

.. currentmodule:: django.forms

.. _forms-intro:

A form is a collection of elements inside ``<form>`` that allow a visitor
to enter text. See :ref:`the form guide <form-guide>` and :class:`~django.forms.Form`.

Some *emphasised* and **strong** words, plus a `link <https://example.com>`_.

For example::

    form = MyForm()
    form.is_valid()

.. code-block:: python

    print("dropped")

.. note::

    Notes are prose and are kept as their own paragraph.

.. This is a comment
   spanning two lines.

* First item of a list here.
* Second item of the list.

Short one

=====  =====
col a  col b
=====  =====
"""


def test_rst_paragraphs():
    assert corpora.rst_paragraphs(RST_SNIPPET) == [
        "A form is a collection of elements inside <form> that allow a visitor to enter text. "
        "See the form guide and Form.",
        "Some emphasised and strong words, plus a link.",
        "Notes are prose and are kept as their own paragraph.",
        "First item of a list here.",
        "Second item of the list.",
    ]


def test_rst_inline_literals_kept_verbatim():
    assert corpora.rst_inline_to_text("Pass ``**kwargs`` to ``__init__()``.") == "Pass **kwargs to __init__()."
    assert corpora.rst_inline_to_text("When ``QuerySet``\\s are evaluated") == "When QuerySets are evaluated"


def test_language_code_aliases():
    assert corpora.language_code("zh_Hans") == "zh"
    assert corpora.language_code("zh_CN") == "zh"
    assert corpora.language_code("he_IL") == "he"
    assert corpora.language_code("pt_BR") == "pt_BR"
    assert corpora.language_code("de") == "de"


# --------------------------------------------------------------------------- fake archives

def _po(pairs):
    body = 'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    return body + "".join(f'msgid "{en}"\nmsgstr "{x}"\n\n' for en, x in pairs)


ENGLISH = [f"Message number {i} for the user" for i in range(200)]


def _make_wheel(path: Path, folders: dict) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for folder, pairs in folders.items():
            zf.writestr(f"pkg/locale/{folder}/LC_MESSAGES/django.po", _po(pairs))
        zf.writestr("pkg/__init__.py", "")
    return path


def _make_sdist(path: Path, docs: dict) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, text in docs.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"pkg-1.0/docs/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def archives(tmp_path):
    de = [(e, f"Nachricht Nummer {i} für den Benutzer") for i, e in enumerate(ENGLISH)]
    zh = [(e, f"给用户的第{i}条消息") for i, e in enumerate(ENGLISH)]
    wheel_a = _make_wheel(tmp_path / "pkga-1.0-py3-none-any.whl", {
        "de": de + [de[0], ("Save", "Save")],        # exact duplicate; identical sides dropped
        "zh_Hans": zh[:120], "en": [("Colour", "Color")],
    })
    wheel_b = _make_wheel(tmp_path / "pkgb-2.0-py3-none-any.whl", {"zh_CN": zh[100:], "de": de[:10]})
    sdist = _make_sdist(tmp_path / "pkg-1.0.tar.gz", {
        "index.txt": "Title\n=====\n\nThe first paragraph of the docs.\n\nThe second paragraph here.\n",
        "more/topic.txt": "The first paragraph of the docs.\n\n.. code-block:: python\n\n    x = 1\n",
        "requirements.txt": "sphinx is a package\n",
    })
    return [sdist, wheel_a, wheel_b]


def _lines(path: Path):
    return path.read_text(encoding="utf-8").splitlines()


def test_build_from_archives(tmp_path, archives):
    out = corpora.build_from_archives(archives, tmp_path / "corpora" / "demo-v1", ["en", "de", "zh"],
                                      valid_fraction=0.2, log=lambda m: None)
    assert out == tmp_path / "corpora" / "demo-v1"
    expected = {f"mono/{lang}.{split}.txt" for lang in ("en", "de", "zh") for split in ("train", "valid")}
    expected |= {f"parallel/en-{lang}.{split}.tsv" for lang in ("de", "zh") for split in ("train", "valid")}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == expected | {"manifest.json"}
    assert not list(out.parent.glob(".*")), "no temp folders left next to the corpus"

    pairs = {}
    for lang in ("de", "zh"):
        for split in ("train", "valid"):
            rows = [line.split("\t") for line in _lines(out / f"parallel/en-{lang}.{split}.tsv")]
            assert all(len(r) == 2 and r[0] and r[1] for r in rows)
            pairs[lang, split] = rows
    # Dedupe: each English string once per language (the duplicate and the two zh files overlap).
    for lang in ("de", "zh"):
        english = [r[0] for split in ("train", "valid") for r in pairs[lang, split]]
        assert sorted(english) == sorted(ENGLISH)
    # Multi-way consistent split, decided by sha1 of the English side alone.
    valid_en = {e for e in ENGLISH
                if int.from_bytes(hashlib.sha1(e.encode()).digest()[:8], "big") < 0.2 * 2**64}
    assert 0 < len(valid_en) < len(ENGLISH)
    for lang in ("de", "zh"):
        assert {r[0] for r in pairs[lang, "valid"]} == valid_en
        assert not {r[0] for r in pairs[lang, "train"]} & valid_en
    # Mono: foreign sides by split; English = doc paragraphs + msgids, deduped, splits disjoint.
    assert set(_lines(out / "mono/de.valid.txt")) == {r[1] for r in pairs["de", "valid"]}
    en_train, en_valid = _lines(out / "mono/en.train.txt"), _lines(out / "mono/en.valid.txt")
    assert not set(en_train) & set(en_valid)
    assert len(en_train + en_valid) == len(set(en_train + en_valid))
    assert set(en_train + en_valid) == set(ENGLISH) | {"The first paragraph of the docs.",
                                                      "The second paragraph here."}
    for path in out.rglob("*.t*"):
        assert "" not in _lines(path)

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["name"] == "demo-v1" and manifest["languages"] == ["en", "de", "zh"]
    assert manifest["valid_fraction"] == 0.2
    assert [(p["name"], p["version"], p["file"]) for p in manifest["packages"]] == [
        ("pkg", "1.0", "pkg-1.0.tar.gz"), ("pkga", "1.0", archives[1].name), ("pkgb", "2.0", archives[2].name)]
    assert set(manifest["files"]) == expected
    for rel, info in manifest["files"].items():
        data = (out / rel).read_bytes()
        assert info == {"sha256": hashlib.sha256(data).hexdigest(), "lines": data.count(b"\n"), "bytes": len(data)}


def test_unknown_language_is_a_clear_error(tmp_path, archives):
    with pytest.raises(ValueError, match=r"\['xx'\].*drop them"):
        corpora.build_from_archives(archives, tmp_path / "out", ["en", "xx"], 0.1, log=lambda m: None)


def test_build_demo_corpus_offline_and_idempotent(tmp_path, archives, monkeypatch):
    """Archives already in downloads/ -> no pip; a complete corpus -> returned untouched."""
    downloads = tmp_path / "cache" / "downloads"
    downloads.mkdir(parents=True)
    names = ["django-5.2.19.tar.gz", "django-5.2.19-py3-none-any.whl",
             "sphinx-9.0.4-py3-none-any.whl", "wagtail-8.0.1-py3-none-any.whl"]
    for src, name in zip(archives + [archives[2]], names):
        (downloads / name).write_bytes(src.read_bytes())

    def no_pip(*args, **kwargs):
        raise AssertionError("pip must not run when the archives are cached")
    monkeypatch.setattr(corpora.subprocess, "run", no_pip)

    out = corpora.build_demo_corpus(tmp_path / "cache", ["de", "zh"], valid_fraction=0.2, log=lambda m: None)
    assert out == tmp_path / "cache" / "corpora" / "demo-v1"
    stamp = (out / "manifest.json").stat().st_mtime_ns

    monkeypatch.setattr(corpora, "build_from_archives", no_pip)
    assert corpora.build_demo_corpus(tmp_path / "cache", ["de", "zh"], 0.2, log=lambda m: None) == out
    assert (out / "manifest.json").stat().st_mtime_ns == stamp

    # A corrupted file makes the corpus incomplete, so it would be rebuilt.
    (out / "mono/de.train.txt").write_text("tampered\n", encoding="utf-8")
    assert not corpora.corpus_is_complete(out)


def test_pip_failure_message(tmp_path, monkeypatch):
    class Failed:
        returncode, stdout, stderr = 1, "", "ERROR: No matching distribution found for django==5.2.19"
    monkeypatch.setattr(corpora.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(RuntimeError) as err:
        corpora.download_archive("django", "5.2.19", "wheel", tmp_path / "downloads", log=lambda m: None)
    message = str(err.value)
    for part in ("django==5.2.19", "pip download", "No matching distribution", "PyPI", str(tmp_path / "downloads")):
        assert part in message


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XLMETA_JAX_CACHE", str(tmp_path))
    assert corpora.default_cache_dir() == tmp_path
    monkeypatch.delenv("XLMETA_JAX_CACHE")
    assert corpora.default_cache_dir() == Path.home() / ".cache" / "xlmeta_jax"
