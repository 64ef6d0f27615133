#!/usr/bin/env python3
"""Time this engine against its float32 peers on FaceNet-512 with the real CASIA weights.

Run it through Benchmarks/peers.sh, which makes the virtual environment this script
needs (Benchmarks/requirements-peers.txt) and then runs `python peers.py ARGS`.

What happens, in order:
  1. the engine is built (`swift build -c release --product facenet`, retried while
     the sources are being edited), in the background, while
  2. a TensorFlow subprocess ("prepare") builds the Keras FaceNet-512 with
     Scripts/make_fixtures.py's builder, loads the weights, checks it against the
     shared golden manifest, converts it to ONNX with tf2onnx (opset 17; cached in
     Benchmarks/.cache/) and writes TensorFlow's embeddings of the benchmark input;
  3. each system is timed in its own fresh process, one after the other: this engine
     (`facenet bench` per batch size; `facenet run` once for its embeddings), ONNX
     Runtime, OpenVINO, TensorFlow with oneDNN (its default) and TensorFlow with
     oneDNN off (plain Eigen kernels). Peers make `warmup` untimed calls, then `runs`
     timed calls; a round's figure is the median call time divided by the batch size.
     That is repeated for `rounds` rounds (fresh processes each time). Before each step
     the script waits (up to --wait-idle seconds) for the other processes on the machine
     to leave the CPU idle, and it records how much CPU they used while each system ran;
     the figure reported for a system is the median over its quiet rounds, those with
     at most 5 points more such use than its quietest (--aggregate quiet, for a shared
     machine), or the median over all rounds (--aggregate median);
  4. a table, the engine/peer ratios and the machine are printed (and, with
     --json FILE, written as JSON).

The input is one seeded batch, uniform in [-1, 1), NHWC float32; batch 1 is its
first image. Every system's raw embeddings (Bottleneck_BatchNorm) of that input are
compared with TensorFlow's, so the timings are of the same numbers.

The environment is passed unchanged to every process (OPENBLAS_CORETYPE in
particular is neither set nor unset here), except that TensorFlow processes get
TF_ENABLE_ONEDNN_OPTS=1 ("tf", and the reference embeddings) or 0 ("tf-eigen"), and
the quiet defaults TF_CPP_MIN_LOG_LEVEL=2 and CUDA_VISIBLE_DEVICES="" unless set.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = os.path.join(os.path.dirname(REPO), "shared")
IMAGE_SHAPE = (160, 160, 3)
OPSET = 17
PEERS = ("engine", "ort", "openvino", "tf", "tf-eigen")
LABELS = {
    "engine": "this engine (facenet bench)",
    "ort": "ONNX Runtime, CPU EP",
    "openvino": "OpenVINO CPU, f32",
    "tf": "TensorFlow, tf.function, oneDNN",
    "tf-eigen": "TensorFlow, tf.function, oneDNN off",
}
SHORT = {"engine": "engine", "ort": "ORT", "openvino": "OpenVINO", "tf": "TF (oneDNN)",
         "tf-eigen": "TF (oneDNN off)"}
# TF_ENABLE_ONEDNN_OPTS for the TensorFlow processes. oneDNN is TensorFlow's default
# on x86; on CPUs without AVX-512 its batch-1 convolutions can be far slower than
# TensorFlow's own Eigen kernels, so both are timed.
TF_ONEDNN = {"prepare": "1", "tf": "1", "tf-eigen": "0"}
# Raw embeddings reach |x| ~ 4-5; the shared golden tolerance for such outputs is
# 1e-3 * max(1, max|ref|). Peers that compute the same float32 graph agree to ~1e-5.
DIFF_WARN = 1e-4


# ----------------------------------------------------------------------------
# Small helpers (orchestrator and workers)
# ----------------------------------------------------------------------------

def log(msg):
    print(msg, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_f32(path, shape):
    import numpy as np
    return np.fromfile(path, dtype="<f4").reshape(shape)


def time_calls(fn, x, warmup, runs):
    """Call fn(x) warmup times untimed, then runs times timed; seconds per call."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t0)
    return times


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def summarize(times, batch):
    """ms/image: median (and min, max) call time over the batch size."""
    s = sorted(times)
    return {
        "ms_per_image": 1e3 * median(s) / batch,
        "min_ms_per_image": 1e3 * s[0] / batch,
        "max_ms_per_image": 1e3 * s[-1] / batch,
        "runs": len(s),
        "times_ms": [round(1e3 * t, 4) for t in times],
    }


def max_abs_diff(a, b):
    import numpy as np
    if a.shape != b.shape:
        raise ValueError("shape %s vs %s" % (a.shape, b.shape))
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_features():
    """The SIMD features that decide which kernels runtimes pick."""
    wanted = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16")
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return [w for w in wanted if w in flags]
    except OSError:
        pass
    return []


def cpu_family_model():
    out = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key = line.split(":", 1)[0].strip()
                if key in ("vendor_id", "cpu family", "model") and key not in out:
                    out[key] = line.split(":", 1)[1].strip()
                if len(out) == 3:
                    break
    except OSError:
        pass
    return out


