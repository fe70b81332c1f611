# SPDX-License-Identifier: GPL-2.0
"""Tests of tools/teeth.py: the mutants file, judging, and a run against
the fake kunit.py of test_runner (worktree, lock, reports, Ctrl-C)."""

import argparse
import json
import os
import subprocess
import unittest
from pathlib import Path
from unittest import mock

import kcidb
import paths
import rows
import runner
import teeth
from results import Case, RowResult, Status
from tests.test_runner import FakeTreeCase

ROWS = {'x86_64', 'x86_64-rt'}
SUITES = {'hugetlb_ptlock', 'writeback_cgroup_trace', 'example'}

GOOD = '''
[[mutant]]
name = "lock"
patch = "lock.patch"
description = "the wrong lock"
rows = ["x86_64"]
expect = { x86_64 = "hugetlb_ptlock.huge_pte_lockptr_matches_core_mm [2048K]" }

[[mutant]]
name = "rt"
patch = "rt.patch"
description = "sleeps in a tracepoint"
rows = ["x86_64", "x86_64-rt"]
expect = { x86_64 = "writeback_cgroup_trace.*", x86_64-rt = "sleep-in-atomic" }

[[mutant]]
name = "same"
patch = "same.patch"
description = "the same locks on x86"
equivalent = "needs arm64"
'''


class MutantsFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = Path(self.enterContext(
            __import__('tempfile').TemporaryDirectory()))
        for name in ('lock', 'rt', 'same'):
            (self.dir / f'{name}.patch').write_text('diff\n')

    def parse(self, text):
        return teeth.parse_mutants(text, 'm.toml', self.dir, ROWS, SUITES)

    def bad(self, text, *words):
        with self.assertRaises(teeth.TeethError) as cm:
            self.parse(text)
        for w in words:
            self.assertIn(w, str(cm.exception))

    def test_real_mutants_file_is_valid(self):
        ms = teeth.load_mutants()
        names = {m.name for m in ms}
        self.assertEqual(names, {
            'seed-independent-lock', 'pmd-size-rule',
            'seed-path-in-tracepoint', 'no-bound',
            'offset-lock-unaligned-unlocked', 'fill-ignores-len'})
        by = {m.name: m for m in ms}
        # Killed only where sizes below and between PMD_SIZE exist.
        self.assertEqual(by['pmd-size-rule'].rows, ('arm64',))
        self.assertIn('[64K]', by['pmd-size-rule'].expect['arm64'])
        self.assertIn('[32768K]', by['pmd-size-rule'].expect['arm64'])
        self.assertEqual(by['seed-path-in-tracepoint'].expect,
                         {'x86_64-rt': 'sleep-in-atomic'})
        for m in ms:
            self.assertTrue(m.patch.is_file(), m.patch)

    def test_good(self):
        ms = self.parse(GOOD)
        self.assertEqual([m.name for m in ms], ['lock', 'rt', 'same'])
        self.assertEqual(ms[1].rows, ('x86_64', 'x86_64-rt'))
        self.assertEqual(ms[2].rows, ())

    def test_unknown_row(self):
        self.bad(GOOD.replace('rows = ["x86_64"]', 'rows = ["arm64"]')
                 .replace('x86_64 = "hugetlb', 'arm64 = "hugetlb'),
                 'mutant 1 (lock)', "unknown row 'arm64'")

    def test_missing_patch_file(self):
        (self.dir / 'rt.patch').unlink()
        self.bad(GOOD, '(rt)', 'rt.patch is missing')

    def test_patch_outside_the_folder(self):
        self.bad(GOOD.replace('"lock.patch"', '"../lock.patch"'),
                 'is missing')

    def test_expect_must_match_rows(self):
        self.bad(GOOD.replace(', x86_64-rt = "sleep-in-atomic"', ''),
                 '(rt)', 'one reason for each row')

    def test_unknown_reason(self):
        self.bad(GOOD.replace('"sleep-in-atomic"', '"sleepy"'),
                 "'sleepy'", 'splat kind')
        self.bad(GOOD.replace('"writeback_cgroup_trace.*"', '"nosuch.x"'),
                 "'nosuch.x'")

    def test_build_error_is_a_reason(self):
        ms = self.parse(GOOD.replace('"sleep-in-atomic"', '"build error"'))
        self.assertEqual(ms[1].expect['x86_64-rt'], 'build error')

    def test_a_list_of_reasons(self):
        ms = self.parse(GOOD.replace(
            '"sleep-in-atomic"', '["sleep-in-atomic", "build error"]'))
        self.assertEqual(ms[1].expect['x86_64-rt'],
                         'sleep-in-atomic; build error')
        self.bad(GOOD.replace('"sleep-in-atomic"', '[]'), 'non-empty list')
        self.bad(GOOD.replace('"sleep-in-atomic"', '["sleepy"]'),
                 "'sleepy'")

    def test_equivalent_xor_rows(self):
        self.bad(GOOD.replace('equivalent = "needs arm64"', ''),
                 '(same)', 'either rows')
        self.bad(GOOD.replace('description = "the wrong lock"',
                              'description = "x"\nequivalent = "y"'),
                 '(lock)', 'not both')

    def test_duplicate_and_unknown_field_and_name(self):
        self.bad(GOOD.replace('name = "rt"', 'name = "lock"'),
                 'listed twice')
        self.bad(GOOD.replace('name = "rt"', 'name = "rt"\nrow = "x"'),
                 'unknown field(s) row')
        self.bad(GOOD.replace('name = "rt"', 'name = "RT mutant"'),
                 'must match')
        self.bad('[[mutant]\n', 'm.toml')
        self.bad('x = 1\n', '[[mutant]] records only')

    def test_select(self):
        ms = self.parse(GOOD)
        self.assertEqual(teeth.select(ms, ''), ms)
        self.assertEqual([m.name for m in teeth.select(ms, 'same, lock')],
                         ['same', 'lock'])
        with self.assertRaises(teeth.TeethError) as cm:
            teeth.select(ms, 'nosuch')
        self.assertIn('known: lock, rt, same', str(cm.exception))


