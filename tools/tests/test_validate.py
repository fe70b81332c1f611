# SPDX-License-Identifier: GPL-2.0
"""tools/validate.py: bad input is rejected before any slow work."""

import contextlib
import io
import os
import shutil
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import validate
from tests.test_setup import fake_bin

REPO = Path(__file__).resolve().parents[2]


class Validate(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def run_main(self, *argv, env=None, euid=0):
        err = io.StringIO()
        with mock.patch.dict(os.environ, {'KERNEL_SRC': '', **(env or {})}), \
                mock.patch.object(validate.os, 'geteuid', lambda: euid), \
                contextlib.redirect_stderr(err):
            rc = validate.main(list(argv))
        return rc, err.getvalue()

    def git_tree(self, kernel: bool) -> Path:
        src = self.tmp / 'src'
        src.mkdir()
        subprocess.run(['git', 'init', '-q', str(src)], check=True)
        if kernel:
            (src / 'Kbuild').write_text('')
            k = src / 'tools/testing/kunit'
            k.mkdir(parents=True)
            (k / 'kunit.py').write_text('')
        return src

    def test_good_input(self):
        self.assertEqual(self.run_main('--rows', 'x86_64,um'), (0, ''))

    def test_unknown_row(self):
        rc, err = self.run_main('--rows', 'x86_64,nosuch')
        self.assertEqual(rc, 2)
        self.assertIn('matrix: error: unknown row(s): nosuch; known rows: '
                      'x86_64', err)

    def test_broken_rows_file(self):
        bad = self.tmp / 'rows.toml'
        bad.write_text('[[row]]\nname = "x"\n')
        load = validate.rowsmod.load_rows
        with mock.patch.object(validate.rowsmod, 'load_rows',
                               lambda: load(bad)):
            rc, err = self.run_main()
        self.assertEqual(rc, 2)
        self.assertIn('"description" is required', err)

    def test_kernel_src(self):
        for src, want in [
                (self.tmp / 'nosuch', 'no such directory'),
                (self.tmp, 'is not a git tree'),
                (self.git_tree(kernel=False), 'not a Linux kernel tree')]:
            rc, err = self.run_main(env={'KERNEL_SRC': str(src)})
            self.assertEqual(rc, 2)
            self.assertIn('kpatch: error: KERNEL_SRC=', err)
            self.assertIn(want, err)

    def test_kernel_src_ok(self):
        src = self.git_tree(kernel=True)
        self.assertEqual(self.run_main(env={'KERNEL_SRC': str(src)}),
                         (0, ''))

    def test_missing_package_not_root(self):
        fake_bin(self.tmp, 'qemu-system-x86', 1000)
        rc, err = self.run_main(env={'PATH': f'{self.tmp}:/usr/bin:/bin'},
                                euid=1000)
        self.assertEqual(rc, 2)
        self.assertIn('apt-get install -y --no-install-recommends '
                      'qemu-system-x86', err)

    def test_all_problems_at_once(self):
        rc, err = self.run_main('--rows', 'nosuch',
                                env={'KERNEL_SRC': str(self.tmp / 'x')})
        self.assertEqual((rc, len(err.splitlines())), (2, 2))


class Makefile(unittest.TestCase):
    def test_validate_runs_before_anything_slow(self):
        """`make -n` (prints, runs nothing): validate.py is the first
        command of every target that sets up, prepares or builds."""
        if not shutil.which('make'):
            self.skipTest('no make')
        for target in ('all', 'run', 'matrix', 'test', 'check',
                       'check-bisect', 'bench'):
            out = subprocess.run(['make', '-s', '-n', '-C', str(REPO),
                                  target, 'ROWS=x'], capture_output=True,
                                 text=True, check=True).stdout
            cmds = [c for c in out.splitlines() if not c.startswith(
                'command -v')]
            self.assertTrue(cmds[0].endswith('tools/validate.py --rows "x"'),
                            f'{target}: {cmds[:2]}')


if __name__ == '__main__':
    unittest.main()
