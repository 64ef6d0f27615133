#!/usr/bin/env python3
"""Writes the tiny HDF5 fixtures of Tests/FaceNetEngineTests/HDF5ReaderTests.swift.

Usage: python Scripts/make_h5_reader_fixtures.py [output dir]
       (default Tests/Fixtures/h5; needs h5py and numpy)

Every file holds the same 11-layer model (MODEL below) in one of the Keras layouts,
written the way each Keras writes it (checked against files written by Keras 2.2-era
deepface, tf_keras 2.21 and Keras 3.15):
  keras22_fixed.h5   save_weights, fixed-length byte-string names (Keras <= 2.3),
                     layer_names split into layer_names0/1 (Keras splits > 64 KB),
                     one float64 dataset
  tfkeras_vlen.h5    save_weights, variable-length string names (tf_keras), an empty
                     top_level_model_weights group, one float16 dataset
  full_model.h5      model.save(): fixed-length scalar model_config + model_weights
                     (+ an optimizer_weights group the reader ignores)
  keras3.h5          Keras 3 .weights.h5: layers/<snake_case class>[_N]/vars/<i>, the
                     layer name as attribute `name` on vars (Keras 3.15), optimizer group
  keras3_noname.h5   the same without `name` attributes (earlier Keras 3 files)
  truncated.h5       first half of tfkeras_vlen.h5
  not_hdf5.h5        text
  wrong_shape.h5     tfkeras_vlen.h5 with Conv2d_2a kernel (1,1,4,5)
  nan.h5             tfkeras_vlen.h5 with a NaN in Conv2d_1a kernel
  extra_top_level.h5 tfkeras_vlen.h5 with a weight in top_level_model_weights
  int_weights.h5     tfkeras_vlen.h5 with Bottleneck kernel stored as int32
  oversized.h5       tfkeras_vlen.h5 plus unallocated chunked datasets `/huge`
                     (2^20 x 2^10 float32: 4 GiB claimed by a small file) and `/vast`
                     (2^32 elements, over the reader's element limit)

Weight values: the j-th weight of the model (counting in MODEL order), element k
(row-major), holds j + k/1024 (exact in float32 and float64; rounded in float16).
"""
import os
import sys

import h5py
import numpy as np

# (layer name, Keras class, [(weight, shape)]) in model order, weights in Keras order.
MODEL = [
    ("input_1", "InputLayer", []),
    ("Conv2d_1a", "Conv2D", [("kernel", (3, 3, 3, 4))]),
    ("Conv2d_1a_BatchNorm", "BatchNormalization",
     [("beta", (4,)), ("moving_mean", (4,)), ("moving_variance", (4,))]),
    ("Conv2d_1a_Activation", "Activation", []),
    ("Conv2d_2a", "Conv2D", [("kernel", (1, 1, 4, 4)), ("bias", (4,))]),
    ("Conv2d_2a_BatchNorm", "BatchNormalization",
     [("gamma", (4,)), ("beta", (4,)), ("moving_mean", (4,)), ("moving_variance", (4,))]),
    ("Conv2d_2a_Activation", "Activation", []),
    ("prelu", "PReLU", [("alpha", (1, 1, 4))]),
    ("AvgPool", "GlobalAveragePooling2D", []),
    ("Bottleneck", "Dense", [("kernel", (4, 2))]),
    ("Bottleneck_BatchNorm", "BatchNormalization",
     [("beta", (2,)), ("moving_mean", (2,)), ("moving_variance", (2,))]),
]

# Keras 3's group names for MODEL (naming.to_snake_case + per-class counter; the
# InputLayer is one of model.layers in Keras 3.15 functional models).
KERAS3_GROUPS = ["input_layer", "conv2d", "batch_normalization", "activation", "conv2d_1",
                 "batch_normalization_1", "activation_1", "p_re_lu",
                 "global_average_pooling2d", "dense", "batch_normalization_2"]

MODEL_CONFIG = ('{"class_name": "Functional", "config": {"name": "fixture", "layers": '
                '[{"class_name": "InputLayer", "config": {"name": "input_1"}}]}}')


def values(j, shape):
    count = int(np.prod(shape))
    return (j + np.arange(count, dtype=np.float64) / 1024).reshape(shape)


def weights_in_order():
    j = 0
    for layer, _, weights in MODEL:
        for weight, shape in weights:
            yield layer, weight, shape, values(j, shape)
            j += 1


def fixed(strings):
    return np.array([s.encode("utf8") for s in strings], dtype="S")


def vlen(strings):
    return np.array(strings, dtype=h5py.string_dtype("utf-8"))


