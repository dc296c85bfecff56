"""The W2-W4 workloads of docs/performance.md in JAX, `jax.jit` over the whole train step.

Run by `cargo xtask bench --peers` on the same machine in the same session as
Strata's benchmarks (and torch_bench.py). Prints lines `jax id value` (units
as in the xtask table: samples per second). f32, median of at least 5 runs
after a warm-up (3 with --quick). Adam is optax's when it imports, else the
same update written in jax.numpy.

Two threads: the script restricts itself to 2 CPUs before importing jax
(XLA sizes its CPU thread pools by the CPUs the process may use; the
project's machine has 2 anyway); xtask also sets
XLA_FLAGS=--xla_cpu_multi_thread_eigen=true.
"""
import os
import sys

# XLA's CPU thread pools are sized by the CPUs this process may run on (its
# affinity), whatever XLA_FLAGS says: keep it to 2, as the other peers.
_cpus = sorted(os.sched_getaffinity(0))
if len(_cpus) > 2:
    os.sched_setaffinity(0, _cpus[:2])

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

try:
    import optax  # noqa: E402
except ImportError:  # the hand-written update below
    optax = None

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402
from common import median_time  # noqa: E402

LR = 1e-3


def load_mnist():
    return common.load_mnist(np.int32)


# Adam (PyTorch's and Strata's defaults: betas 0.9, 0.999, eps 1e-8).
def adam():
    if optax is not None:
        opt = optax.adam(LR)

        def update(params, state, grads):
            updates, state = opt.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        return opt.init, update

    b1, b2, eps = 0.9, 0.999, 1e-8
    tree_map = jax.tree_util.tree_map

    def init(params):
        zeros = tree_map(jnp.zeros_like, params)
        return zeros, tree_map(jnp.zeros_like, params), jnp.zeros((), jnp.float32)

    def update(params, state, grads):
        m, v, t = state
        t = t + 1.0
        m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
        v = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
        c1, c2 = 1 - b1**t, 1 - b2**t
        params = tree_map(lambda p, m, v: p - LR * (m / c1) / (jnp.sqrt(v / c2) + eps), params, m, v)
        return params, (m, v, t)

    return init, update


class Trainer:
    """A jitted train step (forward, loss, backward, Adam) and its state."""

    def __init__(self, loss, params):
        init, update = adam()

        def step(params, state, x, y):
            value, grads = jax.value_and_grad(loss)(params, x, y)
            params, state = update(params, state, grads)
            return params, state, value

        # The old parameters and optimizer state are not used again: XLA may update them in place.
        self.step = jax.jit(step, donate_argnums=(0, 1))
        self.params, self.state = params, init(params)

    def run(self, batches):
        for x, y in batches:
            self.params, self.state, _ = self.step(self.params, self.state, x, y)
        jax.block_until_ready(self.params)


def uniform(key, shape, bound):
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def dense(key, n_in, n_out, he=False):
    if he:  # He (Kaiming) normal, as W2
        w = jax.random.normal(key, (n_in, n_out), jnp.float32) * np.sqrt(2.0 / n_in)
    else:  # PyTorch's default
        w = uniform(key, (n_in, n_out), 1 / np.sqrt(n_in))
    return {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}


def cross_entropy(logits, y):
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def w2(emit, quick, wanted):
    x, y, _, _ = load_mnist()

    def forward(p, x):
        h = jax.nn.relu(x @ p[0]["w"] + p[0]["b"])
        h = jax.nn.relu(h @ p[1]["w"] + p[1]["b"])
        return h @ p[2]["w"] + p[2]["b"]

    def loss(p, x, y):
        return cross_entropy(forward(p, x), y)

    for bs in (64, 256):
        if not wanted(f"W2-b{bs}"):
            continue
        keys = jax.random.split(jax.random.PRNGKey(0), 3)
        params = [dense(k, a, b, he=True) for k, (a, b) in zip(keys, [(784, 256), (256, 128), (128, 10)])]
        trainer = Trainer(loss, params)
        # One epoch's batches, on the device before timing (data already in memory).
        batches = [(jnp.asarray(x[i : i + bs]), jnp.asarray(y[i : i + bs])) for i in range(0, 4000, bs)]
        t = median_time(lambda: trainer.run(batches), runs=3 if quick else 5, warmup=1)
        emit("jax", f"W2-b{bs}", 4000 / t)


