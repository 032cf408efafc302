"""The ``mir`` command line. Imports nothing heavy until a command runs.

Exit codes: 0 success; 1 the stage failed (bad data, failed validation, a song
that can't be predicted); 2 bad parameters or usage (a bad value, a path that
does not exist or is not a folder, an output folder mir did not create).
"""

from __future__ import annotations

import argparse
import os
import sys

from mir.env import quiet, quiet_env

_RAW = argparse.RawDescriptionHelpFormatter

_MONITOR_EPILOG = """\
Files that can't be analysed (corrupt, silent, longer than audio.max_duration_s, ...) are
skipped and listed with their reason; the reports use the rest.
exit codes: 0 reports written (drift or not, files skipped or not);
            1 nothing to analyse (missing/empty folder, no usable file, no model);
            2 bad parameters."""

_PREDICT_EPILOG = """\
A song ingest would reject (missing, empty, not audio, too short, sample rate or channels outside
audio:; longer than audio.max_duration_s is fine) or that is silent is skipped with the reason;
the others are written as <out>/<name>.* (<name>-<hash> when two songs share a name).
exit codes: 0 every song predicted; 1 a song was skipped (the rest written);
            2 bad parameters (--out holding files mir did not write)."""


def _parser() -> argparse.ArgumentParser:
    from mir import __version__

    p = argparse.ArgumentParser(
        prog="mir",
        description="Music-genre classification pipeline. Each stage is one command; "
        "`dvc repro` runs them all, `mir flow run` runs them as a Prefect flow.",
    )
    p.add_argument("--version", action="version", version=f"mir {__version__}")
    p.add_argument("-p", "--params", default=None, help="parameter file (default: $MIR_PARAMS or params.yaml)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in (_add_data, _add_stages, _add_predict, _add_run, _add_config, _add_flow, _add_cache, _add_registry,
                _add_summary):
        add(sub)
    return p


def _add_data(sub) -> None:
    from mir.stages import BY_NAME

    data = sub.add_parser("data", help="get audio: prepare the dataset, render new music")
    dsub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    dsub.add_parser("prepare", help=BY_NAME["data"].help)
    dsub.add_parser("new", help=BY_NAME["new_music"].help)
    dl = dsub.add_parser("download", help="download a dataset (the only commands that use the network)")
    dl.add_argument("dataset", choices=["fma"], help="fma: metadata + audio archives, SHA-1 checked, resumable")
    dl.add_argument("--subset", choices=["small", "medium", "large", "full"], default=None,
                    help="default: fma.subset from params")
    dl.add_argument("--root", default=None, help="destination folder (default: fma.root from params)")
    dl.add_argument("--base-url", default=None, help="default: fma.base_url from params")


def _add_stages(sub) -> None:
    """One command per stage after ``data`` (``mir data`` has the two data stages)."""
    from mir.stages import STAGES

    for s in STAGES:
        if s.name in ("data", "new_music"):
            continue
        sp = sub.add_parser(s.name.replace("_", "-"), help=s.help)
        if s.name == "monitor":
            _monitor_options(sp)


def _monitor_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("action", nargs="?", choices=["ui"], default=None,
                    help="ui: serve Evidently's UI for monitor.workspace on 127.0.0.1 (drift over time)")
    sp.add_argument("--port", type=int, default=8000, help="mir monitor ui: the port (default: %(default)s)")
    sp.add_argument("--new", metavar="DIR", default=None,
                    help="folder of new music: <DIR>/<genre>/*.mp3 (labelled) and/or <DIR>/*.mp3 "
                         "(unlabelled) (default: what the new_music stage prepared)")
    sp.formatter_class = _RAW
    sp.description = ("Evidently drift report (reports/drift.html), generalisation report with unknown-genre "
                      "songs (reports/generalization.html) and verdict (metrics/drift.json); each run is "
                      "also a snapshot in the Evidently workspace monitor.workspace (`mir monitor ui`).")
    sp.epilog = _MONITOR_EPILOG


def _add_predict(sub) -> None:
    pr = sub.add_parser("predict", help="per-second genre timeline of whole songs with the trained model")
    pr.add_argument("songs", nargs="+", metavar="SONG", help="audio files of any length (mp3, ogg, wav, flac, au)")
    pr.add_argument("--out", default="reports/predictions", help="output folder (default: %(default)s)")
    pr.add_argument("--html", action="store_true", help="also a self-contained HTML page per song")
    pr.add_argument("--hop", type=float, default=1.0, help="seconds between predictions (default: %(default)s)")
    pr.formatter_class = _RAW
    pr.epilog = _PREDICT_EPILOG


def _add_run(sub) -> None:
    from mir.stages import STAGES

    run = sub.add_parser("run", help="run stages in order in this process, without DVC (default: all)")
    run.add_argument("stages", nargs="*", metavar="STAGE", help=f"any of: {', '.join(s.name for s in STAGES)}")


def _add_config(sub) -> None:
    sub.add_parser("config", help="validate the parameter file and print it")


