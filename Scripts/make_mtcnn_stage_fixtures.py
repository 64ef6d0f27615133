"""Stage-by-stage MTCNN references from the Python `mtcnn` package 1.0.0 (ipazc, MIT) and
TensorFlow, for Tests/FaceNetVisionTests/MTCNNStageTests.swift. Writes
Tests/Fixtures/mtcnn_stages/:

- Eight JPEGs (Pillow, LANCZOS, quality 88), all from deepface's test dataset
  (github.com/serengil/deepface, tests/unit/dataset, MIT) via ../shared/faces/photos:
  five photos downscaled so their faces are 33–112 px (`*_small.jpg`); `group.jpg`, four
  of them on one grey canvas with faces of ~27, 46, 76 and 118 px (none of the 30 photos
  has two faces); `nested_a.jpg` and `nested_b.jpg`, img25 with a smaller face (img21)
  pasted over its cheek, so that one O-Net box lies mostly inside another: what the final
  NMS's overlap over the smaller box (not union) decides.
- stages.json: for every photo, decoded by Pillow from the file as committed (its pixels'
  SHA-256 is in `pixels_sha256`: the Swift decoder must give the same pixels), the
  candidates the package's cascade hands on after each stage, as [x1, y1, x2, y2, score]
  in image pixels (O-Net adds landmarks [x1..x5, y1..y5]), each list by falling score:
  - `pnet_scales`: per pyramid scale (with the [width, height] P-Net scanned), the cells
    over threshold_pnet after that scale's NMS (nms_pnet1, union), mapped back by 1/scale;
  - `pnet`: all scales after the cross-scale NMS (nms_pnet2, union), squared (R-Net's input);
  - `rnet`: after threshold_rnet and NMS (nms_rnet, union), squared (O-Net's input);
  - `onet`: after threshold_onet and the final NMS (nms_onet, over the smaller box), not
    clipped to the image (`detect_faces` clips afterwards).
  `margins`: per stage, how close any score came to its threshold, any overlap to its NMS
  limit, and (`order`) how close two boxes where one suppresses the other came to swapping.
  Every photo must clear FLOORS (below), so that engine-sized differences cannot flip a
  decision; the script stops otherwise. This is why Docs/samples/img5.jpg (a P-Net
  score 2.7e-4 from 0.6) and img16.jpg (a P-Net overlap 4.5e-5 from 0.5) are not used.

The stages are replayed line for line from mtcnn/stages/stage_*.py with the package's own
functions and networks, so each stage's output can be kept; the replay's `pnet`, `rnet`
and `onet` are checked to be identical to the package's own stage objects' outputs.
`--sensitivity` replays the cascade with one setting changed at a time (a threshold, an
NMS limit, an overlap mode, +1 in the overlap's widths) and prints which photo and stage
each change alters: the mutations the fixture can catch.

Settings are the package's and MTCNNOptions' defaults: min_face_size 20, scale_factor
0.709, thresholds 0.6 / 0.7 / 0.8, NMS 0.5 (per scale) / 0.7 / 0.7 / 0.7.

Deterministic: fixed crops and sizes, no randomness; the same package, TensorFlow and
Pillow versions give the same files.

Run from the package root: .venv/bin/python Scripts/make_mtcnn_stage_fixtures.py [--sensitivity]
(tensorflow 2.21, mtcnn==1.0.0, lz4, pillow; ../shared/faces/photos rebuilds the photos,
without it the committed ones are reused). ~1 minute; --sensitivity adds ~2.
"""
import argparse
import hashlib
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
from PIL import Image

import mtcnn.utils.bboxes as bboxes_module
from mtcnn import MTCNN
from mtcnn.utils.bboxes import (adjust_bboxes, generate_bounding_box, pick_matches, replace_confidence,
                                resize_to_square, smart_nms_from_bboxes, upscale_bboxes)
from mtcnn.utils.images import apply_scales, build_scale_pyramid, extract_patches, standarize_batch
from mtcnn.utils.landmarks import adjust_landmarks

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests/Fixtures/mtcnn_stages")
shared_photos = os.path.join(os.path.dirname(root), "shared/faces/photos")

