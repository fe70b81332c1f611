#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The hugetlb selftests of tools/testing/selftests/mm, in the order and
# with the arguments and huge page reservations of its run_vmtests.sh
# (`run_vmtests.sh -t hugetlb`, plus the -H runs of its gup_test matrix
# and uffd-unit-tests, whose hugetlb cases tools/vmtest_parse.py picks),
# without run_vmtests.sh's 2 s sleeps around each test.  Prints VMTEST
# records (see init.sh) on stdout.
#
#   hugetlb.sh main     every test but the two cgroup scripts
#   hugetlb.sh uffd     uffd-unit-tests, one run per group of tests
#   hugetlb.sh cgroup   charge_reserved_hugetlb.sh, hugetlb_reparenting_test.sh
#                       (they make cgroups /a and /a/b of their own: init.sh
#                       runs them once the writeback scenario's are gone)
#  Exit status: 0 pass, 4 skip (the
# kselftest code), anything else fail; a test that runs longer than
# TEST_TIMEOUT s is killed and fails.
set -u
cd /mm || exit 1
ksft_skip=4
TEST_TIMEOUT=${TEST_TIMEOUT:-600}

record() {	# name status why
	echo "VMTEST test $1 $2 $3"
}

run_test() {	# name command...
	name=$1
	shift
	echo 3 > /proc/sys/vm/drop_caches
	echo 1 > /proc/sys/vm/compact_memory
	t0=$(date +%s)
	timeout "$TEST_TIMEOUT" "$@" > /out/test.log 2>&1 < /dev/null
	ret=$?
	secs=$(($(date +%s) - t0))
	echo "VMTEST log $name"
	sed 's/^/| /' /out/test.log
	echo "VMTEST endlog $name"
	case $ret in
	0) record "$name" pass "exit 0, ${secs}s" ;;
	"$ksft_skip") record "$name" skip "exit 4 (kselftest skip), ${secs}s" ;;
	143) record "$name" fail "killed after ${TEST_TIMEOUT}s" ;;
	*) record "$name" fail "exit $ret, ${secs}s" ;;
	esac
}

# uffd-unit-tests ends at its first error (err() exits), and the hugetlb
# cases of a test come after its anon and shmem ones: one failing anon
# case would hide the hugetlb cases of every later test.  So one run per
# group of tests: -f matches names by substring, and a name that contains
# an earlier filter is run by that filter's run (-f minor runs minor,
# minor-wp and minor-collapse).  The names come from -l, so a test a later
# 6.12.y adds runs too.
#
# A group whose run stopped on an anon or shmem case (outside the hugetlb
# category) never reached its hugetlb cases: it runs again, at most
# UFFD_RETRIES times, and says so.  Seen here: "events on anon" stopped at
# "UFFDIO_COPY error: -2" in one of ten x86_64 boots, and a CI boot of
# the patched x86_64 row failed the run with its hugetlb cases passing.
# A failure on a hugetlb case is never retried.
UFFD_RETRIES=${UFFD_RETRIES:-2}

uffd_group() {	# filter; returns the exit status of its last run
	tries=0
	while :; do
		echo "uffd-unit-tests -f $1"
		./uffd-unit-tests -f "$1" > /out/uffd.log 2>&1
		r=$?
		cat /out/uffd.log
		[ "$r" = 0 ] || [ "$r" = "$ksft_skip" ] && return "$r"
		last=$(grep -o 'Testing .* on [a-z-]*\.\.\.' /out/uffd.log | tail -n 1)
		case $last in *" on hugetlb"*|"") return "$r" ;; esac
		[ "$tries" -ge "$UFFD_RETRIES" ] && return "$r"
		tries=$((tries + 1))
		echo "uffd-unit-tests -f $1: retry $tries, exit $r at \"$last\" (outside hugetlb)"
	done
}

uffd_groups() {
	rc=0
	filters=""
	for n in $(./uffd-unit-tests -l); do
		covered=0
		for f in $filters; do
			case $n in *"$f"*) covered=1 ;; esac
		done
		[ "$covered" = 0 ] && filters="$filters $n"
	done
	for f in $filters; do
		uffd_group "$f"
		r=$?
		[ "$r" != 0 ] && [ "$r" != "$ksft_skip" ] && rc=$r
	done
	return $rc
}

if [ "${1:-}" = uffd ]; then
	uffd_groups
	exit
fi

meminfo() {	# field
	awk -v f="$1:" '$1 == f { print $2 }' /proc/meminfo
}

