#!/usr/bin/python3
"""Captures for edgeset-drift's tests and benchmark: random crops of the real photos the
repository carries in tests/data/photos (see tests/data/PROVENANCE), optionally blurred
(Gaussian, sigma in pixels) or darkened (every channel times a factor), as JPEGs.
usage: make_batches.py OUT_DIR COUNT SEED [--size WxH] [--blur SIGMA] [--dark FACTOR]
       [--repeat K]   (K more byte-identical copies of the first capture: a frozen camera)"""
import argparse
import glob
import os
import random
import shutil
import sys

from PIL import Image, ImageFilter, ImageOps

PHOTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "photos")


def photos():
    paths = sorted(glob.glob(os.path.join(PHOTO_DIR, "*.png")) +
                   glob.glob(os.path.join(PHOTO_DIR, "*.jpg")))
    if not paths:
        sys.exit(f"make_batches: no photos in {PHOTO_DIR}")
    return [Image.open(p).convert("RGB") for p in paths]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("count", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--blur", type=float, default=0)
    ap.add_argument("--dark", type=float, default=1)
    ap.add_argument("--repeat", type=int, default=0)
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    ims = photos()
    for i in range(a.count):
        im = ims[rng.randrange(len(ims))]
        s = max(w / im.width, h / im.height) * rng.uniform(1.0, 2.0)
        big = im.resize((max(w, round(im.width * s)), max(h, round(im.height * s))),
                        Image.BILINEAR)
        x, y = rng.randint(0, big.width - w), rng.randint(0, big.height - h)
        crop = big.crop((x, y, x + w, y + h))
        if rng.random() < 0.5:
            crop = ImageOps.mirror(crop)
        if a.blur > 0:
            crop = crop.filter(ImageFilter.GaussianBlur(a.blur))
        if a.dark != 1:
            crop = crop.point(lambda v: min(255, round(v * a.dark)))
        crop.save(f"{a.out}/cap_{i:05d}.jpg", quality=90)
    # capture times (file times, which collect records): one a minute, and the repeats of the
    # first capture in the seconds right after it, as a frozen camera would send them
    base = 1700000000 + a.seed * 86400
    for i in range(a.count):
        os.utime(f"{a.out}/cap_{i:05d}.jpg", (base + 60 * i, base + 60 * i))
    for k in range(a.repeat):
        dst = f"{a.out}/cap_00000_again{k:03d}.jpg"
        shutil.copyfile(f"{a.out}/cap_00000.jpg", dst)
        os.utime(dst, (base + 1 + k, base + 1 + k))


if __name__ == "__main__":
    main()
