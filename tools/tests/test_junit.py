# SPDX-License-Identifier: GPL-2.0
"""tools/junit.py: results/junit.xml as CI systems read it.

junit_errors() is a checker written from the format GitLab's unit test
reports, Jenkins' junit plugin (its Ant/Surefire XSD) and the GitHub
test-reporter actions document: a <testsuites> or <testsuite> root,
named suites whose numeric tests/failures/errors/skipped match their
children, testcases with classname and name, at most one of
failure/error/skipped each, times that are floats.
"""

import os
import unittest
import xml.etree.ElementTree as ET
from unittest import mock

import junit
import reports
import rows
import runner
from results import RowResult
from tests.test_runner import fake_tree

OUTCOMES = ('failure', 'error', 'skipped')
COUNTS = {'tests': None, 'failures': 'failure', 'errors': 'error',
          'skipped': 'skipped'}


def _float_error(v, where):
    try:
        ok = float(v) >= 0
    except (TypeError, ValueError):
        ok = False
    return [] if ok else [f'{where}: time {v!r} is not a float >= 0']


def _case_errors(tc, where):
    errs = []
    for attr in ('classname', 'name'):
        if not tc.get(attr):
            errs.append(f'{where}: testcase without {attr}')
    if tc.get('time') is not None:
        errs += _float_error(tc.get('time'), where)
    found = [c for c in tc if c.tag in OUTCOMES]
    if len(found) > 1:
        errs.append(f'{where}: more than one of failure/error/skipped')
    for c in found:
        if c.tag != 'skipped' and not c.get('message'):
            errs.append(f'{where}: <{c.tag}> without message')
        if '\n' in (c.get('message') or ''):
            errs.append(f'{where}: <{c.tag}> message is not one line')
    return errs


def _suite_errors(ts, where):
    errs = [] if ts.get('name') else [f'{where}: testsuite without name']
    cases = ts.findall('testcase')
    for attr, tag in COUNTS.items():
        want = len(cases) if tag is None else sum(
            1 for c in cases if c.find(tag) is not None)
        got = ts.get(attr)
        if got is None or not got.isdigit() or int(got) != want:
            errs.append(f'{where}: {attr}={got!r}, children say {want}')
    errs += _float_error(ts.get('time'), where)
    for i, tc in enumerate(cases):
        errs += _case_errors(tc, f'{where}/testcase[{i}]')
    return errs


