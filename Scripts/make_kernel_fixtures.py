#!/usr/bin/env python3
"""Make the Keras-oracle kernel fixtures: small models, one per kernel family.

Python is used only here, to make reference data; the Swift tests never run it.
The Swift test (Tests/FaceNetEngineTests/KerasOracleTests.swift) loads each case with
the engine, requests only the model's outputs (so every chain is fused) and
compares with tf_keras. Keras computes the padding itself, so a bug in the
engine's shared geometry (paddingBefore, Conv2DGeometry) shows here even where
the engine's own reference executor would agree with its fast paths.

What it writes (deterministic: every case draws from its own fixed seed, and a
rerun gives byte-identical files; ~1 MB in all):

  Tests/Fixtures/oracle/<case>/
      topology.json     tf_keras model.to_json()
      weights.h5        tf_keras save_weights (h5)
      input.f32         the input, uniform in [-1, 1), NHWC little-endian float32
      <layer>.f32       tf_keras's output of each model output layer
      manifest.json     golden manifest (the format of make_fixtures.py and
                        Sources/FaceNetTools/Golden/GoldenManifest.swift), plus
                        "case" and "description"

The cases (few channels, so the folder stays small):
  conv_*       Conv2Ds with bias and ReLU side by side on one input (one output
               each, named conv_k<kernel>_s<stride>): same padding on a 10x9 and a
               9x12 input (a stride-2 odd kernel or an even kernel pads one pixel
               more after than before on the even axis: TensorFlow's rule), strides 1
               and 2, kernels 1, 2, 3, 7, 1x7, 7x1; valid padding (im2col, and the
               implicit GEMM where an output row is 12+ wide)
  pool3_*      MaxPooling2D and AveragePooling2D, pool 3: same stride 1 and 2
               (average over the real cells only), valid stride 2; odd and even sizes
  winograd_*   3x3, 1x7 and 7x1 stride-1 convs wide enough (32 -> 32 channels) for
               the engine's Winograd path: F(4x4) with output sizes of every residue
               mod 4 on both axes, F(2x2) with odd and even sizes, F(2,7) along rows
               (with a tail) and columns (with and without); batch 3
  fused_*      the chains the engine fuses, as in FaceNet: conv (no bias) ->
               BatchNormalization -> ReLU, the Inception-ResNet residual
               (up-projection -> Lambda(scale) -> Add -> ReLU), concatenations whose
               branches (convs and a pool) write channel slices, sibling 1x1 convs
               that share their input; multi-layer, batch 2
Every BatchNormalization has beta, gamma (except in fused_inception_resnet, which
has FaceNet's scale=False) and moving statistics fitted to a calibration batch,
then perturbed (mean shifted, variance scaled, gamma of random sign), so a wrong
fold shows.

Usage (from the repository root):
  python3 -m venv .venv && .venv/bin/pip install -r Scripts/requirements.txt
  .venv/bin/python Scripts/make_kernel_fixtures.py [--only CASE ...]
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
DEFAULT_OUT = os.path.join(REPO, "Tests", "Fixtures", "oracle")
BASE_SEED = 20240917


def scaling(x, scale):
    """FaceNet's residual scale: the Lambda layers compute x * scale."""
    return x * scale


# --------------------------------------------------------------------------
# Case builders. Each returns (inputs, outputs, batch, description); every
# layer is named, so a failing comparison names what it is.
# --------------------------------------------------------------------------

def kernel_tag(kernel):
    """'3' for 3x3, '1x7' for (1, 7): the kernel part of a layer name."""
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    return str(k[0]) if k[0] == k[1] else "%dx%d" % k


def conv_case(h, w, padding, specs, cin=3, filters=3, batch=2):
    """Conv2Ds with bias and ReLU side by side on one input, one output each, named
    conv_k<kernel>_s<stride>. At most one is 1x1 stride 1, so none are grouped as siblings."""
    def build(L):
        x = L.Input(shape=(h, w, cin), name="input")
        outs = [L.Conv2D(filters, k, strides=s, padding=padding, use_bias=True, activation="relu",
                         name="conv_k%s_s%d" % (kernel_tag(k), s))(x) for k, s in specs]
        return [x], outs, batch, ("Conv2D with bias + ReLU, %s padding, on %dx%dx%d -> %d filters, batch %d: %s"
                                  % (padding, h, w, cin, filters, batch,
                                     ", ".join("%s/%d" % (kernel_tag(k), s) for k, s in specs)))
    return build


