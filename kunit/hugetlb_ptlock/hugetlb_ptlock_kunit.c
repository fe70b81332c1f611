// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for hugetlb split page table locks.
 *
 * hugetlb must lock a page table entry with the very lock core-mm takes
 * for it (GUP, folio_walk_start(), page_vma_mapped_walk(), ...): a
 * mismatch was rejected in review of "hugetlbfs: support split page table
 * lock" (2013) and fixed again by commit 5f75cfbd6bb0 ("mm/hugetlb: fix
 * hugetlb vs. core-mm PT locking") in 2024. These tests build real
 * hugetlb mappings in a KUnit-owned mm and check, for every huge page size
 * the kernel offers:
 *
 *  - USE_SPLIT_HUGETLB_PTLOCKS against an expectation computed from the
 *    configuration;
 *  - huge_pte_lockptr() against the lock a core-mm walker takes for the
 *    same entry, and the split/non-split shape of those locks;
 *  - huge_pte_offset_lock() for present entries (at their start and
 *    inside them), a none entry in a present table and a missing table;
 *  - concurrent fault, mprotect and zap/unmap from several kthreads, and a
 *    fork, so that PROVE_LOCKING sees the real lock nesting.
 *
 * hugetlb pages come from the boot pool (e.g. "hugepagesz=2M hugepages=16
 * hugepagesz=1G hugepages=1"); a size without reserved pages is skipped.
 */

#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/file.h>
#include <linux/hugetlb.h>
#include <linux/kthread.h>
#include <linux/lockdep.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/sizes.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <asm/tlb.h>

/*
 * The expectation for USE_SPLIT_HUGETLB_PTLOCKS, from the configuration
 * alone: core-mm splits page table locks with SMP and NR_CPUS >= 4
 * (mm/Kconfig SPLIT_PTE_PTLOCKS), and PMD tables get their own lock where
 * the architecture opts in. On x86 that is X86_64 || X86_PAE, the
 * condition of the 2013 patch; UML builds x86 code but is never SMP.
 */
#ifdef CONFIG_NR_CPUS
#define PTLOCK_TEST_NR_CPUS	CONFIG_NR_CPUS
#else
#define PTLOCK_TEST_NR_CPUS	1
#endif

static bool expected_split_hugetlb_ptlocks(void)
{
	bool core_split = IS_ENABLED(CONFIG_SMP) && PTLOCK_TEST_NR_CPUS >= 4;

	if (IS_ENABLED(CONFIG_X86) || IS_ENABLED(CONFIG_UML))
		return core_split &&
		       (IS_ENABLED(CONFIG_X86_64) || IS_ENABLED(CONFIG_X86_PAE));
	/* Elsewhere hugetlb follows the architecture's split PMD opt-in. */
	return core_split && IS_ENABLED(CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK);
}

static void report_hugetlb_sizes(struct kunit *test)
{
#ifdef CONFIG_HUGETLB_PAGE
	char buf[96] = "";
	struct hstate *h;
	int len = 0;

	for_each_hstate(h)
		len += scnprintf(buf + len, sizeof(buf) - len, "%s%luK",
				 len ? "," : "", huge_page_size(h) / SZ_1K);
	kunit_info(test, "report: hugetlb_sizes=%s\n", len ? buf : "none");
#else
	kunit_info(test, "report: hugetlb_sizes=none\n");
#endif
}

static void use_split_hugetlb_ptlocks_matches_config(struct kunit *test)
{
	bool expected = expected_split_hugetlb_ptlocks();

	kunit_info(test, "report: USE_SPLIT_HUGETLB_PTLOCKS=%d\n",
		   USE_SPLIT_HUGETLB_PTLOCKS ? 1 : 0);
	report_hugetlb_sizes(test);

	KUNIT_EXPECT_EQ(test, !!USE_SPLIT_HUGETLB_PTLOCKS, expected);
	/* Kirill's rule: never differ from core-mm's split PMD choice. */
	KUNIT_EXPECT_EQ(test, !!USE_SPLIT_HUGETLB_PTLOCKS,
			IS_ENABLED(CONFIG_SPLIT_PMD_PTLOCKS));
	/* x86's split PMD opt-in is the seed's condition. */
	if (IS_ENABLED(CONFIG_X86) && !IS_ENABLED(CONFIG_UML))
		KUNIT_EXPECT_EQ(test,
				IS_ENABLED(CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK),
				IS_ENABLED(CONFIG_X86_64) || IS_ENABLED(CONFIG_X86_PAE));
}

#ifdef CONFIG_HUGETLB_PAGE

/* Addresses for mappings: 1G-aligned, below the 3G i386 user limit. */
#define PTLOCK_TEST_BASE	((unsigned long)SZ_1G)
#define PTLOCK_TEST_MAX_ENTRIES	8

struct core_entry {
	pte_t *entry;		/* the entry a core-mm walker finds */
	spinlock_t *ptl;	/* the lock that walker takes for it */
	int level;		/* 1 = PTE, 2 = PMD, 3 = PUD table */
};

/*
 * Walk the page tables the way folio_walk_start() (mm/pagewalk.c) and
 * follow_pud_mask()/follow_pmd_mask() (mm/gup.c) do, and return the lock
 * they take for the leaf entry. Caller holds mmap_lock.
 */
static bool core_mm_lookup(struct mm_struct *mm, unsigned long addr,
			   struct core_entry *ce)
{
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd;
	pmd_t pmdval;
	pud_t pudval;

	pgd = pgd_offset(mm, addr);
	if (!pgd_present(*pgd))
		return false;
	p4d = p4d_offset(pgd, addr);
	if (!p4d_present(*p4d))
		return false;
	pud = pud_offset(p4d, addr);
	pudval = pudp_get(pud);
	if (pud_leaf(pudval)) {
		ce->entry = (pte_t *)pud;
		ce->ptl = pud_lockptr(mm, pud);
		ce->level = 3;
		return true;
	}
	if (!pud_present(pudval))
		return false;
	pmd = pmd_offset(pud, addr);
	pmdval = pmdp_get(pmd);
	if (pmd_leaf(pmdval)) {
		ce->entry = (pte_t *)pmd;
		ce->ptl = pmd_lockptr(mm, pmd);
		ce->level = 2;
		return true;
	}
	if (!pmd_present(pmdval) || IS_ENABLED(CONFIG_HIGHPTE))
		return false;
	ce->entry = pte_offset_kernel(pmd, addr);
	ce->ptl = pte_lockptr(mm, pmd);
	ce->level = 1;
	return true;
}

static struct page *table_page(pte_t *entry)
{
	return virt_to_page((void *)((unsigned long)entry & PAGE_MASK));
}

/* The hstates the kernel offers, as test parameters. */
static const void *hstate_gen_params(const void *prev, char *desc)
{
	const struct hstate *h = prev ? (const struct hstate *)prev + 1 : hstates;

	if (h >= &hstates[hugetlb_max_hstate])
		return NULL;
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%luK",
		 huge_page_size((struct hstate *)h) / SZ_1K);
	return h;
}

