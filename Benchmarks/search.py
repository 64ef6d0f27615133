"""Gallery search, this package against faiss, hnswlib and usearch, on identical data.

Data: `identities` × `samples` unit vectors of 512 floats around random unit centres, the
noise scaled so that two samples of one identity are at l2 ≈ 0.75 and of two identities at
≈ 1.37 (FaceNet-512 embeddings look like this), plus `queries` fresh samples of random
identities. Written once as raw float32 (and JSON lines for the end-to-end row) under
Benchmarks/.search-data/, then fed to every engine in this one run.

Rows (one query per call, one thread, unless said):
  exact      faiss IndexFlatIP vs `facenet bench-search` (one query per call; 1,000 per call)
  HNSW       hnswlib / usearch / ours at M=16, efConstruction=200: recall@10 and QPS per ef
  build      hnswlib (1 and 2 threads), faiss HNSW M=32 efC=40, ours
  end to end `facenet gallery import` of the JSON lines + `facenet find --embeddings -k 10 --ann`
             (two processes) vs hnswlib build + save + load + the single queries
Run through Benchmarks/search.sh, which makes the venv and builds facenet in release.
"""
import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def make_data(identities, samples, queries, dim, seed):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((identities, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    # noise σ per component: same-identity l2 ≈ σ√(2d)/√(1 + σ²d) = 0.75 at d = 512
    sigma = 0.0277
    vectors = np.repeat(centres, samples, axis=0) + sigma * rng.standard_normal((identities * samples, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    who = rng.integers(0, identities, queries)
    q = centres[who] + sigma * rng.standard_normal((queries, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    same = np.linalg.norm(vectors[0] - vectors[1])
    other = np.linalg.norm(vectors[0] - vectors[samples])
    return vectors, q, float(same), float(other)


def write_jsonl(path, vectors, samples, with_identity=True):
    with open(path, "w") as f:
        for i, v in enumerate(vectors):
            values = ", ".join(np.format_float_positional(x, unique=True, trim="-") for x in v.tolist())
            if with_identity:
                f.write('{"identity": "id%d", "file": "id%d/%d.jpg", "embedding": [%s]}\n' % (i // samples, i // samples, i % samples, values))
            else:
                f.write('{"embedding": [%s]}\n' % values)


def recall(found, truth):
    hits = sum(len(set(f) & set(t)) for f, t in zip(found, truth))
    return hits / sum(len(t) for t in truth)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--facenet", required=True, help="the facenet binary (release)")
    ap.add_argument("--identities", type=int, default=10000)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--efs", default="16,32,48,64,96,128")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip-end-to-end", action="store_true")
    ap.add_argument("--exact-only", action="store_true", help="only the exact rows (no HNSW, no end to end)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="time faiss exact and ours this many times in turn and report the medians (default 1)")
    ap.add_argument("--compare-kernels", action="store_true", help="also time every exact kernel combination of ours")
    ap.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    args = ap.parse_args()
    efs = [int(x) for x in args.efs.split(",")]
    dim, k = 512, args.k
    report = {"cpu": cpu_name(), "cores": os.cpu_count(), "n": args.identities * args.samples, "queries": args.queries, "k": k}
    print("CPU: %s, %d cores" % (report["cpu"], report["cores"]))

    data = os.path.join(HERE, ".search-data", "n%d_q%d_s%d" % (report["n"], args.queries, args.seed))
    os.makedirs(data, exist_ok=True)
    vpath, qpath = os.path.join(data, "vectors.f32"), os.path.join(data, "queries.f32")
    if not os.path.exists(qpath):
        vectors, queries, same, other = make_data(args.identities, args.samples, args.queries, dim, args.seed)
        vectors.tofile(vpath)
        queries.tofile(qpath)
        write_jsonl(os.path.join(data, "faces.jsonl"), vectors, args.samples)
        write_jsonl(os.path.join(data, "queries.jsonl"), queries, 1, with_identity=False)
        with open(os.path.join(data, "stats.json"), "w") as f:
            json.dump({"same": same, "other": other}, f)
    vectors = np.fromfile(vpath, dtype=np.float32).reshape(-1, dim)
    queries = np.fromfile(qpath, dtype=np.float32).reshape(-1, dim)
    with open(os.path.join(data, "stats.json")) as f:
        stats = json.load(f)
    print("data: %d vectors, %d queries, %d-d; l2 same identity %.3f, other %.3f (%s)" % (len(vectors), len(queries), dim, stats["same"], stats["other"], data))
    report["l2_same"], report["l2_other"] = stats["same"], stats["other"]

    import faiss
    import hnswlib
    from usearch.index import Index

    # exact: faiss and ours in turn, `repeats` times; the medians are reported
    faiss.omp_set_num_threads(1)
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    truth = [None] * len(queries)
    runs = []
    for repeat in range(max(1, args.repeats)):
        run = {}
        faiss.omp_set_num_threads(1)
        _, t = timed(lambda: [truth.__setitem__(i, flat.search(queries[i:i + 1], k)[1][0].tolist()) for i in range(len(queries))])
        run["faiss_exact_single_qps_1t"] = len(queries) / t
        for threads in (1, 2):
            faiss.omp_set_num_threads(threads)
            _, t = timed(lambda: flat.search(queries, k))
            run["faiss_exact_batched_qps_%dt" % threads] = len(queries) / t
        faiss.omp_set_num_threads(1)

        # ours: exact (and HNSW, the first time unless --exact-only), in its own process
        hnsw = repeat == 0 and not args.exact_only
        cmd = [args.facenet, "bench-search", "--vectors", vpath, "--queries", qpath, "-k", str(k), "--ef", args.efs if hnsw else "",
               "--m", "16", "--ef-construction", "200", "--build-threads", "2", "--json"] + (["--compare-kernels"] if args.compare_kernels else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit("facenet bench-search failed:\n" + p.stderr)
        ours = json.loads(p.stdout.strip().splitlines()[-1])
        sys.stderr.write(p.stderr)
        if repeat == 0:
            report["ours"] = ours
        run.update({"ours_" + key: value for key, value in ours.items() if key.startswith("exact_")})
        runs.append(run)
        print("exact run %d: %s" % (repeat + 1, ", ".join("%s %.1f" % item for item in sorted(run.items()))))
    report["exact_runs"] = runs
    for key in runs[0]:
        median = float(np.median([run[key] for run in runs]))
        if key.startswith("ours_"):
            report["ours"][key[len("ours_"):]] = median
        else:
            report[key] = median
    faiss.omp_set_num_threads(1)
    if args.exact_only:
        print_table(report, [])
        if args.json:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=1, sort_keys=True)
        return

    # hnswlib
    hl = hnswlib.Index(space="ip", dim=dim)
    hl.init_index(max_elements=len(vectors), M=16, ef_construction=200, random_seed=100)
    hl.set_num_threads(1)
    _, report["hnswlib_build_1t_s"] = timed(lambda: hl.add_items(vectors, np.arange(len(vectors))))
    hl2 = hnswlib.Index(space="ip", dim=dim)
    hl2.init_index(max_elements=len(vectors), M=16, ef_construction=200, random_seed=100)
    hl2.set_num_threads(2)
    _, report["hnswlib_build_2t_s"] = timed(lambda: hl2.add_items(vectors, np.arange(len(vectors))))
    del hl2
    hl.set_num_threads(1)
    for ef in efs:
        hl.set_ef(max(ef, k))
        found, t = timed(lambda: [hl.knn_query(queries[i:i + 1], k=k)[0][0].tolist() for i in range(len(queries))])
        report["hnswlib_ef%d_recall" % ef] = recall(found, truth)
        report["hnswlib_ef%d_qps" % ef] = len(queries) / t

    # usearch
    us = Index(ndim=dim, metric="ip", dtype="f32", connectivity=16, expansion_add=200)
    _, report["usearch_build_s"] = timed(lambda: us.add(np.arange(len(vectors)), vectors, threads=1))
    for ef in efs:
        us.expansion_search = max(ef, k)
        found, t = timed(lambda: [us.search(queries[i], k, threads=1).keys.tolist() for i in range(len(queries))])
        report["usearch_ef%d_recall" % ef] = recall(found, truth)
        report["usearch_ef%d_qps" % ef] = len(queries) / t

    # faiss HNSW build (M=32 efC=40, its defaults)
    fh = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
    fh.hnsw.efConstruction = 40
    faiss.omp_set_num_threads(2)
    _, report["faiss_hnsw_build_s"] = timed(lambda: fh.add(vectors))
    faiss.omp_set_num_threads(1)

    # end to end
    if not args.skip_end_to_end:
        with tempfile.TemporaryDirectory() as tmp:
            gallery = os.path.join(tmp, "g.sqlite")
            subprocess.run([args.facenet, "gallery", "create", gallery], check=True, capture_output=True)
            start = time.perf_counter()
            subprocess.run([args.facenet, "gallery", "import", gallery, os.path.join(data, "faces.jsonl")], check=True, capture_output=True)
            imported = time.perf_counter()
            p = subprocess.run([args.facenet, "find", "--embeddings", os.path.join(data, "queries.jsonl"), "--gallery", gallery,
                                "-k", str(k), "--ann", "--json"], capture_output=True, text=True)
            done = time.perf_counter()
            if p.returncode != 0:
                sys.exit("facenet find failed:\n" + p.stderr)
            lines = [json.loads(l) for l in p.stdout.splitlines()]
            # find reports face_id (1-based, in import order) = row + 1
            found = [[m["face_id"] - 1 for m in line["matches"]] for line in lines]
            report["ours_e2e_import_s"] = imported - start
            report["ours_e2e_find_s"] = done - imported
            report["ours_e2e_recall"] = recall(found, truth)
            report["ours_e2e_index"] = lines[0].get("index")
            # hnswlib: build + save + load + single queries
            start = time.perf_counter()
            h = hnswlib.Index(space="ip", dim=dim)
            h.init_index(max_elements=len(vectors), M=16, ef_construction=200, random_seed=100)
            h.set_num_threads(2)
            h.add_items(vectors, np.arange(len(vectors)))
            h.save_index(os.path.join(tmp, "h.bin"))
            del h
            h = hnswlib.Index(space="ip", dim=dim)
            h.load_index(os.path.join(tmp, "h.bin"))
            h.set_ef(64)
            h.set_num_threads(1)
            found = [h.knn_query(queries[i:i + 1], k=k)[0][0].tolist() for i in range(len(queries))]
            report["hnswlib_e2e_s"] = time.perf_counter() - start
            report["hnswlib_e2e_recall"] = recall(found, truth)

    print_table(report, efs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)


def print_table(r, efs):
    o = r["ours"]
    print("\n%-58s %12s %12s %8s" % ("at %d vectors, k %d%s" % (r["n"], r["k"], ", medians of %d runs" % len(r["exact_runs"])
                                                                  if len(r.get("exact_runs", [])) > 1 else ""),
                                        "peer", "ours", "ours/peer"))

    def row(label, peer, ours, unit="QPS"):
        ratio = ours / peer if peer and ours else float("nan")
        print("%-58s %12.1f %12.1f %8.2f  %s" % (label, peer or float("nan"), ours or float("nan"), ratio, unit))
    row("exact, one query per call, 1 thread (faiss IndexFlatIP)", r["faiss_exact_single_qps_1t"], o.get("exact_single_qps_1t"))
    row("exact, one query per call, ours on 2 threads", r["faiss_exact_single_qps_1t"], o.get("exact_single_qps_2t"))
    row("exact, 1,000 queries per call (faiss 1 thread)", r["faiss_exact_batched_qps_1t"], o.get("exact_batched_qps"))
    row("exact, 1,000 queries per call (faiss 2 threads)", r["faiss_exact_batched_qps_2t"], o.get("exact_batched_qps"))
    if "hnsw_build_seconds" not in o:
        return
    for ef in efs:
        print("HNSW ef %-4d recall@%d: hnswlib %.4f  usearch %.4f  ours %.4f" % (
            ef, r["k"], r["hnswlib_ef%d_recall" % ef], r["usearch_ef%d_recall" % ef], o.get("hnsw_ef%d_recall" % ef, float("nan"))))
        row("  QPS vs hnswlib", r["hnswlib_ef%d_qps" % ef], o.get("hnsw_ef%d_qps" % ef))
        row("  QPS vs usearch", r["usearch_ef%d_qps" % ef], o.get("hnsw_ef%d_qps" % ef))
    row("HNSW build, hnswlib 1 thread", r["hnswlib_build_1t_s"], o.get("hnsw_build_seconds"), "s")
    row("HNSW build, hnswlib 2 threads (ours 2 threads)", r["hnswlib_build_2t_s"], o.get("hnsw_parallel_build_seconds"), "s")
    row("HNSW build, usearch 1 thread", r["usearch_build_s"], o.get("hnsw_build_seconds"), "s")
    row("HNSW build, faiss M=32 efC=40, 2 threads", r["faiss_hnsw_build_s"], o.get("hnsw_build_seconds"), "s")
    for ef in efs:
        if "hnsw_parallel_ef%d_recall" % ef in o:
            print("HNSW ef %-4d graph built on 2 threads: recall@%d ours %.4f, %.1f QPS" % (
                ef, r["k"], o["hnsw_parallel_ef%d_recall" % ef], o["hnsw_parallel_ef%d_qps" % ef]))
    if "hnsw_index_bytes" in o:
        print("HNSW index: %.1f MB beside %.1f MB of vectors (%.3f×)" % (
            o["hnsw_index_bytes"] / 1e6, o["vector_bytes"] / 1e6, 1 + o["hnsw_index_bytes"] / o["vector_bytes"]))
    if "ours_e2e_import_s" in r:
        ours = r["ours_e2e_import_s"] + r["ours_e2e_find_s"]
        print("end to end: ours import %.1f s + find %.1f s = %.1f s (recall %.4f, index %s); hnswlib build+save+load+queries %.1f s (recall %.4f)" % (
            r["ours_e2e_import_s"], r["ours_e2e_find_s"], ours, r["ours_e2e_recall"], r["ours_e2e_index"], r["hnswlib_e2e_s"], r["hnswlib_e2e_recall"]))


if __name__ == "__main__":
    main()
