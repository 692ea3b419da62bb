"""``lipread import notebook PATH -o model.safetensors``: convert another program's checkpoint into lipread's.

Only the LipNet notebook's TensorFlow checkpoint (``models/checkpoint``, written by Keras ``save_weights``)
is understood so far; reading it needs TensorFlow (``pip install "lipread[tf]"``).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import BackendError, LipreadError
from .parsing import file_path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``import``."""
    p = subparsers.add_parser(
        "import",
        help="convert the LipNet notebook's checkpoint into a lipread model",
        description="Convert a checkpoint written by another program into a canonical lipread checkpoint that "
        "every backend runs. 'notebook': the LipNet notebook's models/checkpoint (TensorFlow, Keras save_weights), "
        "becoming a 'lipnet-notebook' model with the notebook's vocabulary (needs TensorFlow).",
    )
    p.add_argument("format", choices=("notebook",), help="what the checkpoint is")
    p.add_argument(
        "path", type=file_path, help="the checkpoint: PATH/checkpoint, its prefix, its .index file or the folder"
    )
    p.add_argument("-o", "--output", type=file_path, required=True, help="the .safetensors file to write")
    return p


def run(args: argparse.Namespace) -> int:
    """Convert; prints what was written. Returns 0."""
    if args.output.suffix.lower() != ".safetensors":  # lipread tells a checkpoint from an ONNX model by its name
        raise LipreadError(f"{args.output}: the checkpoint to write must end in .safetensors")
    try:
        from lipread_tf.notebook import import_notebook_checkpoint, notebook_config
    except ImportError as e:
        raise BackendError(f'{args.path}: reading it needs TensorFlow ({e}): pip install "lipread[tf]"') from None
    out = import_notebook_checkpoint(args.path, args.output)
    config = notebook_config()
    print(f"wrote {out}: model {config.name!r}, {config.num_classes} classes (vocabulary {config.vocabulary.name!r})")
    return 0
