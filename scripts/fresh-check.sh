#!/usr/bin/env bash
# Proves the README's two commands on a fresh machine: builds a minimal Debian 12 root with
# `debootstrap --variant=minbase bookworm`, copies in a bare clone of this repository (HEAD, with
# nothing beside it), runs the two commands inside it as root (chroot), and prints each one's
# exit code and time. Not part of .ci/run: it takes 20-40 minutes and needs root.
#   usage: scripts/fresh-check.sh [WORK_DIR]   (default /var/tmp/edgeset-fresh; removed first)
# The mirror is the host's Debian mirror (from /etc/apt), or $MIRROR.
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: run as root (debootstrap, chroot, mount)" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/var/tmp/edgeset-fresh}
root=$work/root
mirror=${MIRROR:-$( (grep -rhoE '^(URIs:|deb) +http[^ ]*debian/?( |$)' /etc/apt/sources.list \
                     /etc/apt/sources.list.d/ 2>/dev/null || true) | awk '{print $2}' | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}

command -v debootstrap >/dev/null ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }

mounts=(proc sys dev dev/shm)
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    mountpoint -q "$root/${mounts[i]}" && umount -l "$root/${mounts[i]}"
  done
  return 0
}
trap cleanup EXIT

cleanup
rm -rf "$work"
mkdir -p "$work"
echo "fresh-check: debootstrap --variant=minbase bookworm from $mirror"
t0=$(date +%s)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
echo "fresh-check: root made in $(($(date +%s) - t0)) s"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount -t tmpfs -o mode=1777 shm "$root/dev/shm"

# a bare clone of HEAD: what a user gets, with nothing beside it (no ../shared)
git clone -q --no-local "$src" "$root/work/edgeset"
rm -rf "$root/work/edgeset/.git/hooks"
echo "fresh-check: cloned $(git -C "$src" rev-parse --short HEAD) into /work/edgeset"

# The README's first two commands, taken from the README itself.
mapfile -t cmds < <(awk '/^```sh$/ {on=1; next} on && /^```$/ {exit} on' "$src/README.md" |
                    sed 's/[[:space:]]*#.*$//' | grep -v '^[[:space:]]*$' | head -n 2)
[ ${#cmds[@]} -eq 2 ] || { echo "fresh-check: README does not start with two commands" >&2; exit 2; }
status=0
for i in 0 1; do
  log=$work/command$((i + 1)).log
  t0=$(date +%s)
  set +e
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    /bin/bash -c "cd /work/edgeset && ${cmds[i]}" >"$log" 2>&1
  rc=$?
  set -e
  dt=$(($(date +%s) - t0))
  printf 'fresh-check: `%s`: exit %d in %d s (log %s)\n' "${cmds[i]}" "$rc" "$dt" "$log"
  [ "$rc" -eq 0 ] || { tail -n 30 "$log"; status=1; }
done
exit "$status"