static void fput_action(void *file)
{
	fput(file);
}

/*
 * Map @npages huge pages of @h at @addr (MAP_FIXED_NOREPLACE; @flags add
 * MAP_POPULATE to fault them in) and return the address, or 0 with the
 * test failed.
 */
static unsigned long map_huge(struct kunit *test, struct hstate *h,
			      unsigned long addr, unsigned long npages,
			      unsigned long flags, unsigned long prot)
{
	unsigned long size = npages * huge_page_size(h);
	struct file *file;
	unsigned long uaddr;
	int ret;

	file = hugetlb_file_setup(HUGETLB_ANON_FILE, size, VM_NORESERVE,
				  HUGETLB_ANONHUGE_INODE, huge_page_shift(h));
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(file), "hugetlb_file_setup: %d",
			       PTR_ERR_OR_ZERO(file));
	/* vm_mmap() takes its own reference on the file. */
	ret = kunit_add_action_or_reset(test, fput_action, file);
	KUNIT_ASSERT_EQ(test, ret, 0);
	uaddr = kunit_vm_mmap(test, file, addr, size, prot,
			      flags | MAP_FIXED_NOREPLACE, 0);
	KUNIT_ASSERT_FALSE_MSG(test, !uaddr || IS_ERR_VALUE(uaddr),
			       "vm_mmap at %#lx: %ld", addr, (long)uaddr);
	KUNIT_ASSERT_EQ(test, uaddr, addr);
	return uaddr;
}

/*
 * Make sure @want huge pages of @h are free. The previous case's mm is
 * torn down as its kthread exits and the hugetlb files it mapped are
 * released through delayed fput, so its pages may come back a little
 * after that case ends. Skips when the pages were never reserved; fails
 * if reserved pages do not come back.
 */
static bool get_free_pages(struct kunit *test, struct hstate *h,
			   unsigned long want)
{
	unsigned long sz = huge_page_size(h);
	int i;

	if (READ_ONCE(h->nr_huge_pages) < want) {
		kunit_skip(test, "%luK: %lu pages reserved, need %lu (hugepages=)",
			   sz / SZ_1K, READ_ONCE(h->nr_huge_pages), want);
		return false;
	}
	for (i = 0; i < 250 && READ_ONCE(h->free_huge_pages) < want; i++) {
		flush_delayed_fput();
		msleep(20);
	}
	if (READ_ONCE(h->free_huge_pages) < want) {
		KUNIT_FAIL(test, "only %lu of %lu reserved %luK huge pages free after 5s",
			   READ_ONCE(h->free_huge_pages),
			   READ_ONCE(h->nr_huge_pages), sz / SZ_1K);
		return false;
	}
	return true;
}

/*
 * Check every entry of [addr, addr + npages * size): it is present,
 * huge_pte_offset() finds the same entry as a core-mm walk, and
 * huge_pte_lockptr() is the lock core-mm takes. Returns the number of
 * entries checked and stores them in @out.
 */