class CPUUse:
    """Share of the machine's CPU time used by processes other than ours during a step.

    Read from /proc/stat (all CPUs) minus the CPU time of our waited-for children
    (getrusage); `steal` is time the hypervisor gave to other guests.
    """

    def __init__(self):
        self.t0 = time.monotonic()
        self.stat0 = self._stat()
        self.child0 = self._children()

    @staticmethod
    def _stat():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        v += [0] * (10 - len(v))
        user, nice, system, idle, iowait, irq, softirq, steal = v[:8]
        busy = user + nice + system + irq + softirq
        return busy, steal

    @staticmethod
    def others_share(seconds):
        """Share of all CPUs busy over the next `seconds` (we only sleep meanwhile)."""
        a = CPUUse._stat()
        time.sleep(seconds)
        b = CPUUse._stat()
        if a is None or b is None:
            return 0.0
        tick = float(os.sysconf("SC_CLK_TCK"))
        return (b[0] - a[0]) / tick / (seconds * (os.cpu_count() or 1))

    @staticmethod
    def _children():
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    def finish(self):
        wall = time.monotonic() - self.t0
        stat1 = self._stat()
        if self.stat0 is None or stat1 is None or wall <= 0:
            return {"others_cpu": None, "steal": None}
        tick = float(os.sysconf("SC_CLK_TCK"))
        ncpu = os.cpu_count() or 1
        busy = (stat1[0] - self.stat0[0]) / tick
        steal = (stat1[1] - self.stat0[1]) / tick
        ours = self._children() - self.child0
        return {"others_cpu": max(0.0, busy - ours) / (wall * ncpu),
                "steal": steal / (wall * ncpu)}


# ----------------------------------------------------------------------------
# Workers: each runs in its own process (python peers.py --worker NAME --config FILE)
# ----------------------------------------------------------------------------

def wait_idle(max_wait, threshold=0.15, window=2.0):
    """Wait until others use < threshold of the CPUs over a window (at most max_wait s).

    Returns (seconds waited, share seen last)."""
    t0 = time.monotonic()
    share = 0.0
    while True:
        share = CPUUse.others_share(window)
        if share < threshold or time.monotonic() - t0 >= max_wait:
            return time.monotonic() - t0, share


def tf_environment():
    """Quiet TensorFlow defaults; set before importing TensorFlow or make_fixtures.

    make_fixtures.py sets TF_ENABLE_ONEDNN_OPTS=0 by setdefault (for reproducible
    fixtures); a benchmark wants TensorFlow as users run it, so TensorFlow's own
    default (oneDNN on) is made explicit here unless the caller chose.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")  # the orchestrator sets it explicitly


def build_keras_facenet(weights):
    """The tf_keras FaceNet-512 with Scripts/make_fixtures.py's builder, weights loaded."""
    tf_environment()
    sys.path.insert(0, os.path.join(REPO, "Scripts"))
    import make_fixtures  # noqa: E402  (its builder names every layer as FaceNet does)
    model, _ = make_fixtures.build_tfkeras(make_fixtures.Arch.full(512))
    model.load_weights(weights)
    return model, make_fixtures


def worker_prepare(cfg):
    import numpy as np
    t0 = time.time()
    model, mf = build_keras_facenet(cfg["weights"])
    import tensorflow as tf
    import tf_keras
    import tf2onnx
    import onnx
    res = {
        "versions": {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__,
                     "tf2onnx": tf2onnx.__version__, "onnx": onnx.__version__,
                     "numpy": np.__version__},
        "build_seconds": time.time() - t0,
        "params": int(model.count_params()),
    }
    if model.output_shape[-1] != 512:
        raise RuntimeError("model output %s, expected 512" % (model.output_shape,))

    with open(cfg["topology"], encoding="utf8") as f:
        _, json_params, flops = mf.analyse_keras_json(json.load(f))
    res["flops_per_image"] = int(flops)
    res["topology_params"] = int(json_params)

    # Golden check: Keras with these weights gives the reference embeddings.
    man_path = cfg.get("manifest")
    if man_path and os.path.exists(man_path):
        with open(man_path, encoding="utf8") as f:
            man = json.load(f)
        base = os.path.dirname(man_path)
        x = read_f32(os.path.join(base, man["input"]["file"]), man["input"]["shape"])
        out = next(o for o in man["outputs"] if o["layer"] == "Bottleneck_BatchNorm")
        ref = read_f32(os.path.join(base, out["file"]), out["shape"])
        y = np.asarray(model(x, training=False))
        d = max_abs_diff(y, ref)
        res["manifest"] = {"path": man_path, "images": int(x.shape[0]), "max_abs_diff": d,
                           "max_abs_ref": float(np.abs(ref).max())}
        if d > 1e-3 * max(1.0, float(np.abs(ref).max())):
            raise RuntimeError("Keras with %s is off the golden manifest: max abs diff %.3g"
                               % (cfg["weights"], d))
    else:
        res["manifest"] = None

    # TensorFlow's embeddings of the benchmark inputs: the numbers everyone is compared with.
    for b in cfg["batches"]:
        x = read_f32(cfg["inputs"][str(b)], (b,) + IMAGE_SHAPE)
        y = np.asarray(model(x, training=False), dtype=np.float32)
        y.astype("<f4").tofile(cfg["refs"][str(b)])

    # ONNX graph (cached).
    onnx_path = cfg["onnx"]
    if os.path.exists(onnx_path):
        res["onnx_cached"] = True
    else:
        t1 = time.time()
        spec = (tf.TensorSpec((None,) + IMAGE_SHAPE, tf.float32, name="input"),)

        @tf.function(input_signature=spec)
        def forward(x):
            return model(x, training=False)

        tmp = onnx_path + ".tmp%d" % os.getpid()
        tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET, output_path=tmp)
        onnx.checker.check_model(tmp)
        os.replace(tmp, onnx_path)
        res["onnx_cached"] = False
        res["onnx_seconds"] = time.time() - t1
    res["onnx_bytes"] = os.path.getsize(onnx_path)
    return res