def pool_case(h, w, channels=3, batch=2):
    """MaxPooling2D and AveragePooling2D, pool 3: same stride 1 and 2, valid stride 2."""
    def build(L):
        x = L.Input(shape=(h, w, channels), name="input")
        outs = []
        for strides, padding in ((1, "same"), (2, "same"), (2, "valid")):
            for cls, kind in ((L.MaxPooling2D, "max"), (L.AveragePooling2D, "average")):
                outs.append(cls(3, strides=strides, padding=padding,
                                name="%s_pool3_s%d_%s" % (kind, strides, padding))(x))
        return [x], outs, batch, ("MaxPooling2D and AveragePooling2D pool 3: same stride 1 and 2, valid stride 2, "
                                  "on %dx%dx%d, batch %d" % (h, w, channels, batch))
    return build


# Every kernel and stride on one input: with one axis even and the other odd, a stride-2
# same conv of odd kernel (or any even kernel) pads asymmetrically on the even axis only.
SAME_SPECS = [(1, 1), (1, 2), (2, 1), (3, 1), (3, 2), (7, 1), (7, 2),
              ((1, 7), 1), ((7, 1), 1), ((1, 7), 2), ((7, 1), 2)]


def conv_bn_relu(L, x, filters, kernel, name, strides=1, padding="same", gamma=True):
    """FaceNet's conv2d_bn: Conv2D without bias -> BatchNormalization -> ReLU (FaceNet's
    BN has no gamma: `gamma=False`)."""
    x = L.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    x = L.BatchNormalization(axis=3, epsilon=0.001, scale=gamma, name=name + "_BatchNorm")(x)
    return L.Activation("relu", name=name + "_Activation")(x)


def expand(L, x, name="expand"):
    """1x1 conv 3 -> 32 channels with bias and ReLU: widens a small input enough for Winograd."""
    return L.Conv2D(32, 1, use_bias=True, activation="relu", name=name)(x)


def reduce_(L, x, name="reduce"):
    """1x1 conv 32 -> 3 channels with bias: keeps the reference output small."""
    return L.Conv2D(3, 1, use_bias=True, name=name)(x)


def winograd_f4x4(L):
    # 19x23 same -> 19x23 (residues mod 4: 3, 3); valid -> 17x21 (1, 1); 2x2/1 valid max
    # pool -> 16x20; valid -> 14x18 (2, 2): the last tile row and column of every height
    # and width 1, 2 and 3 (full tiles everywhere inside). 16+ F(4x4) tiles per image each.
    x = L.Input(shape=(19, 23, 3), name="input")
    y = expand(L, x)
    y = L.Conv2D(32, 3, padding="same", use_bias=True, activation="relu", name="f4x4_same_19x23")(y)
    y = conv_bn_relu(L, y, 32, 3, "f4x4_valid_17x21", padding="valid")
    y = L.MaxPooling2D(2, strides=1, padding="valid", name="shift_pool")(y)
    y = L.Conv2D(32, 3, padding="valid", use_bias=True, activation="relu", name="f4x4_valid_14x18")(y)
    return [x], [reduce_(L, y)], 3, ("3x3 32->32 convs on F(4x4) Winograd: outputs 19x23, 17x21, 14x18 (partial "
                                     "last tiles of 1, 2 and 3 rows and columns), same and valid, batch 3")


def winograd_f2x2(L):
    # 10x9 same (9 F(4x4) tiles -> F(2x2)); 2x2/1 pool -> 9x8; same (6 tiles -> F(2x2)).
    x = L.Input(shape=(10, 9, 3), name="input")
    y = expand(L, x)
    y = conv_bn_relu(L, y, 32, 3, "f2x2_same_10x9")
    y = L.MaxPooling2D(2, strides=1, padding="valid", name="shift_pool")(y)
    y = conv_bn_relu(L, y, 32, 3, "f2x2_same_9x8")
    return [x], [reduce_(L, y)], 3, ("3x3 32->32 conv -> BN -> ReLU on F(2x2) Winograd: outputs 10x9 and 9x8 "
                                     "(odd and even on both axes), batch 3")