DEFAULTS = dict(min_face_size=20, scale_factor=0.709, threshold_pnet=0.6, threshold_rnet=0.7, threshold_onet=0.8,
                nms_pnet1=0.5, nms_pnet2=0.7, nms_rnet=0.7, nms_onet=0.7,
                method_pnet1="union", method_pnet2="union", method_rnet="union", method_onet="min")

# One photo downscaled: (name written, source in ../shared/faces/photos, width).
SINGLES = [
    ("img12_small.jpg", "img12.jpg", 200),  # face ~51 px; R-Net's NMS limit and overlap mode decide
    ("img17_small.jpg", "img17.jpg", 160),  # face ~33 px
    ("img18_small.jpg", "img18.jpg", 320),  # R-Net scores on both sides of 0.7 ± 0.1
    ("img22_small.jpg", "img22.jpg", 360),  # face ~80 px at the right edge, 8 scales
    ("img28_small.jpg", "img28.jpg", 200),  # O-Net scores its face 0.883: threshold_onet decides
]
# group.jpg: (source, crop (l, t, r, b), width pasted, (x, y) on the canvas).
GROUP_SIZE, GROUP_GREY = (480, 300), 180
GROUP = [
    ("img25.jpg", (60, 20, 340, 330), 200, (0, 0)),
    ("img29.jpg", (120, 60, 460, 480), 120, (214, 20)),
    ("img17.jpg", (300, 40, 640, 420), 76, (354, 40)),
    ("img21.jpg", (20, 10, 420, 420), 50, (384, 200)),
]
# nested_*.jpg: img25 at 300×300, img21's face (cropped, 120 px wide) pasted at (x, y).
NESTED_SMALL = ("img21.jpg", (20, 10, 420, 420), 120)
NESTED = [("nested_a.jpg", (120, 130)), ("nested_b.jpg", (160, 100))]


def build_photos():
    """Writes the downscaled and composed photos (only when ../shared is there)."""
    if not os.path.isdir(shared_photos):
        print("../shared/faces/photos absent: reusing the committed photos")
        return
    os.makedirs(out, exist_ok=True)

    def load_source(name, crop=None):
        image = Image.open(os.path.join(shared_photos, name)).convert("RGB")
        return image.crop(crop) if crop else image

    def scaled(image, width):
        return image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)

    for name, source, width in SINGLES:
        scaled(load_source(source), width).save(os.path.join(out, name), quality=88)
    canvas = Image.new("RGB", GROUP_SIZE, (GROUP_GREY,) * 3)
    for source, crop, width, at in GROUP:
        canvas.paste(scaled(load_source(source, crop), width), at)
    canvas.save(os.path.join(out, "group.jpg"), quality=88)
    big = load_source("img25.jpg").resize((300, 300), Image.LANCZOS)
    source, crop, width = NESTED_SMALL
    small = scaled(load_source(source, crop), width)
    for name, at in NESTED:
        canvas = big.copy()
        canvas.paste(small, at)
        canvas.save(os.path.join(out, name), quality=88)


def photo_paths():
    """(fixture key, path relative to the package root)."""
    fixture_dir = os.path.relpath(out, root)
    names = [s[0] for s in SINGLES] + ["group.jpg"] + [n for n, _ in NESTED]
    return [(n, os.path.join(fixture_dir, n)) for n in names]


def plus_one_iou(bboxes, method="union"):
    """mtcnn's `iou` with +1 in every width and height (the classic MTCNN pixel count): the
    `--sensitivity` stand-in for an off-by-one in the engine's overlap."""
    b = np.stack(bboxes, axis=0)
    area = (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1)
    a, c = np.expand_dims(b, 0), np.expand_dims(b, 1)
    h = np.maximum(0, np.minimum(a[:, :, 2], c[:, :, 2]) - np.maximum(a[:, :, 0], c[:, :, 0]) + 1)
    w = np.maximum(0, np.minimum(a[:, :, 3], c[:, :, 3]) - np.maximum(a[:, :, 1], c[:, :, 1]) + 1)
    inter = h * w
    if method == "union":
        return inter / (area[:, None] + area[None, :] - inter)
    return inter / np.minimum(area[:, None], area[None, :])