def compare_to_refs(cfg, outputs):
    import numpy as np
    diffs = {}
    for b, y in outputs.items():
        ref = read_f32(cfg["refs"][str(b)], (b, 512))
        diffs[str(b)] = max_abs_diff(np.asarray(y).reshape(ref.shape), ref)
    return diffs


def worker_ort(cfg):
    import numpy as np
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = cfg["threads"]
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    t0 = time.time()
    sess = ort.InferenceSession(cfg["onnx"], so, providers=["CPUExecutionProvider"])
    load = time.time() - t0
    name = sess.get_inputs()[0].name
    res = {"versions": {"onnxruntime": ort.__version__},
           "settings": "CPUExecutionProvider, intra-op %d, inter-op 1, sequential, ORT_ENABLE_ALL"
                       % cfg["threads"],
           "providers": sess.get_providers(), "load_seconds": load, "batches": {}}
    outputs = {}
    for b, runs in zip(cfg["batches"], cfg["runs"]):
        x = np.ascontiguousarray(read_f32(cfg["inputs"][str(b)], (b,) + IMAGE_SHAPE))
        outputs[b] = sess.run(None, {name: x})[0]
        times = time_calls(lambda v: sess.run(None, {name: v}), x, cfg["warmup"], runs)
        res["batches"][str(b)] = summarize(times, b)
    res["max_abs_diff"] = compare_to_refs(cfg, outputs)
    return res


def worker_openvino(cfg):
    import numpy as np
    import openvino as ov
    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
              "INFERENCE_NUM_THREADS": cfg["threads"]}
    res = {"versions": {"openvino": ov.get_version()},
           "settings": "CPU, INFERENCE_PRECISION_HINT=f32, PERFORMANCE_HINT=LATENCY, "
                       "INFERENCE_NUM_THREADS=%d, static batch (model.reshape) per batch size"
                       % cfg["threads"],
           "device": core.get_property("CPU", "FULL_DEVICE_NAME"), "batches": {}}
    outputs = {}
    compiled_props = {}
    for b, runs in zip(cfg["batches"], cfg["runs"]):
        model = core.read_model(cfg["onnx"])
        model.reshape({model.inputs[0].get_any_name(): [b, *IMAGE_SHAPE]})
        compiled = core.compile_model(model, "CPU", config)
        compiled_props[str(b)] = {
            k: str(compiled.get_property(k))
            for k in ("INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "INFERENCE_NUM_THREADS",
                      "NUM_STREAMS")}
        req = compiled.create_infer_request()
        out = compiled.outputs[0]
        x = np.ascontiguousarray(read_f32(cfg["inputs"][str(b)], (b,) + IMAGE_SHAPE))
        outputs[b] = np.array(req.infer({0: x})[out])
        times = time_calls(lambda v: req.infer({0: v})[out], x, cfg["warmup"], runs)
        res["batches"][str(b)] = summarize(times, b)
    res["compiled_properties"] = compiled_props
    res["max_abs_diff"] = compare_to_refs(cfg, outputs)
    return res


def worker_tf(cfg):
    tf_environment()
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(cfg["threads"])
    model, _ = build_keras_facenet(cfg["weights"])
    import tf_keras

    @tf.function
    def forward(x):
        return model(x, training=False)

    res = {"versions": {"tensorflow": tf.__version__, "tf_keras": tf_keras.__version__},
           "settings": "tf_keras model called in a tf.function (one trace per batch size), "
                       "TF_ENABLE_ONEDNN_OPTS=%s, intra-op %s, inter-op %s (0: TensorFlow's default, "
                       "one per core)"
                       % (os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
                          tf.config.threading.get_intra_op_parallelism_threads(),
                          tf.config.threading.get_inter_op_parallelism_threads()),
           "batches": {}}
    outputs = {}
    for b, runs in zip(cfg["batches"], cfg["runs"]):
        x = tf.constant(read_f32(cfg["inputs"][str(b)], (b,) + IMAGE_SHAPE))
        outputs[b] = forward(x).numpy()
        times = time_calls(lambda v: forward(v).numpy(), x, cfg["warmup"], runs)
        res["batches"][str(b)] = summarize(times, b)
    res["max_abs_diff"] = compare_to_refs(cfg, outputs)
    return res


WORKERS = {"prepare": worker_prepare, "ort": worker_ort, "openvino": worker_openvino,
           "tf": worker_tf, "tf-eigen": worker_tf}


def run_worker(name, config_path):
    with open(config_path, encoding="utf8") as f:
        cfg = json.load(f)
    result = WORKERS[name](cfg)
    with open(cfg["result"], "w", encoding="utf8") as f:
        json.dump(result, f, indent=1)
    return 0


# ----------------------------------------------------------------------------
# Orchestrator
# ----------------------------------------------------------------------------

def default_weights():
    for p in (os.path.join(REPO, "Weights", "facenet512_casia.h5"),
              os.path.join(SHARED, "models", "facenet512_casia.h5")):
        if os.path.exists(p):
            return p
    return None


