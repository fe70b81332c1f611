// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel cost of the writeback events, in nanoseconds per event.
 *
 * Not part of the series: tools/bench_cost.py copies this file to
 * fs/wb_trace_cost.c of the unpatched base and of the patched trees (with
 * a Kconfig symbol and a Makefile line, kunit/bench/wb_trace_cost.toml)
 * and runs it with `kunit.py run wb_trace_cost`.  Only
 * interfaces common to all of them are used: the events
 * trace_writeback_wake_background(wb) and trace_wbc_writepage(wbc, bdi),
 * bdi_alloc()/bdi_register(), wb_get_create(), a cgroup2 mount made from
 * the kernel and directories made with VFS calls.
 *
 * For each event the wb's memcg is the root cgroup, a cgroup at depth 3,
 * at depth 8 and at depth 12 (30-character names: 93, 248 and 372
 * characters of path).  Each sample is the mean cost of WBC_BATCH events
 * timed with preemption off; preemption is on between samples, and the
 * depths are interleaved sample by sample so that drift hits them alike.
 * The event is measured disabled (static key off) at depth 8, then
 * enabled in a private trace instance (the global buffer is untouched).
 * Each figure is printed as a diagnostic line:
 *
 *   # wake_background: event=wake_background depth=8 state=enabled
 *     path_len=248 samples=21 batch=4000 median_ns=.. min_ns=.. max_ns=..
 */

#include <kunit/test.h>
#include <linux/backing-dev.h>
#include <linux/cgroup.h>
#include <linux/fs.h>
#include <linux/memcontrol.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/trace.h>
#include <linux/trace_events.h>
#include <linux/writeback.h>
#include <trace/events/writeback.h>

#define WBC_SAMPLES	21
#define WBC_BATCH	4000
#define WBC_LEVELS	12
#define WBC_NAME_LEN	30
#define WBC_INSTANCE	"wb_trace_cost"

static struct backing_dev_info *wbc_bdi;

#ifdef CONFIG_CGROUP_WRITEBACK

static const int wbc_depths[] = { 0, 3, 8, 12 };
#define WBC_NDEPTHS	ARRAY_SIZE(wbc_depths)
#define WBC_DISABLED_DEPTH	8

enum wbc_event { WBC_WAKE_BACKGROUND, WBC_WBC_WRITEPAGE };

static const char * const wbc_event_names[] = {
	[WBC_WAKE_BACKGROUND]	= "wake_background",
	[WBC_WBC_WRITEPAGE]	= "wbc_writepage",
};

static const char * const wbc_tp_names[] = {
	[WBC_WAKE_BACKGROUND]	= "writeback_wake_background",
	[WBC_WBC_WRITEPAGE]	= "wbc_writepage",
};

static struct vfsmount *wbc_mnt;

/* level i (1-based) of the chain: relative path, wb, cgroup_path length */
static char *wbc_rel[WBC_LEVELS + 1];
static struct bdi_writeback *wbc_wb[WBC_LEVELS + 1];
static size_t wbc_path_len[WBC_LEVELS + 1];

/*
 * The cgroup helpers below repeat the writeback_cgroup_trace suite's
 * (wbt_subtree_control(), wbt_mkrmdir()) on purpose: this file must also
 * build on the unpatched base, where that suite does not exist.
 */

/* @rel is relative to the cgroup2 root, "." for the root itself */
static int wbc_subtree_control(const char *rel, const char *cmd)
{
	struct file *f;
	loff_t pos = 0;
	ssize_t ret;
	char *file;

	file = kasprintf(GFP_KERNEL, "%s/cgroup.subtree_control", rel);
	if (!file)
		return -ENOMEM;
	f = file_open_root_mnt(wbc_mnt, file, O_WRONLY, 0);
	kfree(file);
	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = kernel_write(f, cmd, strlen(cmd), &pos);
	fput(f);
	return ret < 0 ? ret : 0;
}

