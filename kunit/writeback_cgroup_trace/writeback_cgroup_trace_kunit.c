// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the cgroup= field of the writeback tracepoints.
 *
 * This file is #included at the end of fs/fs-writeback.c, the unit that
 * defines CREATE_TRACE_POINTS for <trace/events/writeback.h> (the same
 * shape as fs/ext4/mballoc-test.c), so that it can call the path helpers
 * __trace_wb{,c}_cgroup_size() and __trace_wb{,c}_assign_cgroup{,_len}()
 * directly and read the raw trace records of the events.
 *
 * The cgroups are real: a cgroup2 mount made from the kernel, directories
 * made and removed through the VFS, the memory controller enabled in
 * cgroup.subtree_control, and the wb of each memcg obtained with
 * wb_get_create() on a bdi registered by the suite.
 */

#include <kunit/test.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/sizes.h>
#include <linux/trace.h>
#include <linux/trace_events.h>
#include <linux/uaccess.h>

#define WBT_GUARD	32
#define WBT_GUARD_BYTE	0xa5
#define WBT_TOP		"wbtrace-kunit"
/* cgroups wb_cgroup_churn_race makes and removes, unless time runs out */
#define WBT_CHURN_CGROUPS	32

static struct backing_dev_info *wbt_bdi;
static bool wbt_reported;

/*
 * Check one field: @buf holds what a fill of a @size byte record wrote,
 * followed by WBT_GUARD guard bytes.
 */
static void wbt_check_field(struct kunit *test, const char *buf, size_t size,
			    const char *expected)
{
	size_t i;

	KUNIT_EXPECT_EQ(test, size, strlen(expected) + 1);
	KUNIT_EXPECT_EQ(test, strnlen(buf, size), size - 1);
	KUNIT_EXPECT_STREQ(test, buf, expected);
	for (i = 0; i < WBT_GUARD; i++)
		KUNIT_EXPECT_EQ_MSG(test, (u8)buf[size + i], WBT_GUARD_BYTE,
				    "fill wrote past the %zu byte record", size);
}

static char *wbt_alloc_record(struct kunit *test, size_t size)
{
	char *buf = kunit_kmalloc(test, size + WBT_GUARD, GFP_KERNEL);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, buf);
	memset(buf, 0x5a, size);
	memset(buf + size, WBT_GUARD_BYTE, WBT_GUARD);
	return buf;
}

/*
 * Size and fill the cgroup field of @obj (a wb or a wbc, @kind names the
 * helpers) the way a tracepoint does (preemption and sched-RCU off, see
 * __DO_TRACE()), with both the two-argument helper and the reserved-length
 * one, and check both against @expected.
 */
#define WBT_CHECK_FIELD(test, kind, obj, expected)			\
do {									\
	struct kunit *t_ = (test);					\
	typeof(obj) o_ = (obj);						\
	const char *e_ = (expected);					\
	char *buf1, *buf2;						\
	size_t size;							\
									\
	preempt_disable();						\
	rcu_read_lock_sched();						\
	size = __trace_##kind##_cgroup_size(o_);			\
	rcu_read_unlock_sched();					\
	preempt_enable();						\
									\
	KUNIT_ASSERT_GE(t_, size, 2);					\
	KUNIT_ASSERT_LE(t_, size, WB_TRACE_CGROUP_PATH_MAX + 1);	\
	buf1 = wbt_alloc_record(t_, size);				\
	buf2 = wbt_alloc_record(t_, size);				\
									\
	preempt_disable();						\
	rcu_read_lock_sched();						\
	__trace_##kind##_assign_cgroup(buf1, o_);			\
	__trace_##kind##_assign_cgroup_len(buf2, size, o_);		\
	rcu_read_unlock_sched();					\
	preempt_enable();						\
									\
	wbt_check_field(t_, buf1, size, e_);				\
	wbt_check_field(t_, buf2, size, e_);				\
} while (0)

static void wbt_check_wb(struct kunit *test, struct bdi_writeback *wb,
			 const char *expected)
{
	WBT_CHECK_FIELD(test, wb, wb, expected);
}

static void wbt_check_wbc(struct kunit *test, struct writeback_control *wbc,
			  const char *expected)
{
	WBT_CHECK_FIELD(test, wbc, wbc, expected);
}

/* root cgroup, wbc without wb (and with the root wb): "/" and size 2 */
static void wb_cgroup_helpers_root(struct kunit *test)
{
	struct writeback_control wbc = {};

	if (!wbt_reported) {
		kunit_info(test, "report: CGROUP_WRITEBACK=%d\n",
			   IS_ENABLED(CONFIG_CGROUP_WRITEBACK));
		wbt_reported = true;
	}

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, wbt_bdi);
	wbt_check_wb(test, &wbt_bdi->wb, "/");
	wbt_check_wb(test, &noop_backing_dev_info.wb, "/");
	KUNIT_EXPECT_EQ(test, __trace_wb_cgroup_size(&wbt_bdi->wb), 2);

	/* without wb: wbc->wb is NULL, or does not exist at all */
	wbt_check_wbc(test, &wbc, "/");
	KUNIT_EXPECT_EQ(test, __trace_wbc_cgroup_size(&wbc), 2);
#ifdef CONFIG_CGROUP_WRITEBACK
	wbc.wb = &wbt_bdi->wb;
	wbt_check_wbc(test, &wbc, "/");
#endif
}

#ifdef CONFIG_CGROUP_WRITEBACK

static struct vfsmount *wbt_mnt;

