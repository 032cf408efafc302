"""Model: the Keras CNN, its input pipeline, and the ``train`` stage.

Models use Keras 3 layers only (no raw TensorFlow ops), so the same code runs
on the TensorFlow, JAX or PyTorch backend (``KERAS_BACKEND``).
"""

import os


def keras_backend() -> str:
    """Import Keras with the configured backend (TensorFlow unless ``KERAS_BACKEND`` says otherwise)."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as mir.env (which the entry points call first)
    import keras

    import mir.model.layers  # noqa: F401 - registers mir's custom layers for keras.models.load_model

    return keras.backend.backend()
