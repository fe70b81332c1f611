# SPDX-License-Identifier: GPL-2.0
"""The tools' layout: one import model, short functions, one source of
each fact (tools/paths.py)."""

import ast
import sys
import unittest

import kcidb
import matrix
import paths
import reports
import rows
import runner
import testall

TOOLS = paths.TOOLS
SCREEN = 50     # lines: no function longer than a screen


def modules():
    return sorted(TOOLS.glob('*.py'))


class Layout(unittest.TestCase):
    def test_each_module_is_loaded_once(self):
        # Sibling imports only: a test that patches rows.X reaches the
        # rows every other tool imported.
        self.assertIs(matrix.rowsmod, rows)
        self.assertIs(testall.rowsmod, rows)
        self.assertIs(reports.runner, runner)
        self.assertFalse([m for m in sys.modules if m.startswith('tools.')])

    def test_no_sys_path_edits(self):
        for f in modules():
            self.assertFalse('sys.path' in f.read_text(), f.name)

    def test_no_function_longer_than_a_screen(self):
        for f in modules():
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.FunctionDef):
                    n = node.end_lineno - node.lineno + 1
                    self.assertLessEqual(n, SCREEN,
                                         f'{f.name}: {node.name}() {n} lines')

    def test_paths_are_computed_in_paths_py(self):
        for f in modules():
            if f.name == 'paths.py':
                continue
            text = f.read_text()
            for fact in ("'kernel-patches'", "'0000-cover-letter",
                         "'tools/testing/kunit/kunit.py'", "'results'",
                         "Path(__file__)"):
                self.assertFalse(fact in text, f'{f.name} spells {fact}')
        self.assertFalse(hasattr(kcidb, 'COVER_LETTER'))


if __name__ == '__main__':
    unittest.main()