static __printf(2, 3) char *wbt_printf(struct kunit *test, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = kunit_kmalloc(test, n + 1, GFP_KERNEL);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/* @rel is relative to the cgroup2 root, "." for the root itself */
static int wbt_subtree_control(const char *rel, const char *cmd)
{
	char *file;
	struct file *f;
	loff_t pos = 0;
	ssize_t ret;

	file = kasprintf(GFP_KERNEL, "%s/cgroup.subtree_control", rel);
	if (!file)
		return -ENOMEM;
	f = file_open_root_mnt(wbt_mnt, file, O_WRONLY, 0);
	kfree(file);
	if (IS_ERR(f))
		return PTR_ERR(f);
	ret = kernel_write(f, cmd, strlen(cmd), &pos);
	fput(f);
	return ret < 0 ? ret : 0;
}

/* mkdir (@mk) or rmdir @name in the directory @parent_rel of the mount */
static int wbt_mkrmdir(const char *parent_rel, const char *name, bool mk)
{
	struct dentry *dentry;
	struct path parent;
	struct inode *dir;
	int err;

	err = vfs_path_lookup(wbt_mnt->mnt_root, wbt_mnt, parent_rel,
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

/* a made cgroup and the wb of its memcg on wbt_bdi */
struct wbt_cg {
	char *rel;		/* path relative to the mount, no leading '/' */
	char *parent_rel;
	const char *name;
	char *full;		/* cgroup_path() of the cgroup */
	struct bdi_writeback *wb;
};

static void wbt_cg_destroy(struct wbt_cg *cg)
{
	if (cg->wb)
		wb_put(cg->wb);
	cg->wb = NULL;
	if (cg->full)
		wbt_mkrmdir(cg->parent_rel, cg->name, false);
	kfree(cg->full);
	kfree(cg->rel);
	kfree(cg->parent_rel);
	cg->full = NULL;
	cg->rel = NULL;
	cg->parent_rel = NULL;
}

/*
 * Make the cgroup @name under @parent_rel (memory must be enabled in the
 * parent's subtree_control), enable memory for its own children if
 * @enable_children, and get the wb of its memcg.  Returns 0 or -errno;
 * on error @cg is left destroyed.
 */
static int wbt_cg_create(struct wbt_cg *cg, const char *parent_rel,
			 const char *name, bool enable_children)
{
	struct cgroup_subsys_state *css;
	struct cgroup *cgrp;
	int err;

	memset(cg, 0, sizeof(*cg));
	cg->parent_rel = kstrdup(parent_rel, GFP_KERNEL);
	cg->rel = kasprintf(GFP_KERNEL, "%s/%s", parent_rel, name);
	cg->full = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!cg->parent_rel || !cg->rel || !cg->full) {
		kfree(cg->full);
		cg->full = NULL;
		wbt_cg_destroy(cg);
		return -ENOMEM;
	}
	cg->name = cg->rel + strlen(parent_rel) + 1;

	err = wbt_mkrmdir(parent_rel, name, true);
	if (err) {
		kfree(cg->full);
		cg->full = NULL;
		wbt_cg_destroy(cg);
		return err;
	}
	if (enable_children) {
		err = wbt_subtree_control(cg->rel, "+memory");
		if (err)
			goto fail;
	}

	cgrp = cgroup_get_from_path(cg->rel + 1);	/* skip the "." */
	if (IS_ERR(cgrp)) {
		err = PTR_ERR(cgrp);
		goto fail;
	}
	err = cgroup_path(cgrp, cg->full, PATH_MAX);
	css = cgroup_get_e_css(cgrp, &memory_cgrp_subsys);
	if (err >= 0 && css->cgroup != cgrp)
		err = -ENOENT;	/* memory not enabled in the parent */
	if (err >= 0) {
		cg->wb = wb_get_create(wbt_bdi, css, GFP_KERNEL);
		if (!cg->wb)
			err = -ENOMEM;
	}
	css_put(css);
	cgroup_put(cgrp);
	if (err < 0)
		goto fail;
	return 0;

fail:
	wbt_cg_destroy(cg);
	return err;
}

static void wbt_cg_action(void *data)
{
	wbt_cg_destroy(data);
}

static struct wbt_cg *wbt_cg_make(struct kunit *test, const char *parent_rel,
				  const char *name, bool enable_children)
{
	struct wbt_cg *cg = kunit_kzalloc(test, sizeof(*cg), GFP_KERNEL);
	int err;

	KUNIT_ASSERT_NOT_NULL(test, cg);
	err = wbt_cg_create(cg, parent_rel, name, enable_children);
	KUNIT_ASSERT_EQ_MSG(test, err, 0, "cannot make cgroup %s/%s",
			    parent_rel, name);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, wbt_cg_action,
							   cg));
	KUNIT_ASSERT_NOT_NULL(test, cg->wb);
	KUNIT_ASSERT_PTR_NE(test, cg->wb, &wbt_bdi->wb);
	return cg;
}

/* the field the events must report for a cgroup whose path is @full */
static const char *wbt_expected(struct kunit *test, const char *full)
{
	size_t len = strlen(full), keep;
	char *exp;

	if (len <= WB_TRACE_CGROUP_PATH_MAX)
		return full;
	keep = WB_TRACE_CGROUP_PATH_MAX - strlen(WB_TRACE_CGROUP_TRUNC_MARK);
	exp = wbt_printf(test, "%s%s", WB_TRACE_CGROUP_TRUNC_MARK,
			 full + len - keep);
	KUNIT_ASSERT_NOT_NULL(test, exp);
	return exp;
}

static int wbt_top_seq;