static int check_range_locks(struct kunit *test, struct hstate *h,
			     struct mm_struct *mm, unsigned long addr,
			     unsigned long npages, struct core_entry *out,
			     int room)
{
	unsigned long sz = huge_page_size(h);
	int n = 0;
	unsigned long i;

	mmap_read_lock(mm);
	for (i = 0; i < npages; i++) {
		unsigned long a = addr + i * sz;
		struct core_entry ce;
		bool found = core_mm_lookup(mm, a, &ce);
		pte_t *hpte = huge_pte_offset(mm, a, sz);
		spinlock_t *hptl = hpte ? huge_pte_lockptr(h, mm, hpte) : NULL;
		bool present = hpte && pte_present(huge_ptep_get(mm, a, hpte));

		if (!found || !present || hpte != ce.entry || hptl != ce.ptl) {
			mmap_read_unlock(mm);
			KUNIT_FAIL(test,
				   "%#lx: core-mm found=%d entry=%p lock=%p, hugetlb present=%d entry=%p lock=%p",
				   a, found, found ? ce.entry : NULL,
				   found ? ce.ptl : NULL, present, hpte, hptl);
			return n;
		}
		if (n < room)
			out[n++] = ce;
	}
	mmap_read_unlock(mm);
	return n;
}

static void huge_pte_lockptr_matches_core_mm(struct kunit *test)
{
	struct hstate *h = (struct hstate *)test->param_value;
	struct mm_struct *mm;
	unsigned long sz = huge_page_size(h);
	unsigned long nr = READ_ONCE(h->nr_huge_pages);
	struct core_entry e[PTLOCK_TEST_MAX_ENTRIES];
	bool split = expected_split_hugetlb_ptlocks();
	unsigned long per_region, addr_b = 0;
	int n = 0, i, j;

	/*
	 * Two regions one PUD_SIZE (and at least 1G) apart, so PMD-level
	 * entries land in different PMD tables; with a single reserved page
	 * (e.g. one 1G page) only one region.
	 */
	per_region = nr >= 2 ? min(nr / 2, 2UL) : 1;
	if (!get_free_pages(test, h, nr >= 2 ? 2 * per_region : 1))
		return;
	map_huge(test, h, PTLOCK_TEST_BASE, per_region, MAP_SHARED | MAP_POPULATE,
		 PROT_READ | PROT_WRITE);
	if (nr >= 2) {
		addr_b = PTLOCK_TEST_BASE + max_t(unsigned long, PUD_SIZE, SZ_1G);
		addr_b = ALIGN(addr_b, max(sz, PUD_SIZE));
		map_huge(test, h, addr_b, per_region, MAP_SHARED | MAP_POPULATE,
			 PROT_READ | PROT_WRITE);
	}
	mm = current->mm;
	KUNIT_ASSERT_NOT_NULL(test, mm);

	n = check_range_locks(test, h, mm, PTLOCK_TEST_BASE, per_region, e,
			      PTLOCK_TEST_MAX_ENTRIES);
	if (addr_b)
		n += check_range_locks(test, h, mm, addr_b, per_region, e + n,
				       PTLOCK_TEST_MAX_ENTRIES - n);
	KUNIT_ASSERT_EQ(test, n, (int)(addr_b ? 2 * per_region : per_region));

	for (i = 0; i < n; i++) {
		/* PUD tables never have split locks; PMD tables do when split. */
		bool entry_split = split && e[i].level < 3;

		if (entry_split)
			KUNIT_EXPECT_PTR_NE(test, e[i].ptl, &mm->page_table_lock);
		else
			KUNIT_EXPECT_PTR_EQ(test, e[i].ptl, &mm->page_table_lock);
		for (j = 0; j < i; j++) {
			bool same_table = table_page(e[i].entry) == table_page(e[j].entry);

			if (same_table || !entry_split)
				KUNIT_EXPECT_PTR_EQ(test, e[i].ptl, e[j].ptl);
			else
				KUNIT_EXPECT_PTR_NE(test, e[i].ptl, e[j].ptl);
		}
	}
	if (addr_b && split && e[0].level < 3)
		KUNIT_EXPECT_PTR_NE(test, table_page(e[0].entry),
				    table_page(e[n - 1].entry));
	kunit_info(test, "%luK: %d entries at level %d, %s locks\n", sz / SZ_1K,
		   n, e[0].level,
		   e[0].ptl == &mm->page_table_lock ? "mm-wide" : "split");
}

/*
 * Is @ptl held? lockdep knows whether we hold it. Without lockdep, a lock
 * that is held cannot be trylocked on SMP or with DEBUG_SPINLOCK (the
 * spin_is_locked() test, without its checkpatch warning); a UP spinlock
 * is not a lock at all, so the state is not observable: return -1.
 */
static int ptl_held(spinlock_t *ptl)
{
#ifdef CONFIG_LOCKDEP
	return lockdep_is_held(ptl);
#else
	if (IS_ENABLED(CONFIG_SMP) || IS_ENABLED(CONFIG_DEBUG_SPINLOCK)) {
		if (!spin_trylock(ptl))
			return 1;
		spin_unlock(ptl);
		return 0;
	}
	return -1;
#endif
}

/*
 * One populated huge page of @h at PTLOCK_TEST_BASE, in the test's mm;
 * NULL with the test skipped or failed.
 */
