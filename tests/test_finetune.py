"""tools/finetune.py: the fine-tune experiments' weights written back as a checkpoint lipread reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from script_module import load_script

torch = pytest.importorskip("torch", reason="the fine-tunes train with PyTorch")

from lipread.weights import load_checkpoint  # noqa: E402
from lipread_torch.model import LipNet  # noqa: E402
from lipread_torch.wrapper import assign_canonical  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "lipread" / "models" / "lipnet-grid-s1.safetensors"


def test_saved_weights_come_back_as_the_model_they_were(tmp_path: Path) -> None:
    tool = load_script(ROOT / "tools" / "finetune.py")
    shipped = load_checkpoint(SHIPPED)
    net = LipNet(shipped.config)
    assign_canonical(net, shipped.tensors, str(SHIPPED))
    with torch.no_grad():
        net.classifier.bias += 1.0  # a fine-tune changed it
    torch.save(net.state_dict(), tmp_path / "e1.pt")
    written = load_checkpoint(tool.save(tmp_path / "e1.pt", SHIPPED, tmp_path / "e1.safetensors"))
    assert written.config == shipped.config and written.config.decoder == shipped.config.decoder
    before, after = shipped.as_float32(), written.as_float32()
    assert after.keys() == before.keys()
    for name, value in before.items():
        expected = value + 1.0 if name == "classifier.bias" else value
        np.testing.assert_allclose(after[name], expected, rtol=1e-6, atol=1e-6, err_msg=name)