# run_vmtests.sh: at least 256 MiB of default-size huge pages, and
# 2 * nr_cpus pages for the uffd hugetlb tests.
hpgsize_KB=$(meminfo Hugepagesize)
if [ -z "$hpgsize_KB" ]; then
	for t in hugepage-mmap hugepage-shm map_hugetlb hugepage-mremap \
	    hugepage-vmemmap hugetlb-madvise hugetlb_dio \
	    hugetlb_fault_after_madv hugetlb_madv_vs_map thuge-gen; do
		record "$t" skip "no hugetlbfs in this kernel"
	done
	exit 0
fi
uffd_min_KB=$((hpgsize_KB * $(nproc) * 2))
needmem_KB=$((256 * 1024))
[ "$uffd_min_KB" -gt "$needmem_KB" ] && needmem_KB=$uffd_min_KB
nr_hugepgs=$(cat /proc/sys/vm/nr_hugepages)
needpgs=$((needmem_KB / hpgsize_KB))
tries=2
while [ "$tries" -gt 0 ] && [ "$(meminfo HugePages_Free)" -lt "$needpgs" ]; do
	lack=$((needpgs - $(meminfo HugePages_Free)))
	echo 3 > /proc/sys/vm/drop_caches
	echo $((lack + nr_hugepgs)) > /proc/sys/vm/nr_hugepages
	tries=$((tries - 1))
done
echo "VMTEST note hugepages ($1): ${hpgsize_KB}kB, free $(meminfo HugePages_Free) of $needpgs wanted"

if [ "$1" = cgroup ]; then
	if [ ! -x /bin/bash ]; then
		record charge_reserved_hugetlb.sh skip "no bash in this image"
		record hugetlb_reparenting_test.sh skip "no bash in this image"
	elif ! grep -qw hugetlb /proc/cgroups; then
		record charge_reserved_hugetlb.sh skip "no hugetlb cgroup controller (CONFIG_CGROUP_HUGETLB)"
		record hugetlb_reparenting_test.sh skip "no hugetlb cgroup controller (CONFIG_CGROUP_HUGETLB)"
	else
		run_test charge_reserved_hugetlb.sh bash ./charge_reserved_hugetlb.sh -cgroup-v2
		run_test hugetlb_reparenting_test.sh bash ./hugetlb_reparenting_test.sh -cgroup-v2
	fi
	echo "$nr_hugepgs" > /proc/sys/vm/nr_hugepages
	exit 0
fi

run_test hugepage-mmap ./hugepage-mmap
shmmax=$(cat /proc/sys/kernel/shmmax)
shmall=$(cat /proc/sys/kernel/shmall)
echo 268435456 > /proc/sys/kernel/shmmax
echo 4194304 > /proc/sys/kernel/shmall
run_test hugepage-shm ./hugepage-shm
echo "$shmmax" > /proc/sys/kernel/shmmax
echo "$shmall" > /proc/sys/kernel/shmall
run_test map_hugetlb ./map_hugetlb
run_test hugepage-mremap ./hugepage-mremap
run_test hugepage-vmemmap ./hugepage-vmemmap
run_test hugetlb-madvise ./hugetlb-madvise
run_test hugetlb_dio ./hugetlb_dio

tmp=$(cat /proc/sys/vm/nr_hugepages)
echo 1 > /proc/sys/vm/nr_hugepages
run_test hugetlb_fault_after_madv ./hugetlb_fault_after_madv
run_test hugetlb_madv_vs_map ./hugetlb_madv_vs_map
echo "$tmp" > /proc/sys/vm/nr_hugepages

# run_gup_matrix(), hugetlb column only (-H -m <needmem MiB>).
hugetlb_mb=$((needmem_KB / 1024))
for cmd in -u -U -a -b -L; do
	for write in -w -W; do
		for share in "-S" ""; do
			for num in 1 512 123; do
				# shellcheck disable=SC2086
				run_test "gup_test_-H_-m_${hugetlb_mb}_${cmd}_${write}${share:+_$share}_-n_$num" \
				    ./gup_test -H -m "$hugetlb_mb" $cmd $write $share -n "$num"
			done
		done
	done
done

run_test uffd-unit-tests sh /vmtest/hugetlb.sh uffd
run_test thuge-gen ./thuge-gen

if [ -e /proc/sys/vm/memory_failure_recovery ]; then
	tmp=$(cat /proc/sys/vm/nr_hugepages)
	echo 8 > /proc/sys/vm/nr_hugepages
	run_test hugetlb-soft-offline ./hugetlb-soft-offline
	echo "$tmp" > /proc/sys/vm/nr_hugepages
	run_test hugetlb-read-hwpoison ./hugetlb-read-hwpoison
else
	why="CONFIG_MEMORY_FAILURE is not set (on x86 it needs X86_MCE, which kunit/configs/slim.config turns off)"
	record hugetlb-soft-offline skip "$why"
	record hugetlb-read-hwpoison skip "$why"
fi

echo "$nr_hugepgs" > /proc/sys/vm/nr_hugepages
