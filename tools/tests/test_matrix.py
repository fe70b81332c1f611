# SPDX-License-Identifier: GPL-2.0
"""Tests of the console splat scanner, suite reports, expected values,
kunit.py JSON flattening, case timing and totals (console.py, ktap.py,
runner.py, suites.py, results.py, reports.py).

The splat data in data/consoles/ are real console excerpts (each file names
its source on its first line, a "# source:" comment the scanner must not
flag).  Each file must be detected as its own kind, not shadowed by the
generic BUG/WARNING patterns.
"""

import unittest
from pathlib import Path

import console as consolemod
import ktap
import reports
import runner
import suites
from results import Case, Counts, RowResult, Status, totals

DATA = Path(__file__).resolve().parent / 'data' / 'consoles'

# Every splat file and the kind of its headline splat.
SPLAT_FILES = {
    'warning.log': 'WARNING',
    'bug-null-deref.log': 'BUG',
    'kernel-bug.log': 'BUG',
    'oops.log': 'Oops',
    'kernel-panic.log': 'panic',
    'lockdep-circular.log': 'lockdep',
    'lockdep-recursive.log': 'lockdep',
    'lockdep-inconsistent.log': 'lockdep',
    'suspicious-rcu.log': 'lockdep',
    'sleeping-function.log': 'sleep-in-atomic',
    'scheduling-while-atomic.log': 'scheduling-while-atomic',
    'kasan.log': 'KASAN',
    'ubsan.log': 'UBSAN',
    'kfence.log': 'KFENCE',
    'soft-lockup.log': 'lockup',
    'rcu-stall.log': 'RCU stall',
    'rcu-self-detected-stall.log': 'RCU stall',
    'hung-task.log': 'hung task',
    'list-corruption.log': 'list corruption',
}

# Defect 1 (kind shadowing): SPLATS is tried in order and the generic
# 'BUG' (r'\bBUG: ') and 'WARNING' (r'\bWARNING: ') patterns come first, so
# every splat whose headline starts with "BUG: " or "WARNING: " is labelled
# BUG / WARNING and the specific kinds below are never reported.
SHADOWED: set[str] = set()

# Defect 2 (missed BUG()): "kernel BUG at file:line!" has no "BUG: ", and
# before v6.10 x86 printed "invalid opcode: 0000 [#1]" without "Oops: ",
# so a whole BUG() splat goes unseen.
MISSED: set[str] = set()

# The first splat line of a file, where it is not the file's kind: the
# RT 8250 report prints "irq 4: nobody cared" before the scheduling bug.
HEADLINE = {'scheduling-while-atomic.log': 'bad irq'}

CLEAN_FILES = ['clean-x86_64-kunit.log', 'clean-um-boot.log']


def read(name: str) -> str:
    return (DATA / name).read_text()


def kinds(console: str) -> list[str]:
    """The kinds scan_splats() reports, in console order."""
    out = []
    for found in consolemod.scan_splats(console):
        kind = next(k for k, _ in consolemod.SPLATS if found.startswith(k + ': '))
        out.append(kind)
    return out


def kind_of_line(line: str) -> list[str]:
    return kinds(line + '\n')


class DataFiles(unittest.TestCase):
    def test_every_file_is_listed(self):
        on_disk = {p.name for p in DATA.glob('*.log')}
        self.assertEqual(on_disk, set(SPLAT_FILES) | set(CLEAN_FILES))

    def test_source_line_and_size(self):
        for name in [*SPLAT_FILES, *CLEAN_FILES]:
            with self.subTest(name):
                lines = read(name).splitlines()
                self.assertTrue(lines[0].startswith('# source: '), lines[0])
                limit = 400 if name.startswith('clean-') else 61
                self.assertGreaterEqual(len(lines), 11)
                self.assertLessEqual(len(lines), limit)

    def test_source_line_is_not_a_splat(self):
        for name in [*SPLAT_FILES, *CLEAN_FILES]:
            with self.subTest(name):
                first = read(name).splitlines()[0]
                self.assertEqual(consolemod.scan_splats(first), [])
                self.assertEqual(consolemod.scan_reports(first), {})


