# SPDX-License-Identifier: GPL-2.0
"""`make bench BENCH=cost`: the suite's lines parsed from a console, the
table and ratios, bench.md sections, the config and the bench's edits."""

import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import bench_cost
import paths
import rows
import suites
from bench_cost import Cost

# As kunit.py's test.log has them: printk time, KTAP indentation, the
# case name kunit_info() puts in front.
CONSOLE = '''\
[    9.120000] KTAP version 1
[    9.120001] 1..1
[    9.130000]     KTAP version 1
[    9.130001]     # Subtest: wb_trace_cost
[    9.130002]     # module: wb_trace_cost
[    9.130003]     1..2
[   10.001000]     # wb_trace_cost_wake_background: event=wake_background \
depth=8 state=disabled path_len=248 samples=21 batch=4000 median_ns=0.52 \
min_ns=0.50 max_ns=0.91
[   10.501000]     # wb_trace_cost_wake_background: event=wake_background \
depth=0 state=enabled path_len=1 samples=21 batch=4000 median_ns=812.25 \
min_ns=800.00 max_ns=1020.75
[   10.501001]     # wb_trace_cost_wake_background: event=wake_background \
depth=8 state=enabled path_len=248 samples=21 batch=4000 median_ns=1015.50 \
min_ns=990.00 max_ns=1200.00
[   10.600000]     ok 1 wb_trace_cost_wake_background
[   10.700000]     # wb_trace_cost_wbc_writepage: event=wbc_writepage \
depth=12 state=enabled path_len=372 samples=21 batch=4000 median_ns=1500 \
min_ns=1400 max_ns=1600
[   10.700001]     # wb_trace_cost_wbc_writepage: event=wbc_writepage \
depth=3 state=enabled median_ns=not-a-number min_ns=1 max_ns=2
[   10.700002]     # wb_trace_cost_wbc_writepage: cgroup setup failed: -19
[   10.800000]     ok 2 wb_trace_cost_wbc_writepage
[   10.900000] ok 1 wb_trace_cost
'''


def cost(variant, depth, median, state='enabled', event='wake_background',
         row='x86_64'):
    return Cost(row, variant, event, depth, state, 0, median, median, median)


class Parse(unittest.TestCase):
    def test_lines_of_a_console(self):
        got = bench_cost.parse_costs(CONSOLE, 'x86_64', 'v2')
        self.assertEqual(len(got), 4)
        self.assertEqual(got[0], Cost('x86_64', 'v2', 'wake_background',
                                      8, 'disabled', 248, 0.52, 0.50, 0.91))
        self.assertEqual(got[2].median, 1015.5)
        self.assertEqual((got[3].event, got[3].depth, got[3].path_len),
                         ('wbc_writepage', 12, 372))

    def test_a_broken_or_foreign_line_is_skipped(self):
        self.assertEqual(bench_cost.parse_costs(
            '    # foo: event=x depth=1 state=enabled\n'
            '    # bar: depth=1 median_ns=1 min_ns=1 max_ns=1\n'
            'event=x depth=1 state=y median_ns=1 min_ns=1 max_ns=1\n', 'um',
            'b'),
            [])

    def test_a_line_without_case_prefix_is_read(self):
        got = bench_cost.parse_costs(
            '# event=e depth=3 state=enabled median_ns=2 min_ns=1 '
            'max_ns=3\n', 'um', 'base')
        self.assertEqual(got, [Cost('um', 'base', 'e', 3, 'enabled', 0, 2, 1,
                                    3)])


class Report(unittest.TestCase):
    COSTS = [cost('base', 8, 100.0), cost('base', 8, 1.0, 'disabled'),
             cost('v1', 8, 130.0), cost('v1', 8, 1.02, 'disabled'),
             cost('v2', 8, 110.0), cost('v2', 0, 90.0),
             cost('v2', 8, 50.0, row='um')]

    def test_ratio_to_base_of_the_same_figure(self):
        c = self.COSTS
        self.assertAlmostEqual(bench_cost.ratio(c, c[2]), 1.3)
        self.assertAlmostEqual(bench_cost.ratio(c, c[3]), 1.02)
        self.assertAlmostEqual(bench_cost.ratio(c, c[0]), 1.0)
        self.assertIsNone(bench_cost.ratio(c, c[5]))   # no base at root
        self.assertIsNone(bench_cost.ratio(c, c[6]))   # no base on um

    def test_verdicts_against_the_target(self):
        v = bench_cost.verdicts(self.COSTS)
        self.assertEqual(len(v), 2)
        self.assertIn('v1/base = 1.30x', v[0])
        self.assertIn('missed', v[0])
        self.assertIn('v2/base = 1.10x', v[1])
        self.assertIn('met', v[1])

    def test_table(self):
        text = bench_cost.report(self.COSTS, '2 cores', ['base', 'v1', 'v2'],
                                 'x86_64')
        self.assertTrue(
            text.startswith('# Writeback event cost, row x86_64\n'))
        self.assertNotIn('50.00', text)     # the um figure has its section
        self.assertIn('| v1 | wake_background | 8 | 0 | enabled | 130.00 '
                      '| 130.00 | 130.00 | 1.30 |', text)
        self.assertIn('| v2 | wake_background | root | 0 | enabled | 90.00 '
                      '| 90.00 | 90.00 | - |', text)
        self.assertIn('make bench BENCH=cost', text)


