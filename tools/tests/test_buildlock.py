# SPDX-License-Identifier: GPL-2.0
"""The machine's kernel build lock (tools/buildlock.py)."""

import os
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import buildlock
import paths


class BuildLock(unittest.TestCase):
    def test_waits_and_says_so(self):
        calls = []

        def flock(fh, op):
            calls.append(op)
            if op & buildlock.fcntl.LOCK_NB:
                raise BlockingIOError
        with tempfile.TemporaryDirectory() as td, \
                mock.patch.dict(os.environ, {'KBUILD_LOCK': f'{td}/lock'}), \
                mock.patch.object(buildlock.fcntl, 'flock', flock), \
                mock.patch('builtins.print') as out:
            with buildlock.held('teeth: [x]'):
                pass
        f = buildlock.fcntl
        self.assertEqual(calls, [f.LOCK_EX | f.LOCK_NB, f.LOCK_EX, f.LOCK_UN])
        self.assertIn('teeth: [x]: waiting for', str(out.call_args_list[0]))

    def test_can_be_disabled(self):
        with mock.patch.dict(os.environ, {'KBUILD_LOCK': ''}):
            self.assertIsNone(paths.kbuild_lock())
            with buildlock.held('x'):
                pass
        with tempfile.TemporaryDirectory() as td, \
                mock.patch.dict(os.environ, {'KBUILD_LOCK': f'{td}/lock'}):
            with buildlock.held('x'):
                self.assertTrue(Path(td, 'lock').exists())


if __name__ == '__main__':
    unittest.main()