def _add_summary(sub) -> None:
    sub.add_parser("summary", help="the report's path, test accuracy vs the baseline, the drift verdict "
                   "(from metrics/*.json; `make demo` ends with it)")


def _add_flow(sub) -> None:
    flow = sub.add_parser("flow", help="Prefect orchestration")
    fsub = flow.add_subparsers(dest="flow_command", metavar="ACTION", required=True)
    fr = fsub.add_parser("run", help="run the pipeline as a Prefect flow (no server needed)")
    fr.add_argument("stages", nargs="*", metavar="STAGE", help="a subset of stages (default: all)")
    frt = fsub.add_parser("retrain", help="retrain through DVC if the source has new genres; promote only a "
                          "model not worse on the old genres (no server needed)")
    frt.add_argument("--force", action="store_true", help="retrain even without new genres")
    frt.add_argument("--target", action="append", default=None, metavar="STAGE",
                     help="dvc repro only up to this stage (repeatable; default: the whole pipeline)")
    fm = fsub.add_parser("monitor", help="monitor the new-music folder; publish the verdict as Prefect artifacts; "
                         "retrain on a newly labelled genre (no server needed)")
    fm.add_argument("--new", metavar="DIR", default=None, help="default: new_music.root")
    fm.add_argument("--no-retrain", action="store_true", help="only monitor and publish")
    fsub.add_parser("serve", help="serve the pipeline, monitor and retrain deployments on their cron schedules "
                    "(prefect.yaml; needs a Prefect server, see docs/tutorials/prefect.md)")


def _add_cache(sub) -> None:
    cache = sub.add_parser("cache", help="the inference cache (exported model bodies, each clip's body outputs)")
    csub = cache.add_subparsers(dest="cache_command", metavar="ACTION", required=True)
    csub.add_parser("info", help="where it is and how big")
    cc = csub.add_parser("clear", help="delete it (inference.cache_dir); the next run recomputes what it needs")
    cc.add_argument("--features", action="store_true", help="also delete the feature cache (features.cache_dir)")


def _add_registry(sub) -> None:
    reg = sub.add_parser("registry", help="the model registry: dvc.yaml artifact genre-classifier + GTO git tags")
    rsub = reg.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    rsub.add_parser("show", help="list the registered versions (GTO's tags + registry/genre-classifier/*.json)")
    rg = rsub.add_parser("get", help="fetch a version's model files (dvc artifacts get) into a folder")
    rg.add_argument("version", metavar="VERSION|champion", help="v3, v3.0.0 or champion")
    rg.add_argument("--out", required=True, metavar="DIR", help="a new, empty or mir-written folder")
    rp = rsub.add_parser("promote", help="make a version the champion (without VERSION: register models/ and "
                         "promote it; a commit + GTO tags)")
    rp.add_argument("version", nargs="?", default=None, metavar="VERSION")
    rp.add_argument("--reason", default=None, help="recorded in the tag message")
    rm = rsub.add_parser("migrate", help="convert an old registry/models.json into GTO tags (once)")
    rm.add_argument("--from", dest="source", default="registry/models.json", metavar="FILE")


