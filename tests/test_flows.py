"""The flows' wiring: the nightly deployment runs ``dvc repro`` (so ``dvc.lock`` records it), one helper runs
DVC for every flow, and the flows never import the CLI.

The flow test runs the real ``mir-pipeline-nightly`` flow in Prefect's test harness on a tiny DVC project with
one stage (no model, no network).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, project_folders

DVC = str(Path(sys.executable).parent / "dvc")
WRITE_SEED = "import yaml; open('out.txt', 'w').write(str(yaml.safe_load(open('params.yaml'))['seed']))"


def _stage(code: str = WRITE_SEED) -> str:
    """dvc.yaml with one stage, ``hello``: ``python -c <code>``, depending on params.yaml's seed, writing out.txt."""
    return yaml.safe_dump({"stages": {"hello": {"cmd": f'python -c "{code}"', "params": ["seed"],
                                                "outs": ["out.txt"]}}})


@pytest.fixture
def tiny_dvc(tmp_path, monkeypatch):
    """A DVC project (no git) whose pipeline is one stage writing params.yaml's seed to out.txt."""
    project_folders(tmp_path)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(_stage())
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MIR_PARAMS", raising=False)
    return tmp_path


def _set_seed(root: Path, seed: int) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["seed"] = seed
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _locked_seed(root: Path) -> int:
    return yaml.safe_load((root / "dvc.lock").read_text())["stages"]["hello"]["params"]["params.yaml"]["seed"]


def test_the_nightly_deployment_is_the_dvc_flow():
    from flows.deploy import _flow, specs
    from flows.pipeline import nightly

    spec = next(s for s in specs() if s["name"] == "mir-pipeline-nightly")
    assert _flow(spec["entrypoint"]) is nightly
    assert spec["schedules"] and spec["schedules"][0]["cron"]


@pytest.mark.slow
def test_nightly_flow_runs_dvc_repro_and_dvc_lock_records_each_run(tiny_dvc, monkeypatch, harness):
    from flows.pipeline import nightly

    _set_seed(tiny_dvc, 11)
    nightly()
    assert (tiny_dvc / "out.txt").read_text() == "11" and _locked_seed(tiny_dvc) == 11
    lock = (tiny_dvc / "dvc.lock").read_text()
    nightly()  # nothing changed: nothing reruns, the lock stays
    assert (tiny_dvc / "dvc.lock").read_text() == lock

    _set_seed(tiny_dvc, 12)
    nightly()
    assert (tiny_dvc / "out.txt").read_text() == "12" and _locked_seed(tiny_dvc) == 12

    monkeypatch.setenv("MIR_PARAMS", "other.yaml")  # DVC reads params.yaml: the flow refuses another file
    state = nightly(return_state=True)
    assert state.is_failed() and "reads params.yaml" in state.message
    assert _locked_seed(tiny_dvc) == 12


def test_dvc_repro_failure_is_one_error_with_dvcs_output(tiny_dvc):
    from mir.repro import dvc_repro

    (tiny_dvc / "dvc.yaml").write_text(_stage("raise SystemExit(3)"))
    with pytest.raises(RuntimeError, match=r"dvc repro failed \(\d+\):\n(.|\n)*hello"):
        dvc_repro()
    assert not (tiny_dvc / "dvc.lock").exists()


def test_dvc_repro_passes_extra_env_to_the_stages(tiny_dvc):
    from mir.repro import dvc_repro

    (tiny_dvc / "dvc.yaml").write_text(_stage("import os; open('out.txt', 'w').write(os.environ['MIR_TEST_VAR'])"))
    dvc_repro(extra_env={"MIR_TEST_VAR": "from the flow"})
    assert (tiny_dvc / "out.txt").read_text() == "from the flow"


def test_require_params_yaml(monkeypatch):
    from mir.repro import require_params_yaml

    monkeypatch.delenv("MIR_PARAMS", raising=False)
    require_params_yaml(None, who="x")
    require_params_yaml("params.yaml", who="x")
    with pytest.raises(ValueError, match="^mir flow retrain runs `dvc repro`, which reads params.yaml"):
        require_params_yaml("other.yaml", who="mir flow retrain")
    monkeypatch.setenv("MIR_PARAMS", "other.yaml")
    with pytest.raises(ValueError, match="reads params.yaml"):
        require_params_yaml(None, who="x")


def test_flows_do_not_import_the_cli_and_switch_telemetry_off():
    code = ("import os, sys\n"
            "for k in ('DO_NOT_TRACK', 'PREFECT_SERVER_ANALYTICS_ENABLED'): os.environ.pop(k, None)\n"
            "import flows.deploy, flows.monitor, flows.pipeline, flows.retrain\n"
            "print('CLI', 'mir.cli' in sys.modules, os.environ.get('DO_NOT_TRACK'),"
            " os.environ.get('PREFECT_SERVER_ANALYTICS_ENABLED'))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "CLI False 1 false" in r.stdout
