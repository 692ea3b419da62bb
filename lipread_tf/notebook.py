"""Import the LipNet notebook's own checkpoint (``models/checkpoint``, written by Keras ``model.save_weights``).

The notebook trains a Keras Sequential LipNet (the ``lipnet-notebook`` preset) and saves its weights as a
TensorFlow checkpoint. :func:`read_notebook_checkpoint` reads the model variables from it
(``tf.train.load_checkpoint``) and returns canonical tensors; :func:`import_notebook_checkpoint` writes them
as a canonical ``lipnet-notebook`` checkpoint that every backend runs (``lipread import notebook``).

What changes on the way:

- output classes: the notebook's Dense layer has index 0 = its ``StringLookup`` OOV slot ``""``, 1..39 =
  ``"abcdefghijklmnopqrstuvwxyz'?!123456789 "`` and 40 = the CTC blank (Keras's ``ctc_batch_cost`` puts the
  blank last). lipread's blank is 0, so class ``k`` here is notebook class ``(k - 1) mod 41``
  (:data:`lipread.vocab.NOTEBOOK_VOCABULARY`: blank, OOV, then the 39 characters);
- Conv3D and LSTM weights go from Keras to the canonical PyTorch layouts (:mod:`lipread_tf.convert`),
  including the per-frame flatten order of the first LSTM's input.

The Adam slots and optimiser state in the file are ignored.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from lipread.config import ModelConfig, get_preset
from lipread.errors import CheckpointError
from lipread.weights import save_checkpoint

from ._tensorflow import tf
from .convert import keras_to_canonical

__all__ = [
    "NOTEBOOK_CLASS_ORDER",
    "NOTEBOOK_VARIABLES",
    "import_notebook_checkpoint",
    "notebook_config",
    "read_notebook_checkpoint",
    "resolve_checkpoint_prefix",
]

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def _notebook_variables() -> dict[str, tuple[int, ...]]:
    names: dict[str, tuple[int, ...]] = {}
    for k, (cin, cout) in enumerate([(1, 128), (128, 256), (256, 75)]):
        names[f"layer_with_weights-{k}/kernel"] = (3, 3, 3, cin, cout)
        names[f"layer_with_weights-{k}/bias"] = (cout,)
    for k, features in ((3, 6375), (4, 256)):
        for d in ("forward_layer", "backward_layer"):
            names[f"layer_with_weights-{k}/{d}/cell/kernel"] = (features, 512)
            names[f"layer_with_weights-{k}/{d}/cell/recurrent_kernel"] = (128, 512)
            names[f"layer_with_weights-{k}/{d}/cell/bias"] = (512,)
    names["layer_with_weights-5/kernel"] = (256, 41)
    names["layer_with_weights-5/bias"] = (41,)
    return {name + _SUFFIX: shape for name, shape in names.items()}


NOTEBOOK_VARIABLES: dict[str, tuple[int, ...]] = _notebook_variables()
"""The model variables of the notebook's checkpoint (full checkpoint keys) and their shapes."""

NOTEBOOK_CLASS_ORDER: np.ndarray = (np.arange(41) - 1) % 41
"""``NOTEBOOK_CLASS_ORDER[k]`` is the notebook's output index of lipread class ``k`` (blank first)."""

_KERAS_KEYS = {
    **{f"layer_with_weights-{k}/{w}": f"conv{k}/{w}" for k in range(3) for w in ("kernel", "bias")},
    **{
        f"layer_with_weights-{k + 3}/{d}_layer/cell/{w}": f"rnn{k}/{d}/{w}"
        for k in range(2)
        for d in ("forward", "backward")
        for w in ("kernel", "recurrent_kernel", "bias")
    },
    "layer_with_weights-5/kernel": "classifier/kernel",
    "layer_with_weights-5/bias": "classifier/bias",
}
"""Notebook variable (without the ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix) -> Keras-layout key."""

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")


