#!/usr/bin/env bash
# Pack imgpipe and the Node runtime into one tarball for YARN containers, as conda-pack/venv-pack
# do for Python envs: ship it with `spark3-submit --archives imgpipe-runtime.tgz#imgpipe`, and each
# container finds ./imgpipe/bin/imgpipe in its working directory.
#
# Run it on the OS the YARN nodes run (same glibc and CPU architecture): sharp, onnxruntime-node and
# DuckDB are native modules. For GPU executors: ONNXRUNTIME_NODE_INSTALL=cuda12 ./pack-runtime.sh.
# If a step fails, the script stops (set -e) and no tarball is written.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
out="${1:-$PWD/imgpipe-runtime.tgz}"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

cd "$repo"
npm ci --no-audit --no-fund
npm run build --silent
mkdir -p "$stage/bin"
cp -r dist models package.json package-lock.json .npmrc "$stage/"
# Production modules only; `prepare` (tsc) is a build step, already done above.
(cd "$stage" && npm pkg delete scripts.prepare && npm ci --omit=dev --no-audit --no-fund)
cp "$(command -v node)" "$stage/bin/node"
cat > "$stage/bin/imgpipe" <<'LAUNCH'
#!/bin/sh
# imgpipe from the packed runtime: its own node, its own modules.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/node" "$here/../dist/src/cli/bin.js" "$@"
LAUNCH
chmod +x "$stage/bin/imgpipe"
"$stage/bin/imgpipe" doctor >/dev/null
tar -C "$stage" -czf "$out" .
echo "$out"
