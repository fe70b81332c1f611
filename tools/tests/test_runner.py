# SPDX-License-Identifier: GPL-2.0
"""run_row() end to end against a fake kunit.py: verdicts, timeouts, panics.

The fake kunit.py stands in for the kernel's: `build` writes a .config,
`exec` writes the console (test.log) and kunit.py-style JSON, or hangs.
"""

import contextlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

import matrix
import paths
import results
import rows
import runner

FAKE = r'''
import json, os, sys, time
args = sys.argv[1:]
cmd = args[0]
opt = {}
for a in args[1:]:
    if a.startswith('--') and '=' in a:
        k, v = a[2:].split('=', 1)
        opt.setdefault(k, []).append(v)
bd = opt['build_dir'][0]
# FAKE_MODE_<row> (build folder name) overrides FAKE_MODE for one row.
mode = os.environ.get('FAKE_MODE_' + os.path.basename(bd).replace('-', '_'),
                      os.environ.get('FAKE_MODE', 'pass'))
if cmd == 'run':
    # A reproducer's kunit.py run: record the arguments as the shell
    # passed them.
    json.dump(args, open(os.path.join(bd, 'run-args.json'), 'w'))
    sys.exit(0)
if cmd == 'build':
    # A .config with everything asked for (fragments + --kconfig_add),
    # except CONFIG_SMP in mode lost-option.
    os.makedirs(bd, exist_ok=True)
    lines = []
    for frag in opt.get('kunitconfig', []):
        lines += [l for l in open(frag).read().splitlines()
                  if l.startswith('CONFIG_')]
    i = args.index('--kconfig_add') if '--kconfig_add' in args else -1
    while i >= 0:
        lines.append(args[i + 1])
        i = args.index('--kconfig_add', i + 1) \
            if '--kconfig_add' in args[i + 1:] else -1
    if mode == 'lost-option':
        lines = [l for l in lines if not l.startswith('CONFIG_SMP=')]
    open(os.path.join(bd, '.config'), 'w').write('\n'.join(lines) + '\n')
    open(os.path.join(bd, 'vmlinux'), 'w').write('')
    with open(os.path.join(bd, 'builds'), 'a') as fh:
        fh.write('build\n')
    print('Building with:\n$ make all compile_commands.json ARCH=x86_64 '
          f'O={bd} --jobs=1 CC=gcc')
    sys.exit(0)
log = open(os.path.join(bd, 'test.log'), 'w')
if mode == 'slow':
    # Boots side by side (tools/matrix.py Pipeline): when it ran.
    t0 = time.time()
    time.sleep(0.5)
    open(os.path.join(bd, 'exec-span'), 'w').write(f'{t0} {time.time()}')
def con(line):
    log.write(line + '\n'); log.flush()
con('[    0.100000] Linux version 6.12.117')
if mode == 'hang':
    open(os.path.join(bd, 'fake.pid'), 'w').write(str(os.getpid()))
    con('[    0.200000] about to hang')
    time.sleep(600)
if mode == 'panic':
    con('[    0.300000] Kernel panic - not syncing: VFS: Unable to mount root')
    sys.exit(1)
con('[    0.400000] KTAP version 1')
con('[    0.400001] 1..1')
con('[    0.400002]     # Subtest: example')
con('[    0.400003]     1..2')
if mode == 'splat':
    con('[    0.450000] BUG: sleeping function called from invalid context at kernel/locking/spinlock_rt.c:48')
con('[    0.400004]     # example: report: USE_SPLIT_HUGETLB_PTLOCKS=1')
skip = ' # SKIP no huge pages' if mode == 'skipped' else ''
con('[    0.500000]     ok 1 example_simple_test' + skip)
status = 'not ok' if mode == 'fail' else 'ok'
if mode == 'fail':
    con('[    0.600000]     # example_other_test: EXPECTATION FAILED')
con(f'[    0.700000]     {status} 2 example_other_test' + skip)
con('[    0.700001] ok 1 example')
case2 = 'FAIL' if mode == 'fail' else 'PASS'
if mode == 'skipped':
    case2 = 'SKIP'
js = {'name': 'KUnit Test Group', 'sub_groups': [
    {'name': 'example', 'sub_groups': [], 'test_cases': [
        {'name': 'example_simple_test',
         'status': 'SKIP' if mode == 'skipped' else 'PASS'},
        {'name': 'example_other_test', 'status': case2}]}],
    'test_cases': []}
open(opt['json'][0], 'w').write(json.dumps(js))
sys.exit(1 if mode == 'fail' else 0)
'''


