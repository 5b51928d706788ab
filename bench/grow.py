#!/usr/bin/python3
"""Scale-out figures (bench/run-grow BUILD_DIR WORKDIR calls this):

1. How adding a batch costs as the dataset grows: a real `edgeset collect` of COUNT new VGA
   JPEG captures into synthetic datasets of 10k, 100k and 1M items (bench_grow make), against
   the named baseline, the same collect into an empty dataset; wall time, peak memory (max RSS),
   and where the time goes (EDGESET_PROFILE phase lines).
2. 8 shards + merge against one collect of the same captures on the same 2 cores: the shards
   run 2 at a time with GNU Parallel; the merge's own time as a share of the sharded total; the
   manifests compared byte for byte.
3. Clustering alone: the new batch against the existing clusters against re-clustering the
   whole dataset (bench_grow cluster), which is what every collect did before.

usage: grow.py BUILD_DIR WORKDIR [--sizes 10000,100000,1000000] [--count 1000]"""
import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import time


def run(cmd, env=None, cwd=None):
    """Runs cmd; returns (wall seconds, max RSS of the child in MB, stderr)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"grow.py: {' '.join(cmd)} failed ({p.returncode}): {p.stderr}")
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest child so far: report it only when it grew
    return wall, max(rss, before) / 1024, p.stderr


def phases(stderr):
    out = []
    for line in stderr.splitlines():
        m = re.match(r"edgeset: profile: (.*) ([0-9.]+) s$", line)
        if m:
            out.append((m.group(1).split(" (")[0], float(m.group(2))))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("work")
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--count", type=int, default=1000)
    a = ap.parse_args()
    bindir = os.path.abspath(os.path.join(a.build, "bin"))
    edgeset = os.path.join(bindir, "edgeset")
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, TZ="UTC", SOURCE_DATE_EPOCH="1790000000", EDGESET_PROFILE="1")
    caps = os.path.join(work, "grow-captures")
    if not os.path.isdir(caps):
        os.makedirs(os.path.join(caps, "all"))
        subprocess.run(["/usr/bin/python3", "bench/make_vga_jpegs.py", os.path.join(caps, "all"),
                        str(a.count), "11"], check=True, capture_output=True)
        names = sorted(os.listdir(os.path.join(caps, "all")))
        for i, n in enumerate(names):  # 8 cameras
            d = os.path.join(caps, f"cam{i % 8}")
            os.makedirs(d, exist_ok=True)
            os.rename(os.path.join(caps, "all", n), os.path.join(d, n))
        os.rmdir(os.path.join(caps, "all"))

    print(f"1. adding a batch of {a.count} VGA JPEG captures (collect -j 2) to datasets of N "
          "synthetic items; baseline: the same collect into an empty dataset")
    ds = os.path.join(work, "grow-ds")
    shutil.rmtree(ds, ignore_errors=True)
    base_wall, base_rss, err = run([edgeset, "collect", "-d", ds, "--batch", "b1", "-j", "2",
                                    "-q", "grow-captures"], env=env, cwd=work)
    print(f"  {'empty':>9}: {base_wall:7.2f} s  (baseline)")
    for n in [int(x) for x in a.sizes.split(",")]:
        shutil.rmtree(ds, ignore_errors=True)
        run([os.path.join(bindir, "bench_grow"), "make", ds, str(n)])
        subprocess.run(["sync"])
        wall, rss, err = run([edgeset, "collect", "-d", ds, "--batch", "b1", "-j", "2", "-q",
                              "grow-captures"], env=env, cwd=work)
        size = sum(os.path.getsize(os.path.join(ds, f)) for f in
                   ("manifest.jsonl", "signatures.bin", "index.bin"))
        print(f"  {n:>9}: {wall:7.2f} s  = {wall / base_wall:5.2f}x the baseline; peak RSS "
              f"{rss:6.0f} MB; manifest + signatures + index {size / 1e6:6.0f} MB")
        print("             " + ", ".join(f"{k} {v:.2f}" for k, v in phases(err)))
    shutil.rmtree(ds, ignore_errors=True)

    print("\n2. 8 shards + merge against one collect of the same captures, 2 cores")
    one, parts, merged = (os.path.join(work, x) for x in ("grow-one", "grow-parts", "grow-merged"))
    for d in (one, parts, merged):
        shutil.rmtree(d, ignore_errors=True)
    os.makedirs(parts)
    subprocess.run(["sync"])
    t_one, _, _ = run([edgeset, "collect", "-d", one, "--batch", "b1", "--device-from", "dir:1",
                       "-j", "2", "-q", "grow-captures"], env=env, cwd=work)
    t_shards, _, _ = run(["parallel", "-j", "2", edgeset, "collect", "-d", "grow-parts/p{}",
                          "--shard", "{}/8", "--batch", "b1", "--device-from", "dir:1", "-j",
                          "1", "-q", "grow-captures", ":::"] + [str(k) for k in range(8)],
                         env=env, cwd=work)
    order = [3, 1, 7, 0, 5, 2, 6, 4]
    t_merge, _, _ = run([edgeset, "merge", "-d", merged, "-j", "2", "-q"] +
                        [os.path.join(parts, f"p{k}") for k in order], env=env, cwd=work)
    same = open(os.path.join(one, "manifest.jsonl"), "rb").read() == \
        open(os.path.join(merged, "manifest.jsonl"), "rb").read()
    total = t_shards + t_merge
    print(f"  one collect (-j 2):           {t_one:7.2f} s")
    print(f"  8 shards (2 at a time, -j 1): {t_shards:7.2f} s")
    print(f"  merge of the 8 parts (-j 2):  {t_merge:7.2f} s = {100 * t_merge / total:.1f}% of "
          "the sharded total")
    print(f"  sharded total / one collect:  {total / t_one:7.2f}  (manifests "
          f"{'byte-identical' if same else 'DIFFERENT'})")
    for d in (one, parts, merged):
        shutil.rmtree(d, ignore_errors=True)

    print("\n3. clustering alone")
    sys.stdout.flush()
    subprocess.run([os.path.join(bindir, "bench_grow"), "cluster", "10000", "100000",
                    "1000000"], check=True)


if __name__ == "__main__":
    main()
