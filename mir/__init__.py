"""mir: music-genre classification as a reproducible MLOps pipeline.

Importing :mod:`mir` is cheap on purpose: heavy libraries (TensorFlow, Great
Expectations, Evidently, Prefect, librosa) are imported inside the functions
that need them, so ``mir --help`` answers in well under a second.
"""

__version__ = "0.1.0"
