#!/usr/bin/env bash
# Builds the `loyalty` binary (any extra arguments go to cargo, e.g. --release) and prints
# where cargo put it: the path cargo reports, so CARGO_TARGET_DIR and other layouts work.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p loyalty-cli --message-format=json-render-diagnostics "$@" |
  node -e '
    let path = "";
    require("readline").createInterface({ input: process.stdin }).on("line", (line) => {
      const m = JSON.parse(line);
      if (m.reason === "compiler-artifact" && m.executable && m.target.name === "loyalty") path = m.executable;
    }).on("close", () => { if (!path) process.exit(1); console.log(path); });'
