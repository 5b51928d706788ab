#!/usr/bin/python3
"""Measures how well the phash separates near-duplicates from distinct images, to choose the
default near-duplicate radius (docs/near-duplicates.md).

A labelled set is built from real photos shipped on disk by Debian's python3-skimage and
python3-sklearn: each photo is cut into a grid of non-overlapping base tiles (plus the whole
photo as one more base), tiles whose luma std is below 4 (flat: black sky, empty background,
duplicates of each other by any definition) are dropped, and each base gets five variants:
JPEG re-encoded at quality 30..90, resized by 0.5..0.8 or 1.2..1.5 (PIL Lanczos, not our box
filter), cropped by 2..5% of each dimension (split randomly between the two sides), and
brightness +10% and -10%. Positives are pairs of images of the same base (base-variant and
variant-variant); every other pair is negative, including neighbouring tiles of one photo.
Precision and recall over all pairs are printed for radii 0..20.

The hashes are computed by our C code (formats/phash.c, formats/image_stats.c, core/image_resize.c),
compiled here into a small shared library and called through ctypes, so the figures are those
of the real implementation. Options:
  --fmnist          also hash Fashion-MNIST's 10,000 test images and report the largest
                    cluster of the no-chaining self-join at --radius
  --radius R        radius for --fmnist and for the confirmation summary (default 10)
  --write-hashes F  also write hashes of real images for bench_near: the quality set and
                    40,000 random crops of the photos (raw little-endian uint64), and their
                    signatures to F.sig (1,024 luma bytes and the little-endian uint16 side each)
"""
import argparse
import ctypes
import glob
import gzip
import io
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageEnhance

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
SKLEARN = "/usr/lib/python3/dist-packages/sklearn/datasets/images"
FMNIST = "/usr/share/datasets/fashion-mnist"
PHOTOS = [f"{SKIMAGE}/{n}" for n in (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
    "moon.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg")] + [
    f"{SKLEARN}/china.jpg", f"{SKLEARN}/flower.jpg"]


