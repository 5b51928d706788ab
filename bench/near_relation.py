#!/usr/bin/python3
"""Measures the two-stage near-duplicate relation (core/near_sig.h: phash candidates within a
radius, then the aligned correlation of 32x32 signatures) on the truth set of bench/near_truth.py
and on Fashion-MNIST, through our C code (built here and called through ctypes, as
bench/near_quality.py does).

usage: bench/near_relation.py SET_DIR [--half tune|held|both] [--radius 16] [--score 850]
                              [--score-small 990] [--fmnist] [--collect BIN]
  SET_DIR    a set built by `bench/near_truth.py --build SET_DIR` (built there when missing)
  --half     which half to report (default tune: the held half is for the final figures only)
  --fmnist   also cluster Fashion-MNIST's 10,000 test images (28x28) with the verified self-join
             and report the items in label-mixing clusters and the largest clusters
  --collect BIN  also collect each half's files with BIN/edgeset-collect (the real pipeline:
             libpng and libjpeg-turbo decoding, the dataset's default relation) into a scratch
             dataset and score its clusters (two files in one cluster = a pair)

Pictures are decoded with PIL here (collect decodes with libpng and libjpeg-turbo: the same
pixels for PNG, within a unit for JPEG). Every pair of a half whose relation holds is written to
SET_DIR/pairs-HALF.tsv and scored by near_truth.py, with imagehash-style pHash at radius 10
beside it.
"""
import argparse
import ctypes
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import near_quality as nq  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


class Rel(ctypes.Structure):
    _fields_ = [("radius", ctypes.c_uint), ("score_large", ctypes.c_uint),
                ("score_small", ctypes.c_uint)]


class Counts(ctypes.Structure):
    _fields_ = [("candidates", ctypes.c_uint64), ("verified", ctypes.c_uint64)]


def picture(path):
    im = Image.open(path)
    return np.asarray(im.convert("L") if im.mode in ("L", "I", "1") else im.convert("RGB"))


def half_pairs(lib, rel, set_dir, half):
    truth = json.load(open(os.path.join(set_dir, "truth.json")))["files"]
    files = [f for f in truth if f["half"] == half]
    feats = [nq.features(lib, picture(os.path.join(set_dir, f["path"]))) for f in files]
    out = os.path.join(set_dir, f"pairs-{half}.tsv")
    t = time.time()
    n = len(files)
    with open(out, "w") as fh:
        for i in range(n):
            hi, si = feats[i]
            for j in range(i + 1, n):
                hj, sj = feats[j]
                if lib.es_near_related(ctypes.byref(rel), ctypes.c_uint64(hi), ctypes.byref(si),
                                       ctypes.c_uint64(hj), ctypes.byref(sj)):
                    fh.write(f"{files[i]['path']}\t{files[j]['path']}\n")
    print(f"{half}: {n} files, all {n * (n - 1) // 2} pairs decided in {time.time() - t:.1f} s")
    return out


def collect_clusters(bin_dir, set_dir, half, tmp):
    """The clusters edgeset-collect makes of a half, as near_truth.py's --clusters file."""
    ds = os.path.join(tmp, f"ds-{half}")
    t = time.time()
    subprocess.run([os.path.join(bin_dir, "edgeset-collect"), "-d", ds, "-q", "--batch", half,
                    os.path.join(set_dir, half)], check=True)
    dt = time.time() - t
    out = os.path.join(set_dir, f"clusters-{half}.tsv")
    prefix = os.path.join(set_dir, "")
    n = 0
    with open(os.path.join(ds, "manifest.jsonl")) as f, open(out, "w") as fh:
        for line in f:
            it = json.loads(line)
            for occ in it["seen"]:
                fh.write(f"{occ['path'][len(prefix):]}\t{it['cluster']}\n")
            n += 1
    print(f"{half}: edgeset-collect made {n} items in {dt:.1f} s")
    return out


