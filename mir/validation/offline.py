"""Make Great Expectations Data Docs render without a network.

GE's Data Docs pages load Bootstrap, jQuery, bootstrap-table, a date picker,
Font Awesome, Vega and a logo from CDNs, and fill the index page's tables with
bootstrap-table in the browser. Opened offline they render unstyled, and the
index lists no validation run at all. :func:`make_offline` rewrites every page
under a Data Docs folder so that:

- no ``<script src>``, ``<link href>`` or any other ``src``/``href`` (nor a CSS
  ``url()``/``@import``) points to an ``http(s)://`` or ``//`` URL;
- Bootstrap 4, jQuery 3 and Font Awesome come from installed Python packages
  when they are there (``XStatic-Bootstrap`` 4.x, ``XStatic-jQuery`` 3.x,
  ``XStatic-Font-Awesome`` 5.x/6.x, copied once into ``static/vendor/`` of the
  site and linked relatively); whatever is missing is dropped, and a compact
  inline stylesheet keeps the pages legible (tables with borders, readable
  fonts, status colours and symbols, every tab and collapsed section shown);
- the index page's bootstrap-table tables become static HTML tables whose
  rows link to the validation and suite pages, so they work with or without
  JavaScript;
- relative links that GE gets wrong (the favicon of deeply nested validation
  pages) are pointed at the file that exists in the site.

Nothing is fetched, and no third-party file is kept in this repository.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["STYLE_ID", "VendorAsset", "find_external_references", "make_offline", "vendor_assets"]

#: ``id`` of the ``<style>`` element inserted into every page (its presence makes the rewrite idempotent).
STYLE_ID = "mir-offline-style"
_VENDOR_DIR = ("static", "vendor")

_ATTR = re.compile(r"""(?P<name>[^\s"'<>/=]+)(?:\s*=\s*(?P<value>"[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_TAG = re.compile(
    r"""<(?P<tag>[a-zA-Z][a-zA-Z0-9:-]*)(?P<attrs>(?:\s+[^\s"'<>/=]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)"""
    r"""\s*(?P<slash>/?)>"""
)
_SCRIPT = re.compile(r"<script\b(?P<attrs>(?:[^>\"']|\"[^\"]*\"|'[^']*')*)>(?P<body>.*?)</script\s*>", re.S | re.I)
_URL_ATTRS = ("src", "href", "srcset", "action", "poster", "data", "formaction", "background")
_EXTERNAL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//", re.S)
_CSS_URL = re.compile(r"""url\(\s*(["']?)\s*(?:https?:)?//[^)]*?\1\s*\)""", re.I)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?\s*(?:https?:)?//[^;]*;""", re.I)
#: Anything that still looks like an external URL in an attribute (also inside JS strings, ``\"``-quoted).
_LEFTOVER = re.compile(
    r"""(?P<pre>\b(?:%s)\s*=\s*\\?["']?)\s*(?:https?:)?//[^\s"'<>\\]*""" % "|".join(_URL_ATTRS), re.I
)
_BOOTSTRAP_TABLE = re.compile(
    r"""<table\b(?P<attrs>[^>]*?\bid=["'](?P<id>[^"']+)["'][^>]*?\bdata-toggle=["']table["'][^>]*)>\s*</table>""",
    re.S,
)
#: GE's script that fills a table: ``$('#id').bootstrapTable(Object.assign({columns, data, toolbar}, options));``
_TABLE_INIT = (
    r"""\$\(\s*['"]#{id}['"]\s*\)\.bootstrapTable\(\s*Object\.assign\(\s*"""
    r"""\{{\s*columns:\s*(?P<columns>\[.*?\])\s*,\s*data:\s*(?P<data>\[.*?\])\s*,\s*toolbar:[^}}]*\}}\s*,\s*"""
    r"""(?P<options>\{{.*?\}})\s*\)\s*\)\s*;"""
)
_CLEAR_FILTERS = re.compile(r"""<button\b[^>]*onclick=["']clearTableFilters\([^)]*\)["'][^>]*>.*?</button>""", re.S)


@dataclass
class VendorAsset:
    """A vendor file set from an installed package: files to copy and the file pages link to."""

    kind: str
    package: str
    version: str
    files: list[tuple[Path, tuple[str, ...]]] = field(default_factory=list)  # source, destination parts
    link: tuple[str, ...] = ()  # destination parts of the file pages reference


def vendor_assets() -> dict[str, VendorAsset]:
    """Find the Data Docs assets that installed Python packages provide.

    Returns
    -------
    dict
        Maps ``"bootstrap_css"``, ``"bootstrap_js"``, ``"jquery"`` and
        ``"fontawesome"`` to the files to copy, for each one found: Bootstrap
        4.x from ``XStatic-Bootstrap`` (``bootstrap.min.css`` and
        ``bootstrap.bundle.min.js``, which includes Popper), jQuery 3.x from
        ``XStatic-jQuery`` and Font Awesome 5.x/6.x (``all.min.css`` and its
        web fonts) from ``XStatic-Font-Awesome``. Bootstrap's JavaScript is
        only offered together with jQuery, which it needs. Other versions
        (Bootstrap 5 drops jQuery and renames the data attributes GE's pages
        use) are ignored.
    """
    found: dict[str, VendorAsset] = {}
    bs = _xstatic("bootstrap", major=(4,))
    if bs is not None:
        base, version = bs
        css, js = base / "css" / "bootstrap.min.css", base / "js" / "bootstrap.bundle.min.js"
        root = ("bootstrap-" + version,)
        if css.is_file():
            found["bootstrap_css"] = VendorAsset("bootstrap_css", "XStatic-Bootstrap", version,
                                            [(css, (*root, "css", css.name))], (*root, "css", css.name))
        if js.is_file():
            found["bootstrap_js"] = VendorAsset("bootstrap_js", "XStatic-Bootstrap", version,
                                           [(js, (*root, "js", js.name))], (*root, "js", js.name))
    jq = _xstatic("jquery", major=(3,))
    if jq is not None:
        base, version = jq
        js = base / "jquery.min.js"
        if js.is_file():
            dest = ("jquery-" + version, js.name)
            found["jquery"] = VendorAsset("jquery", "XStatic-jQuery", version, [(js, dest)], dest)
    fa = _xstatic("font_awesome", major=(5, 6))
    if fa is not None:
        base, version = fa
        css = base / "css" / "all.min.css"
        fonts = sorted((base / "webfonts").glob("*.woff2")) or sorted((base / "webfonts").glob("*.ttf"))
        if css.is_file() and fonts:
            root = ("font-awesome-" + version,)
            files = [(css, (*root, "css", css.name))] + [(f, (*root, "webfonts", f.name)) for f in fonts]
            found["fontawesome"] = VendorAsset("fontawesome", "XStatic-Font-Awesome", version, files,
                                          (*root, "css", css.name))
    if "jquery" not in found:
        found.pop("bootstrap_js", None)
    return found


def _xstatic(name: str, *, major: tuple[int, ...]) -> tuple[Path, str] | None:
    """``(data dir, version)`` of an installed ``xstatic.pkg.<name>`` of an accepted major version."""
    import importlib

    try:
        mod = importlib.import_module(f"xstatic.pkg.{name}")
    except ImportError:
        return None
    version = str(getattr(mod, "VERSION", ""))
    base = Path(getattr(mod, "BASE_DIR", "") or "")
    try:
        ok = int(version.split(".")[0]) in major
    except ValueError:
        ok = False
    return (base, version) if ok and base.is_dir() else None


def make_offline(docs_dir: str | os.PathLike[str], *, assets: dict | None = None) -> int:
    """Rewrite every HTML page of a Data Docs site so it renders offline.

    Parameters
    ----------
    docs_dir : path-like
        The Data Docs folder (with ``index.html``).
    assets : dict, optional
        What :func:`vendor_assets` returns (looked up when None); pass ``{}``
        to use the inline fallback stylesheet only.

    Returns
    -------
    int
        Number of external references removed or replaced (``<script src>``,
        ``<link href>``, other ``src``/``href`` attributes, CSS ``url()`` and
        ``@import``). 0 for a site that is already offline.

    Raises
    ------
    FileNotFoundError
        If ``docs_dir`` is not a directory.

    Notes
    -----
    Pages are rewritten atomically (:func:`mir.io.write_text`), and only when
    they change; vendor files are copied into ``static/vendor/`` only when
    missing. Running it twice changes nothing the second time.
    """
    root = Path(docs_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"Data Docs folder {root} does not exist")
    found = vendor_assets() if assets is None else dict(assets)
    total = 0
    pages = sorted(p for p in root.rglob("*.html") if p.is_file() and not _hidden(p, root))
    if pages and found:
        _copy_assets(root, found)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        new, n = _rewrite_page(text, page=page, root=root, assets=found)
        total += n
        if new != text:
            from mir.io import write_text

            write_text(page, new)
    return total


def find_external_references(text: str) -> list[str]:
    """External URLs a page would load or link to (what :func:`make_offline` removes).

    Parameters
    ----------
    text : str
        HTML source.

    Returns
    -------
    list of str
        Every ``src``/``href``-like attribute, CSS ``url()`` or ``@import`` that
        points to ``http(s)://`` or ``//``, as found in the text.
    """
    hits = [m.group(0) for m in _LEFTOVER.finditer(text)]
    hits += [m.group(0) for m in _CSS_URL.finditer(text)]
    hits += [m.group(0) for m in _CSS_IMPORT.finditer(text)]
    return hits


# --------------------------------------------------------------------------- rewriting


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _copy_assets(root: Path, assets: dict[str, VendorAsset]) -> None:
    from mir.io import atomic_path

    for asset in assets.values():
        for src, parts in asset.files:
            dest = root.joinpath(*_VENDOR_DIR, *parts)
            if dest.is_file() and dest.stat().st_size == src.stat().st_size:
                continue
            with atomic_path(dest) as tmp:
                shutil.copyfile(src, tmp)


def _rewrite_page(text: str, *, page: Path, root: Path, assets: dict[str, VendorAsset]) -> tuple[str, int]:
    count = 0
    has_js = "bootstrap_js" in assets and "jquery" in assets

    def link_to(kind: str) -> str | None:
        asset = assets.get(kind)
        if asset is None or (kind == "bootstrap_js" and not has_js):
            return None
        return _relative(root.joinpath(*_VENDOR_DIR, *asset.link), page)

    def script(m: re.Match) -> str:
        nonlocal count
        attrs = _parse_attrs(m.group("attrs"))
        src = _attr_value(attrs, "src")
        if src is None or not _is_external(src):
            return m.group(0)
        count += 1
        kind = _classify(src)
        if kind == "popper" and has_js:
            return ""  # bootstrap.bundle.min.js includes Popper
        target = link_to(kind) if kind else None
        if target is None:
            return ""
        kept = [(k, v) for k, v in attrs if k.lower() not in {"src", "integrity", "crossorigin"}]
        return f"<script src=\"{html.escape(target)}\"{_format_attrs(kept)}>{m.group('body')}</script>"

    text = _SCRIPT.sub(script, text)

    def tag(m: re.Match) -> str:
        nonlocal count
        name = m.group("tag").lower()
        attrs = _parse_attrs(m.group("attrs"))
        if not any(k.lower() in _URL_ATTRS and v is not None and _is_external(v) for k, v in attrs):
            return m.group(0)
        if name == "link":
            count += 1
            href = _attr_value(attrs, "href") or ""
            kind = _classify(href)
            target = link_to(kind) if kind in ("bootstrap_css", "fontawesome") else None
            if target is None:
                return ""
            kept = [(k, v) for k, v in attrs if k.lower() not in {"href", "integrity", "crossorigin"}]
            return f"<link href=\"{html.escape(target)}\"{_format_attrs(kept)}{' /' if m.group('slash') else ''}>"
        new_attrs = []
        for k, v in attrs:
            if k.lower() in _URL_ATTRS and v is not None and _is_external(v):
                count += 1
                local = _local_image(v, root) if name == "img" and k.lower() == "src" else None
                if local is not None:
                    new_attrs.append((k, _relative(local, page)))
                # else: drop the attribute (a link to a web page stays as its text)
                continue
            new_attrs.append((k, v))
        return f"<{m.group('tag')}{_format_attrs(new_attrs)}{' /' if m.group('slash') else ''}>"

    text = _TAG.sub(tag, text)

    def css(m: re.Match) -> str:
        nonlocal count
        count += 1
        return "none" if m.group(0).lower().startswith("url") else ""

    text = _CSS_IMPORT.sub(css, text)
    text = _CSS_URL.sub(css, text)

    def leftover(m: re.Match) -> str:  # e.g. inside JavaScript strings
        nonlocal count
        count += 1
        return m.group("pre") + "#"

    text = _LEFTOVER.sub(leftover, text)
    text = _static_tables(text)
    text = _repair_relative_links(text, page=page, root=root)
    if f'id="{STYLE_ID}"' not in text:
        style = f'<style id="{STYLE_ID}">\n{_stylesheet(assets, has_js=has_js)}</style>\n'
        head_end = re.search(r"</head\s*>", text, re.I)
        if head_end:
            text = text[: head_end.start()] + style + text[head_end.start() :]
        else:
            body = re.search(r"<body\b[^>]*>", text, re.I)
            at = body.end() if body else 0
            text = text[:at] + style + text[at:]
    return text, count


def _classify(url: str) -> str | None:
    """Which vendor asset a CDN URL stands for (None: nothing local replaces it)."""
    u = html.unescape(url).lower().split("?")[0]
    name = u.rsplit("/", 1)[-1]
    if any(s in u for s in ("bootstrap-table", "datepicker", "bootstrap-dark", "prefers-dark")):
        return None
    if "popper" in u:
        return "popper"
    if "font-awesome" in u or "fontawesome" in u:
        return "fontawesome" if name.endswith(".css") else None
    if "jquery" in name and name.endswith(".js") and not re.search(r"jquery[.-]?(ui|migrate)", name):
        return "jquery"
    if name in ("bootstrap.min.css", "bootstrap.css"):
        return "bootstrap_css"
    if name in ("bootstrap.min.js", "bootstrap.js", "bootstrap.bundle.min.js", "bootstrap.bundle.js"):
        return "bootstrap_js"
    return None


def _local_image(url: str, root: Path) -> Path | None:
    """GE's CDN logo has a copy in the site's ``static/images``; other images have none."""
    name = html.unescape(url).split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1]
    if not name:
        return None
    candidate = root / "static" / "images" / name
    return candidate if candidate.is_file() else None


def _parse_attrs(text: str | None) -> list[tuple[str, str | None]]:
    """Attributes in source order; values keep no quotes (None for a bare attribute)."""
    out: list[tuple[str, str | None]] = []
    for m in _ATTR.finditer(text or ""):
        value = m.group("value")
        if value is not None and value[:1] in "\"'":
            value = value[1:-1]
        out.append((m.group("name"), value))
    return out


def _format_attrs(attrs: list[tuple[str, str | None]]) -> str:
    parts = []
    for k, v in attrs:
        if v is None:
            parts.append(f" {k}")
        elif '"' in v:
            parts.append(f" {k}='{v}'")
        else:
            parts.append(f' {k}="{v}"')
    return "".join(parts)


def _attr_value(attrs: list[tuple[str, str | None]], name: str) -> str | None:
    for k, v in attrs:
        if k.lower() == name:
            return v
    return None


def _is_external(value: str) -> bool:
    return bool(_EXTERNAL.match(html.unescape(value)))


def _relative(target: Path, page: Path) -> str:
    return Path(os.path.relpath(target, page.parent)).as_posix()


def _repair_relative_links(text: str, *, page: Path, root: Path) -> str:
    """Point relative ``href``/``src`` values that miss their file at the file in the site.

    GE writes ``../../../static/...`` on pages four folders deep; the intended
    file is the one at the same path below the site root.
    """
    root_res = root.resolve()

    def fix(m: re.Match) -> str:
        attrs = _parse_attrs(m.group("attrs"))
        changed = False
        new_attrs = []
        for k, v in attrs:
            if k.lower() in ("href", "src") and v and _is_relative_file(v):
                path, sep, rest = _split_suffix(v)
                if not (page.parent / html.unescape(path)).exists():
                    stripped = re.sub(r"^(?:\./|\.\./)+", "", html.unescape(path))
                    candidate = root / stripped
                    if stripped and candidate.exists() and candidate.resolve().is_relative_to(root_res):
                        v = _relative(candidate, page) + sep + rest
                        changed = True
            new_attrs.append((k, v))
        if not changed:
            return m.group(0)
        return f"<{m.group('tag')}{_format_attrs(new_attrs)}{' /' if m.group('slash') else ''}>"

    return _TAG.sub(fix, text)


def _is_relative_file(value: str) -> bool:
    v = value.strip()
    return bool(v) and not v.startswith(("#", "/", "?")) and not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", v)


def _split_suffix(value: str) -> tuple[str, str, str]:
    m = re.search(r"[?#]", value)
    if not m:
        return value, "", ""
    return value[: m.start()], value[m.start()], value[m.start() + 1 :]


# --------------------------------------------------------------------------- static tables


def _static_tables(text: str) -> str:
    """Replace each bootstrap-table (filled by JavaScript) with the same table in plain HTML."""
    for m in list(_BOOTSTRAP_TABLE.finditer(text)):
        table_id = m.group("id")
        init = re.compile(_TABLE_INIT.format(id=re.escape(table_id)), re.S)
        found = init.search(text)
        if found is None:
            continue
        try:
            columns = _literal(found.group("columns"))
            rows = _literal(found.group("data"))
            options = _literal(found.group("options"))
        except (ValueError, SyntaxError):
            continue
        if not isinstance(columns, list) or not isinstance(rows, list):
            continue
        static = _render_table(table_id, columns, rows, options if isinstance(options, dict) else {})
        # drop the <script> that would initialise it, then swap the empty table for the static one
        text = _SCRIPT.sub(lambda s: "" if init.search(s.group("body")) else s.group(0), text)
        text = _BOOTSTRAP_TABLE.sub(lambda t: static if t.group("id") == table_id else t.group(0), text, count=1)
    return _CLEAR_FILTERS.sub("", text)


def _literal(source: str):
    """Parse a Python-repr (what GE's templates print) or JSON literal."""
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return json.loads(source)


def _render_table(table_id: str, columns: list, rows: list, options: dict) -> str:
    cols = [c for c in columns if isinstance(c, dict) and c.get("field") and not str(c["field"]).startswith("_")]
    rows = [r for r in rows if isinstance(r, dict)]
    sort_name = options.get("sortName")
    if sort_name:
        col = next((c for c in cols if c.get("field") == sort_name), {})
        key_field = col.get("sortName", sort_name)
        desc = str(options.get("sortOrder", "asc")).lower() == "desc"
        rows = sorted(rows, key=lambda r: _sort_key(r.get(key_field, r.get(sort_name))), reverse=desc)
    head = "".join(f"<th>{html.escape(str(c.get('title', c['field'])))}</th>" for c in cols)
    body = []
    for r in rows:
        cells = [_cell_html(r.get(c["field"], "")) for c in cols]
        link = r.get("_table_row_link_path")
        if link and cells:
            plain = [i for i, c in enumerate(cols) if "<" not in str(r.get(c["field"], ""))]
            no_anchor = [i for i, cell in enumerate(cells) if "<a " not in cell]
            target = (plain or no_anchor or [None])[0]
            if target is not None:
                cells[target] = f'<a href="{html.escape(str(link))}">{cells[target]}</a>'
        status = r.get("_validation_success_text")
        if status is not None and cols and cols[0].get("field") == "validation_success":
            css = "text-success" if str(status).lower().startswith("succ") else "text-danger"
            cells[0] += f' <span class="mir-status {css}">{html.escape(str(status))}</span>'
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        f'<table id="{html.escape(table_id)}" class="table table-sm table-bordered table-hover mir-static-table">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def _cell_html(value) -> str:
    """GE's cells are HTML fragments (bootstrap-table shows them unescaped); plain values are escaped."""
    text = "" if value is None else str(value)
    return text.strip() if text.lstrip().startswith("<") else html.escape(text)


def _sort_key(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value), "")
    return (1, 0.0, re.sub(r"<[^>]*>", "", str(value)).strip().lower())


# --------------------------------------------------------------------------- styles


_BASE_CSS = """\
.mir-static-table { border-collapse: collapse; margin: .5rem 0; }
.mir-static-table th, .mir-static-table td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; }
.mir-static-table th { background: #f1f3f5; text-align: left; }
.mir-status { font-weight: 600; }
"""

#: Without Bootstrap's stylesheet: a compact, legible page.
_FALLBACK_CSS = """\
html { font-size: 15px; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       line-height: 1.45; color: #212529; background: #fff; margin: 0; padding: 0 1rem 2rem; }
h1, h2, h3, h4, h5, h6 { line-height: 1.2; margin: 1rem 0 .5rem; }
a { color: #0b5cad; }
table { border-collapse: collapse; margin: .5rem 0; max-width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; text-align: left; }
th { background: #f1f3f5; }
tbody tr:nth-child(even) td { background: #fafbfc; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .9em; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: .5rem; }
.card { border: 1px solid #d0d7de; border-radius: 4px; padding: .5rem .75rem; margin: .5rem 0; }
.card-header { font-weight: 600; margin-bottom: .25rem; }
.badge { display: inline-block; padding: .1em .45em; border-radius: 3px; background: #e9ecef; font-size: .85em; }
.btn { display: inline-block; padding: .2rem .6rem; border: 1px solid #adb5bd; border-radius: 4px;
       background: #f8f9fa; color: #212529; text-decoration: none; cursor: pointer; }
.nav, .list-group { list-style: none; padding-left: 0; }
.nav-tabs .nav-link, .list-group-item { display: inline-block; margin-right: .75rem; }
.navbar { border-bottom: 1px solid #d0d7de; padding: .5rem 0; margin-bottom: .5rem; height: auto !important;
          display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.breadcrumb { display: flex; flex-wrap: wrap; list-style: none; margin: 0; padding: 0 .5rem; }
.breadcrumb-item + .breadcrumb-item::before { content: "/"; padding: 0 .35rem; color: #6c757d; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0, 0, 0, 0); }
.text-success, .ge-success-icon { color: #1a7f37 !important; }
.text-danger, .ge-failed-icon { color: #cf222e !important; }
.text-warning { color: #9a6700 !important; }
.text-muted { color: #6c757d !important; }
.table-success, .table-success td { background: #dafbe1 !important; }
.table-danger, .table-danger td { background: #ffebe9 !important; }
.font-weight-bold { font-weight: 700; }
.float-right { float: right; }
img { max-width: 100%; }
"""

#: Without Font Awesome: a character for the icons GE's pages use.
_ICON_CSS = """\
.fas, .far, .fa { font-style: normal; }
.fa-check-circle::before, .fa-check::before, .fa-circle-check::before { content: "\\2714"; }
.fa-times-circle::before, .fa-times::before, .fa-circle-xmark::before, .fa-xmark::before { content: "\\2716"; }
.fa-exclamation-triangle::before, .fa-triangle-exclamation::before { content: "\\26A0"; }
.fa-question-circle::before, .fa-circle-question::before { content: "?"; }
.fa-info-circle::before, .fa-circle-info::before, .fa-comment::before { content: "\\2139"; }
.fa-external-link-alt::before { content: "\\2197"; }
"""

#: Without Bootstrap's JavaScript nothing can open a tab or a collapsed section: show them all.
_NO_JS_CSS = """\
.tab-content > .tab-pane, .tab-content > .tab-pane.fade { display: block !important; opacity: 1 !important; }
.collapse, .collapse:not(.show) { display: block !important; }
.fade:not(.show) { opacity: 1 !important; }
"""


def _stylesheet(assets: dict, *, has_js: bool) -> str:
    css = _BASE_CSS
    if "bootstrap_css" not in assets:
        css += _FALLBACK_CSS
    if "fontawesome" not in assets:
        css += _ICON_CSS
    if not has_js:
        css += _NO_JS_CSS
    return css
