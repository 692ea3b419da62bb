"""TensorFlow and Keras, imported without TensorFlow's start-up chatter on standard error.

Every module of :mod:`lipread_tf` takes ``tf`` and ``keras`` from here (``from ._tensorflow import keras, tf``)
instead of importing them itself, so whichever loads first imports TensorFlow through
:func:`lipread_tf._quiet.quiet_import`. After the import, TensorFlow's C++ log lines stay off through
``TF_CPP_MIN_LOG_LEVEL=3``, which :mod:`lipread_tf` sets when the environment does not set it.
"""

from __future__ import annotations

from ._quiet import quiet_import

__all__ = ["keras", "tf"]

quiet_import("tensorflow")
quiet_import("keras")

# Already imported above; plain imports here so that type checkers see the modules.
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
