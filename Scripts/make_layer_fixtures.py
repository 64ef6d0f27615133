#!/usr/bin/env python3
"""Make the Keras-oracle fixtures of single layer types, in every JSON dialect.

Python is used only here, to make reference data; the Swift tests never run it.
The Swift test (Tests/FaceNetEngineTests/LayerOracleTests.swift) loads each case
through the normal Model API (Model.load with a topology JSON and a weights
file) once per dialect and weights layout, runs it, and compares with tf_keras.
A new layer type gets its case here and its test there (Docs/adding-a-layer.md).

What it writes (deterministic: every case draws from its own fixed seed, and a
rerun gives the same files; ~85 KB per case, most of it the three weights files):

  Tests/Fixtures/layers/<case>/
      topology_tfkeras.json       tf_keras model.to_json()
      topology_keras22.json       the same topology in the Keras 2.2 dialect
                                  (make_fixtures.to_keras22)
      topology_keras3.json        the same model built with Keras 3, to_json()
      weights_tfkeras.h5          tf_keras save_weights (h5)
      weights_keras22.h5          the same weights as Keras 2.2 wrote them
      weights_keras3.weights.h5   Keras 3 save_weights
      input.f32                   the input, uniform in [-1, 1), NHWC little-endian float32
      <layer>.f32                 tf_keras's output of each model output layer
      manifest.json               golden manifest (the format of make_kernel_fixtures.py),
                                  plus "case", "description" and "dialects"

The cases (batch 2, few channels; one model per case, since each weights file
costs ~10-20 KB):
  zero_padding   two branches on one 7x6x3 input: ZeroPadding2D(2) -> 3x3 valid
                 Conv2D (bias, ReLU) -> 2x2/2 valid MaxPooling2D; and
                 ZeroPadding2D(((1, 2), (0, 3))) -> 3x2/2 valid Conv2D ->
                 ZeroPadding2D((1, 2)) (height 1, width 2, both sides) -> 3x3/2 valid
                 AveragePooling2D (the zeros count as cells). Both pads of the input
                 are outputs too, so the padding itself is compared.
Keras 3 is run on the same input with the same weights; its outputs must agree
with tf_keras's to float32 rounding.

Usage (from the repository root; a venv outside the repository, shared):
  python3 -m venv /work/venv && /work/venv/bin/pip install -r Scripts/requirements.txt
  /work/venv/bin/python Scripts/make_layer_fixtures.py [--only CASE ...]
"""

import argparse
import json
import os
import shutil
import sys
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain Eigen kernels: reproducible sums
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402  (the Keras 2.2 dialect and weights layout)

DEFAULT_OUT = os.path.join(REPO, "Tests", "Fixtures", "layers")
BASE_SEED = 20250311

# Keras 2.2 config keys of the classes these cases add to make_fixtures's table
# (Keras 2.2.4 get_config: the base layer's name and trainable, plus the layer's own).
make_fixtures.KERAS22_CONFIG_KEYS.setdefault("ZeroPadding2D", ["trainable", "name", "padding", "data_format"])
make_fixtures.KERAS22_CONFIG_KEYS.setdefault("AveragePooling2D", make_fixtures.KERAS22_CONFIG_KEYS["MaxPooling2D"])

DIALECTS = [
    # dialect (as KerasJSONReader names it), topology file, weights file
    ("tf_keras-2", "topology_tfkeras.json", "weights_tfkeras.h5"),
    ("keras-2", "topology_keras22.json", "weights_keras22.h5"),
    ("keras-3", "topology_keras3.json", "weights_keras3.weights.h5"),
]


# --------------------------------------------------------------------------
# Case builders: build(L) with L = tf_keras.layers or keras.layers returns
# (inputs, outputs, batch, description). Every layer is named.
# --------------------------------------------------------------------------

def zero_padding(L):
    x = L.Input(shape=(7, 6, 3), name="input")
    # Symmetric: an int.
    pad = L.ZeroPadding2D(padding=2, name="pad_int")(x)
    y = L.Conv2D(4, 3, padding="valid", use_bias=True, activation="relu", name="conv_valid")(pad)
    y = L.MaxPooling2D(2, strides=2, padding="valid", name="max_pool")(y)
    # Asymmetric ((top, bottom), (left, right)), then a pad of a conv's output (a pair:
    # height 1, width 2 on both sides) before a pool whose windows count the zeros.
    asym = L.ZeroPadding2D(padding=((1, 2), (0, 3)), name="pad_asymmetric")(x)
    z = L.Conv2D(5, (3, 2), strides=2, padding="valid", use_bias=True, name="conv_strided")(asym)
    z = L.ZeroPadding2D(padding=(1, 2), name="pad_pair")(z)
    z = L.AveragePooling2D(3, strides=2, padding="valid", name="average_pool")(z)
    return [x], [pad, y, asym, z], 2, (
        "ZeroPadding2D(2) -> 3x3 valid Conv2D (bias, ReLU) -> 2x2/2 valid MaxPooling2D; "
        "ZeroPadding2D(((1, 2), (0, 3))) -> 3x2/2 valid Conv2D (bias) -> ZeroPadding2D((1, 2)) "
        "-> 3x3/2 valid AveragePooling2D; 7x6x3, batch 2")


CASES = [
    ("zero_padding", zero_padding),
]


def case_seed(name):
    """A seed of the case's own, independent of the order of CASES."""
    return BASE_SEED + zlib.crc32(name.encode("utf8"))


