"""The documentation says what the code does: README.md and docs/ are checked here, in
`make test`, and each check is shown failing on a temporary copy with one thing broken.

- every relative link and anchor resolves (the anchor as GitHub and MkDocs both spell it),
  and a page under docs/ links only inside docs/ (what MkDocs can build);
- every `python -m xlmeta_jax.<name>` runs as a program, with the flags written after it;
  every `--config=configs/<file>.py` and `--study=studies/<file>.py` exists;
- every `--config.<key>` is a key of the config (base_config() or a config file's);
- docs/configs.md is what `python -m xlmeta_jax.config_reference` writes, and every config key
  has a meaning.

The site build itself (`make docs`, MkDocs in strict mode) runs in .ci/run after `make test`.
"""
from __future__ import annotations

import functools
import importlib.util
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from xlmeta_jax import config as config_lib
from xlmeta_jax import config_reference

ROOT = Path(__file__).resolve().parents[1]

# `--config.<key>`s the docs write on purpose although no config has them, with why.
KEYS_NOT_IN_ANY_CONFIG = {
    ("docs/methods.md", "objectives.state_norm.scale"): "the worked example of adding an objective",
}


def pages(root: Path) -> list[Path]:
    return [root / "README.md"] + sorted((root / "docs").rglob("*.md"))


def split(text: str) -> tuple[str, list[str]]:
    """(the prose, with fenced code blocks blanked out; the code blocks' logical lines, a
    backslash continuation joined)."""
    prose, code, block, fence = [], [], [], None
    for line in text.splitlines():
        m = re.match(r"\s*(```|~~~)", line)
        if fence is None and m:
            fence, block = m.group(1), []
            prose.append("")
        elif fence is not None and line.strip().startswith(fence):
            code += re.sub(r"\\\n\s*", " ", "\n".join(block)).splitlines()
            fence = None
            prose.append("")
        elif fence is not None:
            block.append(line)
            prose.append("")
        else:
            prose.append(line)
    return "\n".join(prose), code


def inline_code(prose: str) -> list[str]:
    return [re.sub(r"\s*\n\s*", " ", s) for s in re.findall(r"`([^`]+)`", prose)]


def snippets(text: str) -> list[str]:
    """The code a page writes: its code blocks' logical lines and its inline code spans."""
    prose, code = split(text)
    return [re.sub(r"\s+#\s.*$", "", line) for line in code] + inline_code(prose)


# --- links and anchors ---------------------------------------------------------------------

def heading_texts(text: str) -> list[str]:
    prose, _ = split(text)
    out = []
    for line in prose.splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))  # a link shows its text
            out.append(plain.replace("`", "").replace("*", ""))
    return out


def github_slugs(headings: list[str]) -> list[str]:
    seen, out = {}, []
    for h in headings:
        slug = re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.append(slug if n == 0 else f"{slug}-{n}")
    return out


def mkdocs_slugs(headings: list[str]) -> list[str]:
    """Python-Markdown's toc slugify, with its _1, _2 for repeated headings."""
    seen, out = set(), []
    for h in headings:
        v = unicodedata.normalize("NFKD", h).encode("ascii", "ignore").decode("ascii")
        slug = re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", v).strip().lower())
        base, n = slug, 0
        while slug in seen:
            n += 1
            slug = f"{base}_{n}"
        seen.add(slug)
        out.append(slug)
    return out


def links(text: str) -> list[str]:
    prose, _ = split(text)
    prose = re.sub(r"`[^`]*`", "", prose)
    return re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)


