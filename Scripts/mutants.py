#!/usr/bin/env python3
"""Mutation testing: plant one-line bugs in hot code, one at a time, and check that the test
suite fails for each (Docs/testing.md has the list, the last score and how long a run takes).

Run on demand, not in CI (a full run rebuilds the library once per mutant):

  bash Scripts/mutants.sh                 every mutant
  bash Scripts/mutants.sh --list          the list, nothing run
  bash Scripts/mutants.sh ID [ID ...]     some of them (ids from --list)
  bash Scripts/mutants.sh --full ...      run the whole suite even when a hinted test already failed
  bash Scripts/mutants.sh --skip-baseline ...   trust that the unchanged tree passes (saves a suite run)

How: the work tree (tracked and new, unignored files) is copied to WORKDIR (default
`../facenet-mutants` beside this package, so `../shared` is found from there too) and built
once there; nothing in this tree is ever edited. Before anything is built the list is
checked against the tree: every file must exist, every text occur exactly once and every
hint name an XCTestCase class under Tests/; after the first build, every hint must select a
test in `swift test list`. Any drifted mutant stops the run (exit 2) with what is wrong,
never silently skipped. Per mutant the one edit is applied, the tests are rebuilt, and the
test classes named by the mutant's hint run first; if none of them fails, the whole suite
runs. A mutant is *caught* when a test fails or the test process crashes or times out;
*survived* when the suite passes; *broken* when it does not compile (the list needs
updating). The file is restored after each mutant. Exit status: 0 only when
every mutant is caught.

Environment: MUTANTS_WORKDIR, MUTANTS_TIMEOUT (seconds per test run, default 1800).
"""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKDIR = os.environ.get("MUTANTS_WORKDIR", os.path.join(os.path.dirname(ROOT), "facenet-mutants"))
TIMEOUT = int(os.environ.get("MUTANTS_TIMEOUT", "1800"))
# Debug configuration with -O: incremental per file (a release build optimises the whole
# module again for every mutant), optimised, and with Swift's bounds checks on, so a mutant
# that indexes out of range traps instead of corrupting memory quietly.
SWIFT_FLAGS = ["-c", "debug", "-Xswiftc", "-O", "-Xswiftc", "-enable-testing"]
# The one slow test over every shared photo (minutes); the stage tests cover detection.
SKIPPED = ["testSharedPhotosLargestFaceMatchesCropBoxes"]


@dataclass
class Mutant:
    id: str
    area: str
    what: str
    file: str
    find: str
    replace: str
    hint: str  # test classes (a --filter regex) expected to catch it


