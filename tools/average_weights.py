"""Average the weights of several checkpoints of one model into one (a "model soup", Wortsman et al., 2022).

Every floating-point tensor of the result is the mean of the inputs' (computed in float64, stored in float32),
BatchNorm statistics included; the inputs must share the configuration. Averaging makes sense for runs that
fine-tuned the same weights (for example warm restarts from one first schedule with different seeds), whose
weights stay in one basin; runs from different initial weights average to garbage. The result's metadata names
its inputs and carries no metrics (it was not measured): read it with ``tools/compare_models.py`` after
``lipread export``. Usage::

    python tools/average_weights.py runs/soup.safetensors runs/restart-s0/best.safetensors \\
        runs/restart-s1/best.safetensors
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from lipread.weights import Checkpoint, load_checkpoint, save_checkpoint


def average(checkpoints: list[Checkpoint]) -> dict[str, np.ndarray]:
    """The tensors of ``checkpoints`` (at least one, of one configuration) averaged, float32.

    Raises:
        ValueError: no checkpoints, differing configurations or tensor names.
    """
    if not checkpoints:
        raise ValueError("no checkpoints to average")
    first = checkpoints[0]
    for other in checkpoints[1:]:
        if other.config != first.config:
            raise ValueError("the checkpoints are of different models (their configurations differ)")
        if other.tensors.keys() != first.tensors.keys():
            raise ValueError("the checkpoints hold different tensors")
    tensors = [c.as_float32() for c in checkpoints]
    out = {}
    for name, value in tensors[0].items():
        if value.dtype.kind == "f":
            out[name] = np.mean([t[name].astype(np.float64) for t in tensors], axis=0).astype(np.float32)
        elif any(not np.array_equal(t[name], value) for t in tensors[1:]):
            raise ValueError(f"{name}: a tensor that is not floating point differs between the checkpoints")
        else:
            out[name] = value
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output", type=Path, help="the .safetensors file to write")
    p.add_argument("checkpoints", type=Path, nargs="+", help=".safetensors checkpoints of one model")
    args = p.parse_args()
    checkpoints = [load_checkpoint(path) for path in args.checkpoints]
    save_checkpoint(
        args.output,
        average(checkpoints),
        checkpoints[0].config,
        trained_on={"averaged": [str(path) for path in args.checkpoints]},
    )
    print(f"{args.output}: the mean of {len(checkpoints)} checkpoints")


if __name__ == "__main__":
    main()