/* a fresh top-level cgroup with memory enabled for its children */
static struct wbt_cg *wbt_top(struct kunit *test)
{
	char *name = wbt_printf(test, "%s-%d", WBT_TOP,
				     ++wbt_top_seq);

	KUNIT_ASSERT_NOT_NULL(test, name);
	return wbt_cg_make(test, ".", name, true);
}

static int wbt_require_cgroups(struct kunit *test)
{
	if (IS_ERR_OR_NULL(wbt_mnt))
		KUNIT_FAIL(test, "cgroup2 setup failed: %d",
			   (int)PTR_ERR_OR_ZERO(wbt_mnt));
	return !IS_ERR_OR_NULL(wbt_mnt);
}

/* nested cgroups, depth 1 to 4, with wb and through a wbc */
static void wb_cgroup_helpers_nested(struct kunit *test)
{
	struct writeback_control wbc = {};
	struct wbt_cg *top, *l1, *l2, *l3;

	if (!wbt_require_cgroups(test))
		return;
	top = wbt_top(test);
	l1 = wbt_cg_make(test, top->rel, "level1", true);
	l2 = wbt_cg_make(test, l1->rel, "level2", true);
	l3 = wbt_cg_make(test, l2->rel, "level3", false);

	KUNIT_EXPECT_EQ(test, strcmp(l3->full + strlen(l3->full) -
				     strlen("/level1/level2/level3"),
				     "/level1/level2/level3"), 0);
	KUNIT_EXPECT_EQ(test, l3->full[0], '/');
	wbt_check_wb(test, top->wb, top->full);
	wbt_check_wb(test, l1->wb, l1->full);
	wbt_check_wb(test, l2->wb, l2->full);
	wbt_check_wb(test, l3->wb, l3->full);

	wbc.wb = l3->wb;
	wbt_check_wbc(test, &wbc, l3->full);
	wbc.wb = top->wb;
	wbt_check_wbc(test, &wbc, top->full);
	kunit_info(test, "cgroup=%s\n", l3->full);
}

/* paths of exactly the bound, one more, and far longer */
static void wb_cgroup_helpers_long(struct kunit *test)
{
	size_t toplen, fill;
	struct wbt_cg *top, *a, *b, *c;
	char *name, *buf;
	const char *exp;

	if (!wbt_require_cgroups(test))
		return;
	top = wbt_top(test);
	toplen = strlen(top->full);
	KUNIT_ASSERT_LT(test, toplen, 100);

	/* "<top>/<name>" exactly WB_TRACE_CGROUP_PATH_MAX long: not cut */
	name = kunit_kzalloc(test, NAME_MAX + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, name);
	memset(name, 'a', WB_TRACE_CGROUP_PATH_MAX - toplen - 1);
	a = wbt_cg_make(test, top->rel, name, true);
	KUNIT_ASSERT_EQ(test, strlen(a->full), WB_TRACE_CGROUP_PATH_MAX);
	wbt_check_wb(test, a->wb, a->full);

	/* one character more: cut, marker in front, tail kept */
	memset(name, 0, NAME_MAX + 1);
	memset(name, 'b', WB_TRACE_CGROUP_PATH_MAX - toplen);
	b = wbt_cg_make(test, top->rel, name, true);
	KUNIT_ASSERT_EQ(test, strlen(b->full), WB_TRACE_CGROUP_PATH_MAX + 1);
	exp = wbt_expected(test, b->full);
	KUNIT_EXPECT_EQ(test, strlen(exp), WB_TRACE_CGROUP_PATH_MAX);
	KUNIT_EXPECT_EQ(test, strncmp(exp, WB_TRACE_CGROUP_TRUNC_MARK,
				      strlen(WB_TRACE_CGROUP_TRUNC_MARK)), 0);
	wbt_check_wb(test, b->wb, exp);

	/* far longer: a 200 character name below the 255 character one */
	memset(name, 0, NAME_MAX + 1);
	memset(name, 'c', 200);
	c = wbt_cg_make(test, a->rel, name, false);
	KUNIT_ASSERT_GT(test, strlen(c->full), 2 * WB_TRACE_CGROUP_PATH_MAX - 100);
	exp = wbt_expected(test, c->full);
	wbt_check_wb(test, c->wb, exp);
	kunit_info(test, "cgroup=%s (%zu of %zu characters)\n", exp,
		   strlen(exp), strlen(c->full));

	/*
	 * A record reserved smaller than the field (the events never do that:
	 * size and fill read the same path) is never overrun: the fill keeps
	 * the head that fits and NUL-terminates it.
	 */
	for (fill = 1; fill <= 12; fill++) {
		buf = wbt_alloc_record(test, fill);
		preempt_disable();
		rcu_read_lock_sched();
		__trace_wb_assign_cgroup_len(buf, fill, c->wb);
		rcu_read_unlock_sched();
		preempt_enable();
		KUNIT_EXPECT_EQ(test, strnlen(buf, fill), fill - 1);
		KUNIT_EXPECT_EQ(test, strncmp(buf, exp, fill - 1), 0);
		KUNIT_EXPECT_EQ(test, (u8)buf[fill], WBT_GUARD_BYTE);
	}
}

/*
 * Churn: a kthread makes and removes cgroups, removing the very cgroup
 * whose wb it just handed to the test thread, while the test thread
 * sizes and fills records for that wb in a loop.
 */
struct wbt_churn {
	struct mutex lock;		/* protects cur and cur_seq */
	struct bdi_writeback *cur;	/* holds a wb reference */
	int cur_seq, used_seq;		/* handed over / seen by the user */
	const char *parent_rel;
	const char *long_name;
	atomic_t made, errors;
	int first_err;
};

