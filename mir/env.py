"""Process environment switches, in one place: offline and quiet by default.

A leaf module (standard library only), so the CLI, the flows and the glue
around each tool import it without importing each other.
"""

from __future__ import annotations

import os

#: No telemetry from any of the tools mir drives, and quiet TensorFlow logs.
QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "False",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}


def quiet() -> None:
    """Set every :data:`QUIET_ENV` switch the user has not set (call before importing the tool)."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def quiet_env() -> dict[str, str]:
    """``os.environ`` with the :data:`QUIET_ENV` defaults, for a child process."""
    return {**QUIET_ENV, **os.environ}
