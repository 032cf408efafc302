"""DVC plots as Vega-Lite charts in an offline page.

The chart specs are built from the top-level ``plots:`` definitions in
``dvc.yaml`` (the same definitions ``dvc plots show`` reads) and the plot CSVs,
with the data inlined. Vega, Vega-Lite and Vega-Embed come from the pinned
``vl-convert-python`` wheel (``vl_convert.javascript_bundle()``), and are
inlined into the page: nothing is loaded from the network.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"  # an identifier: vega-embed reads the version, never fetches it
LINE_TEMPLATES = {"linear", "simple", "smooth"}
POINT_TEMPLATES = {"scatter", "scatter_jitter"}
CONFUSION_TEMPLATES = {"confusion", "confusion_normalized"}
BAR_TEMPLATES = {"bar_horizontal", "bar_horizontal_sorted"}


@functools.cache
def bundle() -> str | None:
    """The minified Vega + Vega-Lite + Vega-Embed JavaScript (sets ``window.vegaEmbed``), or ``None``.

    Templates inline it with ``|raw_script`` (which keeps it from closing its ``<script>`` element early).

    Returns
    -------
    str or None
        The script, or ``None`` when ``vl-convert-python`` is not installed.
    """
    try:
        import vl_convert
    except ImportError:
        return None
    return vl_convert.javascript_bundle()


def versions() -> dict[str, str]:
    """Versions of the inlined libraries (empty when they are not available)."""
    try:
        import vl_convert
    except ImportError:
        return {}
    return {"vega": vl_convert.get_vega_version(), "vega-lite": vl_convert.get_vegalite_versions()[-1],
            "vega-embed": vl_convert.get_vega_embed_version(), "vl-convert-python": vl_convert.__version__}


def _records(path: Path, columns: list[str]) -> list[dict[str, Any]]:
    import pandas as pd

    from mir.io import read_table

    if path.suffix == ".json":  # a list of records, as DVC accepts
        df = pd.DataFrame(json.loads(path.read_text()))
    else:
        df = read_table(path) if path.suffix != ".tsv" else pd.read_csv(path, sep="\t")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r}")
    rows = df[columns].to_dict(orient="records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, float) and not math.isfinite(v):
                r[k] = None
            elif hasattr(v, "item"):  # numpy scalar → Python
                r[k] = v.item()
    return rows


def _as_files(y: Any, default_file: str | None) -> dict[str, list[str]]:
    """dvc.yaml's ``y`` (a column, a list, or ``{file: column(s)}``) as ``{file: [columns]}``."""
    if isinstance(y, dict):
        return {f: [c] if isinstance(c, str) else list(c) for f, c in y.items()}
    if default_file is None:
        raise ValueError("y names no file")
    return {default_file: [y] if isinstance(y, str) else list(y)}


def _x_column(x: Any, file: str) -> str | None:
    if isinstance(x, dict):
        return x.get(file) or next(iter(x.values()), None)
    return x


def spec_for(plot_id: str, props: dict[str, Any] | None, *, root: str | Path = ".") -> dict[str, Any]:
    """One ``dvc.yaml`` plot definition as a Vega-Lite spec with its data inlined.

    Parameters
    ----------
    plot_id : str
        The definition's id (a title, or the CSV's path when ``y`` names no file).
    props : dict or None
        Its properties: ``x``, ``y``, ``template``, ``title``, ``x_label``, ``y_label``.
    root : path
        The project root the CSV paths are relative to.

    Returns
    -------
    dict
        A Vega-Lite spec.

    Raises
    ------
    ValueError
        When the definition names no usable columns.
    OSError
        When a CSV is missing.
    """
    props = dict(props or {})
    template = props.get("template") or "linear"
    default_file = plot_id if Path(plot_id).suffix in {".csv", ".tsv", ".json"} else None
    files = _as_files(props.get("y"), default_file) if props.get("y") is not None else {}
    if not files:
        raise ValueError("no y column")
    title = props.get("title") or plot_id
    base: dict[str, Any] = {"$schema": SCHEMA, "title": title, "width": 420, "height": 240}
    if template in CONFUSION_TEMPLATES:
        return _confusion_spec(base, template, files, props, root=root)
    rows, x_name = _series_rows(files, props, root=root)
    if template in BAR_TEMPLATES:
        sort = "-x" if template.endswith("sorted") else None
        return {**base, "data": {"values": rows}, "mark": "bar",
                "encoding": {"y": {"field": "x", "type": "nominal", "title": props.get("x_label") or x_name,
                                   "sort": sort},
                             "x": {"field": "value", "type": "quantitative", "title": props.get("y_label") or "value"},
                             "color": {"field": "series", "type": "nominal", "title": None}}}
    mark: dict[str, Any] = ({"type": "point"} if template in POINT_TEMPLATES
                            else {"type": "line", "point": True, "tooltip": True})
    return {**base, "data": {"values": rows}, "mark": mark,
            "encoding": {"x": {"field": "x", "type": "quantitative", "title": props.get("x_label") or x_name},
                         "y": {"field": "value", "type": "quantitative", "scale": {"zero": False},
                               "title": props.get("y_label") or " / ".join(sorted({r["series"] for r in rows}))},
                         "color": {"field": "series", "type": "nominal", "title": None},
                         "tooltip": [{"field": "x", "title": x_name}, {"field": "series"},
                                     {"field": "value", "format": ".4f"}]}}