static int wbt_churn_fn(void *data)
{
	struct wbt_churn *ch = data;
	struct bdi_writeback *old;
	struct wbt_cg cg, sib;
	char name[32];
	int i = 0, err, tries;

	while (!kthread_should_stop()) {
		i++;
		if (i % 3 == 0) {
			snprintf(name, sizeof(name), "%.8s%d", ch->long_name, i);
			err = wbt_cg_create(&cg, ch->parent_rel,
					    i % 2 ? name : ch->long_name, false);
		} else {
			snprintf(name, sizeof(name), "churn%d", i);
			err = wbt_cg_create(&cg, ch->parent_rel, name, false);
		}
		if (err) {
			ch->first_err = err;
			atomic_inc(&ch->errors);
			break;
		}
		atomic_inc(&ch->made);

		/* hand the wb over (the slot keeps a reference) */
		wb_get(cg.wb);
		mutex_lock(&ch->lock);
		old = ch->cur;
		ch->cur = cg.wb;
		ch->cur_seq = i;
		mutex_unlock(&ch->lock);
		if (old)
			wb_put(old);

		/* wait (bounded) until the other thread works on this wb */
		for (tries = 0; tries < 20 && !kthread_should_stop(); tries++) {
			if (READ_ONCE(ch->used_seq) == i)
				break;
			schedule_timeout_interruptible(1);
		}

		/* unrelated cgroup creation and removal */
		snprintf(name, sizeof(name), "sib%d", i);
		if (!wbt_cg_create(&sib, ch->parent_rel, name, false))
			wbt_cg_destroy(&sib);

		/* remove the cgroup whose wb the other thread is using */
		cond_resched();
		wbt_cg_destroy(&cg);
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static void wb_cgroup_churn_race(struct kunit *test)
{
	unsigned long end, loops = 0, bad = 0, truncated = 0;
	struct task_struct *thread;
	struct bdi_writeback *wb;
	struct wbt_churn *ch;
	struct wbt_cg *top, *mid;
	char *name, *rec, *exact;
	size_t size, i;

	if (!wbt_require_cgroups(test))
		return;
	ch = kunit_kzalloc(test, sizeof(*ch), GFP_KERNEL);
	name = kunit_kzalloc(test, NAME_MAX + 1, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, ch);
	KUNIT_ASSERT_NOT_NULL(test, name);
	top = wbt_top(test);
	/* a long parent, so that long children cross the bound */
	memset(name, 'm', 150);
	mid = wbt_cg_make(test, top->rel, name, true);
	mutex_init(&ch->lock);
	ch->parent_rel = mid->rel;
	memset(name, 'z', 180);
	ch->long_name = name;

	thread = kthread_run(wbt_churn_fn, ch, "wbtrace-churn");
	KUNIT_ASSERT_FALSE(test, IS_ERR(thread));
	get_task_struct(thread);

	/*
	 * Until WBT_CHURN_CGROUPS cgroups were made and removed under the
	 * reader and some records were truncated, or 1.5 s: measured under
	 * TCG, the x86_64 row made 167 cgroups in 1.5 s, PREEMPT_RT 56 and
	 * the KASAN+lockdep row 17, so only the slow rows run the full time.
	 */
	end = jiffies + msecs_to_jiffies(1500);
	while (time_before(jiffies, end) &&
	       (atomic_read(&ch->made) < WBT_CHURN_CGROUPS || !truncated)) {
		mutex_lock(&ch->lock);
		wb = ch->cur;
		if (wb) {
			wb_get(wb);
			WRITE_ONCE(ch->used_seq, ch->cur_seq);
		}
		mutex_unlock(&ch->lock);
		if (!wb) {
			cond_resched();
			continue;
		}

		for (i = 0; i < 8; i++) {
			preempt_disable();
			rcu_read_lock_sched();
			size = __trace_wb_cgroup_size(wb);
			rcu_read_unlock_sched();
			preempt_enable();
			if (size < 2 || size > WB_TRACE_CGROUP_PATH_MAX + 1) {
				bad++;
				break;
			}
			/* guarded copy and exact-size copy for KASAN */
			rec = kmalloc(size + WBT_GUARD, GFP_KERNEL);
			exact = kmalloc(size, GFP_KERNEL);
			if (!rec || !exact) {
				kfree(rec);
				kfree(exact);
				break;
			}
			memset(rec + size, WBT_GUARD_BYTE, WBT_GUARD);
			preempt_disable();
			rcu_read_lock_sched();
			__trace_wb_assign_cgroup_len(rec, size, wb);
			__trace_wb_assign_cgroup(exact, wb);
			rcu_read_unlock_sched();
			preempt_enable();

			if (strnlen(rec, size) != size - 1 ||
			    memchr_inv(rec + size, WBT_GUARD_BYTE, WBT_GUARD) ||
			    strnlen(exact, size) != size - 1 ||
			    strcmp(rec, exact) ||
			    (rec[0] != '/' && strncmp(rec, "...", 3)))
				bad++;
			if (rec[0] == '.')
				truncated++;
			kfree(rec);
			kfree(exact);
			loops++;
		}
		wb_put(wb);
		cond_resched();
	}

	kthread_stop(thread);
	put_task_struct(thread);
	mutex_lock(&ch->lock);
	wb = ch->cur;
	ch->cur = NULL;
	mutex_unlock(&ch->lock);
	if (wb)
		wb_put(wb);

	kunit_info(test, "%lu records, %d cgroups made and removed, %lu truncated\n",
		   loops, atomic_read(&ch->made), truncated);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&ch->errors), 0,
			    "churn thread failed: %d", ch->first_err);
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_GT(test, loops, 0);
	KUNIT_EXPECT_GT(test, atomic_read(&ch->made), 2);
	KUNIT_EXPECT_GT(test, truncated, 0);
}

