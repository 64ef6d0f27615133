#!/usr/bin/env python3
"""Make the hand-written part of the fuzz regression corpora.

Writes small inputs for every fuzz target (Fuzz/Sources) into
Tests/Fixtures/fuzz/<Target>/, where FuzzRegressionTests.swift feeds
each to the same entry point as its fuzz target, and Fuzz/run.sh seeds the fuzzers
with them. For each target: valid seeds, truncated copies, and mutations aimed at one
check each (sizes, counts, offsets, nesting, overflow, wrong types, bad checksums).

The file name states what the input must do (FuzzRegressionTests checks it):
    ok-<what>.<ext>               parses / decodes / loads without error
                                  (FuzzGraphDef: the GraphDef and its float constants
                                  parse; the FaceNet import may still fail, typed)
    err-<Case>-<what>.<ext>       fails with FaceNetError.<Case>
    libhdf5-<what>.h5             (FuzzHDF5Weights, found by the fuzzer, not written
                                  here) crashes or hangs libhdf5 itself: read only
                                  through the child-process loader, must be invalidWeights
Inputs the fuzzers find later are renamed to one of these forms when they are added.

Sources, all in this repository: Fixtures/images (JPEG, PNG), Fixtures/graph/basic.pb
and tiny_facenet.pb (first nodes only), the Fixtures/h5 model (written by
make_h5_reader_fixtures.py's writer), Weights/mtcnn/pnet.json. Everything else is
built here byte by byte (no randomness: the output is the same on every run). Files this script does not write (libhdf5-*, fuzzer finds)
are left alone; the ones it writes are replaced.

Usage (from the repository root; h5py and numpy, e.g. the venv of Scripts/requirements.txt):
    .venv/bin/python Scripts/make_fuzz_regression_inputs.py
"""

import contextlib
import json
import os
import struct
import sys
import zlib

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Scripts"))
import make_h5_reader_fixtures  # noqa: E402  (the Fixtures/h5 model and its writer)
FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
OUT = os.path.join(FIXTURES, "fuzz")

written = {}


def write(target, name, data):
    assert name.startswith(("ok-", "err-")), name
    directory = os.path.join(OUT, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)
    written.setdefault(target, []).append(name)


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def clean(target):
    """Removes what an earlier run of this script wrote (ok-/err-), nothing else."""
    directory = os.path.join(OUT, target)
    if os.path.isdir(directory):
        for name in os.listdir(directory):
            if name.startswith(("ok-", "err-")):
                os.remove(os.path.join(directory, name))


# ---------------------------------------------------------------- Keras JSON

def keras_layer(cls, name, config, inbound):
    config = dict(config, name=name)
    nodes = [[[i, 0, 0, {}] for i in inbound]] if inbound else []
    return {"class_name": cls, "name": name, "config": config, "inbound_nodes": nodes}


def small_keras_model():
    """Every layer class the engine runs, Keras 2 dialect (nested-list inbound_nodes)."""
    conv = {"padding": "same", "activation": "linear", "use_bias": False}
    layers = [
        keras_layer("InputLayer", "input_1", {"batch_input_shape": [None, 12, 10, 3], "dtype": "float32"}, []),
        keras_layer("Conv2D", "conv", dict(conv, filters=4, kernel_size=[3, 3], strides=[2, 2], padding="valid"), ["input_1"]),
        keras_layer("BatchNormalization", "bn", {"axis": 3, "epsilon": 0.001, "center": True, "scale": False}, ["conv"]),
        keras_layer("Activation", "relu", {"activation": "relu"}, ["bn"]),
        keras_layer("MaxPooling2D", "pool", {"pool_size": [2, 2], "strides": [1, 1], "padding": "same"}, ["relu"]),
        keras_layer("Conv2D", "b0", dict(conv, filters=2, kernel_size=[1, 1]), ["pool"]),
        keras_layer("Conv2D", "b1", dict(conv, filters=2, kernel_size=[1, 3]), ["pool"]),
        keras_layer("Concatenate", "mixed", {"axis": 3}, ["b0", "b1"]),
        keras_layer("Conv2D", "up", dict(conv, filters=4, kernel_size=[1, 1], use_bias=True), ["mixed"]),
        keras_layer("Lambda", "lambda_1", {"arguments": {"scale": 0.17}}, ["up"]),
        keras_layer("Add", "add_1", {}, ["relu", "lambda_1"]),
        keras_layer("PReLU", "prelu", {"shared_axes": [1, 2]}, ["add_1"]),
        keras_layer("AveragePooling2D", "avg", {"pool_size": 2, "strides": None, "padding": "valid"}, ["prelu"]),
        keras_layer("Permute", "permute", {"dims": [2, 1, 3]}, ["avg"]),
        keras_layer("Flatten", "flatten", {}, ["permute"]),
        keras_layer("Reshape", "reshape", {"target_shape": [-1, 4]}, ["flatten"]),
        keras_layer("Flatten", "flatten_2", {}, ["reshape"]),
        keras_layer("Dropout", "dropout", {"rate": 0.2}, ["flatten_2"]),
        keras_layer("Dense", "dense", {"units": 5, "use_bias": True, "activation": "linear"}, ["dropout"]),
        keras_layer("Softmax", "softmax", {"axis": -1}, ["dense"]),
    ]
    return {"class_name": "Model", "config": {"name": "small", "layers": layers,
                                              "input_layers": [["input_1", 0, 0]],
                                              "output_layers": [["softmax", 0, 0]]}}