def main(argv: list[str] | None = None) -> int:
    quiet()
    args = _parser().parse_args(argv)

    from mir.config import ConfigError, load_config

    try:
        cfg = load_config(args.params)
    except ConfigError as err:
        print(f"mir: {err}", file=sys.stderr)
        return 2
    progress = not args.quiet and sys.stderr.isatty()
    try:
        return _dispatch(args, cfg, progress=progress)
    except KeyboardInterrupt:
        print("mir: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # one clear line, not a traceback, for expected failures
        from mir.audio import AudioError
        from mir.io import OutputCollision
        from mir.validation.gate import DataValidationError

        if isinstance(err, (ConfigError, OutputCollision)):  # a parameter (a path, a genre) that can't be used
            print(f"mir {args.command}: {err}", file=sys.stderr)
            return 2
        if isinstance(err, (DataValidationError, AudioError, ValueError, FileNotFoundError)):
            print(f"mir {args.command}: {err}", file=sys.stderr)
            return 1
        raise


def _dispatch(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    """Run the command ``args`` names; every other command is a stage."""
    handler = _COMMANDS.get(args.command, _stage)
    return handler(args, cfg, progress=progress)


def _stage(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from mir import stages

    kwargs = {"new_dir": args.new} if args.command == "monitor" else {}
    stages.run(args.command.replace("-", "_"), cfg, progress=progress, **kwargs)
    return 0


def _config(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    import json

    print(json.dumps(cfg.model_dump(by_alias=True), indent=2))
    return 0


def _data(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from mir import stages

    if args.data_command != "download":
        stages.run("data" if args.data_command == "prepare" else "new_music", cfg, progress=progress)
        return 0
    from mir.datasets.download import DownloadError, download_fma

    try:
        summary = download_fma(args.root or cfg.fma.root, subset=args.subset or cfg.fma.subset,
                               base_url=args.base_url or cfg.fma.base_url, progress=progress)
    except DownloadError as err:
        print(f"mir data download: {err}", file=sys.stderr)
        return 1
    bad = summary["checksum_failures"]
    print(f"fma {summary['subset']}: {summary['n_audio']} audio files in {summary['audio_dir']}; "
          f"{len(bad)} failed their checksum (the pipeline rejects unusable clips with a reason)")
    return 0


def _run(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from mir import stages

    names = args.stages or [s.name for s in stages.STAGES]
    for n in names:
        if n not in stages.BY_NAME:
            raise ValueError(f"unknown stage {n!r}; stages: {', '.join(stages.BY_NAME)}")
    for n in names:
        stages.run(n, cfg, progress=progress)
    return 0


def _predict(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from mir.evaluation.predict import predict

    if args.hop <= 0:
        raise ValueError("--hop must be > 0 seconds")
    res = predict(cfg, songs=args.songs, out_dir=args.out, html=args.html, hop_s=args.hop, progress=progress)
    return 1 if any("error" in r for r in res) else 0


def _flow(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    if args.flow_command == "serve":
        from flows.deploy import serve

        serve()
        return 0
    if args.flow_command == "run":
        from flows.pipeline import pipeline

        pipeline(params=args.params, stages=args.stages or None)
        return 0
    from mir.repro import require_params_yaml

    require_params_yaml(args.params, who=f"mir flow {args.flow_command}")
    if args.flow_command == "retrain":
        from flows.retrain import retrain_on_new_genres

        retrain_on_new_genres(force=args.force, targets=args.target)  # a rejected challenger is no failure
        return 0
    from flows.monitor import monitor_new_music

    state = monitor_new_music(new_dir=args.new, retrain=not args.no_retrain, return_state=True)
    if state.is_failed():
        print(f"mir flow monitor: {state.message}", file=sys.stderr)
        return 1
    return 0


def _summary(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from mir.summary import summary_lines

    print("\n".join(summary_lines(metrics_dir=cfg.paths.metrics, reports_dir=cfg.paths.reports)))
    return 0


def _registry(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from mir import registry

    if args.registry_command == "get":
        entry = registry.get(cfg, args.version, args.out)
        print(f"{entry['artifact']}@{entry['version']} ({entry['status']}) -> {args.out} "
              f"(model.keras md5 {entry['model_md5']})")
        return 0
    if args.registry_command == "promote":
        entry = registry.promote(cfg, args.version, reason=args.reason)
        print(f"{entry['artifact']}@{entry['version']}: {entry['status']}")
        return 0
    if args.registry_command == "migrate":
        from mir.registry.migrate import migrate

        migrate(cfg, args.source)
        return 0
    for line in registry.show_lines(cfg):
        print(line)
    return 0


def _monitor(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    if args.action != "ui":
        return _stage(args, cfg, progress=progress)
    import shutil

    from mir.monitoring.history import ui_command

    cmd = ui_command(cfg, port=args.port)
    exe = cmd[0] if os.path.isabs(cmd[0]) else shutil.which(cmd[0])
    if not exe:
        raise FileNotFoundError("the `evidently` command is not installed (pip install evidently)")
    print(f"Evidently UI for {cfg.monitor.workspace} on http://127.0.0.1:{args.port} (Ctrl-C stops it)", flush=True)
    os.execve(exe, cmd, quiet_env())  # becomes `evidently ui`: signals reach it


#: What mir writes directly under each cache folder (``mir cache clear`` deletes only these).
INFERENCE_CACHE_LAYOUT = r"exports|body"
FEATURE_CACHE_LAYOUT = r"[0-9a-f]{16}|last_run\.json"


def _cache(args: argparse.Namespace, cfg, *, progress: bool) -> int:
    from pathlib import Path

    from mir.io import clear_owned

    roots = [(Path(cfg.inference.cache_dir), INFERENCE_CACHE_LAYOUT)]
    if getattr(args, "features", False):
        roots.append((Path(cfg.features.cache_dir), FEATURE_CACHE_LAYOUT))
    for root, layout in roots:
        files = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        size = sum(p.stat().st_size for p in files) / 2**20
        if args.cache_command == "info":
            print(f"{root}: {len(files)} files, {size:.1f} MB (bound: inference.cache_max_mb "
                  f"{cfg.inference.cache_max_mb:g})")
            continue
        removed, kept = clear_owned(root, layout=layout)
        left = [p for p in root.rglob("*") if p.is_file()] if root.is_dir() else []
        print(f"removed {len(removed)} cache entr{'y' if len(removed) == 1 else 'ies'} of {root} "
              f"({len(files) - len(left)} files, {size - sum(p.stat().st_size for p in left) / 2**20:.1f} MB)")
        if kept:
            print(f"kept {len(kept)} entr{'y' if len(kept) == 1 else 'ies'} of {root} that mir did not write: "
                  + ", ".join(p.name for p in kept[:5]) + (" …" if len(kept) > 5 else ""))
    return 0


_COMMANDS = {"config": _config, "data": _data, "run": _run, "predict": _predict, "flow": _flow,
             "registry": _registry, "monitor": _monitor, "cache": _cache, "summary": _summary}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
