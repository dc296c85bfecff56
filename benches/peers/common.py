"""What the peer scripts share: timing and the MNIST sample."""
import argparse, gzip, os, statistics, time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data", "mnist_5k.csv.gz")


def median_time(fn, runs=7, warmup=2):
    """The median wall time of `runs` calls of `fn` after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def load_mnist(label_dtype):
    """The embedded sample's standard split: pixels / 255, labels as `label_dtype`."""
    with gzip.open(DATA, "rt") as f:
        a = np.loadtxt(f, delimiter=",", dtype=np.float32)
    x, y = a[:, :-1] / 255.0, a[:, -1].astype(label_dtype)
    return x[:4000], y[:4000], x[4000:], y[4000:]


def emit(peer, wid, value):
    """One figure, as the line `peer id value` xtask reads."""
    print(f"{peer} {wid} {value:.3f}", flush=True)


def main(workloads):
    """Parse `--only ID` and `--quick`, and run each `fn(emit, quick, wanted)` of `workloads`."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--only")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()

    def wanted(wid):
        # As `cargo xtask bench --only`: the id itself, or a prefix before a `-`.
        return args.only is None or wid == args.only or wid.startswith(args.only + "-")

    for fn in workloads:
        fn(emit, args.quick, wanted)
