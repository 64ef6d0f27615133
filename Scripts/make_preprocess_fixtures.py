#!/usr/bin/env python3
"""Make the preprocessing fixtures, with OpenCV, Pillow and NumPy as the oracles.

Python is used only here, to make reference data; the Swift tests never run it.

Writes Tests/Fixtures/preprocess/ (deterministic, seed 2024):

  <image>.rgb       small synthetic RGB test images, raw uint8 HWC (no header)
  <case>.u8         expected 8-bit RGB output of a resampling case, raw HWC
  <case>.f32        expected float output of a full preprocessing case, little-endian HWC
  manifest.json     the images (file, width, height) and the cases (see below), plus the
                    versions of the oracles

Each case names its input image and its parameters:
  kind "resample": crop ("center" | "none"), filter ("bilinear" = cv2 INTER_LINEAR,
      "bilinear-aa" = Pillow BILINEAR, "area" = cv2 INTER_AREA), letterbox (bool),
      width, height: crop, then resize to width x height (or letterbox into it).
  kind "prepare": the same plus color ("rgb" | "bgr") and normalization (the
      PreprocessOptions.Normalization raw values), size.

How the references are computed:
  - centre crop: side = min(w, h), left = (w - side) // 2, top = (h - side) // 2.
  - "bilinear": cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR) on the uint8 image.
  - "bilinear-aa": PIL.Image.fromarray(img).resize((w, h), PIL.Image.BILINEAR).
  - "area": cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA).
  - letterbox: deepface's preprocessing.resize_image geometry, with the case's filter,
    black padding (top = diff // 2).
  - deepface normalisations: the pipeline of deepface's represent() on a BGR uint8
    image (detector "skip"): letterbox -> float32 / 255 (max > 1 here) ->
    normalize_input(...) transcribed from deepface/modules/preprocessing.py, in
    float32 like NumPy does it. color "bgr" is deepface's tensor; "rgb" is that tensor
    with the channels reversed.
  - prewhiten: Sandberg's facenet.prewhiten on the uint8 RGB image (float64), then float32.
  - fixed: (float32(x) - 127.5) / 128 (how shared/models/synthetic128/inputs.f32 was made).

With --stress N it writes N random resampling cases (random sizes 1..M, random
targets up to 4M/3, every filter, crop and letterbox; M = --max-side, default 150) in
the same format instead, into --out (default Fixtures/preprocess/stress/). They reach
what the fixed cases above do not: 1-pixel images and targets, extreme aspect ratios,
an axis enlarged while the other shrinks, OpenCV's integer-factor switches at random
sizes. The committed set (< 500 KB, checked by PreprocessTests on every run) is
  .venv/bin/python Scripts/make_preprocess_fixtures.py --stress 120 --max-side 36
Bigger dumps: --stress 2000 --out /tmp/stress, then run the Swift tests with
PREPROCESS_STRESS_DIR=/tmp/stress (not committed).

With --check-shared it also reproduces ../shared/models/synthetic128/inputs.f32 from
../shared/faces/photos (Pillow decode, centre crop, Pillow bilinear to 160, fixed) and
prints the max abs difference per image.

Usage (from the repository root):
  python3 -m venv .venv && .venv/bin/pip install -r Scripts/requirements.txt
  .venv/bin/python Scripts/make_preprocess_fixtures.py [--check-shared]
"""

import argparse
import json
import os

import cv2
import numpy as np
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "preprocess")
STRESS_OUT = os.path.join(OUT, "stress")


# ---------------------------------------------------------------- test images