def junit_errors(text):
    """Why a JUnit consumer would reject or miscount text; [] if none."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as e:
        return [f'not XML: {e}']
    if root.tag == 'testsuite':
        return _suite_errors(root, 'testsuite')
    if root.tag != 'testsuites':
        return [f'root is <{root.tag}>, not <testsuites>/<testsuite>']
    suites = root.findall('testsuite')
    errs = []
    for i, ts in enumerate(suites):
        errs += _suite_errors(ts, f'testsuite[{i}] {ts.get("name")}')
    names = [ts.get('name') for ts in suites]
    errs += [f'duplicate testsuite name {n}' for n in set(names)
             if names.count(n) > 1]
    for attr in COUNTS:
        want = sum(int(ts.get(attr) or 0) for ts in suites)
        if root.get(attr) is not None and root.get(attr) != str(want):
            errs.append(f'testsuites: {attr}={root.get(attr)}, sum {want}')
    return errs


def row_dict(name='x86_64', verdict='pass', cases=(), reasons=(),
             build_ok=True, console=''):
    return {'row': name, 'arch': 'x86_64', 'description': name,
            'verdict': verdict, 'reasons': list(reasons),
            'build_ok': build_ok, 'build_seconds': 300.5,
            'boot_seconds': 15.25, 'console_excerpt': console,
            'cases': list(cases)}


def case(name, status='PASS', param=None, log='', suite='hugetlb_ptlock'):
    return {'suite': suite, 'case': name, 'param': param, 'status': status,
            'duration': 0.5, 'log': log, 'skip_reason': ''}


def parse(rows_):
    text = ET.tostring(junit.build([RowResult.from_json(r) for r in rows_]),
                       encoding='unicode')
    return text, ET.fromstring(text)


def outcome(root, suite, name):
    ts = next(s for s in root if s.get('name') == suite)
    tc = next(c for c in ts if c.get('name') == name)
    found = [c for c in tc if c.tag in OUTCOMES]
    return found[0] if found else None


class Checker(unittest.TestCase):
    """The checker itself catches what consumers reject."""

    def test_rejects_wrong_count_and_two_outcomes(self):
        bad = ('<testsuites><testsuite name="a" tests="2" failures="0" '
               'errors="0" skipped="0" time="1"><testcase classname="a" '
               'name="x"><failure message="m"/><skipped/></testcase>'
               '</testsuite></testsuites>')
        errs = junit_errors(bad)
        self.assertTrue(any('tests=' in e for e in errs), errs)
        self.assertTrue(any('failures=' in e for e in errs), errs)
        self.assertTrue(any('more than one' in e for e in errs), errs)

    def test_rejects_missing_names_and_bad_time(self):
        bad = ('<testsuite tests="1" failures="0" errors="0" skipped="0" '
               'time="x"><testcase name="x"/></testsuite>')
        errs = junit_errors(bad)
        self.assertEqual(len(errs), 3, errs)


class Build(unittest.TestCase):
    def test_counts_params_and_outcomes(self):
        rows_ = [row_dict(cases=[case('a'), case('b', param='2048K pages'),
                                 case('c', 'SKIP')]),
                 row_dict('um', 'fail', [case('a', 'FAIL', log='boom'),
                                         case('d', 'ERROR')],
                          ['hugetlb_ptlock.a: FAIL', 'hugetlb_ptlock.d: '
                           'ERROR', 'console splat: BUG: x'], console='tail')]
        text, root = parse(rows_)
        self.assertEqual(junit_errors(text), [])
        self.assertEqual([s.get('name') for s in root],
                         ['x86_64', 'x86_64.hugetlb_ptlock', 'um',
                          'um.hugetlb_ptlock'])
        self.assertIsNone(outcome(root, 'x86_64.hugetlb_ptlock',
                                  'b [2048K pages]'))
        self.assertEqual(outcome(root, 'x86_64.hugetlb_ptlock', 'c')
                         .get('message'), 'skipped')
        fail = outcome(root, 'um.hugetlb_ptlock', 'a')
        self.assertEqual((fail.tag, fail.text), ('failure', 'boom'))
        self.assertEqual(outcome(root, 'um.hugetlb_ptlock', 'd').tag,
                         'error')
        splat = outcome(root, 'um', 'console splats')
        self.assertEqual(splat.get('message'), 'console splat: BUG: x')
        self.assertIn('tail', splat.text)
        # Case failures are the cases' own, not an "other" check.
        self.assertNotIn('other', [c.get('name') for c in root.iter(
            'testcase')])
        self.assertEqual((root.get('tests'), root.get('failures'),
                          root.get('errors'), root.get('skipped')),
                         ('17', '2', '1', '1'))

    def test_build_failure_skips_the_later_checks(self):
        text, root = parse([row_dict(verdict='fail', build_ok=False,
                                     reasons=['kunit.py build failed (exit '
                                              '2); see build.log'])])
        self.assertEqual(junit_errors(text), [])
        self.assertEqual(outcome(root, 'x86_64', 'build').tag, 'failure')
        self.assertEqual(outcome(root, 'x86_64', 'must-run suites').get(
            'message'), 'not run: the build failed')

    def test_interrupted_row(self):
        for built, failed in ((False, 'build'), (True, 'timeout/crash')):
            r = {**row_dict(verdict='fail', build_ok=built,
                            reasons=['interrupted']), 'interrupted': True}
            text, root = parse([r])
            self.assertEqual(junit_errors(text), [])
            tags = {c.get('name'): (x.tag, x.get('message')) if x is not None
                    else None for c in root.iter('testcase')
                    for x in [outcome(root, 'x86_64', c.get('name'))]}
            self.assertEqual(tags.pop(failed), ('failure', 'interrupted'))
            if built:
                self.assertIsNone(tags.pop('build'))
            self.assertEqual(set(tags.values()),
                             {('skipped', 'not run: interrupted')})

    def test_unknown_reason_kept_and_control_characters_dropped(self):
        text, root = parse([row_dict(verdict='fail', reasons=[
            'something new\x1b[0m\x00\nsecond line'], console='\x07x')])
        self.assertEqual(junit_errors(text), [])
        other = outcome(root, 'x86_64', 'other')
        self.assertEqual(other.get('message'), 'something new[0m')
        self.assertTrue(other.text.endswith('x'))

    def test_long_message_is_cut(self):
        text, root = parse([row_dict(verdict='fail',
                                     reasons=['expected ' + 'x' * 500])])
        msg = outcome(root, 'x86_64', 'expectations').get('message')
        self.assertEqual(len(msg), junit.MESSAGE_MAX)


class EndToEnd(unittest.TestCase):
    """run_row() with the fake kunit.py, then results/junit.xml."""

    def setUp(self):
        self.tmp, self.tree = fake_tree(self)
        p = mock.patch.dict(os.environ, {'RESULTS': str(self.tmp / 'results')})
        p.start()
        self.addCleanup(p.stop)

    def run_modes(self, *modes):
        out = []
        for mode in modes:
            row = rows.Row(name=mode, description=mode, arch='x86_64',
                           kunitconfigs=('kunit/configs/base.config',),
                           options=('CONFIG_SPLIT_PMD_PTLOCKS=y',),
                           timeout=10, must_run=('example',))
            with mock.patch.dict(os.environ, {'FAKE_MODE': mode}):
                out.append(runner.run_row(row, self.tree, self.tmp / 'b', 1))
        reports.write_reports(out, None)
        text = (self.tmp / 'results' / 'junit.xml').read_text()
        self.assertEqual(junit_errors(text), [])
        return ET.fromstring(text)

    def test_pass_fail_skip_crash(self):
        root = self.run_modes('pass', 'fail', 'skipped', 'panic')
        self.assertEqual([s.get('name') for s in root],
                         ['pass', 'pass.example', 'fail', 'fail.example',
                          'skipped', 'skipped.example', 'panic'])
        self.assertFalse([c for c in root.iter('testcase')
                          if c.get('classname').startswith('pass')
                          and len(c)])
        fail = outcome(root, 'fail.example', 'example_other_test')
        self.assertEqual(fail.get('message'),
                         'example.example_other_test: FAIL')
        self.assertIn('EXPECTATION FAILED', fail.text)
        self.assertEqual(outcome(root, 'skipped.example',
                                 'example_simple_test').get('message'),
                         'no huge pages')
        self.assertEqual(outcome(root, 'skipped', 'must-run suites').tag,
                         'failure')
        crash = outcome(root, 'panic', 'timeout/crash')
        self.assertTrue(crash.get('message').startswith('no KUnit results'))
        self.assertIn('Kernel panic', crash.text)
        # fail: 1 case; skipped: must-run; panic: crash, must-run, splat.
        self.assertEqual(root.get('failures'), '5')
        self.assertEqual(outcome(root, 'panic', 'console splats').get(
            'message'), 'console splat: panic: Kernel panic - not syncing: '
            'VFS: Unable to mount root')


if __name__ == '__main__':
    unittest.main()
