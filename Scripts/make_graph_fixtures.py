#!/usr/bin/env python3
"""Writes the TensorFlow-graph fixtures of Tests/FaceNetToolsTests/GraphImportTests.swift.

Usage (from the repository root; needs tensorflow, h5py, numpy: Scripts/requirements.txt):
  .venv/bin/python Scripts/make_graph_fixtures.py [--out Tests/Fixtures/graph]

Files (deterministic: same bytes on every run):

  basic.pb / basic.json
      A tiny frozen GraphDef built with TensorFlow, plus what it holds as JSON (every
      node's name, op and inputs; every Const's dtype, shape and values as TensorFlow
      evaluates them). Its float constants use every encoding a TensorProto allows:
        content    [2, 3]  tensor_content (raw little-endian bytes)
        splat      [2, 2]  float_val with one value, which fills the shape
        scalar     []      float_val, one value
        packed     [4]     float_val packed (one length-delimited run)
        unpacked   [3]     float_val unpacked (one fixed32 field per value): written by
                           hand, since protobuf's own encoder always packs
        zeros      [2]     neither: all zeros
        ints       [3]     DT_INT32 (not a float constant)
      plus a Placeholder, a MatMul with transpose_b (a bool attr), a Mul and an Identity.

  tiny_facenet.pb
      The tiny FaceNet of Fixtures/tiny (weights_tfkeras.h5, topology_keras22.json) as a
      frozen graph named and shaped like David Sandberg's graph_final.pb: every conv's
      batch norm folded into its kernel (weights) and a BiasAdd offset
      (Conv2D_bn_offset); up-projections with weights + biases; residual scales as
      Mul(mul/x, BiasAdd); the Bottleneck MatMul and a FusedBatchNorm with gamma a
      one-value float_val Const of ones; l2 normalisation to `embeddings`. One kernel
      (Conv2d_1a_3x3/weights) is stored as packed float_val instead of tensor_content.
      The script runs it with TensorFlow on Fixtures/tiny/inputs.f32 and checks the
      result against the Keras reference output Bottleneck_BatchNorm.f32.

  tiny_facenet_expected.h5
      The Keras weights the importer must produce from tiny_facenet.pb, derived here
      independently: kernels and biases as in the graph, each folded batch norm as
      beta = offset, moving_mean = 0, moving_variance = float32(1 - 0.001) (so its
      scale is exactly 1), the Bottleneck_BatchNorm as stored. Written in the
      tf_keras save_weights layout (variable-length ASCII names, empty float64
      weight_names for weightless layers, empty top_level_model_weights group).
"""

import argparse
import json
import os
import re
import struct

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, "Tests", "Fixtures", "tiny")
ROOT = "InceptionResnetV1"
EPSILON = 0.001

# --------------------------------------------------------------------------
# Protobuf wire format, for the hand-encoded node
# --------------------------------------------------------------------------


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire_type, payload):
    key = varint((number << 3) | wire_type)
    if wire_type == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def unpacked_float_const(name, values):
    """NodeDef bytes of a float Const whose float_val is written unpacked."""
    dims = field(2, 2, field(1, 0, varint(len(values))))  # one Dim {size}
    tensor = field(1, 0, varint(1))  # dtype DT_FLOAT
    tensor += field(2, 2, dims)  # tensor_shape
    for v in values:
        tensor += field(5, 5, struct.pack("<f", v))  # float_val, one fixed32 each
    attr_value = field(1, 2, b"value") + field(2, 2, field(8, 2, tensor))
    attr_dtype = field(1, 2, b"dtype") + field(2, 2, field(6, 0, varint(1)))
    node = field(1, 2, name.encode()) + field(2, 2, b"Const")
    node += field(5, 2, attr_dtype) + field(5, 2, attr_value)
    return node


# --------------------------------------------------------------------------
# basic.pb
# --------------------------------------------------------------------------