def tail(path, n=25):
    try:
        with open(path, encoding="utf8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + l for l in lines[-n:])


def spawn_worker(name, cfg, cache, timeout):
    """Run one worker in its own Python process; its result dict, or raise."""
    cfg = dict(cfg)
    cfg["result"] = os.path.join(cache, "result_%s.json" % name)
    cfg_path = os.path.join(cache, "config_%s.json" % name)
    log_path = os.path.join(cache, "logs", "%s.log" % name)
    with open(cfg_path, "w", encoding="utf8") as f:
        json.dump(cfg, f, indent=1)
    if os.path.exists(cfg["result"]):
        os.remove(cfg["result"])
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--config", cfg_path]
    env = dict(os.environ)
    if name in TF_ONEDNN:
        env["TF_ENABLE_ONEDNN_OPTS"] = TF_ONEDNN[name]
    with open(log_path, "w", encoding="utf8") as logf:
        proc = subprocess.run(cmd, stdout=logf, stderr=subprocess.STDOUT, timeout=timeout,
                              cwd=REPO, env=env)
    if proc.returncode != 0 or not os.path.exists(cfg["result"]):
        raise RuntimeError("%s worker failed (exit %d); log %s:\n%s"
                           % (name, proc.returncode, log_path, tail(log_path)))
    with open(cfg["result"], encoding="utf8") as f:
        return json.load(f)


def start_engine_build(cache):
    log_path = os.path.join(cache, "logs", "swift-build.log")
    logf = open(log_path, "w", encoding="utf8")
    proc = subprocess.Popen(["swift", "build", "-c", "release", "--product", "facenet"],
                            cwd=REPO, stdout=logf, stderr=subprocess.STDOUT)
    return proc, logf, log_path


def build_engine(cache, retries, delay, first=None):
    """Build the engine, retrying (other people may be mid-edit); its binary path."""
    attempt = 0
    while True:
        attempt += 1
        if first is not None:
            proc, logf, log_path = first
            first = None
        else:
            proc, logf, log_path = start_engine_build(cache)
        t0 = time.time()
        rc = proc.wait()
        logf.close()
        if rc == 0:
            break
        if attempt > retries:
            raise RuntimeError("swift build failed %d times; last log %s:\n%s"
                               % (attempt, log_path, tail(log_path)))
        log("  swift build failed (attempt %d, exit %d, %.0f s); retrying in %d s:\n%s"
            % (attempt, rc, time.time() - t0, delay, tail(log_path, 6)))
        time.sleep(delay)
    out = subprocess.run(["swift", "build", "-c", "release", "--product", "facenet",
                          "--show-bin-path"], cwd=REPO, capture_output=True, text=True,
                         check=True)
    binary = os.path.join(out.stdout.strip().splitlines()[-1], "facenet")
    if not os.access(binary, os.X_OK):
        raise RuntimeError("built, but %s is not there" % binary)
    return binary, attempt


def run_engine(binary, cfg, cache, timeout, embeddings=True):
    """`facenet bench` per batch size (timing) and `facenet run` (embeddings)."""
    import numpy as np
    res = {"batches": {}, "bench_stdout": {}, "commands": []}
    logdir = os.path.join(cache, "logs")
    common = ["--weights", cfg["weights"], "--topology", cfg["topology"]]
    for b, runs in zip(cfg["batches"], cfg["runs"]):
        cmd = [binary, "bench"] + common + ["--batch", str(b), "--iterations", str(runs), "--json"]
        if cfg.get("engine_threads"):
            cmd += ["--threads", str(cfg["engine_threads"])]
        res["commands"].append(" ".join(shlex.quote(c) for c in cmd))
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        with open(os.path.join(logdir, "engine_bench_b%d.log" % b), "w", encoding="utf8") as f:
            f.write(p.stdout + p.stderr)
        if p.returncode != 0:
            raise RuntimeError("facenet bench --batch %d failed (exit %d):\n%s"
                               % (b, p.returncode, "\n".join((p.stdout + p.stderr).splitlines()[-15:])))
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        js = json.loads(lines[-1])
        if int(js["batch"]) != b:
            raise RuntimeError("facenet bench reported batch %s, asked for %d" % (js["batch"], b))
        res["batches"][str(b)] = {"ms_per_image": float(js["ms_per_image"]), "runs": runs,
                                  "bench": js}
        # `--json`: stdout holds only the JSON object; the human report is on stderr.
        res["bench_stdout"][str(b)] = [l for l in p.stderr.splitlines() if l.strip()]
        res["threads"] = js.get("threads")
        res["blas_core"] = js.get("blas_core")
        res["gemm"] = js.get("gemm")
    if not embeddings:
        return res
    outputs = {}
    for b in cfg["batches"]:
        out_path = os.path.join(cache, "engine_out_b%d.f32" % b)
        if os.path.exists(out_path):
            os.remove(out_path)
        cmd = [binary, "run"] + common + ["--input", cfg["inputs"][str(b)],
                                          "--shape", "%d,%d,%d,%d" % ((b,) + IMAGE_SHAPE),
                                          "--output", out_path]
        res["commands"].append(" ".join(shlex.quote(c) for c in cmd))
        p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError("facenet run --shape %d,... failed (exit %d):\n%s"
                               % (b, p.returncode, "\n".join((p.stdout + p.stderr).splitlines()[-15:])))
        outputs[b] = np.fromfile(out_path, dtype="<f4")
    res["max_abs_diff"] = compare_to_refs(cfg, outputs)
    return res


def fmt_ms(r, b):
    try:
        return "%.1f" % r["batches"][str(b)]["ms_per_image"]
    except (KeyError, TypeError):
        return "-"


def engine_versions():
    v = {}
    try:
        out = subprocess.run(["swift", "--version"], capture_output=True, text=True, timeout=60)
        v["swift"] = (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        v["swift"] = "unknown"
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Version}\\n",
                              "libopenblas0-pthread", "libopenblas0-openmp", "libopenblas0-serial"],
                             capture_output=True, text=True, timeout=60)
        pk = [l for l in out.stdout.splitlines() if l.split() and len(l.split()) == 2]
        v["openblas_packages"] = pk
    except (OSError, subprocess.SubprocessError):
        pass
    return v