# How far from its limit every decision must stay for the fixture to be robust, against the
# differences measured between this engine and the package: P-Net scores ≤ 1.1e-4 (mostly
# TensorFlow's AREA resize, ~2e-5 off the exact area mean), R-/O-Net scores ≤ 2e-5; boxes
# ≤ 8e-4 px, so overlaps move by about box error / box side ≤ 4e-5 (boxes ≥ 20 px).
# `order`: for two boxes where one suppresses the other (which one survives depends on
# their order), their score gap over the most the two scores could move towards each other:
# 6e-4 · p(1 − p) each (the largest logit difference measured is 5.7e-4) + 6e-8 (one
# float32 step below 1: near 1, where scores saturate, ours and TensorFlow's differ by at
# most one step). 0.95 lets a gap of two steps near 1 pass, not one step or a tie. Exact
# ties (both 1.0) are common with several faces, and which of two tied boxes comes first
# is up to numpy's argsort (quicksort, reversed), so no engine can be held to it.
FLOORS = {"pnet_score": 5e-4, "pnet_scale_overlap": 1e-4, "pnet_merge_overlap": 1e-4, "rnet_score": 5e-4,
          "rnet_overlap": 5e-4, "onet_score": 5e-4, "onet_overlap": 5e-4, "order": 0.95}


class Margins:
    """The smallest |score − threshold|, |overlap − limit| and suppressing-pair score gap
    (see FLOORS) met per stage: how far each decision was from going the other way."""

    def __init__(self):
        self.values = {}

    def keep(self, key, values):
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        if values.size:
            self.values[key] = min(self.values.get(key, np.inf), float(np.min(values)))

    def score(self, stage, scores, threshold):
        self.keep(f"{stage}_score", np.abs(np.asarray(scores, dtype=np.float64) - threshold))

    def nms(self, stage, boxes, method, limit):
        """`boxes` in the order the NMS takes them (falling score)."""
        if len(boxes) < 2:
            return
        upper = np.triu_indices(len(boxes), k=1)
        overlap = bboxes_module.iou(boxes[:, 1:5], method=method)[upper]
        self.keep(f"{stage}_overlap", np.abs(overlap[overlap > 0] - limit))  # disjoint boxes decide nothing
        p = boxes[:, 5].astype(np.float64)
        expected = 6e-4 * p * (1 - p) + 6e-8
        gap = np.abs(p[upper[0]] - p[upper[1]]) / (expected[upper[0]] + expected[upper[1]])
        self.keep("order", gap[overlap > limit])

    def fragile(self):
        return {k: v for k, v in self.values.items() if v < FLOORS[k]}