def randomize_weights(model, rng):
    """He-normal kernels, biases N(0, 0.3), drawn in model.layers order."""
    for layer in model.layers:
        ws = layer.get_weights()
        if not ws:
            continue
        cls = layer.__class__.__name__
        assert cls in ("Conv2D", "Dense"), "unexpected weighted layer %s (%s)" % (layer.name, cls)
        k = ws[0]
        new = [rng.normal(0.0, np.sqrt(2.0 / int(np.prod(k.shape[:-1]))), k.shape)]
        if len(ws) == 2:
            new.append(rng.normal(0.0, 0.3, ws[1].shape))
        layer.set_weights([w.astype(np.float32) for w in new])


def as_list(outputs):
    return [np.asarray(r) for r in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def write_case(name, builder, out_root):
    import keras
    import tf_keras
    seed = case_seed(name)
    tf_keras.utils.set_random_seed(seed)
    tf_keras.backend.clear_session()
    inputs, outputs, batch, description = builder(tf_keras.layers)
    model = tf_keras.Model(inputs, outputs, name=name)
    rng = np.random.default_rng(seed)
    randomize_weights(model, rng)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    x = rng.uniform(-1.0, 1.0, (batch,) + shape).astype(np.float32)

    out = os.path.join(out_root, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    path = lambda fn: os.path.join(out, fn)  # noqa: E731

    # tf_keras, and the Keras 2.2 dialect made from it.
    text = model.to_json()
    with open(path("topology_tfkeras.json"), "w", encoding="utf8") as f:
        f.write(text)
    model.save_weights(path("weights_tfkeras.h5"), save_format="h5")
    k22 = make_fixtures.to_keras22(json.loads(text), {}, comment="%s, made by Scripts/make_layer_fixtures.py" % name)
    with open(path("topology_keras22.json"), "wb") as f:
        f.write(make_fixtures.dump_keras22_text(k22).encode("utf8"))
    make_fixtures.rewrite_as_keras22_h5(path("weights_tfkeras.h5"), path("weights_keras22.h5"))

    # Keras 3: the same model, the same weights.
    keras.utils.set_random_seed(seed)
    inputs3, outputs3, _, _ = builder(keras.layers)
    model3 = keras.Model(inputs3, outputs3, name=name)
    make_fixtures.copy_weights_by_name(model, model3)
    with open(path("topology_keras3.json"), "w", encoding="utf8") as f:
        f.write(model3.to_json())
    model3.save_weights(path("weights_keras3.weights.h5"))

    x.astype("<f4").tofile(path("input.f32"))
    refs = as_list(model(x, training=False))
    refs3 = as_list(model3([x], training=False))
    entries = []
    for layer_name, r, r3 in zip(model.output_names, refs, refs3):
        # A reference that is non-finite, tiny or mostly zero could not catch a wrong kernel.
        assert np.all(np.isfinite(r)), (name, layer_name)
        assert np.abs(r).max() > 0.1, (name, layer_name, np.abs(r).max())
        assert np.mean(r != 0) > 0.25, (name, layer_name, np.mean(r != 0))
        assert r.shape == r3.shape and np.abs(r - r3).max() <= 1e-5 * max(1.0, np.abs(r).max()), (name, layer_name)
        fn = layer_name + ".f32"
        r.astype("<f4").tofile(path(fn))
        entries.append({"layer": layer_name, "file": fn, "shape": list(r.shape)})

    manifest = {
        "case": name,
        "description": description,
        "seed": seed,
        "weights": "each topology with its weights file (dialects); outputs from tf_keras %s, Keras %s agrees"
                   % (tf_keras.__version__, keras.__version__),
        "dialects": [{"dialect": d, "topology": t, "weights": w} for d, t, w in DIALECTS],
        "input": {
            "file": "input.f32",
            "shape": list(x.shape),
            "preprocessing": "none: uniform random in [-1, 1) (numpy default_rng(seed), after the weights)",
        },
        "outputs": entries,
        "params": int(model.count_params()),
    }
    with open(path("manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # Round trip: each dialect's files alone give the references back.
    back = tf_keras.models.model_from_json(text)
    back.load_weights(path("weights_keras22.h5"))
    for r, a in zip(refs, as_list(back(x, training=False))):
        assert np.array_equal(r, a), name
    back3 = keras.models.model_from_json(open(path("topology_keras3.json"), encoding="utf8").read())
    back3.load_weights(path("weights_keras3.weights.h5"))
    for r, a in zip(refs3, as_list(back3([x], training=False))):
        assert np.array_equal(r, a), name

    size = sum(os.path.getsize(path(fn)) for fn in os.listdir(out))
    print("  %-26s %3d layers %4d params %6d bytes  outputs %s"
          % (name, len(model.layers), model.count_params(), size,
             ", ".join("%s %s max|ref| %.3g" % (e["layer"], "x".join(map(str, e["shape"])), np.abs(r).max())
                       for e, r in zip(entries, refs))))
    return size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", help="make only these cases (default: all, and remove stale case folders)")
    args = ap.parse_args()

    import h5py
    import keras
    import tensorflow as tf
    import tf_keras
    print("tensorflow %s, tf_keras %s, keras %s, h5py %s, numpy %s"
          % (tf.__version__, tf_keras.__version__, keras.__version__, h5py.__version__, np.__version__))

    names = [n for n, _ in CASES]
    assert len(set(names)) == len(names)
    chosen = args.only or names
    unknown = [n for n in chosen if n not in names]
    assert not unknown, "unknown cases: %s" % unknown
    os.makedirs(args.out, exist_ok=True)
    if not args.only:
        for stale in sorted(set(os.listdir(args.out)) - set(names)):
            shutil.rmtree(os.path.join(args.out, stale))
    total = 0
    for name, builder in CASES:
        if name in chosen:
            total += write_case(name, builder, args.out)
    print("wrote %d cases, %d bytes, to %s" % (len(chosen), total, os.path.relpath(args.out, REPO)))


if __name__ == "__main__":
    sys.exit(main())
