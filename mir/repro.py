"""Running the pipeline through DVC: one helper for every flow that calls ``dvc repro``.

A leaf module (standard library and :mod:`mir.env` only). The nightly pipeline,
retraining and monitoring all run ``dvc repro`` through :func:`dvc_repro`, so
``dvc.lock`` records every scheduled run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mir.env import quiet_env


def dvc_repro(*, targets: list[str] | None = None, cwd: str | os.PathLike[str] = ".", force: bool = False,
              single_item: bool = False, timeout: float | None = None,
              extra_env: dict[str, str] | None = None) -> str:
    """Run ``dvc repro [targets]`` (default: the whole pipeline, only what changed) and return its output.

    ``force`` reruns the targets even if unchanged; ``single_item`` only the targets, not their upstream stages;
    ``extra_env`` adds variables to the child's environment (telemetry is off there, :func:`mir.env.quiet_env`).

    The interpreter's ``bin`` folder goes first on ``PATH`` so the stages' ``mir``
    commands are this installation's.

    Raises
    ------
    RuntimeError
        ``dvc repro`` failed; the message ends with the last lines of its output.
    """
    bin_dir = str(Path(sys.executable).parent)
    env = {**quiet_env(), **(extra_env or {}), "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    dvc = str(Path(bin_dir) / "dvc") if (Path(bin_dir) / "dvc").exists() else "dvc"
    cmd = [dvc, "repro", *(targets or [])] + (["--force"] if force else []) + (["--single-item"] if single_item else [])
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = (r.stdout or "") + (r.stderr or "")
    if r.returncode != 0:
        raise RuntimeError(f"dvc repro failed ({r.returncode}):\n{out[-4000:]}")
    return out


def require_params_yaml(params: str | None, *, who: str) -> None:
    """Refuse a parameter file other than ``params.yaml`` (``--params`` or ``$MIR_PARAMS``).

    ``dvc repro`` reads, and records in ``dvc.lock``, ``params.yaml``; ``who`` names the caller in the message.

    Raises
    ------
    ValueError
        Another parameter file was asked for.
    """
    if params not in (None, "params.yaml") or os.environ.get("MIR_PARAMS", "params.yaml") != "params.yaml":
        raise ValueError(f"{who} runs `dvc repro`, which reads params.yaml: edit that file")
