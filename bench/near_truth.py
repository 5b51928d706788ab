#!/usr/bin/python3
"""Truth set of near-duplicate pairs built from real photos that Debian packages ship, and an
evaluator for a near-duplicate relation (pairs, and optionally clusters) against it, with an
imagehash-style pHash as the baseline.

Usage (run with /usr/bin/python3: it needs numpy, PIL and scipy):
  bench/near_truth.py --build DIR [--seed 1]
      writes DIR/<half>/<photo>/<transform>.<ext> and DIR/truth.json (byte-reproducible for a
      given seed and the package versions below)
  bench/near_truth.py --eval DIR --pairs FILE [--clusters FILE] [--half tune|held|both]
                      [--radius 10] [--json OUT] [--errors OUT]
      FILE: the pairs the relation under test judged related, one "pathA<TAB>pathB" a line,
      paths relative to DIR (order inside a line and duplicate lines do not matter). --clusters
      FILE: lines "path<TAB>clusterkey"; two files with the same key are a pair of the cluster
      relation (files not listed are singletons). Prints precision/recall overall, recall per
      transform (base vs variant), the false positives by kind and the 10 files with the most
      false negatives / false positives, for the relation, the clusters and the pHash baseline
      at --radius. --json OUT writes the same figures; --errors OUT lists every false
      negative/positive pair of the relation ("FN|FP<TAB>pathA<TAB>pathB"). --half defaults to
      tune: look at held only to report.
  bench/near_truth.py --baseline-pairs DIR --out FILE [--radius 10] [--half tune|held|both]
      writes the pHash baseline's pairs (distance <= radius, within each half) in the --pairs
      format; evaluating that file must reproduce the baseline's figures.

Photos (PHOTOS below lists every file with its package; --build stops with the package to
install if one is missing: `bash scripts/setup.sh bench` installs them all). 88 photos, all
real photographs (drawings, renders, abstract art, logos and paper textures of the same
packages were left out after looking at each):

  package                      version           photos  half
  python3-skimage              0.19.3-8          17      tune
  python3-sklearn              1.2.1+dfsg-1      2       tune
  python3-scipy                1.10.1-2          1       tune   (misc/ascent.dat, a pickled
                                                                 512x512 gray photo)
  python-matplotlib-data       3.6.3-1           1       tune
  opencv-doc                   4.6.0+dfsg-12     19      tune   (examples/data)
  plasma-workspace-wallpapers  4:5.27.5-2        11      10 held, 1 tune
  mate-backgrounds             1.26.0-1          12      held
  lomiri-wallpapers-16.04      20.04.0-2         13      10 held, 3 tune
  lomiri-wallpapers-20.04      20.04.0-2         1       held
  lxqt-themes                  1.2.0-1           11      held

Halves: "tune" (44 photos) = every photo of the non-wallpaper packages (skimage, sklearn, scipy,
matplotlib, opencv-doc: 40) plus the 4 wallpaper photos whose photo id has the smallest
SHA-256 (hex) -- lomiri-seeding, lomiri-greentock, plasma-ColdRipple, lomiri-aitzgorri. "held"
(44 photos) = the other wallpaper/background photos (plasma, mate, lomiri, lxqt); it never
holds a skimage/sklearn photo (those were looked at when the default radius was chosen).

Series: photos a package ships of one scene (stereo pairs, consecutive video frames, two views
of one place) are separate photos marked with a series id, so that negatives between them are
counted apart: skimage motorcycle (left/right stereo), opencv aero (1/3), aloe (L/R stereo),
basketball (frames 1/2), graf (1/3, viewpoint change), leuven (A/B), books (left/right stereo),
rubberwhale (frames 1/2). All series are in the tune half; the wallpaper packages ship none
among their photos (their light/dark variants are all drawings), so held has no series pairs.

Files per photo (18): the base = the central 90% window of the photo (width and height each
90%, centred) resized so that the longer side is 640 px (PIL LANCZOS), RGB, or L when the
photo is gray (mode L, or RGB with three equal channels; alpha is dropped). Variants, the
photo's positive group (transform names):
  jpeg50, jpeg75, jpeg95   the base re-encoded as JPEG at that quality
  half, quarter            the base resized to 1/2 and 1/4 (LANCZOS)
  crop (crop1, crop2)      the base with a random 0..5% cut from each side independently
  bright+, bright-         ImageEnhance.Brightness 1.1 / 0.9 of the base
  contrast+, contrast-     ImageEnhance.Contrast 1.1 / 0.9 of the base
  rotate                   the 90% window (full resolution) rotated by 1..3 degrees (random
                           sign, bicubic), cropped to the largest centred rectangle of its
                           aspect ratio without empty corners, longer side 640
  translate                the 90% window moved by 2..4% of the photo's width and height
                           (random signs), longer side 640
  sensor96                 the base's luma squeezed to 96x96 (a gray wide-lens sensor)
  sensor160                the base squeezed to 160x120 RGB, JPEG q85
Negatives of the same photo, each its own group: other-crop-left / other-crop-right = the
left / right 55% of the photo (full height), longer side 640. PNG everywhere except jpeg* and
sensor160 (JPEG). Random draws come from numpy.random.default_rng([seed, crc32(photo id)]),
so a photo's variants do not depend on the other photos.

Positives = every pair of files of one group (base-variant and variant-variant: 120 per
photo). Negatives = every other pair of files within a half (pairs across halves are not
counted). False positives are split into same photo (an other-crop against the base group or
the other other-crop), same series, and across photos.

Baseline: imagehash.phash reimplemented (convert("L"), resize 32x32 LANCZOS, scipy.fftpack.dct
type II along axis 0 then axis 1, top-left 8x8, bit = value > median of those 64), Hamming
distance, pair when distance <= radius (10).
"""
import argparse
import collections
import hashlib
import io
import json
import os
import pickle
import shutil
import sys
import time
import zlib

