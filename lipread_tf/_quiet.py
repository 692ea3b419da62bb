"""Importing a module whose C/C++ libraries write to standard error while they load: :func:`quiet_import`.

TensorFlow's C++ libraries write straight to the process's standard-error file descriptor when they load,
before TensorFlow reads its log level: ``WARNING: All log messages before absl::InitializeLog() ...``,
``I0000 00:00:... port.cc:153] oneDNN custom operations are on ... TF_ENABLE_ONEDNN_OPTS=0``, CUDA plugin
registration errors, CPU-instruction advice. None of it is for a lipread user, and none of it can be
caught in Python, so :func:`quiet_import` points file descriptor 2 at a temporary file for the duration of
the import and restores it afterwards. What was captured is written back only when the import fails, so a
broken installation still explains itself.

This module imports nothing heavy; :mod:`lipread_tf._tensorflow` uses it to import TensorFlow and Keras.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from types import ModuleType

__all__ = ["quiet_import"]


def quiet_import(name: str) -> ModuleType:
    """Import module ``name`` with file descriptor 2 (standard error, as C and C++ code see it) silenced.

    An already imported module is returned as it is. Whatever is written to file descriptor 2 during the
    import (by C++ code, by Python code whose ``sys.stderr`` writes there, by any thread) is discarded when
    the import succeeds, and written back to standard error when it raises; the exception propagates
    unchanged. Without a file descriptor 2 the module is imported plainly.
    """
    if name in sys.modules:
        return sys.modules[name]
    _flush()
    try:
        saved = os.dup(2)
    except OSError:  # no standard error to silence
        return importlib.import_module(name)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            module = importlib.import_module(name)
            failed = False
        finally:
            _flush()
            os.dup2(saved, 2)
            os.close(saved)
            if failed:
                captured.seek(0)
                text = captured.read()
                while text:
                    text = text[os.write(2, text) :]
    return module


def _flush() -> None:
    """Write out what Python holds buffered for stdout and stderr, so that it lands where it was meant to."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
