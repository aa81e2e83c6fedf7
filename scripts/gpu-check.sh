#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# WebGPU parity on a machine with a real GPU: Node + dawn.node (npm `webgpu`) on the GPU's Vulkan
# driver, the runtime-matrix body (test/runtimes/body.ts) with backbone-sized cases added; oracle tfjs-cpu
# (an f64 JS conv for the big cases). Prints the machine, the Vulkan setup, the adapter, each check.
#
#   bash scripts/gpu-check.sh --prepare   # HERE (node_modules present): build .gpu-check/, ~30 MB
#   bash scripts/gpu-check.sh             # THERE: offline, installs nothing from the network
#
# There it uses, in this order: a complete node_modules + dist/ if present (npm run build if dist/ is
# missing and npm is there), else the prepared .gpu-check/ (a node bundle of the test, dawn.node, the
# Vulkan loader libvulkan.so.1 and, for machines without Node >= 20, a node binary). Carry .gpu-check.
# Exit: 0 all passed on a hardware adapter; 3 all passed but on a software adapter (not a GPU check);
# 1 a check failed or WebGPU is unavailable; 2 the check could not run.
# Writes gpu-check.json / gpu-check.log to $OUT if set, else out/.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
GC=$ROOT/.gpu-check
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

section() { printf '\n===== %s =====\n' "$*"; }
die() { echo "gpu-check: $*" >&2; exit 2; }

# Decompresses an .xz without relying on xz being installed (python3's lzma as the fallback).
unxz_to() {
  if command -v xz >/dev/null; then xz -dc "$1" >"$2"
  elif command -v python3 >/dev/null; then python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"
  else return 1; fi
}

if [ "${1:-}" = "--prepare" ]; then
  section "prepare $GC"
  [ -d node_modules/webgpu ] || die "node_modules missing: npm ci first"
  npm run build || die "build failed"
  mkdir -p "$GC/lib" "$GC/node_modules/webgpu/dist/linux-x64"
  # One ESM file with tfjs (core, cpu, webgpu), our library and the body; dawn.node stays outside.
  node_modules/.bin/esbuild dist/test/runtimes/server-entry.js --bundle --platform=node --format=esm \
    --target=node18 --external:webgpu --log-level=warning --outfile="$GC/bundle.mjs" \
    --banner:js="import { createRequire as __rleposeCreateRequire } from 'node:module'; const require = __rleposeCreateRequire(import.meta.url);" \
    || die "esbuild failed"
  xz -6 -T0 -f "$GC/bundle.mjs" || die "xz failed"   # -> bundle.mjs.xz (5 MB -> under 1 MB)
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$GC/node_modules/webgpu/"
  DAWN=node_modules/webgpu/dist/linux-x64/dawn.node
  if [ ! -f "$GC/dawn.node.xz" ] || [ "$DAWN" -nt "$GC/dawn.node.xz" ]; then
    xz -6 -T0 -c "$DAWN" >"$GC/dawn.node.xz.tmp" && mv "$GC/dawn.node.xz.tmp" "$GC/dawn.node.xz"
  fi
  VK=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
  if [ -n "$VK" ]; then cp -L "$VK" "$GC/lib/libvulkan.so.1"; else echo "warning: no libvulkan.so.1 here to bring along (apt-get install libvulkan1)"; fi
  NODE_BIN=$(readlink -f "$(command -v node)")
  if [ ! -f "$GC/node.xz" ] || [ "$(cat "$GC/node.version" 2>/dev/null)" != "$(node --version)" ]; then
    echo "compressing $NODE_BIN ($(node --version)); takes a minute or two"
    xz -6 -T0 -c "$NODE_BIN" >"$GC/node.xz.tmp" && mv "$GC/node.xz.tmp" "$GC/node.xz"
    node --version >"$GC/node.version"
  fi
  du -sh "$GC"; ls -la "$GC"
  echo
  echo "Now, on the GPU machine (device run): carry [\".gpu-check\"], command: bash scripts/gpu-check.sh"
  exit 0
fi