def resolve_checkpoint_prefix(path: str | os.PathLike[str]) -> str:
    """The TensorFlow checkpoint prefix that ``path`` designates.

    Accepted: the prefix itself (``models/checkpoint``, which is also the name of the ``checkpoint`` state
    file ``save_weights`` writes beside it), its ``.index`` or ``.data-*`` file, a ``checkpoint`` state
    file naming another prefix, or the folder holding them.

    Raises:
        CheckpointError: nothing there, or no TensorFlow checkpoint can be found from it.
    """
    p = Path(path)
    if p.is_dir():
        latest = tf.train.latest_checkpoint(str(p))
        if latest is not None and Path(latest + ".index").is_file():
            return latest
        indexes = sorted(p.glob("*.index"))
        if len(indexes) == 1:
            return str(indexes[0].with_suffix(""))
        what = "several checkpoints; name one" if indexes else "no TensorFlow checkpoint (no *.index file)"
        raise CheckpointError(f"{p}: folder holds {what}")
    if p.name.endswith(".index"):
        p = p.with_suffix("")
    elif _DATA_SUFFIX.search(p.name):
        p = p.with_name(_DATA_SUFFIX.sub("", p.name))
    if Path(f"{p}.index").is_file():
        return str(p)
    if p.is_file() and p.name == "checkpoint":
        state = _read_state_file(p)
        if state is not None:
            target = Path(state) if Path(state).is_absolute() else p.parent / state
            if Path(f"{target}.index").is_file():
                return str(target)
            raise CheckpointError(f"{p}: names checkpoint {state!r}, but {target}.index does not exist")
    if not p.exists():
        raise CheckpointError(f"{path}: checkpoint not found (no such file, nor {p}.index)")
    raise CheckpointError(f"{path}: not a TensorFlow checkpoint (no {p}.index beside it)")


def _read_state_file(path: Path) -> str | None:
    """``model_checkpoint_path`` of a ``checkpoint`` state file, or None if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    m = re.search(r'^model_checkpoint_path:\s*"((?:[^"\\]|\\.)*)"', text, re.MULTILINE)
    return m.group(1) if m else None


def read_notebook_checkpoint(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The canonical ``lipnet-notebook`` tensors of a notebook checkpoint (see :func:`resolve_checkpoint_prefix`).

    Raises:
        CheckpointError: the file is missing or not a TensorFlow checkpoint, or a model variable is
            missing or misshapen (the message names it).
    """
    prefix = resolve_checkpoint_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
    except (tf.errors.OpError, ValueError) as e:
        message = getattr(e, "message", str(e)).strip().splitlines()[0]
        raise CheckpointError(f"{prefix}: not a readable TensorFlow checkpoint: {message}") from None
    weights: dict[str, np.ndarray] = {}
    for name, shape in NOTEBOOK_VARIABLES.items():
        if name not in shapes:
            raise CheckpointError(f"{prefix}: variable {name!r} is missing; is this the LipNet notebook's checkpoint?")
        if tuple(shapes[name]) != shape:
            raise CheckpointError(
                f"{prefix}: variable {name!r} has shape {list(shapes[name])}, the notebook's model has {list(shape)}"
            )
        try:
            value = np.asarray(reader.get_tensor(name), dtype=np.float32)
        except (tf.errors.OpError, ValueError) as e:
            raise CheckpointError(f"{prefix}: cannot read variable {name!r}: {e}") from None
        except IndexError:  # TensorFlow's reader, at the end of a .data file cut short
            raise CheckpointError(
                f"{prefix}: cannot read variable {name!r}: the checkpoint's data file is truncated or damaged"
            ) from None
        weights[_KERAS_KEYS[name.removesuffix(_SUFFIX)]] = value
    weights["classifier/kernel"] = weights["classifier/kernel"][:, NOTEBOOK_CLASS_ORDER]
    weights["classifier/bias"] = weights["classifier/bias"][NOTEBOOK_CLASS_ORDER]
    return keras_to_canonical(notebook_config(), weights)


def notebook_config() -> ModelConfig:
    """The configuration of the notebook's model: the ``lipnet-notebook`` preset."""
    return get_preset("lipnet-notebook")


def import_notebook_checkpoint(path: str | os.PathLike[str], output: str | os.PathLike[str]) -> Path:
    """Convert a notebook checkpoint into a canonical ``lipnet-notebook`` checkpoint at ``output``.

    Returns:
        The path written.

    Raises:
        CheckpointError: as :func:`read_notebook_checkpoint`.
    """
    prefix = resolve_checkpoint_prefix(path)
    tensors = read_notebook_checkpoint(prefix)
    trained_on = {
        "source": "LipNet notebook checkpoint (Keras save_weights)",
        "checkpoint": str(Path(prefix).resolve()),
    }
    return save_checkpoint(output, tensors, notebook_config(), trained_on=trained_on)