def print_report(report):
    m = report["machine"]
    cfg = report["config"]
    batches = cfg["batches"]
    res = report["results"]
    flops = report.get("flops_per_image")
    print()
    print("=" * 100)
    print("FaceNet-512 (Inception-ResNet-v1, CASIA weights), float32, ms/image, lower is better")
    runs = " / ".join("%d" % r for r in cfg["runs"])
    if cfg["rounds"] == 1:
        print("median of %s timed calls after warm-up;" % runs)
    elif cfg["aggregate"] == "quiet":
        print("per system, the median over its quiet rounds (of %d, fresh processes each: those in which\n"
              "  other processes used at most %.0f points more CPU than in its quietest round);\n"
              "  each round's figure: the median of %s timed calls after warm-up;"
              % (cfg["rounds"], 100 * QUIET_MARGIN, runs))
    else:
        print("median over %d rounds (fresh processes each) of each round's median of %s timed "
              "calls after warm-up;" % (cfg["rounds"], runs))
    print("the same seeded input (seed %d) for every system" % cfg["seed"])
    print("=" * 100)
    head = "%-44s %8s" % ("system", "threads")
    for b in batches:
        head += " %9s" % ("batch %d" % b)
    if flops:
        for b in batches:
            head += " %8s" % ("GF/s b%d" % b)
    head += " %13s %8s" % ("max|d| vs TF", "others")
    print(head)
    print("-" * len(head))
    for key in PEERS:
        r = res.get(key)
        if r is None:
            continue
        label = r.get("label", LABELS[key])
        if "error" in r:
            print("%-44s %8s  FAILED: %s" % (label, "-", r["error"].splitlines()[0][:80]))
            continue
        line = "%-44s %8s" % (label[:44], r.get("threads", "-"))
        for b in batches:
            line += " %9s" % fmt_ms(r, b)
        if flops:
            for b in batches:
                try:
                    line += " %8.1f" % (flops / 1e6 / r["batches"][str(b)]["ms_per_image"])
                except (KeyError, ZeroDivisionError):
                    line += " %8s" % "-"
        d = r.get("max_abs_diff") or {}
        dmax = max(d.values()) if d else None
        line += " %13s" % ("-" if dmax is None else "%.2g%s" % (dmax, " !" if dmax > DIFF_WARN else ""))
        oc = (r.get("cpu") or {}).get("others_cpu")
        line += " %8s" % ("-" if oc is None else "%.0f%%" % (100 * oc))
        print(line)
    print()
    print("max|d| vs TF: largest absolute difference of the raw 512-d embeddings from TensorFlow's")
    print("  (eager model call, separate process), over all batch sizes; ! marks > %g." % DIFF_WARN)
    print("others: share of the machine's CPU time used by other processes while that system ran")
    print("  (from /proc/stat; %s); much above 0%% means the timings are disturbed."
          % ("mean over the rounds reported" if cfg["aggregate"] == "quiet" and cfg["rounds"] > 1
             else "mean over rounds"))
    if cfg["rounds"] > 1:
        print("per round, ms/image:")
        for key in PEERS:
            r = res.get(key)
            if not r or "error" in r:
                continue
            shares = r["cpu"]["others_cpu_per_round"]
            print("  %-40s %s   others: %s%s" % (r["label"][:40], "   ".join(
                "b%d: %s" % (b, " ".join("%.1f" % v for v in r["batches"][str(b)]["rounds_ms_per_image"]))
                for b in batches), " ".join("?" if v is None else "%.0f%%" % (100 * v) for v in shares),
                "   (reported: %s)" % " ".join(map(str, r["reported_rounds"]))
                if len(r.get("reported_rounds") or []) < len(shares) else ""))
    print()
    ratios = report.get("ratios", {})
    if ratios:
        print("engine ms/image / peer ms/image (< 1: the engine is faster; > 1: slower)")
        line = "%-26s" % ""
        for b in batches:
            line += " %9s" % ("batch %d" % b)
        print(line)
        for key in PEERS[1:]:
            if key not in ratios:
                continue
            line = "%-26s" % ("engine / %s" % SHORT[key])
            for b in batches:
                v = ratios[key].get(str(b))
                line += " %9s" % ("-" if v is None else "%.2f" % v)
            print(line)
        print()
    print("machine: %s (%s), %d cores online (%d in our affinity mask); SIMD: %s"
          % (m["cpu_model"], ", ".join("%s %s" % kv for kv in m["cpu_id"].items()),
             m["cpus"], m["affinity_cpus"], " ".join(m["cpu_features"]) or "?"))
    print("  %s; Python %s; load average at start %s" % (m["os"], m["python"], m["loadavg_start"]))
    eng = res.get("engine") or {}
    print("engine: blas_core %s, threads %s; OPENBLAS_CORETYPE in the environment: %s"
          % (eng.get("blas_core", "?"), eng.get("threads", "?"), m["openblas_coretype"]))
    v = report["versions"]
    print("versions: " + ", ".join("%s %s" % (k, v[k]) for k in
                                   ("tensorflow", "tf_keras", "tf2onnx", "onnx", "onnxruntime",
                                    "openvino", "numpy") if k in v))
    print("  swift: %s; OpenBLAS: %s" % (v.get("swift", "?"), "; ".join(v.get("openblas_packages", [])) or "?"))
    prep = report.get("prepare") or {}
    if prep.get("manifest"):
        mm = prep["manifest"]
        print("weights: %s (sha256 %s...); Keras vs golden manifest (%d images): max abs diff %.2g"
              % (cfg["weights"], cfg["weights_sha256"][:16], mm["images"], mm["max_abs_diff"]))
    else:
        print("weights: %s (sha256 %s...); golden manifest not found, not checked"
              % (cfg["weights"], cfg["weights_sha256"][:16]))
    for key in PEERS[1:]:
        r = res.get(key)
        if r and "settings" in r:
            print("%s: %s" % (SHORT[key], r["settings"]))
    print("timing: %s" % report["timing_summary"])