def winograd_f2x7(L):
    # 1x7 along rows of width 7 (a one-output tail), 7x1 down columns of height 10 (no
    # tail); after a 2x2/1 pool, 7x1 down columns of height 9 (a tail).
    x = L.Input(shape=(10, 7, 3), name="input")
    y = expand(L, x)
    y = conv_bn_relu(L, y, 32, (1, 7), "f2x7_row_10x7")
    y = L.Conv2D(32, (7, 1), padding="same", use_bias=True, activation="relu", name="f2x7_column_10x7")(y)
    y = L.MaxPooling2D(2, strides=1, padding="valid", name="shift_pool")(y)
    y = L.Conv2D(32, (7, 1), padding="same", use_bias=True, activation="relu", name="f2x7_column_9x6")(y)
    return [x], [reduce_(L, y)], 3, ("1x7 and 7x1 32->32 convs on F(2,7) Winograd, with and without a partial "
                                     "last tile, batch 3")


def fused_stem_reduction(L):
    # FaceNet's stem, narrow, then a Mixed_6a-like reduction: stride-2 valid; valid (9x12
    # output: the implicit GEMM); same; stride-2 same on 9x12 (odd extra pad on the width
    # only); then two conv branches and a max pool writing their channel slices.
    x = L.Input(shape=(23, 29, 3), name="input")
    y = conv_bn_relu(L, x, 6, 3, "Conv2d_1a_3x3", strides=2, padding="valid")
    y = conv_bn_relu(L, y, 6, 3, "Conv2d_2a_3x3", padding="valid")
    y = conv_bn_relu(L, y, 8, 3, "Conv2d_2b_3x3")
    stem = conv_bn_relu(L, y, 10, 3, "Conv2d_4b_3x3", strides=2)
    b0 = conv_bn_relu(L, stem, 5, 3, "Mixed_6a_Branch_0_Conv2d_1a_3x3", strides=2, padding="valid")
    b1 = conv_bn_relu(L, stem, 4, 1, "Mixed_6a_Branch_1_Conv2d_0a_1x1")
    b1 = conv_bn_relu(L, b1, 4, 3, "Mixed_6a_Branch_1_Conv2d_0b_3x3")
    b1 = conv_bn_relu(L, b1, 7, 3, "Mixed_6a_Branch_1_Conv2d_1a_3x3", strides=2, padding="valid")
    bp = L.MaxPooling2D(3, strides=2, padding="valid", name="Mixed_6a_Branch_2_MaxPool_1a_3x3")(stem)
    out = L.Concatenate(axis=3, name="Mixed_6a")([b0, b1, bp])
    return [x], [stem, out], 2, ("FaceNet's stem (conv -> BN -> ReLU chains) and a Mixed_6a-like reduction "
                                 "(conv and pool branches written into channel slices), 23x29x3, batch 2")


def fused_inception_resnet(L):
    """A stem conv, a Block35- and a Block8_6-like block, and FaceNet's tail; BN without
    gamma (scale=False) as in FaceNet."""
    counters = {"lambda": 0, "add": 0}

    def cbr(x, filters, kernel, name):
        return conv_bn_relu(L, x, filters, kernel, name, gamma=False)

    def block(x, scale, kind, idx, activation="relu"):
        p = "%s_%d" % (kind, idx)
        c = int(x.shape[-1])
        if kind == "Block35":
            b0 = cbr(x, 4, 1, p + "_Branch_0_Conv2d_1x1")
            b1 = cbr(x, 4, 1, p + "_Branch_1_Conv2d_0a_1x1")
            b1 = cbr(b1, 4, 3, p + "_Branch_1_Conv2d_0b_3x3")
            b2 = cbr(x, 4, 1, p + "_Branch_2_Conv2d_0a_1x1")
            b2 = cbr(b2, 4, 3, p + "_Branch_2_Conv2d_0b_3x3")
            b2 = cbr(b2, 4, 3, p + "_Branch_2_Conv2d_0c_3x3")
            branches = [b0, b1, b2]
        else:
            b0 = cbr(x, 5, 1, p + "_Branch_0_Conv2d_1x1")
            b1 = cbr(x, 5, 1, p + "_Branch_1_Conv2d_0a_1x1")
            b1 = cbr(b1, 5, (1, 3), p + "_Branch_1_Conv2d_0b_1x3")
            b1 = cbr(b1, 5, (3, 1), p + "_Branch_1_Conv2d_0c_3x1")
            branches = [b0, b1]
        mixed = L.Concatenate(axis=3, name=p + "_Concatenate")(branches)
        up = L.Conv2D(c, 1, use_bias=True, name=p + "_Conv2d_1x1")(mixed)
        counters["lambda"] += 1
        up = L.Lambda(scaling, output_shape=tuple(up.shape[1:]), arguments={"scale": scale},
                      name="lambda_%d" % counters["lambda"])(up)
        counters["add"] += 1
        x = L.Add(name="add_%d" % counters["add"])([x, up])
        if activation is not None:
            x = L.Activation(activation, name=p + "_Activation")(x)
        return x

    x = L.Input(shape=(12, 11, 3), name="input")
    y = cbr(x, 10, 3, "Conv2d_stem_3x3")
    y = block(y, 0.17, "Block35", 1)
    y = block(y, 1.0, "Block8", 6, activation=None)
    e = L.GlobalAveragePooling2D(name="AvgPool")(y)
    e = L.Dropout(0.2, name="Dropout")(e)
    e = L.Dense(6, use_bias=False, name="Bottleneck")(e)
    e = L.BatchNormalization(epsilon=0.001, scale=False, name="Bottleneck_BatchNorm")(e)
    return [x], [y, e], 2, ("Inception-ResNet: stem conv, Block35 (scale 0.17), Block8_6 (1.0, no ReLU), "
                            "AvgPool -> Dropout -> Dense -> BN (no gamma, as FaceNet); 12x11x3, batch 2")


