#!/usr/bin/env python3
"""Independent float64 numpy reference for one pre-norm transformer block.

Generated the fixture block.json next to this file with (from the
repository root):

    python3 -m venv /work/venv-ref && /work/venv-ref/bin/pip install numpy
    /work/venv-ref/bin/python crates/attention/tests/reference/block_reference.py

(the numpy and Python versions used are written into the JSON). The script
is deterministic: numpy's default_rng with fixed seeds, no other randomness.

What it computes, written from the published formulas of PyTorch's
``nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0,
activation, batch_first=True, norm_first=True)`` and
``nn.MultiheadAttention(batch_first=True)`` used as self-attention, not from
Strata's code:

    h1 = LayerNorm1(x)                                 (eps 1e-5, biased variance)
    [Q K V] = h1 Win + bin                             Win [d, 3d] (= in_proj_weight^T)
    A_hj = softmax(Q_hj K_hj^T / sqrt(dk) + mask)      head h: features h*dk .. (h+1)*dk
    attn = concat_h(A_h V_h) Wout + bout               Wout [d, d] (= out_proj.weight^T)
    y1 = x + attn
    y  = y1 + act(LayerNorm2(y1) W1 + b1) W2 + b2      W1 [d, d_ff], W2 [d_ff, d]

Masks: causal (query i sees keys j <= i) and key padding (mask[b, j] true:
key j of sample b is seen by no query). Parameters are named and laid out
as Strata names and stores them (weights [in, out]).

For every case it writes the output y, L = sum(y * R) for a fixed R (so
dL/dy = R), dL/dx, the gradient of every parameter and the attention
weights [batch, heads, s, s]. The backward pass is derived by hand; the
script checks it against central finite differences of L in float64, and
checks the vectorised forward against a plain loop-by-loop forward, before
writing anything.

All inputs (weights, x, R) are rounded to float32 first, so Strata (f32)
and this reference (f64) see the same numbers; the expected values are the
float64 results rounded to float32 (at most half an ulp away).
"""

import json
import math
import platform
import re
import sys
from pathlib import Path

import numpy as np

BATCH, SEQ, D_MODEL, N_HEADS, D_FF = 2, 5, 8, 2, 16
EPS = 1e-5
COMMAND = "/work/venv-ref/bin/python crates/attention/tests/reference/block_reference.py"
OUT = Path(__file__).resolve().parent / "block.json"

# (name, activation, causal, key padding mask or None, seed)
CASES = [
    ("encoder_relu", "relu", False, None, 102),
    ("decoder_gelu_erf", "gelu_erf", True, None, 202),
    # sample 0: no padding; sample 1: its last two positions are padding
    ("encoder_gelu_padding", "gelu", False, [[False] * 5, [False, False, False, True, True]], 303),
]

# Parameter names, shapes, in Strata's visit order.
PARAM_SHAPES = [
    ("norm1.weight", (D_MODEL,)),
    ("norm1.bias", (D_MODEL,)),
    ("self_attn.in_proj_weight", (D_MODEL, 3 * D_MODEL)),
    ("self_attn.in_proj_bias", (3 * D_MODEL,)),
    ("self_attn.out_proj.weight", (D_MODEL, D_MODEL)),
    ("self_attn.out_proj.bias", (D_MODEL,)),
    ("norm2.weight", (D_MODEL,)),
    ("norm2.bias", (D_MODEL,)),
    ("linear1.weight", (D_MODEL, D_FF)),
    ("linear1.bias", (D_FF,)),
    ("linear2.weight", (D_FF, D_MODEL)),
    ("linear2.bias", (D_MODEL,)),
]


def f32(a):
    """Round to float32, then carry on in float64."""
    return np.asarray(a, dtype=np.float64).astype(np.float32).astype(np.float64)