def make_basic(out_dir):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        content = tf.constant((np.arange(6, dtype=np.float32).reshape(2, 3) / 4 - 0.5), name="content")
        tf.constant(2.5, shape=[2, 2], dtype=tf.float32, name="splat")
        scalar = tf.constant(np.float32(-1.25), name="scalar")
        tf.constant([1, -2, 3], dtype=tf.int32, name="ints")
        y = tf.multiply(x, scalar, name="scaled")
        z = tf.matmul(y, content, transpose_b=True, name="matmul")
        tf.identity(z, name="output")
    graph_def = graph.as_graph_def()

    # packed: protobuf's encoder packs repeated floats.
    packed = graph_def.node.add()
    packed.CopyFrom([n for n in graph_def.node if n.name == "splat"][0])
    packed.name = "packed"
    tensor = packed.attr["value"].tensor
    tensor.ClearField("float_val")
    tensor.tensor_shape.dim[0].size = 4
    del tensor.tensor_shape.dim[1]
    tensor.float_val.extend([0.5, -1.0, 3e-8, 1e30])
    # zeros: a TensorProto with neither tensor_content nor float_val.
    zeros = graph_def.node.add()
    zeros.CopyFrom(packed)
    zeros.name = "zeros"
    zeros.attr["value"].tensor.ClearField("float_val")
    zeros.attr["value"].tensor.tensor_shape.dim[0].size = 2

    data = graph_def.SerializeToString(deterministic=True)
    data += field(1, 2, unpacked_float_const("unpacked", [1.5, -0.25, 7.0]))

    parsed = tf.compat.v1.GraphDef()
    parsed.ParseFromString(data)
    assert list(parsed.node[-1].attr["value"].tensor.float_val) == [1.5, -0.25, 7.0]
    evaluated = {}
    check = tf.Graph()
    with check.as_default():
        tf.graph_util.import_graph_def(parsed, name="")
        with tf.compat.v1.Session(graph=check) as session:
            for node in parsed.node:
                if node.op == "Const":
                    evaluated[node.name] = session.run(node.name + ":0")

    nodes = []
    for node in parsed.node:
        entry = {"name": node.name, "op": node.op, "inputs": list(node.input)}
        if node.op == "Const":
            value = evaluated[node.name]
            entry["dtype"] = int(node.attr["value"].tensor.dtype)
            entry["shape"] = list(value.shape)
            entry["values"] = [float(v) if value.dtype == np.float32 else int(v) for v in value.reshape(-1)]
        nodes.append(entry)
    with open(os.path.join(out_dir, "basic.pb"), "wb") as f:
        f.write(data)
    with open(os.path.join(out_dir, "basic.json"), "w") as f:
        json.dump({"nodes": nodes}, f, indent=1)
        f.write("\n")
    print("basic.pb: %d bytes, %d nodes" % (len(data), len(nodes)))


# --------------------------------------------------------------------------
# tiny_facenet.pb
# --------------------------------------------------------------------------


def tf_scope(keras_name):
    """Keras layer name -> Sandberg's scope (the inverse of the importer's mapping):
    Block35_2_Branch_1_Conv2d_0a_1x1 -> InceptionResnetV1/Repeat/block35_2/Branch_1/Conv2d_0a_1x1,
    Block8_6_Conv2d_1x1 -> InceptionResnetV1/Block8/Conv2d_1x1, Mixed_6a_Branch_0_… -> Mixed_6a/Branch_0/…"""
    m = re.match(r"^Block(35|17|8)_(\d+)(?:_(.*))?$", keras_name)
    if m:
        kind, index, rest = m.groups()
        if (kind, index) == ("8", "6"):
            head = ["Block8"]
        else:
            head = [{"35": "Repeat", "17": "Repeat_1", "8": "Repeat_2"}[kind], "block%s_%s" % (kind, index)]
    else:
        m = re.match(r"^(Mixed_\d[a-z])(?:_(.*))?$", keras_name)
        head, rest = ([m.group(1)], m.group(2)) if m else ([], keras_name)
    tail = [re.sub(r"^(Branch_\d+)_", r"\1/", rest)] if rest else []
    return "/".join([ROOT] + head + tail)


def block_scope(keras_name):
    """The scope of the residual block a Keras layer belongs to (`Block35_1_…` -> …/block35_1)."""
    return tf_scope(re.match(r"^Block(?:35|17|8)_\d+", keras_name).group(0))


def load_tiny():
    with open(os.path.join(TINY, "topology_keras22.json")) as f:
        topology = json.load(f)
    weights = {}
    with h5py.File(os.path.join(TINY, "weights_tfkeras.h5"), "r") as f:
        layer_names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        for layer in layer_names:
            for wname in f[layer].attrs["weight_names"]:
                wname = wname.decode() if isinstance(wname, bytes) else wname
                short = wname.split("/")[-1].split(":")[0]
                weights.setdefault(layer, {})[short] = f[layer][wname][()]
    return topology, weights, layer_names