def fmnist_collected(bin_dir, raw, lab, tmp):
    """Fashion-MNIST's test pictures written as PNG files and collected at the defaults."""
    src = os.path.join(tmp, "fmnist")
    for i, x in enumerate(raw):
        d = os.path.join(src, str(lab[i]))
        os.makedirs(d, exist_ok=True)
        Image.fromarray(x).save(os.path.join(d, f"fm_{i:05d}.png"))
    ds = os.path.join(tmp, "ds-fmnist")
    t = time.time()
    subprocess.run([os.path.join(bin_dir, "edgeset-collect"), "-d", ds, "-q", src], check=True)
    dt = time.time() - t
    clusters = {}
    with open(os.path.join(ds, "manifest.jsonl")) as f:
        for line in f:
            it = json.loads(line)
            for occ in it["seen"]:
                clusters.setdefault(it["cluster"], []).append(os.path.basename(os.path.dirname(occ["path"])))
    n = sum(len(v) for v in clusters.values())
    mixed = sum(len(v) for v in clusters.values() if len(set(v)) > 1)
    sizes = sorted((len(v) for v in clusters.values()), reverse=True)
    print(f"fashion-mnist test collected from PNG files by edgeset-collect ({dt:.1f} s): "
          f"{len(clusters)} clusters of {n} files, largest {sizes[:5]}, {mixed} files "
          f"({100 * mixed / n:.2f}%) in label-mixing clusters")


def fmnist(lib, rel, bin_dir, tmp):
    with gzip.open(f"{FMNIST}/t10k-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(f"{FMNIST}/t10k-labels-idx1-ubyte.gz") as f:
        lab = np.frombuffer(f.read(), np.uint8, offset=8)
    feats = [nq.features(lib, x) for x in raw]
    n = len(feats)
    hs = (ctypes.c_uint64 * n)(*[h for h, _ in feats])
    sigs = (nq.EsSig * n)(*[s for _, s in feats])
    assign = (ctypes.c_uint32 * n)()
    reps, counts, err = ctypes.c_size_t(), Counts(), nq.EsError()
    t = time.time()
    if lib.es_near_selfjoin_verified(hs, sigs, ctypes.c_size_t(n), ctypes.byref(rel), 2, assign,
                                     ctypes.byref(reps), ctypes.byref(counts),
                                     ctypes.byref(err)) != 0:
        raise RuntimeError(err.msg.decode())
    dt = time.time() - t
    clusters = {}
    for i in range(n):
        clusters.setdefault(assign[i], []).append(i)
    mixed = sum(len(v) for v in clusters.values() if len(set(lab[v])) > 1)
    sizes = sorted((len(v) for v in clusters.values()), reverse=True)
    print(f"fashion-mnist test (10000, 28x28): {reps.value} clusters, largest {sizes[:5]}, "
          f"{sum(s for s in sizes if s > 1)} items in clusters of >= 2, "
          f"{mixed} items ({100 * mixed / n:.2f}%) in label-mixing clusters; "
          f"{counts.candidates} candidate pairs, {counts.verified} verified, "
          f"self-join {dt:.2f} s on 2 threads")
    if bin_dir:
        fmnist_collected(bin_dir, raw, lab, tmp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir")
    ap.add_argument("--half", default="tune", choices=["tune", "held", "both"])
    ap.add_argument("--radius", type=int, default=16)
    ap.add_argument("--score", type=int, default=850)
    ap.add_argument("--score-small", type=int, default=990)
    ap.add_argument("--fmnist", action="store_true")
    ap.add_argument("--collect", metavar="BIN")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(a.set_dir, "truth.json")):
        subprocess.run([sys.executable, os.path.join(HERE, "near_truth.py"), "--build", a.set_dir],
                       check=True)
    rel = Rel(a.radius, a.score, a.score_small)
    with tempfile.TemporaryDirectory() as tmp:
        lib = nq.build_library(tmp)
        lib.es_near_related.argtypes = [ctypes.POINTER(Rel), ctypes.c_uint64,
                                        ctypes.POINTER(nq.EsSig), ctypes.c_uint64,
                                        ctypes.POINTER(nq.EsSig)]
        print(f"relation: phash radius {a.radius}, score >= {a.score / 1000:.3f} "
              f"({a.score_small / 1000:.3f} for pictures of 32 px or less)")
        for half in (["tune", "held"] if a.half == "both" else [a.half]):
            pairs = half_pairs(lib, rel, a.set_dir, half)
            extra = (["--clusters", collect_clusters(a.collect, a.set_dir, half, tmp)]
                     if a.collect else [])
            subprocess.run([sys.executable, os.path.join(HERE, "near_truth.py"), "--eval",
                            a.set_dir, "--pairs", pairs, "--half", half,
                            "--json", os.path.join(a.set_dir, f"eval-{half}.json")] + extra,
                           check=True)
        if a.fmnist:
            fmnist(lib, rel, a.collect, tmp)


if __name__ == "__main__":
    main()
