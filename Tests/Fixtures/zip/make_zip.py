"""Writes sample.whl (a zip archive) and manifest.json for WheelArchiveTests, with Python's
zipfile as the outside reference: one stored member, two deflated ones (one empty), a
member in a folder and an archive comment. Run: python3 make_zip.py (no dependencies)."""
import hashlib, json, os, random, zipfile

here = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261207)
members = {
    "stored.txt": (b"FaceNetSwift zip fixture\n" * 3, zipfile.ZIP_STORED),
    "pkg/graph.bin": (bytes(rng.getrandbits(8) for _ in range(5000)) + b"\0" * 20000, zipfile.ZIP_DEFLATED),
    "pkg/empty.dat": (b"", zipfile.ZIP_DEFLATED),
}
path = os.path.join(here, "sample.whl")
with zipfile.ZipFile(path, "w") as archive:
    archive.comment = b"a trailing archive comment"
    for name, (data, method) in members.items():
        info = zipfile.ZipInfo(name, date_time=(2026, 12, 7, 0, 0, 0))
        info.compress_type = method
        archive.writestr(info, data)
manifest = {name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "method": "stored" if method == zipfile.ZIP_STORED else "deflate"}
            for name, (data, method) in members.items()}
with open(os.path.join(here, "manifest.json"), "w") as out:
    json.dump(manifest, out, indent=1, sort_keys=True)
    out.write("\n")