OUTDIR=${OUT:-$ROOT/out}
WORK=/tmp/rlepose-gpu-check
mkdir -p "$OUTDIR" "$WORK"
LOG=$OUTDIR/gpu-check.log
exec > >(tee "$LOG") 2>&1

section "machine"
uname -srm
[ -r /etc/os-release ] && . /etc/os-release && echo "${PRETTY_NAME:-}"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
  echo "nvidia-smi: not on PATH"
fi

section "node"
NODE=""
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; then
  NODE=$(command -v node)
elif [ -f "$GC/node.xz" ]; then
  NODE=$WORK/node
  [ -x "$NODE" ] || { unxz_to "$GC/node.xz" "$NODE" && chmod +x "$NODE"; } || die "could not unpack $GC/node.xz"
else
  die "no Node >= 20 on PATH and no $GC/node.xz (run scripts/gpu-check.sh --prepare where node is, carry .gpu-check)"
fi
echo "$NODE $("$NODE" --version)"

section "vulkan"
if ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
  echo "loader: $(ldconfig -p | awk '/libvulkan\.so\.1 / { print $NF; exit }')"
elif [ -f "$GC/lib/libvulkan.so.1" ]; then
  export LD_LIBRARY_PATH=$GC/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "loader: $GC/lib/libvulkan.so.1 (brought along)"
else
  echo "loader: libvulkan.so.1 NOT FOUND: WebGPU (Dawn) will have no Vulkan adapter"
