#!/usr/bin/env python3
"""Make the MTCNN test fixtures, with tf_keras as the oracle.

Python is used only here, to make reference data; the Swift tests never run it.

What it writes into Tests/Fixtures/mtcnn/ (fixed seeds, deterministic):

  pnet_11x11/, pnet_12x12/, pnet_31x47/, pnet_64x50/, rnet_24x24/, onet_48x48/
    The real MTCNN nets from Weights/mtcnn/{pnet,rnet,onet}.{json,h5} (the weights
    of the PyPI package mtcnn 1.0.0), loaded with tf_keras and run on seeded
    uniform [-1, 1) inputs (MTCNN's own input range, (x - 127.5) / 128):
    P-Net at four sizes (square and not, the smallest it takes, 11x11, among
    them; batch 3 at 11x11, 2 at 12x12), R-Net 24x24 batch 3,
    O-Net 48x48 batch 2. Each folder holds input.f32, one <layer>.f32 per reference
    output (every model output plus intermediates: a PReLU, the Permute and the
    Flatten, so an error can be located) and manifest.json (golden format).

  synthetic/
    A tiny model with random weights exercising what MTCNN needs and more:
    PReLU shared over H and W, over H only, and not shared (on 4-D and on Dense
    outputs), Permute((3, 1, 2)) and Permute((2, 1)), Reshape((-1, 14)), Flatten,
    softmax as a Conv2D activation (per pixel over channels), a Softmax layer and
    Activation('softmax'), several outputs. In every dialect and weight layout the
    engine reads: topology_tfkeras.json + weights_tfkeras.h5, topology_keras22.json
    + weights_keras22.h5 (Keras 2.2 style, fixed-length name strings),
    topology_keras3.json + weights_keras3.weights.h5; input.f32, every layer's
    output and manifest.json.

Usage (from the repository root; the environment of Scripts/requirements.txt):
  .venv/bin/python Scripts/make_mtcnn_fixtures.py
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels: reproducible sums
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Scripts"))
from make_fixtures import _strip_tf_keras, rewrite_as_keras22_h5  # noqa: E402

WEIGHTS = os.path.join(REPO, "Weights", "mtcnn")
OUT = os.path.join(REPO, "Tests", "Fixtures", "mtcnn")
SEED = 5

# (folder, net, input shape (N, H, W, C), intermediate layers to record besides the outputs)
CASES = [
    ("pnet_11x11", "pnet", (3, 11, 11, 3), []),  # the smallest input P-Net takes (1x1 output)
    ("pnet_12x12", "pnet", (2, 12, 12, 3), ["prelu1", "prelu3"]),
    ("pnet_31x47", "pnet", (1, 31, 47, 3), ["maxpooling1", "prelu2"]),
    ("pnet_64x50", "pnet", (1, 64, 50, 3), []),
    ("rnet_24x24", "rnet", (3, 24, 24, 3), ["prelu3", "permute", "flatten3", "prelu4"]),
    ("onet_48x48", "onet", (2, 48, 48, 3), ["prelu4", "permute", "flatten4", "prelu5"]),
]


def write_case(folder, model, x, layers, note, extra=None):
    """input.f32, <layer>.f32 for each layer (tf_keras outputs) and manifest.json."""
    import tf_keras
    out = os.path.join(OUT, folder)
    os.makedirs(out, exist_ok=True)
    for fn in os.listdir(out):
        if fn.endswith(".f32"):
            os.remove(os.path.join(out, fn))
    x.astype("<f4").tofile(os.path.join(out, "input.f32"))
    probe = tf_keras.Model(model.input, [model.get_layer(n).output for n in layers])
    refs = probe(x, training=False)
    refs = [np.asarray(r) for r in (refs if isinstance(refs, (list, tuple)) else [refs])]
    entries = []
    for name, r in zip(layers, refs):
        fn = name + ".f32"
        r.astype("<f4").tofile(os.path.join(out, fn))
        entries.append({"layer": name, "file": fn, "shape": list(r.shape)})
    manifest = {"note": note, "seed": SEED,
                "input": {"file": "input.f32", "shape": list(x.shape),
                          "preprocessing": "none: uniform random in [-1, 1)"},
                "outputs": entries}
    manifest.update(extra or {})
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return dict(zip(layers, refs))


def mtcnn_cases():
    import tf_keras
    rng = np.random.default_rng(SEED)
    for folder, net, shape, intermediates in CASES:
        with open(os.path.join(WEIGHTS, net + ".json"), encoding="utf8") as f:
            model = tf_keras.models.model_from_json(f.read())
        model.load_weights(os.path.join(WEIGHTS, net + ".h5"))
        outputs = [n for n, _, _ in json.load(open(os.path.join(WEIGHTS, net + ".json")))["config"]["output_layers"]]
        x = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
        refs = write_case(folder, model, x, intermediates + outputs,
                          "tf_keras %s on Weights/mtcnn/%s.json + %s.h5" % (tf_keras.__version__, net, net),
                          {"topology": "Weights/mtcnn/%s.json" % net, "weights": "Weights/mtcnn/%s.h5" % net})
        # The whole-model call gives the same outputs as the probe.
        whole = model(x, training=False)
        for name, r in zip(outputs, whole):
            assert np.array_equal(np.asarray(r), refs[name]), (folder, name)
        print("%-11s %-16s %s" % (folder, str(shape), ", ".join(
            "%s %s |max| %.3g" % (n, "x".join(map(str, r.shape[1:])), np.abs(r).max()) for n, r in refs.items())))


# --------------------------------------------------------------------------
# The synthetic model
# --------------------------------------------------------------------------

SYNTHETIC_INPUT = (7, 9, 3)  # H != W, so an axis mix-up shows


def build_synthetic(L):
    """The same graph with tf_keras.layers or keras.layers."""
    x_in = L.Input(shape=SYNTHETIC_INPUT, name="input")
    x = L.Conv2D(6, 3, padding="same", name="conv_a")(x_in)
    x = L.PReLU(shared_axes=[1, 2], name="prelu_shared")(x)                 # alpha (1, 1, 6)
    soft = L.Conv2D(3, 1, activation="softmax", name="conv_softmax")(x)     # per pixel over channels
    x = L.Conv2D(4, 3, padding="valid", name="conv_b")(x)                  # (5, 7, 4)
    x = L.PReLU(name="prelu_full")(x)                                      # alpha (5, 7, 4)
    x = L.PReLU(shared_axes=[1], name="prelu_rows")(x)                     # alpha (1, 7, 4)
    x = L.Permute((3, 1, 2), name="permute_cwh")(x)                        # (4, 5, 7)
    act = L.Activation("softmax", name="activation_softmax")(x)            # over the last axis (7)
    x = L.Reshape((-1, 14), name="reshape")(x)                             # (10, 14)
    x = L.Permute((2, 1), name="permute_2d")(x)                            # (14, 10)
    x = L.Softmax(name="softmax")(x)
    x = L.Flatten(name="flatten")(x)                                       # 140
    x = L.Dense(8, name="dense")(x)
    x = L.PReLU(name="prelu_dense")(x)                                     # alpha (8)
    x = L.Dense(3, activation="softmax", name="dense_softmax")(x)
    return x_in, [x, soft, act]


def randomize(model, rng):
    """He-normal kernels, small biases, alphas of both signs (Keras starts them at 0)."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        cls = layer.__class__.__name__
        if cls in ("Conv2D", "Dense"):
            k = ws[0]
            new = [rng.normal(0.0, np.sqrt(2.0 / np.prod(k.shape[:-1])), k.shape), rng.normal(0.0, 0.1, ws[1].shape)]
        elif cls == "PReLU":
            new = [rng.uniform(-0.5, 1.0, ws[0].shape)]
        else:
            raise RuntimeError("unexpected weighted layer %s (%s)" % (layer.name, cls))
        layer.set_weights([w.astype(np.float32) for w in new])


