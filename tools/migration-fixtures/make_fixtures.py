#!/usr/bin/env python3
"""Make the migration test fixtures in crates/facegate-store/tests/fixtures/.

The importer (crates/facegate-store/src/import.rs) reads what face_recognition
users already have: an ``encodings.pickle`` written by ``pickle.dump`` of
``{"encodings": [numpy arrays], "names": [str]}`` (the layout of the common
face_recognition enrolment scripts), and a ``facebank.csv``. The fixtures are
real: 128-d face_recognition encodings of images from
``../shared/datasets/peers/face_recognition`` (MIT), pickled by real numpy.

Two steps, because the numpy module path inside a pickle depends on numpy's
major version (``numpy.core`` in 1.x, ``numpy._core`` in 2.x):

1. ``python make_fixtures.py encode`` (needs face_recognition, see
   tools/bench-face-recognition/requirements.txt) computes the encodings and
   writes ``expected.json``: names plus every float64 as its exact IEEE-754
   bit pattern (hex), so the Rust tests compare bit for bit, plus the CSVs.
2. ``python make_fixtures.py pickle`` (needs only numpy) reads
   ``expected.json`` and writes ``encodings_np<major>_p<protocol>.pickle`` for
   protocols 2 to 5, plus variants (one N×D array; float32; big-endian;
   Fortran order). Run it once with numpy 2.x and once with numpy 1.x (e.g.
   ``pip install numpy==1.26.4`` in a second venv).
"""
import json
import os
import pickle
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "crates", "facegate-store", "tests", "fixtures")
SHARED = os.environ.get("FACEGATE_SHARED", os.path.join(ROOT, "..", "shared"))
IMAGES = os.path.join(SHARED, "datasets", "peers", "face_recognition")

# (name, image) pairs; names repeat on purpose (two images of one person), and
# one name has non-ASCII characters and a comma to exercise UTF-8 and quoting.
SOURCES = [
    ("obama", "test_images/obama.jpg"),
    ("obama", "test_images/obama2.jpg"),
    ("biden", "test_images/biden.jpg"),
    ("Kit Harington", "examples/knn_examples/train/kit_harington/john1.jpeg"),
    ("Lacamoire, Álex", "examples/knn_examples/train/alex_lacamoire/img1.jpg"),
    ("rose_leslie", "examples/knn_examples/train/rose_leslie/img1.jpg"),
]


def f64_bits(x):
    return struct.pack(">d", float(x)).hex()


def from_bits(h):
    return struct.unpack(">d", bytes.fromhex(h))[0]


def encode():
    import csv

    import face_recognition

    names, encodings = [], []
    for name, rel in SOURCES:
        image = face_recognition.load_image_file(os.path.join(IMAGES, rel))
        found = face_recognition.face_encodings(image)  # HOG, 1 upsample, 1 jitter
        if len(found) != 1:
            sys.exit(f"{rel}: expected one face, got {len(found)}")
        names.append(name)
        encodings.append(found[0])
    expected = {
        "source": "face_recognition 1.3.0 face_encodings (dlib 20.0.1, face_recognition_models 0.3.0), num_jitters=1",
        "names": names,
        "encodings_f64_bits": [[f64_bits(v) for v in e] for e in encodings],
    }
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    # facebank.csv: header "name,e0..e127"; repr() is the shortest string
    # that parses back to the same float64.
    dim = len(encodings[0])
    with open(os.path.join(OUT, "facebank.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name"] + [f"e{i}" for i in range(dim)])
        for n, e in zip(names, encodings):
            w.writerow([n] + [repr(float(v)) for v in e])
    with open(os.path.join(OUT, "facebank_noheader.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        for n, e in zip(names, encodings):
            w.writerow([n] + [repr(float(v)) for v in e])
    # The pandas-style variant: one column holding a bracketed list.
    with open(os.path.join(OUT, "facebank_list.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "embedding"])
        for n, e in zip(names, encodings):
            w.writerow([n, "[" + ", ".join(repr(float(v)) for v in e) + "]"])
    print(f"wrote expected.json and 3 CSVs for {len(names)} faces")


def write_pickles():
    import numpy as np

    with open(os.path.join(OUT, "expected.json")) as f:
        expected = json.load(f)
    names = expected["names"]
    encodings = [np.array([from_bits(h) for h in e], dtype=np.float64) for e in expected["encodings_f64_bits"]]
    major = int(np.__version__.split(".")[0])
    for protocol in (2, 3, 4, 5):
        path = os.path.join(OUT, f"encodings_np{major}_p{protocol}.pickle")
        with open(path, "wb") as f:
            # Exactly what the face_recognition enrolment scripts do.
            pickle.dump({"encodings": encodings, "names": names}, f, protocol=protocol)
        print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")
    # Some scripts save one N×128 array instead of a list of arrays.
    path = os.path.join(OUT, f"encodings_np{major}_2d_p4.pickle")
    with open(path, "wb") as f:
        pickle.dump({"names": names, "encodings": np.stack(encodings)}, f, protocol=4)
    print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")
    # Less common array layouts: float32, big-endian float64 (protocol 2's
    # latin1-encoded bytes), and one Fortran-ordered N×D array (protocol 5's
    # _frombuffer with order "F").
    variants = {
        "f32_p4": ({"encodings": [e.astype(np.float32) for e in encodings], "names": names}, 4),
        "be_p2": ({"encodings": [e.astype(">f8") for e in encodings], "names": names}, 2),
        "fortran_p5": ({"encodings": np.asfortranarray(np.stack(encodings)), "names": names}, 5),
    }
    for tag, (obj, protocol) in variants.items():
        path = os.path.join(OUT, f"encodings_np{major}_{tag}.pickle")
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=protocol)
        print("wrote", os.path.relpath(path, ROOT), os.path.getsize(path), "bytes")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    step = sys.argv[1] if len(sys.argv) > 1 else ""
    if step == "encode":
        encode()
    elif step == "pickle":
        write_pickles()
    else:
        sys.exit("usage: make_fixtures.py encode|pickle")
