"""Train a LipNet with the PyTorch backend, export it to ONNX, and check that ONNX Runtime agrees.

    python examples/train_and_export.py grid/ --output runs/example --epochs 2 --max-clips 16

Trains the ``lipnet`` preset (or a narrower copy of it with ``--channels`` and ``--hidden``) on GRID clips
in any layout ``lipread.data.dataset.find_clips`` understands, holding out a seeded random part for validation,
and prints the validation metrics of each epoch. Then exports the best checkpoint to ONNX and runs one clip
through both PyTorch and ONNX Runtime, printing the largest difference of their log-probabilities.

Needs ``pip install "lipread[torch,onnx]"``. Defaults are a quick run, not a useful model: for that, train
the full preset for many epochs (see the documentation's "Training on GRID").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import lipread
from lipread.config import ConvBlock, ModelConfig
from lipread.data.dataset import find_clips
from lipread.data.training import TrainOptions
from lipread.video.preprocess import load_clip


def narrow_lipnet(channels: tuple[int, int, int], hidden: int) -> ModelConfig:
    """The ``lipnet`` preset with ``channels`` in its three convolution blocks and ``hidden`` GRU units."""
    base = lipread.get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, b.dropout, b.pool)
        for c, b in zip(channels, base.frontend)
    )
    return base.with_(name="lipnet-narrow", frontend=blocks, rnn_hidden=hidden)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="GRID root folder")
    parser.add_argument("--output", type=Path, default=Path("runs/example"), help="run folder")
    parser.add_argument("--onnx", type=Path, help="ONNX file to write (default: <output>/model.onnx)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs to train (default: 2)")
    parser.add_argument("--max-clips", type=int, default=16, help="use only the first N clips (default: 16)")
    parser.add_argument("--batch-size", type=int, default=4, help="clips per step (default: 4)")
    parser.add_argument(
        "--channels",
        type=int,
        nargs=3,
        default=(8, 16, 16),
        metavar="C",
        help="convolution channels (default: 8 16 16)",
    )
    parser.add_argument("--hidden", type=int, default=32, help="GRU units per direction (default: 32)")
    parser.add_argument("--full", action="store_true", help="train the full lipnet preset instead")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    args = parser.parse_args(argv)

    config = lipread.get_preset("lipnet") if args.full else narrow_lipnet(tuple(args.channels), args.hidden)
    options = TrainOptions(
        data=args.data,
        output=args.output,
        config=config,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_clips=args.max_clips,
        val_fraction=0.25,
        beam_width=4,
        examples=1,
        device=args.device,
        progress=False,
    )
    backend = lipread.get_backend("torch")
    result = backend.train(options)  # writes last/best .safetensors and .ckpt, and history.jsonl
    for record in result.history:
        metrics = record["metrics"]
        cer, wer = metrics.get("greedy_cer", float("nan")), metrics.get("greedy_wer", float("nan"))
        loss = record["train_loss"]
        print(f"epoch {record['epoch']}: train loss {loss:.3f}, validation CER {cer:.3f}, WER {wer:.3f}")

    checkpoint = result.best or result.last
    model = backend.load(checkpoint)
    onnx_path = backend.export_onnx(model, args.onnx or args.output / "model.onnx")
    print(f"exported {checkpoint} to {onnx_path}")

    # The exported model runs on the onnx backend, with the config and vocabulary read from its metadata.
    exported = lipread.load_model(onnx_path, backend="onnx")
    clip = load_clip(find_clips(args.data, warn=False)[0].video, config)[None]  # float32 (1, T, 50, 100, 3)
    difference = np.abs(exported.logprobs(clip) - model.logprobs(clip)).max()
    print(f"largest difference between ONNX Runtime and PyTorch log-probabilities: {difference:.2e}")
    return 0 if difference <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