def fused_siblings(L):
    # MTCNN-like heads: three 1x1 convs read one trunk (2 + 4 + 3 filters: one GEMM panel);
    # 17x16 x batch 2 = 544 rows, more than two 256-row chunks.
    x = L.Input(shape=(17, 16, 4), name="input")
    t = L.Conv2D(8, 3, padding="same", use_bias=True, activation="relu", name="trunk")(x)
    face = L.Conv2D(2, 1, use_bias=True, activation="softmax", name="face")(t)
    box = L.Conv2D(4, 1, use_bias=True, name="box")(t)
    feat = L.Conv2D(3, 1, use_bias=False, name="feat")(t)
    feat = L.BatchNormalization(axis=3, epsilon=0.001, name="feat_BatchNorm")(feat)
    feat = L.Activation("relu", name="feat_Activation")(feat)
    cat = L.Concatenate(axis=3, name="heads")([box, feat])
    return [x], [face, cat], 2, ("sibling 1x1 convs on one trunk (softmax head, linear head, conv -> BN -> "
                                 "ReLU head; two into a concatenation), 17x16x4, batch 2")


CASES = [
    # name, builder
    ("conv_same_10x9", conv_case(10, 9, "same", SAME_SPECS)),
    ("conv_same_9x12", conv_case(9, 12, "same", SAME_SPECS)),
    # valid: the implicit GEMM where an output row is 12+ wide (with the panel GEMM), else im2col
    ("conv_valid_10x16", conv_case(10, 16, "valid", [(3, 1), (3, 2), ((7, 1), 2), ((1, 7), 1), (1, 2)])),
    ("pool3_10x9", pool_case(10, 9)),
    ("pool3_9x12", pool_case(9, 12)),
    ("winograd_f4x4", winograd_f4x4),
    ("winograd_f2x2", winograd_f2x2),
    ("winograd_f2x7", winograd_f2x7),
    ("fused_stem_reduction", fused_stem_reduction),
    ("fused_inception_resnet", fused_inception_resnet),
    ("fused_siblings", fused_siblings),
]


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------

def case_seed(name):
    """A seed of the case's own, independent of the order of CASES."""
    return BASE_SEED + zlib.crc32(name.encode("utf8"))


def randomize_weights(model, rng, calib):
    """He-normal kernels, biases N(0, 0.3), BatchNormalization fitted to `calib` then perturbed.

    Drawn in model.layers order from `rng`. BN statistics are set layer by layer (each on
    the data its input sees with the layers before it already set): moving_mean = batch
    mean + N(0, 0.2) * std, moving_variance = batch variance * U(0.5, 2), gamma of random
    sign and size U(0.5, 1.5), beta N(0, 0.2): outputs O(1), both signs, and a fold that
    gets any one term wrong shows. A BN without gamma (scale=False) draws it all the same.
    """
    import tf_keras
    for layer in model.layers:
        cls = layer.__class__.__name__
        ws = layer.get_weights()
        if not ws:
            continue
        if cls in ("Conv2D", "Dense"):
            k = ws[0]
            fan_in = int(np.prod(k.shape[:-1]))
            new = [rng.normal(0.0, np.sqrt(2.0 / fan_in), k.shape)]
            if len(ws) == 2:
                new.append(rng.normal(0.0, 0.3, ws[1].shape))
        elif cls == "BatchNormalization":
            assert layer.center and len(ws) == 3 + int(layer.scale), layer.name
            probe = tf_keras.Model(model.inputs, layer.input)
            v = np.asarray(probe(calib, training=False), dtype=np.float64)
            v = v.reshape(-1, v.shape[-1])
            mean, var = v.mean(axis=0), v.var(axis=0)
            n = mean.shape
            gamma = rng.uniform(0.5, 1.5, n) * rng.choice([-1.0, 1.0], n)
            beta = rng.normal(0.0, 0.2, n)
            moving_mean = mean + rng.normal(0.0, 0.2, n) * np.sqrt(var + 1e-3)
            moving_var = np.maximum(var, 1e-2) * rng.uniform(0.5, 2.0, n)
            new = ([gamma] if layer.scale else []) + [beta, moving_mean, moving_var]
        else:
            raise RuntimeError("unexpected weighted layer %s (%s)" % (layer.name, cls))
        layer.set_weights([w.astype(np.float32) for w in new])


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------