QUIET_MARGIN = 0.05  # rounds within 5 points of the quietest one count as quiet


def aggregate(key, rs, batches, mode, threads):
    """One system's rounds -> its reported figures (see --aggregate)."""
    first = rs[0]
    agg = {k: v for k, v in first.items()
           if k not in ("batches", "cpu", "seconds", "max_abs_diff", "bench_stdout")}
    shares = [r["cpu"]["others_cpu"] for r in rs]
    used = list(range(len(rs)))
    if mode == "quiet" and None not in shares:
        least = min(shares)
        used = [i for i, v in enumerate(shares) if v <= least + QUIET_MARGIN]
    agg["batches"] = {}
    for b in batches:
        per_round = [r["batches"][str(b)]["ms_per_image"] for r in rs]
        agg["batches"][str(b)] = {
            "ms_per_image": median([per_round[i] for i in used]),
            "median_over_rounds": median(per_round),
            "rounds_ms_per_image": per_round,
            "runs_per_round": first["batches"][str(b)]["runs"]}
    diffs = {}
    for r in rs:
        for b, d in (r.get("max_abs_diff") or {}).items():
            diffs[b] = max(d, diffs.get(b, 0.0))
    agg["max_abs_diff"] = diffs
    known = [shares[i] for i in used if shares[i] is not None]
    agg["cpu"] = {"others_cpu": sum(known) / len(known) if known else None,
                  "others_cpu_per_round": shares,
                  "steal_per_round": [r["cpu"]["steal"] for r in rs]}
    agg["reported_rounds"] = [i + 1 for i in used]
    agg["rounds"] = rs
    agg.setdefault("threads", threads)
    versions = agg.get("versions", {})
    if key == "engine":
        gemm = agg.get("gemm")
        agg["label"] = ("this engine (panel GEMM, AVX2)" if gemm == "panels"
                        else "this engine (OpenBLAS %s)" % agg.get("blas_core", "?"))
    elif key == "ort":
        agg["label"] = "ONNX Runtime %s, CPU EP" % versions.get("onnxruntime", "?")
    elif key == "openvino":
        agg["label"] = "OpenVINO %s CPU, f32" % versions.get("openvino", "?").split("-")[0]
    elif key == "tf":
        agg["label"] = "TensorFlow %s, oneDNN (default)" % versions.get("tensorflow", "?")
    elif key == "tf-eigen":
        agg["label"] = "TensorFlow %s, oneDNN off (Eigen)" % versions.get("tensorflow", "?")
    return agg


def compute_ratios(results, batches):
    eng = results.get("engine")
    ratios = {}
    if eng and "error" not in eng:
        for key in PEERS[1:]:
            r = results.get(key)
            if not r or "error" in r:
                continue
            ratios[key] = {str(b): eng["batches"][str(b)]["ms_per_image"] / r["batches"][str(b)]["ms_per_image"]
                           for b in batches}
    return ratios


def rereport(path, mode):
    """Print the table of a saved --json file again, aggregated as asked."""
    with open(path, encoding="utf8") as f:
        report = json.load(f)
    cfg = report["config"]
    cfg["aggregate"] = mode
    for key, r in list(report["results"].items()):
        if "rounds" in r and r["rounds"]:
            report["results"][key] = aggregate(key, r["rounds"], cfg["batches"], mode,
                                               cfg.get("threads", 2))
    report["ratios"] = compute_ratios(report["results"], cfg["batches"])
    print_report(report)
    return 0