import numpy as np
import scipy.fftpack
from PIL import Image, ImageEnhance

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
SKLEARN = "/usr/lib/python3/dist-packages/sklearn/datasets/images"
OPENCV = "/usr/share/doc/opencv-doc/examples/data"
PLASMA = "/usr/share/wallpapers"
MATE = "/usr/share/backgrounds/mate/nature"
LOMIRI = "/usr/share/backgrounds"
LXQT = "/usr/share/lxqt/wallpapers"

# (package, path, photo id, series or None)
PHOTOS = (
    [("python3-skimage", f"{SKIMAGE}/{f}", "skimage-" + f.split(".")[0],
      "skimage-motorcycle" if f.startswith("motorcycle") else None) for f in (
        "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
        "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg", "ihc.png",
        "moon.png", "motorcycle_left.png", "motorcycle_right.png", "retina.jpg", "rocket.jpg")]
    + [("python3-sklearn", f"{SKLEARN}/{f}", "sklearn-" + f.split(".")[0], None)
       for f in ("china.jpg", "flower.jpg")]
    + [("python3-scipy", "/usr/lib/python3/dist-packages/scipy/misc/ascent.dat", "scipy-ascent",
        None),
       ("python-matplotlib-data", "/usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "mpl-grace_hopper", None)]
    + [("opencv-doc", f"{OPENCV}/{f}", "opencv-" + f.split(".")[0], s) for f, s in (
        ("aero1.jpg", "opencv-aero"), ("aero3.jpg", "opencv-aero"),
        ("aloeL.jpg", "opencv-aloe"), ("aloeR.jpg", "opencv-aloe"),
        ("basketball1.png", "opencv-basketball"), ("basketball2.png", "opencv-basketball"),
        ("graf1.png", "opencv-graf"), ("graf3.png", "opencv-graf"),
        ("leuvenA.jpg", "opencv-leuven"), ("leuvenB.jpg", "opencv-leuven"),
        ("left.jpg", "opencv-books"), ("right.jpg", "opencv-books"),
        ("rubberwhale1.png", "opencv-rubberwhale"), ("rubberwhale2.png", "opencv-rubberwhale"),
        ("baboon.jpg", None), ("building.jpg", None), ("fruits.jpg", None),
        ("squirrel_cls.jpg", None), ("stuff.jpg", None))]
    + [("plasma-workspace-wallpapers", f"{PLASMA}/{n}/contents/images/2560x1600.jpg",
        "plasma-" + n, None) for n in (
        "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
        "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")]
    + [("mate-backgrounds", f"{MATE}/{n}.jpg", "mate-" + n, None) for n in (
        "Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird", "RainDrops",
        "Storm", "TwoWings", "Wood", "YellowFlower")]
    + [("lomiri-wallpapers-16.04", f"{LOMIRI}/{f}", "lomiri-" + f.split("_by_")[0], None)
       for f in (
        "Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
        "Picture_1A_by_freespace.jpg", "Wine_by_Jakkub_Mede.jpg",
        "aitzgorri_by_Aitzol_Berasategi.jpg", "free_by_Peter_Nerlich.jpg",
        "friends_by_Aitzol_Berasategi.jpg", "greentock_by_Peter_Nerlich.jpg",
        "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
        "seeding_by_Clements_Engelhardt.jpg", "sunset_by_Aitzol_Berasategi.jpg")]
    + [("lomiri-wallpapers-20.04", f"{LOMIRI}/Kleiber_by_Lukas_Baubkus.jpg", "lomiri-Kleiber",
        None)]
    + [("lxqt-themes", f"{LXQT}/{f}", "lxqt-" + f.split(".")[0], None) for f in (
        "Butterfly-Kenneth-Wimer.jpg", "Valendas.png", "after-the-rain.jpg", "appleflower.png",
        "beam.png", "butterfly.png", "cloud.png", "drop.png", "flowers.png", "fog.jpg",
        "this-is-not-windows.jpg")]
)
WALLPAPER_PACKAGES = {"plasma-workspace-wallpapers", "mate-backgrounds", "lomiri-wallpapers-16.04",
                      "lomiri-wallpapers-20.04", "lxqt-themes"}
N_TUNE_WALLPAPERS = 4
BASE_LONG = 640
RADIUS = 10

VARIANTS = ["jpeg50", "jpeg75", "jpeg95", "half", "quarter", "crop1", "crop2", "bright+",
            "bright-", "contrast+", "contrast-", "rotate", "translate", "sensor96", "sensor160"]
OTHER_CROPS = ["other-crop-left", "other-crop-right"]


def transform_of(name):
    return "crop" if name.startswith("crop") else name


def assign_halves():
    """{photo id: half}; see the docstring."""
    wall = sorted((p[2] for p in PHOTOS if p[0] in WALLPAPER_PACKAGES),
                  key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    tune_wall = set(wall[:N_TUNE_WALLPAPERS])
    return {pid: "held" if pkg in WALLPAPER_PACKAGES and pid not in tune_wall else "tune"
            for pkg, _, pid, _ in PHOTOS}


def die(msg, status=2):
    print(f"near_truth.py: {msg}", file=sys.stderr)
    sys.exit(status)


# ---------------------------------------------------------------------------------------------
# Building the set

def load_photo(path):
    if path.endswith(".dat"):       # scipy.misc.ascent(): a pickled list of rows, 8-bit gray
        with open(path, "rb") as f:
            return Image.fromarray(np.array(pickle.load(f), dtype=np.uint8), "L")
    im = Image.open(path)
    im.load()
    if im.mode in ("L", "LA"):
        return im.convert("L")
    if im.mode in ("I;16", "I;16B", "I"):
        a = np.asarray(im, dtype=np.float64)
        return Image.fromarray(np.clip(a / 257.0 + 0.5, 0, 255).astype(np.uint8), "L")
    im = im.convert("RGB")          # RGBA: alpha dropped (not composited), as edgeset ignores it
    a = np.asarray(im)
    if np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]):
        return im.convert("L")      # gray photo stored as RGB
    return im


def fit_long(size, long=BASE_LONG):
    w, h = size
    s = long / max(w, h)
    return (max(1, round(w * s)), max(1, round(h * s)))


def window90(w, h):
    ww, wh = round(0.9 * w), round(0.9 * h)
    x0, y0 = (w - ww) // 2, (h - wh) // 2
    return x0, y0, x0 + ww, y0 + wh


def resize_box(photo, box, long=BASE_LONG):
    size = fit_long((box[2] - box[0], box[3] - box[1]), long)
    return photo.resize(size, Image.LANCZOS, box=box)


def make_files(photo, pid):
    """{name: (PIL image, params)} for the base, the variants and the other crops."""
    rng = np.random.default_rng([SEED, zlib.crc32(pid.encode())])
    W, H = photo.size
    win = window90(W, H)
    base = resize_box(photo, win)
    bw, bh = base.size
    out = {"base": (base, {"window": list(win)})}
    for q in (50, 75, 95):
        out[f"jpeg{q}"] = (base, {"quality": q})
    out["half"] = (base.resize((round(bw / 2), round(bh / 2)), Image.LANCZOS), {})
    out["quarter"] = (base.resize((round(bw / 4), round(bh / 4)), Image.LANCZOS), {})
    for k in (1, 2):
        l, t, r, b = rng.uniform(0.0, 0.05, 4)
        box = (round(l * bw), round(t * bh), bw - round(r * bw), bh - round(b * bh))
        out[f"crop{k}"] = (base.crop(box), {"box": list(box)})
    out["bright+"] = (ImageEnhance.Brightness(base).enhance(1.1), {"factor": 1.1})
    out["bright-"] = (ImageEnhance.Brightness(base).enhance(0.9), {"factor": 0.9})
    out["contrast+"] = (ImageEnhance.Contrast(base).enhance(1.1), {"factor": 1.1})
    out["contrast-"] = (ImageEnhance.Contrast(base).enhance(0.9), {"factor": 0.9})
    # rotate: the window rotated about its centre, then the largest centred rectangle of the
    # window's aspect ratio that the rotated window covers entirely (2 px spare for the filter)
    angle = float(rng.uniform(1.0, 3.0) * (1 if rng.integers(0, 2) else -1))
    window = photo.crop(win)
    w, h = window.size
    c, s = abs(np.cos(np.radians(angle))), abs(np.sin(np.radians(angle)))
    k = min(w / (w * c + h * s), h / (w * s + h * c))
    cw, ch = int(w * k) - 2, int(h * k) - 2
    x0, y0 = (w - cw) // 2, (h - ch) // 2
    rot = window.rotate(angle, resample=Image.BICUBIC, expand=False)
    rbox = (x0, y0, x0 + cw, y0 + ch)
    out["rotate"] = (resize_box(rot, rbox), {"degrees": round(angle, 4), "box": list(rbox)})
    # translate: the window moved by 2..4% of the photo's size in x and in y
    fx, fy = rng.uniform(0.02, 0.04, 2)
    sx, sy = (1 if v else -1 for v in rng.integers(0, 2, 2))
    dx, dy = sx * round(fx * W), sy * round(fy * H)
    tbox = (win[0] + dx, win[1] + dy, win[2] + dx, win[3] + dy)
    out["translate"] = (resize_box(photo, tbox), {"box": list(tbox)})
    out["sensor96"] = (base.convert("L").resize((96, 96), Image.LANCZOS), {})
    out["sensor160"] = (base.convert("RGB").resize((160, 120), Image.LANCZOS), {"quality": 85})
    cut = round(0.55 * W)
    out["other-crop-left"] = (resize_box(photo, (0, 0, cut, H)), {"box": [0, 0, cut, H]})
    out["other-crop-right"] = (resize_box(photo, (W - cut, 0, W, H)),
                               {"box": [W - cut, 0, W, H]})
    return out


def save(im, path, name, params):
    if name.startswith("jpeg") or name == "sensor160":
        im.save(path, "JPEG", quality=params["quality"])
        return
    im.save(path, "PNG")


def ext_of(name):
    return "jpg" if name.startswith("jpeg") or name == "sensor160" else "png"


def build(out_dir):
    missing = [(pkg, path) for pkg, path, _, _ in PHOTOS if not os.path.isfile(path)]
    if missing:
        for pkg, path in missing:
            print(f"near_truth.py: missing {path} (Debian package {pkg})", file=sys.stderr)
        pkgs = " ".join(sorted({p for p, _ in missing}))
        die(f"{len(missing)} photo(s) missing: apt-get install --no-install-recommends {pkgs} "
            "(or bash scripts/setup.sh bench)")
    halves = assign_halves()
    if os.path.exists(out_dir):
        extra = set(os.listdir(out_dir)) - {"truth.json", "tune", "held"}
        if extra:
            die(f"{out_dir} exists and holds other files ({sorted(extra)[0]}, ...): "
                "give an empty or new directory")
        for h in ("tune", "held"):
            shutil.rmtree(os.path.join(out_dir, h), ignore_errors=True)
    t0 = time.time()
    files, photos = [], []
    for pkg, src, pid, series in PHOTOS:
        half = halves[pid]
        photo = load_photo(src)
        d = os.path.join(out_dir, half, pid)
        os.makedirs(d, exist_ok=True)
        for name, (im, params) in make_files(photo, pid).items():
            rel = f"{half}/{pid}/{name}.{ext_of(name)}"
            save(im, os.path.join(out_dir, rel), name, params)
            group = pid if name not in OTHER_CROPS else f"{pid}/{name}"
            files.append({"path": rel, "half": half, "photo": pid, "group": group,
                          "transform": transform_of(name), "series": series,
                          "params": params})
        photos.append({"photo": pid, "package": pkg, "source": src, "half": half,
                       "series": series, "size": list(photo.size), "mode": photo.mode})
    truth = {"seed": SEED, "base_long_side": BASE_LONG, "photos": photos, "files": files}
    with open(os.path.join(out_dir, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(out_dir, x["path"])) for x in files)
    n = collections.Counter(p["half"] for p in photos)
    print(f"built {out_dir}: {len(photos)} photos (tune {n['tune']}, held {n['held']}), "
          f"{len(files)} files, {total / 1e6:.1f} MB, {time.time() - t0:.1f} s")


# ---------------------------------------------------------------------------------------------
# Baseline pHash (imagehash.phash, hash_size 8, highfreq_factor 4)

def phash_bits(path):
    im = Image.open(path).convert("L").resize((32, 32), Image.LANCZOS)
    pixels = np.asarray(im)
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    low = dct[:8, :8]
    return (low > np.median(low)).flatten()


def phash_distances(dir_, paths):
    """Hamming distances between the files' hashes, an int32 matrix."""
    b = np.array([phash_bits(os.path.join(dir_, p)) for p in paths], dtype=np.int32)
    return b @ (1 - b).T + (1 - b) @ b.T


# ---------------------------------------------------------------------------------------------
# Evaluation

def load_truth(dir_):
    p = os.path.join(dir_, "truth.json")
    if not os.path.isfile(p):
        die(f"{p} not found: build the set first (--build {dir_})")
    with open(p) as f:
        return json.load(f)


def halves_of(arg):
    return ["tune", "held"] if arg == "both" else [arg]


def norm(p):
    return os.path.normpath(p.strip())


class Half:
    """The files of one half, indexed; pairs are (i, j) with i < j."""

    def __init__(self, truth, half):
        self.files = sorted((f for f in truth["files"] if f["half"] == half),
                            key=lambda f: f["path"])
        self.paths = [f["path"] for f in self.files]
        self.index = {p: i for i, p in enumerate(self.paths)}
        groups = collections.defaultdict(list)
        for i, f in enumerate(self.files):
            groups[f["group"]].append(i)
        self.pos = {(a, b) for g in groups.values() for ai, a in enumerate(g) for b in g[ai + 1:]}
        n = len(self.files)
        self.n_pairs = n * (n - 1) // 2
        # negatives by kind
        by_photo = collections.Counter(f["photo"] for f in self.files)
        by_series = collections.Counter(f["series"] for f in self.files if f["series"])
        photo_series = {f["photo"]: f["series"] for f in self.files}
        same_photo = sum(k * (k - 1) // 2 for k in by_photo.values()) - len(self.pos)
        same_series = (sum(k * (k - 1) // 2 for k in by_series.values())
                       - sum(k * (k - 1) // 2 for p, k in by_photo.items() if photo_series[p]))
        self.neg_kinds = {"same-photo": same_photo, "same-series": same_series,
                          "across": self.n_pairs - len(self.pos) - same_photo - same_series}
        self.base = {f["photo"]: i for i, f in enumerate(self.files) if f["transform"] == "base"}

    def key(self, a, b):
        return (a, b) if a < b else (b, a)

    def kind(self, a, b):
        fa, fb = self.files[a], self.files[b]
        if fa["photo"] == fb["photo"]:
            return "same-photo"
        if fa["series"] and fa["series"] == fb["series"]:
            return "same-series"
        return "across"


def tsv_rows(path, expected):
    """The two fields of every line of a TAB-separated file (blank lines and # comments
    skipped); a line without exactly two fields stops with its number."""
    with open(path) as f:
        for ln, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                die(f"{path}:{ln}: expected '{expected}'")
            yield parts


def read_pairs(path, truth_paths, half):
    """Pairs of `half` from a pairs file, plus counts of lines ignored."""
    pairs, other_half, across, unknown = set(), 0, 0, 0
    for parts in tsv_rows(path, "pathA<TAB>pathB"):
        a, b = norm(parts[0]), norm(parts[1])
        if a not in truth_paths or b not in truth_paths:
            unknown += 1
            continue
        if a == b:
            continue
        if a not in half.index and b not in half.index:
            other_half += 1
            continue
        if a not in half.index or b not in half.index:
            across += 1
            continue
        pairs.add(half.key(half.index[a], half.index[b]))
    return pairs, {"unknown_paths": unknown, "other_half": other_half, "across_halves": across}


def read_clusters(path, truth_paths, half):
    clusters, unknown = collections.defaultdict(list), 0
    for parts in tsv_rows(path, "path<TAB>clusterkey"):
        p = norm(parts[0])
        if p not in truth_paths:
            unknown += 1
        elif p in half.index:
            clusters[parts[1]].append(half.index[p])
    pairs = set()
    for members in clusters.values():
        members = sorted(set(members))
        for ai, a in enumerate(members):
            for b in members[ai + 1:]:
                pairs.add((a, b))
    return pairs, {"unknown_paths": unknown, "other_half": 0, "across_halves": 0}


def score(half, pairs):
    tp = len(pairs & half.pos)
    fp = len(pairs) - tp
    fn = len(half.pos) - tp
    res = {"pairs": len(pairs), "tp": tp, "fp": fp, "fn": fn,
           "precision": tp / (tp + fp) if tp + fp else None,
           "recall": tp / (tp + fn) if tp + fn else None}
    # recall per transform over base-variant pairs
    per = collections.OrderedDict()
    for name in ["jpeg50", "jpeg75", "jpeg95", "half", "quarter", "crop", "bright+", "bright-",
                 "contrast+", "contrast-", "rotate", "translate", "sensor96", "sensor160"]:
        per[name] = [0, 0]
    vv = [0, 0]
    for a, b in half.pos:
        ta, tb = half.files[a]["transform"], half.files[b]["transform"]
        hit = (a, b) in pairs
        if "base" in (ta, tb):
            t = tb if ta == "base" else ta
            per[t][0] += hit
            per[t][1] += 1
        else:
            vv[0] += hit
            vv[1] += 1
    res["per_transform"] = {t: {"found": h, "of": n, "recall": h / n if n else None}
                            for t, (h, n) in per.items()}
    res["variant_variant"] = {"found": vv[0], "of": vv[1],
                              "recall": vv[0] / vv[1] if vv[1] else None}
    kinds = collections.Counter(half.kind(a, b) for a, b in pairs - half.pos)
    res["fp_by_kind"] = {k: {"fp": kinds.get(k, 0), "negatives": n}
                         for k, n in half.neg_kinds.items()}
    fn_pairs = sorted(half.pos - pairs)
    fp_pairs = sorted(pairs - half.pos)
    res["by_file_name"] = by_file_name(half, fn_pairs, fp_pairs)
    res["worst_fn_files"] = worst(half, fn_pairs, "positives")
    res["worst_fp_files"] = worst(half, fp_pairs, "negatives")
    res["_fn_pairs"], res["_fp_pairs"] = fn_pairs, fp_pairs
    return res


def file_name(path):
    return os.path.splitext(os.path.basename(path))[0]


def by_file_name(half, fn_pairs, fp_pairs):
    """Per file name (base, jpeg50, ..., other-crop-right): false negatives among the positive
    pairs that involve such a file, false positives among its negative pairs."""
    names = [file_name(p) for p in half.paths]
    order = ["base"] + VARIANTS + OTHER_CROPS
    out = {n: {"fn": 0, "positives": 0, "fp": 0, "negatives": 0} for n in order}
    pos_per_file = collections.Counter()
    for a, b in half.pos:
        pos_per_file[a] += 1
        pos_per_file[b] += 1
    n = len(half.paths)
    for i, name in enumerate(names):
        out[name]["positives"] += pos_per_file[i]
        out[name]["negatives"] += n - 1 - pos_per_file[i]
    for key, pairs in (("fn", fn_pairs), ("fp", fp_pairs)):
        for a, b in pairs:
            out[names[a]][key] += 1
            out[names[b]][key] += 1
    return out


def worst(half, pairs, what):
    """The 10 files in the most error pairs (ties by path), with one partner as an example."""
    count, partner = collections.Counter(), {}
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            count[x] += 1
            partner.setdefault(x, y)
    pos_per_file = collections.Counter()
    for a, b in half.pos:
        pos_per_file[a] += 1
        pos_per_file[b] += 1
    n = len(half.files)
    top = sorted(count.items(), key=lambda kv: (-kv[1], half.paths[kv[0]]))[:10]
    return [{"path": half.paths[i], "errors": c,
             "of": pos_per_file[i] if what == "positives" else n - 1 - pos_per_file[i],
             "example": half.paths[partner[i]]} for i, c in top]


def fmt(x, nd=4):
    return "-" if x is None else f"{x:.{nd}f}"


def print_half(name, half, results, counts, radius):
    print(f"== half {name}: {len({f['photo'] for f in half.files})} photos, {len(half.files)} "
          f"files, {half.n_pairs} pairs: {len(half.pos)} positive, "
          f"{half.n_pairs - len(half.pos)} negative")
    for label, c in counts.items():
        if c["unknown_paths"] or c["other_half"] or c["across_halves"]:
            print(f"   ({label}: ignored {c['other_half']} pairs of the other half, "
                  f"{c['across_halves']} pairs across halves, {c['unknown_paths']} lines naming "
                  "files not in truth.json)")
    print()
    labels = list(results)
    print(f"{'relation':<16} {'pairs':>8} {'TP':>7} {'FP':>7} {'FN':>7} {'precision':>10} "
          f"{'recall':>8}")
    for lab in labels:
        r = results[lab]
        print(f"{lab:<16} {r['pairs']:>8} {r['tp']:>7} {r['fp']:>7} {r['fn']:>7} "
              f"{fmt(r['precision']):>10} {fmt(r['recall']):>8}")
    print()
    print("recall per transform, base vs variant (found/of)")
    print(f"{'transform':<16}" + "".join(f" {lab:>18}" for lab in labels))
    rows = list(results[labels[0]]["per_transform"])
    for t in rows:
        cells = []
        for lab in labels:
            p = results[lab]["per_transform"][t]
            cells.append(f"{fmt(p['recall'], 3)} {p['found']:>4}/{p['of']:<4}")
        print(f"{t:<16}" + "".join(f" {c:>18}" for c in cells))
    cells = []
    for lab in labels:
        p = results[lab]["variant_variant"]
        cells.append(f"{fmt(p['recall'], 3)} {p['found']:>4}/{p['of']:<4}")
    print(f"{'variant-variant':<16}" + "".join(f" {c:>18}" for c in cells))
    print()
    print("false positives by kind (FP / negatives of that kind)")
    print(f"{'kind':<16}" + "".join(f" {lab:>18}" for lab in labels))
    for k in half.neg_kinds:
        print(f"{k:<16}" + "".join(
            f" {results[lab]['fp_by_kind'][k]['fp']:>9}/{half.neg_kinds[k]:<8}" for lab in labels))
    print()
    print("errors by file name: false negatives / positive pairs with such a file, "
          "false positives / negative pairs")
    print(f"{'file name':<16}" + "".join(f" {lab:>28}" for lab in labels))
    for name in results[labels[0]]["by_file_name"]:
        cells = []
        for lab in labels:
            b = results[lab]["by_file_name"][name]
            cells.append(f"FN {b['fn']:>4}/{b['positives']:<4} FP {b['fp']:>4}/{b['negatives']:<6}")
        print(f"{name:<16}" + "".join(f" {c:>28}" for c in cells))
    for lab in labels:
        for key, title in (("worst_fn_files", "false negatives"),
                           ("worst_fp_files", "false positives")):
            rows = results[lab][key]
            print()
            print(f"{lab}: 10 files with the most {title}"
                  + (" (none)" if not rows else ""))
            for w in rows:
                print(f"  {w['errors']:>5}/{w['of']:<5} {w['path']:<50} e.g. {w['example']}")
    print()


def evaluate(args):
    truth = load_truth(args.eval)
    truth_paths = {f["path"] for f in truth["files"]}
    out, err_lines = {"radius": args.radius, "halves": {}}, []
    for h in halves_of(args.half):
        half = Half(truth, h)
        results, counts = collections.OrderedDict(), collections.OrderedDict()
        pairs, counts["ours"] = read_pairs(args.pairs, truth_paths, half)
        results["ours"] = score(half, pairs)
        if args.clusters:
            cpairs, counts["clusters"] = read_clusters(args.clusters, truth_paths, half)
            results["clusters"] = score(half, cpairs)
        d = phash_distances(args.eval, half.paths)
        iu = np.argwhere(np.triu(d <= args.radius, k=1))
        results[f"phash r={args.radius}"] = score(half, {(int(a), int(b)) for a, b in iu})
        for kind, key in (("FN", "_fn_pairs"), ("FP", "_fp_pairs")):
            err_lines += [f"{kind}\t{half.paths[a]}\t{half.paths[b]}"
                          for a, b in results["ours"][key]]
        print_half(h, half, results, counts, args.radius)
        out["halves"][h] = {
            "photos": len({f["photo"] for f in half.files}), "files": len(half.files),
            "pairs": half.n_pairs, "positives": len(half.pos), "negatives_by_kind": half.neg_kinds,
            "ignored": counts,
            "relations": {lab: {k: v for k, v in r.items() if not k.startswith("_")}
                          for lab, r in results.items()}}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    if args.errors:
        with open(args.errors, "w") as f:
            f.write("".join(line + "\n" for line in err_lines))


def baseline_pairs(args):
    if not args.out:
        die("--baseline-pairs needs --out FILE")
    truth = load_truth(args.baseline_pairs)
    lines = []
    for h in halves_of(args.half):
        half = Half(truth, h)
        d = phash_distances(args.baseline_pairs, half.paths)
        for a, b in np.argwhere(np.triu(d <= args.radius, k=1)):
            lines.append(f"{half.paths[a]}\t{half.paths[b]}\n")
    with open(args.out, "w") as f:
        f.write("".join(lines))
    print(f"wrote {len(lines)} pairs (pHash distance <= {args.radius}) to {args.out}")


def main():
    global SEED
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--build", metavar="DIR", help="write the set into DIR")
    mode.add_argument("--eval", metavar="DIR", help="evaluate --pairs against DIR's truth")
    mode.add_argument("--baseline-pairs", metavar="DIR",
                      help="write the pHash baseline's pairs of DIR to --out")
    ap.add_argument("--seed", type=int, default=1, help="random seed for --build (default 1)")
    ap.add_argument("--pairs", metavar="FILE", help="pairs judged related (pathA<TAB>pathB)")
    ap.add_argument("--clusters", metavar="FILE", help="clusters (path<TAB>clusterkey)")
    ap.add_argument("--half", choices=["tune", "held", "both"], default="tune",
                    help="half to evaluate (default tune)")
    ap.add_argument("--radius", type=int, default=RADIUS, help="pHash baseline radius (10)")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    ap.add_argument("--errors", metavar="OUT", help="write every FN/FP pair of --pairs")
    ap.add_argument("--out", metavar="FILE", help="output of --baseline-pairs")
    args = ap.parse_args()
    SEED = args.seed
    if args.build:
        build(args.build)
    elif args.eval:
        if not args.pairs:
            die("--eval needs --pairs FILE")
        evaluate(args)
    else:
        baseline_pairs(args)


SEED = 1

if __name__ == "__main__":
    main()