def to_keras22_dialect(tfk_json):
    """tf_keras JSON as Keras 2.2 wrote it: no module/registered_name/build_config, no
    per-layer dtype, class Model, keras_version 2.2.4."""
    d = _strip_tf_keras(tfk_json)
    for layer in d["config"]["layers"]:
        if layer["class_name"] != "InputLayer":
            layer["config"].pop("dtype", None)
    d["class_name"] = "Model"
    d["keras_version"] = "2.2.4"
    return d


def synthetic():
    import keras
    import tf_keras
    out = os.path.join(OUT, "synthetic")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(SEED + 1)
    inputs, outputs = build_synthetic(tf_keras.layers)
    model = tf_keras.Model(inputs, outputs, name="synthetic")
    randomize(model, rng)
    x = rng.uniform(-1.0, 1.0, (2,) + SYNTHETIC_INPUT).astype(np.float32)
    layers = [l.name for l in model.layers if l.__class__.__name__ != "InputLayer"]
    refs = write_case("synthetic", model, x, layers, "tf_keras %s, random weights" % tf_keras.__version__,
                      {"weights": "weights_tfkeras.h5 with topology_tfkeras.json; the same in weights_keras22.h5 + "
                                  "topology_keras22.json and weights_keras3.weights.h5 + topology_keras3.json"})
    # Negative inputs reach every PReLU, and the conv softmax really is per pixel.
    for name in ("conv_a", "conv_b", "prelu_full", "dense"):
        probe = tf_keras.Model(model.input, model.get_layer(name).output)
        assert (np.asarray(probe(x)) < 0).mean() > 0.2, name
    assert np.allclose(refs["conv_softmax"].sum(axis=-1), 1.0, atol=1e-6)

    tfk_json = json.loads(model.to_json())
    with open(os.path.join(out, "topology_tfkeras.json"), "w", encoding="utf8") as f:
        json.dump(tfk_json, f, indent=1)
    with open(os.path.join(out, "topology_keras22.json"), "w", encoding="utf8") as f:
        json.dump(to_keras22_dialect(tfk_json), f, indent=2)
    model.save_weights(os.path.join(out, "weights_tfkeras.h5"), save_format="h5")
    rewrite_as_keras22_h5(os.path.join(out, "weights_tfkeras.h5"), os.path.join(out, "weights_keras22.h5"))

    k3_inputs, k3_outputs = build_synthetic(keras.layers)
    k3 = keras.Model(k3_inputs, k3_outputs, name="synthetic")
    for layer in k3.layers:
        ws = model.get_layer(layer.name).get_weights()
        if ws:
            layer.set_weights(ws)
    with open(os.path.join(out, "topology_keras3.json"), "w", encoding="utf8") as f:
        f.write(k3.to_json())
    k3.save_weights(os.path.join(out, "weights_keras3.weights.h5"))

    # Every topology + weights pair loads back and gives the references.
    finals = [model.output_names[i] for i in range(len(model.outputs))]
    for topo, weights in (("topology_tfkeras.json", "weights_tfkeras.h5"),
                          ("topology_keras22.json", "weights_keras22.h5")):
        m = tf_keras.models.model_from_json(open(os.path.join(out, topo), encoding="utf8").read())
        m.load_weights(os.path.join(out, weights))
        for name, y in zip(finals, m(x, training=False)):
            assert np.array_equal(np.asarray(y), refs[name]), (topo, name)
    m3 = keras.models.model_from_json(open(os.path.join(out, "topology_keras3.json"), encoding="utf8").read())
    m3.load_weights(os.path.join(out, "weights_keras3.weights.h5"))
    diff = max(float(np.abs(np.asarray(y) - refs[n]).max()) for n, y in zip(finals, m3(x, training=False)))
    assert diff <= 1e-6, diff
    print("synthetic: %d layers, outputs %s; Keras 3 max abs diff %.3g" % (len(layers), finals, diff))


def main():
    os.makedirs(OUT, exist_ok=True)
    mtcnn_cases()
    synthetic()
    total = 0
    for root, _, files in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print("fixtures in %s: %d bytes" % (os.path.relpath(OUT, REPO), total))


if __name__ == "__main__":
    sys.exit(main())
