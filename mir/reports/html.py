"""mir's HTML pages: one Jinja2 environment over ``mir/templates/``, autoescaped, plus figure helpers.

Every page is a template that extends ``base.html`` (inline CSS from ``style.css``); the Python side only
builds a context of plain values (strings, numbers, lists, dicts, PNG bytes) and calls :func:`render`. Every
value printed by a template is escaped (``finalize`` escapes with :func:`html.escape`, quotes included), so a
file name, tag or folder name can never become markup; only what a filter marks safe on purpose is not:
``|script_json`` (JSON that can't close a ``<script>``) and ``|png``/``|data_uri`` (base64). Images and audio
are inlined as data URIs; no page loads anything from the network.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
from collections.abc import Sequence
from typing import Any

#: The templates' package (``mir/templates/``, installed as package data).
TEMPLATES = "templates"


def _escape(value: Any) -> Any:
    """What a template prints: markup made on purpose as is, anything else escaped (``&quot;``, ``&#x27;``)."""
    from markupsafe import Markup

    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return value
    return Markup(html.escape(str(value), quote=True))


#: Characters with a meaning in (CommonMark / GitHub) markdown: each is backslash-escaped by :func:`md_esc`.
_MD_SPECIAL = set("\\`*_{}[]()<>#+-.!|~&\"'=:")


def md_esc(x: Any) -> str:
    """Markdown-escape any value's text, as the templates do for HTML: every markdown punctuation character
    backslash-escaped (no link, image, emphasis or raw HTML can come from data) and line breaks made spaces
    (no new block). Use it for every data-derived string in a markdown artifact."""
    text = " ".join(str(x).splitlines())
    return "".join(f"\\{c}" if c in _MD_SPECIAL else c for c in text)


def script_json(obj: Any):
    """JSON that is safe inside a ``<script>`` element (no ``<``, ``>`` or ``&`` left), as markup."""
    from markupsafe import Markup

    return Markup(json.dumps(obj, allow_nan=False).replace("<", "\\u003c").replace(">", "\\u003e")
                  .replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def data_uri(data: bytes, mime: str) -> str:
    """``data:<mime>;base64,…`` (base64 has no character that needs escaping)."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _raw_script(js: str):
    """A script (a library bundle) inlined as is; it must not close its ``<script>`` element early."""
    from markupsafe import Markup

    return Markup(js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT"))


@functools.cache
def environment():
    """The Jinja2 environment of every mir page (autoescape on; undefined names are errors)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("mir", TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, finalize=_escape, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(script_json=script_json, png=lambda b: data_uri(b, "image/png"), raw_script=_raw_script,
                       data_uri=data_uri, num=lambda v: f"{v:.3f}", pct=lambda v: f"{100 * float(v):.1f} %",
                       mmss=lambda t: f"{int(t) // 60}:{int(t) % 60:02d}")
    return env


def render(template: str, /, **context: Any) -> str:
    """Render ``mir/templates/<template>`` with ``context``; return the whole document."""
    return environment().get_template(template).render(**context)


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def audio_clip(path: str, *, seconds: float = 8.0, offset_s: float = 0.0, sr: int = 22050) -> dict[str, str]:
    """An excerpt of ``path`` for the ``audio`` macro: ``{"src": data URI}`` (Ogg/Vorbis) or ``{"error": why}``.

    Decoded and encoded block by block (:func:`mir.audio.ogg_vorbis_bytes`): memory is bounded
    and any length encodes (one ``soundfile.write`` of ≥ 2 097 152 samples crashes libvorbis).
    """
    from mir.audio import AudioError, iter_mono, ogg_vorbis_bytes

    try:
        data = ogg_vorbis_bytes(iter_mono(path, sr=sr, max_seconds=seconds, offset_s=offset_s), sr)
    except (AudioError, OSError, RuntimeError) as err:
        return {"error": str(err)}
    return {"src": data_uri(data, "audio/ogg")}


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
