"""Tiny helpers for self-contained, offline HTML pages.

Every piece of text that comes from data (file names, metadata, labels) goes
through :func:`esc`; images and audio are inlined as data URIs; styles are
inline. No page loads anything from the network.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable, Sequence
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
     padding:0 1rem;color:#1d2330;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #dde}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #dde;padding:.25rem .6rem;text-align:left}
th{background:#f3f5fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#667}.ok{color:#17803d;font-weight:600}.bad{color:#b42318;font-weight:600}
.card{display:inline-block;border:1px solid #dde;border-radius:8px;padding:.6rem 1rem;margin:.3rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}img{max-width:100%}code{background:#f3f5fa;padding:0 .25rem}
audio{height:2rem;vertical-align:middle}
"""


def esc(x: Any) -> str:
    """HTML-escape any value's text (quotes included)."""
    return html.escape(str(x), quote=True)


#: Characters with a meaning in (CommonMark / GitHub) markdown: each is backslash-escaped by :func:`md_esc`.
_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~&\"'=:")


def md_esc(x: Any) -> str:
    """Markdown-escape any value's text, as :func:`esc` does for HTML: every markdown punctuation character
    backslash-escaped (no link, image, emphasis or raw HTML can come from data) and line breaks made spaces
    (no new block). Use it for every data-derived string in a markdown artifact."""
    text = " ".join(str(x).splitlines())
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in text)


def page(title: str, body: str, *, subtitle: str = "") -> str:
    """A whole HTML document with inline styles."""
    sub = f'<p class="muted">{esc(subtitle)}</p>' if subtitle else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>{sub}\n{body}\n</body></html>\n"
    )


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, raw_cols: Sequence[int] = ()) -> str:
    """An HTML table; cells are escaped except the columns in ``raw_cols`` (already-built HTML)."""
    th = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            if i in raw_cols:
                cells.append(f"<td>{v}</td>")
            elif isinstance(v, float):
                cells.append(f'<td class="num">{v:.3f}</td>')
            else:
                cells.append(f"<td>{esc(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def img(png: bytes, alt: str) -> str:
    return f'<img alt="{esc(alt)}" src="{data_uri(png, "image/png")}">'


def audio_excerpt(path: str, *, seconds: float = 8.0, offset_s: float = 0.0, sr: int = 22050) -> str:
    """An inline ``<audio>`` player for an excerpt of ``path`` (OGG/Vorbis data URI), or a note if unreadable.

    Decoded and encoded block by block (:func:`mir.audio.ogg_vorbis_bytes`): memory is bounded
    and any length encodes (one ``soundfile.write`` of ≥ 2 097 152 samples crashes libvorbis).
    """
    from mir.audio import AudioError, iter_mono, ogg_vorbis_bytes

    try:
        data = ogg_vorbis_bytes(iter_mono(path, sr=sr, max_seconds=seconds, offset_s=offset_s), sr)
    except (AudioError, OSError, RuntimeError) as err:
        return f'<span class="muted">audio unavailable: {esc(err)}</span>'
    return f'<audio controls preload="none" src="{data_uri(data, "audio/ogg")}"></audio>'


def mpl():
    """matplotlib.pyplot with the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_figure(cm, labels: Sequence[str], *, title: str = "Confusion matrix (test clips)"):
    """A matplotlib heat-map of a confusion matrix with counts in the cells."""
    plt = mpl()
    k = len(labels)
    fig, ax = plt.subplots(figsize=(1.1 * k + 2.5, 1.0 * k + 2))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(k), labels, rotation=45, ha="right")
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    vmax = cm.max() if cm.size else 1
    for i in range(k):
        for j in range(k):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", color="white" if cm[i, j] > vmax / 2 else "black")
    return fig