def link_errors(root: Path) -> list[str]:
    errors = []
    docs = (root / "docs").resolve()
    for page in pages(root):
        where = page.relative_to(root)
        for target in links(page.read_text()):
            if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page.resolve()
            if not dest.exists():
                errors.append(f"{where}: link {target!r}: {path} does not exist")
                continue
            if page.resolve().is_relative_to(docs) and not (dest.is_relative_to(docs) and dest.is_file()):
                errors.append(f"{where}: link {target!r} leaves docs/ or names a folder: the site (MkDocs) "
                              f"cannot build it; link a page under docs/ or write the path as code")
            if anchor:
                if dest.suffix != ".md":
                    errors.append(f"{where}: link {target!r}: an anchor into a file that is not a page")
                    continue
                heads = heading_texts(dest.read_text())
                both = set(github_slugs(heads)) & set(mkdocs_slugs(heads))
                if anchor not in both:
                    near = sorted(set(github_slugs(heads)) | set(mkdocs_slugs(heads)))
                    errors.append(f"{where}: link {target!r}: no heading of {path or where} has the anchor "
                                  f"#{anchor} on GitHub and in MkDocs alike; anchors there: {near}")
    return errors


# --- commands --------------------------------------------------------------------------------

def flags_of(source: str) -> set[str]:
    """The flags a program defines: absl's DEFINE_*("name") and argparse's add_argument("--name")."""
    names = set(re.findall(r"DEFINE_\w+\(\s*[\"'](\w+)[\"']", source))
    names |= set(re.findall(r"add_argument\(\s*[\"']--([\w-]+)[\"']", source))
    return names | {"help", "helpfull"}


def command_errors(root: Path) -> list[str]:
    errors = []
    for page in pages(root):
        where = page.relative_to(root)
        for snippet in snippets(page.read_text()):
            for spec in re.findall(r"--config=(configs/[\w/.-]+\.py)", snippet):
                if not (ROOT / spec).is_file():  # the code is the repository's, the pages may be a copy
                    errors.append(f"{where}: --config={spec}: no such config file")
            for spec in re.findall(r"--study=(studies/[\w/.-]+\.py)", snippet):
                if not (ROOT / spec).is_file():
                    errors.append(f"{where}: --study={spec}: no such study file")
            for m in re.finditer(r"python -m xlmeta_jax\.([\w.]*\w)", snippet):
                name = m.group(1)
                spec = importlib.util.find_spec(f"xlmeta_jax.{name}")
                if spec is None or not spec.origin or not spec.origin.endswith(".py"):
                    errors.append(f"{where}: `python -m xlmeta_jax.{name}`: no such module")
                    continue
                source = Path(spec.origin).read_text()
                if 'if __name__ == "__main__"' not in source:
                    errors.append(f"{where}: `python -m xlmeta_jax.{name}`: the module is not a program")
                    continue
                compile(source, spec.origin, "exec")  # a syntax error fails here
                rest = snippet[m.end():]
                rest = re.split(r"python -m |;|&&", rest)[0]
                known = flags_of(source)
                for flag in re.findall(r"(?<![\w-])--([\w-]+)(?![\w.-])", rest):
                    if flag not in known:
                        errors.append(f"{where}: `python -m xlmeta_jax.{name}` has no flag --{flag}; its flags: "
                                      f"{sorted(known)}")
    return errors


# --- config keys -----------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _config(spec: str):
    return config_lib.base_config() if spec == "base" else config_lib.load_config_file(str(ROOT / spec))


def config_key_errors(root: Path) -> list[str]:
    errors = []
    for page in pages(root):
        where = page.relative_to(root).as_posix()
        text = page.read_text()
        files = sorted(set(re.findall(r"--config=(configs/[\w/.-]+\.py(?::[\w,]+)?)", text)))
        candidates = ["base"] + [f for f in files if (ROOT / f.partition(":")[0]).is_file()]
        for snippet in snippets(text):
            for key in re.findall(r"--config\.([\w.\[\]]*[\w\]])", snippet):
                if (where, key) in KEYS_NOT_IN_ANY_CONFIG:
                    continue
                if all(config_lib.unknown_override(_config(c), [f"--config.{key}=0"]) for c in candidates):
                    why = config_lib.unknown_override(_config("base"), [f"--config.{key}=0"])
                    errors.append(f"{where}: --config.{key} is not a config key ({why})")
    return errors


