"""``lipread plot RUN``: draw a training run's curves (loss, CER and WER per epoch) from its ``history.jsonl``.

The figures are drawn with matplotlib, an optional extra (``pip install "lipread[plot]"``) imported only when
a figure is drawn: by this command and by ``lipread eval --confusion``. :func:`draw_confusion` draws the
confusion matrix ``lipread eval --confusion FILE.png`` writes.

``history.jsonl`` is what ``lipread train`` writes into its run folder, one JSON object per epoch: ``epoch``,
``train_loss``, ``val_loss`` and ``metrics`` (``<decoder>_cer``, ``<decoder>_wer``, ... on the validation clips).
"""

from __future__ import annotations

import argparse
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BackendError, DataError
from ..weights import atomic_write, writable_folder
from .parsing import file_path

__all__ = [
    "add_parser",
    "check_image_path",
    "draw_confusion",
    "draw_curves",
    "draw_letter_confusion",
    "read_history",
    "require_matplotlib",
    "run",
    "series",
]

HISTORY = "history.jsonl"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``plot``."""
    p = subparsers.add_parser(
        "plot",
        help="draw a training run's loss, CER and WER per epoch",
        description="Draw the training and validation loss and the validation CER and WER of each decoder per "
        f"epoch, from the {HISTORY} of a run folder that lipread train wrote. Needs matplotlib: "
        'pip install "lipread[plot]".',
    )
    p.add_argument("run", type=file_path, metavar="RUN", help=f"run folder (or its {HISTORY} file)")
    p.add_argument(
        "-o",
        "--output",
        type=file_path,
        metavar="FILE",
        help="image to write, .png, .svg or .pdf (default: RUN/curves.png)",
    )
    return p


def read_history(path: Path) -> list[dict[str, Any]]:
    """The epochs of a run's ``history.jsonl`` (``path`` is the file or its run folder), in file order.

    Raises:
        DataError: no such file, a line that is not a JSON object with a numeric ``epoch``, or no epochs.
    """
    file = path / HISTORY if path.is_dir() else path
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{file}: no such file (a run folder of lipread train holds a {HISTORY})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(f"{file}: cannot read the training history: {getattr(e, 'strerror', None) or e}") from None
    epochs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{file}:{lineno}: not JSON ({e.msg})") from None
        epoch = entry.get("epoch") if isinstance(entry, dict) else None
        if not isinstance(epoch, (int, float)) or isinstance(epoch, bool) or not 0 <= _number(epoch) <= MAX_EPOCH:
            raise DataError(f"{file}:{lineno}: expected a JSON object with an 'epoch' from 0 to {MAX_EPOCH:,}")
        if not isinstance(entry.get("metrics", {}), dict):
            raise DataError(f"{file}:{lineno}: 'metrics' must be a JSON object of names and numbers")
        epochs.append(entry)
    if not epochs:
        raise DataError(f"{file}: no epochs recorded yet")
    return epochs


MAX_EPOCH = 1_000_000
"""The largest epoch number a history may hold (a hand-edited one aside, no run comes near it)."""


def _number(value: Any) -> float:
    """``value`` as a float; NaN for what is not a number, or an integer too large for one."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return math.nan
    try:
        return float(value)
    except OverflowError:
        return math.nan


def series(history: Sequence[dict[str, Any]]) -> dict[str, list[float]]:
    """The curves of a history: ``epoch``, ``train_loss``, ``val_loss`` and each ``<decoder>_cer`` /
    ``<decoder>_wer`` found in ``metrics`` (fractions, not per cent), one value per epoch; NaN where an epoch
    lacks a value (matplotlib leaves a gap there)."""
    keys = [k for e in history for k in (e.get("metrics") or {}) if k.endswith(("_cer", "_wer"))]
    out: dict[str, list[float]] = {
        "epoch": [_number(e["epoch"]) for e in history],
        "train_loss": [_number(e.get("train_loss")) for e in history],
        "val_loss": [_number(e.get("val_loss")) for e in history],
    }
    for key in dict.fromkeys(keys):  # first-seen order, no repeats
        out[key] = [_number((e.get("metrics") or {}).get(key)) for e in history]
    return out


