"""Process environment switches, in one place: offline and quiet by default.

A leaf module (standard library only), so the CLI, the flows and the glue
around each tool import it without importing each other.

TensorFlow is quiet in two steps. ``TF_CPP_MIN_LOG_LEVEL=3`` silences its C++ log once
absl logging is initialised; but some lines are written to file descriptor 2 by the
shared libraries' static initialisers *before* that (``WARNING: All log messages before
absl::InitializeLog() ...``, ``... port.cc:153] oneDNN custom operations are on ...``,
cuDNN/cuFFT "factory" lines on GPU builds), and no variable silences them short of
turning oneDNN off (4.5× slower inference here). So :func:`quiet` also installs an
import hook: the first ``import tensorflow`` runs with fd 2 captured, and everything
captured is written back except the lines in absl's log format (:func:`is_tf_noise`).
Anything else printed meanwhile (a Python warning, mir's own output) still appears.
After that import, a filter on the ``tensorflow`` logger drops its tf.function
*retracing* warnings (Keras retraces its predict step when the batch shape changes, as
it does between mir's calls; the warning is advice for hand-written ``tf.function``
code, not something a user of mir can act on). Nothing else of TensorFlow's Python
logging is touched. One Python warning is dropped too: Keras's ONNX exporter patches tf2onnx
with ``hasattr(np, "object")``, which makes NumPy 2 print a ``FutureWarning`` about
``np.object`` at every export (Keras's code, not the user's; filtered by module and message).
"""

from __future__ import annotations

import importlib.abc
import logging
import os
import re
import sys
import tempfile
import warnings

#: No telemetry from any of the tools mir drives, and quiet TensorFlow logs.
QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "False",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",  # 2 would still show the E-level cuDNN/cuFFT "factory" lines of GPU builds
}

#: A line of absl's (and glog's) C++ log format: ``I0000 00:00:1796196434.890899    7929 port.cc:153] ...``,
#: absl's pre-initialisation notice, and the continuation line of TensorFlow's CPU-feature notice.
_ABSL_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+(?:\.\d+)?\s+\d+ [\w./-]+:\d+\]"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags)"
)


def is_tf_noise(line: str) -> bool:
    """Whether ``line`` is a C++ log line of TensorFlow/absl (what :func:`quiet` drops at import)."""
    return bool(_ABSL_LINE.match(line))


class _RetracingFilter(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warnings, nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "tf.function retracing" not in record.getMessage()


class _QuietLoader(importlib.abc.Loader):
    """Runs the wrapped loader's ``exec_module`` with fd 2 captured and filtered."""

    def __init__(self, loader: importlib.abc.Loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        with _filtered_fd2():
            self._loader.exec_module(module)
        logging.getLogger("tensorflow").addFilter(_RetracingFilter())


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` through the other finders and wraps its loader in :class:`_QuietLoader`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # one import; also keeps the search below from finding us again
        from importlib.util import find_spec

        spec = find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _filtered_fd2:
    """Capture file descriptor 2 into a temporary file; write it back without :func:`is_tf_noise` lines."""

    def __enter__(self):
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        return self

    def __exit__(self, *exc) -> None:
        try:
            sys.stderr.flush()
        finally:
            os.dup2(self._saved, 2)
            os.close(self._saved)
        self._tmp.seek(0)
        text = self._tmp.read().decode("utf-8", errors="replace")
        self._tmp.close()
        kept = "".join(ln for ln in text.splitlines(keepends=True) if not is_tf_noise(ln))
        if kept:
            sys.stderr.write(kept)
            sys.stderr.flush()


def quiet() -> None:
    """Set every :data:`QUIET_ENV` switch the user has not set and quiet TensorFlow's import.

    Call it before importing the tools (every entry point does: the CLI, the flows, the tests).
    The import hook is installed once, and only while TensorFlow is not yet imported.
    """
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    warnings.filterwarnings("ignore", message=r".*`np\.object`", category=FutureWarning,
                            module=r"keras\.src\.export\.tf2onnx_lib")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())


def quiet_env() -> dict[str, str]:
    """``os.environ`` with the :data:`QUIET_ENV` defaults, for a child process."""
    return {**QUIET_ENV, **os.environ}
