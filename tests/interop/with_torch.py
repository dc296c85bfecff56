"""A check with PyTorch itself (not run by CI: torch is a large install).

    strata train --out m.strata && strata train --preset transformer --out t.strata
    for m in m t; do strata export --model $m.strata --format safetensors --out $m.safetensors
                     strata export --model $m.strata --format onnx --out $m.onnx; done
    python with_torch.py   # in the folder of those files; needs torch, safetensors, onnxruntime

Loads Strata's exports of the default MLP and of `--preset transformer` into the
equivalent nn.Sequential with load_state_dict(strict=True), and compares PyTorch's
outputs with Strata's (through its ONNX export, itself checked against Strata by CI).
"""
import math, numpy as np, torch, torch.nn as nn, onnxruntime as ort
from safetensors.torch import load_file
torch.manual_seed(0)
class PE(nn.Module):
    def __init__(s, L, d):
        super().__init__()
        t = torch.zeros(L, d, dtype=torch.float64)
        for p in range(L):
            for j in range(d):
                a = p / 10000 ** (2 * (j // 2) / d)
                t[p, j] = math.sin(a) if j % 2 == 0 else math.cos(a)
        s.register_buffer("table", t.float(), persistent=False)
    def forward(s, x): return x + s.table[: x.shape[1]]
class Mean(nn.Module):
    def forward(s, x): return x.mean(dim=1)
blk = lambda: nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True, norm_first=True)
tr = nn.Sequential(nn.Linear(28, 64), PE(28, 64), blk(), blk(), nn.LayerNorm(64), Mean(), nn.Linear(64, 10)).eval()
print("transformer:", tr.load_state_dict(load_file("t.safetensors"), strict=True))
mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.3), nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10)).eval()
print("mlp:", mlp.load_state_dict(load_file("m.safetensors"), strict=True))
x = np.random.default_rng(0).random((16, 28, 28)).astype(np.float32) * 255
for name, model, inp, onnx in [("transformer", tr, x / 255, "t.onnx"), ("mlp", mlp, x.reshape(16, 784) / 255, "m.onnx")]:
    with torch.no_grad():
        y = model(torch.from_numpy(inp.astype(np.float32))).numpy()
    s = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    z = s.run(["output"], {"input": x if name == "transformer" else x.reshape(16, 784)})[0]
    print(name, "max |torch - strata(onnx)| =", float(np.abs(y - z).max()))
