// SPDX-License-Identifier: GPL-2.0
/*
 * Lock acquisitions per second of huge_pte_lock(), split against unsplit
 * page table locks, with no page zeroing in the way.
 *
 * Not part of the series: tools/bench_fault.py copies this file into mm/
 * of a worktree of the series (with a Kconfig symbol and a Makefile line,
 * kunit/bench/hugetlb_ptlock_bench.toml) and builds it twice, with split
 * PT locks (NR_CPUS=8) and without (NR_CPUS=2); the boot then goes on to
 * the user-space fault benchmark.
 *
 * For T threads (1 up to the online CPUs, one kthread bound to each CPU)
 * the test maps T 2M hugetlb pages, each at the start of its own GiB, so
 * each entry lives in its own PMD table.  Every thread takes and drops
 * huge_pte_lock() on its own entry in a tight loop for
 * hugetlb_ptlock_bench.ms milliseconds.  With split PMD locks the
 * threads take different locks (the PMD tables' ptl); without, all take
 * mm->page_table_lock and its cache line moves between CPUs on every
 * acquisition.  Each sample is printed as a diagnostic line:
 *
 *   # ...: threads=2 split=1 sample=0 ms=500 acquisitions=N per_s=R
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/kthread.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/moduleparam.h>
#include <linux/sizes.h>
#include <linux/timekeeping.h>

/* Far above the usual mmap area; entry i at PTLB_BASE + i GiB. */
#define PTLB_BASE	(SZ_1G * 64UL)
#define PTLB_MAX_THREADS	64	/* the last of ptlb_threads[] */
/* Check the clock once per batch: ktime_get_ns() costs more than a lock. */
#define PTLB_BATCH	64

static unsigned int ms = 500;
module_param(ms, uint, 0444);
MODULE_PARM_DESC(ms, "milliseconds per sample");

static unsigned int samples = 3;
module_param(samples, uint, 0444);
MODULE_PARM_DESC(samples, "samples per thread count");

struct ptlb_worker {
	struct hstate *h;
	struct mm_struct *mm;
	pte_t *ptep;
	struct completion *go;
	u64 end_ns;
	u64 count;
	struct completion done;
};

static int ptlb_worker_fn(void *data)
{
	struct ptlb_worker *w = data;
	spinlock_t *ptl;	/* the entry's: its PMD table's or the mm's */
	u64 n = 0;
	int i;

	/* sleep, not spin: a spinning thread would hold the creator's CPU */
	wait_for_completion(w->go);
	do {
		for (i = 0; i < PTLB_BATCH; i++) {
			ptl = huge_pte_lock(w->h, w->mm, w->ptep);
			/* what a fault does under the lock, at least */
			(void)huge_ptep_get(w->mm, 0, w->ptep);
			spin_unlock(ptl);
		}
		n += PTLB_BATCH;
	} while (ktime_get_ns() < w->end_ns);
	w->count = n;
	complete(&w->done);
	return 0;
}

static void ptlb_fput(void *file)
{
	fput(file);
}

static struct hstate *ptlb_hstate(void)
{
	return size_to_hstate(SZ_2M);
}

/* one 2M page at @addr, faulted in; its entry, or NULL with the test failed */
static pte_t *ptlb_map(struct kunit *test, struct hstate *h,
		       unsigned long addr)
{
	unsigned long uaddr;
	struct file *file;
	pte_t *ptep;

	file = hugetlb_file_setup(HUGETLB_ANON_FILE, SZ_2M, VM_NORESERVE,
				  HUGETLB_ANONHUGE_INODE, huge_page_shift(h));
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ptlb_fput,
							file), 0);
	uaddr = kunit_vm_mmap(test, file, addr, SZ_2M, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_POPULATE | MAP_FIXED_NOREPLACE,
			      0);
	KUNIT_ASSERT_EQ(test, uaddr, addr);
	mmap_read_lock(current->mm);
	ptep = huge_pte_offset(current->mm, addr, SZ_2M);
	mmap_read_unlock(current->mm);
	KUNIT_ASSERT_NOT_NULL(test, ptep);
	KUNIT_ASSERT_TRUE(test, pte_present(huge_ptep_get(current->mm, addr,
							  ptep)));
	return ptep;
}

