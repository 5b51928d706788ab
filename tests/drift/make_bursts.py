#!/usr/bin/python3
"""Bursty captures for edgeset-drift's tests and benchmark: what a motion-triggered camera
uploads. Fashion-MNIST test images (Debian's dataset-fashion-mnist) FIRST .. FIRST+EVENTS-1,
each one event seen as a burst of 1 to MAX frames: every frame after the first moved by a
1-pixel jitter (dx, dy in -1..1, edges repeated), and every frame with sensor noise (Gaussian,
sigma 3 of 255). Written as OUT/<class>/ev<image>_<k>.png (28x28 gray), with the capture
time as the file's modification time: event i at 2026-01-01T00:00:00Z + 60 i seconds, its
frames one second apart.
--dark F multiplies the pixels by F and --blur S applies a Gaussian blur of sigma S pixels, both
before the jitter and the noise; an event has the same frames, jitters and noise whatever the
variant (its random numbers come from SEED and the image number).
--skip-classes A,B keeps every second event of classes A and B only (their share halves).
usage: make_bursts.py OUT FIRST EVENTS SEED [--max-frames 10] [--dark F] [--blur S]
       [--skip-classes A,B]"""
import argparse
import gzip
import os

import numpy as np
from PIL import Image, ImageFilter

FM = "/usr/share/datasets/fashion-mnist"
T0 = 1767225600  # 2026-01-01T00:00:00Z
CLASSES = ["tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
           "bag", "boot"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("first", type=int)
    ap.add_argument("events", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--max-frames", type=int, default=10)
    ap.add_argument("--dark", type=float, default=1.0)
    ap.add_argument("--blur", type=float, default=0.0)
    ap.add_argument("--skip-classes", default="")
    a = ap.parse_args()
    with gzip.open(f"{FM}/t10k-images-idx3-ubyte.gz") as f:
        img = np.frombuffer(f.read()[16:], np.uint8).reshape(-1, 28, 28)
    with gzip.open(f"{FM}/t10k-labels-idx1-ubyte.gz") as f:
        lab = np.frombuffer(f.read()[8:], np.uint8)
    halve = {CLASSES.index(c) for c in a.skip_classes.split(",") if c}
    seen = {c: 0 for c in halve}
    for c in CLASSES:
        os.makedirs(os.path.join(a.out, c), exist_ok=True)
    for i in range(a.first, a.first + a.events):
        c = int(lab[i % len(lab)])
        if c in halve:
            seen[c] += 1
            if seen[c] % 2 == 0:
                continue
        rng = np.random.default_rng([a.seed, i])
        base = Image.fromarray(img[i % len(lab)])
        if a.blur > 0:
            base = base.filter(ImageFilter.GaussianBlur(a.blur))
        px = np.asarray(base, np.float64) * a.dark
        frames = int(rng.integers(1, a.max_frames + 1))
        for k in range(frames):
            dy, dx = (0, 0) if k == 0 else (int(v) for v in rng.integers(-1, 2, 2))
            shifted = np.pad(px, 1, mode="edge")[1 + dy:29 + dy, 1 + dx:29 + dx]
            noisy = np.clip(np.rint(shifted + rng.normal(0, 3, shifted.shape)), 0, 255)
            path = os.path.join(a.out, CLASSES[c], f"ev{i:05d}_{k}.png")
            Image.fromarray(noisy.astype(np.uint8)).save(path)
            t = T0 + 60 * i + k
            os.utime(path, (t, t))


if __name__ == "__main__":
    main()