def orchestrate(args):
    import numpy as np
    t_start = time.time()
    cache = os.path.abspath(args.cache_dir)
    os.makedirs(os.path.join(cache, "logs"), exist_ok=True)

    weights = args.weights or default_weights()
    if not weights or not os.path.exists(weights):
        log("error: no weights. Make Weights/facenet512_casia.h5 with `bash Scripts/fetch-weights.sh`"
            " (or pass --weights; the reference copy is ../shared/models/facenet512_casia.h5).")
        return 2
    weights = os.path.abspath(weights)
    topology = os.path.abspath(args.topology)
    manifest = args.manifest
    if manifest == "auto":
        manifest = os.path.join(SHARED, "faces", "facenet512_casia_manifest.json")
    manifest = os.path.abspath(manifest) if manifest and manifest != "none" else None

    batches = [int(b) for b in args.batches.split(",")]
    runs = [int(r) for r in args.runs.split(",")]
    if len(runs) == 1:
        runs = runs * len(batches)
    if args.rounds < 1 or args.warmup < 0:
        log("error: --rounds must be positive and --warmup not negative")
        return 2
    if len(runs) != len(batches) or min(batches) < 1 or min(runs) < 1:
        log("error: --runs needs one positive count per batch size (%s)" % args.batches)
        return 2
    peers = [p.strip() for p in args.only.split(",")] if args.only else list(PEERS)
    for p in peers:
        if p not in PEERS:
            log("error: unknown system %r (choose from %s)" % (p, ", ".join(PEERS)))
            return 2

    coretype = os.environ.get("OPENBLAS_CORETYPE")
    machine = {
        "cpu_model": cpu_model(),
        "cpu_id": cpu_family_model(),
        "cpu_features": cpu_features(),
        "cpus": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "openblas_coretype": "unset" if coretype is None else repr(coretype),
        "loadavg_start": "%.2f %.2f %.2f" % os.getloadavg(),
    }
    log("peers: %s, %d cores (SIMD %s); OPENBLAS_CORETYPE %s; load average %s"
        % (machine["cpu_model"], machine["cpus"], " ".join(machine["cpu_features"]),
           machine["openblas_coretype"], machine["loadavg_start"]))
    if os.getloadavg()[0] > 0.5:
        log("  note: the machine is busy (load average %.2f): timings will be disturbed"
            % os.getloadavg()[0])

    # Input: one seeded batch; smaller batches are its first images.
    rng = np.random.default_rng(args.seed)
    big = rng.uniform(-1.0, 1.0, (max(batches),) + IMAGE_SHAPE).astype(np.float32)
    inputs, refs = {}, {}
    for b in batches:
        inputs[str(b)] = os.path.join(cache, "input_seed%d_b%d.f32" % (args.seed, b))
        big[:b].astype("<f4").tofile(inputs[str(b)])
        refs[str(b)] = os.path.join(cache, "tf_embeddings_b%d.f32" % b)

    log("weights %s" % weights)
    wsha = sha256_file(weights)

    # The engine builds in the background while TensorFlow prepares.
    build = None
    if "engine" in peers and not args.engine_bin:
        log("building the engine in the background (swift build -c release --product facenet)")
        build = start_engine_build(cache)
    t_build = time.time()

    cfg = {"weights": weights, "topology": topology, "manifest": manifest,
           "batches": batches, "runs": runs, "warmup": args.warmup, "threads": args.threads,
           "inputs": inputs, "refs": refs, "seed": args.seed, "engine_threads": args.engine_threads,
           "rounds": args.rounds, "aggregate": args.aggregate}
    report = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
              "machine": machine, "results": {}, "versions": {},
              "config": dict(cfg, weights_sha256=wsha, topology=topology)}

    # ONNX file name: everything that could change the graph.
    import importlib.metadata as md

    def version(pkg):
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return None

    for pkg in ("tensorflow", "tf_keras", "tf2onnx", "onnx", "onnxruntime", "openvino", "numpy"):
        v = version(pkg.replace("_", "-"))
        if v:
            report["versions"][pkg] = v
    with open(os.path.join(REPO, "Scripts", "make_fixtures.py"), "rb") as f:
        builder_sha = hashlib.sha256(f.read()).hexdigest()
    key = hashlib.sha256(("%s %s %s %s %d %s" % (wsha, report["versions"].get("tensorflow"),
                                                   report["versions"].get("tf_keras"),
                                                   report["versions"].get("tf2onnx"), OPSET,
                                                   builder_sha)).encode()).hexdigest()[:16]
    cfg["onnx"] = os.path.join(cache, "facenet512_casia_opset%d_%s.onnx" % (OPSET, key))
    report["config"]["onnx"] = cfg["onnx"]

    timing = {}
    # Always: TensorFlow's embeddings are the yardstick for every system.
    t0 = time.time()
    log("prepare: Keras FaceNet-512 + weights, golden check, TF embeddings, ONNX (opset %d)%s"
        % (OPSET, " (cached)" if os.path.exists(cfg["onnx"]) else " (converting: about a minute)"))
    try:
        prep = spawn_worker("prepare", cfg, cache, args.timeout)
    except Exception as e:  # noqa: BLE001
        log("error: %s" % e)
        if build:
            build[0].wait()
            build[1].close()
        return 1
    timing["prepare"] = time.time() - t0
    report["prepare"] = prep
    report["versions"].update(prep["versions"])
    report["flops_per_image"] = prep["flops_per_image"]
    mm = prep.get("manifest")
    log("  done in %.0f s: %s params; FLOPs/image %.4g; %s; ONNX %s (%.1f MB)"
        % (timing["prepare"], prep["params"], prep["flops_per_image"],
           "Keras vs golden manifest: max abs diff %.2g over %d images" % (mm["max_abs_diff"], mm["images"])
           if mm else "no golden manifest: not checked",
           "cached" if prep["onnx_cached"] else "converted in %.0f s" % prep["onnx_seconds"],
           prep["onnx_bytes"] / 1e6))

    binary = args.engine_bin
    if "engine" in peers and not binary:
        log("waiting for the engine build ...")
        try:
            binary, attempts = build_engine(cache, args.build_retries, args.build_retry_delay, first=build)
            timing["build"] = time.time() - t_build
            log("  built %s (%d attempt%s, %.0f s since the build started)"
                % (os.path.relpath(binary, REPO), attempts, "" if attempts == 1 else "s", timing["build"]))
        except Exception as e:  # noqa: BLE001
            log("error: %s" % e)
            report["results"]["engine"] = {"label": LABELS["engine"], "error": str(e)}
            binary = None
    report["versions"].update(engine_versions())

    failures = 0
    rounds = {key: [] for key in peers}
    errors = {}
    waited_total = 0.0
    for rnd in range(1, args.rounds + 1):
        for key in peers:
            if key in errors:
                continue
            if key == "engine" and binary is None:
                continue
            waited = ""
            if args.wait_idle > 0:
                w, share = wait_idle(args.wait_idle)
                waited_total += w
                if w >= 1:
                    waited = " (waited %.0f s for the CPU%s)" % (
                        w, "" if share < 0.15 else "; others still used %.0f%%" % (100 * share))
            t0 = time.time()
            log("round %d/%d: %s ...%s" % (rnd, args.rounds, LABELS[key], waited))
            use = CPUUse()
            try:
                if key == "engine":
                    r = run_engine(binary, cfg, cache, args.timeout, embeddings=(rnd == 1))
                else:
                    r = spawn_worker(key, cfg, cache, args.timeout)
            except Exception as e:  # noqa: BLE001
                failures += 1
                log("  FAILED: %s" % e)
                errors[key] = str(e)
                continue
            r["cpu"] = use.finish()
            r["seconds"] = time.time() - t0
            timing[key] = timing.get(key, 0.0) + r["seconds"]
            rounds[key].append(r)
            d = r.get("max_abs_diff", {})
            log("  %s ms/image;%s %.0f s; others used %s of the CPU"
                % (", ".join("b%d %s" % (b, fmt_ms(r, b)) for b in batches),
                   " max abs diff vs TF %s;" % ", ".join("b%s %.2g" % kv for kv in d.items()) if d else "",
                   r["seconds"],
                   "?" if r["cpu"]["others_cpu"] is None else "%.0f%%" % (100 * r["cpu"]["others_cpu"])))
    if waited_total:
        timing["waiting for an idle CPU"] = waited_total

    # One figure per system out of its rounds.
    for key in peers:
        if key in errors and not rounds[key]:
            report["results"][key] = {"label": LABELS[key], "error": errors[key]}
            continue
        rs = rounds[key]
        if not rs:
            continue
        report["results"][key] = aggregate(key, rs, batches, args.aggregate, args.threads)
    if "engine" in peers and binary is None:
        failures += 1

    report["ratios"] = compute_ratios(report["results"], batches)
    timing["total"] = time.time() - t_start
    report["timing_seconds"] = timing
    report["timing_summary"] = ", ".join("%s %.0f s" % kv for kv in timing.items())
    machine["loadavg_end"] = "%.2f %.2f %.2f" % os.getloadavg()
    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf8") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        log("results written to %s" % args.json)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(
        description="Time this engine, ONNX Runtime, OpenVINO and TensorFlow on FaceNet-512 "
                    "(use Benchmarks/peers.sh, which sets up the Python environment).")
    ap.add_argument("--weights", help="Keras-2 H5 weights (default: Weights/facenet512_casia.h5, "
                                      "else ../shared/models/facenet512_casia.h5)")
    ap.add_argument("--topology", default=os.path.join(REPO, "Weights", "facenet512.json"),
                    help="topology JSON for the engine (default Weights/facenet512.json)")
    ap.add_argument("--manifest", default="auto",
                    help="golden manifest to check Keras against (default "
                         "../shared/faces/facenet512_casia_manifest.json when present; 'none' to skip)")
    ap.add_argument("--batches", default="1,8", help="batch sizes, comma-separated (default 1,8)")
    ap.add_argument("--runs", default="30,10",
                    help="timed runs per batch size, comma-separated or one for all (default 30,10)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="times every system is run, each time in a fresh process (default 3; "
                         "see --aggregate)")
    ap.add_argument("--aggregate", choices=("quiet", "median"), default="quiet",
                    help="figure reported per system: the median over its quiet rounds, those in which "
                         "other processes used at most 5 points more CPU than in its quietest round "
                         "(default; right for a shared machine), or the median over all rounds")
    ap.add_argument("--report", metavar="FILE",
                    help="print the table of a saved --json FILE again (with --aggregate) and exit")
    ap.add_argument("--wait-idle", type=float, default=10, metavar="SECONDS",
                    help="before each step, wait up to this long for other processes to leave "
                         "the CPU idle (< 15%% busy over 2 s); 0: don't wait (default 10)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="untimed calls before timing, peers only (default 3; facenet bench "
                         "does its own single warm-up pass)")
    ap.add_argument("--threads", type=int, default=2,
                    help="ORT and TensorFlow intra-op threads, OpenVINO inference threads (default 2)")
    ap.add_argument("--engine-threads", type=int,
                    help="pass --threads N to facenet bench (default: not passed, OpenBLAS decides)")
    ap.add_argument("--seed", type=int, default=20240611, help="input seed (default 20240611)")
    ap.add_argument("--only", help="comma-separated subset of: " + ", ".join(PEERS))
    ap.add_argument("--engine-bin", help="use this facenet binary instead of building one")
    ap.add_argument("--build-retries", type=int, default=5,
                    help="retries when swift build fails (others may be editing; default 5)")
    ap.add_argument("--build-retry-delay", type=int, default=60, help="seconds between retries")
    ap.add_argument("--cache-dir", default=os.path.join(HERE, ".cache"),
                    help="ONNX file, inputs, embeddings, logs (default Benchmarks/.cache)")
    ap.add_argument("--timeout", type=int, default=1800, help="seconds allowed per process")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return run_worker(args.worker, args.config)
    if args.report:
        return rereport(args.report, args.aggregate)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
