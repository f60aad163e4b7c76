"""Run-time fixes that let DeepPoseKit 0.3.9 run against TensorFlow 2.15 and h5py 3.

Imported only inside the DeepPoseKit environment. Each fix patches a name in memory for this
process; the installed package is not modified. One more incompatibility, scikit-learn being
imported (``deepposekit.annotate.KMeansSampler``) but not declared as a dependency, is fixed
by listing scikit-learn in ``requirements.in``; and the adapter compiles with the legacy Adam
optimizer because ``model.save`` reads ``optimizer.weights``.
"""

from __future__ import annotations

import h5py


class _BytesAttrs:
    """h5py attributes that hand back ``bytes`` for string values, as h5py 2 did."""

    def __init__(self, attrs: h5py.AttributeManager) -> None:
        self._attrs = attrs

    def get(self, key: str, default: object = None) -> object:
        value = self._attrs.get(key, default)
        return value.encode("utf-8") if isinstance(value, str) else value

    def __getitem__(self, key: str) -> object:
        return self.get(key)


class _BytesAttrsFile(h5py.File):
    @property
    def attrs(self) -> _BytesAttrs:  # type: ignore[override]
        return _BytesAttrs(super().attrs)


def apply() -> None:
    """Apply every fix (idempotent)."""
    # Fix 1: deepposekit.io.DataGenerator reads `h5file["annotated"].value`; h5py 3.0 removed
    # `Dataset.value` (use `dataset[()]`).
    if not hasattr(h5py.Dataset, "value"):
        h5py.Dataset.value = property(lambda self: self[()])

    # Fix 2: `model.save` goes through tensorflow.python.keras.saving.hdf5_format, which does
    # `from tensorflow.python.keras import __version__`; TF 2.15's legacy keras package no
    # longer defines it.
    import keras
    import tensorflow.python.keras as legacy_keras

    if not hasattr(legacy_keras, "__version__"):
        legacy_keras.__version__ = keras.__version__

    # Fix 3: deepposekit.models.loading.load_model calls `.decode("utf-8")` on the model's
    # HDF5 attributes, which h5py 3 already returns as `str`.
    import deepposekit.models.loading as loading

    loading.h5py = type("h5py", (), {"File": _BytesAttrsFile})

    # Fix 4: load_model rebuilds the network with tensorflow.python.keras's legacy loader,
    # whose layer registry in TF 2.15 lacks layers the model was built with
    # ("Unknown layer: BatchNormalization"); the model is tf.keras (Keras 2.15), so load it
    # with tf.keras's own HDF5 loader.
    import tensorflow as tf

    loading.save = type("save", (), {"load_model": staticmethod(tf.keras.models.load_model)})