# --- the checks on the repository ----------------------------------------------------------------

def test_links_and_anchors_resolve():
    assert link_errors(ROOT) == []


def test_documented_commands_exist():
    assert command_errors(ROOT) == []


def test_documented_config_keys_exist():
    assert config_key_errors(ROOT) == []


def test_config_reference_is_current():
    assert config_reference.problems() == []
    assert (ROOT / "docs" / "configs.md").read_text() == config_reference.reference(), (
        "docs/configs.md is stale: run `python -m xlmeta_jax.config_reference`")


def test_config_reference_has_every_key():
    text = (ROOT / "docs" / "configs.md").read_text()
    keys = config_lib.flatten(config_lib.to_plain(config_lib.base_config()))
    missing = [k for k in keys if "`" + re.sub(r"^phases\[\d+\]", "phases[i]", k) + "`" not in text]
    assert missing == []


def test_the_site_builds_in_strict_mode(tmp_path: Path):
    """MkDocs installs with the test extra in ~3 s, so the site build (strict: a warning, e.g. a
    link to a missing page, fails it) runs here rather than only in `make docs`."""
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir",
                        str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "configs" / "index.html").is_file()


def test_readme_is_a_front_door():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 160
    assert "make demo" in "\n".join(lines[:30]) and "make test" in "\n".join(lines[:30])
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    assert len(images) == 1 and images[0].startswith("docs/") and images[0].endswith(".png")
    assert (ROOT / images[0]).stat().st_size < 200_000
    for page in ("docs/studies/control.md", "docs/studies/meta.md", "docs/methods.md", "docs/configs.md"):
        assert f"]({page}" in text, page


# --- each check fails on a broken copy -------------------------------------------------------

@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """README.md, docs/ (without the studies' JSON) and benchmarks/README.md in a temporary folder."""
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "benchmarks").mkdir()
    shutil.copy(ROOT / "benchmarks" / "README.md", tmp_path / "benchmarks" / "README.md")
    shutil.copytree(ROOT / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("*.json"))
    assert link_errors(tmp_path) == []
    return tmp_path


def append(page: Path, text: str) -> None:
    page.write_text(page.read_text() + "\n" + text + "\n")


def test_a_broken_link_fails(copy: Path):
    append(copy / "README.md", "See [the missing page](docs/missing.md).")
    assert link_errors(copy) == ["README.md: link 'docs/missing.md': docs/missing.md does not exist"]


def test_a_missing_anchor_fails(copy: Path):
    append(copy / "docs" / "running.md", "See [readers](data.md#no-such-heading).")
    (error,) = link_errors(copy)
    assert error.startswith("docs/running.md: link 'data.md#no-such-heading': no heading of data.md has the anchor")


def test_an_anchor_that_github_and_mkdocs_spell_differently_fails(copy: Path):
    append(copy / "docs" / "running.md", "## Run `python -m` twice\n\n[here](#run-python--m-twice)")
    (error,) = link_errors(copy)
    assert "#run-python--m-twice on GitHub and in MkDocs alike" in error


def test_a_link_out_of_docs_fails(copy: Path):
    append(copy / "docs" / "performance.md", "[the scripts](../benchmarks/README.md)")
    (error,) = link_errors(copy)
    assert "leaves docs/" in error


def test_a_command_that_does_not_exist_fails(copy: Path):
    append(copy / "docs" / "running.md", "```bash\npython -m xlmeta_jax.trian --config=configs/demo.py\n```")
    assert command_errors(copy) == ["docs/running.md: `python -m xlmeta_jax.trian`: no such module"]


def test_a_module_that_is_not_a_program_fails(copy: Path):
    append(copy / "docs" / "running.md", "Run `python -m xlmeta_jax.config`.")
    assert command_errors(copy) == ["docs/running.md: `python -m xlmeta_jax.config`: the module is not a program"]


