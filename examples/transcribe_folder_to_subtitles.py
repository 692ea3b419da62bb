"""Transcribe every video in a folder into subtitle files, one ``.srt`` (or ``.vtt``) per video.

    python examples/transcribe_folder_to_subtitles.py videos/ --output-dir subtitles/

The folder is searched recursively for videos and frame folders (numbered images, each read as one clip). Each
video's words, with their start and end times, become a subtitle file named after the video in ``--output-dir``.
A video that cannot be read is reported with the reason and the others are still transcribed; the exit status is
then 1.

Needs a backend that runs the model: ``pip install "lipread[onnx]"`` for the shipped model or an ``.onnx``
file, ``lipread[torch]`` or ``lipread[tf]`` for a ``.safetensors`` checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from lipread import LipreadError
from lipread.api import Transcriber
from lipread.decoding.decoders import DECODERS
from lipread.transcription.subtitles import write_subtitles
from lipread.video.discovery import find_videos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="folder of videos or frame folders (searched recursively)")
    parser.add_argument("--output-dir", type=Path, default=Path("subtitles"), help="where the subtitle files go")
    parser.add_argument("--format", choices=("srt", "vtt"), default="srt", help="subtitle format (default: srt)")
    parser.add_argument("--model", default="lipnet-grid-s1", help="shipped model name, .safetensors or .onnx file")
    parser.add_argument("--backend", help="onnx, torch or tensorflow (default: chosen from the model)")
    parser.add_argument(
        "--decoder", choices=DECODERS, help="CTC decoder (default: the model's own; grammar for lipnet-grid-s1)"
    )
    args = parser.parse_args(argv)

    if not args.folder.is_dir():
        print(f"{args.folder}: {'not a folder' if args.folder.exists() else 'not found'}", file=sys.stderr)
        return 1
    videos, problems = find_videos([args.folder])
    for folder, reason in problems:  # no videos in it, or a sub-folder that cannot be listed
        print(f"{folder}: {reason}", file=sys.stderr)
    if not videos:
        return 1
    # One Transcriber loads the model once and keeps it for every video.
    runner = Transcriber(args.model, backend=args.backend, decoder=args.decoder)
    failed = 0
    for video in videos:
        try:
            transcript = runner.transcribe(video)
        except LipreadError as e:  # an unreadable video, no face found, ...: report it and go on
            print(f"skipped: {e}", file=sys.stderr)
            failed += 1
            continue
        # Keep the folder structure, so two videos with the same name in different folders do not collide.
        target = (args.output_dir / video.relative_to(args.folder)).with_suffix(f".{args.format}")
        write_subtitles(transcript.words, target, args.format)
        print(f"{target}: {transcript.text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
