"""PyTorch's state_dict names and layouts, without PyTorch: numpy and safetensors only.

    python torch_layout.py write DIR   # weights as PyTorch stores them, inputs, and numpy's outputs
    python torch_layout.py check DIR   # Strata's export: names, shapes, values, and outputs

The modules mirrored (what `load_state_dict` of these would take):
    mlp = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 14 * 14, 10))
"""
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

MLP_SHAPES = {"0.weight": (32, 784), "0.bias": (32,), "2.weight": (10, 32), "2.bias": (10,)}
CNN_SHAPES = {
    "0.weight": (4, 1, 3, 3), "0.bias": (4,),
    "1.weight": (4,), "1.bias": (4,), "1.running_mean": (4,), "1.running_var": (4,), "1.num_batches_tracked": (),
    "5.weight": (10, 784), "5.bias": (10,),
}


def mlp_forward(w, x):
    h = np.maximum(x @ w["0.weight"].T + w["0.bias"], 0.0)
    return h @ w["2.weight"].T + w["2.bias"]


def conv2d(x, w, b, pad):
    n, c, hh, ww = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, o, hh, ww), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + hh, j:j + ww]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def cnn_forward(w, x):
    y = conv2d(x.astype(np.float64), w["0.weight"].astype(np.float64), w["0.bias"].astype(np.float64), 1)
    mean, var = w["1.running_mean"][None, :, None, None], w["1.running_var"][None, :, None, None]
    y = (y - mean) / np.sqrt(var + 1e-5) * w["1.weight"][None, :, None, None] + w["1.bias"][None, :, None, None]
    y = np.maximum(y, 0.0)
    n, c, h, ww = y.shape
    y = y.reshape(n, c, h // 2, 2, ww // 2, 2).max(axis=(3, 5))
    y = y.reshape(n, -1)
    return y @ w["5.weight"].T.astype(np.float64) + w["5.bias"]


def write(d):
    rng = np.random.default_rng(7)
    f32 = lambda *s: (rng.standard_normal(s) * 0.2).astype(np.float32)
    mlp = {k: f32(*s) for k, s in MLP_SHAPES.items()}
    cnn = {k: f32(*s) for k, s in CNN_SHAPES.items() if k != "1.num_batches_tracked"}
    cnn["1.running_var"] = (rng.random(4) + 0.5).astype(np.float32)
    cnn["1.num_batches_tracked"] = np.array(123, dtype=np.int64)
    save_file(mlp, f"{d}/mlp.safetensors")
    save_file(cnn, f"{d}/cnn.safetensors")
    mlp16 = {k: v.astype(np.float16) for k, v in mlp.items()}
    save_file(mlp16, f"{d}/mlp_f16.safetensors")
    x_mlp = rng.random((8, 784)).astype(np.float32)
    x_cnn = rng.random((8, 1, 28, 28)).astype(np.float32)
    io = {
        "x_mlp": x_mlp,
        "y_mlp": mlp_forward({k: v.astype(np.float64) for k, v in mlp.items()}, x_mlp.astype(np.float64)).astype(np.float32),
        "y_mlp_f16": mlp_forward({k: v.astype(np.float64) for k, v in mlp16.items()}, x_mlp.astype(np.float64)).astype(np.float32),
        "x_cnn": x_cnn,
        "y_cnn": cnn_forward(cnn, x_cnn).astype(np.float32),
    }
    save_file(io, f"{d}/io.safetensors")
    print(f"wrote mlp, cnn, mlp_f16 and io to {d}")


def check(d):
    original = load_file(f"{d}/cnn.safetensors")
    exported = load_file(f"{d}/cnn_strata.safetensors")
    assert set(exported) == set(CNN_SHAPES), f"names: {sorted(exported)} != {sorted(CNN_SHAPES)}"
    for name, shape in CNN_SHAPES.items():
        assert exported[name].shape == shape, f"{name}: shape {exported[name].shape} != {shape}"
        assert np.array_equal(exported[name], original[name]), f"{name}: values differ"
    assert exported["1.num_batches_tracked"].dtype == np.int64
    # A model Strata trained: PyTorch's names and shapes, and numpy computes Strata's outputs from them.
    trained = load_file(f"{d}/trained_strata.safetensors")
    assert set(trained) == set(CNN_SHAPES), f"names: {sorted(trained)}"
    for name, shape in CNN_SHAPES.items():
        assert trained[name].shape == shape, f"{name}: shape {trained[name].shape} != {shape}"
    out = load_file(f"{d}/trained_out.safetensors")
    y = cnn_forward(trained, out["x"])
    err = float(np.abs(y - out["y"]).max())
    assert err < 1e-5, f"numpy's outputs of Strata's export differ from Strata's by {err}"
    print(f"checked Strata's exports: names, shapes, values; outputs within {err:.2e}")


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