def test_a_flag_that_does_not_exist_fails(copy: Path):
    append(copy / "docs" / "evaluation.md", "```bash\npython -m xlmeta_jax.evaluate --workdir=RUN \\\n"
                                            "    --task=retrieval --tatoeba_dir=DIR   # the flag is --tatoeba\n```")
    (error,) = command_errors(copy)
    assert error.startswith("docs/evaluation.md: `python -m xlmeta_jax.evaluate` has no flag --tatoeba_dir")


def test_a_config_file_that_does_not_exist_fails(copy: Path):
    append(copy / "README.md", "`python -m xlmeta_jax.train --config=configs/no_such.py:demo --workdir=runs/x`")
    assert command_errors(copy) == ["README.md: --config=configs/no_such.py: no such config file"]


def test_a_config_key_that_does_not_exist_fails(copy: Path):
    append(copy / "docs" / "data.md", "Set `--config.data.corpus_folder=DIR`.")
    (error,) = config_key_errors(copy)
    assert error.startswith("docs/data.md: --config.data.corpus_folder is not a config key (config.data.corpus_folder")


def test_a_stale_config_reference_fails(tmp_path: Path, capsys):
    stale = tmp_path / "configs.md"
    stale.write_text(config_reference.reference().replace("| `model.hidden` | `256` |", "| `model.hidden` | `768` |"))
    assert config_reference.main(["--check", "--out", str(stale)]) == 1
    assert "is stale; run `python -m xlmeta_jax.config_reference`" in capsys.readouterr().err
    current = tmp_path / "current.md"
    current.write_text(config_reference.reference())
    assert config_reference.main(["--check", "--out", str(current)]) == 0


def test_a_key_without_a_meaning_fails(monkeypatch):
    meanings = dict(config_reference.MEANINGS)
    del meanings["model.hidden"]
    monkeypatch.setattr(config_reference, "MEANINGS", {**meanings, "model.hiden": "typo"})
    assert config_reference.problems() == [
        "config.model.hidden: no meaning; write a comment beside it in xlmeta_jax/config.py",
        "MEANINGS['model.hiden'] in xlmeta_jax/config_reference.py names no config key; delete it"]


FAKE_CONFIG = """
def base_config():
    c = config_dict.ConfigDict()
    c.seed = 0  # the seed
    # Where things go.
    c.data = dict(
        a=1,  # beside a
        # above b
        b=2,
        c=3, d=4,  # shared by c and d
        # e: only e's
        # f: only f's, on two
        # lines
        e=5, f=6,
        sub=dict(x=1, y=2),  # shared by x and y
    )
    # keep: k's meaning
    c.ckpt = dict(every=1, keep=2)
    c.rules = [
        ("batch", "data"),  # rows
        ("length", None),
    ]
    return c
"""


def test_comments_are_read_from_the_source():
    """Where config.py's comments go: beside a key, in the block above its line, `name: `
    lines for one key of several, shared by the keys of one line; a section's block."""
    found = config_reference.Comments()
    config_reference.read_base_config(FAKE_CONFIG, found)
    assert found.order == ["seed", "data", "ckpt", "rules"]
    assert found.sections == {"data": "Where things go."}
    assert found.own == {"seed": "the seed", "data.a": "beside a", "data.b": "above b", "data.e": "only e's",
                         "data.f": "only f's, on two lines", "ckpt.keep": "k's meaning"}
    assert found.shared == {"data.c": "shared by c and d", "data.d": "shared by c and d",
                            "data.sub.x": "shared by x and y", "data.sub.y": "shared by x and y"}
    assert found.entries == {"rules": ["rows", ""]}
    options = config_reference.Comments()
    config_reference.read_options('OBJECTIVE = Objective(\n    # t: the temperature\n'
                                  '    options=dict(layer=-1, t=0.1),\n)\n', "x", options)
    assert options.own == {"objectives.x.t": "the temperature"}
