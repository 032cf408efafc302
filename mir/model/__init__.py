"""Model: the Keras CNN, its input pipeline, and the ``train`` stage.

Models use Keras 3 layers only (no raw TensorFlow ops), so the same code runs
on the TensorFlow, JAX or PyTorch backend (``KERAS_BACKEND``).
"""

import os


def keras_backend() -> str:
    """Import Keras with the configured backend (TensorFlow unless ``KERAS_BACKEND`` says otherwise)."""
    from mir.env import quiet

    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    quiet()  # TensorFlow's start-up lines, also when mir is used as a library
    import keras

    import mir.model.layers  # noqa: F401 - registers mir's custom layers for keras.models.load_model

    return keras.backend.backend()
