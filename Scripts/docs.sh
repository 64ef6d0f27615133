#!/usr/bin/env bash
# Builds the DocC documentation with swift-docc-plugin and fails on any warning; then checks
# the articles' Swift snippets. Usage: bash Scripts/docs.sh [OUTPUT_DIR]  (default /tmp/docs)
#
# One combined archive of FaceNetKit and the modules it re-exports (FaceNetKernels,
# FaceNetEngine, FaceNetVision), plus FaceNetTools: a re-exported symbol is not in
# FaceNetKit's own symbol graph, so it is documented on its module's pages, and the
# FaceNetKit catalog links there with ``/Module/Symbol`` (the plugin's
# --enable-experimental-combined-documentation; without it those links do not resolve).
# The plugin builds the five targets in debug to extract their symbol graphs (.build/debug).
#
# Snippets: every ```swift block of Sources/FaceNetKit/FaceNetKit.docc (except manifests,
# whose first line is `// Package.swift`) must occur line for line, indentation aside, in
# Tests/FaceNetKitTests/DocSnippets.swift, and that file must type-check on its own outside
# the package against the modules just built: the public API only, as an app sees it.
# DocSnippetsTests runs the same code in the test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
output=${1:-/tmp/docs}
catalog=Sources/FaceNetKit/FaceNetKit.docc
snippets=Tests/FaceNetKitTests/DocSnippets.swift
targets=(FaceNetKernels FaceNetEngine FaceNetVision FaceNetKit FaceNetTools)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0

start=$SECONDS
mkdir -p "$output"
target_args=()
for t in "${targets[@]}"; do target_args+=(--target "$t"); done
if ! swift package --allow-writing-to-directory "$output" generate-documentation "${target_args[@]}" \
    --enable-experimental-combined-documentation --warnings-as-errors --output-path "$output" > "$log" 2>&1; then
    status=1
fi
# DocC's diagnostics start their line ("warning: …", errors under --warnings-as-errors);
# the compiler's and SwiftPM's carry "warning:" after a location. Any of them fails the step,
# except SwiftPM's note about a dependency's own unlisted files (ZIPFoundation ships an
# Apple privacy manifest it does not declare), which no change here can fix.
diagnostics=$(grep -E '(^|: )(warning|error): ' "$log" | grep -v -E "^warning: '[a-z0-9_.-]+': found [0-9]+ file\(s\) which are unhandled" \
    | grep -c -v '^error: .docc convert. invocation failed\|^error: unspecified')
warnings=$(grep -c -E '(^|: )warning: ' "$log")
if ((status != 0 || diagnostics != 0)); then
    grep -v -E '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Wrapping|Linking)' "$log" | tail -80
    echo "docs: FAILED ($diagnostics diagnostics, DocC's warnings counted as errors; $warnings other warnings)"
    status=1
else
    echo "docs: $output, ${#targets[@]} modules, 0 warnings, built in $((SECONDS - start)) s"
fi

# Snippets, from the articles, whitespace-trimmed per line, blank lines dropped.
normalise() { sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' | grep -v '^$'; }
haystack=$(normalise < "$snippets")
imports=$(grep -E '^import ' "$snippets")
checked=0
for article in "$catalog"/*.md; do
    # Each block as one record, its lines joined by \x1f.
    while IFS= read -r -d $'\x1e' block; do
        [[ -z "$block" ]] && continue
        text=$(printf '%s' "$block" | tr '\037' '\n' | normalise)
        [[ "$(head -1 <<< "$text")" == "// Package.swift" ]] && continue
        checked=$((checked + 1))
        while IFS= read -r line; do
            if ! grep -qxF "$line" <<< "$imports"; then
                echo "snippets: $article: '$line' is not among $snippets's imports"
                status=1
            fi
        done < <(grep -E '^import ' <<< "$text")
        body=$(grep -v -E '^import ' <<< "$text")
        if [[ "$haystack" != *"$body"* ]]; then
            echo "snippets: $article: this block is not in $snippets (line for line):"
            sed 's/^/    /' <<< "$body"
            status=1
        fi
    done < <(awk '/^```swift[[:space:]]*$/ { inside = 1; block = ""; next }
                 /^```/ && inside { inside = 0; printf "%s\036", block; next }
                 inside { block = block $0 "\037" }' "$article")
done

bin=$(swift build --show-bin-path)
flags=(-I "$bin/Modules")
for map in "$bin"/*.build/module.modulemap Sources/*/module.modulemap .build/checkouts/*/Sources/*/module.modulemap; do
    [[ -f "$map" ]] && flags+=(-Xcc "-fmodule-map-file=$map")
done
for include in $(pkg-config --cflags-only-I hdf5 libjpeg libpng 2>/dev/null); do flags+=(-Xcc "$include"); done
if swiftc -typecheck "${flags[@]}" "$snippets" > "$log" 2>&1 && ! grep -q 'warning:' "$log"; then
    echo "snippets: $checked Swift blocks of $catalog found in $snippets, which type-checks against the public API"
else
    cat "$log"
    echo "snippets: FAILED: $snippets does not type-check cleanly outside the package (public API only)"
    status=1
fi
exit "$status"