/* mkdir (@mk) or rmdir @name in the directory @parent_rel of the mount */
static int wbc_mkrmdir(const char *parent_rel, const char *name, bool mk)
{
	struct dentry *dentry;
	struct path parent;
	struct inode *dir;
	int err;

	err = vfs_path_lookup(wbc_mnt->mnt_root, wbc_mnt, parent_rel,
			      LOOKUP_DIRECTORY, &parent);
	if (err)
		return err;
	dir = d_inode(parent.dentry);
	inode_lock_nested(dir, I_MUTEX_PARENT);
	dentry = lookup_one_len(name, parent.dentry, strlen(name));
	if (IS_ERR(dentry)) {
		err = PTR_ERR(dentry);
	} else {
		if (mk)
			err = vfs_mkdir(&nop_mnt_idmap, dir, dentry, 0755);
		else
			err = vfs_rmdir(&nop_mnt_idmap, dir, dentry);
		dput(dentry);
	}
	inode_unlock(dir);
	path_put(&parent);
	return err;
}

/* the wb of the memcg of the cgroup at @rel ("./a/b"), and its path length */
static int wbc_get_wb(const char *rel, struct bdi_writeback **wbp,
		      size_t *lenp)
{
	struct cgroup_subsys_state *css;
	struct cgroup *cgrp;
	char *buf;
	int err;

	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	cgrp = cgroup_get_from_path(rel + 1);	/* skip the "." */
	if (IS_ERR(cgrp)) {
		kfree(buf);
		return PTR_ERR(cgrp);
	}
	err = cgroup_path(cgrp, buf, PATH_MAX);
	*lenp = strlen(buf);
	css = cgroup_get_e_css(cgrp, &memory_cgrp_subsys);
	if (err >= 0 && css->cgroup != cgrp)
		err = -ENOENT;	/* memory not enabled in the parent */
	if (err >= 0) {
		*wbp = wb_get_create(wbc_bdi, css, GFP_KERNEL);
		if (!*wbp)
			err = -ENOMEM;
	}
	css_put(css);
	cgroup_put(cgrp);
	kfree(buf);
	return err < 0 ? err : 0;
}

static void wbc_chain_destroy(void)
{
	int i;

	for (i = WBC_LEVELS; i >= 1; i--) {
		if (wbc_wb[i])
			wb_put(wbc_wb[i]);
		wbc_wb[i] = NULL;
		if (wbc_rel[i]) {
			char *slash = strrchr(wbc_rel[i], '/');

			*slash = '\0';
			wbc_mkrmdir(wbc_rel[i], slash + 1, false);
		}
		kfree(wbc_rel[i]);
		wbc_rel[i] = NULL;
	}
}

/*
 * ./wbcost-01-xxx.../wbcost-02-xxx.../... down to WBC_LEVELS, memory
 * enabled for the children of every level but the last, a wb for each.
 */
static int wbc_chain_create(void)
{
	char name[WBC_NAME_LEN + 1];
	const char *parent = ".";
	int i, err;

	for (i = 1; i <= WBC_LEVELS; i++) {
		snprintf(name, sizeof(name), "wbcost-%02d-", i);
		memset(name + strlen(name), 'x', WBC_NAME_LEN - strlen(name));
		name[WBC_NAME_LEN] = '\0';
		err = wbc_mkrmdir(parent, name, true);
		if (err)
			return err;
		wbc_rel[i] = kasprintf(GFP_KERNEL, "%s/%s", parent, name);
		if (!wbc_rel[i]) {
			wbc_mkrmdir(parent, name, false);
			return -ENOMEM;
		}
		if (i < WBC_LEVELS) {
			err = wbc_subtree_control(wbc_rel[i], "+memory");
			if (err)
				return err;
		}
		err = wbc_get_wb(wbc_rel[i], &wbc_wb[i], &wbc_path_len[i]);
		if (err)
			return err;
		parent = wbc_rel[i];
	}
	return 0;
}

