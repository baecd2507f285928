#!/usr/bin/env bash
# docker/base-image.sh [TAG] — build the Debian 12 base image (default tag debian:12, the image
# docker/Dockerfile starts FROM) with debootstrap, for a Docker engine that cannot pull from
# Docker Hub. As root, on a Debian machine (apt-get install debootstrap).
#   DEBIAN_MIRROR  the Debian mirror to bootstrap from and to write into the image's apt
#                  sources (default http://deb.debian.org/debian)
# Certificates this host trusts beyond Debian's bundle (/usr/local/share/ca-certificates, such
# as a TLS-intercepting proxy's CA) are trusted in the image too, and pip is pointed at the
# system bundle (PIP_CERT): pip otherwise trusts only its own copy of certifi.
set -euo pipefail
tag=${1:-debian:12}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ "$(id -u)" -ne 0 ]; then echo "base-image.sh: debootstrap needs root" >&2; exit 4; fi
command -v debootstrap >/dev/null || { echo "base-image.sh: apt-get install debootstrap" >&2; exit 5; }
rootfs=$(mktemp -d /var/tmp/base-image.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT

debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
  > "$rootfs.log" 2>&1 || { tail -20 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
cat > "$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
EOF

changes=(--change 'CMD ["bash"]')
extra_cas=(/usr/local/share/ca-certificates/*.crt)
if [ -e "${extra_cas[0]}" ]; then
  cp "${extra_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  changes+=(--change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt')
fi
# what Docker Hub's debian images leave out: downloaded packages and package lists
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import "${changes[@]}" - "$tag"
