#!/usr/bin/env python3
"""Make FaceNetKit's own small test fixtures, with Keras as the oracle.

Python is used only here, to make reference data; the Swift tests never run it.

What it writes (all deterministic, fixed seeds):

  Tests/Fixtures/tiny/
    A narrow FaceNet-shaped network (Inception-ResNet-v1 with the same layer
    names, layer classes and block structure as the Keras 2.2 FaceNet JSON, but
    fewer repeats, 1/12 of the channel widths, a small non-square input and a
    16-d embedding) with random weights, in every file layout the engine reads:
      model_full.h5               tf_keras full model (model_config + model_weights)
      weights_tfkeras.h5          tf_keras save_weights (variable-length UTF-8 names,
                                  top_level_model_weights group)
      weights_keras22.h5          the same weights as Keras 2.2 wrote them
                                  (fixed-length byte-string names, no
                                  top_level_model_weights, keras_version 2.2.4)
      weights_keras3.weights.h5   Keras 3 save_weights
      topology_tfkeras.json       tf_keras model.to_json()
      topology_keras22.json       the same topology in the Keras 2.2 dialect of
                                  facenet128.json (CRLF, indent 2, a _comment key)
      topology_keras3.json        Keras 3 model.to_json()
      inputs.f32, <layer>.f32     golden input and tf_keras reference outputs
      manifest.json               golden manifest (shared format)

  Weights/facenet128.json   copy of ../shared/models/facenet128.json (when present)
  Weights/facenet512.json   the same with the Bottleneck Dense at 512 units
                            (a one-field text edit; every other byte unchanged)

Usage (from the repository root):
  python3 -m venv .venv && .venv/bin/pip install -r Scripts/requirements.txt
  .venv/bin/python Scripts/make_fixtures.py
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels: reproducible sums
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

# The FLOP count the shared golden manifest gives for the full FaceNet-128
# (synthetic128/manifest.json); our formula must reproduce it from the JSON.
FULL_FACENET_FLOPS = 2833948352
FULL_FACENET128_PARAMS = 22808144

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SHARED_JSON = os.path.join(os.path.dirname(REPO), "shared", "models", "facenet128.json")


# --------------------------------------------------------------------------
# Architecture description
# --------------------------------------------------------------------------

class Arch:
    """Sizes of an Inception-ResNet-v1. `full()` is the real FaceNet."""

    def __init__(self, height, width, divisor, n35, n17, n8, classes):
        self.height, self.width = height, width
        self.divisor = divisor
        self.n35, self.n17, self.n8 = n35, n17, n8
        self.classes = classes

    def ch(self, c):
        """A channel width of the full network, scaled down (rounded, >= 1)."""
        return max(1, int(round(c / self.divisor)))

    @staticmethod
    def full(classes=128):
        return Arch(160, 160, 1, 5, 10, 5, classes)

    @staticmethod
    def tiny(height=122, width=108, divisor=12, n35=2, n17=2, n8=2, classes=16):
        # 122 x 108: every valid conv/pool stays legal (the last stage, Mixed_7a,
        # ends at 2 x 2); the two axes differ so an H/W mix-up shows; several
        # stride-2 valid convs/pools see an even size, so their last row or
        # column is dropped (TF's floor rule).
        return Arch(height, width, divisor, n35, n17, n8, classes)


def scaling(x, scale):
    """FaceNet's residual scale: the Lambda layers compute x * scale."""
    return x * scale