def gap_model():
    """The FaceNet tail: GlobalAveragePooling2D -> Dense -> BatchNormalization (1-d)."""
    layers = [
        keras_layer("InputLayer", "input_1", {"batch_input_shape": [None, None, None, 3]}, []),
        keras_layer("Conv2D", "conv", {"filters": 3, "kernel_size": 3, "padding": "valid", "activation": "relu"}, ["input_1"]),
        keras_layer("GlobalAveragePooling2D", "gap", {}, ["conv"]),
        keras_layer("Dense", "Bottleneck", {"units": 4, "use_bias": False}, ["gap"]),
        keras_layer("BatchNormalization", "Bottleneck_BatchNorm", {"axis": -1, "epsilon": 0.001, "scale": False}, ["Bottleneck"]),
    ]
    return {"class_name": "Model", "config": {"name": "gap", "layers": layers,
                                              "input_layers": [["input_1", 0, 0]],
                                              "output_layers": [["Bottleneck_BatchNorm", 0, 0]]}}


def keras3_model():
    """Keras 3 dialect: inbound nodes as {args, kwargs} with __keras_tensor__ histories."""
    def tensor(name):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": [None, 8, 8, 3], "dtype": "float32", "keras_history": [name, 0, 0]}}

    def layer(cls, name, config, inbound):
        nodes = [{"args": [tensor(i) for i in inbound] if cls != "Add" else [[tensor(i) for i in inbound]],
                  "kwargs": {}}] if inbound else []
        return {"module": "keras.layers", "class_name": cls, "config": dict(config, name=name),
                "registered_name": None, "name": name, "inbound_nodes": nodes}
    layers = [
        layer("InputLayer", "input_layer", {"batch_shape": [None, 8, 8, 3], "dtype": "float32"}, []),
        layer("Conv2D", "conv", {"filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                                 "activation": {"class_name": "ReLU", "config": "relu"}, "use_bias": True}, ["input_layer"]),
        layer("Add", "add", {}, ["input_layer", "conv"]),
        layer("GlobalAveragePooling2D", "gap", {"data_format": "channels_last", "keepdims": False}, ["add"]),
    ]
    return {"module": "keras", "class_name": "Functional", "config": {
        "name": "k3", "layers": layers, "input_layers": [["input_layer", 0, 0]],
        "output_layers": [["gap", 0, 0]]}, "registered_name": "Functional"}


def slim_pnet():
    """Weights/mtcnn/pnet.json (tf_keras 2.21) without initializers, regularizers, constraints."""
    model = json.loads(read(ROOT, "Weights", "mtcnn", "pnet.json"))
    for layer in model["config"]["layers"]:
        for key in list(layer["config"]):
            if key.endswith(("_initializer", "_regularizer", "_constraint")):
                del layer["config"][key]
    return model


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def layer_named(model, name):
    return next(l for l in model["config"]["layers"] if l["name"] == name)


def mutated(base, edit):
    model = json.loads(json.dumps(base))
    edit(model)
    return compact(model)


def pruned(model, output):
    """The model cut down to `output` and the layers it depends on (smaller files)."""
    layers = {l["name"]: l for l in model["config"]["layers"]}
    keep, todo = set(), [output]
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo += [entry[0] for node in layers[name]["inbound_nodes"] for entry in node]
    cut = json.loads(json.dumps(model))
    cut["config"]["layers"] = [l for l in cut["config"]["layers"] if l["name"] in keep]
    cut["config"]["output_layers"] = [[output, 0, 0]]
    return cut


def make_keras_json():
    t = "FuzzKerasJSON"
    clean(t)
    small, pnet, k3, gap = small_keras_model(), slim_pnet(), keras3_model(), gap_model()
    write(t, "ok-every-layer-class.json", compact(small))
    write(t, "ok-pnet-tfkeras.json", compact(pnet))
    write(t, "ok-keras3-nodes.json", compact(k3))
    write(t, "ok-facenet-tail.json", compact(gap))
    write(t, "ok-utf8-bom.json", b"\xef\xbb\xbf" + compact(gap))
    text = compact(small)

    # Not JSON, or not a model.
    for name, data in [("empty", b""), ("null", b"null"), ("list", b"[]"), ("object", b"{}"),
                       ("string", b'"model"'), ("number-overflow", b"1e999"), ("nan-token", b"NaN"),
                       ("truncated-half", text[:len(text) // 2]), ("truncated-last-byte", text[:-1]),
                       ("invalid-utf8", text[:40] + b"\xff\xfe" + text[40:]),
                       ("nul-bytes", text[:60] + b"\x00" * 8 + text[60:]),
                       ("deep-nesting", b"[" * 10000 + b"]" * 10000),
                       ("deep-objects", b'{"a":' * 2000 + b"1" + b"}" * 2000),
                       ("no-config", compact({"class_name": "Model"})),
                       ("no-layers", compact({"class_name": "Model", "config": {"name": "x"}})),
                       ("layers-not-list", mutated(small, lambda m: m["config"].update(layers={"a": 1})))]:
        write(t, f"err-invalidTopology-{name}.json", data)

    def edit_layer(name, **changes):
        def edit(m):
            layer_named(m, name)["config"].update(changes)
        return edit

    def set_inbound(name, inbound):
        def edit(m):
            layer_named(m, name)["inbound_nodes"] = inbound
        return edit

    topology_errors = [
        ("unknown-inbound-layer", "bn", set_inbound("bn", [[["nope", 0, 0, {}]]])),
        ("cycle", "relu", set_inbound("conv", [[["relu", 0, 0, {}]]])),
        ("self-loop", "bn", set_inbound("bn", [[["bn", 0, 0, {}]]])),
        ("inbound-not-list", "bn", set_inbound("bn", "conv")),
        ("inbound-entry-number", "bn", set_inbound("bn", [[7]])),
        ("duplicate-layer-name", "mixed", lambda m: (lambda l: (l.update(name="b0"), l["config"].update(name="b0")))(
            layer_named(m, "b1"))),
        ("output-missing", "conv", lambda m: m["config"].update(output_layers=[["ghost", 0, 0]])),
        ("input-not-inputlayer", "conv", lambda m: m["config"].update(input_layers=[["conv", 0, 0]])),
        ("filters-zero", "conv", edit_layer("conv", filters=0)),
        ("filters-negative", "conv", edit_layer("conv", filters=-3)),
        ("filters-fraction", "conv", edit_layer("conv", filters=2.5)),
        ("filters-bool", "conv", edit_layer("conv", filters=True)),
        ("filters-2e19", "conv", edit_layer("conv", filters=2e19)),
        ("kernel-zero", "conv", edit_layer("conv", kernel_size=[0, 3])),
        ("kernel-huge", "conv", edit_layer("conv", kernel_size=[1 << 40, 1])),
        ("kernel-three-values", "conv", edit_layer("conv", kernel_size=[3, 3, 3])),
        ("kernel-string", "conv", edit_layer("conv", kernel_size="3")),
        ("kernel-larger-than-input", "conv", edit_layer("conv", kernel_size=[13, 11])),
        ("strides-zero", "conv", edit_layer("conv", strides=[0, 0])),
        ("padding-reflect", "conv", edit_layer("conv", padding="reflect")),
        ("pool-zero", "pool", edit_layer("pool", pool_size=[0, 0])),
        ("epsilon-negative", "bn", edit_layer("bn", epsilon=-1)),
        ("epsilon-string", "bn", edit_layer("bn", epsilon="0.001")),
        ("input-shape-negative", "conv", edit_layer("input_1", batch_input_shape=[None, -12, 10, 3])),
        ("input-shape-zero", "conv", edit_layer("input_1", batch_input_shape=[None, 0, 10, 3])),
        ("input-shape-batch-only", "conv", edit_layer("input_1", batch_input_shape=[None])),
        ("input-shape-missing", "conv", edit_layer("input_1", batch_input_shape=None)),
        ("concatenate-axis-7", "mixed", edit_layer("mixed", axis=7)),
        ("concatenate-batch-axis", "mixed", edit_layer("mixed", axis=0)),
        ("add-one-input", "add_1", set_inbound("add_1", [[["relu", 0, 0, {}]]])),
        ("add-shape-mismatch", "add_1", set_inbound("add_1", [[["relu", 0, 0, {}], ["b0", 0, 0, {}]]])),
        ("dense-on-image", "dense", set_inbound("dense", [[["prelu", 0, 0, {}]]])),
        ("dense-units-zero", "dense", edit_layer("dense", units=0)),
        ("prelu-axis-zero", "prelu", edit_layer("prelu", shared_axes=[0])),
        ("prelu-axis-outside", "prelu", edit_layer("prelu", shared_axes=[1, 9])),
        ("permute-not-permutation", "permute", edit_layer("permute", dims=[1, 1, 3])),
        ("permute-zero-based", "permute", edit_layer("permute", dims=[0, 1, 2])),
        ("reshape-two-unknowns", "reshape", edit_layer("reshape", target_shape=[-1, -1])),
        ("reshape-zero", "reshape", edit_layer("reshape", target_shape=[0, 4])),
        ("reshape-does-not-fit", "reshape", edit_layer("reshape", target_shape=[7, 3])),
        ("reshape-overflow", "reshape", edit_layer("reshape", target_shape=[1 << 32, 1 << 32, 1 << 32])),
        ("flatten-overflow", "flatten", edit_layer("input_1", batch_input_shape=[None, 1 << 40, 1 << 40, 3])),
    ]
    for name, keep, edit in topology_errors:
        write(t, f"err-invalidTopology-{name}.json", mutated(pruned(small, keep), edit))

    unsupported = [
        ("conv3d", "conv", lambda m: layer_named(m, "conv").update(class_name="Conv3D")),
        ("dilation", "conv", edit_layer("conv", dilation_rate=[2, 2])),
        ("groups", "conv", edit_layer("conv", groups=2)),
        ("lambda-code-only", "lambda_1", edit_layer("lambda_1", arguments={})),
        ("lambda-scale-string", "lambda_1", edit_layer("lambda_1", arguments={"scale": "0.17"})),
        ("lambda-two-arguments", "lambda_1", edit_layer("lambda_1", arguments={"scale": 1, "bias": 0})),
        ("softmax-axis-1", "softmax", edit_layer("softmax", axis=1)),
        ("input-float16", "conv", edit_layer("input_1", dtype="float16")),
        ("permute-four-axes", "permute", edit_layer("permute", dims=[4, 3, 2, 1])),
    ]
    for name, keep, edit in unsupported:
        write(t, f"err-unsupportedLayer-{name}.json", mutated(pruned(small, keep), edit))
    write(t, "err-invalidTopology-activation-gelu.json", mutated(pruned(small, "relu"), edit_layer("relu", activation="gelu")))
    # Sizes near Int.max: shape arithmetic must refuse them, not overflow (a trap in a
    # checked build, a wrong shape in -Ounchecked). `same` padding's ⌈size / stride⌉ is
    # computed without size + stride − 1, so this one has a right answer and must succeed.
    huge = 9223372036854774784  # the largest double below 2^63: an exact JSON integer
    write(t, "ok-same-padding-huge-size.json", compact(
        {"class_name": "Model", "config": {"name": "m", "layers": [
            keras_layer("InputLayer", "input_1", {"batch_input_shape": [None, huge, 1, 3]}, []),
            keras_layer("Conv2D", "conv", {"filters": 1, "kernel_size": 1, "strides": [65536, 1], "padding": "same"},
                        ["input_1"])],
            "input_layers": [["input_1", 0, 0]], "output_layers": [["conv", 0, 0]]}}))
    write(t, "err-invalidTopology-concatenate-overflow.json", compact(
        {"class_name": "Model", "config": {"name": "m", "layers": [
            keras_layer("InputLayer", "input_1", {"batch_input_shape": [None, 1, 1, 1 << 62]}, []),
            keras_layer("Concatenate", "cat", {"axis": -1}, ["input_1", "input_1"])],
            "input_layers": [["input_1", 0, 0]], "output_layers": [["cat", 0, 0]]}}))
    # Refused as invalid rather than unsupported: BN over another axis fails shape inference.
    write(t, "err-invalidTopology-channels-first.json", mutated(pruned(small, "conv"), edit_layer("conv", data_format="channels_first")))
    write(t, "err-invalidTopology-bn-axis-1.json", mutated(pruned(small, "bn"), edit_layer("bn", axis=1)))

    # Keras 3 nodes.
    def k3_edit(edit):
        return mutated(k3, edit)
    write(t, "err-invalidTopology-keras3-history-missing.json", k3_edit(
        lambda m: layer_named(m, "conv")["inbound_nodes"][0]["args"][0]["config"].update(keras_history=["ghost", 0, 0])))
    write(t, "err-invalidTopology-keras3-args-not-list.json", k3_edit(
        lambda m: layer_named(m, "conv")["inbound_nodes"][0].update(args=5)))
    write(t, "err-invalidTopology-keras3-batch-shape-string.json", k3_edit(
        lambda m: layer_named(m, "input_layer")["config"].update(batch_shape="8,8,3")))
    # A tensor 3000 lists deep in a node's args (spliced as text: json.dumps recurses).
    history = compact({"class_name": "__keras_tensor__", "config": {"keras_history": ["input_layer", 0, 0]}})
    write(t, "err-invalidTopology-keras3-deep-args.json", k3_edit(
        lambda m: layer_named(m, "conv")["inbound_nodes"][0].update(args="DEEP")).replace(
        b'"DEEP"', b"[" * 3000 + history + b"]" * 3000))
    # A 10 KB layer name: a long name is fine, it must not be quadratic or crash.
    write(t, "ok-long-layer-name.json", mutated(gap, lambda m: (
        layer_named(m, "gap").update(name="g" * 10000),
        layer_named(m, "Bottleneck").update(inbound_nodes=[[["g" * 10000, 0, 0, {}]]]))))


# ---------------------------------------------------------------- GraphDef (protobuf)

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(number, wire, payload):
    if wire == 0:
        return varint(number << 3) + varint(payload)
    if wire == 2:
        return varint(number << 3 | 2) + varint(len(payload)) + payload
    if wire == 5:
        return varint(number << 3 | 5) + payload
    raise ValueError(wire)


def fields(buffer):
    """Top-level (number, wire, start, end) of a protobuf message (payload range)."""
    i, out = 0, []
    while i < len(buffer):
        key, i = decode_varint(buffer, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, j = decode_varint(buffer, i)
            out.append((number, wire, i, j))
        elif wire == 2:
            length, start = decode_varint(buffer, i)
            j = start + length
            out.append((number, wire, start, j))
        elif wire == 5:
            j = i + 4
            out.append((number, wire, i, j))
        elif wire == 1:
            j = i + 8
            out.append((number, wire, i, j))
        else:
            raise ValueError(wire)
        i = j
    return out


def decode_varint(buffer, i):
    shift = value = 0
    while True:
        b = buffer[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def tensor_proto(dtype=1, dims=(), content=None, floats=None):
    shape = b"".join(field(2, 2, field(1, 0, d & (2**64 - 1))) for d in dims)
    out = field(1, 0, dtype) + field(2, 2, shape)
    if content is not None:
        out += field(4, 2, content)
    if floats is not None:
        out += field(5, 2, b"".join(struct.pack("<f", f) for f in floats))
    return out


def const_node(name, tensor, dtype=1):
    attr_value = field(1, 2, b"value") + field(2, 2, field(8, 2, tensor))
    attr_dtype = field(1, 2, b"dtype") + field(2, 2, field(6, 0, dtype))
    return field(1, 2, field(1, 2, name.encode()) + field(2, 2, b"Const") + field(5, 2, attr_dtype) + field(5, 2, attr_value))


def make_graphdef():
    t = "FuzzGraphDef"
    clean(t)
    basic = read(FIXTURES, "graph", "basic.pb")
    write(t, "ok-basic.pb", basic)
    write(t, "err-invalidGraph-empty.pb", b"")
    write(t, "ok-const-content.pb", const_node("c", tensor_proto(dims=(2, 2), content=struct.pack("<4f", 1, 2, 3, 4))))
    write(t, "ok-const-float-val.pb", const_node("c", tensor_proto(dims=(3,), floats=[1.5]))
          + const_node("d", tensor_proto(dims=(), floats=[-2.0])))
    write(t, "ok-unknown-fields.pb", field(99, 0, 5) + field(100, 2, b"xyz") + field(101, 5, b"\0\0\0\0") + basic)

    # The first nodes of the tiny FaceNet graph: they parse, the import finds constants missing.
    tiny = read(FIXTURES, "graph", "tiny_facenet.pb")
    kept, size = [], 0
    for number, wire, start, end in fields(tiny):
        if number != 1:
            continue
        node = tiny[start:end]
        if size + len(node) > 40000:
            break
        kept.append(field(1, 2, node))
        size += len(node)
    write(t, "ok-tiny-facenet-first-nodes.pb", b"".join(kept))
    # Nesting the reader never descends into (an attr's list value): skipped, not parsed.
    write(t, "ok-attr-value-nested-2000-deep.pb", _nested(2000))

    for cut in [1, 2, 17, len(basic) // 2, len(basic) - 1]:
        write(t, f"err-invalidGraph-basic-truncated-at-{cut}.pb", basic[:cut])
    graph_errors = [
        ("varint-eleven-bytes", b"\x08" + b"\xff" * 10 + b"\x01"),
        ("varint-unterminated", b"\x08\xff\xff"),
        ("length-past-end", b"\x0a\x7f" + b"\x00" * 10),
        ("length-2e63", b"\x0a" + varint(1 << 63)),
        ("wire-type-3-group", b"\x0b\x0c"),
        ("wire-type-6", b"\x0e\x00"),
        ("wire-type-7", b"\x0f\x00"),
        ("field-number-zero", b"\x02\x00"),
        ("node-not-message", field(1, 0, 5)),
        ("content-not-multiple-of-4", const_node("c", tensor_proto(dims=(2,), content=b"\0" * 7))),
        ("content-short-for-shape", const_node("c", tensor_proto(dims=(4, 4), content=b"\0" * 16))),
        ("float-val-too-many", const_node("c", tensor_proto(dims=(2,), floats=[1, 2, 3]))),
        ("dims-negative", const_node("c", tensor_proto(dims=(-1, 4), content=b"\0" * 16))),
        ("dims-2e31-squared", const_node("c", tensor_proto(dims=(1 << 31, 1 << 31), floats=[0.0]))),
        ("dims-overflow", const_node("c", tensor_proto(dims=(1 << 62, 1 << 62, 4), content=b"\0" * 16))),
        ("dims-huge-no-data", const_node("c", tensor_proto(dims=(1 << 40,)))),
        ("float-const-dtype-99", const_node("c", tensor_proto(dtype=99, dims=(1,), content=b"\0" * 4), dtype=1)),
        ("name-invalid-utf8", field(1, 2, field(1, 2, b"\xff\xfe") + field(2, 2, b"Const"))),
    ]
    for name, data in graph_errors:
        write(t, f"err-invalidGraph-{name}.pb", data)


def _nested(depth):
    """A node whose attr value is a list nested `depth` deep (length-delimited all the way)."""
    inner = b""
    for _ in range(depth):
        inner = field(1, 2, inner)
    return field(1, 2, field(1, 2, b"n") + field(5, 2, field(1, 2, b"a") + field(2, 2, inner)))


# ---------------------------------------------------------------- JPEG

def jpeg_segments(data):
    """(marker, start, end) of each marker segment before the first SOS, and the SOS offset."""
    assert data[:2] == b"\xff\xd8"
    i, out = 2, []
    while i < len(data):
        assert data[i] == 0xFF, i
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((marker, i, i + 2 + length))
        if marker == 0xDA:
            return out
        i += 2 + length
    return out


def jpeg_with(data, marker, offset, replacement):
    """`data` with bytes at `offset` within the first `marker` segment's payload replaced."""
    for m, start, _ in jpeg_segments(data):
        if m == marker:
            at = start + 4 + offset
            return data[:at] + replacement + data[at + len(replacement):]
    raise KeyError(hex(marker))


def make_jpeg():
    t = "FuzzJPEG"
    clean(t)
    img = lambda name: read(FIXTURES, "images", name)  # noqa: E731
    for name in ["jpeg_baseline_420.jpg", "jpeg_progressive_420.jpg", "jpeg_arithmetic_progressive.jpg",
                 "jpeg_gray.jpg", "jpeg_cmyk.jpg", "jpeg_ycck.jpg", "jpeg_exif_o6.jpg", "jpeg_1x1.jpg",
                 "jpeg_odd_size_420.jpg", "jpeg_extraneous_bytes.jpg"]:
        write(t, "ok-" + name[5:].replace("_", "-"), img(name))
    base, prog = img("jpeg_baseline_420.jpg"), img("jpeg_progressive_420.jpg")

    errors = [("empty", b""), ("soi-only", b"\xff\xd8"), ("soi-eoi", b"\xff\xd8\xff\xd9"),
              ("not-an-image", b"GIF89a" + b"\0" * 20), ("no-soi", base[2:]),
              ("header-only", base[:jpeg_segments(base)[-1][2]]), ("no-eoi-half-scan", base[:len(base) * 3 // 4])]
    for cut in [3, 100, 600]:
        errors.append((f"truncated-at-{cut}", base[:cut]))
    for cut in [len(prog) // 2, len(prog) - 40]:
        errors.append((f"progressive-truncated-at-{cut}", prog[:cut]))
    # SOF0 payload: precision(1) height(2) width(2) components(1) [id hv tq]*
    errors += [
        ("height-zero", jpeg_with(base, 0xC0, 1, b"\x00\x00")),
        ("width-zero", jpeg_with(base, 0xC0, 3, b"\x00\x00")),
        ("precision-12", jpeg_with(base, 0xC0, 0, b"\x0c")),
        ("precision-3", jpeg_with(base, 0xC0, 0, b"\x03")),
        ("components-2", jpeg_with(base, 0xC0, 5, b"\x02")),
        ("components-0", jpeg_with(base, 0xC0, 5, b"\x00")),
        ("sampling-factor-0", jpeg_with(base, 0xC0, 7, b"\x00")),
        ("sampling-factor-5", jpeg_with(base, 0xC0, 7, b"\x55")),
        ("quant-table-index-9", jpeg_with(base, 0xC0, 8, b"\x09")),
        ("huffman-counts-overflow", jpeg_with(base, 0xC4, 1, b"\xff" * 16)),
        ("marker-in-scan", base[:800] + b"\xff\xd0" + base[800:]),
        ("dqt-zero-length", jpeg_with(base, 0xDB, -2, b"\x00\x00")),
    ]
    for name, data in errors:
        write(t, f"err-invalidImage-{name}.jpg", data)
    write(t, "err-imageTooLarge-60000x60000.jpg", jpeg_with(base, 0xC0, 1, struct.pack(">HH", 60000, 60000)))
    write(t, "err-imageTooLarge-4097-wide.jpg", jpeg_with(base, 0xC0, 1, struct.pack(">HH", 32, 4097)))
    write(t, "err-imageTooLarge-2048x1024-pixels.jpg", jpeg_with(base, 0xC0, 1, struct.pack(">HH", 1024, 2048)))

    # EXIF: orientation 9, an IFD offset past the segment, 65535 entries claimed.
    o6 = img("jpeg_exif_o6.jpg")
    app1 = next((s, e) for m, s, e in jpeg_segments(o6) if m == 0xE1)
    seg = o6[app1[0]:app1[1]]
    tiff_at = seg.index(b"Exif\0\0") + 6
    tiff = seg[tiff_at:]
    little = tiff[:2] == b"II"
    u16 = (lambda v: struct.pack("<H" if little else ">H", v))
    u32 = (lambda v: struct.pack("<I" if little else ">I", v))
    ifd = struct.unpack("<I" if little else ">I", tiff[4:8])[0]

    def exif(new_tiff):
        new_seg = seg[:tiff_at] + new_tiff
        new_seg = new_seg[:2] + struct.pack(">H", len(new_seg) - 2) + new_seg[4:]
        return o6[:app1[0]] + new_seg + o6[app1[1]:]
    entry = ifd + 2  # first entry: tag(2) type(2) count(4) value(4)
    # Entropy-coded data changed without a marker or a bad code: wrong pixels, no warning.
    write(t, "ok-scan-bits-flipped.jpg", base[:700] + bytes(b ^ 0x5A for b in base[700:760]) + base[760:])
    write(t, "ok-scan-bytes-zeroed.jpg", base[:650] + b"\x00" * 200 + base[850:])
    write(t, "ok-exif-orientation-9.jpg", exif(tiff[:entry + 8] + u16(9) + tiff[entry + 10:]))
    write(t, "ok-exif-ifd-offset-past-end.jpg", exif(tiff[:4] + u32(0x7FFFFFF0) + tiff[8:]))
    write(t, "ok-exif-65535-entries.jpg", exif(tiff[:ifd] + u16(0xFFFF) + tiff[ifd + 2:]))
    write(t, "ok-exif-truncated-tiff.jpg", exif(tiff[:6]))
    write(t, "ok-exif-not-tiff.jpg", exif(b"XX" + tiff[2:]))

    # More than 1000 scans (the decoder's limit): one tiny progressive image, its last
    # AC scan repeated (libjpeg only warns about the repeats).
    small = img("jpeg_1x1.jpg")
    write(t, "err-invalidImage-1001-scans.jpg", _many_scans(small))


def _many_scans(baseline):
    """A 1x1 progressive-marked JPEG with 1001 DC-first scans (SOF2, each scan one byte)."""
    segs = jpeg_segments(baseline)
    head = bytearray(b"\xff\xd8")
    for m, s, e in segs[:-1]:
        seg = baseline[s:e]
        if m == 0xC0:
            seg = b"\xff\xc2" + seg[2:]
        head += seg
    sos_start = segs[-1][1]
    sos = baseline[sos_start:segs[-1][2]]
    # Components of the frame, in order, for a DC-first scan of each: Ss=0 Se=0 Ah=0 Al=0.
    ncomp = sos[4]
    comps = sos[5:5 + 2 * ncomp]
    scan = b"\xff\xda" + struct.pack(">H", 6 + 2 * ncomp) + bytes([ncomp]) + comps + b"\x00\x00\x00"
    body = b"".join(scan + b"\x00" for _ in range(1001))
    return bytes(head) + body + b"\xff\xd9"


# ---------------------------------------------------------------- PNG

def png_chunks(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i, out = 8, []
    while i < len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        kind = data[i + 4:i + 8]
        out.append((kind, data[i + 8:i + 8 + length]))
        i += 12 + length
    return out


def chunk(kind, payload, crc=None):
    if crc is None:
        crc = zlib.crc32(kind + payload)
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc & 0xFFFFFFFF)


def png(chunks):
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunk(k, p) for k, p in chunks)


def ihdr(w, h, depth=8, color=2, compression=0, filt=0, interlace=0):
    return (b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, compression, filt, interlace))


def raw_png(w, h, rows, depth=8, color=2, interlace=0, extra=()):
    return png([ihdr(w, h, depth, color, interlace=interlace), *extra, (b"IDAT", zlib.compress(rows, 9)), (b"IEND", b"")])


def make_png():
    t = "FuzzPNG"
    clean(t)
    img = lambda name: read(FIXTURES, "images", name)  # noqa: E731
    for name in ["png_rgb8.png", "png_palette4.png", "png_palette_trns.png", "png_gray1.png", "png_gray16.png",
                 "png_gray_alpha8.png", "png_interlaced_palette4.png", "png_exif_o6.png", "png_1x1.png"]:
        write(t, "ok-" + name[4:].replace("_", "-"), img(name))
    base = img("png_rgb8.png")
    chunks = png_chunks(base)
    w, h = struct.unpack(">II", chunks[0][1][:8])
    idat = b"".join(p for k, p in chunks if k == b"IDAT")
    rows = zlib.decompress(idat)

    def with_ihdr(**kw):
        fields_ = dict(zip(["w", "h", "depth", "color", "compression", "filt", "interlace"],
                           struct.unpack(">IIBBBBB", chunks[0][1])))
        fields_.update(kw)
        return png([ihdr(fields_["w"], fields_["h"], fields_["depth"], fields_["color"], fields_["compression"],
                         fields_["filt"], fields_["interlace"])] + [c for c in chunks[1:]])

    gray = png_chunks(img("png_gray8.png"))
    gray_idat = b"".join(p for k, p in gray if k == b"IDAT")
    write(t, "ok-idat-split-in-1-byte-chunks.png", png([gray[0]] + [(b"IDAT", gray_idat[i:i + 1])
                                                                    for i in range(len(gray_idat))] + [(b"IEND", b"")]))
    write(t, "ok-unknown-ancillary-chunk.png", png([chunks[0], (b"zzZz", b"hello")] + chunks[1:]))
    write(t, "ok-data-after-iend.png", base + b"trailing garbage")
    write(t, "ok-text-chunk-invalid-keyword.png", png([chunks[0], (b"tEXt", b"\xff" * 90 + b"\0v")] + chunks[1:]))
    # libpng ignores a tRNS longer than the palette (a warning) and maps indexes past the
    # palette to black: both decode.
    write(t, "ok-trns-too-long.png", png([ihdr(2, 2, 8, 3), (b"PLTE", b"\0" * 6), (b"tRNS", b"\0" * 5),
                                          (b"IDAT", zlib.compress(b"\0\0\1\0\1\0")), (b"IEND", b"")]))
    write(t, "ok-palette-index-out-of-range.png", png([ihdr(2, 2, 8, 3), (b"PLTE", b"\0" * 6),
                                                       (b"IDAT", zlib.compress(b"\0\x07\x09\0\xff\x01")), (b"IEND", b"")]))
    write(t, "ok-1x1-16bit-rgba.png", raw_png(1, 1, b"\0" + b"\x12\x34" * 4, depth=16, color=6))
    write(t, "ok-4096x1.png", raw_png(4096, 1, b"\0" + b"\x80" * 4096 * 3))
    write(t, "ok-zlib-max-window-rows.png", raw_png(300, 300, b"".join(b"\x02" + b"\0" * 900 for _ in range(300))))

    errors = [
        ("empty", b""), ("signature-only", base[:8]), ("signature-bad", base[:7] + b"\x0b" + base[8:]),
        ("truncated-in-ihdr", base[:20]), ("truncated-in-idat", base[:len(base) // 2]), ("no-iend", base[:-12]),
        ("ihdr-crc", base[:29] + bytes([base[29] ^ 1]) + base[30:]),
        ("idat-crc", png([chunks[0]]) + chunk(b"IDAT", idat, crc=0) + chunk(b"IEND", b"")),
        ("ancillary-crc", png([chunks[0]]) + chunk(b"tEXt", b"k\0v", crc=1) + b"".join(chunk(k, p) for k, p in chunks[1:])),
        ("width-zero", with_ihdr(w=0)), ("height-zero", with_ihdr(h=0)),
        ("width-2e31", with_ihdr(w=1 << 31)),
        ("depth-3", with_ihdr(depth=3)), ("depth-16-palette", with_ihdr(depth=16, color=3)),
        ("color-type-5", with_ihdr(color=5)), ("compression-1", with_ihdr(compression=1)),
        ("filter-method-1", with_ihdr(filt=1)), ("interlace-2", with_ihdr(interlace=2)),
        ("palette-missing", with_ihdr(color=3)),
        ("palette-too-long", png([ihdr(w, h, 8, 3), (b"PLTE", b"\0" * 771)] + chunks[1:])),
        ("idat-not-zlib", png([chunks[0], (b"IDAT", b"not zlib at all"), (b"IEND", b"")])),
        ("idat-too-short", png([chunks[0], (b"IDAT", zlib.compress(rows[:len(rows) // 3])), (b"IEND", b"")])),
        ("idat-empty", png([chunks[0], (b"IDAT", b""), (b"IEND", b"")])),
        ("no-idat", png([chunks[0], (b"IEND", b"")])),
        ("filter-type-7", png([chunks[0], (b"IDAT", zlib.compress(bytes([7]) + rows[1:])), (b"IEND", b"")])),
        ("two-ihdr", png([chunks[0], chunks[0]] + chunks[1:])),
        ("chunk-length-2e31", base[:33] + struct.pack(">I", 1 << 31) + base[37:]),
        ("ihdr-not-first", png([(b"tEXt", b"k\0v")] + chunks)),
    ]
    for name, data in errors:
        write(t, f"err-invalidImage-{name}.png", data)
    # The header is checked against the limits before the pixels: the IDAT can stay small.
    write(t, "err-imageTooLarge-60000x60000.png", with_ihdr(w=60000, h=60000))
    write(t, "err-imageTooLarge-4097x1.png", with_ihdr(w=4097, h=1))
    write(t, "err-imageTooLarge-2048x1024-pixels.png", with_ihdr(w=2048, h=1024))
    # A decompression bomb inside the limits: 1024x1024 RGB (3 MB of rows, ~3 KB of zlib),
    # over maxFileBytes? No: the file is small, the pixels are within 1 Mi; it must decode.
    write(t, "ok-1024x1024-zlib-bomb.png", raw_png(1024, 1024, b"".join(b"\0" + b"\0" * 3072 for _ in range(1024))))

    o6 = img("png_exif_o6.png")
    oc = png_chunks(o6)

    def exif_png(payload):
        return png([(k, payload if k == b"eXIf" else p) for k, p in oc])
    exif = next(p for k, p in oc if k == b"eXIf")
    # The orientation entry's value (tag 0x0112, big- or little-endian TIFF) set to 0.
    tag = b"\x01\x12" if exif[:2] == b"MM" else b"\x12\x01"
    at = exif.index(tag) + 8
    write(t, "ok-exif-orientation-0.png", exif_png(exif[:at] + b"\0\0" + exif[at + 2:]))
    write(t, "ok-exif-truncated.png", exif_png(exif[:5]))
    write(t, "ok-exif-garbage.png", exif_png(b"\xff" * 40))


# ---------------------------------------------------------------- HDF5

@contextlib.contextmanager
def untimed_groups():
    """h5py groups without modification times (HDF5 1.8+ object headers store them), so
    the files are the same on every run; datasets are untimed by h5py's default."""
    original = h5py.Group.create_group

    def create_group(self, name, track_order=None):
        gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
        gcpl.set_obj_track_times(False)
        group = self
        parts = (name.decode() if isinstance(name, bytes) else name).split("/")
        for part in parts[:-1]:  # intermediate groups, as h5py's lcpl would create them
            group = group[part] if part in group else create_group(group, part)
        return h5py.Group(h5py.h5g.create(group.id, parts[-1].encode(), gcpl=gcpl))
    h5py.Group.create_group = create_group
    try:
        yield
    finally:
        h5py.Group.create_group = original


def make_hdf5():
    t = "FuzzHDF5Weights"
    clean(t)
    tmp = os.path.join(OUT, t, ".tmp.h5")

    def h5bytes(build, libver="earliest"):
        low = {"earliest": h5py.h5f.LIBVER_EARLIEST, "v108": h5py.h5f.LIBVER_V18}[libver]
        fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
        fapl.set_libver_bounds(low, h5py.h5f.LIBVER_LATEST)
        fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
        fcpl.set_obj_track_times(False)  # the root group too
        try:
            with untimed_groups(), h5py.File(h5py.h5f.create(tmp.encode(), h5py.h5f.ACC_TRUNC, fapl=fapl, fcpl=fcpl)) as f:
                build(f)
            with open(tmp, "rb") as src:
                return src.read()
        finally:
            os.remove(tmp)

    def h5(name, build, libver="earliest"):
        write(t, name, h5bytes(build, libver))

    # The Fixtures/h5 model (HDF5ReaderTests.specs) as Keras 2.2 writes it, in HDF5 1.8's
    # compact format (superblock v2): 12 KB instead of Fixtures/h5/keras22_fixed.h5's 27 KB.
    good = h5bytes(lambda f: make_h5_reader_fixtures.write_save_weights(f, make_h5_reader_fixtures.fixed), "v108")
    write(t, "ok-keras22-fixed-superblock-v2.h5", good)
    sig = b"\x89HDF\r\n\x1a\n"
    # A small version-0 file (no checksum, so every field can be changed alone).
    v0 = h5bytes(lambda f: f.attrs.create("layer_names", np.array([b"input_1"])))
    assert v0[8] == 0 and v0[13] == 8 and v0[14] == 8, "expected a v0 superblock with 8-byte offsets"
    errors = [
        ("empty", b""), ("text", b"this is not an HDF5 file\n"), ("signature-only", sig),
        ("signature-at-512-then-nothing", b"\0" * 512 + sig),
        ("truncated-superblock", good[:40]), ("truncated-at-4k", good[:4096]),
        ("truncated-last-byte", v0[:-1]),
        ("superblock-version-4", sig + b"\x04" + v0[9:]),
        ("superblock-version-255", sig + b"\xff" + v0[9:]),
        # v0: sizes of offsets and lengths at 13 and 14; base address at 24, end-of-file at 40.
        ("offset-size-3", v0[:13] + b"\x03" + v0[14:]),
        ("length-size-16", v0[:14] + b"\x10" + v0[15:]),
        ("eof-address-past-file", v0[:40] + struct.pack("<Q", len(v0) * 4) + v0[48:]),
        ("eof-address-2e63", v0[:40] + struct.pack("<Q", 1 << 63) + v0[48:]),
        ("base-address-past-file", v0[:24] + struct.pack("<Q", 1 << 40) + v0[32:]),
        ("v2-checksum-wrong", good[:44] + bytes([good[44] ^ 0xFF]) + good[45:]),
    ]
    # All refused by the Swift checks before libhdf5 reads anything (or by libhdf5's open).
    for name, data in errors:
        write(t, f"err-unreadableFile-{name}.h5", data)

    # Made with h5py: a real HDF5 structure with one wrong thing each.
    def names(values):
        return np.array([v.encode() for v in values], dtype="S%d" % max(1, max((len(v) for v in values), default=1)))

    h5("err-invalidWeights-no-layer-names.h5", lambda f: f.create_group("dense"))
    h5("err-invalidWeights-layer-names-int.h5", lambda f: f.attrs.create("layer_names", np.arange(3)))
    h5("err-invalidWeights-layer-names-scalar.h5", lambda f: f.attrs.create("layer_names", b"input_1"))

    def missing_group(f):
        f.attrs["layer_names"] = names(["input_1", "Conv2d_1a"])
    h5("err-invalidWeights-layer-group-missing.h5", missing_group)

    def weight_names_point_nowhere(f):
        f.attrs["layer_names"] = names(["Conv2d_1a"])
        g = f.create_group("Conv2d_1a")
        g.attrs["weight_names"] = names(["Conv2d_1a/kernel:0"])
    h5("err-invalidWeights-weight-dataset-missing.h5", weight_names_point_nowhere)

    def dataset_is_group(f):
        f.attrs["layer_names"] = names(["Conv2d_1a"])
        g = f.create_group("Conv2d_1a")
        g.attrs["weight_names"] = names(["Conv2d_1a/kernel:0"])
        g.create_group("Conv2d_1a/kernel:0")
    h5("err-invalidWeights-weight-is-a-group.h5", dataset_is_group)

    def huge_unallocated(f):
        f.attrs["layer_names"] = names(["Conv2d_1a"])
        g = f.create_group("Conv2d_1a")
        g.attrs["weight_names"] = names(["Conv2d_1a/kernel:0"])
        g.create_dataset("Conv2d_1a/kernel:0", shape=(1 << 20, 1 << 20, 1, 1), dtype="f4", chunks=(1, 1, 1, 1))
    h5("err-invalidWeights-huge-unallocated-kernel.h5", huge_unallocated)

    # The whole model with one kernel stored as strings: every name and shape is right, so
    # only the dtype check stops it.
    def string_kernel(f):
        make_h5_reader_fixtures.write_save_weights(f, make_h5_reader_fixtures.fixed)
        del f["Conv2d_1a/Conv2d_1a/kernel:0"]
        f["Conv2d_1a"].create_dataset("Conv2d_1a/kernel:0", data=np.full((3, 3, 3, 4), b"abcd", dtype="S4"))
    h5("err-invalidWeights-string-kernel.h5", string_kernel, "v108")


def main():
    make_keras_json()
    make_graphdef()
    make_jpeg()
    make_png()
    make_hdf5()
    for target, names in written.items():
        directory = os.path.join(OUT, target)
        total = sum(os.path.getsize(os.path.join(directory, n)) for n in os.listdir(directory))
        print(f"{target}: wrote {len(names)} inputs; folder {len(os.listdir(directory))} files, {total} bytes")


if __name__ == "__main__":
    main()