def result(build_ok=True, passed=False, cases=(), splats=(), reasons=()):
    return RowResult(row='m-x86_64', arch='x86_64', description='d',
                     build_ok=build_ok,
                     verdict=Status.PASS if passed else Status.FAIL,
                     cases=list(cases), splats=list(splats),
                     reasons=list(reasons))


CASE = 'hugetlb_ptlock.huge_pte_lockptr_matches_core_mm [2048K]'


class JudgeTest(unittest.TestCase):
    def failed(self, param='2048K'):
        return Case('hugetlb_ptlock', 'huge_pte_lockptr_matches_core_mm',
                    param, Status.FAIL)

    def test_killed_by_the_expected_case(self):
        c = teeth.judge_row('m', 'x86_64', CASE, result(
            cases=[self.failed()],
            reasons=[f'{CASE}: FAIL', 'console splat: BUG: x']))
        self.assertIs(c.verdict, teeth.Verdict.KILLED)
        self.assertEqual(c.detail, f'{CASE}: FAIL')
        self.assertEqual(c.others, ['console splat: BUG: x'])

    def test_glob_and_literal_brackets(self):
        res = result(cases=[self.failed()], reasons=['x'])
        self.assertIs(teeth.judge_row(
            'm', 'r', 'hugetlb_ptlock.huge_pte_lockptr_*', res).verdict,
            teeth.Verdict.KILLED)
        # [1048576K] is literal: a failure at 2048K does not match it.
        self.assertIs(teeth.judge_row(
            'm', 'r', 'hugetlb_ptlock.huge_pte_lockptr_matches_core_mm '
            '[1048576K]', res).verdict, teeth.Verdict.KILLED_OTHERWISE)

    def test_every_reason_of_a_list_must_show(self):
        both = f'{CASE}; {CASE.replace("2048K", "64K")}'
        one = result(cases=[self.failed()], reasons=[f'{CASE}: FAIL'])
        self.assertIs(teeth.judge_row('m', 'r', both, one).verdict,
                      teeth.Verdict.KILLED_OTHERWISE)
        two = result(cases=[self.failed(), self.failed('64K')],
                     reasons=[f'{CASE}: FAIL',
                              f'{CASE.replace("2048K", "64K")}: FAIL', 'z'])
        c = teeth.judge_row('m', 'r', both, two)
        self.assertIs(c.verdict, teeth.Verdict.KILLED)
        self.assertEqual(c.others, ['z'])

    def test_another_case_is_killed_otherwise(self):
        other = Case('hugetlb_ptlock', 'huge_pte_offset_lock_absent',
                     '2048K', Status.FAIL)
        c = teeth.judge_row('m', 'x86_64', CASE, result(
            cases=[other, Case('hugetlb_ptlock',
                               'huge_pte_lockptr_matches_core_mm', '2048K',
                               Status.PASS)],
            reasons=['hugetlb_ptlock.huge_pte_offset_lock_absent [2048K]: '
                     'FAIL']))
        self.assertIs(c.verdict, teeth.Verdict.KILLED_OTHERWISE)
        self.assertIn('absent', c.detail)

    def test_crashed_case_counts(self):
        case = self.failed()
        case.status = Status.ERROR
        self.assertIs(teeth.judge_row('m', 'r', CASE, result(
            cases=[case], reasons=['y'])).verdict, teeth.Verdict.KILLED)

    def test_splat_kind(self):
        res = result(splats=['lockdep: Invalid wait context',
                             'sleep-in-atomic: BUG: sleeping function '
                             'called from invalid context at x'],
                     reasons=['console splat: lockdep: ... (+1 more)'])
        c = teeth.judge_row('m', 'r', 'sleep-in-atomic', res)
        self.assertIs(c.verdict, teeth.Verdict.KILLED)
        self.assertTrue(c.detail.startswith('sleep-in-atomic: BUG'))
        self.assertIs(teeth.judge_row('m', 'r', 'KASAN', res).verdict,
                      teeth.Verdict.KILLED_OTHERWISE)

    def test_survived_and_build_error(self):
        self.assertIs(teeth.judge_row('m', 'r', CASE, result(
            passed=True)).verdict, teeth.Verdict.SURVIVED)
        broken = result(build_ok=False, reasons=['kunit.py build failed'])
        self.assertIs(teeth.judge_row('m', 'r', CASE, broken).verdict,
                      teeth.Verdict.BUILD_ERROR)
        self.assertIs(teeth.judge_row('m', 'r', 'build error',
                                      broken).verdict, teeth.Verdict.KILLED)
        self.assertIs(teeth.judge_row('m', 'r', 'build error',
                                      result(passed=True)).verdict,
                      teeth.Verdict.SURVIVED)

    def test_mutant_verdict(self):
        m = teeth.Mutant('m', Path('m.patch'), 'd', ('a', 'b'),
                         {'a': CASE, 'b': CASE})
        eq = teeth.Mutant('e', Path('e.patch'), 'd', equivalent='arm64')
        V = teeth.Verdict

        def cell(row, v):
            return teeth.Cell('m', row, CASE, v)
        self.assertIs(teeth.mutant_verdict(eq, []), V.EQUIVALENT)
        self.assertIs(teeth.mutant_verdict(m, [cell('a', V.KILLED)]),
                      V.NOT_RUN)
        both = [cell('a', V.KILLED), cell('b', V.KILLED)]
        self.assertIs(teeth.mutant_verdict(m, both), V.KILLED)
        self.assertTrue(teeth.all_killed([m, eq], both))
        mixed = [cell('a', V.KILLED_OTHERWISE), cell('b', V.SURVIVED)]
        self.assertIs(teeth.mutant_verdict(m, mixed), V.SURVIVED)
        self.assertFalse(teeth.all_killed([m, eq], mixed))