def write_save_weights(group, encoding, dtypes=None, split_layer_names=False):
    """Keras 2 save_weights_to_hdf5_group; dtypes maps (layer, weight) to a numpy dtype."""
    dtypes = dtypes or {}
    names = [layer for layer, _, _ in MODEL]
    if split_layer_names:
        group.attrs["layer_names0"] = encoding(names[:5])
        group.attrs["layer_names1"] = encoding(names[5:])
    else:
        group.attrs["layer_names"] = encoding(names)
    if encoding is fixed:
        group.attrs["backend"] = np.bytes_(b"tensorflow")
        group.attrs["keras_version"] = np.bytes_(b"2.2.0")
    else:
        group.attrs["backend"] = "tensorflow"
        group.attrs["keras_version"] = "2.21.0"
    by_layer = {}
    for layer, weight, shape, data in weights_in_order():
        by_layer.setdefault(layer, []).append((weight, data))
    for layer, _, _ in MODEL:
        layer_group = group.create_group(layer)
        entries = by_layer.get(layer, [])
        if not entries:
            # What Keras writes for an empty list: np.asarray([]), a float64 array.
            layer_group.attrs["weight_names"] = np.asarray([])
            continue
        weight_names = [f"{layer}/{weight}:0" for weight, _ in entries]
        layer_group.attrs["weight_names"] = encoding(weight_names)
        for name, (weight, data) in zip(weight_names, entries):
            layer_group.create_dataset(name, data=data.astype(dtypes.get((layer, weight), np.float32)))


def write_keras3(path, with_names):
    with h5py.File(path, "w") as f:
        layers = f.create_group("layers")
        by_layer = {}
        for layer, weight, shape, data in weights_in_order():
            by_layer.setdefault(layer, []).append(data)
        for (layer, _, _), group_name in zip(MODEL, KERAS3_GROUPS):
            entries = by_layer.get(layer, [])
            if not entries and not with_names:
                continue  # earlier Keras 3 wrote no group for a layer without variables
            var_group = layers.create_group(group_name).create_group("vars")
            if with_names:
                var_group.attrs["name"] = layer
            for index, data in enumerate(entries):
                var_group.create_dataset(str(index), data=data.astype(np.float32))
        model_vars = f.create_group("vars")
        if with_names:
            model_vars.attrs["name"] = "functional"
        optimizer_vars = f.create_group("optimizer").create_group("vars")
        optimizer_vars.create_dataset("0", data=np.float32(3))


def write_variant(path, edit):
    with h5py.File(path, "w") as f:
        write_save_weights(f, vlen)
        f.create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])
        edit(f)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "h5")
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)

    with h5py.File(p("keras22_fixed.h5"), "w") as f:
        write_save_weights(f, fixed, dtypes={("Conv2d_2a", "bias"): np.float64}, split_layer_names=True)

    with h5py.File(p("tfkeras_vlen.h5"), "w") as f:
        write_save_weights(f, vlen, dtypes={("Bottleneck_BatchNorm", "moving_variance"): np.float16})
        f.create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])

    with h5py.File(p("full_model.h5"), "w") as f:
        f.attrs["model_config"] = np.bytes_(MODEL_CONFIG.encode("utf8"))
        f.attrs["keras_version"] = np.bytes_(b"2.2.0")
        f.attrs["backend"] = np.bytes_(b"tensorflow")
        write_save_weights(f.create_group("model_weights"), fixed)
        f.create_group("optimizer_weights").create_dataset("Adam/iterations:0", data=np.int64(7))

    write_keras3(p("keras3.h5"), with_names=True)
    write_keras3(p("keras3_noname.h5"), with_names=False)

    with open(p("tfkeras_vlen.h5"), "rb") as src:
        data = src.read()
    with open(p("truncated.h5"), "wb") as dst:
        dst.write(data[: len(data) // 2])

    with open(p("not_hdf5.h5"), "w") as f:
        f.write("this is a text file, not HDF5\n")

    def wrong_shape(f):
        del f["Conv2d_2a/Conv2d_2a/kernel:0"]
        f["Conv2d_2a"].create_dataset("Conv2d_2a/kernel:0", data=np.zeros((1, 1, 4, 5), np.float32))

    def nan(f):
        f["Conv2d_1a/Conv2d_1a/kernel:0"][0, 1, 2, 3] = np.nan

    def extra_top_level(f):
        g = f["top_level_model_weights"]
        g.attrs["weight_names"] = vlen(["scale:0"])
        g.create_dataset("scale:0", data=np.float32([1]))

    def int_weights(f):
        del f["Bottleneck/Bottleneck/kernel:0"]
        f["Bottleneck"].create_dataset("Bottleneck/kernel:0", data=np.arange(8, dtype=np.int32).reshape(4, 2))

    def oversized(f):
        f.create_dataset("huge", shape=(1 << 20, 1 << 10), dtype=np.float32, chunks=(64, 64))
        f.create_dataset("vast", shape=(1 << 20, 1 << 12), dtype=np.float32, chunks=(64, 64))

    for name, edit in [("wrong_shape.h5", wrong_shape), ("nan.h5", nan), ("extra_top_level.h5", extra_top_level),
                       ("int_weights.h5", int_weights), ("oversized.h5", oversized)]:
        write_variant(p(name), edit)

    for name in sorted(os.listdir(out)):
        print(f"{os.path.getsize(p(name)):8d}  {name}")


if __name__ == "__main__":
    main()