def make_images(rng):
    """Small synthetic RGB images: noise, gradients, blocks; odd and even sizes."""
    images = {}

    images["rand37x23"] = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)

    h, w = 150, 200
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    grad = np.stack([x / (w - 1) * 255, y / (h - 1) * 255, (x + y) / (w + h - 2) * 255], axis=-1)
    grad += rng.normal(0, 12, grad.shape)
    images["grad200x150"] = np.clip(np.rint(grad), 0, 255).astype(np.uint8)

    h, w = 131, 97
    blocks = rng.integers(0, 256, (h // 7 + 1, w // 7 + 1, 3)).repeat(7, 0).repeat(7, 1)[:h, :w]
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    mix = 0.6 * blocks + 0.4 * np.stack([x / w * 255, y / h * 255, 128 + 0 * x], axis=-1)
    mix += rng.normal(0, 6, mix.shape)
    images["mix97x131"] = np.clip(np.rint(mix), 0, 255).astype(np.uint8)

    images["tall60x200"] = rng.integers(0, 256, (200, 60, 3), dtype=np.uint8)
    images["rand80x60"] = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    images["rand120x90"] = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    return images


# ---------------------------------------------------------------- references

def center_crop(img):
    h, w = img.shape[:2]
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img[top:top + s, left:left + s]


def resize(img, w, h, filt):
    if filt == "bilinear":
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    if filt == "area":
        return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    if filt == "bilinear-aa":
        return np.asarray(Image.fromarray(img).resize((w, h), Image.BILINEAR))
    raise ValueError(filt)


def letterbox(img, size, filt):
    """deepface preprocessing.resize_image geometry, with the given filter."""
    factor = min(size / img.shape[0], size / img.shape[1])
    # Where int() gives 0 (aspect beyond size:1) deepface fails in OpenCV; the engine keeps 1 px.
    dsize = (max(1, int(img.shape[1] * factor)), max(1, int(img.shape[0] * factor)))
    img = resize(img, dsize[0], dsize[1], filt)
    d0, d1 = size - img.shape[0], size - img.shape[1]
    img = np.pad(img, ((d0 // 2, d0 - d0 // 2), (d1 // 2, d1 - d1 // 2), (0, 0)), "constant")
    assert img.shape[:2] == (size, size)
    return img


def resample(img, case):
    if case["crop"] == "center":
        img = center_crop(img)
    if case["letterbox"]:
        assert case["width"] == case["height"]
        return letterbox(img, case["width"], case["filter"])
    return resize(img, case["width"], case["height"], case["filter"])


def deepface_normalize_input(img, normalization):
    """deepface/modules/preprocessing.py normalize_input, same operations (float32 array)."""
    if normalization == "base":
        return img
    img *= 255
    if normalization == "raw":
        pass
    elif normalization == "Facenet":
        mean, std = img.mean(), img.std()
        img = (img - mean) / std
    elif normalization == "Facenet2018":
        img /= 127.5
        img -= 1
    elif normalization == "VGGFace":
        img[..., 0] -= 93.5940
        img[..., 1] -= 104.7624
        img[..., 2] -= 129.1863
    elif normalization == "VGGFace2":
        img[..., 0] -= 91.4953
        img[..., 1] -= 103.8827
        img[..., 2] -= 131.0912
    elif normalization == "ArcFace":
        img -= 127.5
        img /= 128
    else:
        raise ValueError(normalization)
    return img


def prewhiten(x):
    """Sandberg's facenet.prewhiten."""
    mean = np.mean(x)
    std = np.std(x)
    std_adj = np.maximum(std, 1.0 / np.sqrt(x.size))
    return np.multiply(np.subtract(x, mean), 1 / std_adj)


def prepare(img, case):
    rgb = resample(img, case)
    norm = case["normalization"]
    if norm == "prewhiten":
        out = prewhiten(rgb).astype(np.float32)
    elif norm == "fixed":
        out = (rgb.astype(np.float32) - 127.5) / 128
    else:
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # deepface's image is BGR
        x = bgr.astype(np.float32)
        if x.max() > 1:
            x = (x / 255.0).astype(np.float32)
        out = deepface_normalize_input(x, norm).astype(np.float32)
        out = out[..., ::-1]  # back to RGB order; re-flipped below when "bgr"
    if case["color"] == "bgr":
        out = out[..., ::-1]
    return np.ascontiguousarray(out, dtype="<f4")


# ---------------------------------------------------------------- cases

DEEPFACE_MODES = ["base", "raw", "Facenet", "Facenet2018", "VGGFace", "VGGFace2", "ArcFace"]
ALL_MODES = ["prewhiten", "fixed"] + DEEPFACE_MODES


def resample_case(image, filt, w, h, crop="none", letterbox_=False):
    tag = {"bilinear": "cv2lin", "bilinear-aa": "pil", "area": "cv2area"}[filt]
    name = f"{image}_{'crop_' if crop == 'center' else ''}{'lb_' if letterbox_ else ''}{tag}_{w}x{h}"
    return {"name": name, "kind": "resample", "image": image, "crop": crop, "filter": filt,
            "letterbox": letterbox_, "width": w, "height": h}


def prepare_case(image, filt, size, crop, letterbox_, color, norm):
    name = f"{image}_prep_{crop}_{'lb' if letterbox_ else 'rs'}_{filt}_{color}_{norm}_{size}"
    return {"name": name, "kind": "prepare", "image": image, "crop": crop, "filter": filt,
            "letterbox": letterbox_, "width": size, "height": size, "size": size,
            "color": color, "normalization": norm}


def make_cases():
    cases = []
    for im in ["rand37x23", "grad200x150", "mix97x131"]:
        for f in ["bilinear", "bilinear-aa", "area"]:
            if f != "area" or im == "grad200x150":  # area at 160 from 200x150: both branches
                cases.append(resample_case(im, f, 160, 160))
            cases.append(resample_case(im, f, 57, 41))
            cases.append(resample_case(im, f, 64, 64, crop="center"))
        cases.append(resample_case(im, "bilinear-aa", 40, 40))
        cases.append(resample_case(im, "area", 40, 40))
        cases.append(resample_case(im, "bilinear", 160, 160, letterbox_=True))
        cases.append(resample_case(im, "bilinear-aa", 64, 64, letterbox_=True))
        cases.append(resample_case(im, "area", 64, 64, letterbox_=True))
        # deepface's pipeline with every normalisation, and Sandberg's.
        for norm in ALL_MODES:
            cases.append(prepare_case(im, "bilinear", 24, "none", True, "bgr", norm))
        for norm in ["VGGFace", "Facenet", "base"]:
            cases.append(prepare_case(im, "bilinear", 24, "none", True, "rgb", norm))
        for norm in ["prewhiten", "fixed"]:
            cases.append(prepare_case(im, "bilinear-aa", 48, "center", False, "rgb", norm))
    # Pillow's vertical-first pass order (height shrinks > 2x the width's shrink).
    for (w, h) in [(57, 41), (40, 40), (30, 100), (60, 50)]:
        cases.append(resample_case("tall60x200", "bilinear-aa", w, h))
    cases.append(resample_case("tall60x200", "bilinear", 57, 41))
    cases.append(resample_case("tall60x200", "area", 57, 41))
    cases.append(resample_case("tall60x200", "bilinear", 64, 64, letterbox_=True))
    cases.append(resample_case("tall60x200", "bilinear-aa", 64, 64, letterbox_=True))
    # OpenCV's integer-scale paths: 2x (INTER_LINEAR becomes area), 3x, 2x3, 1x2, exact 2x up.
    for f in ["bilinear", "area", "bilinear-aa"]:
        cases.append(resample_case("rand80x60", f, 40, 30))
    cases.append(resample_case("rand80x60", "bilinear", 160, 120))
    cases.append(resample_case("rand80x60", "area", 160, 120))
    for (w, h) in [(40, 30), (60, 30), (120, 45), (40, 45)]:
        cases.append(resample_case("rand120x90", "area", w, h))
    cases.append(resample_case("rand120x90", "bilinear", 40, 30))
    cases.append(resample_case("rand120x90", "bilinear", 120, 45))
    return cases


def make_stress(rng, n, max_side=150):
    """n random images (1..max_side px a side) with one random resampling case each:
    square targets up to 16/15 max_side, free ones up to 4/3 max_side (160 and 200 for
    the default 150, the same random draws as before the option existed)."""
    images, cases = {}, []
    filters = ["bilinear", "bilinear-aa", "area"]
    square_max, free_max = max_side * 16 // 15, max_side * 4 // 3
    for i in range(n):
        w, h = (int(v) for v in rng.integers(1, max_side + 1, 2))
        name = f"s{i}_{w}x{h}"
        images[name] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        f = filters[i % 3]
        kind = int(rng.integers(0, 4))
        if kind == 0:  # integer factors, where OpenCV switches paths
            fx, fy = (int(v) for v in rng.integers(1, 4, 2))
            cases.append(resample_case(name, f, max(w // fx, 1), max(h // fy, 1)))
        elif kind == 1:
            s = int(rng.integers(1, square_max + 1))
            # crop and letterbox independent: a letterbox after a centre crop is a plain resize
            cases.append(resample_case(name, f, s, s, crop="center" if i % 2 else "none",
                                       letterbox_=bool((i // 2) % 2)))
        else:
            cases.append(resample_case(name, f, int(rng.integers(1, free_max + 1)), int(rng.integers(1, free_max + 1))))
    return images, cases


# ---------------------------------------------------------------- shared check

def check_shared():
    shared = os.path.join(os.path.dirname(ROOT), "shared")
    ref_path = os.path.join(shared, "models", "synthetic128", "inputs.f32")
    if not os.path.exists(ref_path):
        print("shared/ absent: skipping the synthetic128 check")
        return
    ref = np.fromfile(ref_path, dtype="<f4").reshape(6, 160, 160, 3)
    for i in range(6):
        path = os.path.join(shared, "faces", "photos", f"img{i + 1}.jpg")
        img = np.asarray(Image.open(path).convert("RGB"))
        crop = Image.fromarray(center_crop(img)).resize((160, 160), Image.BILINEAR)
        x = (np.asarray(crop, dtype=np.float32) - 127.5) / 128
        print(f"synthetic128 input {i} ({os.path.basename(path)} {img.shape[1]}x{img.shape[0]}): "
              f"max abs diff {np.abs(x - ref[i]).max()}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="default: Fixtures/preprocess (stress: its stress/ folder)")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--check-shared", action="store_true")
    ap.add_argument("--stress", type=int, default=0, metavar="N",
                    help="instead: N random resampling cases into --out")
    ap.add_argument("--max-side", type=int, default=150, metavar="M",
                    help="with --stress: image sides 1..M (default 150)")
    args = ap.parse_args()
    if args.out is None:
        args.out = STRESS_OUT if args.stress else OUT

    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    if args.stress:
        images, cases = make_stress(rng, args.stress, args.max_side)
    else:
        images, cases = make_images(rng), make_cases()
    manifest = {
        "generator": "Scripts/make_preprocess_fixtures.py",
        "versions": {"numpy": np.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__},
        "images": {},
        "cases": [],
    }
    if args.stress:
        manifest["stress"] = {"cases": args.stress, "seed": args.seed, "max_side": args.max_side}
    for name, img in images.items():
        img.tofile(os.path.join(args.out, name + ".rgb"))
        manifest["images"][name] = {"file": name + ".rgb", "width": img.shape[1], "height": img.shape[0]}
    total = 0
    for case in cases:
        img = images[case["image"]]
        if case["kind"] == "resample":
            out = resample(img, case)
            assert out.dtype == np.uint8 and out.shape == (case["height"], case["width"], 3)
            case["file"] = case["name"] + ".u8"
        else:
            out = prepare(img, case)
            case["file"] = case["name"] + ".f32"
        out.tofile(os.path.join(args.out, case["file"]))
        total += out.nbytes
        manifest["cases"].append(case)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{len(manifest['cases'])} cases, {len(images)} images, {total + sum(i.nbytes for i in images.values())} bytes")
    if args.check_shared:
        check_shared()


if __name__ == "__main__":
    main()