#else	/* CONFIG_CGROUP_WRITEBACK */

static void wb_cgroup_helpers_nested(struct kunit *test)
{
	kunit_skip(test, "CONFIG_CGROUP_WRITEBACK=n: no per-cgroup wb exists");
}

static void wb_cgroup_helpers_long(struct kunit *test)
{
	kunit_skip(test, "CONFIG_CGROUP_WRITEBACK=n: no per-cgroup wb exists");
}

static void wb_cgroup_churn_race(struct kunit *test)
{
	kunit_skip(test, "CONFIG_CGROUP_WRITEBACK=n: no per-cgroup wb exists");
}

#endif	/* CONFIG_CGROUP_WRITEBACK */

#ifdef CONFIG_EVENT_TRACING
/*
 * A real tracepoint: writeback_wake_background enabled in a trace
 * instance; an ftrace export sees each committed raw record.
 */
static DEFINE_RAW_SPINLOCK(wbt_rec_lock);
static char wbt_rec_cgroup[WB_TRACE_CGROUP_PATH_MAX + 1];
static unsigned long wbt_rec_ino;
static char wbt_rec_bdi[32];
static int wbt_rec_count, wbt_rec_bad;

static void wbt_export_write(struct trace_export *export, const void *entry,
			     unsigned int size)
{
	const struct trace_event_raw_writeback_class *rec = entry;
	unsigned int off, len;
	unsigned long flags;
	const char *str;

	if (size < sizeof(*rec) ||
	    rec->ent.type != event_writeback_wake_background.event.type)
		return;
	off = rec->__data_loc_cgroup & 0xffff;
	len = rec->__data_loc_cgroup >> 16;
	str = (const char *)entry + off;

	raw_spin_lock_irqsave(&wbt_rec_lock, flags);
	wbt_rec_count++;
	/* the record the probe sees: inside the entry, NUL-terminated */
	if (off + len > size || len < 2 ||
	    len > WB_TRACE_CGROUP_PATH_MAX + 1 ||
	    strnlen(str, len) != len - 1) {
		wbt_rec_bad++;
	} else {
		memcpy(wbt_rec_cgroup, str, len);
		wbt_rec_ino = rec->cgroup_ino;
		memcpy(wbt_rec_bdi, rec->name, sizeof(wbt_rec_bdi));
		wbt_rec_bdi[sizeof(wbt_rec_bdi) - 1] = '\0';
	}
	raw_spin_unlock_irqrestore(&wbt_rec_lock, flags);
}

static struct trace_export wbt_export = {
	.write	= wbt_export_write,
	.flags	= TRACE_EXPORT_EVENT,
};

static void wbt_event_check(struct kunit *test, struct bdi_writeback *wb,
			    const char *expected)
{
	unsigned long flags;
	int count, bad;
	char *got;

	got = kunit_kzalloc(test, sizeof(wbt_rec_cgroup), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, got);
	raw_spin_lock_irqsave(&wbt_rec_lock, flags);
	wbt_rec_count = 0;
	wbt_rec_bad = 0;
	raw_spin_unlock_irqrestore(&wbt_rec_lock, flags);

	/* emits trace_writeback_wake_background(wb), then wakes the flusher */
	wb_start_background_writeback(wb);

	raw_spin_lock_irqsave(&wbt_rec_lock, flags);
	count = wbt_rec_count;
	bad = wbt_rec_bad;
	memcpy(got, wbt_rec_cgroup, sizeof(wbt_rec_cgroup));
	raw_spin_unlock_irqrestore(&wbt_rec_lock, flags);

	KUNIT_EXPECT_GE(test, count, 1);
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_STREQ(test, got, expected);
	if (count && !bad)
		kunit_info(test, "writeback_wake_background: bdi %s: cgroup_ino=%lu cgroup=%s\n",
			   wbt_rec_bdi, wbt_rec_ino, got);
}

static void wb_cgroup_tracepoint_record(struct kunit *test)
{
	struct trace_array *tr;
	int err;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, wbt_bdi);
	tr = trace_array_get_by_name("wbtrace_kunit", NULL);
	KUNIT_ASSERT_NOT_NULL(test, tr);
	err = trace_array_set_clr_event(tr, "writeback",
					"writeback_wake_background", true);
	if (err) {
		trace_array_put(tr);
		trace_array_destroy(tr);
		KUNIT_ASSERT_EQ(test, err, 0);
	}
	err = register_ftrace_export(&wbt_export);
	if (err) {
		trace_array_set_clr_event(tr, "writeback",
					  "writeback_wake_background", false);
		trace_array_put(tr);
		trace_array_destroy(tr);
		KUNIT_ASSERT_EQ(test, err, 0);
	}

	wbt_event_check(test, &wbt_bdi->wb, "/");
#ifdef CONFIG_CGROUP_WRITEBACK
	if (wbt_require_cgroups(test)) {
		struct wbt_cg *top = wbt_top(test);
		struct wbt_cg *l1 = wbt_cg_make(test, top->rel, "level1", true);
		struct wbt_cg *l2 = wbt_cg_make(test, l1->rel, "level2", false);

		wbt_event_check(test, l2->wb, l2->full);
	}