def _confusion_spec(base: dict[str, Any], template: str, files: dict[str, list[str]], props: dict[str, Any], *,
                    root: str | Path) -> dict[str, Any]:
    """A heat-map of the (x, y) pairs of the first file: counts, or shares of each row (``confusion_normalized``)."""
    (file, ys), = list(files.items())[:1]
    x, y = _x_column(props.get("x"), file), ys[0]
    rows = [{"x": r[x], "y": r[y]} for r in _records(Path(root) / file, [x, y])]
    transform: list[dict[str, Any]] = [{"aggregate": [{"op": "count", "as": "n"}], "groupby": ["x", "y"]}]
    value, fmt = "n", "d"
    if template == "confusion_normalized":
        transform += [{"joinaggregate": [{"op": "sum", "field": "n", "as": "row_total"}], "groupby": ["y"]},
                      {"calculate": "datum.n / datum.row_total", "as": "share"}]
        value, fmt = "share", ".2f"
    transform.append({"joinaggregate": [{"op": "max", "field": value, "as": "vmax"}]})
    enc = {"x": {"field": "x", "type": "nominal", "title": props.get("x_label") or x},
           "y": {"field": "y", "type": "nominal", "title": props.get("y_label") or y}}
    return {**base, "width": 300, "height": 300, "data": {"values": rows}, "transform": transform,
            "encoding": enc,
            "layer": [{"mark": "rect", "encoding": {"color": {"field": value, "type": "quantitative",
                                                              "scale": {"scheme": "blues"}}}},
                      {"mark": {"type": "text"}, "encoding": {
                          "text": {"field": value, "format": fmt},
                          "color": {"condition": {"test": f"datum.{value} > datum.vmax / 2", "value": "white"},
                                    "value": "black"}}}]}


def _series_rows(files: dict[str, list[str]], props: dict[str, Any], *,
                 root: str | Path) -> tuple[list[dict[str, Any]], str | None]:
    """Every (x, y column) value of every file as ``{"x", "series", "value"}`` rows, and the first x column's name."""
    rows: list[dict[str, Any]] = []
    x_name = None
    for file, ys in files.items():
        x = _x_column(props.get("x"), file)
        if x is None:
            raise ValueError("no x column")
        x_name = x_name or x
        for r in _records(Path(root) / file, [x, *ys]):
            for c in ys:
                series = c if len(files) == 1 else f"{file}::{c}"
                rows.append({"x": r[x], "series": series, "value": r[c]})
    return rows, x_name


def dvc_plot_specs(dvc_yaml: str | Path = "dvc.yaml") -> list[tuple[str, dict[str, Any] | None, str | None]]:
    """Every top-level ``plots:`` definition of ``dvc_yaml`` as ``(title, spec, problem)``.

    ``spec`` is ``None`` (and ``problem`` says why) for a definition whose data is
    missing or that this renderer does not understand; a missing ``dvc.yaml`` gives ``[]``.
    """
    import yaml

    path = Path(dvc_yaml)
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    out: list[tuple[str, dict[str, Any] | None, str | None]] = []
    for item in doc.get("plots") or []:
        plot_id, props = (item, None) if isinstance(item, str) else next(iter(item.items()))
        title = (props or {}).get("title") or plot_id
        try:
            out.append((title, spec_for(plot_id, props, root=path.parent), None))
        except (OSError, ValueError, KeyError, TypeError) as err:
            out.append((title, None, str(err) or type(err).__name__))
    return out


def charts_context(specs: list[tuple[str, dict[str, Any] | None, str | None]], *,
                   js: str | None = None) -> dict[str, Any]:
    """What ``charts.html`` draws: one item per plot (a chart or a note), the embeds and the library bundle.

    Parameters
    ----------
    specs : list
        ``(title, spec or None, problem or None)`` as :func:`dvc_plot_specs` returns.
    js : str, optional
        The library bundle (default :func:`bundle`); without it each plot is a note.

    Returns
    -------
    dict
        ``{"items": [{"title", "id"} or {"title", "problem"}], "embeds": [[selector, spec]], "js": str | None}``;
        ``items`` is empty when there are no plots.
    """
    js = (bundle() if js is None else js) if specs else None
    items, embeds = [], []
    for i, (title, spec, problem) in enumerate(specs):
        if spec is None:
            items.append({"title": title, "problem": problem})
        elif not js:
            items.append({"title": title, "problem": "install vl-convert-python for the inlined Vega libraries"})
        else:
            items.append({"title": title, "id": f"dvc-plot-{i}"})
            embeds.append([f"#dvc-plot-{i}", spec])
    return {"items": items, "embeds": embeds, "js": js}
