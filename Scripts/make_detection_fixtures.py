"""Reference data for the MTCNN detector pipeline, from the Python `mtcnn` package 1.0.0
(ipazc, MIT) and TensorFlow, written to Tests/Fixtures/detect/:

- detections.json: `MTCNN().detect_faces` on the sample photos in Docs/samples (decoded
  with Pillow, as the shared mtcnn_boxes.json was made): boxes [x, y, w, h], confidence,
  keypoints.
- area_resize.json: tf.image.resize(method=AREA) of a small seeded float image to a few
  sizes (the pyramid's resampler).
- crop_and_resize.json: tf.image.crop_and_resize of a seeded float image for boxes inside,
  across and outside the image (R-/O-Net patch sampling).
- scales.json: mtcnn's build_scale_pyramid for a few image sizes.

Run: /work/pyenv/bin/python Scripts/make_detection_fixtures.py  (needs tensorflow, mtcnn==1.0.0, lz4, pillow)
"""
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import tensorflow as tf
from mtcnn import MTCNN
from mtcnn.utils.images import build_scale_pyramid
from PIL import Image

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = os.path.join(root, "Tests/Fixtures/detect")
os.makedirs(out, exist_ok=True)


def write(name, data):
    with open(os.path.join(out, name), "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")


detector = MTCNN()
detections = {}
for name in ["img5.jpg", "img6.jpg", "img16.jpg"]:
    image = np.asarray(Image.open(os.path.join(root, "Docs/samples", name)).convert("RGB"))
    faces = detector.detect_faces(image)
    detections[name] = [{"box": [int(v) for v in f["box"]], "confidence": float(f["confidence"]),
                         "keypoints": {k: [int(v) for v in p] for k, p in f["keypoints"].items()}} for f in faces]
write("detections.json", {"source": "mtcnn 1.0.0 detect_faces, Pillow-decoded Docs/samples", "images": detections})

rng = np.random.default_rng(7)
image = rng.uniform(-1, 1, size=(1, 13, 17, 3)).astype(np.float32)
resized = []
for h, w in [(13, 17), (9, 12), (12, 12), (6, 11), (4, 5)]:
    r = tf.image.resize(image, (h, w), method="area").numpy()
    resized.append({"height": h, "width": w, "values": r.reshape(-1).tolist()})
write("area_resize.json", {"height": 13, "width": 17, "input": image.reshape(-1).tolist(), "outputs": resized})

boxes_xyxy = [[2.3, 1.7, 12.9, 10.2], [-4.0, -3.5, 8.0, 9.25], [14.5, 10.0, 22.0, 18.0], [0, 0, 16, 12], [5, 5, 5.5, 5.5]]
h, w = image.shape[1], image.shape[2]
norm = np.asarray([[b[1] / h, b[0] / w, b[3] / h, b[2] / w] for b in boxes_xyxy], dtype=np.float32)
patches = tf.image.crop_and_resize(image, norm, np.zeros(len(boxes_xyxy), dtype=np.int32), (6, 6)).numpy()
write("crop_and_resize.json", {"height": h, "width": w, "input": image.reshape(-1).tolist(), "size": 6,
                               "boxes": boxes_xyxy, "patches": patches.reshape(len(boxes_xyxy), -1).tolist()})

scales = []
for width, height in [(330, 512), (1200, 1200), (1382, 1868), (640, 480), (40, 13), (12, 12)]:
    scales.append({"width": width, "height": height,
                   "scales": [float(s) for s in build_scale_pyramid(width, height, min_face_size=20, scale_factor=0.709)]})
write("scales.json", {"min_face_size": 20, "scale_factor": 0.709, "cases": scales})
print("wrote", out)
