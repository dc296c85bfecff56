"""Check Strata's ONNX export with the onnx checker and onnxruntime.

    python onnx_check.py MODEL.onnx IO.safetensors

IO.safetensors holds `x` (the raw inputs, before the model's scaling) and `y`
(Strata's outputs for them). Prints the largest difference; fails above 1e-4.
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file

model = onnx.load(sys.argv[1])
onnx.checker.check_model(model, full_check=True)
io = load_file(sys.argv[2])
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
(y,) = session.run(["output"], {"input": io["x"]})
assert y.shape == io["y"].shape, f"shape {y.shape} != {io['y'].shape}"
err = float(np.abs(y - io["y"]).max())
assert err < 1e-4, f"onnxruntime differs from Strata by {err}"
print(f"{sys.argv[1]}: checker passed, onnxruntime within {err:.2e} of Strata on {len(io['x'])} samples")