class Sections(unittest.TestCase):
    def test_replace_keeps_the_other_section(self):
        old = '# Matrix turnaround\n\nA\n\n# Writeback event cost\n\nold\n'
        new = bench_cost.merge_section(old, '# Writeback event cost\n\nnew\n')
        self.assertEqual(new, '# Matrix turnaround\n\nA\n\n'
                              '# Writeback event cost\n\nnew\n')

    def test_append_and_first(self):
        self.assertEqual(bench_cost.merge_section('', '# T\n\nx\n'),
                         '# T\n\nx\n')
        self.assertEqual(bench_cost.merge_section('# A\n\na\n', '# T\n'),
                         '# A\n\na\n\n# T\n')


class Config(unittest.TestCase):
    def test_suites_off_bench_on_row_kept(self):
        row = rows.select(rows.load_rows(), bench_cost.ROWS[0])[0]
        spec = bench_cost.load_spec()
        text = bench_cost.bench_config(row, spec)
        cfg = rows.parse_config(text)
        self.assertEqual(cfg[spec.config], 'y')
        for s in suites.load_suites().values():
            self.assertEqual(cfg[s.config], 'n')
            self.assertIn(f'# {s.config} is not set', text)
        for k, v in row.config_entries().items():
            if k not in {s.config for s in suites.load_suites().values()}:
                self.assertEqual(cfg[k], v, k)

    def test_spec_is_not_a_suite_of_the_series(self):
        spec = bench_cost.load_spec()
        self.assertEqual(spec.name, 'wb_trace_cost')
        self.assertFalse((paths.BENCH_COST_TOML.parent /
                          'suite.toml').exists())
        self.assertNotIn(spec.name, suites.suite_names())
        self.assertNotIn(spec.config, paths.KUNITCONFIG.read_text())
        for src, dest in spec.files:
            self.assertTrue(src.is_file(), src)
            self.assertTrue(dest.startswith('fs/'), dest)

    def test_edits_apply_to_the_anchors(self):
        spec = bench_cost.load_spec()
        texts = {'fs/Kconfig': 'menu "x"\nsource "fs/unicode/Kconfig"\n'
                               'endmenu\n',
                 'fs/Makefile': 'obj-y := a.o\n'
                                'obj-$(CONFIG_FS_DAX)\t\t+= dax.o\n'}
        for e in spec.edits:
            texts[e['file']] = suites.apply_edit(texts[e['file']], e, 'x')
        self.assertIn('config WB_TRACE_COST_KUNIT\n', texts['fs/Kconfig'])
        self.assertIn('obj-$(CONFIG_WB_TRACE_COST_KUNIT)\t+= '
                      'wb_trace_cost.o\n', texts['fs/Makefile'])


class Variants(unittest.TestCase):
    def test_v1_is_the_series_at_the_tag(self):
        with tempfile.TemporaryDirectory() as td:
            git = ['git', '-C', td]
            subprocess.run(git + ['init', '-q'], check=True)
            pd = Path(td) / 'kernel-patches'
            pd.mkdir()
            (pd / 'series').write_text('# x\n0002-b.patch\n0001-a.patch\n')
            (pd / '0001-a.patch').write_text('A\n')
            (pd / '0002-b.patch').write_text('B\n')
            subprocess.run(git + ['add', '.'], check=True)
            subprocess.run(git + ['-c', 'user.name=t', '-c',
                                  'user.email=t@t', 'commit', '-q', '-m',
                                  'v1'], check=True)
            subprocess.run(git + ['tag', 'series-v1'], check=True)
            (pd / '0001-a.patch').write_text('changed after the tag\n')
            out = Path(td) / 'out'
            with mock.patch.object(paths, 'REPO', Path(td)), \
                    mock.patch.object(paths, 'PATCH_DIR', pd):
                got = bench_cost.variant_patches('v1', out)
                self.assertEqual([p.name for p in got],
                                 ['0002-b.patch', '0001-a.patch'])
                self.assertEqual(got[1].read_text(), 'A\n')
                self.assertEqual(bench_cost.variant_patches('base', out), [])
                self.assertEqual(
                    [p.name for p in bench_cost.variant_patches('v2', out)],
                    ['0002-b.patch', '0001-a.patch'])

    def test_worktree_is_dropped_and_unregistered(self):
        with tempfile.TemporaryDirectory() as td:
            repo, wt = Path(td) / 'repo', Path(td) / 'wt'
            git = ['git', '-C', str(repo)]
            subprocess.run(['git', 'init', '-q', str(repo)], check=True)
            (repo / 'f').write_text('x\n')
            subprocess.run(git + ['add', 'f'], check=True)
            subprocess.run(git + ['-c', 'user.name=t', '-c',
                                  'user.email=t@t', 'commit', '-q', '-m',
                                  'c'], check=True)
            bench_cost.add_worktree(repo, wt, 'HEAD')
            self.assertTrue((wt / 'f').exists())
            bench_cost.drop_worktree(repo, wt)
            self.assertFalse(wt.exists())
            listed = subprocess.run(git + ['worktree', 'list'], check=True,
                                    capture_output=True, text=True).stdout
            self.assertEqual(len(listed.splitlines()), 1)

    def test_unknown_variant_fails_before_any_work(self):
        with self.assertRaises(paths.SeriesError):
            bench_cost.run(Path('/nonexistent'), ['base', 'v3'])


if __name__ == '__main__':
    unittest.main()


class CoarseClockTest(unittest.TestCase):
    def test_jiffies_clocksource_is_coarse(self) -> None:
        bad = ('[    0.032000] tsc: Marking TSC unstable due to could not '
               'calculate TSC khz\n[    0.496000] clocksource: Switched to '
               'clocksource refined-jiffies\n')
        good = '[    0.9] clocksource: Switched to clocksource tsc-early\n'
        self.assertTrue(bench_cost.coarse_clock(bad))
        self.assertFalse(bench_cost.coarse_clock(good))
