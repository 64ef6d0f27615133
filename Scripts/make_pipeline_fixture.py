#!/usr/bin/env python3
"""Make the image -> preprocessing -> embedding fixture, with Pillow and Keras as the oracles.

Python is used only here, to make reference data; the Swift tests never run it
(Tests/FaceNetKitTests/PipelineOracleTests.swift reads what this writes).

The model is the tiny FaceNet-shaped network of Fixtures/tiny (Scripts/make_fixtures.py),
weights Fixtures/tiny/weights_tfkeras.h5, rebuilt by tf_keras with a 160 x 160 input
(its layers are all convolutions, pools and a global average before the Dense, so the
weights fit any input size; the committed topology takes 122 x 108). The photos are
face crops as `facenet embed --detector skip` sees them, prepared with the engine's
default preprocessing (PreprocessOptions(): Docs/preprocessing.md) done here the way
the Python reference does it:

    Pillow decode (ImageOps.exif_transpose, convert("RGB"))
    -> centre crop: side = min(w, h), left = (w - side) // 2, top = (h - side) // 2
    -> Image.resize((160, 160), Image.BILINEAR)
    -> (float32(x) - 127.5) / 128, RGB, NHWC
    -> tf_keras model.predict -> Bottleneck_BatchNorm (raw) and its l2-normalised copy

Inputs (committed):
    Docs/samples/img5.jpg                       330 x 512 baseline JPEG: a crop that
                                                drops 91 rows top, shrink 330 -> 160
    Fixtures/pipeline/img16_face.png            written here: a 131 x 154 face region of
                                                Docs/samples/img16.jpg (Pillow decode),
                                                odd excess (23 rows: 11 top, 12 bottom),
                                                enlarged 131 -> 160

Writes Tests/Fixtures/pipeline/:
    img16_face.png      the PNG input above (Pillow's PNG encoder, deterministic)
    manifest.json       versions, model, preprocessing and per photo: the file (relative
                        to the repository root), its decoded size, SHA-256 of Pillow's
                        decoded RGB bytes and of the 160 x 160 resized RGB bytes (so a
                        failure points at decode, resize or the model), the preprocessed
                        input's sum, and the embedding raw and l2-normalised (float32
                        values written as exact decimal)

Deterministic: no randomness; plain Eigen kernels (TF_ENABLE_ONEDNN_OPTS=0, CPU only).
Before writing it checks that the rebuilt model reproduces the committed tiny goldens
(Fixtures/tiny/inputs.f32 -> Bottleneck_BatchNorm.f32) at 122 x 108.

Usage (from the repository root; the venv of Scripts/requirements.txt):
    .venv/bin/python Scripts/make_pipeline_fixture.py
"""

import hashlib
import io
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Scripts"))
import make_fixtures  # noqa: E402  (sets the TF environment before TensorFlow loads)

import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

FIXTURES = os.path.join(ROOT, "Tests", "Fixtures")
OUT = os.path.join(FIXTURES, "pipeline")
TINY = os.path.join(FIXTURES, "tiny")
SIZE = 160  # PreprocessOptions().size
# The PNG's region of img16.jpg (left, top, right, bottom): a face, non-square, odd excess.
PNG_SOURCE = "Docs/samples/img16.jpg"
PNG_BOX = (330, 138, 461, 292)


def decode(path):
    """Pillow's RGB pixels as the engine's decoder must give them (EXIF orientation applied)."""
    with Image.open(path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def preprocess(rgb):
    """PreprocessOptions(): centre crop, Pillow BILINEAR to 160, (x - 127.5)/128, RGB."""
    h, w = rgb.shape[:2]
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    crop = rgb[top:top + side, left:left + side]
    resized = np.asarray(Image.fromarray(crop).resize((SIZE, SIZE), Image.BILINEAR))
    x = (resized.astype(np.float32) - 127.5) / 128
    return resized, x


def tiny_model(height, width):
    """The tiny architecture at this input size, with the committed tf_keras weights."""
    arch = make_fixtures.Arch.tiny(height=height, width=width)
    model, _ = make_fixtures.build_tfkeras(arch)
    model.load_weights(os.path.join(TINY, "weights_tfkeras.h5"))
    return model


def check_against_tiny_goldens():
    """The weights load as make_fixtures.py wrote them: its own outputs come back."""
    manifest = json.load(open(os.path.join(TINY, "manifest.json")))
    shape = manifest["input"]["shape"]
    x = np.fromfile(os.path.join(TINY, manifest["input"]["file"]), dtype="<f4").reshape(shape)
    ref = next(o for o in manifest["outputs"] if o["layer"] == "Bottleneck_BatchNorm")
    expected = np.fromfile(os.path.join(TINY, ref["file"]), dtype="<f4").reshape(ref["shape"])
    got = tiny_model(shape[1], shape[2]).predict(x, verbose=0)
    err = float(np.abs(got - expected).max())
    assert err <= 1e-6, f"rebuilt tiny model differs from its goldens by {err}"
    return err


def exact(values):
    """float32 values as decimals that parse back to the same float32."""
    return [float(np.float32(v)) for v in values]


def main():
    os.makedirs(OUT, exist_ok=True)
    golden_err = check_against_tiny_goldens()

    # The PNG input: a face region of a committed sample photo.
    png_path = os.path.join(OUT, "img16_face.png")
    face = Image.fromarray(decode(os.path.join(ROOT, PNG_SOURCE))).crop(PNG_BOX)
    buffer = io.BytesIO()
    face.save(buffer, format="PNG", optimize=True)
    with open(png_path, "wb") as f:
        f.write(buffer.getvalue())

    photos = ["Docs/samples/img5.jpg", os.path.relpath(png_path, ROOT)]
    model = tiny_model(SIZE, SIZE)
    cases = []
    for rel in photos:
        rgb = decode(os.path.join(ROOT, rel))
        resized, x = preprocess(rgb)
        raw = model.predict(x[None], verbose=0)[0].astype(np.float32)
        assert np.all(np.isfinite(raw)), rel
        l2 = (raw / np.sqrt(np.sum(raw.astype(np.float64) ** 2))).astype(np.float32)
        cases.append({
            "file": rel,
            "width": int(rgb.shape[1]),
            "height": int(rgb.shape[0]),
            "decoded_sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
            "resized_sha256": hashlib.sha256(np.ascontiguousarray(resized).tobytes()).hexdigest(),
            "input_sum": float(np.sum(x, dtype=np.float64)),
            "embedding": exact(raw),
            "embedding_l2": exact(l2),
        })
        print(f"{rel}: {rgb.shape[1]}x{rgb.shape[0]}, |embedding| = {np.linalg.norm(raw):.4f}")

    import tensorflow as tf
    import tf_keras
    manifest = {
        "generator": "Scripts/make_pipeline_fixture.py",
        "versions": {"pillow": PIL.__version__, "numpy": np.__version__,
                     "tensorflow": tf.__version__, "tf_keras": tf_keras.__version__},
        "model": {"topology": "tiny/topology_tfkeras.json", "weights": "tiny/weights_tfkeras.h5",
                  "input_size": SIZE, "output": "Bottleneck_BatchNorm",
                  "note": "the tiny topology with its input layer set to 160 x 160 x 3"},
        "preprocessing": {"crop": "center", "resize": "bilinear-aa", "letterbox": False,
                          "color": "rgb", "normalization": "fixed", "size": SIZE,
                          "detector": "skip"},
        "png_source": {"file": PNG_SOURCE, "box_ltrb": list(PNG_BOX)},
        "cases": cases,
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"tiny goldens reproduced to {golden_err:.2e}; wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
