#!/usr/bin/env bash
# Installs the Debian packages the engine builds against, when any is missing.
# libopenblas-dev: cblas_sgemm; libhdf5-dev: Keras weights; libjpeg-dev, libpng-dev: photos;
# libwebp-dev: WebP photos (web galleries, some saved as .jpg; Docs/formats.md);
# libsqlite3-dev: the embedded gallery store (GRDB; Docs/search.md says why SQLite);
# pkg-config: how SwiftPM finds their flags.
set -euo pipefail
packages=(libopenblas-dev libhdf5-dev libjpeg-dev libpng-dev libwebp-dev libsqlite3-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
