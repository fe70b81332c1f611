# SPDX-License-Identifier: GPL-2.0
"""`make test`'s vmtest beside the matrix: a vmtest row boots as soon as
the matrix has built it, and is then reported, not run again."""

import signal
import threading
import unittest
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import testall
import vmtest
from vmtest_report import RowVm

TREE = Path('/nonexistent/tree')


def row(name, vm=False, in_test=False):
    return SimpleNamespace(name=name, vmtest=vm, vmtest_in_test=in_test)


class Beside(unittest.TestCase):
    def test_starts_only_the_vmtest_in_test_rows_with_no_build(self):
        started = threading.Event()
        calls = []

        def run_row(r, tree, kernels, boot_only):
            calls.append((r.name, tree, kernels, boot_only))
            started.set()
            return RowVm(r.name, 'x86_64')
        b = testall.Beside()
        with mock.patch.object(vmtest, 'run_row', run_row):
            b.start(row('plain'), TREE)
            b.start(row('vm-only', vm=True), TREE)
            b.start(row('x86_64', vm=True, in_test=True), TREE)
            # It runs while the caller goes on (the next row's build).
            self.assertTrue(started.wait(10))
            done = b.results()
        self.assertEqual(calls, [('x86_64', TREE, ('patched',), True)])
        self.assertEqual(list(done), ['x86_64'])

    def test_rows_run_beside_are_reported_not_run_again(self):
        earlier = RowVm('x86_64', 'x86_64')
        rows = [row('x86_64', vm=True, in_test=True),
                row('i386-pae', vm=True, in_test=True)]
        with mock.patch.object(vmtest, 'run_row') as run_row, \
                mock.patch.object(vmtest, 'write_reports',
                                  return_value='table'):
            run_row.return_value = RowVm('i386-pae', 'i386')
            out = vmtest.run_vmtest(rows, TREE, ('patched',),
                                    ran={'x86_64': earlier})
        self.assertIs(out[0], earlier)
        run_row.assert_called_once_with(rows[1], TREE, ('patched',), False)


if __name__ == '__main__':
    unittest.main()


class UnitTestsKeepCtrlC(unittest.TestCase):
    def test_run_unit_restores_the_sigint_handler(self):
        # A test that leaves SIGINT ignored (as the Ctrl-C paths do) must
        # not leave `make test` deaf to Ctrl-C afterwards.
        class Ignores(unittest.TestCase):
            def runTest(self):
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        def handler(signum, frame):
            raise KeyboardInterrupt
        old = signal.signal(signal.SIGINT, handler)
        try:
            with mock.patch.object(unittest.defaultTestLoader, 'discover',
                                   return_value=unittest.TestSuite(
                                       [Ignores()])), \
                    mock.patch('sys.stdout'):
                testall.run_unit(testall.Tally())
            self.assertIs(signal.getsignal(signal.SIGINT), handler)
        finally:
            signal.signal(signal.SIGINT, old)
