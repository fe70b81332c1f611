#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Install the Debian packages the project needs, if any are missing.
# Not root: print the exact apt-get line and fail.
set -eu

# libc6-dev: glibc's libc.a, for the static init of `make bench
# BENCH=fault` and its smoke in `make test` (tools/initramfs.py).
# make vmtest (tools/vmtest_image.py): busybox-static, bash, cpio,
# trace-cmd, procps (pgrep) and psmisc (killall) go into the guest's
# image; gcc-12-multilib builds the i386 selftests (-m32 -static).  Not
# gcc-multilib: Debian's gcc-multilib conflicts with gcc-aarch64-linux-gnu
# (installing one removes the other); gcc-12-multilib does not.
PKGS="linux-source-6.12 qemu-system-x86 gcc make bc bison flex libelf-dev
libssl-dev cpio python3 ccache git quilt patch xz-utils busybox-static
gcc-aarch64-linux-gnu qemu-system-arm
rsync perl python3-ply python3-git python3-mypy libc6-dev
trace-cmd gcc-12-multilib procps psmisc"

# One dpkg-query for all packages: a fork per package costs a second on a
# busy machine, and `make` runs this check before anything else.
# shellcheck disable=SC2086
installed=" $(dpkg-query -W -f='${Package} ${Status}\n' $PKGS 2>/dev/null |
	awk '$NF == "installed" && $(NF-1) == "ok" { printf "%s ", $1 }')"
missing=""
for p in $PKGS; do
	case "$installed" in
	*" $p "*) ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "setup: all packages present"
	exit 0
fi

echo "setup: missing packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: not root; run as root:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# An interrupted earlier install leaves dpkg half-configured: finish it first.
dpkg --configure -a
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
