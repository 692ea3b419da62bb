"""tools/build_default_model.py: the shipped model's files and card from a training run, numbers measured."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from lipread.config import ConvBlock, get_preset  # noqa: E402
from lipread.weights import load_checkpoint, save_checkpoint  # noqa: E402
from lipread_torch import backend  # noqa: E402
from lipread_torch.wrapper import canonical_state  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.onnx, pytest.mark.slow]

TOOL = Path(__file__).resolve().parents[1] / "tools" / "build_default_model.py"
SMALL = get_preset("lipnet").with_(
    name="lipnet-small",
    frontend=(ConvBlock(4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), batchnorm=True, pool=(1, 4, 4)),),
    rnn_hidden=8,
    rnn_layers=1,
)


def _tool():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("build_default_model", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_builds_files_and_a_measured_card(grid_root: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    model = backend.build(SMALL, seed=0)
    tensors = {k: v.detach().numpy() for k, v in canonical_state(model.module).items()}
    save_checkpoint(run / "best.safetensors", tensors, SMALL, trained_on={"data": "grid"}, metrics={"epoch": 2})
    (run / "history.jsonl").write_text("".join(json.dumps({"epoch": e}) + "\n" for e in (1, 2, 3)))
    out = tmp_path / "models"

    results = _tool().build(run, grid_root, ["lipread train grid -o run"], out, "m", max_clips=2)

    shipped = load_checkpoint(out / "m.safetensors")
    assert shipped.config == SMALL and shipped.trained_on == {"data": "grid"}
    assert all(v.dtype == np.float16 for v in shipped.tensors.values() if v.dtype.kind == "f")
    assert (out / "m.onnx").stat().st_size < (run / "best.safetensors").stat().st_size
    assert 0 < results["parity"] < 1e-2
    assert results["epochs"] == 3 and results["selected_epoch"] == 2
    assert set(results["eval"]) == {"greedy", "beam", "grammar"}
    card = " ".join((out / "m.md").read_text().split())  # words, whatever the line breaks
    assert "It is not a general lip reader" in card and "Creative Commons Attribution 4.0" in card
    assert "lipread train grid -o run" in card and "3 epochs" in card and "epoch 2," in card
    for decoder, e in results["eval"].items():
        assert e["clips"] == 2 and e["backend"] == "onnx"
        assert f"| {decoder} | {100 * e['cer']:.1f}% | {100 * e['wer']:.1f}% |" in card
