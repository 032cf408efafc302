"""Sphinx configuration of mir's documentation (``make docs``; CI builds it with ``-W``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))  # this checkout's mir, also without an install
sys.path.insert(0, str(DOCS / "_ext"))

from mir.env import quiet  # noqa: E402

quiet()  # autodoc imports every module: no telemetry, no TensorFlow start-up lines
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

project = "mir"
author = "the mir authors"
copyright = "mir authors, MIT licence"
from mir import __version__ as release  # noqa: E402

extensions = [
    "myst_parser",  # pages in Markdown (the README's sections moved here as they were)
    "sphinx.ext.autodoc",
    "numpydoc",  # mir's docstrings are numpydoc, like librosa's, mirdata's and mir_eval's
    "sphinx.ext.viewcode",
    "mirdocs",  # generated references: params.yaml keys, the CLI, the API (docs/_ext/mirdocs.py)
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_inherit_docstrings = False  # Keras' callback docstrings are not numpydoc
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
autodoc_default_options = {"exclude-members": "model_config, model_fields, model_computed_fields"}
numpydoc_show_class_members = False  # autodoc lists members; numpydoc would add a second, stub-less table
numpydoc_class_members_toctree = False

html_theme = "furo"
html_title = f"mir {release}"
html_show_sourcelink = False