static struct mm_struct *map_one_page(struct kunit *test, struct hstate *h)
{
	if (!get_free_pages(test, h, 1))
		return NULL;
	map_huge(test, h, PTLOCK_TEST_BASE, 1, MAP_SHARED | MAP_POPULATE,
		 PROT_READ | PROT_WRITE);
	return current->mm;
}

/*
 * huge_pte_offset_lock() the way a caller must use it on the test's
 * shared mappings: under the mmap_lock (the caller holds it) and the
 * hugetlb VMA lock, which hugetlb_walk() asserts under lockdep because
 * the PMD tables of shared mappings can be unshared concurrently.
 * Returns the entry with *@ptlp and the VMA lock held, to be released by
 * offset_unlock(); or NULL with neither held.
 */
static pte_t *offset_lock(struct mm_struct *mm, unsigned long addr,
			  spinlock_t **ptlp)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	pte_t *pte;

	if (!vma)
		return NULL;
	hugetlb_vma_lock_read(vma);
	pte = huge_pte_offset_lock(vma, addr, ptlp);
	if (!pte)
		hugetlb_vma_unlock_read(vma);
	return pte;
}

static void offset_unlock(struct mm_struct *mm, unsigned long addr,
			  spinlock_t *ptl)
{
	spin_unlock(ptl);
	hugetlb_vma_unlock_read(vma_lookup(mm, addr));
}

static void huge_pte_offset_lock_present_returns_locked(struct kunit *test)
{
	struct hstate *h = (struct hstate *)test->param_value;
	unsigned long sz = huge_page_size(h);
	struct mm_struct *mm = map_one_page(test, h);
	spinlock_t *ptl = NULL;
	struct core_entry ce;
	bool found;
	pte_t *pte;
	int held;
	int pc;

	if (!mm)
		return;
	mmap_read_lock(mm);
	found = core_mm_lookup(mm, PTLOCK_TEST_BASE, &ce);
	pc = preempt_count();
	pte = offset_lock(mm, PTLOCK_TEST_BASE, &ptl);
	if (!pte) {
		mmap_read_unlock(mm);
		KUNIT_FAIL(test, "no entry for a populated %luK page", sz / SZ_1K);
		return;
	}
	held = ptl_held(ptl);
	if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !IS_ENABLED(CONFIG_PREEMPT_RT))
		KUNIT_EXPECT_GT(test, preempt_count(), pc);
	offset_unlock(mm, PTLOCK_TEST_BASE, ptl);
	mmap_read_unlock(mm);

	KUNIT_EXPECT_TRUE(test, found);
	KUNIT_EXPECT_PTR_EQ(test, pte, ce.entry);
	KUNIT_EXPECT_PTR_EQ(test, ptl, ce.ptl);
	if (held < 0)
		kunit_info(test, "lock state not observable (UP, no lockdep/DEBUG_SPINLOCK)\n");
	else
		KUNIT_EXPECT_EQ(test, held, 1);
}

/* A PGDIR-aligned address, far from the test's mappings, with no table. */
static unsigned long find_absent(struct mm_struct *mm, unsigned long sz)
{
	unsigned long cand, addr = 0;

	mmap_read_lock(mm);
	for (cand = PGDIR_SIZE; cand && cand <= TASK_SIZE - sz;
	     cand += PGDIR_SIZE) {
		if (cand > PTLOCK_TEST_BASE + SZ_1G &&
		    !find_vma_intersection(mm, cand, cand + sz) &&
		    !huge_pte_offset(mm, cand, sz)) {
			addr = cand;
			break;
		}
		if (cand > TASK_SIZE - PGDIR_SIZE)
			break;
	}
	mmap_read_unlock(mm);
	return addr;
}

/*
 * A hugetlb VMA that was never faulted in, at an address whose upper page
 * tables were never allocated: huge_pte_offset_lock() finds no entry and
 * must return NULL without taking (or leaving) any lock.
 */
static void huge_pte_offset_lock_absent_returns_null(struct kunit *test)
{
	struct hstate *h = (struct hstate *)test->param_value;
	unsigned long sz = huge_page_size(h);
	struct mm_struct *mm = map_one_page(test, h);
	spinlock_t *sentinel = (spinlock_t *)&sentinel;
	spinlock_t *ptl = sentinel;
	unsigned long addr;
	pte_t *pte = NULL;
	int pc, held = 0, depth = 0;

	if (!mm)
		return;
	addr = find_absent(mm, sz);
	if (!addr)
		kunit_skip(test, "%luK: huge_pte_offset() never NULL (PMDs preallocated/folded)",
			   sz / SZ_1K);
	/* MAP_NORESERVE: the only 1G page may be in use already. */
	map_huge(test, h, addr, 1, MAP_SHARED | MAP_NORESERVE,
		 PROT_READ | PROT_WRITE);

	mmap_read_lock(mm);
	pc = preempt_count();
#ifdef CONFIG_LOCKDEP
	depth = current->lockdep_depth;
#endif
	pte = offset_lock(mm, addr, &ptl);
	if (pte) {
		offset_unlock(mm, addr, ptl);
		mmap_read_unlock(mm);
		KUNIT_FAIL(test, "%#lx: entry %p returned for an absent table",
			   addr, pte);
		return;
	}
#ifdef CONFIG_LOCKDEP
	KUNIT_EXPECT_EQ(test, current->lockdep_depth, depth);
#endif
	held = ptl_held(&mm->page_table_lock);
	mmap_read_unlock(mm);

	KUNIT_EXPECT_PTR_EQ(test, ptl, sentinel);
	if (IS_ENABLED(CONFIG_PREEMPT_COUNT) && !IS_ENABLED(CONFIG_PREEMPT_RT))
		KUNIT_EXPECT_EQ(test, preempt_count(), pc);
	KUNIT_EXPECT_NE(test, held, 1);
	kunit_info(test, "%luK: absent at %#lx, depth %d\n", sz / SZ_1K, addr,
		   depth);
}

