#!/usr/bin/env bash
# Installs the Debian packages podinit's demo, tests and benchmarks drive, if any is missing:
# OCI runtimes (runc, crun), the static busybox the demo rootfs is built from, tini (the
# benchmark's anchor), iproute2, podman (the container-engine tests), containerd (the CRI tests,
# integration/cri/), protobuf-compiler (protoc: the k8s-cri dev-dependency compiles the CRI
# protos at build time), python3 (the test agent), hyperfine (benchmarks), qemu-system-x86 and
# the Debian cloud kernel linux-image-cloud-amd64 (`podinit run --vm`, integration/vm.rs), and
# qemu-utils: installing qemu-system-x86 7.2 removes a newer (backports) qemu-utils, so qemu-img
# comes back in the matching version. Needs root (apt-get); a no-op when everything is there.
set -euo pipefail
PACKAGES=(runc crun busybox-static tini iproute2 podman containerd protobuf-compiler python3 hyperfine
          qemu-system-x86 qemu-utils linux-image-cloud-amd64)
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
# A newer qemu-utils counts as installed, yet installing qemu-system-x86 removes it: bring it
# back in the matching version after the main install (below).
restore_qemu_img=""
if [[ " ${missing[*]} " == *" qemu-system-x86 "* ]]; then
    restore_qemu_img=1
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
if [ -n "$restore_qemu_img" ] && ! command -v qemu-img >/dev/null 2>&1; then
    echo "installing: qemu-utils (qemu-system-x86 replaced the installed one)"
    if ! apt-get install -y -q --no-install-recommends qemu-utils >"$log" 2>&1; then
        cat "$log" >&2
        echo "apt-get failed (qemu-utils)" >&2
        exit 1
    fi
fi
rm -f "$log"