def make_inputs(seed):
    rng = np.random.default_rng(seed)
    p = {}
    # Layer norm affine parameters away from (1, 0) so their gradients matter.
    p["norm1.weight"] = 1.0 + 0.2 * rng.standard_normal(D_MODEL)
    p["norm1.bias"] = 0.1 * rng.standard_normal(D_MODEL)
    # Projections: uniform like Xavier's scale, biases small but non-zero.
    p["self_attn.in_proj_weight"] = rng.uniform(-1, 1, (D_MODEL, 3 * D_MODEL)) * math.sqrt(6 / (4 * D_MODEL))
    p["self_attn.in_proj_bias"] = 0.1 * rng.standard_normal(3 * D_MODEL)
    p["self_attn.out_proj.weight"] = rng.uniform(-1, 1, (D_MODEL, D_MODEL)) * math.sqrt(6 / (2 * D_MODEL))
    p["self_attn.out_proj.bias"] = 0.1 * rng.standard_normal(D_MODEL)
    p["norm2.weight"] = 1.0 + 0.2 * rng.standard_normal(D_MODEL)
    p["norm2.bias"] = 0.1 * rng.standard_normal(D_MODEL)
    p["linear1.weight"] = rng.uniform(-1, 1, (D_MODEL, D_FF)) * math.sqrt(6 / (D_MODEL + D_FF))
    p["linear1.bias"] = 0.1 * rng.standard_normal(D_FF)
    p["linear2.weight"] = rng.uniform(-1, 1, (D_FF, D_MODEL)) * math.sqrt(6 / (D_MODEL + D_FF))
    p["linear2.bias"] = 0.1 * rng.standard_normal(D_MODEL)
    x = rng.standard_normal((BATCH, SEQ, D_MODEL))
    r = rng.standard_normal((BATCH, SEQ, D_MODEL))
    p = {k: f32(v) for k, v in p.items()}
    for name, shape in PARAM_SHAPES:
        assert p[name].shape == shape, name
    return p, f32(x), f32(r)


# ---------------------------------------------------------------- activations

_erf = np.vectorize(math.erf, otypes=[np.float64])
GELU_C = math.sqrt(2.0 / math.pi)


def act_fwd(kind, z):
    if kind == "relu":
        return np.maximum(z, 0.0)
    if kind == "gelu_erf":  # x * Phi(x)
        return 0.5 * z * (1.0 + _erf(z / math.sqrt(2.0)))
    if kind == "gelu":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        return 0.5 * z * (1.0 + np.tanh(GELU_C * (z + 0.044715 * z**3)))
    raise ValueError(kind)


