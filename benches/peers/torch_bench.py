"""The W1-W6 workloads of docs/performance.md in PyTorch (eager) and numpy.

Run by `cargo xtask bench --peers` on the same machine in the same session as
Strata's benchmarks. Prints lines `peer id value` (units as in the xtask
table). Two threads, f32, median of at least 5 runs after a warm-up.
"""
import os, resource, statistics, subprocess, sys, time

import numpy as np
import torch

torch.set_num_threads(2)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import median_time  # noqa: E402


def load_mnist():
    return common.load_mnist(np.int64)


def w1(emit, quick, wanted):
    rng = np.random.default_rng(1)
    for name, (m, k, n) in {"1024": (1024, 1024, 1024), "mlp": (256, 784, 256)}.items():
        if not wanted(f"W1-{name}"):
            continue
        a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
        reps = max(3, int(2e9 / (2 * m * n * k)))
        # Into a preallocated output, as Strata's benchmark does (no page faults).
        c = np.empty((m, n), dtype=np.float32)
        t = median_time(lambda: [np.matmul(a, b, out=c) for _ in range(reps)], runs=3 if quick else 7) / reps
        emit("numpy", f"W1-{name}", 2 * m * n * k / t / 1e9)
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        t = median_time(lambda: [torch.matmul(ta, tb, out=tc) for _ in range(reps)], runs=3 if quick else 7) / reps
        emit("torch", f"W1-{name}", 2 * m * n * k / t / 1e9)


def mlp():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    )
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            torch.nn.init.zeros_(m.bias)
    return model


def w2(emit, quick, wanted):
    x, y, _, _ = load_mnist()
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    for bs in (64, 256):
        if not wanted(f"W2-b{bs}"):
            continue
        model = mlp()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()

        def epoch():
            for i in range(0, 4000, bs):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[i : i + bs]), y[i : i + bs])
                loss.backward()
                opt.step()

        t = median_time(epoch, runs=3 if quick else 5, warmup=1)
        emit("torch", f"W2-b{bs}", 4000 / t)


def w3(emit, quick, wanted):
    if not wanted("W3"):
        return
    x, y, _, _ = load_mnist()
    x, y = torch.from_numpy(x).reshape(-1, 1, 28, 28), torch.from_numpy(y)
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(784, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, 64 * 20, 64)]

    def steps():
        for xb, yb in batches:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(xb), yb).backward()
            opt.step()

    t = median_time(steps, runs=3 if quick else 5, warmup=1)
    emit("torch", "W3", 64 * len(batches) / t)


def w4(emit, quick, wanted):
    # One encoder block, pre-norm as Strata's TransformerBlock (the same compute as post-norm):
    # batch 32, sequence 64, d_model 128, feed-forward 512, ReLU, no dropout; MSE
    # against random targets; forward + backward + Adam step.
    steps = 3 if quick else 10
    for wid, nhead in (("W4", 1), ("W4-h4", 4)):
        if not wanted(wid):
            continue
        torch.manual_seed(0)
        block = torch.nn.TransformerEncoderLayer(
            128, nhead, 512, dropout=0.0, batch_first=True, norm_first=True
        )
        opt = torch.optim.Adam(block.parameters(), lr=1e-3)
        loss_fn = torch.nn.MSELoss()
        x, y = torch.randn(32, 64, 128), torch.randn(32, 64, 128)

        def run():
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                loss_fn(block(x), y).backward()
                opt.step()

        t = median_time(run, runs=3 if quick else 7, warmup=1)
        emit("torch", wid, 32 * steps / t)


def w5(emit, quick, wanted):
    if not wanted("W5"):
        return
    model = mlp().eval()
    x = torch.rand(1, 784)
    n = 1000 if quick else 10000
    with torch.inference_mode():
        for _ in range(200):
            model(x)
        times = []
        for _ in range(n):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    emit("torch", "W5", statistics.median(times) * 1e6)


W6_SCRIPT = r"""
import gzip, numpy as np, torch, sys
torch.set_num_threads(2); torch.manual_seed(0)
with gzip.open(sys.argv[1], "rt") as f:
    a = np.loadtxt(f, delimiter=",", dtype=np.float32)
x, y = torch.from_numpy(a[:, :-1] / 255.0), torch.from_numpy(a[:, -1].astype(np.int64))
m = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
opt = torch.optim.Adam(m.parameters(), lr=1e-3); lf = torch.nn.CrossEntropyLoss()
for _ in range(10):
    p = torch.randperm(4000)
    for i in range(0, 4000, 64):
        idx = p[i:i+64]; opt.zero_grad(); lf(m(x[idx]), y[idx]).backward(); opt.step()
with torch.no_grad():
    print("test accuracy", (m(x[4000:]).argmax(1) == y[4000:]).float().mean().item())
"""


def w6(emit, quick, wanted):
    if not (wanted("W6-wall") or wanted("W6-rss")):
        return
    walls = []
    for _ in range(1 if quick else 5):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", W6_SCRIPT, common.DATA], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
    emit("torch", "W6-wall", statistics.median(walls))
    # ru_maxrss of the largest child, in kB on Linux.
    emit("torch", "W6-rss", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


if __name__ == "__main__":
    common.main((w1, w2, w3, w4, w5, w6))
