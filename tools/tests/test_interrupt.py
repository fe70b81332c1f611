# SPDX-License-Identifier: GPL-2.0
"""Ctrl-C during `make test` / `make matrix`, with the fake kunit.py.

Row x86_64 finishes, row um hangs in boot+test; then SIGINT: the run must
exit 130 without a traceback, say where it stopped, mark um interrupted,
keep x86_64's result, rewrite the reports and leave no kunit.py behind.
"""

import json
import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

from tests.test_runner import fake_tree

TOOLS = Path(__file__).resolve().parents[1]
# `make test` without a kernel: testall.py with prepare() returning the
# fake tree.
DRIVER = '''
import signal, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import matrix, testall, tree
tree.prepare = lambda src: Path(sys.argv[2])
signal.signal(signal.SIGINT, matrix.on_sigint)
sys.exit(testall.main(['testall.py', 'matrix']))
'''


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f'/proc/{pid}/stat')
    return stat.exists() and stat.read_text().split(')')[-1].split()[0] == 'Z'


class Interrupt(unittest.TestCase):
    def setUp(self):
        self.tmp, self.tree = fake_tree(self)
        self.results = self.tmp / 'results'
        self.env = {**os.environ, 'RESULTS': str(self.results),
                    'WORK': str(self.tmp / 'work'), 'ROWS': 'x86_64,um',
                    'FAKE_MODE_x86_64': 'pass', 'FAKE_MODE_um': 'hang'}
        self.env.pop('KERNEL_SRC', None)

    def start(self, cmd):
        out = open(self.tmp / 'out.txt', 'w+')
        self.addCleanup(out.close)
        proc = subprocess.Popen(cmd, env=self.env, stdout=out,
                                stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        log = self.tmp / 'work' / 'build' / 'um' / 'test.log'
        for _ in range(300):
            if log.exists() and 'about to hang' in log.read_text():
                return proc
            time.sleep(0.1)
        self.fail('the fake kunit.py never started hanging')

    def assert_clean_stop(self, proc):
        rc = proc.wait(timeout=60)
        out = (self.tmp / 'out.txt').read_text()
        self.assertEqual(rc, 130, out)
        self.assertNotIn('Traceback', out)
        self.assertIn('interrupted during the boot+test of row um; 1 row(s) '
                      'finished', out)
        um = json.loads((self.results / 'um' / 'result.json').read_text())
        self.assertEqual((um['interrupted'], um['verdict'], um['reasons']),
                         (True, 'FAIL', ['interrupted']))
        self.assertIn('about to hang', um['console_excerpt'])
        x86 = json.loads((self.results / 'x86_64' / 'result.json')
                         .read_text())
        self.assertFalse(x86['interrupted'])
        self.assertTrue(x86['cases'])
        self.assertIn('- um FAIL: interrupted',
                      (self.results / 'summary.md').read_text())
        self.assertIn('<failure message="interrupted"',
                      (self.results / 'junit.xml').read_text())
        self.assertTrue((self.results / 'kcidb.json').exists())
        self.assertTrue((self.results / 'um' / 'reproduce.sh').exists())
        pid = int((self.tmp / 'work' / 'build' / 'um' / 'fake.pid')
                  .read_text())
        for _ in range(50):
            if gone(pid):
                break
            time.sleep(0.1)
        self.assertTrue(gone(pid), 'kunit.py outlived the run')
        return out

    def test_ctrl_c_in_the_terminal_during_make_test(self):
        # The terminal signals the whole foreground process group.
        proc = self.start([sys.executable, '-c', DRIVER, str(TOOLS),
                           str(self.tree)])
        os.killpg(proc.pid, signal.SIGINT)
        out = self.assert_clean_stop(proc)
        self.assertIn('matrix: interrupted during the matrix', out)

    def test_sigint_to_make_test_alone_is_passed_on(self):
        proc = self.start([sys.executable, '-c', DRIVER, str(TOOLS),
                           str(self.tree)])
        os.kill(proc.pid, signal.SIGINT)
        self.assert_clean_stop(proc)

    def test_ctrl_c_during_make_matrix(self):
        proc = self.start([sys.executable, str(TOOLS / 'matrix.py'), 'run',
                           '--tree', str(self.tree)])
        os.killpg(proc.pid, signal.SIGINT)
        self.assert_clean_stop(proc)


if __name__ == '__main__':
    unittest.main()