/* one sample: @n threads, each on its own entry; acquisitions in total */
static u64 ptlb_sample(struct kunit *test, struct hstate *h,
		       pte_t **ptep, int n)
{
	struct ptlb_worker *w;
	struct task_struct **t;
	struct completion go;
	u64 total = 0, end_ns;
	int i, cpu;

	w = kunit_kcalloc(test, n, sizeof(*w), GFP_KERNEL);
	t = kunit_kcalloc(test, n, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	KUNIT_ASSERT_NOT_NULL(test, t);
	init_completion(&go);
	i = 0;
	for_each_online_cpu(cpu) {
		if (i == n)
			break;
		w[i] = (struct ptlb_worker){ .h = h, .mm = current->mm,
					     .ptep = ptep[i], .go = &go };
		init_completion(&w[i].done);
		t[i] = kthread_create(ptlb_worker_fn, &w[i], "ptlb/%d", cpu);
		if (IS_ERR(t[i]))
			break;
		get_task_struct(t[i]);
		kthread_bind(t[i], cpu);
		wake_up_process(t[i]);
		i++;
	}
	n = i;
	/* every thread stops at the same instant, ms after the start */
	end_ns = ktime_get_ns() + (u64)ms * NSEC_PER_MSEC;
	for (i = 0; i < n; i++)
		w[i].end_ns = end_ns;
	complete_all(&go);
	for (i = 0; i < n; i++) {
		wait_for_completion(&w[i].done);
		kthread_stop(t[i]);
		put_task_struct(t[i]);
		total += w[i].count;
	}
	return total;
}

static void hugetlb_ptlock_bench_lock_rate(struct kunit *test)
{
	int threads = *(const int *)test->param_value;
	struct hstate *h = ptlb_hstate();
	pte_t *ptep[PTLB_MAX_THREADS];
	struct mm_struct *mm;
	unsigned int s;
	u64 acq;
	int i;

	if (!h)
		kunit_skip(test, "no 2M huge pages (hugepagesz=2M)");
	if (READ_ONCE(h->free_huge_pages) < threads)
		kunit_skip(test, "%d free 2M huge pages needed, %lu free (hugepages=)",
			   threads, READ_ONCE(h->free_huge_pages));
	for (i = 0; i < threads; i++)
		ptep[i] = ptlb_map(test, h, PTLB_BASE + (unsigned long)i * SZ_1G);
	mm = current->mm;
	/* split: one lock per PMD table; else all take the mm's */
	if (threads > 1 && USE_SPLIT_HUGETLB_PTLOCKS)
		KUNIT_EXPECT_PTR_NE(test, huge_pte_lockptr(h, mm, ptep[0]),
				    huge_pte_lockptr(h, mm, ptep[1]));
	if (!USE_SPLIT_HUGETLB_PTLOCKS)
		KUNIT_EXPECT_PTR_EQ(test, huge_pte_lockptr(h, mm, ptep[0]),
				    &mm->page_table_lock);
	for (s = 0; s < samples; s++) {
		acq = ptlb_sample(test, h, ptep, threads);
		kunit_info(test, "threads=%d split=%d sample=%u ms=%u acquisitions=%llu per_s=%llu\n",
			   threads, USE_SPLIT_HUGETLB_PTLOCKS, s, ms, acq,
			   div_u64(acq * MSEC_PER_SEC, ms));
	}
}

static const int ptlb_threads[] = { 1, 2, 4, 8, 16, 32, 64 };

/* 1, 2, 4 ... up to the online CPUs (the user-space part counts alike) */
static const void *ptlb_gen_params(const void *prev, char *desc)
{
	const int *p = prev ? (const int *)prev + 1 : ptlb_threads;

	if (p >= ptlb_threads + ARRAY_SIZE(ptlb_threads) ||
	    *p > num_online_cpus())
		return NULL;
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%d threads", *p);
	return p;
}

static struct kunit_case hugetlb_ptlock_bench_cases[] = {
	KUNIT_CASE_PARAM_ATTR(hugetlb_ptlock_bench_lock_rate, ptlb_gen_params,
			      { .speed = KUNIT_SPEED_SLOW }),
	{}
};

static struct kunit_suite hugetlb_ptlock_bench_suite = {
	.name = "hugetlb_ptlock_bench",
	.test_cases = hugetlb_ptlock_bench_cases,
};

kunit_test_suites(&hugetlb_ptlock_bench_suite);

MODULE_DESCRIPTION("huge_pte_lock() acquisitions per second (benchmark)");
MODULE_LICENSE("GPL");