class ScanSplats(unittest.TestCase):
    def test_splat_files_are_flagged(self):
        for name in sorted(set(SPLAT_FILES) - MISSED):
            with self.subTest(name):
                self.assertNotEqual(consolemod.scan_splats(read(name)), [])

    def test_splat_kind(self):
        for name, kind in sorted(SPLAT_FILES.items()):
            if name in SHADOWED | MISSED:
                continue
            with self.subTest(name):
                found = kinds(read(name))
                self.assertIn(kind, found)
                self.assertEqual(found[0], HEADLINE.get(name, kind),
                                 'headline kind')

    # Defect 1: the specific kind is shadowed by the generic BUG/WARNING.
    def test_splat_kind_behind_generic_prefix(self):
        for name in sorted(SHADOWED):
            with self.subTest(name):
                self.assertEqual(kinds(read(name))[0], SPLAT_FILES[name])
        # Lockdep reports SPLATS does not name at all (6.12
        # kernel/locking/lockdep.c:4815 and :2624).
        for line in ('[ BUG: Invalid wait context ]',
                     'WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order '
                     'detected'):
            with self.subTest(line):
                self.assertEqual(kind_of_line(line), ['lockdep'])

    # Defect 2: "kernel BUG at ...!" (and the pre-6.10 x86 die header
    # "invalid opcode: 0000 [#1]") are not matched.
    def test_kernel_bug_at_is_flagged(self):
        self.assertIn('BUG', kinds(read('kernel-bug.log')))

    def test_found_lines_are_stripped_of_timestamps(self):
        found = consolemod.scan_splats(read('ubsan.log'))
        self.assertEqual(found, ['UBSAN: UBSAN: shift-out-of-bounds in '
                                 './include/linux/log2.h:57:13'])

    def test_one_finding_per_line_and_truncated(self):
        line = 'UBSAN: shift-out-of-bounds in ' + 'x' * 400
        found = consolemod.scan_splats(line)
        self.assertEqual(len(found), 1)
        self.assertEqual(found[0], 'UBSAN: ' + line[:200])

    def test_single_lines(self):
        # Real printk formats (6.12 source or the console files) that the
        # current patterns classify correctly.
        lines = {
            'watchdog: Watchdog detected hard LOCKUP on cpu 1': 'lockup',
            'Kernel panic - not syncing: Fatal exception': 'panic',
            '---[ end Kernel panic - not syncing: Fatal exception ]---':
                'panic',
            'Internal error: Oops: 0000000096000004 [#1] PREEMPT SMP':
                'Oops',
            'Oops: general protection fault, probably for non-canonical '
            'address 0xdffffc0000000000: 0000 [#1] PREEMPT SMP KASAN NOPTI':
                'Oops',
            'UBSAN: array-index-out-of-bounds in lib/test_ubsan.c:52:6':
                'UBSAN',
            'list_del corruption, ffff88800ea6f0a8->next is LIST_POISON1 '
            '(dead000000000100)': 'list corruption',
            'INFO: task kworker/0:1:12 blocked for more than 143 seconds.':
                'hung task',
            'WARNING: CPU: 1 PID: 87 at lib/kunit/test.c:284 '
            'kunit_try_run_case+0x1/0x2': 'WARNING',
            'irq 3: nobody cared (try booting with the "irqpoll" option)':
                'bad irq',
        }
        for line, kind in lines.items():
            for prefix in ('', '[   12.345678] ', '<4>[   12.345678] '):
                with self.subTest(line=line, prefix=prefix):
                    self.assertEqual(kind_of_line(prefix + line), [kind])

    # Defect 3: RCU expedited stalls and Tasks-RCU stalls are missed:
    # 'rcu: INFO: .*detected stalls' needs "detected stalls" right after
    # the flavour, and kernel/rcu/tasks.h prints without the "rcu: " prefix.
    def test_rcu_stall_variants(self):
        lines = [
            # syzbot, "INFO: rcu detected stall in corrupted" (6.1-rc6).
            'rcu: INFO: rcu_preempt detected expedited stalls on CPUs/tasks:'
            ' { P4122 } 2641 jiffies s: 2877 root: 0x0/T',
            # kernel/rcu/tasks.h:1113 (6.12).
            'INFO: rcu_tasks detected stalls on tasks:',
        ]
        for line in lines:
            with self.subTest(line):
                self.assertEqual(kind_of_line(line), ['RCU stall'])


