"""reports/index.html: links, run metadata, params diff against the champion, DVC plots with Vega inlined."""

from __future__ import annotations

import json
import re
import shutil
import sys
import types

import pytest
import yaml

from conftest import ROOT

EVIL = '<img src=x onerror=alert(1)></script><script>alert("x")</script>'


@pytest.fixture
def run_outputs(project):
    """The committed outputs of a real demo run (metrics/, plots/) plus stand-ins for the linked pages."""
    shutil.copytree(ROOT / "metrics", project / "metrics")
    shutil.copytree(ROOT / "plots", project / "plots")
    for rel in ("eval/index.html", "drift.html", "validation/manifest/index.html", "runs/20250101-v1.html",
                "runs/20250102-v2.html", "songs/my song <1>.html"):
        p = project / "reports" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("<html></html>")
    return project


def _build(monkeypatch, champion=None, raise_=None):
    from mir.config import load_config
    from mir.reports.site import build_report

    fake = types.ModuleType("mir.registry")

    def champ(cfg):
        if raise_:
            raise raise_
        return champion

    fake.champion = champ
    fake.NotARepo = type("NotARepo", (ValueError,), {})
    monkeypatch.setitem(sys.modules, "mir.registry", fake)
    cfg = load_config("params.yaml")
    return cfg, build_report(cfg, progress=False).read_text()


def test_index_links_every_report_that_exists(run_outputs, monkeypatch):
    monkeypatch.setenv("MIR_RUN_ID", "run-42")
    _, html = _build(monkeypatch)
    for href in ("eval/index.html", "drift.html", "validation/manifest/index.html", "runs/20250102-v2.html",
                 "runs/20250101-v1.html", "songs/my%20song%20%3C1%3E.html"):
        assert f'href="{href}"' in html, href
    assert html.index("20250102-v2") < html.index("20250101-v1")  # newest run summary first
    assert 'href="generalization.html"' not in html and "Generalisation" in html  # named, not linked
    assert 'href="validation/features/index.html"' not in html
    assert "run-42" in html and "git commit" in html
    assert "no champion yet" in html
    assert "my song &lt;1&gt;" in html


def test_dvc_plots_are_inlined_vega_specs_from_dvc_yaml(run_outputs, monkeypatch):
    from mir.reports.vega import dvc_plot_specs

    specs = dvc_plot_specs(run_outputs / "dvc.yaml")
    titles = [t for t, _, _ in specs]
    assert titles == ["Training curves (loss)", "Training curves (accuracy)", "Confusion matrix (test clips)"]
    assert all(s is not None for _, s, _ in specs), specs
    loss = specs[0][1]
    series = {r["series"] for r in loss["data"]["values"]}
    assert series == {"loss", "val_loss"}
    conf = specs[2][1]
    assert {"x", "y"} == set(conf["data"]["values"][0]) and conf["layer"][0]["mark"] == "rect"

    _, html = _build(monkeypatch)
    assert html.count('class="dvc-plot"') == 3
    assert "window.vegaEmbed=" in html  # the libraries are in the page
    # nothing from the network: no external script/stylesheet/image, no CDN
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', html)
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html


def test_params_diff_against_the_champion(run_outputs, monkeypatch):
    from mir.config import load_config

    params = load_config("params.yaml").model_dump(by_alias=True)
    params["train"] = {**params["train"], "epochs": 999, "learning_rate": 0.5}
    params["synth"] = {**params["synth"], "genres": ["classical", EVIL]}
    entry = {"version": "v3", "created": "2025-01-01T00:00:00Z", "genres": ["classical", EVIL],
             "metrics": {"accuracy": 0.5, "macro_f1": 0.4}, "params": params, "commit": EVIL, "artifact": EVIL}
    _, html = _build(monkeypatch, champion=entry)
    assert "v3" in html and "no champion yet" not in html
    rows = re.findall(r"<tr><td>([a-z_.]+)</td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", html)
    diff = {k: (a, b) for k, a, b in rows}
    assert diff["train.epochs"][0] == "999" and diff["train.learning_rate"][0] == "0.5"
    assert "synth.genres" in diff and "train.batch_size" not in diff
    assert "<script>alert" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_unreadable_registry_does_not_stop_the_report(run_outputs, monkeypatch):
    _, html = _build(monkeypatch, raise_=ValueError("damaged registry: registry/genre-classifier/v1.0.0.json: …"))
    assert "the registry can&#x27;t be read" in html


def test_metadata_inside_the_plot_script_cannot_close_it(project, monkeypatch):
    """A genre named like markup ends up in the inlined chart data as JSON, never as markup."""
    (project / "plots").mkdir()
    (project / "plots/confusion.csv").write_text(f"clip_id,actual,predicted\na,{EVIL.replace(',', ' ')},rock\n")
    (project / "plots/train_history.csv").write_text("epoch,accuracy,loss,val_accuracy,val_loss\n1,0.5,1,0.4,1.2\n")
    _, html = _build(monkeypatch)
    script = html[html.index("const plots="):]
    script = script[: script.index("</script>")]
    assert "<" not in script and "\\u003cscript\\u003e" in script
    assert json.loads(script[len("const plots="): script.index(";for(")].replace("\\u003c", "<")
                      .replace("\\u003e", ">").replace("\\u0026", "&"))[2][1]["data"]["values"][0]["y"].startswith(
        "<img")


def test_a_plot_with_missing_data_is_a_note(project, monkeypatch):
    doc = yaml.safe_load((project / "dvc.yaml").read_text())
    assert doc["plots"]
    _, html = _build(monkeypatch)  # no plots/*.csv at all
    assert html.count("not rendered") == 3 and 'class="dvc-plot"' not in html


def test_plot_data_from_tsv_and_json_and_escaped_field_names(tmp_path):
    from mir.reports.vega import spec_for

    (tmp_path / "a.tsv").write_text("step\tval.loss\n0\t1.0\n1\tnan\n")
    (tmp_path / "b.json").write_text(json.dumps([{"step": 0, "acc": 0.1}, {"step": 1, "acc": 0.2}]))
    spec = spec_for("curves", {"x": "step", "y": {"a.tsv": "val.loss", "b.json": "acc"}}, root=tmp_path)
    rows = spec["data"]["values"]
    assert {r["series"] for r in rows} == {"a.tsv::val.loss", "b.json::acc"}
    assert [r["value"] for r in rows if r["series"] == "a.tsv::val.loss"] == [1.0, None]  # NaN → null
    json.dumps(spec, allow_nan=False)