def write_case(name, builder, out_root):
    import tf_keras
    L = tf_keras.layers
    seed = case_seed(name)
    tf_keras.utils.set_random_seed(seed)
    tf_keras.backend.clear_session()
    inputs, outputs, batch, description = builder(L)
    model = tf_keras.Model(inputs, outputs, name=name)
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    calib = rng.uniform(-1.0, 1.0, (8,) + shape).astype(np.float32)
    randomize_weights(model, rng, calib)
    x = rng.uniform(-1.0, 1.0, (batch,) + shape).astype(np.float32)

    out = os.path.join(out_root, name)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    text = model.to_json()
    with open(os.path.join(out, "topology.json"), "w", encoding="utf8") as f:
        f.write(text)
    model.save_weights(os.path.join(out, "weights.h5"), save_format="h5")
    x.astype("<f4").tofile(os.path.join(out, "input.f32"))

    refs = model(x, training=False)
    refs = [np.asarray(r) for r in (refs if isinstance(refs, (list, tuple)) else [refs])]
    entries = []
    for layer_name, r in zip(model.output_names, refs):
        # A reference that is non-finite, tiny or mostly zero could not catch a wrong kernel.
        assert np.all(np.isfinite(r)), (name, layer_name)
        assert np.abs(r).max() > 0.1, (name, layer_name, np.abs(r).max())
        assert np.mean(r != 0) > 0.25, (name, layer_name, np.mean(r != 0))
        fn = layer_name + ".f32"
        r.astype("<f4").tofile(os.path.join(out, fn))
        entries.append({"layer": layer_name, "file": fn, "shape": list(r.shape)})

    manifest = {
        "case": name,
        "description": description,
        "seed": seed,
        "weights": "weights.h5 with topology.json (tf_keras %s)" % tf_keras.__version__,
        "input": {
            "file": "input.f32",
            "shape": list(x.shape),
            "preprocessing": "none: uniform random in [-1, 1) (numpy default_rng(seed), after the calibration batch)",
        },
        "outputs": entries,
        "params": int(model.count_params()),
    }
    with open(os.path.join(out, "manifest.json"), "w", encoding="utf8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # Round trip: the files alone give the references back, bit for bit.
    back = tf_keras.models.model_from_json(text, custom_objects={"scaling": scaling})
    back.load_weights(os.path.join(out, "weights.h5"))
    again = back(x, training=False)
    again = [np.asarray(r) for r in (again if isinstance(again, (list, tuple)) else [again])]
    for r, a in zip(refs, again):
        assert np.array_equal(r, a), name

    size = sum(os.path.getsize(os.path.join(out, fn)) for fn in os.listdir(out))
    print("  %-26s %3d layers %6d params %7d bytes  outputs %s"
          % (name, len(model.layers), model.count_params(), size,
             ", ".join("%s %s max|ref| %.3g" % (e["layer"], "x".join(map(str, e["shape"])), np.abs(r).max())
                       for e, r in zip(entries, refs))))
    return size


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--only", nargs="*", help="make only these cases (default: all, and remove stale case folders)")
    args = ap.parse_args()

    import tensorflow as tf
    import tf_keras
    import h5py
    # Our own files carry our own Lambda bytecode: let tf_keras read them back.
    tf_keras.__internal__.enable_unsafe_deserialization()
    print("tensorflow %s, tf_keras %s, h5py %s, numpy %s"
          % (tf.__version__, tf_keras.__version__, h5py.__version__, np.__version__))

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