static struct bdi_writeback *wbc_depth_wb(int depth, size_t *lenp)
{
	*lenp = depth ? wbc_path_len[depth] : 1;
	return depth ? wbc_wb[depth] : &wbc_bdi->wb;
}

/* ns per event of one batch, in hundredths of a nanosecond */
static u64 wbc_batch(enum wbc_event ev, struct bdi_writeback *wb)
{
	struct writeback_control wbc = {
		.sync_mode	= WB_SYNC_NONE,
		.nr_to_write	= LONG_MAX,
		.range_cyclic	= 1,
		.wb		= wb,
	};
	u64 t0, t1;
	int i;

	preempt_disable();
	t0 = ktime_get_ns();
	if (ev == WBC_WAKE_BACKGROUND) {
		for (i = 0; i < WBC_BATCH; i++)
			trace_writeback_wake_background(wb);
	} else {
		for (i = 0; i < WBC_BATCH; i++)
			trace_wbc_writepage(&wbc, wb->bdi);
	}
	t1 = ktime_get_ns();
	preempt_enable();
	return div_u64((t1 - t0) * 100, WBC_BATCH);
}

static bool wbc_tp_enabled(enum wbc_event ev)
{
	return ev == WBC_WAKE_BACKGROUND ?
		trace_writeback_wake_background_enabled() :
		trace_wbc_writepage_enabled();
}

static int wbc_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void wbc_print(struct kunit *test, enum wbc_event ev, int depth,
		      const char *state, u64 *s)
{
	size_t len;
	u64 med, lo, hi;

	wbc_depth_wb(depth, &len);
	sort(s, WBC_SAMPLES, sizeof(*s), wbc_cmp_u64, NULL);
	med = s[WBC_SAMPLES / 2];
	lo = s[0];
	hi = s[WBC_SAMPLES - 1];
	kunit_info(test, "event=%s depth=%d state=%s path_len=%zu samples=%d batch=%d median_ns=%llu.%02llu min_ns=%llu.%02llu max_ns=%llu.%02llu\n",
		   wbc_event_names[ev], depth, state, len, WBC_SAMPLES,
		   WBC_BATCH, med / 100, med % 100, lo / 100, lo % 100,
		   hi / 100, hi % 100);
}

/* WBC_SAMPLES samples of every depth, interleaved; one line per depth */
static void wbc_measure(struct kunit *test, enum wbc_event ev,
			const int *depths, int n, const char *state)
{
	u64 (*s)[WBC_SAMPLES];
	size_t len;
	int i, d;

	s = kunit_kcalloc(test, n, sizeof(*s), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, s);
	for (d = 0; d < n; d++)		/* warm up caches and the buffer */
		wbc_batch(ev, wbc_depth_wb(depths[d], &len));
	for (i = 0; i < WBC_SAMPLES; i++) {
		for (d = 0; d < n; d++) {
			s[d][i] = wbc_batch(ev, wbc_depth_wb(depths[d], &len));
			cond_resched();
		}
	}
	for (d = 0; d < n; d++)
		wbc_print(test, ev, depths[d], state, s[d]);
}