/*
 * huge_pte_offset_lock() on the harder inputs: addresses inside a
 * populated huge page (not only its start) must find that page's entry
 * and take its lock, and the unmapped slot next to it -- an absent entry
 * inside a page table that is present -- comes back as a none entry with
 * the lock of that same table held, ready for a caller to fill under the
 * lock core-mm would take. One huge page at PTLOCK_TEST_BASE (1G) and a
 * second mapping right after it that is never faulted in: its first slot
 * is in the same PMD (2M, i386 4M) or PUD (1G) table.
 */
static void huge_pte_offset_lock_unaligned_and_none(struct kunit *test)
{
	struct hstate *h = (struct hstate *)test->param_value;
	unsigned long sz = huge_page_size(h);
	struct mm_struct *mm = map_one_page(test, h);
	/* Three addresses inside the page, then inside the slot after it. */
	const unsigned long addr[] = {
		PTLOCK_TEST_BASE + PAGE_SIZE, PTLOCK_TEST_BASE + sz / 2,
		PTLOCK_TEST_BASE + sz - PAGE_SIZE, PTLOCK_TEST_BASE + sz + PAGE_SIZE,
	};
	const int none_idx = ARRAY_SIZE(addr) - 1;
	spinlock_t *ptl[ARRAY_SIZE(addr)];	/* what huge_pte_offset_lock() took */
	pte_t *pte[ARRAY_SIZE(addr)];
	int held[ARRAY_SIZE(addr)];
	struct core_entry ce;
	bool found, none = false;
	int i;

	if (!mm)
		return;
	/* MAP_NORESERVE: the page of map_one_page() may be the only one. */
	map_huge(test, h, PTLOCK_TEST_BASE + sz, 1, MAP_SHARED | MAP_NORESERVE,
		 PROT_READ | PROT_WRITE);

	mmap_read_lock(mm);
	found = core_mm_lookup(mm, PTLOCK_TEST_BASE, &ce);
	for (i = 0; i <= none_idx; i++) {
		ptl[i] = NULL;
		pte[i] = offset_lock(mm, addr[i], &ptl[i]);
		held[i] = pte[i] ? ptl_held(ptl[i]) : 0;
		if (pte[i] && i == none_idx)
			none = huge_pte_none(huge_ptep_get(mm, addr[i], pte[i]));
		if (pte[i])
			offset_unlock(mm, addr[i], ptl[i]);
	}
	mmap_read_unlock(mm);

	KUNIT_ASSERT_TRUE(test, found);
	for (i = 0; i < none_idx; i++) {
		KUNIT_EXPECT_PTR_EQ_MSG(test, pte[i], ce.entry, "%luK page, %#lx",
					sz / SZ_1K, addr[i]);
		KUNIT_EXPECT_PTR_EQ_MSG(test, ptl[i], ce.ptl, "%luK page, %#lx",
					sz / SZ_1K, addr[i]);
		if (held[i] >= 0)
			KUNIT_EXPECT_EQ_MSG(test, held[i], 1, "%#lx", addr[i]);
	}
	KUNIT_ASSERT_NOT_NULL_MSG(test, pte[none_idx],
				  "%#lx: no entry beside a %luK page",
				  addr[none_idx], sz / SZ_1K);
	KUNIT_EXPECT_TRUE_MSG(test, none, "%#lx is not mapped", addr[none_idx]);
	KUNIT_EXPECT_PTR_EQ(test, table_page(pte[none_idx]),
			    table_page(ce.entry));
	KUNIT_EXPECT_PTR_EQ(test, ptl[none_idx], ce.ptl);
	if (held[none_idx] >= 0)
		KUNIT_EXPECT_EQ(test, held[none_idx], 1);
	kunit_info(test, "%luK: inside the page and the none entry at %#lx, level %d\n",
		   sz / SZ_1K, addr[none_idx], ce.level);
}

