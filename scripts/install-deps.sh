#!/usr/bin/env bash
# Installs the Debian packages podinit's demo, tests and benchmarks drive, if any is missing:
# OCI runtimes (runc, crun), the static busybox the demo rootfs is built from, tini (the
# benchmark's anchor), iproute2, podman (the container-engine tests), containerd (the CRI tests,
# integration/cri.rs), protobuf-compiler (protoc: the k8s-cri dev-dependency compiles the CRI
# protos at build time), python3 (the test agent), hyperfine (benchmarks). Needs root (apt-get);
# a no-op when everything is there.
set -euo pipefail
PACKAGES=(runc crun busybox-static tini iproute2 podman containerd protobuf-compiler python3 hyperfine)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}; run this as root (or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "apt-get failed" >&2
    exit 1
fi
rm -f "$log"