def require_matplotlib(out: Path) -> Any:
    """matplotlib's ``Figure`` class, imported now (a command calls this before long work that ends in a plot).

    Raises:
        BackendError: matplotlib is not installed (the message names ``out`` and the extra that installs it).
    """
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise BackendError(
            f'{out}: drawing needs matplotlib, which is not installed; install it with: pip install "lipread[plot]"'
        ) from None
    return Figure


def check_image_path(out: Path) -> None:
    """Check, before the work that ends in an image, that ``out`` can be one: a format matplotlib writes (from
    the suffix) in a folder that exists.

    Raises:
        BackendError: matplotlib is not installed.
        DataError: an unknown format, or a folder that is missing or a file (named).
    """
    require_matplotlib(out)
    from matplotlib.backend_bases import FigureCanvasBase

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    if out.suffix.lower().lstrip(".") not in formats:
        known = ", ".join(f".{f}" for f in formats)
        raise DataError(f"{out}: cannot write this image: the name must end in one of {known}")
    folder = out.parent
    if folder.exists() and not folder.is_dir():
        raise DataError(f"{out}: cannot write this image: {folder} is a file, not a folder")
    if not folder.exists():
        raise DataError(f"{out}: cannot write this image: the folder {folder} does not exist")
    if out.is_dir():
        raise DataError(f"{out}: cannot write this image: it is a folder")
    try:
        writable_folder(folder)  # a read-only place is found now, not after an evaluation
    except OSError as e:
        raise DataError(f"{out}: cannot write this image: {e.strerror or e}") from None


def _figure(width_in: float, height_in: float, out: Path) -> Any:
    """A matplotlib ``Figure`` (no pyplot: nothing global, no window)."""
    return require_matplotlib(out)(figsize=(width_in, height_in), dpi=100, layout="constrained")


def _save(fig: Any, out: Path) -> None:
    """Draw ``fig`` into memory, then write it whole (:func:`lipread.weights.atomic_write`): a full disk leaves
    neither half an image nor a destroyed earlier one."""
    image = io.BytesIO()
    try:
        fig.savefig(image, format=out.suffix.lower().lstrip("."))
    except ValueError as e:  # an image format matplotlib does not know, from the suffix
        raise DataError(f"{out}: cannot write this image: {e}") from None
    try:
        atomic_write(out, image.getvalue())
    except OSError as e:
        raise DataError(f"{out}: cannot write the image: {e.strerror or e}") from None