def build_tiny_graph(topology, weights):
    """Returns (graph_def, consts): consts maps graph constant name -> float32 array."""
    layers = topology["config"]["layers"]
    inbound = {l["name"]: [n[0] for n in l["inbound_nodes"][0]] if l["inbound_nodes"] else [] for l in layers}
    consumers = {}
    for l in layers:
        for i in inbound[l["name"]]:
            consumers.setdefault(i, []).append(l)
    consts = {}

    def const(name, value):
        value = np.asarray(value, dtype=np.float32)
        consts[name] = value
        return tf.constant(value, name=name)

    graph = tf.Graph()
    out = {}
    with graph.as_default():
        for l in layers:
            name, cls, cfg = l["name"], l["class_name"], l["config"]
            if name in out:
                continue  # a batch norm already folded into the conv before it
            x = [out[i] for i in inbound[name]]
            if cls == "InputLayer":
                shape = cfg["batch_input_shape"]
                out[name] = tf.compat.v1.placeholder(tf.float32, [None] + shape[1:], name="input")
            elif cls == "Conv2D":
                scope = tf_scope(name)
                strides = [1] + list(cfg["strides"]) + [1]
                padding = cfg["padding"].upper()
                kernel = weights[name]["kernel"]
                if cfg["use_bias"]:
                    k = const(scope + "/weights", kernel)
                    y = tf.nn.conv2d(x[0], k, strides, padding, name=scope + "/Conv2D")
                    out[name] = tf.nn.bias_add(y, const(scope + "/biases", weights[name]["bias"]), name=scope + "/BiasAdd")
                else:
                    (bn,) = [c for c in consumers[name] if c["class_name"] == "BatchNormalization"]
                    b = weights[bn["name"]]
                    assert not bn["config"]["scale"] and bn["config"]["epsilon"] == EPSILON
                    scale = (1.0 / np.sqrt(b["moving_variance"].astype(np.float64) + EPSILON))
                    folded = (kernel.astype(np.float64) * scale).astype(np.float32)
                    offset = (b["beta"] - b["moving_mean"] * scale).astype(np.float32)
                    k = const(scope + "/weights", folded)
                    y = tf.nn.conv2d(x[0], k, strides, padding, name=scope + "/Conv2D")
                    out[bn["name"]] = tf.nn.bias_add(y, const(scope + "/Conv2D_bn_offset", offset), name=scope + "/BiasAdd")
            elif cls == "BatchNormalization":
                scope = "%s/Bottleneck/BatchNorm" % ROOT
                b = weights[name]
                channels = b["beta"].shape[0]
                assert not cfg["scale"]
                x4 = tf.reshape(x[0], [-1, 1, 1, channels], name=scope + "/Reshape")
                gamma = tf.constant(1.0, shape=[channels], dtype=tf.float32, name=scope + "/Const")
                consts[scope + "/Const"] = np.ones([channels], np.float32)
                y = tf.raw_ops.FusedBatchNorm(
                    x=x4, scale=gamma, offset=const(scope + "/beta", b["beta"]),
                    mean=const(scope + "/moving_mean", b["moving_mean"]),
                    variance=const(scope + "/moving_variance", b["moving_variance"]),
                    epsilon=cfg["epsilon"], is_training=False, name=scope + "/FusedBatchNorm")[0]
                out[name] = tf.reshape(y, [-1, channels], name=scope + "/Reshape_1")
            elif cls == "Activation":
                assert cfg["activation"] == "relu"
                out[name] = tf.nn.relu(x[0], name=tf_scope(name[: -len("_Activation")]) + "/Relu")
            elif cls == "MaxPooling2D":
                out[name] = tf.nn.max_pool2d(x[0], cfg["pool_size"], cfg["strides"], cfg["padding"].upper(),
                                             name=tf_scope(name) + "/MaxPool")
            elif cls == "Concatenate":
                scope = block_scope(name) if name.startswith("Block") else tf_scope(name)
                out[name] = tf.concat(x, axis=3, name=scope + "/concat")
            elif cls == "Lambda":
                (source,) = inbound[name]
                scope = block_scope(source)
                out[name] = tf.multiply(np.float32(cfg["arguments"]["scale"]), x[0], name=scope + "/mul")
                consts[scope + "/mul/x"] = np.float32(cfg["arguments"]["scale"])
            elif cls == "Add":
                (scaled,) = [i for i in inbound[name] if i.startswith("lambda")]
                out[name] = tf.add(x[0], x[1], name=block_scope(inbound[scaled][0]) + "/add")
            elif cls == "GlobalAveragePooling2D":
                out[name] = tf.reduce_mean(x[0], axis=[1, 2], name="%s/Logits/AvgPool" % ROOT)
            elif cls == "Dropout":
                out[name] = x[0]
            elif cls == "Dense":
                assert not cfg["use_bias"]
                out[name] = tf.matmul(x[0], const("%s/Bottleneck/weights" % ROOT, weights[name]["kernel"]),
                                      name="%s/Bottleneck/MatMul" % ROOT)
            else:
                raise SystemExit("unexpected layer class %s" % cls)
        tf.nn.l2_normalize(out["Bottleneck_BatchNorm"], 1, 1e-10, name="embeddings")
    graph_def = graph.as_graph_def()
    # One kernel as packed float_val instead of tensor_content.
    packed_name = "%s/Conv2d_1a_3x3/weights" % ROOT
    (node,) = [n for n in graph_def.node if n.name == packed_name]
    tensor = node.attr["value"].tensor
    tensor.ClearField("tensor_content")
    tensor.float_val.extend(consts[packed_name].reshape(-1).tolist())
    return graph_def, consts