static void wbc_run(struct kunit *test, enum wbc_event ev)
{
	static const int disabled[] = { WBC_DISABLED_DEPTH };
	struct trace_array *tr;
	int err;

	if (IS_ERR_OR_NULL(wbc_mnt) || !wbc_wb[WBC_LEVELS])
		KUNIT_FAIL(test, "cgroup setup failed: %d",
			   (int)PTR_ERR_OR_ZERO(wbc_mnt));
	KUNIT_ASSERT_NOT_NULL(test, wbc_wb[WBC_LEVELS]);

	KUNIT_ASSERT_FALSE(test, wbc_tp_enabled(ev));
	wbc_measure(test, ev, disabled, 1, "disabled");

	tr = trace_array_get_by_name(WBC_INSTANCE, NULL);
	KUNIT_ASSERT_NOT_NULL(test, tr);
	err = trace_array_set_clr_event(tr, "writeback", wbc_tp_names[ev],
					true);
	KUNIT_EXPECT_EQ(test, err, 0);
	if (!err) {
		KUNIT_EXPECT_TRUE(test, wbc_tp_enabled(ev));
		wbc_measure(test, ev, wbc_depths, WBC_NDEPTHS, "enabled");
		trace_array_set_clr_event(tr, "writeback", wbc_tp_names[ev],
					  false);
		tracepoint_synchronize_unregister();
	}
	trace_array_put(tr);
	trace_array_destroy(tr);
	KUNIT_EXPECT_FALSE(test, wbc_tp_enabled(ev));
}

static void wb_trace_cost_wake_background(struct kunit *test)
{
	wbc_run(test, WBC_WAKE_BACKGROUND);
}

static void wb_trace_cost_wbc_writepage(struct kunit *test)
{
	wbc_run(test, WBC_WBC_WRITEPAGE);
}

static void wbc_cgroups_init(void)
{
	struct file_system_type *type = get_fs_type("cgroup2");

	if (!type) {
		wbc_mnt = ERR_PTR(-ENODEV);
		return;
	}
	wbc_mnt = vfs_kern_mount(type, 0, "cgroup2", NULL);
	put_filesystem(type);
	if (IS_ERR(wbc_mnt))
		return;
	if (wbc_subtree_control(".", "+memory") || wbc_chain_create())
		pr_err("wb_trace_cost: cannot make the cgroups\n");
}

static void wbc_cgroups_exit(void)
{
	if (IS_ERR_OR_NULL(wbc_mnt))
		return;
	wbc_chain_destroy();
	kern_unmount(wbc_mnt);
	wbc_mnt = NULL;
}

#else	/* CONFIG_CGROUP_WRITEBACK */

static void wb_trace_cost_wake_background(struct kunit *test)
{
	kunit_skip(test, "CONFIG_CGROUP_WRITEBACK=n: no per-cgroup wb");
}

static void wb_trace_cost_wbc_writepage(struct kunit *test)
{
	kunit_skip(test, "CONFIG_CGROUP_WRITEBACK=n: no per-cgroup wb");
}

static void wbc_cgroups_init(void)
{
}

static void wbc_cgroups_exit(void)
{
}

#endif	/* CONFIG_CGROUP_WRITEBACK */

static int wbc_suite_init(struct kunit_suite *suite)
{
	int err;

	wbc_bdi = bdi_alloc(NUMA_NO_NODE);
	if (!wbc_bdi)
		return -ENOMEM;
	err = bdi_register(wbc_bdi, "wb_trace_cost");
	if (err) {
		bdi_put(wbc_bdi);
		wbc_bdi = NULL;
		return err;
	}
	wbc_cgroups_init();
	return 0;
}

static void wbc_suite_exit(struct kunit_suite *suite)
{
	wbc_cgroups_exit();
	if (wbc_bdi) {
		bdi_unregister(wbc_bdi);
		bdi_put(wbc_bdi);
	}
	wbc_bdi = NULL;
}

static struct kunit_case wb_trace_cost_cases[] = {
	KUNIT_CASE_SLOW(wb_trace_cost_wake_background),
	KUNIT_CASE_SLOW(wb_trace_cost_wbc_writepage),
	{}
};

static struct kunit_suite wb_trace_cost_suite = {
	.name = "wb_trace_cost",
	.suite_init = wbc_suite_init,
	.suite_exit = wbc_suite_exit,
	.test_cases = wb_trace_cost_cases,
};

kunit_test_suites(&wb_trace_cost_suite);

MODULE_DESCRIPTION("Cost of the writeback events' cgroup field (benchmark)");
MODULE_LICENSE("GPL");
