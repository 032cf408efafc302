import subprocess
import sys

from conftest import ROOT


def test_help_lists_every_stage_and_imports_nothing_heavy():
    code = (
        "import sys, contextlib, io\n"
        "from mir import cli\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        "    try: cli.main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'prefect', 'great_expectations', 'evidently', 'librosa',"
        " 'pandas', 'dvc', 'numpy') if m in sys.modules]\n"
        "print(buf.getvalue()); print('HEAVY', heavy)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    for stage in ("ingest", "validate", "featurize", "train", "evaluate", "monitor", "report", "flow"):
        assert stage in r.stdout
    assert "HEAVY []" in r.stdout


def test_stage_registry_matches_dvc_yaml():
    import yaml

    from mir.stages import STAGES

    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(dvc) == [s.name for s in STAGES]
    for s in STAGES:
        assert dvc[s.name]["cmd"].startswith("mir ")
        assert callable(s.load())


def test_dvc_yaml_paths_match_config():
    import yaml

    from mir.config import Paths

    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    p = Paths()
    outs = {k: [o if isinstance(o, str) else next(iter(o)) for o in v.get("outs", []) + v.get("metrics", [])
                + v.get("plots", [])] for k, v in dvc.items()}
    assert p.raw in outs["data"] and p.new_music in outs["new_music"]
    assert p.manifest in outs["ingest"] and p.rejected in outs["ingest"]
    assert p.features in outs["featurize"] and p.models in outs["train"]
    assert f"{p.metrics}/eval.json" in outs["evaluate"] and f"{p.plots}/confusion.csv" in outs["evaluate"]
    assert f"{p.reports}/index.html" in outs["report"]


def test_flow_module_is_installed_with_the_package(tmp_path):
    # `mir flow run` must work from any project folder, not only from the repository root
    r = subprocess.run([sys.executable, "-c", "import flows.pipeline as p; print(p.pipeline.name)"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "mir-pipeline" in r.stdout