class EsImage(ctypes.Structure):
    _fields_ = [("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("channels", ctypes.c_uint32), ("data", ctypes.POINTER(ctypes.c_uint8))]


class EsStats(ctypes.Structure):
    _fields_ = [(n, ctypes.c_double) for n in
                ("mean", "std", "sharpness", "saturation", "clip_low", "clip_high")]


class EsSig(ctypes.Structure):
    """es_near_sig (core/near_sig.h)"""
    _fields_ = [("px", ctypes.c_uint8 * 1024), ("side", ctypes.c_uint16)]


class EsError(ctypes.Structure):
    _fields_ = [("code", ctypes.c_int), ("msg", ctypes.c_char * 1024)]


def build_library(tmp):
    # as CMakeLists.txt builds them: the SIMD kernels with their flags on x86-64 (each file
    # compiles to nothing elsewhere)
    simd = {"formats/image_stats_avx2.c": ["-mavx2"],
            "formats/image_stats_avx512.c": ["-mavx512f", "-mavx512bw", "-mavx512vbmi"],
            "formats/image_thumb_avx512.c": ["-mavx512f", "-mavx512bw", "-mavx512vnni"],
            "core/xxh3_avx2.c": ["-mavx2"],
            "core/xxh3_avx512.c": ["-mavx512f"]}
    srcs = ["formats/phash.c", "formats/image_stats.c", "core/image_resize.c", "core/image.c",
            "core/error.c", "core/hash.c", "core/xxh3.c", "core/cpu.c", "core/near_sig.c",
            "core/near_index.c"] + list(simd)
    flags = ["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-fopenmp", "-ffp-contract=off", "-fPIC", "-I",
             ROOT]
    objs = []
    for s in srcs:
        obj = os.path.join(tmp, os.path.basename(s) + ".o")
        extra = simd.get(s, []) if platform.machine() == "x86_64" else []
        subprocess.run(flags + extra + ["-c", "-o", obj, os.path.join(ROOT, s)], check=True)
        objs.append(obj)
    out = os.path.join(tmp, "libesfeat.so")
    subprocess.run(["cc", "-shared", "-fopenmp", "-o", out] + objs + ["-lm"], check=True)
    lib = ctypes.CDLL(out)
    lib.es_image_features.argtypes = [ctypes.POINTER(EsImage), ctypes.POINTER(ctypes.c_uint64),
                                      ctypes.POINTER(EsStats), ctypes.POINTER(EsSig),
                                      ctypes.POINTER(EsError)]
    return lib


def features(lib, arr):
    """(phash, signature) of a picture given as a numpy array, by our C code."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape[:2]
    c = 1 if arr.ndim == 2 else arr.shape[2]
    img = EsImage(w, h, c, arr.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
    out, st, sig, err = ctypes.c_uint64(), EsStats(), EsSig(), EsError()
    if lib.es_image_features(ctypes.byref(img), ctypes.byref(out), ctypes.byref(st),
                             ctypes.byref(sig), ctypes.byref(err)) != 0:
        raise RuntimeError(err.msg.decode())
    return out.value, sig


def phash(lib, arr):
    return features(lib, arr)[0]


def to_array(im):
    return np.asarray(im.convert("L") if im.mode in ("L", "I", "1") else im.convert("RGB"))


def luma_std(im):
    return float(np.asarray(im.convert("L"), dtype=np.float64).std())


def variants(base, rng):
    """The five variants of a base tile (PIL images)."""
    out = []
    buf = io.BytesIO()
    base.save(buf, "JPEG", quality=int(rng.integers(30, 91)))
    out.append(("jpeg", Image.open(io.BytesIO(buf.getvalue())).convert(base.mode)))
    f = rng.uniform(0.5, 0.8) if rng.integers(2) == 0 else rng.uniform(1.2, 1.5)
    w, h = base.size
    out.append(("resize", base.resize((max(8, round(w * f)), max(8, round(h * f))),
                                      Image.LANCZOS)))
    cx, cy = rng.uniform(0.02, 0.05) * w, rng.uniform(0.02, 0.05) * h
    lx, ly = rng.uniform(0, cx), rng.uniform(0, cy)
    out.append(("crop", base.crop((round(lx), round(ly), w - round(cx - lx), h - round(cy - ly)))))
    out.append(("bright+10", ImageEnhance.Brightness(base).enhance(1.1)))
    out.append(("bright-10", ImageEnhance.Brightness(base).enhance(0.9)))
    return out


def build_set(rng):
    """Returns (list of PIL images, base id per image, kind per image, bases dropped as flat)."""
    images, base_of, kinds, photo_of = [], [], [], []
    nbase = dropped = 0
    for path in PHOTOS:
        photo = Image.open(path)
        photo = photo.convert("L" if photo.mode in ("L", "I", "1") else "RGB")
        w, h = photo.size
        side = max(64, min(w, h) // 4)
        tiles = [photo]
        for y in range(0, h - side + 1, side):
            for x in range(0, w - side + 1, side):
                tiles.append(photo.crop((x, y, x + side, y + side)))
        for t in tiles:
            if luma_std(t) < 4:
                dropped += 1
                continue
            images.append(t)
            base_of.append(nbase)
            kinds.append("base")
            photo_of.append(os.path.basename(path))
            for kind, v in variants(t, rng):
                images.append(v)
                base_of.append(nbase)
                kinds.append(kind)
                photo_of.append(os.path.basename(path))
            nbase += 1
    return images, np.array(base_of), kinds, photo_of, dropped


POP8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount64(x):
    b = x.view(np.uint8).reshape(x.shape + (8,))
    return POP8[b].sum(axis=-1, dtype=np.int64)


def pair_table(hashes, base_of, kinds, max_r=20):
    n = len(hashes)
    iu, ju = np.triu_indices(n, 1)
    d = popcount64(hashes[iu] ^ hashes[ju])
    pos = base_of[iu] == base_of[ju]
    npos = int(pos.sum())
    rows = []
    for r in range(max_r + 1):
        hit = d <= r
        tp = int((hit & pos).sum())
        fp = int((hit & ~pos).sum())
        rows.append((r, tp, fp, npos - tp, tp / (tp + fp) if tp + fp else 1.0, tp / npos))
    # distances of positives by variant kind (base vs variant only)
    kind_arr = np.array(kinds)
    per_kind = {}
    for k in ("jpeg", "resize", "crop", "bright+10", "bright-10"):
        m = pos & (((kind_arr[iu] == "base") & (kind_arr[ju] == k)) |
                   ((kind_arr[ju] == "base") & (kind_arr[iu] == k)))
        per_kind[k] = d[m]
    return rows, npos, len(d), per_kind, d[~pos]


def self_join(hashes, radius):
    """No-chaining clustering: nearest representative within radius (ties to the first), else
    a new representative. Returns cluster sizes."""
    reps = np.zeros(0, dtype=np.uint64)
    sizes = []
    for h in hashes:
        if len(reps):
            d = popcount64(reps ^ np.uint64(h))
            j = int(np.argmin(d))
            if d[j] <= radius:
                sizes[j] += 1
                continue
        reps = np.append(reps, np.uint64(h))
        sizes.append(1)
    return sizes


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows, cols)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--radius", type=int, default=10)
    ap.add_argument("--fmnist", action="store_true")
    ap.add_argument("--write-hashes")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        lib = build_library(tmp)
        images, base_of, kinds, photo_of, dropped = build_set(rng)
        hashes = np.array([phash(lib, to_array(im)) for im in images], dtype=np.uint64)
        nbases = int(base_of.max()) + 1
        print(f"quality set: {len(images)} images from {len(PHOTOS)} photos, {nbases} bases "
              f"x (1 + 5 variants); {dropped} flat tiles (luma std < 4) dropped")
        rows, npos, npairs, per_kind, negd = pair_table(hashes, base_of, kinds)
        print(f"pairs: {npairs} ({npos} positive)")
        print(" r      TP      FP      FN  precision  recall")
        for r, tp, fp, fn, p, rc in rows:
            print(f"{r:2d} {tp:7d} {fp:7d} {fn:7d}  {p:9.4f}  {rc:6.4f}")
        for k, d in per_kind.items():
            q = np.percentile(d, [50, 90, 95, 99, 100])
            print(f"base vs {k:9s}: distance median {q[0]:.0f}, p90 {q[1]:.0f}, p95 {q[2]:.0f}, "
                  f"p99 {q[3]:.0f}, max {q[4]:.0f}")
        print(f"negative pairs: min distance {negd.min()}, p0.1 {np.percentile(negd, 0.1):.0f}, "
              f"median {np.median(negd):.0f}")
        iu, ju = np.triu_indices(len(hashes), 1)
        d = popcount64(hashes[iu] ^ hashes[ju])
        fp = (d <= args.radius) & (base_of[iu] != base_of[ju])
        same_photo = sum(photo_of[i] == photo_of[j] for i, j in zip(iu[fp], ju[fp]))
        by_photo = {}
        for i, j in zip(iu[fp], ju[fp]):
            key = photo_of[i] if photo_of[i] == photo_of[j] else "across photos"
            by_photo[key] = by_photo.get(key, 0) + 1
        print(f"false positives at radius {args.radius}: {int(fp.sum())} "
              f"({same_photo} between tiles of the same photo): {by_photo}")

        if args.fmnist:
            test = read_idx_images(f"{FMNIST}/t10k-images-idx3-ubyte.gz")
            fh = np.array([phash(lib, im) for im in test], dtype=np.uint64)
            sizes = self_join(fh, args.radius)
            top = sorted(sizes, reverse=True)[:5]
            print(f"fashion-mnist test (10000) at radius {args.radius}: {len(sizes)} clusters, "
                  f"largest {top}, items in clusters of >= 2: "
                  f"{sum(s for s in sizes if s > 1)}")

        if args.write_hashes:
            # the quality set and random crops of the photos, with their signatures
            feats = [features(lib, to_array(im)) for im in images]
            photos = [Image.open(p) for p in PHOTOS]
            photos = [p.convert("L" if p.mode in ("L", "I", "1") else "RGB") for p in photos]
            for k in range(40000):
                p = photos[k % len(photos)]
                w, h = p.size
                s = int(rng.integers(24, min(w, h) // 2))
                x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
                feats.append(features(lib, to_array(p.crop((x, y, x + s, y + s)))))
            np.array([f[0] for f in feats], dtype="<u8").tofile(args.write_hashes)
            with open(args.write_hashes + ".sig", "wb") as out:
                for _, sig in feats:
                    out.write(bytes(sig.px) + int(sig.side).to_bytes(2, "little"))
            print(f"wrote {len(feats)} real-image hashes to {args.write_hashes} and their "
                  f"signatures to {args.write_hashes}.sig")

if __name__ == "__main__":
    sys.exit(main())