fi
# Where container runtimes mount the NVIDIA driver; its libraries may be missing from ldconfig's cache.
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
done
ICD_DIRS="/etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/icd.d"
for d in $ICD_DIRS; do [ -d "$d" ] && echo "ICDs in $d: $(ls "$d" | tr '\n' ' ')"; done
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  NV_ICD=""
  for d in $ICD_DIRS; do
    for f in "$d"/nvidia_icd*.json; do [ -f "$f" ] && { NV_ICD=$f; break 2; }; done
  done
  if [ -z "$NV_ICD" ]; then
    # The driver is mounted but its ICD manifest is not: write one for its Vulkan library.
    NV_LIB=$(ldconfig -p 2>/dev/null | awk '/libGLX_nvidia\.so\.0 / { print $NF; exit }')
    [ -z "$NV_LIB" ] && NV_LIB=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)
    if [ -n "$NV_LIB" ]; then
      NV_ICD=$WORK/nvidia_icd.json
      printf '{ "file_format_version": "1.0.0", "ICD": { "library_path": "%s", "api_version": "1.3.0" } }\n' "$NV_LIB" >"$NV_ICD"
      echo "wrote $NV_ICD for $NV_LIB"
    fi
  fi
  case "$NV_ICD" in
    "") echo "no NVIDIA Vulkan ICD found: the loader's defaults decide" ;;
    /etc/vulkan/*|/usr/share/vulkan/*|/usr/local/share/vulkan/*) echo "NVIDIA ICD: $NV_ICD (standard location)" ;;
    *) export VK_DRIVER_FILES=$NV_ICD VK_ICD_FILENAMES=$NV_ICD; echo "NVIDIA ICD: $NV_ICD (VK_DRIVER_FILES set)" ;;
  esac
else
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-} VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-} (kept)"
fi
[ -n "${NV_ICD:-}" ] && [ -f "$NV_ICD" ] && cat "$NV_ICD"
command -v vulkaninfo >/dev/null && { vulkaninfo --summary 2>/dev/null | sed -n '/Devices:/,$p' | head -30; }

section "webgpu parity (node + dawn.node; oracle tfjs-cpu, f64 JS for the big cases)"
ENTRY=""
if [ -f node_modules/@tensorflow/tfjs-backend-webgpu/package.json ] && [ -f node_modules/webgpu/dist/linux-x64/dawn.node ]; then
  if [ ! -f dist/test/runtimes/server-entry.js ] && command -v npm >/dev/null; then npm run build >/dev/null || die "npm run build failed"; fi
  [ -f dist/test/runtimes/server-entry.js ] && ENTRY=dist/test/runtimes/server-entry.js
fi
if [ -z "$ENTRY" ]; then
  [ -f "$GC/bundle.mjs.xz" ] || die "neither node_modules + dist nor $GC/bundle.mjs.xz (run scripts/gpu-check.sh --prepare, carry .gpu-check)"
  # Unpacked outside the repo so .gpu-check stays as carried; the bundle finds `webgpu` beside it.
  mkdir -p "$WORK/node_modules/webgpu/dist/linux-x64"
  cp "$GC/node_modules/webgpu/index.js" "$GC/node_modules/webgpu/package.json" "$WORK/node_modules/webgpu/"
  unxz_to "$GC/dawn.node.xz" "$WORK/node_modules/webgpu/dist/linux-x64/dawn.node" || die "could not unpack $GC/dawn.node.xz"
  unxz_to "$GC/bundle.mjs.xz" "$WORK/bundle.mjs" || die "could not unpack $GC/bundle.mjs.xz"
  ENTRY=$WORK/bundle.mjs
fi
echo "entry: $ENTRY"
START=$SECONDS
RLEPOSE_PARITY=large timeout 400 "$NODE" "$ENTRY" webgpu >"$OUTDIR/gpu-check.json" 2>"$OUTDIR/gpu-check.stderr"
RC=$?
echo "ran in $((SECONDS - START)) s, exit $RC"
grep -v 'artificially reduced' "$OUTDIR/gpu-check.stderr" | tail -20

REPORT="$OUTDIR/gpu-check.json" "$NODE" --input-type=module -e '
import { readFileSync } from "node:fs";
const lines = readFileSync(process.env.REPORT, "utf8").split("\n").filter((l) => l.startsWith("{"));
const r = lines.length ? JSON.parse(lines[lines.length - 1]) : null;
if (!r) { console.log("NO REPORT"); process.exit(2); }
let bad = 0;
for (const c of r.checks) { console.log(`${c.status.padEnd(6)} ${c.name}`); if (c.status !== "pass") bad++; }
console.log("(ms: one first call each, shader compilation included: not a benchmark)");
for (const b of r.backends) {
  console.log(`\n[${b.name}] ${b.available ? "available" : "UNAVAILABLE: " + b.unavailable}`);
  if (b.adapter) console.log("adapter: " + JSON.stringify(b.adapter));
  if (b.info) console.log("info: " + JSON.stringify(b.info));
  for (const c of b.checks) {
    console.log(`  ${c.status.padEnd(6)} ${c.name.padEnd(52)} relErr ${c.relErr === undefined ? "-" : c.relErr.toExponential(2)}  ${c.ms ?? "-"} ms${c.detail ? "  " + c.detail : ""}`);
    if (c.status !== "pass") bad++;
  }
}
const gpu = r.backends.find((b) => b.name === "webgpu");
if (!gpu || !gpu.available) { console.log("\nRESULT: FAIL (WebGPU unavailable)"); process.exit(1); }
if (bad) { console.log(`\nRESULT: FAIL (${bad} check(s))`); process.exit(1); }
if (gpu.adapter && gpu.adapter.software) { console.log("\nRESULT: passed, but on a SOFTWARE adapter: not a GPU check"); process.exit(3); }
console.log("\nRESULT: PASS on a hardware adapter");
'
VERDICT=$?
if [ "$VERDICT" = 1 ] && grep -q 'requestAdapter() returned null' "$OUTDIR/gpu-check.json"; then
  section "no adapter: Vulkan loader diagnostics"
  if [ "$ENTRY" = "$WORK/bundle.mjs" ]; then WG=$WORK/node_modules/webgpu/index.js; else WG=$ROOT/node_modules/webgpu/index.js; fi
  VK_LOADER_DEBUG=error,warn,driver timeout 60 "$NODE" --input-type=module -e "
    const { create } = await import('$WG');
    const a = await create([]).requestAdapter();
    console.log('adapter:', a ? JSON.stringify(a.info) : null); process.exit(0);" 2>&1 | head -60
fi
[ "$RC" = 0 ] || [ "$VERDICT" != 0 ] || VERDICT=2
exit "$VERDICT"
