"""Identification on real faces: who is this, among the people of a gallery?

Photos and identities come from the shared reference data (`../shared/faces`): deepface's
photos img1…img25 and its `pairs.csv`, whose positive pairs ("Yes") are joined into
identities (union-find: 9 people, 2 to 8 photos each). Photos that no positive pair names
(img26…img30, img11_reflection) have no known identity and are left out.

Everything goes through the `facenet` command-line tool, as a user would run it:

1. `gallery add` every labelled photo into one gallery (detect → align → embed), each with
   its identity; `gallery export` gives the embeddings back.
2. Closed set, enrol a few: per person, the first max(1, min(3, n // 2)) photos (by
   number) are enrolled (`gallery import` of their exported lines), the others are queries
   (`find --embeddings -k 1 --exact`). Rank-1 accuracy: the nearest face is the right person.
3. Closed set, leave one out: every photo is a query against a gallery of all the others
   (each person keeps at least one other photo).
4. Open set, strangers: for each person, a gallery without any of their photos; each of
   their photos is a query, and it is rejected when the nearest distance is above the
   threshold `find` reports (the weight set's own for euclidean_l2 unless --threshold).
   Also: how many enrolled queries of step 2 would be wrongly rejected at that threshold.

Usage: python3 Benchmarks/identify.py --facenet PATH [--shared DIR] [--json FILE]
(Benchmarks/identify.sh builds facenet in release and runs this.)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def identities_from_pairs(pairs_path):
    parent = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    with open(pairs_path, newline="") as f:
        lines = [line.strip() for line in f if line.strip()]
    for line in lines[1:]:
        a, b, decision = line.split(",")
        find(a), find(b)
        if decision.strip().lower() == "yes":
            parent[find(a)] = find(b)
    groups = {}
    for photo in parent:
        groups.setdefault(find(photo), []).append(photo)

    def number(name):
        m = re.search(r"(\d+)", name)
        return int(m.group(1)) if m else 0

    people = [sorted(g, key=number) for g in groups.values() if len(g) >= 2]
    people.sort(key=lambda g: number(g[0]))
    return {"person%d" % (i + 1): g for i, g in enumerate(people)}


def run(cmd, **kw):
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if result.returncode != 0:
        sys.exit("identify.py: %s failed (exit %d):\n%s" % (" ".join(cmd), result.returncode, result.stderr))
    return result.stdout


def import_lines(facenet, directory, name, lines):
    gallery = os.path.join(directory, name + ".sqlite")
    source = os.path.join(directory, name + ".jsonl")
    with open(source, "w") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    run([facenet, "gallery", "create", gallery])
    run([facenet, "gallery", "import", gallery, source])
    return gallery


def nearest(facenet, gallery, directory, name, queries, threshold):
    source = os.path.join(directory, name + "-queries.jsonl")
    with open(source, "w") as f:
        f.writelines(json.dumps({"embedding": q["embedding"]}) + "\n" for q in queries)
    cmd = [facenet, "find", "--embeddings", source, "--gallery", gallery, "-k", "1", "--exact", "--json"]
    if threshold is not None:
        cmd += ["--threshold", str(threshold)]
    out = [json.loads(line) for line in run(cmd).splitlines()]
    if len(out) != len(queries):
        sys.exit("identify.py: find gave %d lines for %d queries" % (len(out), len(queries)))
    return [o["matches"][0] for o in out]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facenet", required=True)
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    ap.add_argument("--threshold", type=float, help="instead of the weight set's own")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    faces = os.path.join(args.shared, "faces")
    pairs = os.path.join(faces, "pairs.csv")
    if not os.path.exists(pairs):
        sys.exit("identify.py: %s not found (the shared reference data; --shared DIR)" % pairs)
    people = identities_from_pairs(pairs)
    photo_person = {p: who for who, photos in people.items() for p in photos}

    with tempfile.TemporaryDirectory(prefix="facenet-identify-") as tmp:
        gallery = os.path.join(tmp, "all.sqlite")
        run([args.facenet, "gallery", "create", gallery])
        start = time.perf_counter()
        for who, photos in people.items():
            run([args.facenet, "gallery", "add", gallery, "--identity", who]
                + [os.path.join(faces, "photos", p) for p in photos])
        add_seconds = time.perf_counter() - start
        exported = os.path.join(tmp, "all.jsonl")
        run([args.facenet, "gallery", "export", gallery, exported])
        with open(exported) as f:
            rows = [json.loads(line) for line in f]
        by_photo = {}
        for row in rows:
            by_photo[os.path.basename(row["file"])] = row
        missing = sorted(set(photo_person) - set(by_photo))

        # 2. enrol a few per person, query the rest
        enrolled, probes = [], []
        for who, photos in people.items():
            have = [p for p in photos if p in by_photo]
            n = max(1, min(3, len(have) // 2))
            enrolled += [by_photo[p] for p in have[:n]]
            probes += [(p, by_photo[p]) for p in have[n:]]
        g = import_lines(args.facenet, tmp, "enrol", [{"identity": r["identity"], "file": r["file"],
                                                      "embedding": r["embedding"]} for r in enrolled])
        found = nearest(args.facenet, g, tmp, "enrol", [r for _, r in probes], args.threshold)
        threshold = found[0]["threshold"] if found else None
        rank1 = sum(m["identity"] == photo_person[p] for (p, _), m in zip(probes, found))
        false_rejects = sum(m["distance"] > threshold for m in found)
        wrong = [(p, m["identity"], round(m["distance"], 4)) for (p, _), m in zip(probes, found)
                 if m["identity"] != photo_person[p]]

        # 3. leave one out
        loo_hits, loo_total, loo_wrong = 0, 0, []
        for p, row in by_photo.items():
            others = [r for q, r in by_photo.items() if q != p]
            if not any(r["identity"] == row["identity"] for r in others):
                continue
            name = "loo-" + os.path.splitext(p)[0]
            g = import_lines(args.facenet, tmp, name, others)
            m = nearest(args.facenet, g, tmp, name, [row], args.threshold)[0]
            loo_total += 1
            if m["identity"] == row["identity"]:
                loo_hits += 1
            else:
                loo_wrong.append((p, m["identity"], round(m["distance"], 4)))

        # 4. strangers
        rejected, strangers, accepted, stranger_distances = 0, 0, [], []
        for who in people:
            others = [r for r in by_photo.values() if r["identity"] != who]
            theirs = [r for r in by_photo.values() if r["identity"] == who]
            g = import_lines(args.facenet, tmp, "open-" + who, others)
            for r, m in zip(theirs, nearest(args.facenet, g, tmp, "open-" + who, theirs, args.threshold)):
                strangers += 1
                stranger_distances.append(m["distance"])
                if m["distance"] > m["threshold"]:
                    rejected += 1
                else:
                    accepted.append((os.path.basename(r["file"]), m["identity"], round(m["distance"], 4)))

    result = {
        "people": len(people), "labelled_photos": len(photo_person), "faces_stored": len(rows),
        "photos_without_a_face": missing, "add_seconds": round(add_seconds, 2),
        "threshold": threshold,
        "enrol_few": {"enrolled": len(enrolled), "queries": len(probes), "rank1": rank1,
                      "rank1_accuracy": rank1 / len(probes) if probes else None,
                      "wrongly_rejected_at_threshold": false_rejects, "wrong": wrong},
        "leave_one_out": {"queries": loo_total, "rank1": loo_hits,
                          "rank1_accuracy": loo_hits / loo_total if loo_total else None, "wrong": loo_wrong},
        "strangers": {"queries": strangers, "rejected": rejected, "accepted": accepted,
                      "nearest_distance_min": min(stranger_distances, default=None)},
        "genuine_nearest_distance_max": max((m["distance"] for m in found), default=None),
    }
    print("people %d, labelled photos %d, faces stored %d%s" % (
        len(people), len(photo_person), len(rows), (", no face: " + " ".join(missing)) if missing else ""))
    print("threshold (euclidean_l2): %s" % threshold)
    print("enrol a few: %d enrolled, %d queries, rank-1 %d/%d = %.1f%%, wrongly rejected at the threshold %d %s" % (
        len(enrolled), len(probes), rank1, len(probes), 100 * rank1 / max(1, len(probes)), false_rejects, wrong or ""))
    print("leave one out: rank-1 %d/%d = %.1f%% %s" % (loo_hits, loo_total, 100 * loo_hits / max(1, loo_total), loo_wrong or ""))
    print("strangers: %d/%d rejected %s" % (rejected, strangers, accepted or ""))
    print("margins: the farthest enrolled query's nearest distance %.4f; the closest stranger's %.4f" % (
        result["genuine_nearest_distance_max"], result["strangers"]["nearest_distance_min"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
