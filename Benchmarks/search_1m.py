"""Gallery search at 1,000,000 faces: ours against faiss (exact) and hnswlib (HNSW), one run.

search.py's data at 10× the size (100,000 identities × 10 samples, 512-d; make it with
`search_1m.py --make-data`, 2 GB of raw float32, no JSON lines). usearch and faiss's HNSW are
left out, and hnswlib is built once with 2 threads, to keep the run near half an hour on 2
cores; the end-to-end import is left out too (1M JSON lines are 11 GB of text).

Rows:
  exact   faiss IndexFlatIP, one query per call on 1 thread (the first --single queries) and
          all queries in one call (1 and 2 threads), against `facenet bench-search` (its own
          process: exact one query per call and batched, then HNSW unless --exact-only)
  HNSW    M=16, efConstruction=200: our build vs hnswlib's (2 threads), recall@10 and QPS per ef

Usage: Benchmarks/search-1m.sh [--exact-only] [--efs 32,64,128] [--single 200] [--json FILE]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

from search import cpu_name, make_data, recall, timed

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facenet", required=True)
    ap.add_argument("--make-data", action="store_true", help="(re)write the 1M vectors and 1,000 queries first")
    ap.add_argument("--efs", default="32,64,128")
    ap.add_argument("--single", type=int, default=200, help="queries timed one per call (exact)")
    ap.add_argument("--exact-only", action="store_true")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    dim, k = 512, args.k
    efs = [int(x) for x in args.efs.split(",") if x]
    data = os.path.join(HERE, ".search-data", "n1000000_q1000_s1")
    vpath, qpath = os.path.join(data, "vectors.f32"), os.path.join(data, "queries.f32")
    if args.make_data or not os.path.exists(qpath):
        os.makedirs(data, exist_ok=True)
        vectors, queries, same, other = make_data(100000, 10, 1000, dim, 1)
        vectors.tofile(vpath)
        queries.tofile(qpath)
        with open(os.path.join(data, "stats.json"), "w") as f:
            json.dump({"same": same, "other": other}, f)
        del vectors, queries
    vectors = np.fromfile(vpath, dtype=np.float32).reshape(-1, dim)
    queries = np.fromfile(qpath, dtype=np.float32).reshape(-1, dim)
    report = {"cpu": cpu_name(), "cores": os.cpu_count(), "n": len(vectors), "queries": len(queries), "k": k}
    print("CPU: %s, %d cores; %d vectors, %d queries" % (report["cpu"], report["cores"], len(vectors), len(queries)), flush=True)

    import faiss
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    faiss.omp_set_num_threads(1)
    single = queries[:args.single]
    _, t = timed(lambda: [flat.search(single[i:i + 1], k) for i in range(len(single))])
    report["faiss_exact_single_ms_1t"] = 1000 * t / len(single)
    truth = None
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        (_, found), t = timed(lambda: flat.search(queries, k))
        report["faiss_exact_batched_qps_%dt" % threads] = len(queries) / t
        truth = [row.tolist() for row in found]
    del flat
    print("faiss exact: %.1f ms per single query (1 thread), batched %.1f QPS (1 thread), %.1f (2)" % (
        report["faiss_exact_single_ms_1t"], report["faiss_exact_batched_qps_1t"], report["faiss_exact_batched_qps_2t"]), flush=True)

    cmd = [args.facenet, "bench-search", "--vectors", vpath, "--queries", qpath, "-k", str(k),
           "--ef", "" if args.exact_only else args.efs, "--m", "16", "--ef-construction", "200", "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("facenet bench-search failed:\n" + p.stderr)
    sys.stderr.write(p.stderr)
    report["ours"] = json.loads(p.stdout.strip().splitlines()[-1])
    print("ours: " + json.dumps(report["ours"]), flush=True)

    if not args.exact_only:
        import hnswlib
        h = hnswlib.Index(space="ip", dim=dim)
        h.init_index(max_elements=len(vectors), M=16, ef_construction=200, random_seed=100)
        h.set_num_threads(2)
        _, report["hnswlib_build_2t_s"] = timed(lambda: h.add_items(vectors, np.arange(len(vectors))))
        h.set_num_threads(1)
        for ef in efs:
            h.set_ef(max(ef, k))
            found, t = timed(lambda: [h.knn_query(queries[i:i + 1], k=k)[0][0].tolist() for i in range(len(queries))])
            report["hnswlib_ef%d_recall" % ef] = recall(found, truth)
            report["hnswlib_ef%d_qps" % ef] = len(queries) / t
            print("hnswlib ef %d: recall %.4f, %.0f QPS" % (ef, report["hnswlib_ef%d_recall" % ef], report["hnswlib_ef%d_qps" % ef]), flush=True)
        print("hnswlib build (2 threads): %.1f s" % report["hnswlib_build_2t_s"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