def act_grad(kind, z):
    """d act / dz."""
    if kind == "relu":
        return (z > 0).astype(np.float64)
    if kind == "gelu_erf":  # Phi(x) + x phi(x)
        return 0.5 * (1.0 + _erf(z / math.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    if kind == "gelu":
        t = np.tanh(GELU_C * (z + 0.044715 * z**3))
        return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * GELU_C * (1.0 + 3 * 0.044715 * z * z)
    raise ValueError(kind)


# ---------------------------------------------------------------- masks


def allowed_keys(causal, padding):
    """[batch, s_query, s_key] true where a query may attend to a key."""
    ok = np.ones((BATCH, SEQ, SEQ), dtype=bool)
    if causal:
        ok &= np.tril(np.ones((SEQ, SEQ), dtype=bool))[None]
    if padding is not None:
        ok &= ~np.asarray(padding, dtype=bool)[:, None, :]
    return ok


# ---------------------------------------------------------------- forward, backward


def layer_norm_fwd(x, w, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)  # biased
    rstd = 1.0 / np.sqrt(var + EPS)
    xhat = (x - mu) * rstd
    return xhat * w + b, (xhat, rstd)


def layer_norm_bwd(dy, w, cache):
    xhat, rstd = cache
    n = xhat.shape[-1]
    dw = (dy * xhat).reshape(-1, n).sum(axis=0)
    db = dy.reshape(-1, n).sum(axis=0)
    g = dy * w
    dx = rstd * (g - g.mean(axis=-1, keepdims=True) - xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return dx, dw, db


def split_heads(t):
    """[B, S, D] -> [B, H, S, dk]."""
    return t.reshape(BATCH, SEQ, N_HEADS, D_MODEL // N_HEADS).transpose(0, 2, 1, 3)


def merge_heads(t):
    """[B, H, S, dk] -> [B, S, D]."""
    return t.transpose(0, 2, 1, 3).reshape(BATCH, SEQ, D_MODEL)


def forward(p, x, kind, ok):
    c = {}
    d, dk = D_MODEL, D_MODEL // N_HEADS
    h1, c["ln1"] = layer_norm_fwd(x, p["norm1.weight"], p["norm1.bias"])
    qkv = h1 @ p["self_attn.in_proj_weight"] + p["self_attn.in_proj_bias"]
    q, k, v = (split_heads(qkv[..., i * d : (i + 1) * d]) for i in range(3))
    s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dk)
    okh = ok[:, None, :, :]
    s = np.where(okh, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    e = np.where(okh, np.exp(s - m), 0.0)
    a = e / e.sum(axis=-1, keepdims=True)
    ctx = merge_heads(a @ v)
    attn = ctx @ p["self_attn.out_proj.weight"] + p["self_attn.out_proj.bias"]
    y1 = x + attn
    h2, c["ln2"] = layer_norm_fwd(y1, p["norm2.weight"], p["norm2.bias"])
    z1 = h2 @ p["linear1.weight"] + p["linear1.bias"]
    u = act_fwd(kind, z1)
    y = y1 + u @ p["linear2.weight"] + p["linear2.bias"]
    c.update(h1=h1, q=q, k=k, v=v, a=a, ctx=ctx, h2=h2, z1=z1, u=u)
    return y, c


def rows(t):
    return t.reshape(-1, t.shape[-1])


def backward(p, kind, c, dy):
    """dL/dx and dL/dparameter for dL/dy = dy, by hand."""
    g = {}
    dk = D_MODEL // N_HEADS
    # y = y1 + u W2 + b2
    g["linear2.weight"] = rows(c["u"]).T @ rows(dy)
    g["linear2.bias"] = rows(dy).sum(axis=0)
    du = dy @ p["linear2.weight"].T
    dz1 = du * act_grad(kind, c["z1"])
    g["linear1.weight"] = rows(c["h2"]).T @ rows(dz1)
    g["linear1.bias"] = rows(dz1).sum(axis=0)
    dh2 = dz1 @ p["linear1.weight"].T
    dy1_ffn, g["norm2.weight"], g["norm2.bias"] = layer_norm_bwd(dh2, p["norm2.weight"], c["ln2"])
    dy1 = dy + dy1_ffn
    # y1 = x + ctx Wout + bout
    g["self_attn.out_proj.weight"] = rows(c["ctx"]).T @ rows(dy1)
    g["self_attn.out_proj.bias"] = rows(dy1).sum(axis=0)
    dctx = split_heads(dy1 @ p["self_attn.out_proj.weight"].T)
    a, q, k, v = c["a"], c["q"], c["k"], c["v"]
    da = dctx @ v.transpose(0, 1, 3, 2)
    dv = a.transpose(0, 1, 3, 2) @ dctx
    ds = a * (da - (da * a).sum(axis=-1, keepdims=True))  # softmax Jacobian; masked entries have a = 0
    dq = ds @ k / math.sqrt(dk)
    dkk = ds.transpose(0, 1, 3, 2) @ q / math.sqrt(dk)
    dqkv = np.concatenate([merge_heads(dq), merge_heads(dkk), merge_heads(dv)], axis=-1)
    g["self_attn.in_proj_weight"] = rows(c["h1"]).T @ rows(dqkv)
    g["self_attn.in_proj_bias"] = rows(dqkv).sum(axis=0)
    dh1 = dqkv @ p["self_attn.in_proj_weight"].T
    dx_attn, g["norm1.weight"], g["norm1.bias"] = layer_norm_bwd(dh1, p["norm1.weight"], c["ln1"])
    dx = dy1 + dx_attn
    return dx, g


# ---------------------------------------------------------------- independent checks


def forward_loops(p, x, kind, causal, padding):
    """The same block, element by element in plain Python: checks the
    vectorised forward's reshapes and head layout. Returns (y, attention weights)."""
    d, dk = D_MODEL, D_MODEL // N_HEADS
    pl = {k: v.tolist() for k, v in p.items()}

    def ln(vec, w, b):
        mu = sum(vec) / len(vec)
        var = sum((t - mu) ** 2 for t in vec) / len(vec)
        return [(t - mu) / math.sqrt(var + EPS) * w[i] + b[i] for i, t in enumerate(vec)]

    def dense(vec, w, b):  # w [in][out]
        return [sum(vec[i] * w[i][o] for i in range(len(vec))) + b[o] for o in range(len(b))]

    def act(t):
        if kind == "relu":
            return max(t, 0.0)
        if kind == "gelu_erf":
            return t * 0.5 * (1 + math.erf(t / math.sqrt(2)))
        return 0.5 * t * (1 + math.tanh(math.sqrt(2 / math.pi) * (t + 0.044715 * t**3)))

    y = np.zeros((BATCH, SEQ, D_MODEL))
    weights = np.zeros((BATCH, N_HEADS, SEQ, SEQ))
    for b in range(BATCH):
        xs = x[b].tolist()
        qkv = [dense(ln(xs[i], pl["norm1.weight"], pl["norm1.bias"]), pl["self_attn.in_proj_weight"],
                     pl["self_attn.in_proj_bias"]) for i in range(SEQ)]
        ctx = [[0.0] * d for _ in range(SEQ)]
        for h in range(N_HEADS):
            cols = range(h * dk, (h + 1) * dk)
            for i in range(SEQ):
                keys = [j for j in range(SEQ) if (not causal or j <= i) and not (padding and padding[b][j])]
                sc = {j: sum(qkv[i][c] * qkv[j][d + c] for c in cols) / math.sqrt(dk) for j in keys}
                mx = max(sc.values())
                z = sum(math.exp(t - mx) for t in sc.values())
                for j in keys:
                    w = math.exp(sc[j] - mx) / z
                    weights[b, h, i, j] = w
                    for c in cols:
                        ctx[i][c] += w * qkv[j][2 * d + c]
        for i in range(SEQ):
            y1 = [xs[i][o] + t for o, t in
                  enumerate(dense(ctx[i], pl["self_attn.out_proj.weight"], pl["self_attn.out_proj.bias"]))]
            hid = [act(t) for t in dense(ln(y1, pl["norm2.weight"], pl["norm2.bias"]), pl["linear1.weight"],
                                         pl["linear1.bias"])]
            y[b, i] = [y1[o] + t for o, t in enumerate(dense(hid, pl["linear2.weight"], pl["linear2.bias"]))]
    return y, weights


def finite_differences(p, x, r, kind, ok, dx, grads, h=1e-5):
    """Central differences of L = sum(y * r) for every input and parameter
    element; returns the largest absolute and relative (to max(1, |g|))
    deviations from the hand-derived gradients."""
    loss = lambda pp, xx: float((forward(pp, xx, kind, ok)[0] * r).sum())  # noqa: E731
    worst_abs = worst_rel = 0.0
    targets = [("input", x, dx)] + [(n, p[n], grads[n]) for n, _ in PARAM_SHAPES]
    for name, arr, analytic in targets:
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            lp = loss(p, x)
            arr[idx] = old - h
            lm = loss(p, x)
            arr[idx] = old
            fd = (lp - lm) / (2 * h)
            err = abs(fd - analytic[idx])
            worst_abs = max(worst_abs, err)
            worst_rel = max(worst_rel, err / max(1.0, abs(analytic[idx])))
    return worst_abs, worst_rel


# ---------------------------------------------------------------- output


def f32_list(a):
    """Shortest decimal strings of the float32 values of `a`, checked to come
    back to the same float32 through float64 (as serde_json then `as f32` read them)."""
    out = []
    for v in np.asarray(a, dtype=np.float64).astype(np.float32).ravel():
        assert np.isfinite(v), v
        if v == 0 or 1e-4 <= abs(v) < 1e6:
            s = np.format_float_positional(v, unique=True, trim="-")
        else:
            s = np.format_float_scientific(v, unique=True, trim="-")
        assert np.float32(float(s)) == v, (s, v)
        out.append(s)
    return out


class Raw(str):
    pass


def tensor_json(a):
    a = np.asarray(a)
    return {"shape": list(a.shape), "data": Raw("[" + ",".join(f32_list(a)) + "]")}


def to_json(obj, indent=0):
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(obj, Raw):
        return str(obj)
    if isinstance(obj, dict):
        if set(obj) == {"shape", "data"}:
            return "{" + f'"shape": {json.dumps(obj["shape"])}, "data": {to_json(obj["data"])}' + "}"
        items = [f"{inner}{json.dumps(k)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        return "[\n" + ",\n".join(inner + to_json(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def main():
    cases = []
    for name, kind, causal, padding, seed in CASES:
        p, x, r = make_inputs(seed)
        ok = allowed_keys(causal, padding)
        y, c = forward(p, x, kind, ok)
        loss = float((y * r).sum())
        dx, grads = backward(p, kind, c, r)

        y_loop, a_loop = forward_loops(p, x, kind, causal, padding)
        fwd_err = max(float(np.abs(y - y_loop).max()), float(np.abs(c["a"] - a_loop).max()))
        assert fwd_err < 1e-12, (name, fwd_err)
        assert np.allclose(c["a"].sum(axis=-1), 1.0) and np.all(c["a"][~np.broadcast_to(ok[:, None], c["a"].shape)] == 0)
        if kind == "relu":
            # No pre-activation near the kink: finite differences and float32 agree on the side.
            margin = float(np.abs(c["z1"]).min())
            assert margin > 1e-3, (name, margin)
        fd_abs, fd_rel = finite_differences(p, x, r, kind, ok, dx, grads)
        assert fd_rel < 1e-7, (name, fd_abs, fd_rel)
        print(f"{name}: loss {loss:.6f}; loop forward max |diff| {fwd_err:.2e}; "
              f"finite differences max abs err {fd_abs:.2e}, max rel err {fd_rel:.2e}")

        cases.append({
            "name": name,
            "activation": kind,
            "causal": causal,
            # [batch * seq] flattened, true = padding (Strata's set_key_padding_mask layout)
            "key_padding_mask": None if padding is None else Raw(json.dumps([bool(t) for row in padding for t in row])),
            "seed": seed,
            "params": {n: tensor_json(p[n]) for n, _ in PARAM_SHAPES},
            "x": tensor_json(x),
            "r": tensor_json(r),
            "expected": {
                "loss": loss,
                "y": tensor_json(y),
                "grad_input": tensor_json(dx),
                "attention_weights": tensor_json(c["a"]),
                "grads": {n: tensor_json(grads[n]) for n, _ in PARAM_SHAPES},
            },
            "checks": {
                "loop_forward_max_abs_diff": fwd_err,
                "finite_difference_max_abs_err": fd_abs,
                "finite_difference_max_rel_err": fd_rel,
            },
        })

    doc = {
        "description": "Float64 numpy reference of one pre-norm transformer block (block_reference.py)",
        "command": COMMAND,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "config": {"batch": BATCH, "seq": SEQ, "d_model": D_MODEL, "n_heads": N_HEADS, "d_ff": D_FF,
                   "layer_norm_eps": EPS, "dropout": 0.0},
        "cases": cases,
    }
    text = to_json(doc) + "\n"
    json.loads(text)  # well-formed
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} bytes) with numpy {np.__version__}")


if __name__ == "__main__":
    sys.exit(main())
