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
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/facenet-consumer.XXXXXX")
trap 'rm -rf "$work"' EXIT

bash "$root/Scripts/fetch-weights.sh" >/dev/null
git clone --quiet --no-local "$root" "$work/FaceNetSwift"
git -C "$work/FaceNetSwift" tag 0.999.0

mkdir -p "$work/consumer/Sources/consumer"
cat > "$work/consumer/Package.swift" <<MANIFEST
// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "consumer",
    dependencies: [.package(url: "file://$work/FaceNetSwift", from: "0.1.0")],
    targets: [
        .executableTarget(name: "consumer", dependencies: [.product(name: "FaceNetKit", package: "FaceNetSwift")]),
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
