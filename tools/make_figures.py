"""Make the documentation's pictures from the package itself, so they can be remade when the model changes.

Needs the ``plot`` and ``onnx`` extras (matplotlib, ONNX Runtime). Writes into ``docs/images/``:

- ``pipeline.png``: the demo clip read by the shipped model: a frame with the face and the mouth box the
  default locator found, the mouth crops the model sees, and the words it read against when they were said.
- ``architecture.png``: the ``lipnet`` preset's layers with the shape of the data between them, computed from
  its configuration.
- ``preview.gif``: ``lipread preview`` of the demo clip (the mouth crop as the model sees it, 100x50 pixels).
- ``benchmarks.png``: CPU milliseconds per 3-second clip (finding the mouth, running the model on each
  backend, decoding), from ``benchmarks/RESULTS.md``.

Run from the repository root::

    python tools/make_figures.py            # all of them
    python tools/make_figures.py pipeline   # only some
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
FIGURES = ("pipeline", "architecture", "preview", "benchmarks")


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=100, layout="constrained")


def pipeline(out: Path) -> None:
    """Frame with face and mouth boxes -> mouth crops -> words with times (read and said)."""
    import numpy as np
    from matplotlib.patches import Rectangle

    import lipread
    from lipread.cli.preview import to_display
    from lipread.data.align import load_alignment
    from lipread.data.demo import demo_alignment
    from lipread.video.mouth import FaceMouthLocator, _face_track
    from lipread.video.preprocess import load_clip
    from lipread.video.reader import read_frames

    clip = lipread.demo_clip()
    frames = read_frames(clip)
    locator = FaceMouthLocator()
    face = _face_track(frames, locator.step, str(clip), locator.every).median()
    mouth = locator.locate(frames, str(clip))
    crops = to_display(load_clip(clip, lipread.get_preset("lipnet")))
    transcript = lipread.transcribe(clip)
    said = load_alignment(demo_alignment()).words

    fig = _figure(11, 5.2)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.35, 1])
    frame_ax, crops_fig = top.subfigures(1, 2, width_ratios=[1, 1.45])
    ax = frame_ax.subplots()
    shown = 30  # a frame in the middle of "place", the mouth open
    ax.imshow(frames[shown])
    ax.add_patch(
        Rectangle(
            (face.x - face.width / 2, face.y - face.height / 2),
            face.width,
            face.height,
            fill=False,
            color="#ffcc00",
            lw=1.5,
        )
    )
    ax.add_patch(Rectangle((mouth.left, mouth.top), mouth.width, mouth.height, fill=False, color="#ff3355", lw=2))
    ax.set_title(f"1. the video: frame {shown + 1} of {len(frames)}, face and mouth found", fontsize=10)
    ax.set_axis_off()
    picks = np.linspace(10, len(crops) - 16, 8).round().astype(int)
    axes = crops_fig.subplots(2, 4)
    for a, t in zip(axes.flat, picks):
        a.imshow(crops[t])
        a.set_title(f"{t / 25:.2f} s", fontsize=8)
        a.set_axis_off()
    crops_fig.suptitle(
        f"2. what the model sees: {crops.shape[2]}x{crops.shape[1]} mouth crops, {len(crops)} frames",
        fontsize=10,
    )
    ax = bottom.subplots()
    for row, (words, colour) in enumerate(((said, "#999999"), (transcript.words, "#3366cc"))):
        for w in words:
            ax.barh(row, w.end - w.start, left=w.start, height=0.6, color=colour, edgecolor="white", linewidth=2)
            ax.text((w.start + w.end) / 2, row, w.word, ha="center", va="center", color="white", fontsize=10)
    ax.set_yticks([0, 1], ["said (GRID alignment)", f"read: {transcript.text}"])
    ax.set_xlim(0, len(frames) / 25)
    ax.set_xlabel("seconds")
    ax.set_title(f"3. the text, with word times ({transcript.model}, decoder {transcript.decoder})", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.savefig(out)


def _conv_shape(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def architecture(out: Path) -> None:
    """The lipnet preset's layers, top to bottom, with the tensor shape after each."""
    from matplotlib.patches import FancyBboxPatch

    import lipread

    c = lipread.get_preset("lipnet")
    rows = [("input: mouth crops", f"T x {c.height} x {c.width} x {c.channels}", "#dddddd")]
    h, w, channels = c.height, c.width, c.channels
    for i, b in enumerate(c.frontend, 1):
        h = _conv_shape(h, b.kernel[1], b.stride[1], b.padding[1])
        w = _conv_shape(w, b.kernel[2], b.stride[2], b.padding[2])
        h, w, channels = h // b.pool[1], w // b.pool[2], b.channels
        stride = "" if b.stride == (1, 1, 1) else f", stride {'x'.join(map(str, b.stride))}"
        layer = f"Conv3D {'x'.join(map(str, b.kernel))}{stride}, BatchNorm, ReLU, dropout {b.dropout:g}, MaxPool 1x2x2"
        rows.append((f"block {i}: {layer}", f"T x {h} x {w} x {channels}", "#cfe2ff"))
    features = h * w * channels
    rows.append(("flatten each frame", f"T x {features}", "#eeeeee"))
    for i in range(c.rnn_layers):
        rows.append(
            (
                f"bidirectional {c.rnn.upper()} {i + 1}, {c.rnn_hidden} per direction",
                f"T x {2 * c.rnn_hidden}",
                "#d7f5dd",
            )
        )
    classes = len(c.vocabulary.characters) + 1
    rows.append(("linear + log-softmax: blank, space, a-z", f"T x {classes}", "#ffe2c6"))
    rows.append(("CTC decoding (greedy, beam, lexicon or GRID grammar)", "text + word times", "#f2f2f2"))

    fig = _figure(8.5, 0.55 * len(rows) + 0.4)
    ax = fig.subplots()
    ax.set_xlim(0, 10)
    ax.set_ylim(-0.5, len(rows) - 0.3)
    ax.set_axis_off()
    for i, (name, shape, colour) in enumerate(rows):
        y = len(rows) - 1 - i
        ax.add_patch(FancyBboxPatch((0.1, y - 0.32), 7.0, 0.64, boxstyle="round,pad=0.02", color=colour))
        ax.text(0.3, y, name, va="center", fontsize=9.5)
        ax.text(9.9, y, shape, va="center", ha="right", fontsize=9.5, family="monospace")
        if i:
            ax.annotate("", (3.6, y + 0.33), (3.6, y + 0.67), arrowprops={"arrowstyle": "->", "color": "#666666"})
    ax.set_title(
        f"LipNet, the '{c.name}' preset (T = frames, {c.frames} for a GRID clip; any length works)", fontsize=10
    )
    fig.savefig(out)


