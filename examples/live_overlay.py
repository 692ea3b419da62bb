"""Read the lips in a camera, a stream or a video file as it plays, and write the video with the text on it.

    python examples/live_overlay.py bbaf2n.mp4 --output captioned.mp4
    python examples/live_overlay.py 0 --output webcam.mp4 --show      # a camera; Ctrl-C (or q) stops

Every frame is written to ``--output`` as it is read, with the last sentence read shown at the bottom for
``--hold`` seconds after it was read, as live captions are: a sentence appears once its utterance has ended
(see ``lipread live``), not while it is spoken. The sentences are also printed, one per line. ``--show``
also shows the frames in a window, where the installed OpenCV can open one (``opencv-python``; lipread
itself installs the headless ``opencv-python-headless``).

Needs a backend that runs the model: ``pip install "lipread[onnx]"`` for the shipped model.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lipread import LipreadError
from lipread.api import Transcriber
from lipread.live import LiveSettings
from lipread.live.source import open_source


def caption(frame: np.ndarray, text: str) -> np.ndarray:
    """A BGR copy of an RGB frame with ``text`` on a dark band at the bottom, scaled to the frame's width."""
    out = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    if not text:
        return out
    h, w = out.shape[:2]
    font, scale, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    scale *= min(1.0, 0.95 * w / tw)
    (tw, th), base = cv2.getTextSize(text, font, scale, thickness)
    top = h - th - base - 12
    out[top:] = (out[top:] * 0.35).astype(np.uint8)
    cv2.putText(out, text, ((w - tw) // 2, h - base - 6), font, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out


def window_available() -> bool:
    """Whether this OpenCV can open a window (the headless build cannot)."""
    try:
        cv2.namedWindow("lipread")
    except cv2.error:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", help="camera index (0), stream address, or video file")
    parser.add_argument("--output", type=Path, default=Path("live.mp4"), help="video to write (default: live.mp4)")
    parser.add_argument("--hold", type=float, default=3.0, help="seconds a sentence stays on screen (default: 3)")
    parser.add_argument("--realtime", action="store_true", help="play a video file at its frame rate")
    parser.add_argument("--show", action="store_true", help="also show the frames in a window, where possible")
    parser.add_argument("--model", default="lipnet-grid-s1", help="shipped model name, .safetensors or .onnx file")
    args = parser.parse_args(argv)

    try:
        runner = Transcriber(args.model)
        source = open_source(args.source, realtime=args.realtime)
    except LipreadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    show = args.show and window_available()
    if args.show and not show:
        print("no window: this OpenCV is built without one (pip install opencv-python)", file=sys.stderr)
    writer: Any = None
    size = (0, 0)
    text, shown_until = "", -1
    written = 0

    def frames() -> Iterator[np.ndarray]:
        """The source's frames, each written (and shown) with the current caption as it goes to the reader."""
        nonlocal writer, written, size
        for frame in source.frames():
            if writer is None:
                size = (frame.shape[1], frame.shape[0])
                writer = cv2.VideoWriter(str(args.output), cv2.VideoWriter_fourcc(*"mp4v"), source.fps, size)
            out = caption(frame, text if written <= shown_until else "")
            if (out.shape[1], out.shape[0]) != size:  # a source that changes size: the file keeps its first
                out = cv2.resize(out, size)
            writer.write(out)
            written += 1
            if show:
                cv2.imshow("lipread", out)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    source.stop()
            yield frame

    # Ctrl-C ends the source: the utterance in progress is still read and written, and the file is closed.
    signal.signal(signal.SIGINT, lambda signum, frame: source.stop())
    try:
        for segment in runner.stream(frames(), source.fps, LiveSettings()):
            print(f"{segment.start:.2f}-{segment.end:.2f} s: {segment.text}", flush=True)
            text, shown_until = segment.text, written + round(args.hold * source.fps)
    except LipreadError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if writer is not None:
            writer.release()
    if source.error is not None:
        print(f"error: {source.error}", file=sys.stderr)
        return 1
    print(f"{args.output}: {written} frames written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
