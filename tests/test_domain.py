"""lipread.transcription.domain: the domain score and flag of a clip, the word-confidence calibration, the
statistics a model file carries, and tools/domain_stats.py, which writes them."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from script_module import load_script

import lipread
from lipread.cli.app import main
from lipread.config import LIPNET
from lipread.data.dataset import find_clips, split_clips
from lipread.models import SHIPPED
from lipread.transcription.domain import (
    COMPONENTS,
    FEATURES,
    FLAG_SHARE,
    SPAN_MARGIN,
    WARNING,
    ClipSummary,
    DomainStats,
    _chi2_tail,
    calibrate_confidence,
    expected_calibration_error,
    fit_confidence,
    speech_frames,
    summarise,
    word_hits,
)
from lipread.transcription.domain_fit import MeasuredClip, fit_statistics, load_measurements, save_measurements
from lipread.weights import load_checkpoint, read_metadata, save_checkpoint

TOOL = Path(__file__).resolve().parents[1] / "tools" / "domain_stats.py"
MODEL = SHIPPED["lipnet-grid-s1"]


def _tool():  # type: ignore[no-untyped-def]
    return load_script(TOOL)


def _summaries(n: int, seed: int = 0, shift: float = 0.0) -> list[ClipSummary]:
    """Clips of a made-up training set: crops around one mouth, posteriors of a confident model."""
    rng = np.random.default_rng(seed)
    mouth = np.linspace(-1, 1, 600)
    out = []
    for _ in range(n):
        crop = mouth + shift + 0.1 * rng.standard_normal(600) + rng.standard_normal() * np.sin(np.arange(600) / 30)
        peak = float(np.clip(0.9 + 0.03 * rng.standard_normal(), 0.5, 0.999))
        out.append(
            ClipSummary(
                crop,
                float(0.3 + 0.02 * rng.standard_normal()),
                0.6 + 0.05 * rng.standard_normal(),
                peak,
                0.3 + 0.05 * rng.standard_normal(),
            )
        )
    return out


# --- the pieces ---------------------------------------------------------------------------------------------


def _chi2_reference(x: float, dof: int) -> float:
    """The chi-square tail in closed form: Q(1, z) = exp(-z) or Q(1/2, z) = erfc(sqrt(z)), then
    Q(a + 1, z) = Q(a, z) + z**a exp(-z) / Gamma(a + 1)."""
    z = x / 2
    a, q = (1.0, math.exp(-z)) if dof % 2 == 0 else (0.5, math.erfc(math.sqrt(z)))
    while 2 * a < dof:
        q += math.exp(a * math.log(z) - z - math.lgamma(a + 1))
        a += 1
    return q


def test_chi2_tail_known_values() -> None:
    assert _chi2_tail(3.841458820694124, 1) == pytest.approx(0.05, abs=1e-12)
    assert _chi2_tail(18.307038053275146, 10) == pytest.approx(0.05, abs=1e-12)
    for dof in (1, 2, 3, 8, 13):
        for x in (1e-6, 0.5, 3.0, 13.0, 45.0, 70.0, 300.0, 1e4, 1e6):  # both sides of the mean, and far out
            expected = _chi2_reference(x, dof)
            assert _chi2_tail(x, dof) == pytest.approx(expected, rel=1e-9, abs=1e-14), (dof, x)
    assert _chi2_tail(0.0, 13) == 1.0 and _chi2_tail(1e6, 13) == 0.0
    assert _chi2_tail(float("nan"), 13) == 0.0


def test_summarise_measures_input_and_posteriors() -> None:
    lp = np.log(np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1]]))
    frames = np.zeros((2, 50, 100, 3), np.float32)
    frames[1] += 1.0
    s = summarise(frames, lp)
    assert s.blank == 0.5 and s.peak == pytest.approx(0.8)
    h = [-(p * np.log(p)).sum() for p in np.exp(lp)]
    assert s.entropy == pytest.approx(np.mean(h))
    assert s.motion == pytest.approx(1.0) and s.crop is not None and s.crop.shape == (10 * 20 * 3,)
    assert np.allclose(s.crop, 0.5)
    assert summarise(None, lp).crop is None and summarise(None, lp).motion is None


def test_summarise_says_whether_the_input_has_colour() -> None:
    """The channels of a black-and-white video are equal, or nearly so (its chroma rounded by the encoder)."""
    lp = np.log(np.full((4, 3), 1 / 3))
    rng = np.random.default_rng(0)
    luma = rng.standard_normal((4, 50, 100, 1)).astype(np.float32)
    grey = np.repeat(luma, 3, axis=-1)
    assert summarise(grey, lp).grey and summarise(grey + rng.normal(0, 0.05, grey.shape), lp).grey
    colour = grey + np.array([0.8, -0.4, -0.4], np.float32)  # lips redder than the skin, as any colour mouth
    assert not summarise(colour, lp).grey
    assert not summarise(luma, lp).grey and not summarise(None, lp).grey  # one channel: a grey model's input


def _blank_row(v: int = 3) -> np.ndarray:
    return np.log(np.array([0.97] + [0.03 / (v - 1)] * (v - 1)))


def test_the_speech_frames_keep_a_margin_around_the_speech() -> None:
    speech = np.log(np.array([0.1, 0.8, 0.1]))
    lp = np.stack([_blank_row()] * 30 + [speech] * 4 + [_blank_row()] * 3 + [speech] + [_blank_row()] * 40)
    assert np.array_equal(np.flatnonzero(speech_frames(lp)), np.arange(30 - SPAN_MARGIN, 38 + SPAN_MARGIN))
    assert np.array_equal(np.flatnonzero(speech_frames(lp[28:])), np.arange(0, 10 + SPAN_MARGIN))  # clipped
    assert np.array_equal(np.flatnonzero(speech_frames(lp, margin=0)), [30, 31, 32, 33, 37])
    assert speech_frames(np.stack([_blank_row()] * 9)).all()  # no speech heard: every frame
    # two sentences with a pause between them: the pause, beyond the margins, is not measured
    two = np.concatenate([lp, lp])
    kept = np.flatnonzero(speech_frames(two))
    second = np.arange(78 + 30 - SPAN_MARGIN, 78 + 38 + SPAN_MARGIN)
    assert np.array_equal(kept, np.concatenate([np.arange(30 - SPAN_MARGIN, 38 + SPAN_MARGIN), second]))


def test_a_clip_of_several_sentences_measures_as_one_of_them() -> None:
    """The same sentence said twice, with a still, silent pause between, measures as the sentence once: the
    motion is taken only between two measured frames, so the jump across the pause does not count."""
    rng = np.random.default_rng(1)
    v = 5
    speech = np.log(rng.dirichlet(np.ones(v) * 0.3, size=20) * 0.9 + 0.02)
    speech[::2, 0] = -10.0
    pause = np.stack([_blank_row(v)] * 30)
    lp = np.concatenate([pause[:8], speech, pause[:8]])
    frames = rng.standard_normal((len(lp), 50, 100, 3)).astype(np.float32)
    twice_lp = np.concatenate([lp, pause, lp])
    twice = np.concatenate([frames, np.repeat(frames[-1:], 30, 0) + 5.0, frames])
    a, b = summarise(frames, lp), summarise(twice, twice_lp)
    assert (a.blank, a.peak, a.entropy, a.motion) == pytest.approx((b.blank, b.peak, b.entropy, b.motion))
    assert a.crop is not None and b.crop is not None and np.allclose(a.crop, b.crop)


@given(st.integers(0, 60), st.integers(0, 60))
def test_still_silent_frames_around_the_speech_change_no_measurement(before: int, after: int) -> None:
    """A clip with more still, silent frames before and after its speech (as users' videos have) measures the
    same as the clip itself."""
    rng = np.random.default_rng(0)
    v = 5
    speech = np.log(rng.dirichlet(np.ones(v) * 0.3, size=20) * 0.9 + 0.02)
    speech[::2, 0] = -10.0  # words heard in every other frame
    silent = np.stack([_blank_row(v)] * (SPAN_MARGIN + 1))
    lp = np.concatenate([silent, speech, silent])
    frames = rng.standard_normal((len(lp), 50, 100, 3)).astype(np.float32)
    frames[: SPAN_MARGIN + 1] = frames[SPAN_MARGIN + 1]  # still before and after the speech, as filmed
    frames[-(SPAN_MARGIN + 1) :] = frames[-(SPAN_MARGIN + 2)]
    blank = _blank_row(v)[None]
    padded_lp = np.concatenate([np.repeat(blank, before, 0), lp, np.repeat(blank, after, 0)])
    padded = np.concatenate([np.repeat(frames[:1], before, 0), frames, np.repeat(frames[-1:], after, 0)])
    a, b = summarise(frames, lp), summarise(padded, padded_lp)
    assert (a.blank, a.peak, a.entropy, a.motion) == pytest.approx((b.blank, b.peak, b.entropy, b.motion))
    assert a.crop is not None and b.crop is not None and np.allclose(a.crop, b.crop)


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.8] * 10, [True] * 8 + [False] * 2) == pytest.approx(0.0)
    assert expected_calibration_error([1.0] * 4, [True, False, True, False]) == pytest.approx(0.5)
    assert expected_calibration_error([0.15, 0.95], [False, True]) == pytest.approx((0.15 + 0.05) / 2)
    assert expected_calibration_error([], []) == 0.0


def test_fit_confidence_recovers_a_known_calibration() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0.05, 0.95, 20000)
    truth = 1 / (1 + np.exp(-(2.0 * np.log(raw / (1 - raw)) + 1.0)))
    hits = rng.uniform(size=raw.size) < truth
    a, b = fit_confidence(raw, hits)
    assert a == pytest.approx(2.0, abs=0.1) and b == pytest.approx(1.0, abs=0.1)
    before = expected_calibration_error(raw, hits)
    after = expected_calibration_error([calibrate_confidence(c, (a, b)) for c in raw], hits)
    assert after < 0.02 < before
    assert calibrate_confidence(0.37, None) == 0.37


def test_word_hits_follow_an_optimal_alignment() -> None:
    ref = ["bin", "blue", "at", "f", "two", "now"]
    assert word_hits(ref, ["bin", "red", "at", "f", "two"]) == [True, False, True, True, True]
    assert word_hits(ref, ["bin", "blue", "at", "at", "f", "two", "now"]).count(False) == 1
    assert word_hits(ref, []) == []


def test_statistics_flag_unlike_clips_and_survive_json() -> None:
    train = _summaries(300)
    stats = DomainStats.fit(train)
    assert stats.mean.shape == (len(FEATURES),) and stats.components.shape == (COMPONENTS, 600)
    flagged = sum(not stats.judge(s)[1] for s in train)
    assert flagged == math.floor(FLAG_SHARE * len(train))
    like = _summaries(50, seed=1)
    assert sum(not stats.judge(s)[1] for s in like) <= 2
    unlike = _summaries(5, seed=2, shift=0.5)  # another mouth: every crop moved
    assert all(stats.judge(s) == (pytest.approx(0.0, abs=1e-9), False) for s in unlike)
    nonsense = [ClipSummary(s.crop, s.motion, 0.2, 0.4, 1.5) for s in like[:5]]  # unsure, few blanks
    assert not any(stats.judge(s)[1] for s in nonsense)
    posteriors_only = ClipSummary(None, None, like[0].blank, like[0].peak, like[0].entropy)
    assert 0.0 < stats.score(posteriors_only) <= 1.0 and stats.distance2(posteriors_only)[1] == 3

    back = DomainStats.from_json(json.loads(json.dumps(stats.to_json())))
    assert back is not None and back.threshold == stats.threshold and back.clips == 300
    for s in like[:5] + unlike:
        assert back.score(s) == pytest.approx(stats.score(s), rel=1e-2, abs=1e-12)  # 6 digits stored


def test_a_clip_without_colour_is_judged_against_the_grey_statistics() -> None:
    colour_train, grey_train = _summaries(300), _summaries(300, seed=3, shift=0.5)  # grey mouths look different
    grey_like = [dataclasses.replace(s, grey=True) for s in _summaries(20, seed=4, shift=0.5)]
    plain = DomainStats.fit(colour_train)
    assert not any(plain.judge(s)[1] for s in grey_like)  # a model that never read grey: flagged
    stats = dataclasses.replace(plain, grey=DomainStats.fit(grey_train))
    assert sum(stats.judge(s)[1] for s in grey_like) >= 18
    assert not any(stats.judge(dataclasses.replace(s, grey=False))[1] for s in grey_like)  # colour, unlike
    like = _summaries(20, seed=1)
    assert [stats.judge(s) for s in like] == [plain.judge(s) for s in like]  # colour clips as before
    back = DomainStats.from_json(json.loads(json.dumps(stats.to_json())))
    assert back is not None and back.grey is not None and back.grey.clips == 300
    assert [back.judge(s)[1] for s in grey_like] == [stats.judge(s)[1] for s in grey_like]
    broken = {**stats.to_json(), "grey": {"version": 99}}
    restored = DomainStats.from_json(broken)
    assert restored is not None and restored.grey is None  # the colour statistics still judge
    assert "grey" not in plain.to_json()


def test_statistics_of_another_kind_are_ignored() -> None:
    good = DomainStats.fit(_summaries(60)).to_json()
    assert DomainStats.from_json(None) is None and DomainStats.from_json("x") is None
    assert DomainStats.from_json({**good, "version": 99}) is None
    assert DomainStats.from_json({**good, "features": ["a"]}) is None
    assert DomainStats.from_json({**good, "mean": [1.0, 2.0]}) is None
    assert DomainStats.from_json({k: v for k, v in good.items() if k != "covariance"}) is None
    with pytest.raises(ValueError, match="too few"):
        DomainStats.fit(_summaries(5))


def test_measurements_round_trip(tmp_path: Path) -> None:
    measured = [
        MeasuredClip(
            f"s1_{i}",
            s,
            {"grammar": (0.9, 0.4), "beam": (0.9, 0.4, 0.2)[: 1 + i % 3]},
            {"grammar": (True, i % 2 == 0), "beam": (True, False, i % 5 == 0)[: 1 + i % 3]},
        )
        for i, s in enumerate(_summaries(40))
    ]
    save_measurements(tmp_path / "m.npz", measured)
    back = load_measurements(tmp_path / "m.npz")
    assert [m.key for m in back] == [m.key for m in measured]
    assert all(a.hits == b.hits and a.confidences == b.confidences for a, b in zip(back, measured))
    stats = fit_statistics(back)
    assert set(stats.confidence) == {"grammar", "beam"} and stats.calibration("greedy") is None
    assert stats.calibration("beam") != stats.calibration("grammar")  # each decoder's words fit their own
    assert fit_statistics(back, calibrate=False).confidence == {}
    assert set(fit_statistics(back, decoders=["beam"]).confidence) == {"beam"}
    again = DomainStats.from_json(json.loads(json.dumps(stats.to_json())))
    assert again is not None and again.confidence == stats.confidence


# --- model files --------------------------------------------------------------------------------------------


def test_tool_rewrites_only_the_checkpoint_header(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {"a.weight": rng.standard_normal((3, 5)).astype(np.float32), "b": np.arange(7, dtype=np.float64)}
    path = save_checkpoint(tmp_path / "m.safetensors", tensors, LIPNET, trained_on={"data": "x"}, metrics={"e": 1})
    before = path.read_bytes()
    stats = DomainStats.fit(_summaries(60))
    _tool().write_statistics([path], stats)
    after = path.read_bytes()
    n0, n1 = (int.from_bytes(b[:8], "little") for b in (before, after))
    assert before[8 + n0 :] == after[8 + n1 :] and n1 % 8 == 0  # the tensor bytes, still 8-byte aligned
    meta = read_metadata(path)
    assert meta["trained_on"]["data"] == "x" and meta["metrics"] == {"e": 1} and meta["config"] == LIPNET
    assert DomainStats.from_json(meta["trained_on"]["domain"]) is not None
    loaded = load_checkpoint(path)
    assert all(np.array_equal(loaded.tensors[k], v) for k, v in tensors.items())


def test_tool_rewrites_only_the_onnx_metadata(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    from tiny_onnx import write_tiny_model

    from lipread.onnx.metadata import parse_metadata

    path = write_tiny_model(tmp_path / "tiny.onnx")
    graph = onnx.load(str(path)).graph.SerializeToString()
    _tool().write_statistics([path], DomainStats.fit(_summaries(60)))
    model = onnx.load(str(path))
    assert model.graph.SerializeToString() == graph
    meta = parse_metadata({p.key: p.value for p in model.metadata_props}, str(path))
    assert DomainStats.from_json(meta["trained_on"]["domain"]) is not None


def test_a_model_without_statistics_gives_no_score(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tiny_onnx import write_tiny_model

    from lipread.video.mouth import Box, FixedCrop

    frames = np.random.default_rng(0).integers(0, 255, (30, 120, 160, 3), dtype=np.uint8)
    runner = lipread.Transcriber(write_tiny_model(tmp_path / "tiny.onnx"), locator=FixedCrop(Box(10, 60, 20, 120)))
    t = runner.transcribe(frames)
    assert runner.domain is None and t.domain_score is None and t.in_domain is None
    d = t.to_dict()
    assert d["domain_score"] is None and d["in_domain"] is None


def test_shipped_model_carries_statistics_in_both_files() -> None:
    pytest.importorskip("onnxruntime")
    checkpoint = read_metadata(MODEL.file("checkpoint"))["trained_on"]["domain"]
    exported = lipread.load_model(MODEL.file("onnx")).trained_on["domain"]  # type: ignore[attr-defined]
    assert checkpoint == exported
    stats = DomainStats.from_json(checkpoint)
    assert stats is not None and stats.clips == 810 and set(stats.confidence) == {"grammar"}  # the model's own
    assert stats.grey is not None and stats.grey.clips == 810  # it was trained on clips made grey too


# --- the shipped model on real clips -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> lipread.Transcriber:
    pytest.importorskip("onnxruntime")
    return lipread.Transcriber(MODEL.file("onnx"))


def test_speaker_1_validation_clips_are_in_domain(shipped: lipread.Transcriber, grid_root: Path) -> None:
    _, val = split_clips(find_clips(grid_root), "random", 0.1, 0)
    for clip in val[:2]:
        t = shipped.transcribe(clip.video)
        assert t.in_domain is True and t.domain_score is not None and t.domain_score > 1e-3


def test_a_validation_clip_with_a_still_second_either_side_is_in_domain(
    shipped: lipread.Transcriber, grid_root: Path
) -> None:
    """The speech is measured, not the still frames around it: users' videos start and end with more of them."""
    from lipread.video.reader import read_frames

    _, val = split_clips(find_clips(grid_root), "random", 0.1, 0)
    # Measured over the whole clip, as before, about half the validation clips were flagged this way.
    for clip in val[:6]:
        frames = read_frames(clip.video)
        still = np.concatenate([np.repeat(frames[:1], 25, 0), frames, np.repeat(frames[-1:], 25, 0)])
        assert shipped.transcribe(still, 25.0).in_domain is True, clip.key


def test_measure_clips_reads_training_clips_as_transcribe_does(shipped: lipread.Transcriber, grid_root: Path) -> None:
    from lipread.transcription.domain_fit import measure_clips

    train, _ = split_clips(find_clips(grid_root), "random", 0.1, 0)
    measured = measure_clips(shipped, train[:2], decoders=["grammar", "greedy"])
    assert [m.key for m in measured] == [c.key for c in train[:2]]
    for m, clip in zip(measured, train):
        assert shipped.domain is not None and shipped.domain.judge(m.summary)[1]
        assert set(m.confidences) == set(m.hits) == {"grammar", "greedy"}
        assert len(m.confidences["grammar"]) == len(m.hits["grammar"]) == 6  # a GRID sentence
        t = shipped.transcribe(clip.video)
        assert t.domain_score == pytest.approx(shipped.domain.score(m.summary), rel=1e-6)
        assert sum(m.hits["grammar"]) == sum(word_hits(clip.text.split(), t.text.split()))


def test_black_and_white_clips_read_by_a_model_trained_on_grey_are_in_domain(
    shipped: lipread.Transcriber, grid_root: Path
) -> None:
    """Judged against the colour clips, every validation clip made grey was flagged, though the shipped model
    reads them (9.6% grammar WER): its statistics carry the training clips made grey for them."""
    from lipread.data.augmentation import greyed
    from lipread.transcription.domain_fit import measure_clips
    from lipread.video.reader import read_frames

    train, val = split_clips(find_clips(grid_root), "random", 0.1, 0)
    measured = measure_clips(shipped, train[:2], grey=True)
    assert shipped.domain is not None and shipped.domain.grey is not None
    assert all(m.summary.grey and shipped.domain.judge(m.summary)[1] for m in measured)
    colour_only = dataclasses.replace(shipped.domain, grey=None)
    assert not any(colour_only.judge(m.summary)[1] for m in measured)
    # Of all 90 validation clips made grey, 2 are flagged (benchmarks/domain.py); of these 8, one, which the
    # model misreads in four words of six.
    read = [shipped.transcribe(greyed(read_frames(clip.video)), 25.0) for clip in val[:8]]
    assert sum(t.in_domain is True for t in read) >= 7


def test_other_speakers_are_flagged(shipped: lipread.Transcriber, grid_root: Path) -> None:
    other = grid_root / "mpg" / "brbk7n.mpg"
    faces = grid_root / "faces" / "s4" / "bbie7p"
    if not other.is_file() or not faces.is_dir():
        pytest.skip("the other speakers' clips are not in the shared data")
    for path in (other, faces):
        t = shipped.transcribe(path)
        assert t.in_domain is False and t.domain_score is not None and t.domain_score < shipped.domain.threshold


def test_word_confidences_are_calibrated_for_their_decoder(shipped: lipread.Transcriber, grid_clip: Path) -> None:
    clip = shipped.prepare(grid_clip)
    assert shipped.domain is not None and shipped.domain.calibration("lexicon") is None
    for decoder in ("grammar", "beam", "lexicon"):
        calibrated = lipread.Transcriber(shipped.model, decoder=decoder).run([clip])[0]
        plain = lipread.Transcriber(shipped.model, decoder=decoder)
        plain.domain = None
        raw = plain.run([clip])[0]
        expected = [calibrate_confidence(w.confidence, shipped.domain.calibration(decoder)) for w in raw.words]
        assert [w.confidence for w in calibrated.words] == pytest.approx(expected, abs=1e-12)
        assert raw.in_domain is None and calibrated.in_domain is True
    assert expected == [w.confidence for w in raw.words]  # lexicon: no calibration, the raw figure


def test_the_cli_warns_and_writes_both_fields(grid_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("onnxruntime")
    other = grid_root / "mpg" / "brbk7n.mpg"
    if not other.is_file():
        pytest.skip(f"{other} not found")
    assert main(["transcribe", str(other), "--format", "json"]) == 0  # a warning does not change the status
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["in_domain"] is False and 0.0 <= record["domain_score"] < 1e-3
    assert f"lipread: warning: {other}: {WARNING}" in err.splitlines()
