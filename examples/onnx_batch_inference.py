"""Batch inference with ONNX Runtime directly: lipread prepares the clips and decodes, ONNX Runtime runs the model.

    python examples/onnx_batch_inference.py model.onnx videos/ --batch-size 8 --threads 4

This is what ``lipread.transcribe(..., model="model.onnx")`` does, written out, for programs that manage
their own ``onnxruntime.InferenceSession`` (providers, threads, I/O binding):

1. read the model's config and vocabulary from the lipread metadata of the ``.onnx`` file;
2. turn each video into model input ``float32 (T, H, W, C)`` with :func:`lipread.video.preprocess.load_clip`;
3. zero-pad a batch to ``float32 (B, T_max, H, W, C)`` with ``lengths int32 (B,)`` and run the session,
   which returns log-probabilities ``float32 (B, T_max, V)`` (blank = class 0);
4. decode every clip within its length with :mod:`lipread.decoding` (the decoder the model names, as
   ``lipread.transcribe`` does: the grammar decoder for the shipped ``lipnet-grid-s1``).

Prints ``path<TAB>text`` per video, then the throughput on stderr. Needs ``pip install "lipread[onnx]"``.
The model is any ``.onnx`` file written by ``lipread export``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from lipread import LipreadError
from lipread.decoding.decoders import DECODERS, make_decoder
from lipread.onnx.metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, parse_metadata
from lipread.video.discovery import find_videos
from lipread.video.preprocess import load_clip


def pad(clips: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Clips ``float32 (T_i, H, W, C)`` -> ``float32 (B, T_max, H, W, C)`` zero-padded, and ``int32 (B,)`` lengths."""
    lengths = np.array([len(c) for c in clips], dtype=np.int32)
    batch = np.zeros((len(clips), int(lengths.max()), *clips[0].shape[1:]), dtype=np.float32)
    for i, clip in enumerate(clips):
        batch[i, : len(clip)] = clip
    return batch, lengths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="an .onnx model written by `lipread export`")
    parser.add_argument("inputs", type=Path, nargs="+", help="video files, frame folders or folders of them")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per session run (default: 8)")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    parser.add_argument("--decoder", choices=DECODERS, help="CTC decoder (default: the model's own, else beam)")
    parser.add_argument("--beam-width", type=int, default=16, help="beam width (default: 16)")
    args = parser.parse_args(argv)

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    # The exporter stored the lipread config (input size, crop, vocabulary) in the model's metadata.
    config = parse_metadata(session.get_modelmeta().custom_metadata_map, str(args.model))["config"]
    name = args.decoder or config.decoder or "beam"
    decoder = make_decoder(name, config.vocabulary, args.beam_width, config.words)  # the model's own word list

    # Video files and frame folders (numbered images), with folders searched recursively, as lipread transcribe does.
    videos, problems = find_videos(args.inputs)
    for folder, reason in problems:
        print(f"skipped: {folder}: {reason}", file=sys.stderr)
    failed, done = len(problems), 0
    started = time.perf_counter()
    for start in range(0, len(videos), args.batch_size):
        paths, clips = [], []
        for path in videos[start : start + args.batch_size]:
            try:
                clips.append(load_clip(path, config))  # float32 (T, H, W, C), standardised mouth crops
                paths.append(path)
            except LipreadError as e:
                print(f"skipped: {e}", file=sys.stderr)
                failed += 1
        if not clips:
            continue
        frames, lengths = pad(clips)
        logprobs = session.run([OUTPUT], {INPUT_FRAMES: frames, INPUT_LENGTHS: lengths})[0]  # (B, T_max, V)
        best = decoder.decode_batch(logprobs, lengths)  # the best hypothesis of each clip
        for path, hypothesis in zip(paths, best):
            print(f"{path}\t{hypothesis.text}")
        done += len(paths)
    seconds = time.perf_counter() - started
    print(f"{done} clips in {seconds:.2f} s ({done / max(seconds, 1e-9):.1f} clips/s)", file=sys.stderr)
    return 1 if failed or not videos else 0


if __name__ == "__main__":
    sys.exit(main())
