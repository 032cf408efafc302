"""Shared by the benchmarks: the shared-data location and a throw-away mir project on a genre folder."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from mir.env import quiet  # noqa: E402

quiet()  # the telemetry switches, before any tool is imported


def shared_data() -> Path:
    """``$MIR_SHARED_DATA``, else ``../shared/data`` beside the repository."""
    return Path(os.environ.get("MIR_SHARED_DATA", ROOT.parent / "shared" / "data"))


def folder_params(root: Path, **sections) -> dict:
    """The repository's params.yaml for a ``folder`` dataset at ``root`` (``<root>/{train,valid}/<genre>/``).

    Keyword arguments update whole sections (``train={"arch": "fma_cnn"}``).
    """
    import yaml

    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update({"dataset": "folder", "genres": None, "snapshot": False})
    params["folder"].update({"root": str(root), "split": "dirs", "group_by": None})
    for name, values in sections.items():
        params[name].update(values)
    return params


def run_stages(work: Path, params: dict, names: tuple[str, ...], *, keep_going: tuple[str, ...] = ()) -> dict:
    """Write ``params`` into the project ``work`` (as cwd) and run the stages; returns seconds per stage."""
    import yaml

    from mir import stages
    from mir.config import load_config

    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    os.chdir(work)
    cfg = load_config()
    seconds = {}
    for name in names:
        t = time.time()
        try:
            stages.run(name, cfg, progress=False)
        except Exception as err:
            if name not in keep_going:
                raise
            print(f"  {name} failed ({type(err).__name__}: {err}); going on without it", flush=True)
        seconds[name] = time.time() - t
        print(f"  {name}: {seconds[name]:.0f} s", flush=True)
    return seconds