def build_model(L, arch, K_int_shape):
    """Build Inception-ResNet-v1 with layers module `L` (tf_keras.layers or keras.layers).

    The construction order follows the original Keras FaceNet code, so Keras
    orders the layers (model.layers / JSON) exactly as in facenet128.json;
    `check_full_against_reference` verifies that on the full-size network.
    Returns (inputs, outputs, bn_axis) where bn_axis maps BN layer name -> the
    axis argument given (needed to write the Keras 2.2 dialect faithfully).
    """
    bn_axis = {}
    counters = {"lambda": 0, "add": 0}

    def conv2d_bn(x, filters, kernel_size, strides=1, padding="same",
                  activation="relu", use_bias=False, name=None):
        x = L.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                     use_bias=use_bias, name=name)(x)
        if not use_bias:
            bn_axis[name + "_BatchNorm"] = 3
            x = L.BatchNormalization(axis=3, momentum=0.995, epsilon=0.001,
                                     scale=False, name=name + "_BatchNorm")(x)
        if activation is not None:
            x = L.Activation(activation, name=name + "_Activation")(x)
        return x

    def block(x, scale, block_type, idx, activation="relu"):
        p = "%s_%d" % (block_type, idx)
        if block_type == "Block35":
            w = arch.ch(32)
            b0 = conv2d_bn(x, w, 1, name=p + "_Branch_0_Conv2d_1x1")
            b1 = conv2d_bn(x, w, 1, name=p + "_Branch_1_Conv2d_0a_1x1")
            b1 = conv2d_bn(b1, w, 3, name=p + "_Branch_1_Conv2d_0b_3x3")
            b2 = conv2d_bn(x, w, 1, name=p + "_Branch_2_Conv2d_0a_1x1")
            b2 = conv2d_bn(b2, w, 3, name=p + "_Branch_2_Conv2d_0b_3x3")
            b2 = conv2d_bn(b2, w, 3, name=p + "_Branch_2_Conv2d_0c_3x3")
            branches = [b0, b1, b2]
        elif block_type == "Block17":
            w = arch.ch(128)
            b0 = conv2d_bn(x, w, 1, name=p + "_Branch_0_Conv2d_1x1")
            b1 = conv2d_bn(x, w, 1, name=p + "_Branch_1_Conv2d_0a_1x1")
            b1 = conv2d_bn(b1, w, [1, 7], name=p + "_Branch_1_Conv2d_0b_1x7")
            b1 = conv2d_bn(b1, w, [7, 1], name=p + "_Branch_1_Conv2d_0c_7x1")
            branches = [b0, b1]
        else:  # Block8
            w = arch.ch(192)
            b0 = conv2d_bn(x, w, 1, name=p + "_Branch_0_Conv2d_1x1")
            b1 = conv2d_bn(x, w, 1, name=p + "_Branch_1_Conv2d_0a_1x1")
            b1 = conv2d_bn(b1, w, [1, 3], name=p + "_Branch_1_Conv2d_0b_1x3")
            b1 = conv2d_bn(b1, w, [3, 1], name=p + "_Branch_1_Conv2d_0c_3x1")
            branches = [b0, b1]
        mixed = L.Concatenate(axis=3, name=p + "_Concatenate")(branches)
        up = conv2d_bn(mixed, K_int_shape(x)[3], 1, activation=None,
                       use_bias=True, name=p + "_Conv2d_1x1")
        counters["lambda"] += 1
        up = L.Lambda(scaling, output_shape=tuple(K_int_shape(up)[1:]),
                      arguments={"scale": scale},
                      name="lambda_%d" % counters["lambda"])(up)
        counters["add"] += 1
        x = L.Add(name="add_%d" % counters["add"])([x, up])
        if activation is not None:
            x = L.Activation(activation, name=p + "_Activation")(x)
        return x

    c = arch.ch
    inputs = L.Input(shape=(arch.height, arch.width, 3), name="input_1")
    x = conv2d_bn(inputs, c(32), 3, strides=2, padding="valid", name="Conv2d_1a_3x3")
    x = conv2d_bn(x, c(32), 3, padding="valid", name="Conv2d_2a_3x3")
    x = conv2d_bn(x, c(64), 3, name="Conv2d_2b_3x3")
    x = L.MaxPooling2D(3, strides=2, name="MaxPool_3a_3x3")(x)
    x = conv2d_bn(x, c(80), 1, padding="valid", name="Conv2d_3b_1x1")
    x = conv2d_bn(x, c(192), 3, padding="valid", name="Conv2d_4a_3x3")
    x = conv2d_bn(x, c(256), 3, strides=2, padding="valid", name="Conv2d_4b_3x3")

    for i in range(1, arch.n35 + 1):
        x = block(x, 0.17, "Block35", i)

    b0 = conv2d_bn(x, c(384), 3, strides=2, padding="valid", name="Mixed_6a_Branch_0_Conv2d_1a_3x3")
    b1 = conv2d_bn(x, c(192), 1, name="Mixed_6a_Branch_1_Conv2d_0a_1x1")
    b1 = conv2d_bn(b1, c(192), 3, name="Mixed_6a_Branch_1_Conv2d_0b_3x3")
    b1 = conv2d_bn(b1, c(256), 3, strides=2, padding="valid", name="Mixed_6a_Branch_1_Conv2d_1a_3x3")
    bp = L.MaxPooling2D(3, strides=2, padding="valid", name="Mixed_6a_Branch_2_MaxPool_1a_3x3")(x)
    x = L.Concatenate(axis=3, name="Mixed_6a")([b0, b1, bp])

    for i in range(1, arch.n17 + 1):
        x = block(x, 0.1, "Block17", i)

    b0 = conv2d_bn(x, c(256), 1, name="Mixed_7a_Branch_0_Conv2d_0a_1x1")
    b0 = conv2d_bn(b0, c(384), 3, strides=2, padding="valid", name="Mixed_7a_Branch_0_Conv2d_1a_3x3")
    b1 = conv2d_bn(x, c(256), 1, name="Mixed_7a_Branch_1_Conv2d_0a_1x1")
    b1 = conv2d_bn(b1, c(256), 3, strides=2, padding="valid", name="Mixed_7a_Branch_1_Conv2d_1a_3x3")
    b2 = conv2d_bn(x, c(256), 1, name="Mixed_7a_Branch_2_Conv2d_0a_1x1")
    b2 = conv2d_bn(b2, c(256), 3, name="Mixed_7a_Branch_2_Conv2d_0b_3x3")
    b2 = conv2d_bn(b2, c(256), 3, strides=2, padding="valid", name="Mixed_7a_Branch_2_Conv2d_1a_3x3")
    bp = L.MaxPooling2D(3, strides=2, padding="valid", name="Mixed_7a_Branch_3_MaxPool_1a_3x3")(x)
    x = L.Concatenate(axis=3, name="Mixed_7a")([b0, b1, b2, bp])

    for i in range(1, arch.n8 + 1):
        x = block(x, 0.2, "Block8", i)
    # The last block is Block8_6 as in FaceNet (whatever the repeat count),
    # scale 1.0 and no ReLU.
    x = block(x, 1.0, "Block8", 6, activation=None)

    x = L.GlobalAveragePooling2D(name="AvgPool")(x)
    x = L.Dropout(1.0 - 0.8, name="Dropout")(x)
    x = L.Dense(arch.classes, use_bias=False, name="Bottleneck")(x)
    bn_axis["Bottleneck_BatchNorm"] = -1
    x = L.BatchNormalization(momentum=0.995, epsilon=0.001, scale=False,
                             name="Bottleneck_BatchNorm")(x)
    return inputs, x, bn_axis