def cascade(detector, image, p, margins=None):
    """The package's three stages on one uint8 HWC image, keeping what each hands on.
    Mirrors StagePNet/StageRNet/StageONet.__call__ (mtcnn 1.0.0) step for step."""
    images_normalized, images_oshapes, _ = standarize_batch([image], normalize=True)
    pnet, rnet, onet = (detector.get_stage(stage_id=i) for i in (1, 2, 3))
    margins = margins or Margins()

    # P-Net (stage_pnet.py steps 1–7).
    scales_groups = [build_scale_pyramid(s[1], s[0], min_face_size=p["min_face_size"], scale_factor=p["scale_factor"])
                     for s in images_oshapes]
    scales_result, scales_index = apply_scales(images_normalized, scales_groups)
    per_scale = []
    for scaled, scale in zip(scales_result, scales_index):
        offsets, probability = pnet.model(scaled)
        margins.score("pnet", probability.numpy()[..., 1], p["threshold_pnet"])
        found = generate_bounding_box(offsets, probability, p["threshold_pnet"])
        found = upscale_bboxes(found, np.asarray([scale]))
        margins.nms("pnet_scale", found, p["method_pnet1"], p["nms_pnet1"])  # found: by falling score
        kept = smart_nms_from_bboxes(found, threshold=p["nms_pnet1"], method=p["method_pnet1"], initial_sort=False)
        per_scale.append((float(scale), [int(scaled.shape[2]), int(scaled.shape[1])], kept))
    merged = np.concatenate([k for _, _, k in per_scale], axis=0) if per_scale else np.empty((0, 6))
    margins.nms("pnet_merge", merged[np.argsort(merged[:, 5])[::-1]], p["method_pnet2"], p["nms_pnet2"])
    merged = smart_nms_from_bboxes(merged, threshold=p["nms_pnet2"], method=p["method_pnet2"], initial_sort=True)
    pnet_out = resize_to_square(merged)
    result = {"pnet_scales": per_scale, "pnet": pnet_out, "rnet": np.empty((0, 6)), "onet": np.empty((0, 16))}
    if len(pnet_out) == 0:
        return result

    # R-Net (stage_rnet.py steps 1–7).
    boxes = pnet_out.copy()
    offsets, scores = rnet.model(extract_patches(images_normalized, boxes, expected_size=(24, 24)))
    margins.score("rnet", scores.numpy()[:, 1], p["threshold_rnet"])
    boxes = replace_confidence(boxes, scores)
    boxes = adjust_bboxes(boxes, offsets)
    boxes = pick_matches(boxes, score_threshold=p["threshold_rnet"])
    margins.nms("rnet", boxes[np.argsort(boxes[:, 5])[::-1]], p["method_rnet"], p["nms_rnet"])
    boxes = smart_nms_from_bboxes(boxes, threshold=p["nms_rnet"], method=p["method_rnet"], initial_sort=True)
    result["rnet"] = rnet_out = resize_to_square(boxes)
    if len(rnet_out) == 0:
        return result

    # O-Net (stage_onet.py steps 1–8).
    boxes = rnet_out.copy()
    offsets, landmarks, scores = onet.model(extract_patches(images_normalized, boxes, expected_size=(48, 48)))
    margins.score("onet", scores.numpy()[:, 1], p["threshold_onet"])
    landmarks = adjust_landmarks(landmarks, boxes)
    boxes = replace_confidence(boxes, scores)
    boxes = adjust_bboxes(boxes, offsets)
    boxes = np.concatenate([boxes, landmarks], axis=-1)
    boxes = pick_matches(boxes, scores_column=5, score_threshold=p["threshold_onet"])
    margins.nms("onet", boxes[np.argsort(boxes[:, 5])[::-1]], p["method_onet"], p["nms_onet"])
    result["onet"] = smart_nms_from_bboxes(boxes, threshold=p["nms_onet"], method=p["method_onet"], initial_sort=True)
    return result


def package_stages(detector, image):
    """The package's own stage objects, chained as MTCNN.detect_faces does (copies kept:
    R-Net's replace_confidence writes its scores into the array P-Net returned)."""
    images_normalized, images_oshapes, _ = standarize_batch([image], normalize=True)
    outputs, boxes = [], None
    for stage in detector.stages:
        boxes = stage(bboxes_batch=boxes, images_normalized=images_normalized, images_oshapes=images_oshapes, **DEFAULTS)
        outputs.append(boxes.copy())
    return outputs


def rows(boxes, landmarks=False):
    """[x1, y1, x2, y2, score] (+ 10 landmark coordinates) per candidate, full float64 precision."""
    return [[float(v) for v in b[1:16 if landmarks else 6]] for b in boxes]


def load(path):
    return np.asarray(Image.open(os.path.join(root, path)).convert("RGB"))


def signature(result):
    """What a mutation could change: counts and rounded boxes per stage (and per scale)."""
    sig = {f"pnet scale {i}": (len(k), np.round(k[:, 1:5], 3).tobytes()) for i, (_, _, k) in enumerate(result["pnet_scales"])}
    for stage in ("pnet", "rnet", "onet"):
        sig[stage] = (len(result[stage]), np.round(result[stage][:, 1:5], 3).tobytes())
    return sig