class CleanConsoles(unittest.TestCase):
    def test_clean_files_give_nothing(self):
        for name in CLEAN_FILES:
            with self.subTest(name):
                self.assertEqual(consolemod.scan_splats(read(name)), [])

    def test_benign_lines(self):
        lines = [
            'kunit_try_catch (95) used greatest stack depth: 13760 bytes left',
            '    # Subtest: example',
            '    ok 3 example_skip_test # SKIP this test should be skipped',
            '    ok 4 warning_path_is_reported',
            '    not ok 5 bug_on_path_is_not_taken',
            '    # example_slow_test.speed: slow',
            '# example: pass:5 fail:0 skip:2 total:7',
            '    # use_split_hugetlb_ptlocks_matches_config: report: '
            'USE_SPLIT_HUGETLB_PTLOCKS=1',
            'Memory: 1897312K/2096632K available (24576K kernel code, 4186K '
            'rwdata, 9876K rodata, 3944K init, 5116K bss, 199064K reserved, '
            '0K cma-reserved)',
            'rcu: Hierarchical RCU implementation.',
            'rcu: \tRCU restricting CPUs from NR_CPUS=8 to nr_cpu_ids=2.',
            '\tRCU CPU stall warnings timeout set to 100 '
            '(rcu_cpu_stall_timeout).',
            'Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., '
            'Ingo Molnar',
            '... MAX_LOCKDEP_SUBCLASSES:  8',
            'kasan: KernelAddressSanitizer initialized',
            'kfence: initialized - using 2097152 bytes for 255 objects at '
            '0x(____ptrval____)-0x(____ptrval____)',
            'random: get_random_bytes called from init_oops_id+0x35/0x40 '
            'with crng_init=0',
            'NMI watchdog: Perf NMI watchdog permanently disabled',
            'Spectre V2 : Mitigation: Retpolines',
            'setup_one_line failed for device 1 : Configuration failed',
        ]
        for line in lines:
            for prefix in ('', '[    0.512345] '):
                with self.subTest(line=prefix + line):
                    self.assertEqual(consolemod.scan_splats(prefix + line), [])

    # Defect 4 (false positive): x86 hardware-vulnerability notices printed
    # by arch/x86/kernel/cpu/bugs.c (6.12) carry "WARNING: " after their
    # pr_fmt prefix; on a host/CPU model that triggers them every row fails.
    def test_x86_mitigation_notices_are_benign(self):
        lines = [
            'RETBleed: WARNING: Spectre v2 mitigation leaves CPU vulnerable '
            'to RETBleed attacks, data leaks possible!',
            'Spectre V2 : WARNING: Unprivileged eBPF is enabled with eIBRS '
            'on, data leaks possible via Spectre v2 BHB attacks!',
            'Speculative Return Stack Overflow: WARNING: See '
            'https://kernel.org/doc/html/latest/admin-guide/hw-vuln/srso.html'
            ' for mitigation options.',
        ]
        for line in lines:
            with self.subTest(line):
                self.assertEqual(consolemod.scan_splats(line), [])

    # Defect 5 (false positive, minor): 'KFENCE: ' alone matches any line
    # mentioning KFENCE with a colon; 6.12 prints its banner as "kfence: "
    # (pr_fmt in mm/kfence/core.c) so real boots are fine, but every KFENCE
    # report starts "BUG: KFENCE: ", which is all the pattern needs.
    def test_uppercase_kfence_banner_is_benign(self):
        self.assertEqual(consolemod.scan_splats(
            'KFENCE: initialized - using 2097152 bytes for 255 objects'), [])


