#!/usr/bin/env bash
# Runs the whole test suite: installs the Debian packages if missing, then `swift test` in
# release mode (with testing enabled) so the full-size golden tests stay fast. The suite is
# XCTest only, so Swift Testing's empty run is switched off. Tests that need ../shared
# skip with a reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash Scripts/install-deps.sh
swift test -c release -Xswiftc -enable-testing --disable-swift-testing "$@"