/* mprotect() of [start, end) in @mm, the way do_mprotect_pkey() does it. */
static int ptlock_mprotect(struct mm_struct *mm, unsigned long start,
			   unsigned long end, bool writable)
{
	struct vm_area_struct *vma, *prev;
	struct vma_iterator vmi;
	struct mmu_gather tlb;
	unsigned long nstart = start, tmp;
	int error = 0;

	if (mmap_write_lock_killable(mm))
		return -EINTR;
	vma_iter_init(&vmi, mm, start);
	vma = vma_find(&vmi, end);
	if (!vma || vma->vm_start > start) {
		error = -ENOMEM;
		goto out;
	}
	prev = vma_prev(&vmi);
	if (start > vma->vm_start)
		prev = vma;
	tmp = vma->vm_start;
	tlb_gather_mmu(&tlb, mm);
	for_each_vma_range(vmi, vma, end) {
		unsigned long newflags;

		if (vma->vm_start != tmp) {
			error = -ENOMEM;
			break;
		}
		newflags = writable ? vma->vm_flags | VM_WRITE :
				      vma->vm_flags & ~VM_WRITE;
		tmp = min(vma->vm_end, end);
		error = mprotect_fixup(&vmi, &tlb, vma, &prev, nstart, tmp,
				       newflags);
		if (error)
			break;
		nstart = max(tmp, prev->vm_end);
		tmp = nstart;
		if (nstart >= end)
			break;
	}
	tlb_finish_mmu(&tlb);
out:
	mmap_write_unlock(mm);
	return error;
}

/* MADV_DONTNEED-style zap of [start, end); takes the hugetlb PT locks. */
static void ptlock_zap(struct mm_struct *mm, unsigned long start,
		       unsigned long end)
{
	struct vm_area_struct *vma;
	struct vma_iterator vmi;

	mmap_read_lock(mm);
	vma_iter_init(&vmi, mm, start);
	for_each_vma_range(vmi, vma, end) {
		unsigned long s = max(start, vma->vm_start);
		unsigned long e = min(end, vma->vm_end);

		if (is_vm_hugetlb_page(vma))
			zap_page_range_single(vma, s, e - s, NULL);
	}
	mmap_read_unlock(mm);
}

#define PTLOCK_TEST_SHARED_PAGES	3
#define PTLOCK_TEST_MAX_THREADS		4
#define PTLOCK_TEST_ITERATIONS		100

struct ptlock_worker {
	struct mm_struct *mm;
	struct file *own_file;
	unsigned long shared, own, sz;
	int id, nthreads;
	struct completion done;
	/* results */
	int map_errors, mprotect_errors;
	long writes_ok, writes_faulted, reads_ok;
};

static int ptlock_worker_fn(void *data)
{
	struct ptlock_worker *w = data;
	unsigned long shared_end = w->shared + PTLOCK_TEST_SHARED_PAGES * w->sz;
	int it, p;

	kthread_use_mm(w->mm);
	for (it = 0; it < PTLOCK_TEST_ITERATIONS; it++) {
		/* Overlapping: every thread faults every shared page ... */
		for (p = 0; p < PTLOCK_TEST_SHARED_PAGES; p++) {
			int __user *u = (int __user *)(w->shared + p * w->sz +
						       w->id * sizeof(int));
			int val;

			if (put_user(it, u))
				w->writes_faulted++;
			else
				w->writes_ok++;
			if (!get_user(val, u))
				w->reads_ok++;
		}
		/* ... write-protects and restores a window of them ... */
		p = (w->id + it) % (PTLOCK_TEST_SHARED_PAGES - 1);
		if (ptlock_mprotect(w->mm, w->shared + p * w->sz,
				    w->shared + (p + 2) * w->sz, it & 1))
			w->mprotect_errors++;
		/* ... and zaps a window that other threads' windows overlap. */
		ptlock_zap(w->mm, w->shared + p * w->sz,
			   w->shared + (p + 2) * w->sz);

		/* Disjoint: this thread's own mapping, populated and torn down. */
		if (vm_mmap(w->own_file, w->own, w->sz, PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_FIXED_NOREPLACE | MAP_POPULATE,
			    0) != w->own) {
			w->map_errors++;
			continue;
		}
		if (put_user(it, (int __user *)w->own))
			w->writes_faulted++;
		else
			w->writes_ok++;
		if (ptlock_mprotect(w->mm, w->own, w->own + w->sz, false))
			w->mprotect_errors++;
		if (vm_munmap(w->own, w->sz))
			w->map_errors++;
	}
	/* Leave the shared range writable for the final check. */
	if (ptlock_mprotect(w->mm, w->shared, shared_end, true))
		w->mprotect_errors++;
	kthread_unuse_mm(w->mm);
	mmput(w->mm);
	complete(&w->done);
	return 0;
}

