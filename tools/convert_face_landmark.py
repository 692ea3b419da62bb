"""Convert MediaPipe's face-mesh landmark model to the ONNX file lipread ships (``lipread/models/face_landmark.onnx``).

OpenCV cannot read the ``.tflite`` file itself, so it is converted once with tf2onnx and checked against
TensorFlow Lite's own interpreter on random and real inputs. Needs ``tensorflow`` and ``tf2onnx`` (the
``tf`` extra) and the ``mediapipe`` 0.10.14 wheel, which holds the model::

    pip download --no-deps mediapipe==0.10.14 -d /tmp/mp
    python tools/convert_face_landmark.py /tmp/mp/mediapipe-0.10.14-*.whl

Nothing here runs when lipread is used: the converted file ships inside the package.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mediapipe/modules/face_landmark/face_landmark.tflite"
OUT = Path(__file__).resolve().parents[1] / "lipread" / "models" / "face_landmark.onnx"


def convert(wheel: Path, out: Path = OUT) -> float:
    """Write ``out`` from the wheel's model; returns the largest output difference from TensorFlow Lite."""
    import cv2
    import tensorflow as tf
    import tf2onnx

    with tempfile.TemporaryDirectory() as tmp:
        tflite = Path(tmp) / "face_landmark.tflite"
        with zipfile.ZipFile(wheel) as z:
            tflite.write_bytes(z.read(MEMBER))
        tf2onnx.convert.from_tflite(str(tflite), opset=17, output_path=str(out))
        interpreter = tf.lite.Interpreter(model_path=str(tflite))
        interpreter.allocate_tensors()
        net = cv2.dnn.readNetFromONNX(str(out))
        worst = 0.0
        for seed in range(4):
            x = np.random.default_rng(seed).random((1, 192, 192, 3), dtype=np.float32)
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
            interpreter.invoke()
            expected = sorted((d["name"], interpreter.get_tensor(d["index"])) for d in interpreter.get_output_details())
            net.setInput(x)
            got = net.forward(["conv2d_21", "conv2d_31"])
            for (_, e), g in zip(expected, got):
                worst = max(worst, float(np.abs(e.reshape(-1) - g.reshape(-1)).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("wheel", type=Path, help="the mediapipe 0.10.14 wheel")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    worst = convert(args.wheel, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB); largest difference from TFLite: {worst:.2e}")
    return 0 if worst < 1e-2 else 1


if __name__ == "__main__":
    sys.exit(main())
