#!/usr/bin/env bash
# Builds the libFuzzer targets and fuzzes each for SECONDS (default 600), two at a time.
#
#   Fuzz/run.sh [SECONDS] [TARGET...]     TARGET: FuzzKerasJSON FuzzHDF5Weights FuzzGraphDef FuzzJPEG FuzzPNG
#
# Seeds: Fuzz/corpus/<target>/ (committed, minimised) plus Fuzz/work/seeds/<target>/ (the
# real files and the regression corpus Tests/Fixtures/fuzz/<target>/,
# gathered here, not committed). New inputs go to Fuzz/work/corpus/<target>/,
# crashes, timeouts and OOMs to Fuzz/work/crashes/<target>/, logs to Fuzz/work/logs/.
# Environment: FUZZ_JOBS (parallel targets, default 2), FUZZ_FLAGS (extra libFuzzer flags),
# FUZZ_HDF5_HELPER=path/to/facenet (HDF5 target loads through the child-process loader),
# FUZZ_KEEP_GOING=1 (libFuzzer -fork mode: carry on after a crash, collecting them all).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
seconds=${1:-600}
shift || true
all=(FuzzKerasJSON FuzzHDF5Weights FuzzGraphDef FuzzJPEG FuzzPNG)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
jobs=${FUZZ_JOBS:-2}
work=$here/work

# The release configuration, as shipped: the parsers keep Swift's bounds, overflow and
# precondition checks (-O), and only FaceNetKernels is -Ounchecked (see Package.swift).
build_flags=(-c release --package-path "$here" --scratch-path "$here/.build"
    -Xswiftc -sanitize=fuzzer,address
    -Xcc -O1 -Xcc -fsanitize=fuzzer-no-link,address)
echo "building: swift build ${build_flags[*]}"
swift build "${build_flags[@]}" 2>&1 | grep -v -e 'warning: Cannot export local symbol' -e '^\[' || true
bin=$(swift build "${build_flags[@]}" --show-bin-path)

# The real files each target starts from (big ones stay out of the committed corpus).
gather_seeds() {
    local target=$1 dir=$work/seeds/$1 fixtures=$root/Tests/Fixtures shared=$root/../shared
    rm -rf "$dir"  # gathered afresh: a helper run's libhdf5-* seeds must not reach an in-process run
    mkdir -p "$dir"
    case $target in
        # The whole FaceNet topologies (140–420 KB) parse at ~15/s under ASan: the committed
        # corpus has their first blocks instead (Fuzz/corpus/FuzzKerasJSON/*_head.json).
        FuzzKerasJSON) cp "$root"/Weights/mtcnn/*.json "$dir"/ ;;
        FuzzHDF5Weights) cp "$fixtures"/h5/*.h5 "$root"/Weights/mtcnn/pnet.h5 "$dir"/
                         [ -f "$shared/models/mtcnn/rnet.h5" ] && cp "$shared/models/mtcnn/rnet.h5" "$dir"/ ;;
        FuzzGraphDef) cp "$fixtures"/graph/*.pb "$dir"/ ;;
        FuzzJPEG) cp "$fixtures"/images/*.jpg "$dir"/
                  ls "$shared"/faces/photos/*.jpg 2>/dev/null | head -3 | xargs -r cp -t "$dir"/ ;;
        FuzzPNG) cp "$fixtures"/images/*.png "$dir"/
                 ls "$shared"/faces/crops/*.png 2>/dev/null | head -3 | xargs -r cp -t "$dir"/ ;;
    esac
    # The regression corpus (ok-/err-: Scripts/make_fuzz_regression_inputs.py, past finds).
    # Its libhdf5-* inputs crash libhdf5 in-process: only with the helper are they seeds.
    local input
    for input in "$fixtures/fuzz/$target"/*; do
        [ -f "$input" ] || continue
        case $(basename "$input") in
            libhdf5-*) [ -n "${FUZZ_HDF5_HELPER:-}" ] || continue ;;
        esac
        cp "$input" "$dir"/
    done
}

fuzz_one() {
    local target=$1 log=$work/logs/$1.log
    mkdir -p "$work/corpus/$target" "$work/crashes/$target" "$work/logs" "$here/corpus/$target"
    gather_seeds "$target"
    local mode=() max_len=2097152
    [ "$target" = FuzzKerasJSON ] && max_len=65536
    # libhdf5 leaks small blocks on its error paths; that is not ours to fix or a crash.
    local asan=${ASAN_OPTIONS:-}
    [ "$target" = FuzzHDF5Weights ] && asan=detect_leaks=0${asan:+:$asan}
    [ "${FUZZ_KEEP_GOING:-0}" = 1 ] && mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    # shellcheck disable=SC2086
    ASAN_OPTIONS=$asan "$bin/$target" "${mode[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$work/crashes/$target/" ${FUZZ_FLAGS:-} \
        "$work/corpus/$target" "$here/corpus/$target" "$work/seeds/$target" >"$log" 2>&1 || true
    summarize "$target"
}

# One line per target: executions, coverage, corpus size and the crash files found.
summarize() {
    local target=$1 log=$work/logs/$1.log
    local runs cov crashes
    # (|| true: a missing line, e.g. no final stats in -fork mode, must not end the run.)
    runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}' || true)
    [ -n "$runs" ] || runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 || true)
    crashes=$(find "$work/crashes/$target" -type f | wc -l)
    printf '%-16s %ss  runs=%s  %s  crash/timeout/oom files=%s  (log %s)\n' \
        "$target" "$seconds" "${runs:-?}" "${cov:-cov: ?}" "$crashes" "$log"
}

for target in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    fuzz_one "$target" &
done
wait
