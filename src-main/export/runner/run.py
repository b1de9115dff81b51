#!/usr/bin/env python3
"""Scores images with an exported Argus model (this folder), as the station does.

Needs Python 3 with onnxruntime, numpy and Pillow (pip install onnxruntime numpy pillow).
Usage: python3 run.py <image or folder>... [--json] [--maps <dir>]
  prints CSV "file,score,verdict" (verdict under threshold.json: pass, review, fail, or unjudged);
  --json prints one JSON object a line instead, with the map's size; --maps writes each anomaly map
  as raw little-endian float32 (row-major, the picture's part of the model input) to <dir>/<file>.f32.
Images are decoded by Pillow rather than the station's libvips: lossless 8-bit and 16-bit grey files
(PNG, TIFF) give the same pixels; JPEG decoders may differ slightly, and Pillow reads 16-bit colour
images as 8-bit, where the station keeps 16 bits (see README.txt).
"""
import json
import math
import os
import sys

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"}


def decode(path):
    """HWC float32 RGB in [0, 1] (grey repeated into three channels, alpha dropped)."""
    img = Image.open(path)
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N"):  # Pillow opens 16-bit grey as I or I;16
        grey = np.asarray(img).astype(np.float64) / 65535.0
        return np.repeat(grey[:, :, None], 3, axis=2).astype(np.float32)
    if img.mode in ("1", "L", "LA"):
        grey = np.asarray(img.convert("L")).astype(np.float64) / 255.0
        return np.repeat(grey[:, :, None], 3, axis=2).astype(np.float32)
    if img.mode == "P":
        img = img.convert("RGBA")
    rgb = np.asarray(img.convert("RGB") if img.mode not in ("RGB", "RGBA") else img)[:, :, :3]
    return (rgb.astype(np.float64) / 255.0).astype(np.float32)


def _bicubic(x):
    a = -0.5
    t = abs(x)
    if t < 1:
        return ((a + 2) * t - (a + 3)) * t * t + 1
    if t < 2:
        return (((t - 5) * t + 8) * t - 4) * a
    return 0.0


def _sinc(v):
    return 1.0 if v == 0 else math.sin(v * math.pi) / (v * math.pi)


KERNELS = {
    "bilinear": (1, lambda x: 1 - abs(x) if abs(x) < 1 else 0.0),
    "bicubic": (2, _bicubic),
    "lanczos": (3, lambda x: _sinc(x) * _sinc(x / 3) if -3 <= x < 3 else 0.0),
}


def axis_matrix(in_size, out_size, filt):
    """[out_size, in_size]: output index d = sum_x m[d, x] * input[x] (preprocess.json "resample")."""
    m = np.zeros((out_size, in_size), dtype=np.float64)
    if in_size == out_size:
        return np.eye(in_size)
    if filt == "nearest":
        for d in range(out_size):
            m[d, min(int(math.floor((d + 0.5) * in_size / out_size)), in_size - 1)] = 1
        return m
    support, fn = KERNELS[filt]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = support * filterscale
    for d in range(out_size):
        center = (d + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        w = [fn((x - center + 0.5) / filterscale) for x in range(xmin, xmax)]
        total = sum(w)
        m[d, xmin:xmax] = [v / total for v in w] if total != 0 else w
    return m


def padded_axis(in_size, inner, size, filt):
    m = axis_matrix(in_size, inner, filt)
    return np.ascontiguousarray(m[[min(d, inner - 1) for d in range(size)]], dtype=np.float64)


def js_round(x):
    return int(math.floor(x + 0.5))


def resize_plan(width, height, pre):
    W, H = pre["input"]["width"], pre["input"]["height"]
    cw, ch = W, H
    if pre["resize"] != "stretch":  # 'letterbox', and 'tile': a tiled model's canvas is letterboxed
        scale = min(W / width, H / height)
        cw = min(W, max(1, js_round(width * scale)))
        ch = min(H, max(1, js_round(height * scale)))
    rows = padded_axis(height, ch, H, pre["filter"])
    cols = np.ascontiguousarray(padded_axis(width, cw, W, pre["filter"]).T)
    return rows, cols, (cw, ch)


def open_package(directory=HERE):
    with open(os.path.join(directory, "preprocess.json")) as f:
        pre = json.load(f)
    with open(os.path.join(directory, "threshold.json")) as f:
        threshold = json.load(f)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = os.cpu_count() or 1

    def open_graph(name):
        return ort.InferenceSession(os.path.join(directory, name), options, providers=["CPUExecutionProvider"])

    return {
        "pre": pre,
        "threshold": threshold,
        "preprocess": open_graph(pre["graph"]),
        "backbones": [dict(b, session=open_graph(b["file"])) for b in pre["backbones"]],
        "head": open_graph("head.onnx"),
    }


def verdict(threshold, score):
    if threshold is None:
        return "unjudged"
    if threshold["reviewLow"] is not None and threshold["reviewHigh"] is not None:
        if score < threshold["reviewLow"]:
            return "pass"
        return "fail" if score >= threshold["reviewHigh"] else "review"
    return "fail" if score >= threshold["imageThreshold"] else "pass"


def score_image(pkg, path):
    image = decode(path)
    height, width = image.shape[:2]
    rows, cols, (cw, ch) = resize_plan(width, height, pkg["pre"])
    (net_input,) = pkg["preprocess"].run(["input"], {"image": image, "rows": rows, "cols": cols})
    feeds = {}
    for b in pkg["backbones"]:
        outs = b["session"].run(b["taps"], {b["input"]: net_input})
        for tap, value in zip(b["taps"], outs):
            feeds[b["role"] + "/" + tap] = value
    # a tiled model's head takes its score over the picture: its [height, width] in the canvas
    if any(i.name == "content" for i in pkg["head"].get_inputs()):
        feeds["content"] = np.array([ch, cw], dtype=np.int64)
    anomaly_map, score = pkg["head"].run(["map", "score"], feeds)
    s = float(score[0])
    return s, np.ascontiguousarray(anomaly_map[0, :ch, :cw]), verdict(pkg["threshold"], s)


def list_images(args):
    files = []
    for a in args:
        if os.path.isdir(a):
            files += [os.path.join(a, f) for f in sorted(os.listdir(a)) if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS]
        else:
            files.append(a)
    return files


def main(argv):
    args, as_json, maps = [], False, None
    i = 0
    while i < len(argv):
        if argv[i] == "--json":
            as_json = True
        elif argv[i] == "--maps":
            i += 1
            maps = argv[i]
        else:
            args.append(argv[i])
        i += 1
    if not args:
        print("usage: python3 run.py <image or folder>... [--json] [--maps <dir>]", file=sys.stderr)
        return 2
    if maps:
        os.makedirs(maps, exist_ok=True)
    pkg = open_package()
    failures = 0
    if not as_json:
        print("file,score,verdict")
    for path in list_images(args):
        try:
            s, m, v = score_image(pkg, path)
        except Exception as err:  # one unreadable file must not stop the rest
            failures += 1
            print(f"{path}: {err}", file=sys.stderr)
            continue
        if maps:
            m.astype("<f4").tofile(os.path.join(maps, os.path.basename(path) + ".f32"))
        if as_json:
            print(json.dumps({"file": path, "score": s, "verdict": v, "mapWidth": m.shape[1], "mapHeight": m.shape[0]}))
        else:
            print(f"{path},{s!r},{v}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