#endif

	unregister_ftrace_export(&wbt_export);
	trace_array_set_clr_event(tr, "writeback", "writeback_wake_background",
				  false);
	tracepoint_synchronize_unregister();
	trace_array_put(tr);
	trace_array_destroy(tr);
}

/*
 * Every event that got cgroup=, one of each class and all its events,
 * fired directly with arguments built here: a super_block and an inode
 * that only carry what the events read (s_bdi; i_ino, i_state,
 * dirtied_when, i_mapping, i_wb), so no filesystem is involved.  Each
 * committed record is checked through an ftrace export (field inside the
 * record, NUL-terminated, the expected path and cgroup_ino), and each
 * event's line of the instance's trace file, read back through tracefs,
 * must end in " cgroup=<path>".
 */
struct wbt_ev {
	const char *name;
	struct trace_event_call *call;
	size_t loc, ino, size;	/* offsets in, and size of, the raw record */
	int match, bad;		/* records with the expected field; broken */
};

#define WBT_EV(ev, cls) {						\
	.name = #ev, .call = &event_##ev,				\
	.loc = offsetof(struct trace_event_raw_##cls, __data_loc_cgroup), \
	.ino = offsetof(struct trace_event_raw_##cls, cgroup_ino),	\
	.size = sizeof(struct trace_event_raw_##cls) }

static struct wbt_ev wbt_evs[] = {
	WBT_EV(writeback_write_inode_start, writeback_write_inode_template),
	WBT_EV(writeback_write_inode, writeback_write_inode_template),
	WBT_EV(writeback_queue, writeback_work_class),
	WBT_EV(writeback_exec, writeback_work_class),
	WBT_EV(writeback_start, writeback_work_class),
	WBT_EV(writeback_written, writeback_work_class),
	WBT_EV(writeback_wait, writeback_work_class),
	WBT_EV(writeback_wake_background, writeback_class),
	WBT_EV(wbc_writepage, wbc_class),
	WBT_EV(writeback_queue_io, writeback_queue_io),
	WBT_EV(bdi_dirty_ratelimit, bdi_dirty_ratelimit),
	WBT_EV(balance_dirty_pages, balance_dirty_pages),
	WBT_EV(writeback_sb_inodes_requeue, writeback_sb_inodes_requeue),
	WBT_EV(writeback_single_inode_start, writeback_single_inode_template),
	WBT_EV(writeback_single_inode, writeback_single_inode_template),
};

static const char *wbt_expect;		/* under wbt_rec_lock */
static ino_t wbt_expect_ino;

static void wbt_evs_write(struct trace_export *export, const void *entry,
			  unsigned int size)
{
	const struct trace_entry *ent = entry;
	const char *rec = entry;
	unsigned long flags;
	struct wbt_ev *ev;
	u32 loc, off, len;

	for (ev = wbt_evs; ev < wbt_evs + ARRAY_SIZE(wbt_evs); ev++)
		if (ev->call->event.type == ent->type)
			break;
	if (ev == wbt_evs + ARRAY_SIZE(wbt_evs))
		return;
	raw_spin_lock_irqsave(&wbt_rec_lock, flags);
	if (size < ev->size) {
		ev->bad++;
		goto out;
	}
	loc = *(const u32 *)(rec + ev->loc);
	off = loc & 0xffff;
	len = loc >> 16;
	if (off + len > size || len < 2 || len > WB_TRACE_CGROUP_PATH_MAX + 1 ||
	    strnlen(rec + off, len) != len - 1)
		ev->bad++;
	else if (wbt_expect && !strcmp(rec + off, wbt_expect) &&
		 *(const ino_t *)(rec + ev->ino) == wbt_expect_ino)
		ev->match++;
out:
	raw_spin_unlock_irqrestore(&wbt_rec_lock, flags);
}

static struct trace_export wbt_evs_export = {
	.write	= wbt_evs_write,
	.flags	= TRACE_EXPORT_EVENT,
};

static void wbt_fire_all(struct bdi_writeback *wb,
			 struct writeback_control *wbc, struct inode *inode)
{
	struct wb_writeback_work work = {
		.nr_pages = 1, .sb = inode->i_sb, .sync_mode = WB_SYNC_NONE,
		.reason = WB_REASON_BACKGROUND,
	};

	trace_writeback_write_inode_start(inode, wbc);
	trace_writeback_write_inode(inode, wbc);
	trace_writeback_queue(wb, &work);
	trace_writeback_exec(wb, &work);
	trace_writeback_start(wb, &work);
	trace_writeback_written(wb, &work);
	trace_writeback_wait(wb, &work);
	trace_writeback_wake_background(wb);
	trace_wbc_writepage(wbc, wb->bdi);
	trace_writeback_queue_io(wb, &work, jiffies, 1);
	trace_bdi_dirty_ratelimit(wb, 1, 1);
	trace_balance_dirty_pages(wb, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, jiffies);
	spin_lock(&inode->i_lock);	/* inode_to_wb() asserts it */
	trace_writeback_sb_inodes_requeue(inode);
	spin_unlock(&inode->i_lock);
	trace_writeback_single_inode_start(inode, wbc, 1);
	trace_writeback_single_inode(inode, wbc, 1);
}

#define WBT_TRACE	"instances/wbtrace_kunit/trace"
#define WBT_TRACE_MAX	SZ_64K

/*
 * The instance's trace file as text, or NULL with the test failed.  It is
 * a seq_file without ->read_iter, which kernel_read() refuses, so it is
 * read with vfs_read() into a user buffer of the test's own mm
 * (kunit_vm_mmap()), as a reader in user space would.
 */
static char *wbt_read_trace(struct kunit *test, struct vfsmount *mnt)
{
	struct file *f = file_open_root_mnt(mnt, WBT_TRACE, O_RDONLY, 0);
	unsigned long ubuf;
	size_t len = 0;
	loff_t pos = 0;
	ssize_t n;
	char *buf;

	KUNIT_EXPECT_FALSE_MSG(test, IS_ERR(f), "open %s: %d", WBT_TRACE,
			       (int)PTR_ERR_OR_ZERO(f));
	if (IS_ERR(f))
		return NULL;
	buf = kunit_kzalloc(test, WBT_TRACE_MAX + 1, GFP_KERNEL);
	ubuf = kunit_vm_mmap(test, NULL, 0, WBT_TRACE_MAX,
			     PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, 0);
	while (buf && ubuf && !IS_ERR_VALUE(ubuf) && len < WBT_TRACE_MAX) {
		n = vfs_read(f, (char __user *)ubuf, WBT_TRACE_MAX - len, &pos);
		if (n <= 0 || copy_from_user(buf + len, (char __user *)ubuf, n))
			break;
		len += n;
	}
	fput(f);
	KUNIT_EXPECT_GT_MSG(test, len, 0, "nothing read from %s", WBT_TRACE);
	return buf;
}

/* Some line "<event>: bdi wbtrace-kunit: ..." of @text ends in @tail. */
static bool wbt_line_ends(const char *text, const char *event,
			  const char *tail)
{
	char key[96];
	const char *p = text, *eol;
	size_t tlen = strlen(tail);

	snprintf(key, sizeof(key), " %s: bdi wbtrace-kunit: ", event);
	while ((p = strstr(p, key))) {
		eol = strchrnul(p, '\n');
		if ((size_t)(eol - p) >= tlen && !strncmp(eol - tlen, tail, tlen))
			return true;
		p = eol;
	}
	return false;
}

static void wbt_fire_check(struct kunit *test, struct vfsmount *mnt,
			   struct bdi_writeback *wb,
			   struct writeback_control *wbc, struct inode *inode,
			   const char *expected, ino_t ino)
{
	unsigned long flags;
	struct wbt_ev *ev;
	struct file *f;
	char *text, *tail;

	f = file_open_root_mnt(mnt, WBT_TRACE, O_WRONLY | O_TRUNC, 0);
	if (!IS_ERR(f))
		fput(f);	/* O_TRUNC empties the instance's buffer */
	raw_spin_lock_irqsave(&wbt_rec_lock, flags);
	for (ev = wbt_evs; ev < wbt_evs + ARRAY_SIZE(wbt_evs); ev++) {
		ev->match = 0;
		ev->bad = 0;
	}
	wbt_expect = expected;
	wbt_expect_ino = ino;
	raw_spin_unlock_irqrestore(&wbt_rec_lock, flags);

	wbt_fire_all(wb, wbc, inode);

	raw_spin_lock_irqsave(&wbt_rec_lock, flags);
	wbt_expect = NULL;
	raw_spin_unlock_irqrestore(&wbt_rec_lock, flags);
	text = wbt_read_trace(test, mnt);
	tail = kunit_kzalloc(test, WB_TRACE_CGROUP_PATH_MAX + 16, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, tail);
	snprintf(tail, WB_TRACE_CGROUP_PATH_MAX + 16, " cgroup=%s", expected);
	for (ev = wbt_evs; ev < wbt_evs + ARRAY_SIZE(wbt_evs); ev++) {
		KUNIT_EXPECT_GE_MSG(test, ev->match, 1,
				    "%s: no record with cgroup=%s cgroup_ino=%lu",
				    ev->name, expected, (unsigned long)ino);
		KUNIT_EXPECT_EQ_MSG(test, ev->bad, 0, "%s: broken record",
				    ev->name);
		if (text)
			KUNIT_EXPECT_TRUE_MSG(test,
					      wbt_line_ends(text, ev->name, tail),
					      "%s: no line ending in \"%s\"",
					      ev->name, tail);
	}
}

static void wbt_unmount_action(void *mnt)
{
	kern_unmount(mnt);
}

static void wbt_export_action(void *export)
{
	unregister_ftrace_export(export);
	tracepoint_synchronize_unregister();
}

static void wbt_instance_action(void *tr)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(wbt_evs); i++)
		trace_array_set_clr_event(tr, "writeback", wbt_evs[i].name,
					  false);
	tracepoint_synchronize_unregister();
	trace_array_put(tr);
	trace_array_destroy(tr);
}

/* tracefs, the instance with every event of wbt_evs on, and the export */
static struct vfsmount *wbt_trace_setup(struct kunit *test)
{
	struct file_system_type *type = get_fs_type("tracefs");
	struct trace_array *tr;
	struct vfsmount *mnt;
	size_t i;
	int err;

	KUNIT_ASSERT_NOT_NULL(test, type);
	mnt = vfs_kern_mount(type, 0, "tracefs", NULL);
	put_filesystem(type);
	KUNIT_ASSERT_FALSE(test, IS_ERR(mnt));
	err = kunit_add_action_or_reset(test, wbt_unmount_action, mnt);
	KUNIT_ASSERT_EQ(test, err, 0);
	tr = trace_array_get_by_name("wbtrace_kunit", NULL);
	KUNIT_ASSERT_NOT_NULL(test, tr);
	err = kunit_add_action_or_reset(test, wbt_instance_action, tr);
	KUNIT_ASSERT_EQ(test, err, 0);
	for (i = 0; i < ARRAY_SIZE(wbt_evs); i++)
		KUNIT_ASSERT_EQ_MSG(test, 0,
				    trace_array_set_clr_event(tr, "writeback",
							      wbt_evs[i].name,
							      true),
				    "enable %s", wbt_evs[i].name);
	KUNIT_ASSERT_EQ(test, 0, register_ftrace_export(&wbt_evs_export));
	err = kunit_add_action_or_reset(test, wbt_export_action,
					&wbt_evs_export);
	KUNIT_ASSERT_EQ(test, err, 0);
	return mnt;
}

static void wb_cgroup_tracepoint_every_class(struct kunit *test)
{
	struct writeback_control wbc = {};
	struct super_block *sb;
	struct inode *inode;
	struct vfsmount *mnt;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, wbt_bdi);
	sb = kunit_kzalloc(test, sizeof(*sb), GFP_KERNEL);
	inode = kunit_kzalloc(test, sizeof(*inode), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, sb);
	KUNIT_ASSERT_NOT_NULL(test, inode);
	sb->s_bdi = wbt_bdi;
	inode->i_sb = sb;
	inode->i_ino = 4242;
	inode->i_mapping = &inode->i_data;
	inode->dirtied_when = jiffies;
	spin_lock_init(&inode->i_lock);
	mnt = wbt_trace_setup(test);

	/* the root wb, and a wbc without wb: "/", cgroup_ino 1 */
#ifdef CONFIG_CGROUP_WRITEBACK
	inode->i_wb = &wbt_bdi->wb;
#endif
	wbt_fire_check(test, mnt, &wbt_bdi->wb, &wbc, inode, "/", 1);
#ifdef CONFIG_CGROUP_WRITEBACK
	/* a nested cgroup's wb, also as wbc->wb and the inode's wb */
	if (wbt_require_cgroups(test)) {
		struct wbt_cg *top = wbt_top(test);
		struct wbt_cg *l1 = wbt_cg_make(test, top->rel, "every1", true);
		struct wbt_cg *l2 = wbt_cg_make(test, l1->rel, "every2", false);

		wbc.wb = l2->wb;
		inode->i_wb = l2->wb;
		wbt_fire_check(test, mnt, l2->wb, &wbc, inode, l2->full,
			       cgroup_ino(l2->wb->memcg_css->cgroup));
		inode->i_wb = NULL;
	}
#endif
	kunit_info(test, "%zu events checked as records and as text\n",
		   ARRAY_SIZE(wbt_evs));
}
#else	/* CONFIG_EVENT_TRACING */
static void wb_cgroup_tracepoint_record(struct kunit *test)
{
	kunit_skip(test, "CONFIG_EVENT_TRACING=n: no trace records");
}