def build_tfkeras(arch):
    import tf_keras
    inputs, outputs, bn_axis = build_model(tf_keras.layers, arch, tf_keras.backend.int_shape)
    model = tf_keras.Model(inputs, outputs, name="inception_resnet_v1")
    return model, bn_axis


def build_keras3(arch):
    import keras
    inputs, outputs, _ = build_model(keras.layers, arch, lambda t: tuple(t.shape))
    return keras.Model(inputs, outputs, name="inception_resnet_v1")


# --------------------------------------------------------------------------
# Random weights
# --------------------------------------------------------------------------

def randomize_weights(model, seed):
    """He-normal kernels, small random biases, sane random BN statistics.

    Drawn in model.layers order from one numpy generator, so the weights depend
    only on the seed and the architecture.
    """
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        cls = layer.__class__.__name__
        ws = layer.get_weights()
        if not ws:
            continue
        if cls == "Conv2D":
            k = ws[0]
            fan_in = k.shape[0] * k.shape[1] * k.shape[2]
            new = [rng.normal(0.0, np.sqrt(2.0 / fan_in), k.shape)]
            if layer.use_bias:
                new.append(rng.normal(0.0, 0.1, ws[1].shape))
        elif cls == "Dense":
            k = ws[0]
            new = [rng.normal(0.0, np.sqrt(2.0 / k.shape[0]), k.shape)]
        elif cls == "BatchNormalization":
            # scale=False: [beta, moving_mean, moving_variance]
            assert len(ws) == 3, (layer.name, [w.shape for w in ws])
            n = ws[0].shape
            new = [rng.normal(0.0, 0.2, n),          # beta
                   rng.normal(0.0, 0.2, n),          # moving_mean
                   rng.uniform(0.5, 2.0, n)]         # moving_variance
        else:
            raise RuntimeError("unexpected weighted layer %s (%s)" % (layer.name, cls))
        layer.set_weights([w.astype(np.float32) for w in new])


def calibrate_batchnorm(model, images, seed):
    """Give every BN moving statistics that fit the data, then perturb them.

    Pure random statistics leave many ReLU channels dead in this narrow net
    (a He-normal conv on ReLU inputs has a per-channel mean offset of the
    order of its spread), so, layer by layer in model order, the statistics
    are set from a calibration batch: moving_mean = batch mean + N(0, 0.1)
    * std, moving_variance = batch variance * U(0.5, 2), beta ~ N(0, 0.2).
    The outputs of every BN are then O(1) with both signs, as in a trained net.
    """
    import tf_keras
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.__class__.__name__ != "BatchNormalization":
            continue
        probe = tf_keras.Model(model.input, layer.input)
        v = np.asarray(probe(images, training=False), dtype=np.float64)
        v = v.reshape(-1, v.shape[-1])
        mean, var = v.mean(axis=0), v.var(axis=0)
        std = np.sqrt(var + 1e-3)
        n = mean.shape
        beta = rng.normal(0.0, 0.2, n)
        moving_mean = mean + rng.normal(0.0, 0.1, n) * std
        moving_var = np.maximum(var, 1e-2) * rng.uniform(0.5, 2.0, n)
        layer.set_weights([w.astype(np.float32) for w in (beta, moving_mean, moving_var)])


def copy_weights_by_name(src, dst):
    """Copy weights layer by layer, matched by layer name, checking shapes."""
    src_by_name = {l.name: l for l in src.layers}
    copied = 0
    for layer in dst.layers:
        ws = src_by_name[layer.name].get_weights()
        mine = layer.get_weights()
        assert len(ws) == len(mine), layer.name
        for a, b in zip(ws, mine):
            assert a.shape == b.shape, (layer.name, a.shape, b.shape)
        if ws:
            layer.set_weights(ws)
            copied += 1
    return copied


# --------------------------------------------------------------------------
# Keras JSON: inbound nodes of all three dialects, shape inference, FLOPs
# --------------------------------------------------------------------------