MUTATIONS = {
    "pnet NMS 0.7→0.5": dict(nms_pnet2=0.5),
    "onet NMS union": dict(method_onet="union"),
    "rnet NMS min": dict(method_rnet="min"),
    "pnet threshold 0.6→0.5": dict(threshold_pnet=0.5),
    "pnet scale NMS 0.5→0.4": dict(nms_pnet1=0.4),
    "NMS areas +1": "plus_one",
    "pnet threshold 0.6→0.7": dict(threshold_pnet=0.7),
    "rnet threshold 0.7→0.6": dict(threshold_rnet=0.6),
    "rnet threshold 0.7→0.8": dict(threshold_rnet=0.8),
    "onet threshold 0.8→0.7": dict(threshold_onet=0.7),
    "onet threshold 0.8→0.9": dict(threshold_onet=0.9),
    "pnet scale NMS 0.5→0.6": dict(nms_pnet1=0.6),
    "pnet NMS 0.7→0.8": dict(nms_pnet2=0.8),
    "rnet NMS 0.7→0.6": dict(nms_rnet=0.6),
    "rnet NMS 0.7→0.8": dict(nms_rnet=0.8),
    "onet NMS 0.7→0.6": dict(nms_onet=0.6),
    "onet NMS 0.7→0.8": dict(nms_onet=0.8),
    "pnet scale NMS min": dict(method_pnet1="min"),
    "pnet NMS min": dict(method_pnet2="min"),
}


def sensitivity(detector, photos):
    """Prints, per mutation, the first stage it changes on each photo."""
    baseline = {name: signature(cascade(detector, load(path), DEFAULTS)) for name, path in photos}
    original_iou = bboxes_module.iou
    for label, change in MUTATIONS.items():
        hits = []
        for name, path in photos:
            if change == "plus_one":
                bboxes_module.iou = plus_one_iou
                sig = signature(cascade(detector, load(path), DEFAULTS))
                bboxes_module.iou = original_iou
            else:
                sig = signature(cascade(detector, load(path), {**DEFAULTS, **change}))
            changed = [k for k in baseline[name] if sig.get(k) != baseline[name][k]]
            if changed:
                hits.append(f"{name}: {changed[0]} ({len(changed)} stages)")
        print(f"{label:28s} {'; '.join(hits) if hits else 'NOT CAUGHT'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sensitivity", action="store_true", help="print which photo/stage each mutation changes")
    args = parser.parse_args()
    build_photos()
    detector = MTCNN()
    photos = photo_paths()
    fixture = {"source": "mtcnn 1.0.0 stages (Scripts/make_mtcnn_stage_fixtures.py), Pillow-decoded photos",
               "settings": DEFAULTS, "photos": []}
    for name, path in photos:
        image = load(path)
        margins = Margins()
        result = cascade(detector, image, DEFAULTS, margins)
        # The replay must be the package's own cascade, bit for bit.
        for mine, theirs in zip([result["pnet"], result["rnet"], result["onet"]], package_stages(detector, image)):
            assert mine.shape == theirs.shape and np.array_equal(mine, theirs), f"{name}: replay differs from the package"
        fixture["photos"].append({
            "name": name, "path": path, "width": int(image.shape[1]), "height": int(image.shape[0]),
            "pixels_sha256": hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest(),
            "pnet_scales": [{"scale": s, "size": size, "boxes": rows(k)} for s, size, k in result["pnet_scales"]],
            "pnet": rows(result["pnet"]), "rnet": rows(result["rnet"]), "onet": rows(result["onet"], landmarks=True),
            "margins": margins.values,
        })
        if margins.fragile():
            raise SystemExit(f"{name}: decisions too close to call for engine-sized differences: {margins.fragile()}")
        counts = [len(k) for _, _, k in result["pnet_scales"]]
        print(f"{name}: {image.shape[1]}×{image.shape[0]}, P-Net per scale {counts}, merged {len(result['pnet'])}, "
              f"R-Net {len(result['rnet'])}, O-Net {len(result['onet'])}; margins "
              + ", ".join(f"{k} {v:.2g}" for k, v in sorted(margins.values.items())))
    with open(os.path.join(out, "stages.json"), "w") as f:
        json.dump(fixture, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", out)
    if args.sensitivity:
        sensitivity(detector, photos)


if __name__ == "__main__":
    main()