def preview(out: Path) -> None:
    """``lipread preview`` of the demo clip."""
    import lipread
    from lipread.cli.app import main

    if main(["preview", str(lipread.demo_clip()), "-o", str(out), "--scale", "1"]):
        raise SystemExit("lipread preview failed")


def _cell(results: str, label: str, column: int = 1) -> float:
    """The first number in column ``column`` of the first table row of RESULTS.md whose first cell is ``label``."""
    import re

    for line in results.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == label and len(cells) > column:
            found = re.search(r"\d+(?:\.\d+)?", cells[column])
            if found:
                return float(found.group())
    raise SystemExit(f"benchmarks/RESULTS.md: no row {label!r} with a number in column {column + 1}")


def benchmarks(out: Path) -> None:
    """Stacked bars: mouth location, the model per backend and decoding, in CPU ms per 3-second clip."""
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
    mouth = _cell(results, "lipread load_clip, lipnet (face locator)")
    decode = _cell(results, "the same, NumPy (the core, without the extra)")
    models = {
        "ONNX Runtime, int8 export": _cell(results, "onnxruntime int8"),
        "ONNX Runtime, float32": _cell(results, "onnxruntime fp32"),
        "TensorFlow (compiled)": _cell(results, "tensorflow compiled (tf.function)"),
        "PyTorch": _cell(results, "torch"),
    }
    fig = _figure(10, 3.0)
    ax = fig.subplots()
    names = list(models)
    ax.barh(names, [mouth] * len(names), color="#ffb36b", label=f"find and crop the mouth ({mouth:g} ms)")
    ax.barh(names, list(models.values()), left=mouth, color="#3366cc", label="run the model")
    ax.barh(names, [decode] * len(names), left=[mouth + m for m in models.values()], color="#33aa55", label="decode")
    for i, m in enumerate(models.values()):
        total = mouth + m + decode
        ax.text(total + 4, i, f"{total:.0f} ms, {3000 / total:.0f}x faster than real time", va="center", fontsize=9)
    ax.set_xlim(0, 1.9 * max(mouth + m + decode for m in models.values()))
    ax.set_xlabel("CPU milliseconds per 3-second GRID clip, one thread, batch 1")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Reading one clip, step by step (benchmarks/RESULTS.md)", fontsize=10)
    fig.savefig(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("figures", nargs="*", choices=[*FIGURES, []], help=f"which to make (default: all: {FIGURES})")
    p.add_argument("--out", type=Path, default=OUT, help=f"folder to write into (default: {OUT})")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    args.out.mkdir(parents=True, exist_ok=True)
    makers = {"pipeline": (pipeline, "pipeline.png"), "architecture": (architecture, "architecture.png")}
    makers["preview"] = (preview, "preview.gif")
    makers["benchmarks"] = (benchmarks, "benchmarks.png")
    for name in args.figures or FIGURES:
        make, file = makers[name]
        make(args.out / file)
        print(args.out / file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