def w3(emit, quick, wanted):
    if not wanted("W3"):
        return
    x, y, _, _ = load_mnist()
    x = x.reshape(-1, 1, 28, 28)
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(0), 3)
    params = {
        "c1": {"w": uniform(k1, (8, 1, 3, 3), 1 / 3.0), "b": jnp.zeros((8,), jnp.float32)},
        "c2": {"w": uniform(k2, (16, 8, 3, 3), 1 / np.sqrt(72.0)), "b": jnp.zeros((16,), jnp.float32)},
        "fc": dense(k3, 784, 10),
    }

    def conv(x, p):
        y = jax.lax.conv_general_dilated(x, p["w"], (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + p["b"][None, :, None, None]

    def pool(x):
        return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss(p, x, y):
        h = pool(jax.nn.relu(conv(x, p["c1"])))
        h = pool(jax.nn.relu(conv(h, p["c2"])))
        h = h.reshape(h.shape[0], -1)
        return cross_entropy(h @ p["fc"]["w"] + p["fc"]["b"], y)

    trainer = Trainer(loss, params)
    batches = [(jnp.asarray(x[i : i + 64]), jnp.asarray(y[i : i + 64])) for i in range(0, 64 * 20, 64)]
    t = median_time(lambda: trainer.run(batches), runs=3 if quick else 5, warmup=1)
    emit("jax", "W3", 64 * len(batches) / t)


def layer_norm(x, p, eps=1e-5):
    mean = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps) * p["g"] + p["b"]


def encoder_block(p, x, heads):
    """Pre-norm (PyTorch's norm_first=True), as Strata's TransformerBlock; the same compute as post-norm."""
    b, s, d = x.shape
    k = d // heads
    qkv = layer_norm(x, p["norm1"]) @ p["in"]["w"] + p["in"]["b"]  # [b, s, 3d]
    q, key, v = (t.reshape(b, s, heads, k).transpose(0, 2, 1, 3) for t in jnp.split(qkv, 3, axis=-1))
    att = jax.nn.softmax((q @ key.transpose(0, 1, 3, 2)) / np.sqrt(k), axis=-1)  # [b, h, s, s]
    ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b, s, d)
    x = x + ctx @ p["out"]["w"] + p["out"]["b"]
    f = jax.nn.relu(layer_norm(x, p["norm2"]) @ p["ff1"]["w"] + p["ff1"]["b"])
    return x + f @ p["ff2"]["w"] + p["ff2"]["b"]


def w4(emit, quick, wanted):
    steps = 3 if quick else 10
    for wid, heads in (("W4", 1), ("W4-h4", 4)):
        if not wanted(wid):
            continue
        keys = jax.random.split(jax.random.PRNGKey(0), 6)
        norm = lambda: {"g": jnp.ones((128,), jnp.float32), "b": jnp.zeros((128,), jnp.float32)}
        params = {
            "norm1": norm(),
            "in": dense(keys[0], 128, 384),
            "out": dense(keys[1], 128, 128),
            "norm2": norm(),
            "ff1": dense(keys[2], 128, 512),
            "ff2": dense(keys[3], 512, 128),
        }
        x = jax.random.normal(keys[4], (32, 64, 128), jnp.float32)
        y = jax.random.normal(keys[5], (32, 64, 128), jnp.float32)

        def loss(p, x, y, heads=heads):
            return jnp.mean(jnp.square(encoder_block(p, x, heads) - y))

        trainer = Trainer(loss, params)
        t = median_time(lambda: trainer.run([(x, y)] * steps), runs=3 if quick else 7, warmup=1)
        emit("jax", wid, 32 * steps / t)


if __name__ == "__main__":
    common.main((w2, w3, w4))