def fake_tree(case: unittest.TestCase) -> tuple[Path, Path]:
    """(scratch folder, a tree in it whose kunit.py is FAKE), removed after
    the test."""
    tmp = Path(tempfile.mkdtemp())
    case.addCleanup(shutil.rmtree, tmp, True)
    kunit = paths.kunit_py(tmp / 'tree')
    kunit.parent.mkdir(parents=True)
    kunit.write_text(FAKE)
    return tmp, tmp / 'tree'


class FakeTreeCase(unittest.TestCase):
    """A tree whose kunit.py is FAKE; results/ in a scratch folder."""

    def setUp(self):
        self.tmp, self.tree = fake_tree(self)
        p = mock.patch.dict(os.environ, {'RESULTS': str(self.tmp / 'results')})
        p.start()
        self.addCleanup(p.stop)
        self.row = rows.Row(
            name='fake', description='fake row', arch='x86_64',
            kunitconfigs=('kunit/configs/base.config',),
            options=('CONFIG_SMP=y', 'CONFIG_SPLIT_PMD_PTLOCKS=y'),
            timeout=10, must_run=('example',),
            expect={'USE_SPLIT_HUGETLB_PTLOCKS': '1'})


class RunRowTest(FakeTreeCase):
    def run_mode(self, mode, row=None):
        with mock.patch.dict(os.environ, {'FAKE_MODE': mode}):
            return runner.run_row(row or self.row, self.tree,
                                  self.tmp / 'build', 1)

    def test_pass(self):
        r = self.run_mode('pass')
        self.assertEqual(r.reasons, [])
        self.assertEqual(r.verdict, 'PASS')
        self.assertEqual(r.reports, {'USE_SPLIT_HUGETLB_PTLOCKS': '1'})
        self.assertEqual(r.counts()['example'].passed, 2)
        out = self.tmp / 'results' / 'fake'
        for f in ('console.log', 'config', 'kunit.json', 'ktap.txt',
                  'build.log'):
            self.assertTrue((out / f).exists(), f)
        self.assertAlmostEqual(r.cases[1].duration, 0.2, places=3)

    def test_failed_case_fails_row(self):
        r = self.run_mode('fail')
        self.assertEqual(r.verdict, 'FAIL')
        self.assertIn('example.example_other_test: FAIL', r.reasons)

    def test_splat_fails_row_even_if_cases_pass(self):
        r = self.run_mode('splat')
        self.assertEqual(r.verdict, 'FAIL')
        self.assertTrue(any('sleep-in-atomic' in x for x in r.reasons),
                        r.reasons)

    def test_skipped_must_run_suite_fails_row(self):
        r = self.run_mode('skipped')
        self.assertIn('must-run suite example was skipped', r.reasons)

    def test_skip_the_row_does_not_allow_fails_it(self):
        r = self.run_mode('skipped')
        self.assertIn('unexpected skip: example.example_simple_test (no huge '
                      'pages); the '
                      "row's may_skip does not allow it", r.reasons)
        allowed = rows.Row(**{**self.row.__dict__, 'may_skip': {
            'example.example_simple_*': 'the fake cannot run it'}})
        r = self.run_mode('skipped', allowed)
        self.assertFalse([x for x in r.reasons if 'example_simple' in x])
        self.assertTrue([x for x in r.reasons
                         if x.startswith('unexpected skip: '
                                         'example.example_other_test')])

    def test_may_skip_patterns_are_literal_but_for_star(self):
        name = 'hugetlb_ptlock.absent [2048K]'
        self.assertTrue(runner.skip_allowed(name, name))
        self.assertTrue(runner.skip_allowed(name, 'hugetlb_ptlock.abs*'))
        self.assertTrue(runner.skip_allowed(name, '*[2048K]'))
        self.assertFalse(runner.skip_allowed(name, '*[1048576K]'))
        self.assertFalse(runner.skip_allowed('hugetlb_ptlock.absent 2',
                                             'hugetlb_ptlock.absent [2048K]'))
        self.assertFalse(runner.skip_allowed(name, 'hugetlb_ptlock.abs'))

    def test_lost_option_fails_row(self):
        r = self.run_mode('lost-option')
        self.assertTrue(any('CONFIG_SMP=y (got not set)' in x
                            for x in r.reasons), r.reasons)

    def test_expectation_mismatch_fails_row(self):
        row = rows.Row(**{**self.row.__dict__,
                          'expect': {'USE_SPLIT_HUGETLB_PTLOCKS': '0'}})
        r = self.run_mode('pass', row)
        self.assertIn('expected USE_SPLIT_HUGETLB_PTLOCKS=0, suite reported '
                      'USE_SPLIT_HUGETLB_PTLOCKS=1', r.reasons)

    def test_expectation_its_config_cannot_give_fails_row(self):
        # The suite and the row agree on 1, but without split PMD locks
        # in the final .config the right answer is 0.
        row = rows.Row(**{**self.row.__dict__, 'options': ('CONFIG_SMP=y',)})
        r = self.run_mode('pass', row)
        self.assertEqual(r.verdict, 'FAIL')
        self.assertEqual(r.reasons, [
            'row expects USE_SPLIT_HUGETLB_PTLOCKS=1, but its final .config '
            'implies USE_SPLIT_HUGETLB_PTLOCKS=0'])

    def test_panic_is_a_failure_with_console_tail(self):
        r = self.run_mode('panic')
        self.assertEqual(r.verdict, 'FAIL')
        text = '\n'.join(r.reasons)
        self.assertIn('no KUnit results', text)
        self.assertIn('Kernel panic - not syncing', text)

    def test_hang_times_out_with_console_tail(self):
        with mock.patch.object(runner, 'KILL_MARGIN', 1):
            row = rows.Row(**{**self.row.__dict__, 'timeout': 2})
            t0 = time.monotonic()
            r = self.run_mode('hang', row)
        self.assertLess(time.monotonic() - t0, 30)
        self.assertEqual(r.verdict, 'FAIL')
        text = '\n'.join(r.reasons)
        self.assertIn('timed out after 2s', text)
        self.assertIn('about to hang', text)


