"""A PostgreSQL gallery at scale: `facenet gallery import` into PostgreSQL + pgvector, then
`facenet find --embeddings --ann --ef E`, against the same SQL sent straight to the server.

The data are search.py's (Benchmarks/.search-data/n…_q…_s…/: vectors.f32 and faces.jsonl,
queries.f32 and queries.jsonl; run search.sh once to make them). The gallery's table has
pgvector's HNSW index with m 16, ef_construction 64 (`vector_ip_ops`), as the anchor.

Rows:
  import     `facenet gallery import URL faces.jsonl` (the index is kept up to date while rows arrive)
  ours       `facenet find --embeddings queries.jsonl --gallery URL -k 10 --ann --ef E --json`:
             recall@10 against exact search (numpy) and queries per second, one query at a time
  psycopg    the same k-NN SQL (`SET hnsw.ef_search = E; SELECT id … ORDER BY embedding <#> q LIMIT k`)
             sent by psycopg on one connection, one query at a time, on the same table

Usage: Benchmarks/search-postgres.sh [--url postgres://…] [--efs 40,100] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def recall(found, truth):
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth))
    return hits / sum(len(t) for t in truth)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facenet", required=True)
    ap.add_argument("--url", required=True, help="postgres://user@host:port/db (a gallery named bench is made in it)")
    ap.add_argument("--data", default=os.path.join(HERE, ".search-data", "n100000_q1000_s1"))
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--efs", default="40,100")
    ap.add_argument("--gallery", default="bench")
    ap.add_argument("--keep", action="store_true", help="reuse the gallery when it exists (skip the import)")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    k, dim = args.k, 512
    efs = [int(x) for x in args.efs.split(",")]
    vectors = np.fromfile(os.path.join(args.data, "vectors.f32"), dtype=np.float32).reshape(-1, dim)
    queries = np.fromfile(os.path.join(args.data, "queries.f32"), dtype=np.float32).reshape(-1, dim)
    scores = queries @ vectors.T
    truth = [list(np.argsort(-row, kind="stable")[:k]) for row in scores]
    del scores
    url = args.url + ("&" if "?" in args.url else "?") + "gallery=" + args.gallery
    table = "facenet_gallery_" + args.gallery
    report = {"n": len(vectors), "queries": len(queries), "k": k}
    with open("/proc/cpuinfo") as f:
        report["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "unknown")
    print("CPU: %s; %d vectors, %d queries" % (report["cpu"], len(vectors), len(queries)))

    import psycopg
    conninfo = args.url.split("?")[0]
    with psycopg.connect(conninfo, autocommit=True) as db:
        exists = db.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
        if exists and not args.keep:
            db.execute("DROP TABLE " + table)
            db.execute("DELETE FROM facenet_galleries WHERE name = %s", (args.gallery,))
            exists = False
    if not exists:
        subprocess.run([args.facenet, "gallery", "create", url], check=True, capture_output=True)
        start = time.perf_counter()
        p = subprocess.run([args.facenet, "gallery", "import", url, os.path.join(args.data, "faces.jsonl")],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("import failed:\n" + p.stderr)
        report["import_s"] = time.perf_counter() - start
        print("import of %d faces: %.1f s" % (len(vectors), report["import_s"]))

    # ids are 1-based in import order: row = id - 1
    literals = ["[" + ",".join(repr(float(x)) for x in q) + "]" for q in queries]
    for ef in efs:
        start = time.perf_counter()
        p = subprocess.run([args.facenet, "find", "--embeddings", os.path.join(args.data, "queries.jsonl"), "--gallery", url,
                            "-k", str(k), "--ann", "--ef", str(ef), "--json"], capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if p.returncode != 0:
            sys.exit("find failed:\n" + p.stderr)
        lines = [json.loads(l) for l in p.stdout.splitlines()]
        found = [[m["face_id"] - 1 for m in line["matches"]] for line in lines]
        report["ours_ef%d_recall" % ef] = recall(found, truth)
        report["ours_ef%d_qps_process" % ef] = len(queries) / seconds
        with psycopg.connect(conninfo, autocommit=True) as db:
            db.execute("SET hnsw.ef_search = %d" % ef)
            db.execute("SET enable_seqscan = off")
            sql = "SELECT id FROM " + table + " ORDER BY embedding <#> %s::vector LIMIT " + str(k)
            db.execute(sql, (literals[0],)).fetchall()  # warm
            start = time.perf_counter()
            raw = [[r[0] - 1 for r in db.execute(sql, (q,)).fetchall()] for q in literals]
            seconds_raw = time.perf_counter() - start
        report["psycopg_ef%d_recall" % ef] = recall(raw, truth)
        report["psycopg_ef%d_qps" % ef] = len(queries) / seconds_raw
        print("ef %d: ours recall@%d %.4f, %.0f QPS (the whole process: start, connect, parse, 1,000 queries)"
              " | psycopg recall %.4f, %.0f QPS" % (ef, k, report["ours_ef%d_recall" % ef], report["ours_ef%d_qps_process" % ef],
                                                   report["psycopg_ef%d_recall" % ef], report["psycopg_ef%d_qps" % ef]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
