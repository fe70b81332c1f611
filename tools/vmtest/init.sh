#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the `make vmtest` initramfs (tools/vmtest_image.py packs it
# with busybox, bash, trace-cmd and the mm selftests of the tree).
#
# The kernel console (ttyS0) keeps the kernel log for the splat scan;
# every result goes to the second serial port (ttyS1), one "VMTEST ..."
# record a line (tools/vmtest_parse.py reads them):
#
#   VMTEST kernel <uname -r> <uname -m>
#   VMTEST test <name> pass|fail|skip <why>
#   VMTEST log <name> / <output lines> / VMTEST endlog <name>
#   VMTEST ino <label> <inode of the cgroup directory> <cgroup path>
#   VMTEST lines <source> / <trace lines> / VMTEST endlines <source>
#   VMTEST done
#
# The hugetlb selftests (hugetlb.sh main) run in the background while
# writeback.sh writes and syncs in cgroups with every writeback event
# enabled; then the writers' cgroups go, the two hugetlb cgroup scripts
# run (they make /a and /a/b themselves), and the guest reboots (QEMU
# runs with -no-reboot and exits).
set -u
/bin/busybox mkdir -p /proc /sys /dev /tmp /cg /wb /mnt /out
/bin/busybox --install -s /bin
# /usr/bin first: killall --wait is psmisc's, not busybox's.
export PATH=/usr/bin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug

exec 3>/dev/ttyS1
stty -F /dev/ttyS1 raw -echo 2>/dev/null
echo "VMTEST kernel $(uname -r) $(uname -m)" >&3

# /tmp: ext2 on brd (hugetlb_dio needs O_DIRECT there); /wb: the writer's.
mke2fs -F /dev/ram1 >/dev/null && mount -t ext2 /dev/ram1 /tmp
mke2fs -F /dev/ram0 >/dev/null && mount -t ext2 /dev/ram0 /wb

parts=$(sed -n 's/.*vmtest.parts=\([^ ]*\).*/\1/p' /proc/cmdline)
parts=${parts:-hugetlb,writeback}
case ",$parts," in
*,hugetlb,*) ;;
*) echo "VMTEST note hugetlb selftests not selected (vmtest.parts=$parts)" >&3 ;;
esac

. /vmtest/writeback.sh
wb_setup

case ",$parts," in
*,hugetlb,*)
	sh /vmtest/hugetlb.sh main > /out/hugetlb.records 2>&1 &
	hpid=$! ;;
*)	hpid= ;;
esac

case ",$parts," in
*,writeback,*) wb_run "$hpid" ;;
*) [ -n "$hpid" ] && wait "$hpid" ;;
esac
wb_cleanup
if [ -n "$hpid" ]; then
	sh /vmtest/hugetlb.sh cgroup >> /out/hugetlb.records 2>&1
	cat /out/hugetlb.records >&3
fi

echo "VMTEST done" >&3
sync
reboot -f
