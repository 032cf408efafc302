"""``mir summary``: the few numbers a run ends with, read from ``metrics/*.json``.

``make demo`` prints it after ``dvc repro``: where the report is, the test accuracy
against the baseline, and the drift verdict on the new music. A leaf: it reads the
records the stages wrote (:mod:`mir.records`) and imports nothing heavy.
"""

from __future__ import annotations

from pathlib import Path

from mir.io import read_json


def _eval_line(path: Path) -> str:
    from mir.records.evaluation import EvalRecord

    if not path.is_file():
        return f"Test accuracy: no {path} yet (run the evaluate stage)"
    rec = EvalRecord.model_validate(read_json(path))
    line = f"Test accuracy {rec.accuracy:.3f} ({rec.arch or 'model'}, {rec.track.n} clips, macro-F1 {rec.macro_f1:.3f})"
    b = rec.baseline
    if b is None:
        return line
    if b.accuracy is None:
        return f"{line}; baseline {b.kind} skipped: {b.skipped}"
    return f"{line} vs baseline {b.accuracy:.3f} ({b.kind}): {rec.accuracy - b.accuracy:+.3f}"


def _drift_line(path: Path) -> str:
    from mir.records.drift import NoNewMusic, parse_drift

    if not path.is_file():
        return f"New music: no {path} yet (run the monitor stage)"
    rec = parse_drift(read_json(path))
    if isinstance(rec, NoNewMusic):
        return f"New music: none analysed — {rec.message}"
    verdict = "DRIFT" if rec.drift else "no drift"
    why = [f"{rec.n_drifted}/{rec.n_columns} columns drifted" + (" (Evidently: drift)" if rec.dataset_drift else ""),
           f"{rec.n_new_source_flagged}/{rec.n_clips} songs flagged new source"
           + (f" (p = {rec.unknown_excess_p:.2g}: drift)" if rec.unknown_drift else "")]
    if rec.n_new_genre_flagged is not None:
        why.append(f"{rec.n_new_genre_flagged} flagged new genre"
                   + ("; retraining suggested" if rec.retrain_suggested else ""))
    if rec.new_music_accuracy is not None:
        why.append(f"accuracy on {rec.n_labelled_known} labelled songs {rec.new_music_accuracy:.3f}")
    return f"New music ({rec.new_music}): {verdict} — " + "; ".join(why)


def summary_lines(*, metrics_dir: str | Path = "metrics", reports_dir: str | Path = "reports") -> list[str]:
    """The report's path, the test accuracy vs the baseline and the drift verdict, one line each.

    Parameters
    ----------
    metrics_dir, reports_dir : str or Path
        ``paths.metrics`` and ``paths.reports`` (a missing record is a line saying which stage writes it).

    Returns
    -------
    list of str
        Three lines, for a terminal.
    """
    index = Path(reports_dir) / "index.html"
    report = f"Report: {index.resolve()}" if index.is_file() else f"Report: no {index} yet (run the report stage)"
    return [report, _eval_line(Path(metrics_dir) / "eval.json"), _drift_line(Path(metrics_dir) / "drift.json")]