static void huge_pte_lock_concurrent_fault_mprotect_unmap(struct kunit *test)
{
	struct hstate *h;
	struct ptlock_worker *w;
	struct core_entry e[PTLOCK_TEST_SHARED_PAGES];
	struct mm_struct *mm;
	unsigned long sz, shared, needed;
	int nthreads, started = 0, i, p, ret;
	long writes_ok = 0;

	if (!hugetlb_max_hstate)
		kunit_skip(test, "no hugetlb page sizes registered");
	h = &default_hstate;
	sz = huge_page_size(h);
	nthreads = clamp_t(int, num_online_cpus(), 2, PTLOCK_TEST_MAX_THREADS);
	needed = PTLOCK_TEST_SHARED_PAGES + nthreads;
	if (!get_free_pages(test, h, needed))
		return;

	shared = map_huge(test, h, PTLOCK_TEST_BASE, PTLOCK_TEST_SHARED_PAGES,
			  MAP_SHARED | MAP_POPULATE, PROT_READ | PROT_WRITE);
	mm = current->mm;

	w = kunit_kcalloc(test, nthreads, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	for (i = 0; i < nthreads; i++) {
		w[i].own_file = hugetlb_file_setup(HUGETLB_ANON_FILE, sz,
						   VM_NORESERVE,
						   HUGETLB_ANONHUGE_INODE,
						   huge_page_shift(h));
		KUNIT_ASSERT_FALSE(test, IS_ERR(w[i].own_file));
		ret = kunit_add_action_or_reset(test, fput_action,
						w[i].own_file);
		KUNIT_ASSERT_EQ(test, ret, 0);
	}

	for (i = 0; i < nthreads; i++) {
		struct task_struct *t;

		w[i].mm = mm;
		w[i].shared = shared;
		/* Own ranges 1G above the shared ones, one per thread. */
		w[i].own = PTLOCK_TEST_BASE + SZ_1G + i * sz;
		w[i].sz = sz;
		w[i].id = i;
		w[i].nthreads = nthreads;
		init_completion(&w[i].done);
		mmget(mm);
		t = kthread_run(ptlock_worker_fn, &w[i], "hugetlb_ptlock/%d", i);
		if (IS_ERR(t)) {
			mmput(mm);
			break;
		}
		started++;
	}
	/* The workers use our mm: always wait for them before asserting. */
	for (i = 0; i < started; i++)
		wait_for_completion(&w[i].done);
	KUNIT_ASSERT_EQ(test, started, nthreads);

	for (i = 0; i < nthreads; i++) {
		KUNIT_EXPECT_EQ_MSG(test, w[i].map_errors, 0, "thread %d", i);
		KUNIT_EXPECT_EQ_MSG(test, w[i].mprotect_errors, 0, "thread %d", i);
		KUNIT_EXPECT_GT_MSG(test, w[i].reads_ok, 0L, "thread %d", i);
		writes_ok += w[i].writes_ok;
	}
	/* Writes to a write-protected window fault; most must go through. */
	KUNIT_EXPECT_GT(test, writes_ok, 0L);

	/* Afterwards the shared range faults in and locks like core-mm. */
	for (p = 0; p < PTLOCK_TEST_SHARED_PAGES; p++)
		KUNIT_EXPECT_EQ(test, 0, put_user(p, (int __user *)(shared + p * sz)));
	KUNIT_EXPECT_EQ(test, PTLOCK_TEST_SHARED_PAGES,
			check_range_locks(test, h, mm, shared,
					  PTLOCK_TEST_SHARED_PAGES, e,
					  PTLOCK_TEST_SHARED_PAGES));
	kunit_info(test, "%d threads x %d iterations on %luK pages: %ld writes\n",
		   nthreads, PTLOCK_TEST_ITERATIONS, sz / SZ_1K, writes_ok);
}

#define PTLOCK_TEST_FORK_PAGES	2

struct ptlock_fork_ctx {
	struct hstate *h;
	unsigned long addr;
	spinlock_t *parent_ptl[PTLOCK_TEST_FORK_PAGES];	/* parent's, per entry */
	struct completion done;
	int checked, bad, same_as_parent, split;
};

/*
 * Runs in the forked child on its copy of the test mm: the entries
 * copy_hugetlb_page_range() made must lock like core-mm, with the child's
 * own locks. Never returns to user mode.
 */
static int ptlock_fork_child(void *data)
{
	struct ptlock_fork_ctx *c = data;
	struct mm_struct *mm = current->mm;
	unsigned long sz = huge_page_size(c->h);
	unsigned long i;

	mmap_read_lock(mm);
	for (i = 0; i < PTLOCK_TEST_FORK_PAGES; i++) {
		unsigned long a = c->addr + i * sz;
		struct core_entry ce;
		pte_t *pte = huge_pte_offset(mm, a, sz);

		if (!core_mm_lookup(mm, a, &ce) || pte != ce.entry ||
		    !pte_present(huge_ptep_get(mm, a, pte)) ||
		    huge_pte_lockptr(c->h, mm, pte) != ce.ptl) {
			c->bad++;
			continue;
		}
		if (ce.ptl == c->parent_ptl[i])
			c->same_as_parent++;
		if (ce.ptl != &mm->page_table_lock)
			c->split++;
		c->checked++;
	}
	mmap_read_unlock(mm);
	complete(&c->done);
	do_exit(0);
}

static void copy_hugetlb_page_range_fork_copies_entries(struct kunit *test)
{
	struct ptlock_fork_ctx c = { };
	/*
	 * fork(), not a thread: no CLONE_VM, so copy_mm() duplicates the
	 * test mm (user_mode_thread() would force CLONE_VM). The child runs
	 * ptlock_fork_child() in the kernel and exits from there.
	 */
	struct kernel_clone_args args = {
		.flags = CLONE_UNTRACED,
		.exit_signal = SIGCHLD,
		.fn = ptlock_fork_child,
		.fn_arg = &c,
	};
	struct core_entry e[PTLOCK_TEST_FORK_PAGES];
	struct vm_area_struct *vma;
	unsigned long sz;
	struct hstate *h;
	pid_t pid;
	int i;

	if (!hugetlb_max_hstate)
		kunit_skip(test, "no hugetlb page sizes registered");
	h = &default_hstate;
	sz = huge_page_size(h);
	if (!get_free_pages(test, h, PTLOCK_TEST_FORK_PAGES))
		return;

	/*
	 * A private writable mapping populated by write faults has an
	 * anon_vma, so fork copies its page tables through
	 * copy_hugetlb_page_range(), which nests the child's and the
	 * parent's PT locks (shared mappings without anon_vma are skipped
	 * by vma_needs_copy()).
	 */
	c.h = h;
	c.addr = map_huge(test, h, PTLOCK_TEST_BASE, PTLOCK_TEST_FORK_PAGES,
			  MAP_PRIVATE | MAP_POPULATE, PROT_READ | PROT_WRITE);
	KUNIT_ASSERT_EQ(test, PTLOCK_TEST_FORK_PAGES,
			check_range_locks(test, h, current->mm, c.addr,
					  PTLOCK_TEST_FORK_PAGES, e,
					  PTLOCK_TEST_FORK_PAGES));
	for (i = 0; i < PTLOCK_TEST_FORK_PAGES; i++)
		c.parent_ptl[i] = e[i].ptl;
	init_completion(&c.done);

	mmap_read_lock(current->mm);
	vma = vma_lookup(current->mm, c.addr);
	KUNIT_EXPECT_TRUE(test, vma && vma->anon_vma);
	mmap_read_unlock(current->mm);

	pid = kernel_clone(&args);
	KUNIT_ASSERT_GT_MSG(test, pid, 0, "fork failed: %d", pid);
	if (!wait_for_completion_timeout(&c.done, 30 * HZ)) {
		/* The child still uses @c on our stack: do not return. */
		wait_for_completion(&c.done);
		KUNIT_FAIL(test, "forked child took more than 30s");
	}
	KUNIT_EXPECT_EQ(test, c.bad, 0);
	KUNIT_EXPECT_EQ(test, c.checked, PTLOCK_TEST_FORK_PAGES);
	/* The child's tables are its own: never the parent's lock. */
	KUNIT_EXPECT_EQ(test, c.same_as_parent, 0);
	KUNIT_EXPECT_EQ(test, c.split, expected_split_hugetlb_ptlocks() &&
			e[0].level < 3 ? c.checked : 0);
	kunit_info(test, "child checked %d %luK entries\n", c.checked,
		   sz / SZ_1K);
}

#else /* !CONFIG_HUGETLB_PAGE */

static const void *hstate_gen_params(const void *prev, char *desc)
{
	if (prev)
		return NULL;
	strscpy(desc, "none", KUNIT_PARAM_DESC_SIZE);
	return desc;	/* one placeholder so the skip reason is reported */
}

static void skip_no_hugetlb(struct kunit *test)
{
	kunit_skip(test, "no hugetlbfs: CONFIG_HUGETLB_PAGE is not set (UML has none)");
}

static void huge_pte_lockptr_matches_core_mm(struct kunit *test)
{
	skip_no_hugetlb(test);
}

static void huge_pte_offset_lock_present_returns_locked(struct kunit *test)
{
	skip_no_hugetlb(test);
}

static void huge_pte_offset_lock_absent_returns_null(struct kunit *test)
{
	skip_no_hugetlb(test);
}

static void huge_pte_offset_lock_unaligned_and_none(struct kunit *test)
{
	skip_no_hugetlb(test);
}

static void huge_pte_lock_concurrent_fault_mprotect_unmap(struct kunit *test)
{
	skip_no_hugetlb(test);
}

static void copy_hugetlb_page_range_fork_copies_entries(struct kunit *test)
{
	skip_no_hugetlb(test);
}

#endif /* CONFIG_HUGETLB_PAGE */

static struct kunit_case hugetlb_ptlock_test_cases[] = {
	KUNIT_CASE(use_split_hugetlb_ptlocks_matches_config),
	/* Slow: populating a 1G page takes seconds under emulation. */
	KUNIT_CASE_PARAM_ATTR(huge_pte_lockptr_matches_core_mm,
			      hstate_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(huge_pte_offset_lock_present_returns_locked,
			      hstate_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(huge_pte_offset_lock_absent_returns_null,
			      hstate_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_PARAM_ATTR(huge_pte_offset_lock_unaligned_and_none,
			      hstate_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_SLOW(huge_pte_lock_concurrent_fault_mprotect_unmap),
	KUNIT_CASE_SLOW(copy_hugetlb_page_range_fork_copies_entries),
	{}
};

static struct kunit_suite hugetlb_ptlock_test_suite = {
	.name = "hugetlb_ptlock",
	.test_cases = hugetlb_ptlock_test_cases,
};

kunit_test_suite(hugetlb_ptlock_test_suite);

MODULE_DESCRIPTION("KUnit tests for hugetlb split page table locks");
MODULE_LICENSE("GPL");