def _keras3_history_names(obj, out):
    """Collect keras_history layer names from a Keras 3 node's args (any nesting)."""
    if isinstance(obj, dict):
        if obj.get("class_name") == "__keras_tensor__":
            out.append(obj["config"]["keras_history"][0])
            return
        for v in obj.values():
            _keras3_history_names(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _keras3_history_names(v, out)


def inbound_layer_names(layer):
    """Input layer names of a layer's first node, in order (any dialect)."""
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3: {"args": [...], "kwargs": {...}}
        names = []
        _keras3_history_names(node.get("args", []), names)
        return names
    return [entry[0] for entry in node]  # Keras 2: [[name, node, tensor, {}], ...]


def _pair(v):
    return list(v) if isinstance(v, (list, tuple)) else [v, v]


def _out_len(n, k, s, padding):
    if padding == "valid":
        return (n - k) // s + 1
    return -(-n // s)


def analyse_keras_json(topology):
    """Shapes, parameter count and FLOPs of a Keras functional-model JSON.

    FLOPs = sum over Conv2D of 2*Ho*Wo*kh*kw*Cin*Cout
          + sum over Dense  of 2*Din*Dout
    (2 FLOPs per multiply-add; biases, BN, pooling, adds and activations not
    counted). Parameters count every weight Keras stores, BN moving statistics
    included, as model.count_params() does.
    """
    layers = topology["config"]["layers"]
    shapes = {}
    flops = 0
    params = 0
    for layer in layers:
        cls = layer["class_name"]
        cfg = layer["config"]
        name = layer.get("name") or cfg["name"]
        ins = [shapes[n] for n in inbound_layer_names(layer)]
        if cls == "InputLayer":
            shp = cfg.get("batch_input_shape") or cfg.get("batch_shape")
            out = list(shp[1:])
        elif cls == "Conv2D":
            h, w, cin = ins[0]
            kh, kw = _pair(cfg["kernel_size"])
            sh, sw = _pair(cfg["strides"])
            ho = _out_len(h, kh, sh, cfg["padding"])
            wo = _out_len(w, kw, sw, cfg["padding"])
            cout = cfg["filters"]
            out = [ho, wo, cout]
            flops += 2 * ho * wo * kh * kw * cin * cout
            params += kh * kw * cin * cout + (cout if cfg["use_bias"] else 0)
        elif cls == "Dense":
            din = ins[0][-1]
            out = ins[0][:-1] + [cfg["units"]]
            flops += 2 * din * cfg["units"]
            params += din * cfg["units"] + (cfg["units"] if cfg["use_bias"] else 0)
        elif cls == "BatchNormalization":
            out = ins[0]
            n = out[-1]
            params += n * (int(cfg.get("scale", True)) + int(cfg.get("center", True)) + 2)
        elif cls == "MaxPooling2D":
            h, w, c = ins[0]
            ph, pw = _pair(cfg["pool_size"])
            sh, sw = _pair(cfg["strides"] or cfg["pool_size"])
            out = [_out_len(h, ph, sh, cfg["padding"]), _out_len(w, pw, sw, cfg["padding"]), c]
        elif cls == "Concatenate":
            axis = cfg["axis"]
            assert axis in (3, -1), axis
            out = ins[0][:-1] + [sum(s[-1] for s in ins)]
        elif cls == "GlobalAveragePooling2D":
            out = [ins[0][-1]]
        elif cls in ("Activation", "Lambda", "Dropout", "Add"):
            for s in ins[1:]:
                assert s == ins[0], (name, ins)
            out = ins[0]
        else:
            raise RuntimeError("no shape rule for %s" % cls)
        shapes[name] = out
    return shapes, params, flops


# --------------------------------------------------------------------------
# The Keras 2.2 dialect (facenet128.json)
# --------------------------------------------------------------------------

def _strip_tf_keras(obj):
    """Drop the keys tf_keras adds (module, registered_name, build_config),
    and write initializers as Keras 2.2 did ({"config", "class_name"};
    glorot_uniform was a VarianceScaling then)."""
    if isinstance(obj, list):
        return [_strip_tf_keras(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "class_name" in obj and "config" in obj and "module" in obj and \
            obj.get("module") == "keras.initializers":
        cls = obj["class_name"]
        cfg = obj["config"]
        if cls == "GlorotUniform":
            cls = "VarianceScaling"
            cfg = {"distribution": "uniform", "mode": "fan_avg", "scale": 1,
                   "seed": cfg.get("seed")}
        return {"config": _strip_tf_keras(cfg), "class_name": cls}
    return {k: _strip_tf_keras(v) for k, v in obj.items()
            if k not in ("module", "registered_name", "build_config")}


def _template_configs(reference):
    """Per class, the layer-config key order of the Keras 2.2 reference JSON."""
    out = {}
    for layer in reference["config"]["layers"]:
        out.setdefault(layer["class_name"], list(layer["config"].keys()))
    return out


# Key order of each layer's config in facenet128.json (Keras 2.2.0 JSON as
# written by Python 3.5, whose dicts kept no insertion order). Used when the
# reference file is not at hand so the output does not depend on ../shared.
KERAS22_CONFIG_KEYS = {
    "InputLayer": ["batch_input_shape", "dtype", "name", "sparse"],
    "Conv2D": ["padding", "activity_regularizer", "bias_regularizer", "filters",
               "kernel_regularizer", "use_bias", "strides", "kernel_size", "trainable",
               "name", "data_format", "kernel_constraint", "bias_constraint",
               "kernel_initializer", "dilation_rate", "bias_initializer", "activation"],
    "BatchNormalization": ["scale", "gamma_constraint", "beta_constraint", "beta_regularizer",
                           "trainable", "momentum", "center", "epsilon", "name",
                           "gamma_regularizer", "gamma_initializer", "moving_mean_initializer",
                           "moving_variance_initializer", "axis", "beta_initializer"],
    "Activation": ["trainable", "name", "activation"],
    "MaxPooling2D": ["pool_size", "padding", "name", "trainable", "data_format", "strides"],
    "Concatenate": ["trainable", "name", "axis"],
    "Lambda": ["function", "name", "arguments", "function_type", "output_shape",
               "output_shape_type", "trainable"],
    "Add": ["trainable", "name"],
    "GlobalAveragePooling2D": ["trainable", "name", "data_format"],
    "Dropout": ["trainable", "name", "rate", "noise_shape", "seed"],
    "Dense": ["activity_regularizer", "bias_regularizer", "kernel_constraint", "units",
              "kernel_regularizer", "use_bias", "trainable", "name", "activation",
              "bias_constraint", "kernel_initializer", "bias_initializer"],
}


def _int_if_integral(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def to_keras22(tfk_topology, bn_axis, comment=None):
    """Convert tf_keras model.to_json() output to the Keras 2.2 dialect."""
    cfg = tfk_topology["config"]
    layers = []
    for layer in cfg["layers"]:
        cls = layer["class_name"]
        src = _strip_tf_keras(layer["config"])
        if cls == "BatchNormalization":
            src["axis"] = bn_axis[src["name"]]
        if cls == "Lambda":
            # Keras 2.2 wrote whole-number arguments as ints ("scale": 1).
            src["arguments"] = {k: _int_if_integral(v) for k, v in src["arguments"].items()}
            if src.get("output_shape") is not None:
                src["output_shape"] = list(src["output_shape"])
        keys = KERAS22_CONFIG_KEYS[cls]
        missing = [k for k in keys if k not in src]
        assert not missing, (cls, missing)
        conf = {k: src[k] for k in keys}
        # inbound_nodes: tf_keras already writes [[[name, 0, 0, {}], ...]]
        layers.append({"name": layer["name"], "inbound_nodes": layer["inbound_nodes"],
                       "config": conf, "class_name": cls})
    out = {
        "keras_version": "2.2.4",
        "backend": "tensorflow",
        "config": {
            "input_layers": cfg["input_layers"],
            "name": cfg["name"],
            "layers": layers,
            "output_layers": cfg["output_layers"],
        },
        "class_name": "Model",
    }
    if comment:
        out["_comment"] = comment
    return out


def dump_keras22_text(obj):
    """Text like facenet128.json: indent 2, CRLF line ends, no final newline."""
    return json.dumps(obj, indent=2).replace("\n", "\r\n")


# --------------------------------------------------------------------------
# H5 layouts
# --------------------------------------------------------------------------

def _attr_strings(attr):
    return [a.decode("utf8") if isinstance(a, bytes) else str(a) for a in attr]


def rewrite_as_keras22_h5(src_path, dst_path):
    """Rewrite a tf_keras save_weights file the way Keras 2.2 wrote one.

    Keras 2.2: f.attrs['layer_names'] = [name.encode('utf8') ...] (numpy 'S'
    array, fixed-length strings); backend and keras_version as bytes; per layer
    a group with attribute weight_names (an 'S' array, or an empty float64
    array for a weightless layer) and datasets at <layer>/<weight name>.
    No top_level_model_weights group.
    """
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w") as dst:
        names = _attr_strings(src.attrs["layer_names"])
        dst.attrs["layer_names"] = np.array([n.encode("utf8") for n in names])
        # np.bytes_ makes fixed-length strings, as h5py 2 did for Keras 2.2's
        # bytes (h5py 3 would store a plain bytes object as variable-length).
        dst.attrs["backend"] = np.bytes_(b"tensorflow")
        dst.attrs["keras_version"] = np.bytes_(b"2.2.4")
        for n in names:
            g_src = src[n]
            g = dst.create_group(n)
            wnames = _attr_strings(g_src.attrs["weight_names"])
            if wnames:
                g.attrs["weight_names"] = np.array([w.encode("utf8") for w in wnames])
            else:
                g.attrs["weight_names"] = np.array([])  # float64, as Keras 2.2 wrote
            for w in wnames:
                data = g_src[w][()]
                g.create_dataset(w, data=data)
        for key in ("layer_names", "backend", "keras_version"):
            t = h5py.h5a.open(dst.id, key.encode()).get_type()
            assert isinstance(t, h5py.h5t.TypeStringID) and not t.is_variable_str(), key


def h5_tree(path):
    lines = []

    def attrs_of(o):
        parts = []
        for k, v in o.attrs.items():
            if isinstance(v, np.ndarray) and v.size > 4:
                parts.append("%s=<%s %s>" % (k, v.dtype, v.shape))
            else:
                parts.append("%s=%r" % (k, v.tolist() if isinstance(v, np.ndarray) else v))
        return (" {" + ", ".join(parts) + "}") if parts else ""

    def visit(name, obj):
        depth = name.count("/")
        if isinstance(obj, h5py.Dataset):
            lines.append("  " * depth + "%s  %s %s" % (name.split("/")[-1], obj.dtype, obj.shape))
        else:
            lines.append("  " * depth + name.split("/")[-1] + "/" + attrs_of(obj))

    with h5py.File(path, "r") as f:
        lines.append("/" + attrs_of(f))
        f.visititems(visit)
    return lines


def keras3_group_names(json_layers):
    """Predicted Keras 3 .weights.h5 group of each layer: layers/<snake_case
    class name>, suffixed _1, _2, ... per class in model order."""
    import keras
    used = {}
    out = []
    for layer in json_layers:
        base = keras.src.utils.naming.to_snake_case(layer["class_name"])
        if base in used:
            used[base] += 1
            out.append("layers/%s_%d" % (base, used[base]))
        else:
            used[base] = 0
            out.append("layers/" + base)
    return out


# --------------------------------------------------------------------------
# Main steps
# --------------------------------------------------------------------------

def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def check_full_against_reference(ref_path):
    """The builder and the Keras 2.2 converter reproduce facenet128.json;
    the FLOP formula reproduces the shared manifest's figure."""
    with open(ref_path, "r", encoding="utf8") as f:
        ref = json.load(f)
    _, ref_params, ref_flops = analyse_keras_json(ref)
    print("facenet128.json: %d layers, params %d, FLOPs/image %d (2 per MAC, Conv2D + Dense)"
          % (len(ref["config"]["layers"]), ref_params, ref_flops))
    assert ref_flops == FULL_FACENET_FLOPS, ref_flops
    assert ref_params == FULL_FACENET128_PARAMS, ref_params

    # Our key-order table equals the reference file's.
    assert _template_configs(ref) == KERAS22_CONFIG_KEYS

    model, bn_axis = build_tfkeras(Arch.full(128))
    assert model.count_params() == FULL_FACENET128_PARAMS, model.count_params()
    mine = to_keras22(json.loads(model.to_json()), bn_axis)
    ref_layers = ref["config"]["layers"]
    my_layers = mine["config"]["layers"]
    assert [l["name"] for l in my_layers] == [l["name"] for l in ref_layers], "layer order differs"
    diffs = 0
    for a, b in zip(my_layers, ref_layers):
        a = json.loads(json.dumps(a))
        b = json.loads(json.dumps(b))
        if a["class_name"] == "Lambda":
            # marshalled bytecode differs by Python version; nothing else may
            a["config"]["function"][0] = b["config"]["function"][0] = "<code>"
        if a != b:
            diffs += 1
            print("  differs:", a["name"])
            print("    mine:", json.dumps(a)[:400])
            print("    ref :", json.dumps(b)[:400])
    for k in ("input_layers", "name", "output_layers"):
        assert mine["config"][k] == ref["config"][k], k
    assert diffs == 0, "%d layers differ from facenet128.json" % diffs
    print("full-size build + Keras 2.2 conversion == facenet128.json for all %d layers "
          "(Lambda bytecode aside)" % len(ref_layers))
    del model


def write_weights_jsons(ref_path, weights_dir):
    os.makedirs(weights_dir, exist_ok=True)
    with open(ref_path, "rb") as f:
        raw = f.read()
    shutil.copyfile(ref_path, os.path.join(weights_dir, "facenet128.json"))
    text = raw.decode("utf8")
    hits = [m.start() for m in re.finditer(r'"units": 128\b', text)]
    assert len(hits) == 1, "expected one Dense units field, found %d" % len(hits)
    new_text = text[:hits[0]] + '"units": 512' + text[hits[0] + len('"units": 128'):]
    dst = os.path.join(weights_dir, "facenet512.json")
    with open(dst, "wb") as f:
        f.write(new_text.encode("utf8"))
    # Exactly one field changed.
    a = json.loads(raw)
    b = json.loads(new_text)
    la, lb = a["config"]["layers"], b["config"]["layers"]
    changed = [(x["name"], k) for x, y in zip(la, lb) for k in x["config"]
               if x["config"][k] != y["config"][k]]
    a_rest = dict(a); a_rest["config"] = dict(a["config"]); a_rest["config"].pop("layers")
    b_rest = dict(b); b_rest["config"] = dict(b["config"]); b_rest["config"].pop("layers")
    assert a_rest == b_rest and len(la) == len(lb)
    assert all(set(x.keys()) == set(y.keys()) and x["inbound_nodes"] == y["inbound_nodes"]
               and x["class_name"] == y["class_name"] for x, y in zip(la, lb))
    assert changed == [("Bottleneck", "units")], changed
    assert len(raw) == len(new_text.encode("utf8"))
    _, params, flops = analyse_keras_json(b)
    print("Weights/facenet512.json: only Bottleneck.units changed (128 -> 512); "
          "params %d, FLOPs/image %d" % (params, flops))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "Tests", "Fixtures", "tiny"))
    ap.add_argument("--weights-dir", default=os.path.join(REPO, "Weights"))
    ap.add_argument("--facenet-json", default=DEFAULT_SHARED_JSON,
                    help="Keras 2.2 FaceNet JSON (facenet128.json); optional")
    ap.add_argument("--seed", type=int, default=20240611)
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--size", type=int, nargs=2, default=[122, 108], metavar=("H", "W"),
                    help="input height and width (at least 107 each for a 2x2 Mixed_7a)")
    ap.add_argument("--divisor", type=int, default=12, help="channel widths = round(full / divisor)")
    ap.add_argument("--repeats", type=int, nargs=3, default=[2, 2, 2], metavar=("N35", "N17", "N8"),
                    help="Block35, Block17, Block8 repeats (Block8_6 comes on top)")
    ap.add_argument("--verbose", action="store_true", help="print per-layer activation stats")
    args = ap.parse_args()

    import tensorflow as tf
    import tf_keras
    import keras

    # Our own files carry our own Lambda bytecode: let both Keras read them back.
    tf_keras.__internal__.enable_unsafe_deserialization()
    keras.config.enable_unsafe_deserialization()

    tf.random.set_seed(args.seed)
    tf_keras.utils.set_random_seed(args.seed)
    keras.utils.set_random_seed(args.seed)
    print("tensorflow %s, tf_keras %s, keras %s, h5py %s, numpy %s"
          % (tf.__version__, tf_keras.__version__, keras.__version__, h5py.__version__, np.__version__))

    have_ref = os.path.exists(args.facenet_json)
    if have_ref:
        check_full_against_reference(args.facenet_json)
        write_weights_jsons(args.facenet_json, args.weights_dir)
    else:
        print("skipping the facenet128.json checks and Weights/: %s not found" % args.facenet_json)

    out = args.out
    os.makedirs(out, exist_ok=True)
    for fn in os.listdir(out):
        os.remove(os.path.join(out, fn))

    # ---- tf_keras model with random weights ----
    arch = Arch.tiny(args.size[0], args.size[1], args.divisor, *args.repeats)
    model, bn_axis = build_tfkeras(arch)
    randomize_weights(model, args.seed)
    calib = np.random.default_rng(args.seed + 2).uniform(
        -1.0, 1.0, (16, arch.height, arch.width, 3)).astype(np.float32)
    calibrate_batchnorm(model, calib, args.seed + 3)
    params = model.count_params()

    # ---- topologies ----
    tfk_json_text = model.to_json()
    tfk_topology = json.loads(tfk_json_text)
    with open(os.path.join(out, "topology_tfkeras.json"), "w", encoding="utf8") as f:
        f.write(tfk_json_text)
    k22 = to_keras22(tfk_topology, bn_axis,
                     comment="tiny FaceNet-shaped test fixture, made by Scripts/make_fixtures.py")
    with open(os.path.join(out, "topology_keras22.json"), "wb") as f:
        f.write(dump_keras22_text(k22).encode("utf8"))

    shapes, json_params, flops = analyse_keras_json(tfk_topology)
    assert json_params == params, (json_params, params)

    # ---- weights ----
    model.save(os.path.join(out, "model_full.h5"), save_format="h5")
    model.save_weights(os.path.join(out, "weights_tfkeras.h5"), save_format="h5")
    rewrite_as_keras22_h5(os.path.join(out, "weights_tfkeras.h5"), os.path.join(out, "weights_keras22.h5"))

    # ---- Keras 3 twin ----
    k3 = build_keras3(arch)
    n_copied = copy_weights_by_name(model, k3)
    assert k3.count_params() == params
    k3_json_text = k3.to_json()
    with open(os.path.join(out, "topology_keras3.json"), "w", encoding="utf8") as f:
        f.write(k3_json_text)
    k3.save_weights(os.path.join(out, "weights_keras3.weights.h5"))

    # ---- inputs and reference outputs ----
    rng = np.random.default_rng(args.seed + 1)
    x = rng.uniform(-1.0, 1.0, (args.batch, arch.height, arch.width, 3)).astype(np.float32)
    x.astype("<f4").tofile(os.path.join(out, "inputs.f32"))

    ref_layers = [
        "Conv2d_1a_3x3_Activation",
        "MaxPool_3a_3x3",
        "Conv2d_4b_3x3_Activation",
        "Block35_%d_Activation" % arch.n35,
        "Mixed_6a",
        "Block17_%d_Activation" % arch.n17,
        "Mixed_7a",
        "Block8_%d_Activation" % arch.n8,
        "Block8_6_Conv2d_1x1",
        "add_%d" % (arch.n35 + arch.n17 + arch.n8 + 1),
        "AvgPool",
        "Bottleneck",
        "Bottleneck_BatchNorm",
    ]
    probe = tf_keras.Model(model.input, [model.get_layer(n).output for n in ref_layers])
    refs = [np.asarray(r) for r in probe(x, training=False)]
    emb = refs[-1]
    emb_l2 = (emb / np.linalg.norm(emb.astype(np.float64), axis=1, keepdims=True)).astype(np.float32)

    # Keras 3 on the same input, same probes.
    probe3 = keras.Model(k3.input, [k3.get_layer(n).output for n in ref_layers])
    refs3 = [np.asarray(r) for r in probe3(x, training=False)]
    k3_diff = {n: float(np.max(np.abs(a - b))) for n, a, b in zip(ref_layers, refs, refs3)}
    for n, r in zip(ref_layers, refs):
        # far inside the golden tolerance 1e-3 * max(1, max|ref|)
        assert k3_diff[n] <= 1e-4 * max(1.0, float(np.abs(r).max())), (n, k3_diff[n])

    outputs = []
    print("\nreference outputs (tf_keras), max |ref|; Keras 3 max abs diff:")
    for n, r in zip(ref_layers, refs):
        fn = n + ".f32"
        r.astype("<f4").tofile(os.path.join(out, fn))
        outputs.append({"layer": n, "file": fn, "shape": list(r.shape)})
        print("  %-28s %-18s max|ref| %8.4f   k3 diff %.3g" % (n, r.shape, np.abs(r).max(), k3_diff[n]))
    emb_l2.astype("<f4").tofile(os.path.join(out, "embedding_l2.f32"))
    outputs.append({"layer": "l2_normalized(Bottleneck_BatchNorm)", "file": "embedding_l2.f32",
                    "shape": list(emb_l2.shape)})
    e3 = refs3[-1] / np.linalg.norm(refs3[-1].astype(np.float64), axis=1, keepdims=True)
    print("  %-28s %-18s max|ref| %8.4f   k3 diff %.3g"
          % ("l2_normalized(...)", emb_l2.shape, np.abs(emb_l2).max(), np.abs(e3 - emb_l2).max()))

    manifest = {
        "seed": args.seed,
        "dimension": arch.classes,
        "weights": "weights_tfkeras.h5 with topology_tfkeras.json; the same weights and topology in "
                   "model_full.h5, weights_keras22.h5 + topology_keras22.json, "
                   "weights_keras3.weights.h5 + topology_keras3.json",
        "input": {
            "file": "inputs.f32",
            "shape": list(x.shape),
            "preprocessing": "none: uniform random in [-1, 1) (numpy default_rng(seed + 1))",
        },
        "outputs": outputs,
        "params": int(params),
        "flops_per_image": int(flops),
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # ---- activation health ----
    act_layers = [l for l in model.layers if l.__class__.__name__ not in ("InputLayer",)]
    every = tf_keras.Model(model.input, [l.output for l in act_layers])
    vals = every(x, training=False)
    worst_dead, max_abs = 0.0, 0.0
    relu_pos = []
    for l, v in zip(act_layers, vals):
        v = np.asarray(v)
        max_abs = max(max_abs, float(np.abs(v).max()))
        if l.__class__.__name__ == "Activation":
            flat = v.reshape(-1, v.shape[-1])
            dead = float(np.mean(np.all(flat <= 0, axis=0)))
            pos = float(np.mean(flat > 0))
            relu_pos.append(pos)
            worst_dead = max(worst_dead, dead)
            if args.verbose:
                print("  %-50s max %7.3f  >0 %.2f  dead channels %.2f" % (l.name, v.max(), pos, dead))
    print("\nactivations: max |x| over every layer %.3f; ReLU outputs > 0: %.2f..%.2f (mean %.2f); "
          "worst dead-channel share %.2f" % (max_abs, min(relu_pos), max(relu_pos),
                                            float(np.mean(relu_pos)), worst_dead))

    # ---- round trips: every file loads back into Keras and gives the references ----
    final = refs[-1]

    def close(m, label, tol):
        y = np.asarray(m(x, training=False))
        d = float(np.max(np.abs(y - final)))
        print("  %-58s max abs diff %.3g" % (label, d))
        assert d <= tol, label

    print("\nround trips (Bottleneck_BatchNorm):")
    m = tf_keras.models.load_model(os.path.join(out, "model_full.h5"), compile=False,
                                   custom_objects={"scaling": scaling}, safe_mode=False)
    close(m, "tf_keras load_model(model_full.h5)", 0.0)
    m = tf_keras.models.model_from_json(open(os.path.join(out, "topology_tfkeras.json")).read(),
                                        custom_objects={"scaling": scaling})
    m.load_weights(os.path.join(out, "weights_tfkeras.h5"))
    close(m, "tf_keras topology_tfkeras.json + weights_tfkeras.h5", 0.0)
    m = tf_keras.models.model_from_json(open(os.path.join(out, "topology_keras22.json"), encoding="utf8").read(),
                                        custom_objects={"scaling": scaling})
    m.load_weights(os.path.join(out, "weights_keras22.h5"))
    close(m, "tf_keras topology_keras22.json + weights_keras22.h5", 0.0)
    m.load_weights(os.path.join(out, "weights_keras22.h5"), by_name=True)
    close(m, "  (same, by_name=True)", 0.0)
    m3 = keras.models.model_from_json(k3_json_text, custom_objects={"scaling": scaling})
    m3.load_weights(os.path.join(out, "weights_keras3.weights.h5"))
    # Keras 3 evaluates BN in another order: float32 rounding differs slightly.
    close(m3, "keras 3 topology_keras3.json + weights_keras3.weights.h5",
          1e-5 * max(1.0, float(np.abs(final).max())) * 4)

    # All four topologies describe the same network.
    for fn in ("topology_tfkeras.json", "topology_keras22.json", "topology_keras3.json"):
        with open(os.path.join(out, fn), encoding="utf8") as f:
            t = json.load(f)
        s, p, fl = analyse_keras_json(t)
        assert (s, p, fl) == (shapes, params, flops), fn
    with h5py.File(os.path.join(out, "model_full.h5"), "r") as f:
        s, p, fl = analyse_keras_json(json.loads(f.attrs["model_config"]))
        assert (s, p, fl) == (shapes, params, flops)

    # ---- Keras 3 weight-file naming rule, checked against the file ----
    k3_layers = json.loads(k3_json_text)["config"]["layers"]
    predicted = keras3_group_names(k3_layers)
    by_name = {l.name: l for l in k3.layers}
    with h5py.File(os.path.join(out, "weights_keras3.weights.h5"), "r") as f:
        groups = sorted(f["layers"].keys())
        for layer, path in zip(k3_layers, predicted):
            ws = by_name[layer["name"]].get_weights() if layer["name"] in by_name else []
            if path not in f:
                assert not ws, (layer["name"], path)
                continue
            g = f[path]
            stored = [g["vars"][str(i)][()] for i in range(len(g["vars"]))] if "vars" in g else []
            assert len(stored) == len(ws), (layer["name"], path)
            for a, b in zip(stored, ws):
                assert a.shape == b.shape and np.array_equal(a, b), (layer["name"], path)
        n_pred = sum(1 for p in predicted if p.split("/")[1] in groups)
    print("\nKeras 3 weights file: %d groups under /layers; naming rule matched %d of %d JSON layers; "
          "%d weighted layers copied" % (len(groups), n_pred, len(k3_layers), n_copied))

    # ---- summary ----
    print("\ntiny model: input %dx%dx3, widths = round(full/%d), Block35 x%d, Block17 x%d, "
          "Block8 x%d + Block8_6, embedding %d"
          % (arch.height, arch.width, arch.divisor, arch.n35, arch.n17, arch.n8, arch.classes))
    print("  layers %d, params %d, FLOPs/image %d" % (len(model.layers), params, flops))
    spatial = [(n, shapes[n]) for n in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "MaxPool_3a_3x3",
                                        "Conv2d_4a_3x3", "Conv2d_4b_3x3", "Mixed_6a", "Mixed_7a")]
    print("  shapes: " + ", ".join("%s %s" % (n, "x".join(map(str, s))) for n, s in spatial))
    total = 0
    print("\nfiles in %s:" % os.path.relpath(out, REPO))
    for fn in sorted(os.listdir(out)):
        sz = os.path.getsize(os.path.join(out, fn))
        total += sz
        print("  %-36s %9d  %s" % (fn, sz, sha256(os.path.join(out, fn))[:16]))
    print("  %-36s %9d" % ("total", total))


if __name__ == "__main__":
    sys.exit(main())
