"""The canonical checkpoint: round trip, and CheckpointError (never running code) for anything else."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from lipread.config import get_preset
from lipread.errors import CheckpointError
from lipread.fixed16 import from_fixed16, to_fixed16
from lipread.vocab import Vocabulary
from lipread.weights import SCALE_SUFFIX, load_checkpoint, read_metadata, save_checkpoint

CONFIG = get_preset("lipnet").with_(rnn_hidden=8)


def _tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "frontend.0.conv.weight": rng.standard_normal((4, 3, 3, 5, 5)).astype(np.float32),
        "frontend.0.bn.num_batches_tracked": np.array(7, np.int64),
        "classifier.bias": rng.standard_normal(28).astype(np.float32),
    }


@pytest.mark.parametrize("dtype", [None, "float16"])
def test_round_trip(tmp_path: Path, dtype: str | None) -> None:
    tensors = _tensors()
    path = save_checkpoint(
        tmp_path / "sub" / "model.safetensors",
        tensors,
        CONFIG,
        trained_on={"data": "GRID s1", "clips": 810},
        metrics={"val_wer": 0.25},
        dtype=dtype,
    )
    assert path.is_file() and not list(path.parent.glob(".*tmp*"))
    ckpt = load_checkpoint(path, expect=CONFIG)
    assert ckpt.config == CONFIG
    assert ckpt.trained_on == {"data": "GRID s1", "clips": 810}
    assert ckpt.metrics == {"val_wer": 0.25}
    assert set(ckpt.tensors) == set(tensors)
    assert ckpt.tensors["frontend.0.bn.num_batches_tracked"].dtype == np.int64
    weight = ckpt.tensors["frontend.0.conv.weight"]
    assert weight.dtype == (np.float16 if dtype else np.float32)
    for name, value in ckpt.as_float32().items():
        if value.dtype.kind == "f":
            assert value.dtype == np.float32
            np.testing.assert_allclose(value, tensors[name], rtol=1e-3 if dtype else 0, atol=1e-3 if dtype else 0)
    meta = read_metadata(path)
    assert meta["format"] == "lipread" and meta["version"] == 1 and meta["config"] == CONFIG


def test_float16_halves_the_size(tmp_path: Path) -> None:
    big = {"w": np.ones((256, 256), np.float32)}
    full = save_checkpoint(tmp_path / "a.safetensors", big, CONFIG).stat().st_size
    half = save_checkpoint(tmp_path / "b.safetensors", big, CONFIG, dtype="float16").stat().st_size
    assert half < 0.55 * full


def test_fixed_point_tensors_are_read_back_as_float32(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    tensors = _tensors()
    name = "frontend.0.conv.weight"
    path = save_checkpoint(tmp_path / "m.safetensors", tensors, CONFIG, dtype="float16", fixed16=[name])
    raw = load_file(str(path))
    assert raw[name].dtype == np.int16 and raw[name + SCALE_SUFFIX].shape == (4,)
    assert raw["classifier.bias"].dtype == np.float16  # dtype still applies to the others
    ckpt = load_checkpoint(path)
    assert set(ckpt.tensors) == set(tensors)  # canonical names only
    weight = ckpt.tensors[name]
    assert weight.dtype == np.float32
    np.testing.assert_array_equal(weight, from_fixed16(*to_fixed16(tensors[name])))
    assert 0 < np.abs(weight - tensors[name]).max() < 1e-4 * np.abs(tensors[name]).max()
    big = {"w": np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)}
    full = save_checkpoint(tmp_path / "a.safetensors", big, CONFIG).stat().st_size
    fixed = save_checkpoint(tmp_path / "b.safetensors", big, CONFIG, fixed16=["w"]).stat().st_size
    assert fixed < 0.55 * full


def test_fixed_point_of_what_cannot_be(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not have"):
        save_checkpoint(tmp_path / "m.safetensors", _tensors(), CONFIG, fixed16=["rnn.0.forward.weight_ih_l0"])
    with pytest.raises(ValueError, match="floating-point"):
        save_checkpoint(tmp_path / "m.safetensors", _tensors(), CONFIG, fixed16=["frontend.0.bn.num_batches_tracked"])


@pytest.mark.parametrize("damage", ["orphan scale", "scale shape", "scale dtype", "values dtype"])
def test_malformed_fixed_point_is_a_checkpoint_error(tmp_path: Path, damage: str) -> None:
    from safetensors.numpy import load_file, save

    name = "frontend.0.conv.weight"
    path = save_checkpoint(tmp_path / "m.safetensors", _tensors(), CONFIG, fixed16=[name])
    raw = load_file(str(path))
    if damage == "orphan scale":
        raw["classifier.weight" + SCALE_SUFFIX] = np.ones(28, np.float32)
    elif damage == "scale shape":
        raw[name + SCALE_SUFFIX] = np.ones(3, np.float32)
    elif damage == "scale dtype":
        raw[name + SCALE_SUFFIX] = raw[name + SCALE_SUFFIX].astype(np.float16)
    else:
        raw[name] = raw[name].astype(np.float32)
    with open(path, "rb") as f:
        metadata = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    path.write_bytes(save(raw, metadata=metadata))
    with pytest.raises(CheckpointError, match="scale"):
        load_checkpoint(path)


def _not_checkpoints(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    from safetensors.numpy import save

    good = save_checkpoint(tmp_path / "good.safetensors", _tensors(), CONFIG)
    random_bytes = tmp_path / "random.safetensors"
    random_bytes.write_bytes(np.random.default_rng(1).bytes(4096))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:-100])
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(b"\x01\x02")
    plain = tmp_path / "plain.safetensors"
    plain.write_bytes(save({"w": np.zeros(3, np.float32)}))
    other = tmp_path / "other.safetensors"
    other.write_bytes(save({"w": np.zeros(3, np.float32)}, metadata={"format": "pt"}))
    future = tmp_path / "future.safetensors"
    future.write_bytes(save({"w": np.zeros(3, np.float32)}, metadata={"format": "lipread", "version": "2"}))
    bad_config = tmp_path / "bad_config.safetensors"
    bad_config.write_bytes(
        save({"w": np.zeros(3, np.float32)}, metadata={"format": "lipread", "version": "1", "config": '{"rnn": 1}'})
    )
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    return {
        "random": (random_bytes, "not a lipread checkpoint"),
        "truncated": (truncated, "truncated"),
        "tiny": (tiny, "too short"),
        "plain safetensors": (plain, "not a lipread checkpoint"),
        "other safetensors": (other, "not a lipread checkpoint"),
        "future version": (future, "version '2' is not supported"),
        "bad config": (bad_config, "invalid model config"),
        "missing": (tmp_path / "missing.safetensors", "not found"),
        "folder": (folder, "folder"),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "random",
        "truncated",
        "tiny",
        "plain safetensors",
        "other safetensors",
        "future version",
        "bad config",
        "missing",
        "folder",
    ],
)
def test_not_a_checkpoint(tmp_path: Path, kind: str) -> None:
    path, message = _not_checkpoints(tmp_path)[kind]
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


class _Payload:
    """Unpickling this creates ``marker`` (by calling ``open(marker, "w")``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def test_pickle_is_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    payload = pickle.dumps({"state_dict": _Payload(marker)})
    pickle.loads(payload)  # the payload works: unpickling it does create the marker
    assert marker.exists()
    marker.unlink()
    for name in ("model.ckpt", "model.pt", "model.safetensors"):
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(CheckpointError, match="not a lipread checkpoint"):
            load_checkpoint(path)
        with pytest.raises(CheckpointError):
            read_metadata(path)
    assert not marker.exists()


def test_config_other_than_expected(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.safetensors", _tensors(), CONFIG)
    with pytest.raises(CheckpointError, match="another configuration than expected"):
        load_checkpoint(path, expect=get_preset("lipnet"))
    with pytest.raises(CheckpointError, match="another configuration"):
        load_checkpoint(path, expect=get_preset("lipnet-notebook"))
    other = CONFIG.with_(vocabulary=Vocabulary(" abc", name="abc"), rnn_hidden=CONFIG.rnn_hidden + 1)
    with pytest.raises(CheckpointError) as caught:
        load_checkpoint(path, expect=other)
    said = str(caught.value).split("): ", 1)[1]  # what differs, named
    assert said.startswith(f"rnn_hidden {CONFIG.rnn_hidden}, not {CONFIG.rnn_hidden + 1}, vocabulary of 27 characters")
    assert said.endswith("not 4 ' abc'")


def test_metadata_is_plain_json(tmp_path: Path) -> None:
    """Other tools can read the metadata: the safetensors header is JSON with string values."""
    path = save_checkpoint(tmp_path / "m.safetensors", _tensors(), CONFIG, metrics={"cer": 0.1})
    data = path.read_bytes()
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    meta = header["__metadata__"]
    assert meta["format"] == "lipread" and meta["version"] == "1"
    assert json.loads(meta["config"])["name"] == "lipnet"
    assert json.loads(meta["vocabulary"])["name"] == "lipnet"
    assert json.loads(meta["metrics"]) == {"cer": 0.1}


def test_metadata_is_a_json_object_and_numpy_numbers_are_numbers(tmp_path: Path) -> None:
    from lipread.errors import ArgumentError
    from lipread.onnx.metadata import metadata_props, parse_metadata

    cfg = get_preset("lipnet")
    metrics = {"wer": np.float32(0.25), "clips": np.int64(90), "per_slot": np.array([0.5, 0.25])}
    path = save_checkpoint(tmp_path / "m.safetensors", _tensors(), cfg, metrics=metrics)
    assert load_checkpoint(path).metrics == {"wer": 0.25, "clips": 90, "per_slot": [0.5, 0.25]}
    assert parse_metadata(metadata_props(cfg, metrics=metrics), "m.onnx")["metrics"]["clips"] == 90
    for bad, message in (
        ({"trained_on": "grid"}, r"trained_on must be a dict \(a JSON object\), not str"),
        ({"metrics": {"when": object()}}, r"metrics holds a value JSON cannot write \(object\)"),
        ({"dtype": "int8"}, r"dtype must be 'float16', 'float32' or None, not 'int8'"),
        ({"fixed16": "classifier.bias"}, r"fixed16 is a collection of tensor names, not one string"),
    ):
        with pytest.raises(ArgumentError, match=message):
            save_checkpoint(tmp_path / "bad.safetensors", _tensors(), cfg, **bad)  # type: ignore[arg-type]
        assert not (tmp_path / "bad.safetensors").exists()
    with pytest.raises(ArgumentError, match="trained_on must be a dict"):
        metadata_props(cfg, trained_on="grid")  # type: ignore[arg-type]


def test_a_name_as_long_as_the_file_system_allows_is_written(tmp_path: Path) -> None:
    from lipread.weights import atomic_write

    longest = tmp_path / ("x" * 251 + ".gif")  # 255 bytes, the usual limit
    atomic_write(longest, b"GIF89a")
    assert longest.read_bytes() == b"GIF89a" and [p.name for p in tmp_path.iterdir()] == [longest.name]