static void wb_cgroup_tracepoint_every_class(struct kunit *test)
{
	kunit_skip(test, "CONFIG_EVENT_TRACING=n: no trace records");
}
#endif	/* CONFIG_EVENT_TRACING */

static int wbt_suite_init(struct kunit_suite *suite)
{
	int err;

	wbt_bdi = bdi_alloc(NUMA_NO_NODE);
	if (!wbt_bdi)
		return -ENOMEM;
	err = bdi_register(wbt_bdi, "wbtrace-kunit");
	if (err) {
		bdi_put(wbt_bdi);
		wbt_bdi = ERR_PTR(err);
		return 0;	/* the cases report it */
	}

#ifdef CONFIG_CGROUP_WRITEBACK
	{
		struct file_system_type *type = get_fs_type("cgroup2");

		if (!type) {
			wbt_mnt = ERR_PTR(-ENODEV);
			return 0;
		}
		wbt_mnt = vfs_kern_mount(type, 0, "cgroup2", NULL);
		put_filesystem(type);
		if (!IS_ERR(wbt_mnt)) {
			err = wbt_subtree_control(".", "+memory");
			if (err) {
				kern_unmount(wbt_mnt);
				wbt_mnt = ERR_PTR(err);
			}
		}
	}
#endif
	return 0;
}