PATCH = '''diff --git a/src.c b/src.c
--- a/src.c
+++ b/src.c
@@ -1 +1 @@
-int good;
+int bad;
'''


def git(tree, *args):
    subprocess.run(['git', *args], cwd=tree, check=True,
                   capture_output=True)


class RunTest(FakeTreeCase):
    """teeth end to end on a git tree whose kunit.py is the fake one."""

    def setUp(self):
        super().setUp()
        (self.tree / 'src.c').write_text('int good;\n')
        git(self.tree, 'init', '-q')
        git(self.tree, 'add', '-A')
        git(self.tree, '-c', 'user.name=t', '-c', 'user.email=t@t',
            'commit', '-q', '-m', 'series')
        mdir = self.tmp / 'mutants'
        mdir.mkdir()
        for name in ('bad', 'same'):
            (mdir / f'{name}.patch').write_text(PATCH)
        env = {'WORK': str(self.tmp / 'work'),
               'KBUILD_LOCK': str(self.tmp / 'kbuild.lock')}
        p = mock.patch.dict(os.environ, env)
        p.start()
        self.addCleanup(p.stop)
        self.mutants = teeth.parse_mutants(
            GOOD.replace('"lock.patch"', '"bad.patch"').replace(
                '"rt.patch"', '"bad.patch"').replace(
                'hugetlb_ptlock.huge_pte_lockptr_matches_core_mm [2048K]',
                'example.example_other_test').replace(
                'writeback_cgroup_trace.*', 'example.*'),
            'm.toml', mdir, {'fake', 'fake-rt'} | ROWS, SUITES)
        self.rows = [rows.Row(**{**self.row.__dict__, 'name': n})
                     for n in ('x86_64', 'x86_64-rt')]

    def run_teeth(self, modes, spec=''):
        env = {f'FAKE_MODE_{k.replace("-", "_")}': v
               for k, v in modes.items()}
        args = argparse.Namespace(tree=str(self.tree), mutants=spec, jobs=1)
        with mock.patch.dict(os.environ, env):
            return teeth.do_run(args, self.mutants, self.rows)

    def assert_clean(self, src='int good;\n'):
        self.assertFalse(paths.teeth_tree().exists())
        out = subprocess.run(['git', 'worktree', 'list'], cwd=self.tree,
                             capture_output=True, text=True).stdout
        self.assertEqual(len(out.splitlines()), 1, out)
        self.assertEqual((self.tree / 'src.c').read_text(), src)

    def test_all_killed(self):
        rc = self.run_teeth({'lock-x86_64': 'fail', 'rt-x86_64': 'fail',
                             'rt-x86_64-rt': 'splat'})
        self.assertEqual(rc, 0)
        self.assert_clean()
        md = paths.teeth_report().read_text()
        self.assertIn('| lock | killed (example.example_other_test: FAIL)',
                      md)
        self.assertIn('| same | equivalent', md)
        report = json.loads(paths.teeth_kcidb().read_text())
        self.assertEqual(kcidb.validate(report), [])
        self.assertEqual([t['path'] for t in report['tests']],
                         ['teeth.lock.x86_64', 'teeth.rt.x86_64',
                          'teeth.rt.x86_64-rt'])
        self.assertEqual({t['status'] for t in report['tests']}, {'PASS'})
        # The mutant was in the worktree the row built from.
        res = json.loads((paths.teeth_results() / 'lock-x86_64' /
                          'result.json').read_text())
        self.assertEqual(res['row'], 'lock-x86_64')

    def test_survivor_and_other_reason_fail(self):
        rc = self.run_teeth({'lock-x86_64': 'pass', 'rt-x86_64': 'fail',
                             'rt-x86_64-rt': 'fail'})
        self.assertEqual(rc, 1)
        self.assert_clean()
        md = paths.teeth_report().read_text()
        self.assertIn('| lock | survived |  | survived |', md)
        self.assertIn('killed-otherwise (example.example_other_test: FAIL)'
                      ' | killed-otherwise |', md)

    def test_select_and_mutant_that_does_not_apply(self):
        (self.tree / 'src.c').write_text('int other;\n')
        git(self.tree, '-c', 'user.name=t', '-c', 'user.email=t@t',
            'commit', '-q', '-am', 'moved on')
        with self.assertRaises(teeth.TeethError) as cm:
            self.run_teeth({}, 'rt')
        self.assertIn('mutant rt: bad.patch does not apply', str(cm.exception))
        self.assert_clean('int other;\n')

    def test_applies_the_patch_as_loaded(self):
        for m in self.mutants:
            m.patch.write_text('garbage\n')
        rc = self.run_teeth({'lock-x86_64': 'fail', 'rt-x86_64': 'fail',
                             'rt-x86_64-rt': 'splat'})
        self.assertEqual(rc, 0)

    def test_ctrl_c_removes_the_worktree(self):
        with mock.patch.object(runner, 'run_row',
                               side_effect=KeyboardInterrupt):
            rc = self.run_teeth({})
        self.assertEqual(rc, 130)
        self.assert_clean()
        self.assertIn('| lock | - |', paths.teeth_report().read_text())


if __name__ == '__main__':
    unittest.main()