def draw_curves(history: Sequence[dict[str, Any]], out: Path, title: str = "") -> None:
    """Draw the loss (left) and the validation error rates in per cent (right) per epoch into ``out``
    (10 x 4 inches at 100 dpi: 1000 x 400 pixels as PNG). A dotted line marks the epoch with the lowest greedy
    WER, the one ``lipread train`` keeps as ``best.safetensors`` (ties: the first)."""
    s = series(history)
    fig = _figure(10, 4, out)
    loss, rates = fig.subplots(1, 2)
    # Points as well as lines for a short run: a line through one epoch (a run's first) draws nothing at all.
    mark: dict[str, Any] = {"marker": "o", "markersize": 3} if len(s["epoch"]) <= 30 else {}
    for key, label in (("train_loss", "training"), ("val_loss", "validation")):
        if not all(math.isnan(v) for v in s[key]):
            loss.plot(s["epoch"], s[key], label=label, **mark)
    loss.set(xlabel="epoch", ylabel="CTC loss per clip", title="loss")
    decoders = list(dict.fromkeys(k.rsplit("_", 1)[0] for k in s if k.endswith(("_cer", "_wer"))))
    for i, decoder in enumerate(decoders):
        for metric, style in (("cer", "-"), ("wer", "--")):
            values = s.get(f"{decoder}_{metric}")
            if values:
                rates.plot(
                    s["epoch"],
                    [100 * v for v in values],
                    style,
                    color=f"C{i}",
                    label=f"{decoder} {metric.upper()}",
                    **mark,
                )
    wer = s.get("greedy_wer")
    if wer and not all(math.isnan(v) for v in wer):
        best = min(range(len(wer)), key=lambda i: (math.isinf(wer[i]) or math.isnan(wer[i]), wer[i]))
        rates.axvline(s["epoch"][best], color="grey", linestyle=":", label=f"best epoch ({s['epoch'][best]:g})")
    rates.set(xlabel="epoch", ylabel="per cent", title="validation error rates", ylim=(0, 100))
    from matplotlib.ticker import FixedLocator, MaxNLocator

    epochs = sorted({e for e in s["epoch"] if math.isfinite(e)})
    for ax in (loss, rates):
        # Epochs are whole: no tick at 2.5, and a single epoch gets its own tick rather than 0.96, 0.98, ...
        ax.xaxis.set_major_locator(FixedLocator(epochs) if len(epochs) == 1 else MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small")
    if title:  # a folder name of bytes that are not UTF-8 shows them as U+FFFD: the font cannot draw surrogates
        fig.suptitle(title.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))
    _save(fig, out)


def draw_confusion(rows: Sequence[str], columns: Sequence[str], counts: Sequence[Sequence[int]], out: Path) -> None:
    """Draw a confusion matrix into ``out``: one row per spoken word, one column per read word, each cell
    shaded by the share of its row and labelled with its count (empty cells unlabelled); 7.5 x 7 inches."""
    fig = _figure(7.5, 7, out)
    ax = fig.subplots()
    shares = [[c / max(1, sum(row)) for c in row] for row in counts]
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for r, row in enumerate(counts):
        for c, n in enumerate(row):
            if n:
                ax.text(
                    c, r, str(n), ha="center", va="center", fontsize=7, color="white" if shares[r][c] > 0.5 else "k"
                )
    ax.set_xticks(range(len(columns)), list(columns), rotation=90 if max(map(len, columns)) > 2 else 0)
    ax.set_yticks(range(len(rows)), list(rows))
    total = sum(map(sum, counts))
    right = sum(counts[r][columns.index(w)] for r, w in enumerate(rows) if w in columns)
    accuracy = f", {100 * right / total:.1f}% read right" if total else ""
    ax.set(xlabel="read", ylabel="said", title=f"GRID letter slot: {total} words{accuracy}")
    fig.colorbar(image, ax=ax, shrink=0.6, label="share of the row")
    _save(fig, out)


def draw_letter_confusion(counts: dict[str, dict[str, int]], out: Path) -> None:
    """Draw the GRID letter slot's confusion matrix from ``{spoken: {read: count}}`` (the ``letter_confusion`` of
    :func:`lipread.cli.eval.evaluate`) into ``out``.

    Raises:
        DataError: no letter was counted (no reference was a GRID sentence).
    """
    from ..data.confusion import confusion_matrix
    from ..data.grid import LETTERS

    if not counts:
        raise DataError(f"{out}: no GRID sentences were evaluated, so there is no letter slot to draw")
    pairs = [(spoken, read) for spoken, row in counts.items() for read, n in row.items() for _ in range(n)]
    draw_confusion(*confusion_matrix(pairs, LETTERS), out)


def run(args: argparse.Namespace) -> int:
    """Draw the curves and print the path written; 0."""
    history = read_history(args.run)
    folder = args.run if args.run.is_dir() else args.run.parent
    out = args.output if args.output is not None else folder / "curves.png"
    check_image_path(out)
    draw_curves(history, out, title=folder.resolve().name)
    print(out)
    return 0