MUTANTS = [
    # --- the eight bugs of the audit (issue 13) ---
    Mutant("pad-before", "padding", "paddingBefore puts TensorFlow's odd extra padding first: (total+1)/2",
           "Sources/FaceNetKernels/ShapeArithmetic.swift",
           "    return total / 2\n", "    return (total + 1) / 2\n",
           "KerasOracleTests"),
    Mutant("geometry-pad", "padding", "Conv2DGeometry alone puts the odd extra padding first (paddingBefore untouched)",
           "Sources/FaceNetKernels/Ops/Conv2D.swift",
           "        padTop = paddingBefore(height, output: outHeight, kernel: kernelHeight, stride: strideHeight, padding: config.padding)\n"
           "        padLeft = paddingBefore(width, output: outWidth, kernel: kernelWidth, stride: strideWidth, padding: config.padding)\n",
           "        padTop = config.padding == .same ? (max((outHeight - 1) * strideHeight + kernelHeight - height, 0) + 1) / 2 : 0\n"
           "        padLeft = config.padding == .same ? (max((outWidth - 1) * strideWidth + kernelWidth - width, 0) + 1) / 2 : 0\n",
           "KerasOracleTests"),
    Mutant("pnet-nms", "detection", "P-Net's cross-scale NMS at 0.5 instead of 0.7",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "public var pnetNMS: Float = 0.7", "public var pnetNMS: Float = 0.5",
           "MTCNNStageTests"),
    Mutant("onet-nms-union", "detection", "O-Net's final NMS by union instead of the smaller box",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "threshold: options.onetNMS, overlap: .minimum", "threshold: options.onetNMS, overlap: .union",
           "MTCNNStageTests"),
    Mutant("residual-bias-scale", "fusion", "residual fusion: the up-projection's bias not multiplied by the Lambda scale",
           "Sources/FaceNetEngine/Model/ExecutionPlan.swift",
           "epilogue.shift = bias.map { $0.map { $0 * s } }", "epilogue.shift = bias",
           "LayerKernelTests|KerasOracleTests"),
    Mutant("gemm-relu-first", "kernels", "panel-GEMM epilogue: ReLU before scale/shift",
           "Sources/FaceNetAVX2/PanelGEMM.swift",
           "            low = low * scale.0 + shift.0\n            high = high * scale.1 + shift.1\n            if relu {\n"
           "                low = low.replacing(with: 0, where: low .< 0)\n                high = high.replacing(with: 0, where: high .< 0)\n"
           "            }\n",
           "            if relu {\n"
           "                low = low.replacing(with: 0, where: low .< 0)\n                high = high.replacing(with: 0, where: high .< 0)\n"
           "            }\n            low = low * scale.0 + shift.0\n            high = high * scale.1 + shift.1\n",
           "PanelGEMMTests"),
    Mutant("f4x4-tail", "kernels", "Winograd F(4×4) output tail: column 2 of a 3-wide tile never written",
           "Sources/FaceNetKernels/Ops/WinogradF4x4.swift",
           "if columns > 2 { writeOutput(out.2", "if columns > 3 { writeOutput(out.2",
           "WinogradTests|KerasOracleTests"),
    Mutant("exif-7", "images", "EXIF orientation 7 dropped (handled as 8)",
           "Sources/FaceNetVision/Image/ExifOrientation.swift",
           "        case 7: (ax, bx, cx, ay, by, cy) = (0, -1, w - 1, -1, 0, h - 1)\n", "",
           "ImageDecoderTests"),
    # --- kernels ---
    Mutant("f2x2-tail", "kernels", "Winograd F(2×2) output tail: column 1 never written",
           "Sources/FaceNetKernels/Ops/WinogradF2x2.swift",
           "if columns > 1 { writeOutput(out.1", "if columns > 2 { writeOutput(out.1",
           "WinogradTests|KerasOracleTests"),
    Mutant("f2x7-second", "kernels", "Winograd F(2, 7): a tile's second output never written",
           "Sources/FaceNetKernels/Ops/WinogradF2x7.swift",
           "let second = rows * columns > 1", "let second = rows * columns > 2",
           "WinogradTests|KerasOracleTests"),
    Mutant("gemm-store-3", "kernels", "panel GEMM: the third lane of a 3- or 7-column remainder never stored",
           "Sources/FaceNetAVX2/PanelGEMM.swift",
           "        if left == 3 { p[offset + 2] = rest[2] }\n", "",
           "PanelGEMMTests"),
    Mutant("prelu-channel", "kernels", "per-channel PReLU in the epilogue uses channel 0's slope for every channel",
           "Sources/FaceNetKernels/Ops/PReLU.swift",
           "row[j] = max(x, 0) + a[j] * min(x, 0)", "row[j] = max(x, 0) + a[0] * min(x, 0)",
           "MTCNNNetsTests|PanelGEMMTests"),
    Mutant("pool-average-padding", "kernels", "average pooling divides by the whole window, padding cells included",
           "Sources/FaceNetKernels/Ops/Pooling.swift",
           "let inverse = 1 / Float((h1 - h0) * (w1 - w0))", "let inverse = 1 / Float(g.poolHeight * g.poolWidth)",
           "KerasOracleTests|LayerKernelTests"),
    Mutant("pool-window-short", "kernels", "pooling windows one row short",
           "Sources/FaceNetKernels/Ops/Pooling.swift",
           "let h1 = min(oh * g.strideHeight - g.padTop + g.poolHeight, g.inHeight)",
           "let h1 = min(oh * g.strideHeight - g.padTop + g.poolHeight - 1, g.inHeight)",
           "KerasOracleTests|LayerKernelTests"),
    Mutant("thread-share", "threading", "a worker team's last share stops one row short",
           "Sources/FaceNetKernels/WorkerTeam.swift",
           "(count * part / parts)..<(count * (part + 1) / parts)",
           "(count * part / parts)..<(count * (part + 1) / parts - (part == parts - 1 && count > parts ? 1 : 0))",
           "LayerKernelTests|KerasOracleTests"),
    # --- fusion and BatchNorm folding ---
    Mutant("bn-fold-bias", "fusion", "conv → BN fold: the conv's bias not scaled by the BN scale",
           "Sources/FaceNetEngine/Model/ExecutionPlan.swift",
           "t + bn.scale[c] * (bias?[c] ?? 0)", "t + (bias?[c] ?? 0)",
           "KerasOracleTests|LayerKernelTests"),
    Mutant("bn-epsilon", "fusion", "BatchNorm fold without epsilon",
           "Sources/FaceNetKernels/Ops/BatchNormalization.swift",
           "let s = Double(gamma?[c] ?? 1) / (Double(variance[c]) + Double(config.epsilon)).squareRoot()",
           "let s = Double(gamma?[c] ?? 1) / Double(variance[c]).squareRoot()",
           "KerasOracleTests|LayerKernelTests|GoldenTests"),
    # --- preprocessing ---
    Mutant("fixed-divisor", "preprocessing", "fixed standardisation divides by 127.5 instead of 128",
           "Sources/FaceNetVision/Preprocess/Normalize.swift",
           "map(rgb, order, out) { (Float($0) - 127.5) / 128 }", "map(rgb, order, out) { (Float($0) - 127.5) / 127.5 }",
           "PreprocessTests|PipelineOracleTests"),
    Mutant("bilinear-centre", "preprocessing", "OpenCV bilinear resize without the half-pixel centre",
           "Sources/FaceNetVision/Preprocess/ResizeBilinear.swift",
           "f = Float((Double(d) + 0.5) * axis.scale - 0.5)", "f = Float(Double(d) * axis.scale)",
           "PreprocessTests"),
    # (Dropping the +0.5 from the window start instead is an equivalent mutant: the extra
    # tap it adds lies outside the filter's support and gets weight 0.)
    Mutant("pillow-tap-centre", "preprocessing", "Pillow resize: tap distances measured from the pixel's corner, not its centre",
           "Sources/FaceNetVision/Preprocess/ResizePillow.swift",
           "let t = abs((Double(x + xmin) - center + 0.5) * inverse)", "let t = abs((Double(x + xmin) - center) * inverse)",
           "PreprocessTests|PipelineOracleTests"),
    Mutant("onet-threshold", "detection", "O-Net's score threshold 0.9 instead of 0.8",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "public var onetThreshold: Float = 0.8", "public var onetThreshold: Float = 0.9",
           "MTCNNStageTests"),
    # No committed photo has an O-Net candidate scoring between 0.7 and 0.8: the defaults
    # are checked against the settings the fixtures were made with.
    Mutant("onet-threshold-low", "detection", "O-Net's score threshold 0.7 instead of 0.8",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "public var onetThreshold: Float = 0.8", "public var onetThreshold: Float = 0.7",
           "MTCNNStageTests"),
    # --- the gallery ---
    Mutant("topk-ties", "gallery", "exact top-k: of equal similarities the lower row is worse",
           "Sources/FaceNetGallery/ExactSearch.swift",
           "(similarities[i] == similarities[j] && rows[i] > rows[j])",
           "(similarities[i] == similarities[j] && rows[i] < rows[j])",
           "ExactSearchTests"),
    Mutant("topk-sift", "gallery", "exact top-k: sift-down ignores the right child",
           "Sources/FaceNetGallery/ExactSearch.swift",
           "if right < similarities.count, worse(right, worst) { worst = right }",
           "if right < similarities.count, worse(right, worst), left < 0 { worst = right }",
           "ExactSearchTests"),
    Mutant("hnsw-heuristic", "gallery", "HNSW: the neighbour heuristic keeps every candidate",
           "Sources/FaceNetGallery/HNSWIndex.swift",
           "dot(v, vectors + Int(kept) * dimension, count: dimension) > similarityToBase",
           "dot(v, vectors + Int(kept) * dimension, count: dimension) > 2",
           "HNSWTests"),
    Mutant("folder-hash", "gallery", "folder gallery: a changed photo with an old name counts as unchanged",
           "Sources/FaceNetGallery/FaceGallery+Folder.swift",
           "if old == hash {", "if old == hash || !old.isEmpty {",
           "FolderGalleryTests"),
    Mutant("nms-area-plus-one", "detection", "NMS intersections measured with +1 pixel (the Matlab convention), unlike the package",
           "Sources/FaceNetVision/Detect/FaceBox.swift",
           "let w = min(x2, other.x2) - max(x1, other.x1)", "let w = min(x2, other.x2) - max(x1, other.x1) + 1",
           "MTCNNStageTests"),
    Mutant("prewhiten-floor", "preprocessing", "prewhitening without the 1/√N floor on the standard deviation",
           "Sources/FaceNetVision/Preprocess/Normalize.swift",
           "let scale = 1.0 / max(std, 1.0 / Double(n).squareRoot())", "let scale = 1.0 / std",
           "PreprocessTests"),
    # --- detection ---
    Mutant("rnet-threshold", "detection", "R-Net's score threshold 0.6 instead of 0.7",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "public var rnetThreshold: Float = 0.7", "public var rnetThreshold: Float = 0.6",
           "MTCNNStageTests"),
    Mutant("pnet-scale-nms", "detection", "P-Net's per-scale NMS at 0.4 instead of 0.5",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "public var pnetScaleNMS: Float = 0.5", "public var pnetScaleNMS: Float = 0.4",
           "MTCNNStageTests"),
    Mutant("square-min", "detection", "boxes squared to the shorter side",
           "Sources/FaceNetVision/Detect/FaceBox.swift",
           "let side = max(width, height)", "let side = min(width, height)",
           "MTCNNStageTests|DetectorTests"),
    Mutant("scale-factor", "detection", "pyramid scale factor 0.7 instead of 0.709",
           "Sources/FaceNetVision/Detect/MTCNN.swift",
           "public var scaleFactor: Float = 0.709", "public var scaleFactor: Float = 0.7",
           "MTCNNStageTests|DetectorTests"),
    # --- weights ---
    Mutant("weights-full-model-root", "weights", "full-model files read from the root instead of /model_weights",
           "Sources/FaceNetEngine/Weights/KerasWeightsReader.swift",
           'case .fullModel: plan = try planSaveWeights(file, root: "/model_weights", specs: specs)',
           'case .fullModel: plan = try planSaveWeights(file, root: "/", specs: specs)',
           "GoldenTests|HDF5ReaderTests"),
    Mutant("weights-keras3-order", "weights", "Keras 3 vars read in reverse order (BatchNorm's four same-shaped vars swap)",
           "Sources/FaceNetEngine/Weights/KerasWeightsReader.swift",
           'let dataset = "/layers/\\(group.group)/vars/\\(index)"',
           'let dataset = "/layers/\\(group.group)/vars/\\(spec.weights.count - 1 - index)"',
           "GoldenTests|HDF5ReaderTests"),
    Mutant("weights-short-name", "weights", "weight names keep their ':0' suffix",
           "Sources/FaceNetEngine/Weights/KerasWeightsReader.swift",
           "if !suffix.isEmpty, suffix.allSatisfy", "if suffix.isEmpty, suffix.allSatisfy",
           "GoldenTests|HDF5ReaderTests"),
    Mutant("cpu-dispatch-fma", "kernels", "the panel kernel chosen on an AVX2 CPU without FMA",
           "Sources/FaceNetKernels/Ops/GEMMWeights.swift",
           'return cpu.flags.isSuperset(of: ["avx2", "fma"])', 'return cpu.flags.isSuperset(of: ["avx2"])',
           "PanelGEMMTests|BLASSelectionTests"),
    # --- images ---
    Mutant("exif-6-8-swap", "images", "EXIF orientations 6 and 8 swapped (rotations the wrong way)",
           "Sources/FaceNetVision/Image/ExifOrientation.swift",
           "        case 6: (ax, bx, cx, ay, by, cy) = (0, 1, 0, -1, 0, h - 1)\n",
           "        case 6: (ax, bx, cx, ay, by, cy) = (0, -1, w - 1, 1, 0, 0)\n",
           "ImageDecoderTests"),
    Mutant("exif-big-endian", "images", "big-endian (MM) EXIF read as little-endian",
           "Sources/FaceNetVision/Image/ExifOrientation.swift",
           "case (0x4D, 0x4D): bigEndian = true", "case (0x4D, 0x4D): bigEndian = false",
           "ImageDecoderTests"),
    # --- decisions ---
    Mutant("cosine-sign", "decisions", "cosine distance as the similarity (1 − cos dropped)",
           "Sources/FaceNetKit/Distance.swift",
           "return self == .cosine ? 1 - cos : acos(cos) / Double.pi", "return self == .cosine ? cos : acos(cos) / Double.pi",
           "DecisionTests"),
]