class BuildSkipTest(FakeTreeCase):
    """A row whose inputs did not change since its last build runs no
    kunit.py build at all; any change to them builds again."""

    def git(self, *args):
        subprocess.run(['git', *args], cwd=self.tree, check=True,
                       capture_output=True)

    def run_pass(self, row=None):
        with mock.patch.dict(os.environ, {'FAKE_MODE': 'pass'}):
            return runner.run_row(row or self.row, self.tree,
                                  self.tmp / 'build', 1)

    def builds(self):
        return (self.tmp / 'build' / 'fake' / 'builds').read_text().count(
            'build')

    def test_unchanged_row_skips_the_build(self):
        self.git('init', '-q')
        self.git('add', '-A')
        self.git('-c', 'user.name=T', '-c', 'user.email=t@e.invalid',
                 'commit', '-q', '-m', 'tree')
        first = self.run_pass()
        self.assertFalse(first.build_skipped)
        second = self.run_pass()
        self.assertTrue(second.build_skipped)
        self.assertEqual(second.verdict, 'PASS')
        self.assertEqual(self.builds(), 1)
        # The saved build log is the row's build.log again.
        self.assertIn('kunit.py', (self.tmp / 'results' / 'fake' /
                                   'build.log').read_text())
        # Another option, a changed tree, or local changes: build again.
        other = rows.Row(**{**self.row.__dict__,
                            'options': self.row.options + ('CONFIG_X=y',)})
        self.assertFalse(self.run_pass(other).build_skipped)
        (self.tree / 'new-file').write_text('x')
        self.git('add', 'new-file')
        self.assertFalse(self.run_pass(other).build_skipped)
        self.assertEqual(self.builds(), 3)

    def commit(self, name):
        (self.tree / name).write_text(name)
        self.git('add', '-A')
        self.git('-c', 'user.name=T', '-c', 'user.email=t@e.invalid',
                 'commit', '-q', '-m', name)

    def test_new_commit_same_config_runs_make_only(self):
        bin_ = self.tmp / 'bin'
        bin_.mkdir()
        (bin_ / 'make').write_text(
            '#!/bin/sh\nfor a; do case $a in O=*) d=${a#O=} ;; esac; done\n'
            'echo "make $*" >> "$d/builds"\n: > "$d/vmlinux"\n')
        (bin_ / 'make').chmod(0o755)
        self.git('init', '-q')
        out = io.StringIO()
        with mock.patch.dict(os.environ, {
                'PATH': f'{bin_}:{os.environ["PATH"]}'}), \
                contextlib.redirect_stdout(out):
            for name in ('tree', 'mm/hugetlb.c', 'mm/Kconfig', 'lib/x.c'):
                (self.tree / name).parent.mkdir(exist_ok=True)
                self.commit(name)
                self.assertEqual(self.run_pass().verdict, 'PASS')
        builds = (self.tmp / 'build' / 'fake' / 'builds').read_text() \
            .splitlines()
        # First build, a source change, a Kconfig change, a source change.
        self.assertEqual([b.split()[0] for b in builds],
                         ['build', 'make', 'build', 'make'])
        self.assertIn('make all compile_commands.json ARCH=x86_64 O=',
                      builds[1])
        self.assertIn('--jobs=1', builds[1])
        self.assertIn('configuration as last built: make only',
                      out.getvalue())

    def test_kernel_rebuilt_by_hand_is_built_again(self):
        self.git('init', '-q')
        self.git('add', '-A')
        self.git('-c', 'user.name=T', '-c', 'user.email=t@e.invalid',
                 'commit', '-q', '-m', 'tree')
        self.run_pass()
        vmlinux = self.tmp / 'build' / 'fake' / 'vmlinux'
        os.utime(vmlinux, ns=(1, 1))   # a reproducer's kunit.py run
        self.assertFalse(self.run_pass().build_skipped)
        self.assertTrue(self.run_pass().build_skipped)

    def test_no_git_tree_always_builds(self):
        self.run_pass()
        self.assertFalse(self.run_pass().build_skipped)
        self.assertEqual(self.builds(), 2)


