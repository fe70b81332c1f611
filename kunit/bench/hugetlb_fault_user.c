// SPDX-License-Identifier: GPL-2.0
/*
 * hugetlb fault scalability in user space: the init of the benchmark's
 * initramfs (tools/bench_fault.py).  Built static with the host's gcc
 * (gcc -static -pthread); it runs as PID 1, prints one line per figure
 * to the console and restarts the machine (QEMU runs with -no-reboot, so
 * it exits).
 *
 * For T threads of this process (1, 2, 4 ... up to the online CPUs):
 *
 *   mmap      each thread, fault_iters times: mmap a 2M MAP_HUGETLB page
 *             at its own GiB, touch every 4K of it, munmap it
 *   dontneed  each thread maps its page once, then fault_iters times:
 *             touch every 4K, madvise(MADV_DONTNEED)
 *   touch2013 the shape of the 2013 test: N = fault_pages pages in one
 *             mapping, every thread touches every page fault_touches
 *             times; fault_rounds rounds, the pages dropped with
 *             MADV_DONTNEED between rounds (so each round faults N pages)
 *
 * Each thread's page sits at the start of its own GiB, so with split PT
 * locks the threads take different PMD-table locks; the 2013 shape's
 * pages share one PMD table (and one lock) either way, as they did then.
 *
 * Parameters come from the kernel command line (the kernel hands
 * unknown key=value words without a dot to init as environment):
 * fault_iters, fault_pages, fault_touches, fault_rounds, fault_maxthreads.
 * Output, one line per figure:
 *
 *   fault_bench: test=mmap threads=2 faults=400 wall_ns=N faults_per_s=R
 */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

#define SZ_4K		0x1000UL
#define SZ_2M		0x200000UL
#define SZ_1G		0x40000000UL
/* far above the usual mmap area; thread i's page at FAULT_BASE + i GiB */
#define FAULT_BASE	(SZ_1G * 128UL)
#define MAX_THREADS	64

enum fault_test { T_MMAP, T_DONTNEED, T_TOUCH2013 };

static const char * const test_names[] = {
	[T_MMAP] = "mmap",
	[T_DONTNEED] = "dontneed",
	[T_TOUCH2013] = "touch2013",
};

static long iters = 100, pages = 16, touches = 10, rounds = 4;

struct worker {
	pthread_t tid;
	int idx;
	enum fault_test test;
	char *shared;		/* touch2013: the N-page mapping */
	pthread_barrier_t *start;	/* the workers and the main thread */
	pthread_barrier_t *round;	/* touch2013: the workers */
	long faults;
	int err;
};

typedef unsigned long long u64;

static u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* a store the compiler must keep: it is what faults the page in */
static void poke(char *p)
{
	__atomic_store_n(p, 1, __ATOMIC_RELAXED);
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 0) : def;
}

static char *map_huge(unsigned long addr, unsigned long len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB;
	char *p;

	if (addr)
		flags |= MAP_FIXED_NOREPLACE;
	p = mmap((void *)addr, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* the first store faults the 2M page in; the rest walk it like a user */
static void touch(char *p, unsigned long len)
{
	unsigned long off;

	for (off = 0; off < len; off += SZ_4K)
		poke(p + off);
}

static int run_mmap(struct worker *w)
{
	unsigned long addr = FAULT_BASE + w->idx * SZ_1G;
	long i;
	char *p;

	for (i = 0; i < iters; i++) {
		p = map_huge(addr, SZ_2M);
		if (!p)
			return errno;
		touch(p, SZ_2M);
		munmap(p, SZ_2M);
		w->faults++;
	}
	return 0;
}

static int run_dontneed(struct worker *w)
{
	char *p = map_huge(FAULT_BASE + w->idx * SZ_1G, SZ_2M);
	long i;

	if (!p)
		return errno;
	for (i = 0; i < iters; i++) {
		touch(p, SZ_2M);
		if (madvise(p, SZ_2M, MADV_DONTNEED))
			return errno;
		w->faults++;
	}
	munmap(p, SZ_2M);
	return 0;
}

/* every thread touches every page; the faults are counted once, by 0 */
static int run_touch2013(struct worker *w)
{
	long r, t, i;

	for (r = 0; r < rounds; r++) {
		for (t = 0; t < touches; t++)
			for (i = 0; i < pages; i++)
				poke(w->shared + i * SZ_2M + t);
		pthread_barrier_wait(w->round);
		if (w->idx == 0) {
			if (madvise(w->shared, pages * SZ_2M, MADV_DONTNEED))
				return errno;
			w->faults += pages;
		}
		pthread_barrier_wait(w->round);
	}
	return 0;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->start);
	if (w->test == T_MMAP)
		w->err = run_mmap(w);
	else if (w->test == T_DONTNEED)
		w->err = run_dontneed(w);
	else
		w->err = run_touch2013(w);
	return NULL;
}

static int run_test(enum fault_test test, int nthreads)
{
	struct worker w[MAX_THREADS];
	pthread_barrier_t start, round;
	char *shared = NULL;
	u64 t0, t1;
	long faults = 0;
	int i, err = 0;

	if (test == T_TOUCH2013) {
		shared = map_huge(0, pages * SZ_2M);
		if (!shared) {
			printf("fault_bench: test=%s threads=%d error=%s\n",
			       test_names[test], nthreads, strerror(errno));
			return 1;
		}
	}
	/* the main thread is the last to arrive: it starts the clock */
	pthread_barrier_init(&start, NULL, nthreads + 1);
	pthread_barrier_init(&round, NULL, nthreads);
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .idx = i, .test = test,
					.shared = shared, .start = &start,
					.round = &round };
		if (pthread_create(&w[i].tid, NULL, worker_fn, &w[i]))
			return 1;
	}
	t0 = now_ns();
	pthread_barrier_wait(&start);
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].tid, NULL);
		faults += w[i].faults;
		err = err ? err : w[i].err;
	}
	t1 = now_ns();
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&round);
	if (shared)
		munmap(shared, pages * SZ_2M);
	if (err) {
		printf("fault_bench: test=%s threads=%d error=%s\n",
		       test_names[test], nthreads, strerror(err));
		return 1;
	}
	printf("fault_bench: test=%s threads=%d faults=%ld wall_ns=%llu faults_per_s=%.0f\n",
	       test_names[test], nthreads, faults,
	       t1 - t0, faults * 1e9 / (t1 - t0));
	fflush(stdout);
	return 0;
}

int main(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	long maxthreads = env_long("fault_maxthreads", ncpu);
	enum fault_test test;
	int t, bad = 0;

	iters = env_long("fault_iters", iters);
	pages = env_long("fault_pages", pages);
	touches = env_long("fault_touches", touches);
	rounds = env_long("fault_rounds", rounds);
	if (maxthreads > ncpu)
		maxthreads = ncpu;
	if (maxthreads > MAX_THREADS)
		maxthreads = MAX_THREADS;
	if (touches > (long)SZ_4K)
		touches = SZ_4K;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("fault_bench: start cpus=%ld iters=%ld pages=%ld touches=%ld rounds=%ld\n",
	       ncpu, iters, pages, touches, rounds);
	for (test = T_MMAP; test <= T_TOUCH2013; test++)
		for (t = 1; t <= maxthreads; t *= 2)
			bad |= run_test(test, t);
	printf("fault_bench: done status=%s\n", bad ? "error" : "ok");
	fflush(stdout);
	if (getpid() != 1)	/* run by hand: never restart a host */
		return bad;
	sync();
	reboot(RB_AUTOBOOT);
	return 0;
}
