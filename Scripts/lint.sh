#!/usr/bin/env bash
# Lints the Swift sources with the toolchain's `swift format lint --strict`, configured by
# .swift-format, and exits 1 on any finding it gates (see CONTRIBUTING.md, "Style").
# Usage: bash Scripts/lint.sh [FILE...]   (default: every .swift file of Sources, Tests,
# Benchmarks and Fuzz, and the manifests; git's untracked files included, ignored ones not;
# generated code, *.pb.swift from Scripts/generate-protos.sh, left out)
#
# Gated: every rule that .swift-format switches on, and the layout findings the tree already
# satisfies: TrailingWhitespace, RemoveLine (blank lines beyond one, `}` and `else` apart),
# SpacingCharacter (tabs). Not gated, only counted: Indentation, AddLines, LineLength,
# Spacing, TrailingComma and EndOfLineComment. Those are where swift-format's pretty printer
# would lay the code out otherwise than the tree's hand layout (continuation lines aligned
# under their opening parenthesis, one-line bodies, aligned columns, a few lines over 130
# columns), ~2,000 places in all; no configuration key turns them off (swift-format issue
# #764), and reformatting every file would collide with all the work in flight.
set -uo pipefail
cd "$(dirname "$0")/.."
ungated='^(Indentation|AddLines|LineLength|Spacing|TrailingComma|EndOfLineComment)$'
start=$SECONDS

if (($#)); then
    files=("$@")
elif git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.swift' \
        | grep -E '^((Sources|Tests|Benchmarks|Fuzz)/.*|Package)\.swift$' | grep -v -E '\.pb\.swift$' \
        | while read -r f; do [[ -f "$f" ]] && echo "$f"; done)
else
    mapfile -t files < <(find Sources Tests Benchmarks Fuzz -name .build -prune -o -name '*.swift' ! -name '*.pb.swift' -print; ls Package.swift)
fi
if ((${#files[@]} == 0)); then
    echo "lint: no Swift files found"
    exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift format lint --strict --parallel "${files[@]}" > "$log" 2>&1
# file:line:column: error: [Category] message. Anything else is the tool failing (a file
# it cannot parse, a bad configuration).
awk -v ungated="$ungated" '
    match($0, /: (error|warning): \[[A-Za-z]+\] /) {
        tag = substr($0, RSTART, RLENGTH); sub(/^.*\[/, "", tag); sub(/\] $/, "", tag)
        if (seen[$0]++) next
        if (tag ~ ungated) { counted[tag]++; layout++ } else { print; gated++ }
        next
    }
    NF { print "lint: swift format: " $0; failed++ }
    END {
        summary = ""
        for (t in counted) summary = summary sprintf("%s%s %d", summary == "" ? "" : ", ", t, counted[t])
        printf "lint: %d findings in gated categories; %d layout findings not gated%s\n", gated, layout,
               summary == "" ? "" : " (" summary ")"
        exit (gated > 0 || failed > 0) ? 1 : 0
    }' "$log"
status=$?
echo "lint: ${#files[@]} files in $((SECONDS - start)) s"
exit "$status"
