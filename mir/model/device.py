"""Where a model runs: the accelerator the Keras backend sees, and the distribution strategy for training."""

from __future__ import annotations


def accelerator(backend: str) -> tuple[str, int]:
    """``("gpu", n)`` when the Keras backend sees ``n`` ≥ 1 GPUs, else ``("cpu", 0)``."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            n = len(tf.config.list_physical_devices("GPU"))
        elif backend == "jax":
            import jax

            n = len([d for d in jax.devices() if d.platform == "gpu"])
        elif backend == "torch":
            import torch

            n = torch.cuda.device_count()
        else:
            n = 0
    except Exception:  # noqa: BLE001 - no accelerator runtime: CPU
        n = 0
    return ("gpu", n) if n else ("cpu", 0)


def distribution_scope(tp, backend: str):
    """A context manager for building and fitting the model under ``train.distribute``.

    ``auto``: TensorFlow's ``MirroredStrategy`` (JAX: Keras ``DataParallel``) when
    more than one GPU is visible, otherwise nothing; ``mirrored`` forces it;
    ``none`` never distributes. CPU-only machines need no change.
    """
    import contextlib

    kind, n = accelerator(backend)
    want = tp.distribute == "mirrored" or (tp.distribute == "auto" and kind == "gpu" and n > 1)
    if not want:
        return contextlib.nullcontext(), "none"
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        return strategy.scope(), f"MirroredStrategy({strategy.num_replicas_in_sync})"
    if backend == "jax":
        import keras

        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext(), "DataParallel"
    return contextlib.nullcontext(), "none"