static void wbt_suite_exit(struct kunit_suite *suite)
{
#ifdef CONFIG_CGROUP_WRITEBACK
	if (!IS_ERR_OR_NULL(wbt_mnt)) {
		wbt_subtree_control(".", "-memory");	/* best effort */
		kern_unmount(wbt_mnt);
	}
	wbt_mnt = NULL;
#endif
	if (!IS_ERR_OR_NULL(wbt_bdi)) {
		bdi_unregister(wbt_bdi);
		bdi_put(wbt_bdi);
	}
	wbt_bdi = NULL;
}

static struct kunit_case writeback_cgroup_trace_cases[] = {
	KUNIT_CASE(wb_cgroup_helpers_root),
	KUNIT_CASE(wb_cgroup_helpers_nested),
	KUNIT_CASE(wb_cgroup_helpers_long),
	KUNIT_CASE(wb_cgroup_tracepoint_record),
	KUNIT_CASE(wb_cgroup_tracepoint_every_class),
	KUNIT_CASE_SLOW(wb_cgroup_churn_race),
	{}
};

static struct kunit_suite writeback_cgroup_trace_suite = {
	.name = "writeback_cgroup_trace",
	.suite_init = wbt_suite_init,
	.suite_exit = wbt_suite_exit,
	.test_cases = writeback_cgroup_trace_cases,
};

kunit_test_suites(&writeback_cgroup_trace_suite);

MODULE_DESCRIPTION("KUnit tests for the cgroup= field of writeback tracepoints");
MODULE_LICENSE("GPL");