def keras_name(const_name):
    """The importer's mapping, re-implemented: graph constant -> (Keras layer, weight)."""
    scope, leaf = const_name.rsplit("/", 1)
    s = scope[len(ROOT) + 1:]
    s = re.sub(r"^Repeat(_\d)?/block(35|17|8)_(\d+)/", lambda m: "Block%s_%s/" % (m.group(2), m.group(3)), s)
    s = re.sub(r"^Block8/", "Block8_6/", s)
    layer = s.replace("/", "_")
    if leaf == "Conv2D_bn_offset":
        return layer + "_BatchNorm", "beta"
    return layer, {"weights": "kernel", "biases": "bias", "Const": "gamma"}.get(leaf, leaf)


def make_tiny_facenet(out_dir):
    topology, weights, layer_names = load_tiny()
    graph_def, consts = build_tiny_graph(topology, weights)
    data = graph_def.SerializeToString(deterministic=True)
    with open(os.path.join(out_dir, "tiny_facenet.pb"), "wb") as f:
        f.write(data)

    # Check the graph against the Keras reference.
    with open(os.path.join(TINY, "manifest.json")) as f:
        manifest = json.load(f)
    inputs = np.fromfile(os.path.join(TINY, manifest["input"]["file"]), "<f4").reshape(manifest["input"]["shape"])
    (ref_entry,) = [o for o in manifest["outputs"] if o["layer"] == "Bottleneck_BatchNorm"]
    reference = np.fromfile(os.path.join(TINY, ref_entry["file"]), "<f4").reshape(ref_entry["shape"])
    parsed = tf.compat.v1.GraphDef()
    parsed.ParseFromString(data)
    check = tf.Graph()
    with check.as_default():
        tf.graph_util.import_graph_def(parsed, name="")
        with tf.compat.v1.Session(graph=check) as session:
            got = session.run("%s/Bottleneck/BatchNorm/Reshape_1:0" % ROOT, {"input:0": inputs})
    error = float(np.abs(got - reference).max())
    print("tiny_facenet.pb: %d bytes, %d nodes; TensorFlow vs Keras Bottleneck_BatchNorm max abs diff %.3g"
          % (len(data), len(parsed.node), error))
    assert error <= 1e-4 * max(1.0, float(np.abs(reference).max())), error

    # The expected import, from the graph's constants.
    expected = {}
    for name, value in consts.items():
        if value.ndim == 0:
            continue  # residual scales: the topology's Lambda layers hold them
        layer, weight = keras_name(name)
        if weight == "gamma":
            assert (value == 1).all()
            continue  # the Keras layer has scale=False
        expected.setdefault(layer, {})[weight] = value
        if name.endswith("/Conv2D_bn_offset"):
            expected[layer]["moving_mean"] = np.zeros_like(value)
            expected[layer]["moving_variance"] = np.full_like(value, np.float32(1 - EPSILON))
    path = os.path.join(out_dir, "tiny_facenet_expected.h5")
    write_save_weights(path, layer_names, weights, expected)
    print("tiny_facenet_expected.h5: %d layers with weights" % len(expected))


def write_save_weights(path, layer_names, reference_weights, expected):
    """tf_keras save_weights layout; weight order as in the reference file."""
    ascii_vlen = h5py.string_dtype(encoding="ascii")
    with h5py.File(path, "w", track_order=False) as f:
        f.attrs.create("layer_names", np.array(layer_names, dtype=object), dtype=ascii_vlen)
        f.attrs.create("backend", "tensorflow", dtype=ascii_vlen)
        f.attrs.create("keras_version", "2.21.0", dtype=ascii_vlen)
        for layer in layer_names:
            group = f.create_group(layer)
            order = list(reference_weights.get(layer, {}).keys())
            assert set(order) == set(expected.get(layer, {}).keys()), (layer, order, expected.get(layer))
            if order:
                names = ["%s/%s:0" % (layer, w) for w in order]
                group.attrs.create("weight_names", np.array(names, dtype=object), dtype=ascii_vlen)
                for w, full in zip(order, names):
                    group.create_dataset(full, data=expected[layer][w].astype(np.float32))
            else:
                group.attrs["weight_names"] = np.array([], dtype=np.float64)
        top = f.create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.array([], dtype=np.float64)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "graph"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    make_basic(args.out)
    make_tiny_facenet(args.out)


if __name__ == "__main__":
    main()