def run(cmd, cwd, log, timeout=None):
    """Runs cmd, appending its output to log; returns (exit code or 'timeout', seconds)."""
    start = time.time()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        try:
            code = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            code = "timeout"
    return code, time.time() - start


def copy_tree():
    """Tracked and new (unignored) files of this tree into WORKDIR; its .build is kept."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True).stdout.decode().split("\0")
    os.makedirs(WORKDIR, exist_ok=True)
    for entry in os.listdir(WORKDIR):
        if entry not in (".build",):
            path = os.path.join(WORKDIR, entry)
            shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.remove(path)
    for f in filter(None, files):
        src, dst = os.path.join(ROOT, f), os.path.join(WORKDIR, f)
        if not os.path.lexists(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    # Weights fetched by Scripts/fetch-weights.sh (ignored by git) are used by some tests.
    for extra in ["Weights/facenet512_casia.h5", "Weights/graph_final.pb"]:
        if os.path.exists(os.path.join(ROOT, extra)):
            shutil.copy2(os.path.join(ROOT, extra), os.path.join(WORKDIR, extra))


def failing_tests(log, since):
    """Names (Class.test) of the tests that failed in the log after offset `since`."""
    with open(log) as f:
        f.seek(since)
        text = f.read()
    return sorted(set(re.findall(r"Test Case '(\w+\.\w+)' failed", text)))


def test_classes():
    """Names of the XCTestCase classes under Tests/ (every test target)."""
    names = set()
    for folder, _, files in os.walk(os.path.join(ROOT, "Tests")):
        for name in files:
            if name.endswith(".swift"):
                with open(os.path.join(folder, name)) as f:
                    names.update(re.findall(r"\bclass\s+(\w+)\s*:\s*XCTestCase\b", f.read()))
    return names


def check_mutants(mutants):
    """Problems with the list against this tree, before anything is built: a file that is
    missing, a text that does not occur exactly once, an edit that changes nothing, a hint
    naming a test class that does not exist (a moved class must not quietly turn its
    mutants into "caught late")."""
    problems = []
    classes = test_classes()
    for m in mutants:
        path = os.path.join(ROOT, m.file)
        if not os.path.isfile(path):
            problems.append(f"{m.id}: {m.file} does not exist")
        else:
            with open(path) as f:
                count = f.read().count(m.find)
            if count != 1:
                problems.append(f"{m.id}: the text to replace occurs {count} times in {m.file}")
        if m.find == m.replace:
            problems.append(f"{m.id}: the replacement equals the original")
        for name in m.hint.split("|"):
            if name not in classes:
                problems.append(f"{m.id}: hint {name!r} names no XCTestCase class under Tests/")
    return problems


def unselected_hints(mutants):
    """Hints for which `swift test --filter` selects no test in the built bundle."""
    out = subprocess.run(["swift", "test", "list", *SWIFT_FLAGS, "--disable-swift-testing", "--skip-build"],
                         cwd=WORKDIR, capture_output=True, text=True)
    tests = out.stdout.split()
    if out.returncode != 0 or not tests:
        return [f"`swift test list` failed ({out.returncode}): {out.stderr.strip()[-500:]}"]
    problems = []
    for m in mutants:
        for name in m.hint.split("|"):
            if not any(re.search(name, t) for t in tests):
                problems.append(f"{m.id}: --filter {name!r} selects no test")
    return problems


def test_command(filter_regex=None):
    cmd = ["swift", "test", *SWIFT_FLAGS, "--disable-swift-testing", "--skip-build"]
    if filter_regex:
        cmd += ["--filter", filter_regex]
    for name in SKIPPED:
        cmd += ["--skip", name]
    return cmd



def stop_on(problems, title):
    """Prints the problems under their title on stderr; true when there are any."""
    if problems:
        print(f"{title}:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
    return bool(problems)

def main(argv):
    full = "--full" in argv
    skip_baseline = "--skip-baseline" in argv
    argv = [a for a in argv if a not in ("--full", "--skip-baseline")]
    if "--list" in argv:
        for m in MUTANTS:
            print(f"{m.id:22} {m.area:10} {m.what}  [{m.file}]")
        return 0
    chosen = [m for m in MUTANTS if not argv or m.id in argv]
    unknown = set(argv) - {m.id for m in MUTANTS}
    if unknown:
        print(f"unknown mutant id(s): {', '.join(sorted(unknown))} (see --list)", file=sys.stderr)
        return 2

    if stop_on(check_mutants(chosen), "the mutant list does not match this tree (fix Scripts/mutants.py)"):
        return 2

    env_cache = os.environ.setdefault("FACENET_CACHE_DIR", os.path.join(WORKDIR + "-cache"))
    os.makedirs(env_cache, exist_ok=True)
    log = os.path.join(os.path.dirname(WORKDIR), "facenet-mutants.log")
    open(log, "w").close()
    print(f"copying the tree to {WORKDIR}; log: {log}")
    copy_tree()
    started = time.time()
    code, secs = run(["swift", "build", *SWIFT_FLAGS, "--build-tests"], WORKDIR, log)
    if code != 0:
        print(f"the unchanged tree does not build (see {log})")
        return 1
    print(f"baseline build {secs:.0f} s", flush=True)
    if stop_on(unselected_hints(chosen), "test filters that select nothing (fix the hints in Scripts/mutants.py)"):
        return 2
    if not skip_baseline:
        code, secs = run(test_command(), WORKDIR, log, TIMEOUT)
        if code != 0:
            print(f"the unchanged tree fails its tests ({code}; see {log}): fix that first")
            return 1
        print(f"baseline suite passed in {secs:.0f} s\n", flush=True)

    results = []
    for m in chosen:
        path = os.path.join(WORKDIR, m.file)
        with open(path) as f:
            original = f.read()
        count = original.count(m.find)
        if count != 1:
            results.append((m, "broken", f"the text to replace occurs {count} times", 0))
            print(f"{m.id:22} BROKEN (text occurs {count} times in {m.file})", flush=True)
            continue
        t0 = time.time()
        try:
            with open(path, "w") as f:
                f.write(original.replace(m.find, m.replace))
            code, _ = run(["swift", "build", *SWIFT_FLAGS, "--build-tests"], WORKDIR, log)
            if code != 0:
                outcome, detail = "broken", "does not compile"
            else:
                outcome, detail = "survived", ""
                filters = [m.hint, None] if not full else [None]
                for regex in filters:
                    mark = os.path.getsize(log)
                    code, _ = run(test_command(regex), WORKDIR, log, TIMEOUT)
                    if code != 0:
                        names = failing_tests(log, mark)
                        # "caught" by the tests the mutant names (kernel or stage level), or only
                        # when the whole suite ran ("caught late": a hint or a test is missing).
                        outcome = "caught" if regex else "caught late"
                        detail = ("timed out" if code == "timeout" else
                                  ", ".join(names[:4]) + (f" (+{len(names) - 4})" if len(names) > 4 else "")
                                  if names else f"test process exited {code} (crash)")
                        break
        finally:
            with open(path, "w") as f:
                f.write(original)
        secs = time.time() - t0
        results.append((m, outcome, detail, secs))
        print(f"{m.id:22} {outcome.upper():9} {secs:5.0f} s  {detail}", flush=True)

    caught = sum(r[1].startswith("caught") for r in results)
    late = sum(r[1] == "caught late" for r in results)
    print(f"\nmutants: {caught}/{len(results)} caught ({late} only by the whole suite) "
          f"in {(time.time() - started) / 60:.1f} min")
    print("\n| mutant | area | planted bug | outcome | caught by |\n|---|---|---|---|---|")
    for m, outcome, detail, _ in results:
        print(f"| `{m.id}` | {m.area} | {m.what} | {outcome} | {detail} |")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