class PipelineTest(FakeTreeCase):
    """Rows boot in worker threads, up to --boots at a time; the results
    and the table keep the order of the rows."""

    def spans(self, boots):
        rows_ = [rows.Row(**{**self.row.__dict__, 'name': n})
                 for n in ('r1', 'r2', 'r3')]
        out = io.StringIO()
        with mock.patch.dict(os.environ, {'FAKE_MODE': 'slow'}), \
                contextlib.redirect_stdout(out):
            res = matrix.run_matrix(rows_, self.tree, self.tmp / 'build',
                                    1, boots=boots)
        self.assertEqual([r.row for r in res], ['r1', 'r2', 'r3'])
        self.assertTrue(all(r.passed for r in res), out.getvalue())
        return [tuple(map(float, (self.tmp / 'build' / n / 'exec-span')
                          .read_text().split())) for n in ('r1', 'r2', 'r3')]

    def test_one_boot_at_a_time(self):
        spans = sorted(self.spans(1))
        self.assertTrue(all(a[1] <= b[0] for a, b in zip(spans, spans[1:])),
                        spans)

    def test_boots_overlap(self):
        spans = sorted(self.spans(3))
        self.assertTrue(any(b[0] < a[1] for a, b in zip(spans, spans[1:])),
                        spans)


class ReproducerTest(FakeTreeCase):
    """matrix.py run: a failing row gets results/<row>/reproduce.sh."""

    def run_main(self, *rows_):
        out = io.StringIO()
        with mock.patch.object(matrix.rowsmod, 'load_rows',
                               lambda: list(rows_)), \
                mock.patch.dict(os.environ, {'FAKE_MODE_bad': 'fail',
                                             'FAKE_MODE': 'pass'}), \
                contextlib.redirect_stdout(out):
            rc = matrix.main(['run', '--rows', ','.join(r.name for r in rows_),
                              '--tree', str(self.tree),
                              '--build-root', str(self.tmp / 'build')])
        return rc, out.getvalue()

    def test_failing_row_only(self):
        bad = rows.Row(**{**self.row.__dict__, 'name': 'bad',
                          'qemu_args': ('-smp 2', '-m 1024'),
                          'kernel_args': ("hugepagesz=2M hugepages='16'",)})
        good = rows.Row(**{**self.row.__dict__, 'name': 'good'})
        rc, out = self.run_main(good, bad)
        self.assertEqual(rc, 1)
        res = self.tmp / 'results'
        self.assertFalse((res / 'good' / 'reproduce.sh').exists())
        script = res / 'bad' / 'reproduce.sh'
        self.assertTrue(os.access(script, os.X_OK))
        self.assertIn(f'make matrix ROWS=bad, or kunit.py alone: {script}',
                      out)
        text = script.read_text()
        self.assertIn('make matrix ROWS=bad', text)
        self.assertIn('CONFIG_SPLIT_PMD_PTLOCKS=y',
                      (res / 'bad' / 'kunitconfig').read_text())
        # The shell hands kunit.py exactly the row's arguments.
        subprocess.run([str(script)], check=True)
        argv = json.loads((self.tmp / 'build' / 'bad' /
                           'run-args.json').read_text())
        self.assertEqual(argv, [
            'run', '--arch=x86_64',
            f'--build_dir={self.tmp / "build" / "bad"}',
            f'--kunitconfig={res / "bad" / "kunitconfig"}', '--timeout=10',
            '--qemu_args=-smp 2', '--qemu_args=-m 1024',
            '--kernel_args=panic=-1', '--kernel_args=pty.legacy_count=0',
            "--kernel_args=hugepagesz=2M hugepages='16'",
            '--make_options', runner.ccache_env(self.tmp)[0]])


if __name__ == '__main__':
    unittest.main()
