# SPDX-License-Identifier: GPL-2.0
"""check-bisect: per-prefix configs and row selection."""

import contextlib
import io
import sys
import unittest

import check_bisect as kbisect
import paths
import rows as rowsmod
import suites


class PrefixConfigTest(unittest.TestCase):
    def setUp(self):
        self.rows = {r.name: r for r in rowsmod.load_rows()}
        self.suites = suites.load_suites()
        self.names = paths.patches()

    def test_tests_appear_with_their_patch(self):
        row = self.rows['x86_64']
        for k in range(len(self.names) + 1):
            applied = set(self.names[:k])
            cfg = rowsmod.parse_config(
                kbisect.prefix_config(row, applied, self.suites))
            for patch, suite in self.suites.items():
                self.assertEqual(suite.config in cfg, patch in applied,
                                 f'{suite.config} after {k} patches')
            # Everything else of the row is kept, values included.
            want = {key: v for key, v in row.config_entries().items()
                    if key not in {s.config for s in self.suites.values()}}
            self.assertEqual({key: cfg[key] for key in want}, want)

    def test_row_options_override_fragments(self):
        cfg = rowsmod.parse_config(kbisect.prefix_config(
            self.rows['i386-nopae'], set(self.names), self.suites))
        self.assertEqual(cfg['CONFIG_X86_PAE'], 'n')
        self.assertEqual(cfg['CONFIG_HIGHMEM4G'], 'y')

    def test_every_suite_patch_is_in_the_series(self):
        self.assertLessEqual(set(self.suites), set(self.names))

    def test_unknown_row_is_named(self):
        err = io.StringIO()
        argv = sys.argv
        sys.argv = ['bisect.py', '--rows', 'x86_64,nosuchrow']
        try:
            with contextlib.redirect_stderr(err):
                rc = kbisect.main()
        finally:
            sys.argv = argv
        self.assertEqual(rc, 2)
        self.assertIn('unknown row(s): nosuchrow', err.getvalue())


if __name__ == '__main__':
    unittest.main()
