"""The shipped default model, when this build carries it: its card, what it reads, and the same outputs from
its ONNX model and its checkpoint in every backend."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

import lipread
from lipread.backend import get_backend
from lipread.cli.eval import boundary_errors
from lipread.data.align import load_alignment
from lipread.data.dataset import find_clips, split_clips
from lipread.data.metrics import summarise
from lipread.models import DEFAULT_MODEL, SHIPPED
from lipread.onnx.metadata import parse_metadata
from lipread.video.preprocess import load_clip
from lipread.weights import read_metadata

MODEL = SHIPPED[DEFAULT_MODEL]

pytestmark = pytest.mark.skipif(
    not MODEL.has("onnx"), reason=f"this build of lipread ships no {DEFAULT_MODEL} (lipread/models/)"
)


def test_every_file_and_the_card_ship() -> None:
    assert MODEL.has("checkpoint") and MODEL.has("int8") and MODEL.has("card")
    assert sum(MODEL.file(kind).stat().st_size for kind in ("onnx", "checkpoint", "int8")) <= 25e6  # the size limit
    card = " ".join(MODEL.file("card").read_text().split())
    assert "It is not a general lip reader" in card
    assert "Creative Commons Attribution 4.0" in card
    assert "lipread train" in card
    for decoder in ("greedy", "beam", "grammar"):
        assert f"| {decoder} |" in card


def test_names_the_grammar_decoder_in_both_files() -> None:
    """Its card recommends the grammar decoder (WER 10.6% against 17.2% with plain beam search on the
    validation clips), so both shipped files name it and transcribe() uses it by default."""
    assert read_metadata(MODEL.file("checkpoint"))["config"].decoder == "grammar"
    onnx = pytest.importorskip("onnx")
    model = onnx.load(str(MODEL.file("onnx")), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    assert parse_metadata(props, "shipped")["config"].decoder == "grammar"


@pytest.mark.onnx
def test_reads_validation_clips(grid_root: Path) -> None:
    """A floor that a broken model or a preprocessing mismatch falls through, not the card's figures."""
    pytest.importorskip("onnxruntime")
    val = split_clips(find_clips(grid_root), "random", 0.1, 0)[1][:6]
    transcripts = lipread.transcribe([c.video for c in val], backend="onnx")
    assert isinstance(transcripts, list)
    texts = [t.text for t in transcripts]
    assert all(len(text.split()) == 6 for text in texts)  # the grammar decoder reads whole GRID sentences
    assert summarise([c.text for c in val], texts)["wer"] <= 0.5
    assert all(t.model == DEFAULT_MODEL and t.backend == "onnx" and t.decoder == "grammar" for t in transcripts)
    # Word times follow the speaker (a model trained with plain CTC was 550 / 710 ms off at starts / ends).
    starts: list[float] = []
    ends: list[float] = []
    for clip, t in zip(val, transcripts):
        assert clip.alignment is not None
        clip_starts, clip_ends = boundary_errors(t.words, load_alignment(clip.alignment).words)
        starts += clip_starts
        ends += clip_ends
    assert len(starts) >= 18  # at least three clips with all six words
    assert statistics.median(starts) <= 0.2 and statistics.median(ends) <= 0.2


@pytest.mark.onnx
@pytest.mark.parametrize("times", [4, 5])
def test_a_long_video_of_several_sentences_reads_as_each_of_them(times: int) -> None:
    """The grammar decoder writes as many GRID sentences as are said: the demo clip said over again for 12 or 15 s
    (read in windows) reads as that many sentences, each the clip's own reading."""
    pytest.importorskip("onnxruntime")
    from lipread.data.demo import demo_clip
    from lipread.video.reader import read_frames

    frames = read_frames(demo_clip())
    once = lipread.transcribe(frames, backend="onnx")
    assert isinstance(once, lipread.Transcript) and len(once.text.split()) == 6
    several = lipread.transcribe(np.concatenate([frames] * times), backend="onnx")
    assert isinstance(several, lipread.Transcript) and several.decoder == "grammar"
    assert several.text == " ".join([once.text] * times)
    starts = [w.start for w in several.words[::6]]
    assert all(abs(s - i * len(frames) / 25 - once.words[0].start) < 0.2 for i, s in enumerate(starts))
    assert not several.warnings


@pytest.mark.onnx
def test_the_int8_model_reads_as_the_float32_one(grid_root: Path) -> None:
    """``--precision int8`` runs the int8 file: the same model, rounded, so nearly the same words."""
    pytest.importorskip("onnxruntime")
    val = split_clips(find_clips(grid_root), "random", 0.1, 0)[1][:6]
    fp32 = lipread.transcribe([c.video for c in val], model=MODEL.file("onnx"))
    int8 = lipread.transcribe([c.video for c in val], model=MODEL.file("int8"))
    assert isinstance(fp32, list) and isinstance(int8, list)
    assert lipread.Transcriber(MODEL.file("int8")).config == lipread.Transcriber(MODEL.file("onnx")).config
    differ = sum(a != b for x, y in zip(fp32, int8) for a, b in zip(x.text.split(), y.text.split()))
    assert all(t.decoder == "grammar" for t in int8)  # the default decoder the other two files name
    assert all(len(t.text.split()) == 6 for t in int8) and differ <= 2  # of 36 words
    assert all(x.in_domain and y.in_domain for x, y in zip(fp32, int8))  # the statistics are in the int8 file too


@pytest.mark.parity
@pytest.mark.parametrize("backend", ["torch", "tensorflow"])
def test_checkpoint_gives_the_onnx_models_outputs(backend: str, grid_clip: Path) -> None:
    """The design's contract: the same log-probabilities in every backend (within 1e-4 on GRID frames)."""
    onnx = get_backend("onnx").load(MODEL.file("onnx"))
    other = get_backend(backend).load(MODEL.file("checkpoint"))
    assert other.config == onnx.config
    x = load_clip(grid_clip, onnx.config)[None]
    lengths = np.array([x.shape[1]], np.int64)
    assert np.abs(other.logprobs(x, lengths) - onnx.logprobs(x, lengths)).max() <= 1e-4
