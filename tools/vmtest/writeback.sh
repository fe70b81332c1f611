# SPDX-License-Identifier: GPL-2.0
#
# The writeback end-to-end scenario; init.sh sources this file.
#
# cgroup2 with the memory and io controllers, a writer in /a/b/c and one
# in a deep sibling whose path is longer than the 255 characters the
# cgroup= field keeps (WB_TRACE_CGROUP_PATH_MAX), ext2 on brd.  Every
# writeback event is on in a trace instance of our own ("vmtest", read
# as text) while trace-cmd records them in the top-level buffer; the
# writers dirty and sync, first under `trace-cmd record`, then once a
# second until the hugetlb selftests are done.  tools/vmtest_parse.py
# checks the lines: cgroup= and cgroup_ino= of each writer's cgroup.
T=/sys/kernel/tracing
I=$T/instances/vmtest
CG=/cg

long_name() {	# prefix: a cgroup name of 100 characters
	printf '%s' "$1"
	printf '%*s' $((100 - ${#1})) '' | tr ' ' x
}

wb_setup() {
	mount -t cgroup2 none $CG
	L1=$(long_name deep1-)
	L2=$(long_name deep2-)
	L3=$(long_name deep3-)
	C=$CG/a/b/c
	LONG=$CG/a/b/$L1/$L2/$L3
	mkdir -p $C "$LONG"
	for d in $CG $CG/a $CG/a/b "$CG/a/b/$L1" "$CG/a/b/$L1/$L2"; do
		echo "+memory +io" > "$d/cgroup.subtree_control"
	done
	echo "VMTEST ino c $(stat -c %i $C) ${C#$CG}" >&3
	echo "VMTEST ino long $(stat -c %i "$LONG") ${LONG#$CG}" >&3
	mkdir -p /wb/c /wb/long
	mkdir $I
	echo 4096 > $I/buffer_size_kb
	echo 1 > $I/events/writeback/enable
}

wb_write() {	# cgroup directory, file: dirty 1 MiB there and sync
	sh -c 'echo $$ > "$1/cgroup.procs" &&
		dd if=/dev/zero of="$2" bs=64k count=16 2>/dev/null && sync' \
	    sh "$1" "$2"
}

wb_lines() {	# source, command...: the lines of both writers' cgroups
	src=$1
	shift
	echo "VMTEST lines $src"
	"$@" 2>&1 |
	    grep -E "cgroup_ino=($ino_c|$ino_long)( |\$)| cgroup=(/a/b/|\.\.\.)" |
	    head -n 2000
	echo "VMTEST endlines $src"
}

wb_run() {	# pid of the hugetlb selftests, or empty
	ino_c=$(stat -c %i $C)
	ino_long=$(stat -c %i "$LONG")
	trace-cmd record -e writeback -o /out/trace.dat \
	    sh -c ". /vmtest/writeback.sh; C='$C'; LONG='$LONG';
		wb_write \$C /wb/c/file; wb_write \"\$LONG\" /wb/long/file" \
	    > /out/trace-cmd.log 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "VMTEST test writeback/trace-cmd-record pass exit 0" >&3
	else
		echo "VMTEST test writeback/trace-cmd-record fail exit $rc" >&3
	fi
	n=0
	while [ -n "$1" ] && kill -0 "$1" 2>/dev/null; do
		wb_write $C /wb/c/churn$((n % 4))
		wb_write "$LONG" /wb/long/churn$((n % 4))
		n=$((n + 1))
		sleep 1
	done
	[ -n "$1" ] && wait "$1"
	[ "$n" -eq 0 ] && wb_write $C /wb/c/after && wb_write "$LONG" /wb/long/after
	echo 0 > $I/tracing_on
	echo "VMTEST note writers: $n rounds beside the hugetlb selftests" >&3
	{
		wb_lines text cat $I/trace
		wb_lines trace-cmd-report trace-cmd report -i /out/trace.dat
		wb_lines trace-cmd-report-raw trace-cmd report -R -i /out/trace.dat
		echo "VMTEST log writeback/trace-cmd-record"
		sed 's/^/| /' /out/trace-cmd.log
		echo "VMTEST endlog writeback/trace-cmd-record"
	} >&3
}

wb_cleanup() {	# remove the writers' cgroups (the deepest first)
	rmdir "$LONG" "${LONG%/*}" "${LONG%/*/*}" $C $CG/a/b $CG/a 2>/dev/null
	[ ! -e $CG/a ] || echo "VMTEST note $CG/a is still there" >&3
}