class Injection(unittest.TestCase):
    SPLAT_LINES = {
        '[    1.521050] UBSAN: shift-out-of-bounds in '
        './include/linux/log2.h:57:13': 'UBSAN',
        '[    1.521050] WARNING: CPU: 0 PID: 1 at mm/memory.c:2789 '
        '__apply_to_page_range+0x360/0x380': 'WARNING',
        '[    1.521050] INFO: task kworker/u48:0:11 blocked for more than '
        '122 seconds.': 'hung task',
        'list_add corruption. prev->next should be next (ffffe8ffad379458), '
        'but was ffffe8ffad379546. (prev=ffffe8ffad379458).':
            'list corruption',
    }

    def test_single_line_anywhere(self):
        clean = read('clean-x86_64-kunit.log').splitlines()
        for line, kind in self.SPLAT_LINES.items():
            for at in (1, len(clean) // 2, len(clean)):
                with self.subTest(kind=kind, at=at):
                    console = '\n'.join(clean[:at] + [line] + clean[at:])
                    self.assertEqual(kinds(console), [kind])

    def test_whole_splat_in_the_middle(self):
        clean = read('clean-x86_64-kunit.log').splitlines()
        for name in ('warning.log', 'hung-task.log', 'oops.log'):
            with self.subTest(name):
                splat = read(name).splitlines()[1:]
                mid = len(clean) // 2
                console = '\n'.join(clean[:mid] + splat + clean[mid:])
                self.assertEqual(consolemod.scan_splats(console),
                                 consolemod.scan_splats('\n'.join(splat)))

    def test_crlf_console(self):
        console = read('clean-um-boot.log').replace('\n', '\r\n')
        self.assertEqual(consolemod.scan_splats(console), [])
        line = next(iter(self.SPLAT_LINES))
        self.assertEqual(kinds(console + line + '\r\n'), ['UBSAN'])


class ScanBuildWarnings(unittest.TestCase):
    # The first is the line a nocgwb build printed for an earlier version
    # of the writeback suite.
    WARN = ("/w/linux/fs/writeback_cgroup_trace_kunit.c:48:29: warning: "
            "'wbt_printf' defined but not used [-Wunused-function]")

    def test_warnings_found(self):
        log = '\n'.join([
            '[04:29:48] Building KUnit Kernel ...',
            '$ make all compile_commands.json ARCH=x86_64 --jobs=2',
            'In file included from /w/linux/fs/fs-writeback.c:3057:',
            self.WARN,
            '   48 | static __printf(2, 3) char *wbt_printf(...)',
            'mm/hugetlb.o: warning: objtool: foo+0x1c: unreachable '
            'instruction',
            '/w/linux/mm/x.c:7: error: expected identifier',
        ])
        found = consolemod.scan_build_warnings(log)
        self.assertEqual(len(found), 3)
        self.assertEqual(found[0], self.WARN)

    def test_clean_log(self):
        log = '\n'.join([
            '[04:29:07] Configuring KUnit Kernel ...',
            'Generating .config ...',
            '$ make ARCH=x86_64 O=/w/build olddefconfig CC=ccache gcc',
            '[04:51:30] Elapsed time: 439.565s',
            'scripts/Makefile.build:41: no-warning-here.o',
        ])
        self.assertEqual(consolemod.scan_build_warnings(log), [])


class ScanReports(unittest.TestCase):
    def test_forms(self):
        cases = {
            '# report: A=1': {'A': '1'},
            '[    1.520500] # report: A=1': {'A': '1'},
            '    # report: A=1': {'A': '1'},
            '[    1.520500]     # use_split_hugetlb_ptlocks_matches_config:'
            ' report: USE_SPLIT_HUGETLB_PTLOCKS=1':
                {'USE_SPLIT_HUGETLB_PTLOCKS': '1'},
            '\t# case: report: hugetlb_sizes=2M,1G':
                {'hugetlb_sizes': '2M,1G'},
            '# report: A=1 trailing words': {'A': '1'},
            'report: A=1': {},            # not a KTAP diagnostic
            '# reported: A=1': {},
            '# report: A=': {},
            '# report: =1': {},
        }
        for line, want in cases.items():
            with self.subTest(line):
                self.assertEqual(consolemod.scan_reports(line), want)

    def test_last_value_wins(self):
        console = '\n'.join([
            '[    1.0] # report: A=1',
            '[    1.1]     # s: report: B=x',
            '[    1.2]         # t: report: A=2',
        ])
        self.assertEqual(consolemod.scan_reports(console), {'A': '2', 'B': 'x'})

    def test_clean_console(self):
        self.assertEqual(consolemod.scan_reports(read('clean-x86_64-kunit.log')),
                         {'USE_SPLIT_HUGETLB_PTLOCKS': '1',
                          'hugetlb_sizes': '2M,1G'})
        self.assertEqual(consolemod.scan_reports(read('clean-um-boot.log')), {})


class CheckExpect(unittest.TestCase):
    def test_match(self):
        self.assertEqual(runner.check_expect(
            {'USE_SPLIT_HUGETLB_PTLOCKS': '1'},
            {'USE_SPLIT_HUGETLB_PTLOCKS': '1', 'OTHER': '7'}), [])
        self.assertEqual(runner.check_expect({}, {'A': '1'}), [])

    def test_mismatch(self):
        self.assertEqual(
            runner.check_expect({'USE_SPLIT_HUGETLB_PTLOCKS': '1'},
                                {'USE_SPLIT_HUGETLB_PTLOCKS': '0'}),
            ['expected USE_SPLIT_HUGETLB_PTLOCKS=1, suite reported '
             'USE_SPLIT_HUGETLB_PTLOCKS=0'])

    def test_missing(self):
        self.assertEqual(
            runner.check_expect({'CGROUP_WRITEBACK': '1'}, {}),
            ['expected CGROUP_WRITEBACK=1, but no suite reported '
             'CGROUP_WRITEBACK'])

    def test_several_sorted_by_key(self):
        self.assertEqual(
            runner.check_expect({'B': '1', 'A': '1', 'C': '1'},
                                {'A': '2', 'C': '1'}),
            ['expected A=1, suite reported A=2',
             'expected B=1, but no suite reported B'])

    def test_values_are_strings(self):
        self.assertEqual(runner.check_expect({'A': '01'}, {'A': '1'}),
                         ['expected A=01, suite reported A=1'])


class ConfigExpect(unittest.TestCase):
    """Expectations derived from a row's final .config."""

    SMP64 = {'CONFIG_SPLIT_PMD_PTLOCKS': 'y', 'CONFIG_CGROUP_WRITEBACK': 'y',
             'CONFIG_HUGETLB_PAGE': 'y'}

    def test_derive(self):
        self.assertEqual(suites.config_expect(self.SMP64),
                         {'USE_SPLIT_HUGETLB_PTLOCKS': '1',
                          'CGROUP_WRITEBACK': '1'})
        # i386 without PAE, uniprocessor, UML: no split PMD locks.
        self.assertEqual(suites.config_expect(
            {**self.SMP64, 'CONFIG_SPLIT_PMD_PTLOCKS': 'n'})
            ['USE_SPLIT_HUGETLB_PTLOCKS'], '0')
        # Absent symbols count as off (UML has no HUGETLB_PAGE at all).
        self.assertEqual(suites.config_expect({}),
                         {'USE_SPLIT_HUGETLB_PTLOCKS': '0',
                          'CGROUP_WRITEBACK': '0', 'hugetlb_sizes': 'none'})

    def test_the_series_macro_is_not_the_source(self):
        # Only core-mm's choice decides: the arch opt-in alone is not
        # enough (x86_64-up selects ARCH_ENABLE_SPLIT_PMD_PTLOCK, but
        # without SMP it has no split PTE and so no split PMD locks).
        final = {'CONFIG_ARCH_ENABLE_SPLIT_PMD_PTLOCK': 'y',
                 'CONFIG_SPLIT_PTE_PTLOCKS': 'n'}
        self.assertEqual(suites.config_expect(final)
                         ['USE_SPLIT_HUGETLB_PTLOCKS'], '0')

    def test_row_disagrees_with_its_config(self):
        derived = suites.config_expect(
            {**self.SMP64, 'CONFIG_CGROUP_WRITEBACK': 'n'})
        self.assertEqual(
            runner.check_config_expect(
                {'CGROUP_WRITEBACK': '1', 'USE_SPLIT_HUGETLB_PTLOCKS': '1'},
                derived, {'CGROUP_WRITEBACK': '1'}),
            ['row expects CGROUP_WRITEBACK=1, but its final .config implies '
             'CGROUP_WRITEBACK=0'])

    def test_unstated_value_checked_against_config(self):
        derived = suites.config_expect(self.SMP64)
        self.assertEqual(
            runner.check_config_expect({}, derived,
                                       {'USE_SPLIT_HUGETLB_PTLOCKS': '0'}),
            ['suite reported USE_SPLIT_HUGETLB_PTLOCKS=0, but the final '
             '.config implies USE_SPLIT_HUGETLB_PTLOCKS=1'])
        # Not reported, not stated: nothing to compare.
        self.assertEqual(runner.check_config_expect({}, derived, {}), [])

    def test_agreeing_row(self):
        derived = suites.config_expect(self.SMP64)
        self.assertEqual(runner.check_config_expect(
            {'USE_SPLIT_HUGETLB_PTLOCKS': '1', 'CGROUP_WRITEBACK': '1',
             'hugetlb_sizes': '2048K'}, derived,
            {'USE_SPLIT_HUGETLB_PTLOCKS': '1', 'CGROUP_WRITEBACK': '1'}), [])


def group(name, sub_groups=(), test_cases=()):
    """A kunit_json group, with the common fields kunit.py adds."""
    return {'name': name, 'sub_groups': list(sub_groups),
            'test_cases': list(test_cases), 'arch': 'x86_64',
            'defconfig': '', 'build_environment': '/tmp/b', 'lab_name': None,
            'kernel': None, 'job': None, 'git_branch': 'kselftest'}


def tc(name, status):
    return {'name': name, 'status': status}


# The shape kunit.py --json writes for the clean x86_64 console.
KUNIT_JSON = group('KUnit Test Group', sub_groups=[
    group('example', sub_groups=[
        group('example_params_test', test_cases=[
            tc('example value 3', 'SKIP'), tc('example value 2', 'PASS'),
            tc('example value 1', 'PASS'), tc('example value 0', 'SKIP')]),
    ], test_cases=[
        tc('example_simple_test', 'PASS'),
        tc('example_skip_test', 'SKIP'),
        tc('example_mark_skipped_test', 'SKIP'),
        tc('example_all_expect_macros_test', 'PASS'),
        tc('example_static_stub_test', 'PASS'),
        tc('example_static_stub_using_fn_ptr_test', 'PASS'),
        tc('example_priv_test', 'PASS'),
        tc('example_slow_test', 'PASS'),
    ]),
    group('hugetlb_ptlock', sub_groups=[
        group('huge_pte_lockptr_matches_core_mm', test_cases=[
            tc('2048K', 'PASS'), tc('1048576K', 'PASS')]),
    ], test_cases=[
        tc('use_split_hugetlb_ptlocks_matches_config', 'PASS'),
        tc('huge_pte_lock_concurrent_fault_mprotect_unmap', 'PASS'),
    ]),
])


class FlattenJson(unittest.TestCase):
    def test_suites_cases_params(self):
        rows = [(c.suite, c.case, c.param, c.status)
                for c in ktap.flatten_json(KUNIT_JSON, [])]
        self.assertEqual(len(rows), 16)
        self.assertEqual(rows[:4], [
            ('example', 'example_params_test', 'example value 3', 'SKIP'),
            ('example', 'example_params_test', 'example value 2', 'PASS'),
            ('example', 'example_params_test', 'example value 1', 'PASS'),
            ('example', 'example_params_test', 'example value 0', 'SKIP'),
        ])
        self.assertIn(('example', 'example_simple_test', None, 'PASS'), rows)
        self.assertIn(('example', 'example_skip_test', None, 'SKIP'), rows)
        self.assertIn(('hugetlb_ptlock', 'huge_pte_lockptr_matches_core_mm',
                       '1048576K', 'PASS'), rows)
        self.assertIn(('hugetlb_ptlock',
                       'use_split_hugetlb_ptlocks_matches_config', None,
                       'PASS'), rows)
        for c in ktap.flatten_json(KUNIT_JSON, []):
            self.assertIsNone(c.duration)
            self.assertEqual(c.log, '')

    def test_crashed_suite_directly_under_top(self):
        data = group('KUnit Test Group', test_cases=[tc('example', 'ERROR')])
        rows = ktap.flatten_json(data, [])
        self.assertEqual([(c.suite, c.case, c.param, c.status) for c in rows],
                         [('example', 'example', None, 'ERROR')])

    def test_empty(self):
        self.assertEqual(ktap.flatten_json(group('KUnit Test Group'), []),
                         [])
        self.assertEqual(ktap.flatten_json({}, []), [])

    def test_counts(self):
        res = RowResult('r', 'x86_64', 'd',
                               cases=ktap.flatten_json(KUNIT_JSON, []))
        self.assertEqual(res.counts(), {
            'example': Counts(passed=8, skipped=4),
            'hugetlb_ptlock': Counts(passed=4),
        })


FAILING = '''\
[    1.000000]     KTAP version 1
[    1.000001]     # Subtest: demo
[    1.000002]     1..3
[    1.000100]     # demo_pass: initializing
[    1.100001]     ok 1 demo_pass
[    1.150000]     # demo_fail: EXPECTATION FAILED at lib/demo_kunit.c:12
[    1.150001]     Expected 1 == 2, but
[    1.150002]         1 == 1
[    1.250001]     not ok 2 demo_fail
[    1.300000] BUG: kernel NULL pointer dereference, address: 0000000000000000
[    1.300001] Oops: Oops: 0000 [#1] PREEMPT SMP NOPTI
[    1.300002] CPU: 0 UID: 0 PID: 96 Comm: kunit_try_catch Tainted: G N
[    1.400001]     # demo_crash: try faulted
[    1.400002]     not ok 3 demo_crash
[    1.400003] # demo: pass:1 fail:2 skip:0 total:3
[    1.400004] # Totals: pass:1 fail:2 skip:0 total:3
[    1.400005] not ok 1 demo
'''


def demo_cases():
    return [Case('demo', 'demo_pass', None, Status.PASS),
            Case('demo', 'demo_fail', None, Status.FAIL),
            Case('demo', 'demo_crash', None, Status.ERROR),
            Case('demo', 'demo_absent', None, Status.FAIL)]


class CaseTiming(unittest.TestCase):
    def test_durations_and_failure_logs(self):
        cases = demo_cases()
        ktap.case_timing(FAILING, cases)
        passed, failed, crashed, absent = cases
        self.assertAlmostEqual(passed.duration, 0.1)   # from "# Subtest:"
        self.assertAlmostEqual(failed.duration, 0.15)  # from "ok 1"
        self.assertAlmostEqual(crashed.duration, 0.150001)
        self.assertEqual(passed.log, '')
        self.assertEqual(failed.log.splitlines(), [
            '# demo_fail: EXPECTATION FAILED at lib/demo_kunit.c:12',
            'Expected 1 == 2, but',
            '1 == 1',
            'not ok 2 demo_fail'])
        self.assertEqual(crashed.log.splitlines()[0],
                         'BUG: kernel NULL pointer dereference, address: '
                         '0000000000000000')
        self.assertEqual(crashed.log.splitlines()[-2:],
                         ['# demo_crash: try faulted', 'not ok 3 demo_crash'])
        self.assertIsNone(absent.duration)
        self.assertEqual(absent.log, '')

    def test_failure_log_keeps_last_40_lines(self):
        noise = [f'[    2.{i:06d}]     # demo_fail: line {i}'
                 for i in range(100)]
        console = '\n'.join(['[    2.000000]     # Subtest: demo', *noise,
                             '[    3.000000]     not ok 1 demo_fail'])
        cases = [Case('demo', 'demo_fail', None, Status.FAIL)]
        ktap.case_timing(console, cases)
        log = cases[0].log.splitlines()
        self.assertEqual(len(log), 40)
        self.assertEqual(log[0], '# demo_fail: line 61')
        self.assertEqual(log[-1], 'not ok 1 demo_fail')
        self.assertAlmostEqual(cases[0].duration, 1.0)

    def test_clean_console(self):
        cases = ktap.flatten_json(KUNIT_JSON, [])
        ktap.case_timing(read('clean-x86_64-kunit.log'), cases)
        by = {(c.case, c.param): c for c in cases}
        self.assertAlmostEqual(by['example_simple_test', None].duration,
                               0.5135 - 0.512101)
        self.assertAlmostEqual(by['example_skip_test', None].duration, 0.0005)
        self.assertAlmostEqual(by['example_slow_test', None].duration, 1.0001)
        self.assertAlmostEqual(
            by['huge_pte_lock_concurrent_fault_mprotect_unmap', None]
            .duration, 1.6003)
        self.assertTrue(all(c.log == '' for c in cases))

    def test_no_timestamps(self):
        console = '\n'.join(line.split('] ', 1)[1]
                            for line in FAILING.splitlines())
        cases = demo_cases()
        ktap.case_timing(console, cases)
        self.assertTrue(all(c.duration is None for c in cases))
        self.assertEqual(cases[1].log, '')

    # Defect 6: parameterised cases.  Each param row should get the time of
    # its own "ok N <param description>" line; case_timing keys results by
    # the first word of the description and looks rows up by case name, so
    # every param row gets the parent's (near-zero) gap after the last param.
    def test_param_rows_get_their_own_duration(self):
        cases = ktap.flatten_json(KUNIT_JSON, [])
        ktap.case_timing(read('clean-x86_64-kunit.log'), cases)
        by = {(c.case, c.param): c for c in cases}
        self.assertAlmostEqual(
            by['example_params_test', 'example value 2'].duration, 0.0003)
        self.assertAlmostEqual(
            by['huge_pte_lockptr_matches_core_mm', '2048K'].duration,
            1.5214 - 1.521101)

    # Defect 7: with CONFIG_PRINTK_CALLER=y the console prefix is
    # "[   17.0][  T193] " and TIMESTAMP_RE strips only the first bracket,
    # so no KTAP header or result line is recognised.
    def test_printk_caller_prefix(self):
        console = '\n'.join(
            f'{line[:14]}[  T96]{line[14:]}' for line in FAILING.splitlines())
        cases = demo_cases()
        ktap.case_timing(console, cases)
        self.assertIsNotNone(cases[0].duration)
        self.assertAlmostEqual(cases[0].duration, 0.1)


def tup(c: Counts):
    """(passed, failed, skipped), errors counted as failed."""
    return c.passed, c.failed + c.errors, c.skipped


def row(name, verdict, statuses, **kw):
    return RowResult(
        name, 'x86_64', 'd', verdict=Status(verdict.upper()),
        cases=[Case('s', f'c{i}', None, Status(st))
               for i, st in enumerate(statuses)], **kw)


class Totals(unittest.TestCase):
    def test_counts(self):
        results = [
            row('ok', 'pass', ['PASS', 'PASS', 'SKIP']),
            row('failing-case', 'fail', ['PASS', 'FAIL', 'SKIP']),
            row('crash', 'fail', ['ERROR']),
        ]
        self.assertEqual(tup(totals(results)), (3, 2, 2))

    def test_failed_row_without_failing_cases_counts_once(self):
        self.assertEqual(tup(totals([row('build', 'fail', [])])), (0, 1, 0))
        # A splat or a mismatched report fails a row whose cases all pass.
        self.assertEqual(
            tup(totals([row('splat', 'fail', ['PASS', 'PASS', 'SKIP'])])),
            (2, 1, 1))

    def test_failed_row_with_failing_cases_not_counted_again(self):
        self.assertEqual(
            tup(totals([row('r', 'fail', ['FAIL', 'FAIL', 'PASS'])])),
            (1, 2, 0))

    def test_empty(self):
        self.assertEqual(tup(totals([])), (0, 0, 0))
        self.assertEqual(tup(totals([row('r', 'pass', [])])), (0, 0, 0))


class Table(unittest.TestCase):
    def test_table(self):
        a = RowResult('a', 'x86_64', 'd', verdict=Status.PASS,
                             build_seconds=61.4, boot_seconds=9.6,
                             reports={'B': '2', 'A': '1'},
                             cases=ktap.flatten_json(KUNIT_JSON, []))
        b = row('b', 'fail', ['FAIL'],
                reasons=['console splat: UBSAN: UBSAN: shift\nmore'])
        lines = reports.table([a, b]).splitlines()
        self.assertEqual(lines[0], '| row | example | hugetlb_ptlock | s | '
                                   'build s | boot+test s | verdict |')
        self.assertEqual(lines[2], '| a | 8/0/4 | 4/0/0 | - | 61 | 10 | '
                                   'PASS |')
        self.assertEqual(lines[3], '| b | - | - | 0/1/0 | 0 | 0 | FAIL |')
        self.assertIn('- a reported: A=1, B=2', lines)
        self.assertIn('- b FAIL: console splat: UBSAN: UBSAN: shift', lines)


if __name__ == '__main__':
    unittest.main()
