# SPDX-License-Identifier: GPL-2.0
"""Tests of tools/rows.py: the rows file, its validation, config checks."""

import json
import unittest

import paths
import rows

SUITES = {'example'}

GOOD = '''
[[row]]
name = "a"
description = "row a"
arch = "x86_64"
default = true
kunitconfigs = ["kunit/configs/base.config"]
options = ["CONFIG_SMP=n"]
qemu_args = ["-smp 2"]
kernel_args = ["hugepages=4"]
timeout = 120
must_run = ["example"]
[row.expect]
USE_SPLIT_HUGETLB_PTLOCKS = "1"

[[row]]
name = "b-um"
description = "row b"
arch = "um"
kunitconfigs = ["kunit/configs/base.config"]
'''


class RowsFileTest(unittest.TestCase):
    def test_real_rows_file_is_valid(self):
        rs = rows.load_rows()
        self.assertGreaterEqual(len(rs), 8)
        names = {r.name for r in rs}
        for need in ('x86_64', 'x86_64-up', 'i386-pae', 'i386-nopae', 'um',
                     'x86_64-nocgwb', 'x86_64-debug', 'x86_64-rt'):
            self.assertIn(need, names)
        self.assertEqual(rows.default_row(rs).name, 'x86_64')

    def test_good_rows_parse_to_typed_records(self):
        rs = rows.parse_rows(GOOD, known_suites=SUITES)
        self.assertEqual([r.name for r in rs], ['a', 'b-um'])
        a = rs[0]
        self.assertEqual(a.options, ('CONFIG_SMP=n',))
        self.assertEqual(a.expect, {'USE_SPLIT_HUGETLB_PTLOCKS': '1'})
        self.assertEqual(a.timeout, 120)
        self.assertEqual(rs[1].timeout, 300)

    def bad(self, text, needle):
        with self.assertRaises(rows.RowError) as cm:
            rows.parse_rows(text, 'x.toml', known_suites=SUITES)
        self.assertIn(needle, str(cm.exception))
        self.assertIn('x.toml', str(cm.exception))

    def test_bad_records_give_clear_errors(self):
        self.bad('[[row', 'not valid TOML')
        self.bad('x = 1', 'no [[row]] records')
        self.bad(GOOD.replace('arch = "um"', 'arch = "arm"'),
                 "arch 'arm' is not one of")
        self.bad(GOOD.replace('name = "b-um"', 'name = "a"'),
                 'duplicate row name')
        self.bad(GOOD.replace('name = "b-um"', 'name = "B UM"'), 'must match')
        self.bad(GOOD.replace('default = true', ''), 'exactly one row')
        self.bad(GOOD.replace('CONFIG_SMP=n', 'SMP=n'), 'not CONFIG_NAME=value')
        self.bad(GOOD.replace('timeout = 120', 'timeout = "2m"'), 'timeout')
        self.bad(GOOD.replace('base.config"]\noptions',
                              'nope.config"]\noptions'), 'does not exist')
        self.bad(GOOD.replace('must_run', 'must_runs'), 'unknown field')
        self.bad(GOOD.replace('description = "row b"', ''),
                 '"description" is required')
        self.bad(GOOD + 'qemu_args = ["-smp 2"]\n', 'make no sense for arch um')
        self.bad(GOOD.replace('"example"', '"exampel"'),
                 'row a: must_run names no suite: exampel')
        self.bad('[defaults]\nname = "x"\n' + GOOD, 'cannot have a default')
        self.bad('[extra]\n' + GOOD, 'unknown table(s) extra')
        self.bad(GOOD + 'may_skip = { "example_case" = "why" }\n',
                 'needs a "suite.case" pattern and a reason')
        self.bad(GOOD + 'may_skip = { "example.case" = "" }\n',
                 'needs a "suite.case" pattern and a reason')

    def test_defaults_fill_what_a_row_does_not_set(self):
        rs = rows.parse_rows('[defaults]\ntimeout = 60\nmust_run = '
                             '["example"]\n' + GOOD, known_suites=SUITES)
        self.assertEqual((rs[0].timeout, rs[0].must_run), (120, ('example',)))
        self.assertEqual((rs[1].timeout, rs[1].must_run), (60, ('example',)))

    def test_real_must_run_are_real_suites(self):
        for r in rows.load_rows():
            self.assertEqual(set(r.must_run),
                             {'hugetlb_ptlock', 'writeback_cgroup_trace'})

    def test_select(self):
        rs = rows.parse_rows(GOOD, known_suites=SUITES)
        self.assertEqual([r.name for r in rows.select(rs, 'b-um,a')],
                         ['a', 'b-um'])
        self.assertEqual(len(rows.select(rs, '')), 2)
        with self.assertRaises(rows.RowError) as cm:
            rows.select(rs, 'a,nosuch')
        self.assertIn('unknown row(s): nosuch', str(cm.exception))
        self.assertIn('known rows: a, b-um', str(cm.exception))

    def test_ci_matrix_is_a_json_list_of_rows(self):
        rs = rows.load_rows()
        data = json.loads(rows.ci_matrix(rs))
        self.assertEqual([d['row'] for d in data], [r.name for r in rs])
        self.assertTrue(all('arch' in d for d in data))


class ConfigSurvivalTest(unittest.TestCase):
    def test_parse_config(self):
        cfg = rows.parse_config('CONFIG_A=y\n# CONFIG_B is not set\n'
                                '# comment\nCONFIG_C="x y"\nCONFIG_D=8\n')
        self.assertEqual(cfg, {'CONFIG_A': 'y', 'CONFIG_B': 'n',
                               'CONFIG_C': '"x y"', 'CONFIG_D': '8'})

    def test_missing_options(self):
        want = {'CONFIG_A': 'y', 'CONFIG_B': 'n', 'CONFIG_NR_CPUS': '8',
                'CONFIG_GONE': 'y'}
        final = {'CONFIG_A': 'y', 'CONFIG_NR_CPUS': '1'}
        self.assertEqual(rows.missing_options(want, final),
                         ['CONFIG_GONE=y (got not set)',
                          'CONFIG_NR_CPUS=8 (got 1)'])
        self.assertEqual(rows.missing_options({'CONFIG_B': 'n'},
                                              {'CONFIG_B': 'y'}),
                         ['CONFIG_B=n (got y)'])
        self.assertEqual(rows.missing_options(want, {**final,
                                                     'CONFIG_NR_CPUS': '8',
                                                     'CONFIG_GONE': 'y'}), [])

    def test_options_override_fragments(self):
        rs = rows.load_rows()
        up = rows.select(rs, 'x86_64-up')[0]
        self.assertEqual(up.config_entries()['CONFIG_SMP'], 'n')

    def test_kunitconfig_is_default_row(self):
        text = rows.kunitconfig_text(rows.default_row(rows.load_rows()))
        self.assertEqual(text, paths.KUNITCONFIG.read_text())


if __name__ == '__main__':
    unittest.main()
