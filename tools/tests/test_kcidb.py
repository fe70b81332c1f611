# SPDX-License-Identifier: GPL-2.0
"""Tests of tools/kcidb.py: the KCIDB v5 report builder and validator."""

import contextlib
import copy
import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import kcidb
from results import RowResult

BASE = '0123456789abcdef0123456789abcdef01234567'


def case(suite='hugetlb_ptlock', name='huge_pte_lockptr_matches_core_mm',
         param=None, status='PASS', duration=0.12, log=''):
    return {'suite': suite, 'case': name, 'param': param, 'status': status,
            'duration': duration, 'log': log}


def row(name='x86_64', arch='x86_64', verdict='pass', build_ok=True,
        cases=None, reasons=None, console='',
        start='2026-11-22T01:02:03+00:00'):
    return {'row': name, 'arch': arch, 'description': f'row {name}',
            'verdict': verdict, 'reasons': reasons or [],
            'build_ok': build_ok, 'build_seconds': 123.4,
            'boot_seconds': 5.6, 'start_time': start, 'config_name': name,
            'compiler': 'gcc (Debian 12.2.0-14) 12.2.0',
            'console_excerpt': console,
            'cases': [case()] if cases is None else cases}


def build(checkout, rows):
    """build_report() from the dict forms result.json and a caller use."""
    return kcidb.build_report(kcidb.Checkout(**checkout),
                              [RowResult.from_json(r) for r in rows])


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix='kcidb-test-')
        self.addCleanup(shutil.rmtree, self.tmp)
        self.patches = []
        for name, text in [('0000-cover-letter.txt', b'cover letter\n'),
                           ('0001-mm-one.patch', b'From: a\n\n+one\n'),
                           ('0002-mm-two.patch', b'From: b\n\n+two\n')]:
            path = os.path.join(self.tmp, name)
            with open(path, 'wb') as fh:
                fh.write(text)
            self.patches.append(path)

    def checkout(self, **over):
        co = {'base': BASE,
              'base_desc': 'Linux 6.12 from Debian linux-source-6.12 '
                           '6.12.117-1~deb12u1',
              'patch_files': self.patches,
              'start_time': '2026-11-22T01:00:00+00:00',
              'tree_name': 'linux-6.12.y-debian', 'git_repository_url': None}
        co.update(over)
        return co

    def report(self, rows=None, **over):
        rows = [row(), row('i386', 'i386')] if rows is None else rows
        return build(self.checkout(**over), rows)

    def assertValid(self, report):
        self.assertEqual(kcidb.validate(report), [])

    def assertError(self, report, *needles):
        """validate() reports at least one error containing all needles."""
        errs = kcidb.validate(report)
        self.assertTrue(any(all(n in e for n in needles) for e in errs),
                        f'no error with {needles} in {errs}')


class ValidReport(Base):
    def test_typical_report_validates(self):
        rep = self.report([
            row(cases=[case(), case(param='2048K pages'),
                       case(name='skipped', status='SKIP', duration=None)]),
            row('um', 'um', verdict='fail', reasons=['example: FAIL'],
                cases=[case(status='FAIL', log='expected 1 got 2\n')],
                console='... console tail ...')])
        self.assertValid(rep)
        self.assertEqual(rep['version'], {'major': 5, 'minor': 3})
        self.assertEqual(len(rep['checkouts']), 1)
        self.assertEqual(len(rep['builds']), 2)
        self.assertEqual(len(rep['tests']), 2 + 3 + 1)
        self.assertEqual(json.loads(json.dumps(rep)), rep)

    def test_checkout_fields(self):
        rep = self.report(git_repository_url='https://git.kernel.org/pub/'
                          'scm/linux/kernel/git/stable/linux.git')
        co = rep['checkouts'][0]
        self.assertEqual(co['git_commit_hash'], BASE)
        self.assertEqual(co['origin'], kcidb.ORIGIN)
        self.assertEqual(co['tree_name'], 'linux-6.12.y-debian')
        self.assertTrue(co['comment'].startswith('Linux 6.12'))
        self.assertTrue(co['id'].startswith('kunitport:0123456789ab+'))
        self.assertIn('git_repository_url', co)
        self.assertEqual(co['misc']['patches'],
                         ['0001-mm-one.patch', '0002-mm-two.patch'])
        self.assertValid(rep)

    def test_non_https_repository_url_is_left_out(self):
        rep = self.report(git_repository_url='git://example.org/linux.git')
        self.assertNotIn('git_repository_url', rep['checkouts'][0])
        self.assertValid(rep)

    def test_ids_deterministic_and_unique(self):
        a, b = self.report(), self.report()
        self.assertEqual(a, b)
        for name in ('builds', 'tests'):
            ids = [o['id'] for o in a[name]]
            self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(a['builds'][0]['id'],
                         a['checkouts'][0]['id'] + '-x86_64')
        other = self.report(base='f' * 40)
        self.assertNotEqual(a['checkouts'][0]['id'],
                            other['checkouts'][0]['id'])

    def test_architecture_mapping(self):
        rep = self.report([row('a', 'x86_64'), row('b', 'i386'),
                           row('c', 'um')])
        self.assertEqual([b['architecture'] for b in rep['builds']],
                         ['x86_64', 'i386', 'um'])

    def test_test_paths_and_status_mapping(self):
        rep = self.report([row(cases=[
            case(status=s, name=s.lower()) for s in
            ('PASS', 'FAIL', 'SKIP', 'ERROR')])])
        tests = {t['path']: t for t in rep['tests']}
        self.assertEqual(tests['kunit']['status'], 'PASS')
        for s in ('PASS', 'FAIL', 'SKIP', 'ERROR'):
            t = tests[f'kunit.hugetlb_ptlock.{s.lower()}']
            self.assertEqual(t['status'], s)
            self.assertEqual(t['duration'], 0.12)
            self.assertEqual(t['build_id'], rep['builds'][0]['id'])
        self.assertValid(rep)

    def test_test_start_follows_build(self):
        rep = self.report([row()])
        self.assertEqual(rep['builds'][0]['start_time'],
                         '2026-11-22T01:02:03+00:00')
        self.assertEqual(rep['tests'][0]['start_time'],
                         '2026-11-22T01:04:06.400000+00:00')
        co = rep['checkouts'][0]
        self.assertEqual(co['origin_tests_finish_time'],
                         '2026-11-22T01:04:12+00:00')

    def test_missing_times_are_omitted(self):
        rep = self.report([row(start='')], start_time=None)
        self.assertNotIn('start_time', rep['builds'][0])
        self.assertNotIn('start_time', rep['tests'][0])
        self.assertNotIn('start_time', rep['checkouts'][0])
        self.assertValid(rep)

    def test_failed_row_summary(self):
        reasons = ['hugetlb_ptlock.huge_pte_lockptr_matches_core_mm: FAIL',
                   'console splat: BUG: sleeping function']
        log = 'x' * 40000
        rep = self.report([row(verdict='fail', reasons=reasons,
                               console='tail of console\n' * 3000,
                               cases=[case(status='FAIL', log=log)])])
        self.assertValid(rep)
        summary, failed = rep['tests']
        self.assertEqual(summary['path'], 'kunit')
        self.assertEqual(summary['status'], 'FAIL')
        self.assertTrue(summary['log_excerpt'].startswith('\n'.join(reasons)))
        self.assertLessEqual(len(summary['log_excerpt']),
                             kcidb.LOG_EXCERPT_MAX)
        self.assertEqual(summary['misc']['reasons'], reasons)
        self.assertEqual(failed['status'], 'FAIL')
        self.assertEqual(len(failed['log_excerpt']), kcidb.LOG_EXCERPT_MAX)
        self.assertTrue(failed['log_excerpt'].startswith('xxx'))
        build = rep['builds'][0]
        self.assertEqual(build['status'], 'PASS')
        self.assertIn('tail of console', build['log_excerpt'])
        self.assertLessEqual(len(build['log_excerpt']), kcidb.LOG_EXCERPT_MAX)

    def test_build_failure_row(self):
        console = 'make: *** [Makefile:1234: vmlinux] Error 2\n'
        rep = self.report([row('um', 'um', verdict='fail', build_ok=False,
                               reasons=['build failed'], cases=[],
                               console='noise\n' * 5000 + console)])
        self.assertValid(rep)
        build = rep['builds'][0]
        self.assertEqual(build['status'], 'FAIL')
        self.assertEqual(build['duration'], 123.4)
        self.assertTrue(build['log_excerpt'].endswith(console))
        self.assertLessEqual(len(build['log_excerpt']), kcidb.LOG_EXCERPT_MAX)
        self.assertEqual(len(rep['tests']), 1)
        summary = rep['tests'][0]
        self.assertEqual(summary['status'], 'MISS')
        self.assertNotIn('duration', summary)
        self.assertIn('build failed', summary['log_excerpt'])

    def test_passing_row_has_no_log_excerpts(self):
        rep = self.report([row(console='all good')])
        self.assertNotIn('log_excerpt', rep['builds'][0])
        self.assertNotIn('log_excerpt', rep['tests'][0])

    def test_unknown_kunit_status_becomes_error(self):
        rep = self.report([row(cases=[case(status='TIMEOUT', log='hung')])])
        t = rep['tests'][1]
        self.assertEqual(t['status'], 'ERROR')
        self.assertEqual(t['log_excerpt'], 'hung')
        self.assertValid(rep)


class Params(Base):
    def test_path_component(self):
        pc = kcidb.path_component
        self.assertEqual(pc('2048K pages'), '2048K_pages')
        self.assertEqual(pc('huge_pte-lockptr'), 'huge_pte-lockptr')
        self.assertEqual(pc('order 9 (2M), THP=y'), 'order_9_2M_THP_y')
        self.assertEqual(pc('a.b.c'), 'a_b_c')
        self.assertEqual(pc(' /lead/ and trail. '), 'lead_and_trail')
        self.assertEqual(pc('µs ≥ 5'), 's_5')
        for weird in ('', '...', '()', '日本語'):
            comp = pc(weird)
            self.assertRegex(comp, r'^p[0-9a-f]{8}$')
        self.assertNotEqual(pc('...'), pc('()'))

    def test_param_component_in_path(self):
        rep = self.report([row(cases=[case(param='2048K pages'),
                                      case(param=None), case(param='')])])
        paths = [t['path'] for t in rep['tests']]
        self.assertIn('kunit.hugetlb_ptlock.huge_pte_lockptr_matches_core_mm'
                      '.2048K_pages', paths)
        self.assertIn('kunit.hugetlb_ptlock.huge_pte_lockptr_matches_core_mm',
                      paths)
        self.assertEqual(rep['tests'][1]['misc']['param'], '2048K pages')
        self.assertValid(rep)

    def test_params_colliding_after_sanitizing_stay_unique(self):
        rep = self.report([row(cases=[case(param='a b'), case(param='a-b'),
                                      case(param='a/b'), case(param='a.b'),
                                      case(param='a b')])])
        paths = [t['path'] for t in rep['tests']]
        ids = [t['id'] for t in rep['tests']]
        self.assertEqual(len(paths), len(set(paths)))
        self.assertEqual(len(ids), len(set(ids)))
        self.assertValid(rep)


class PatchsetHash(Base):
    def test_known_input(self):
        patches = [b'patch one\n', b'patch two\n']
        digests = ''.join(hashlib.sha256(p).hexdigest() + '\n'
                          for p in patches)
        want = hashlib.sha256(digests.encode()).hexdigest()
        self.assertEqual(kcidb.patchset_hash(patches), want)
        self.assertRegex(want, r'^[0-9a-f]{64}$')
        self.assertNotEqual(kcidb.patchset_hash(patches[::-1]), want)

    def test_empty_patch_list(self):
        self.assertEqual(kcidb.patchset_hash([]), '')
        rep = self.report(patch_files=[])
        self.assertEqual(rep['checkouts'][0]['patchset_hash'], '')
        self.assertEqual(rep['checkouts'][0]['id'], 'kunitport:0123456789ab')
        self.assertValid(rep)

    def test_cover_letter_excluded(self):
        blobs = []
        for p in self.patches[1:]:
            with open(p, 'rb') as fh:
                blobs.append(fh.read())
        rep = self.report()
        self.assertEqual(rep['checkouts'][0]['patchset_hash'],
                         kcidb.patchset_hash(blobs))
        self.assertEqual(rep, self.report(patch_files=self.patches[1:]))

    @unittest.skipUnless(shutil.which('sha256sum') and shutil.which('cut'),
                         'coreutils not installed')
    def test_matches_documented_shell_command(self):
        out = subprocess.run(
            'sha256sum 0001-*.patch 0002-*.patch | cut -c-64 | sha256sum | '
            'cut -c-64', shell=True, cwd=self.tmp, check=True,
            capture_output=True, text=True).stdout.strip()
        rep = self.report()
        self.assertEqual(rep['checkouts'][0]['patchset_hash'], out)


class Broken(Base):
    """Each validator rule catches a report broken in its way."""

    def setUp(self):
        super().setUp()
        self.good = self.report([row(verdict='fail', reasons=['r'],
                                     cases=[case(status='FAIL', log='l')])])
        self.assertValid(self.good)

    def broken(self):
        return copy.deepcopy(self.good)

    def test_not_an_object(self):
        self.assertError([], '$: expected an object, got array')

    def test_version(self):
        for version, needle in [
                ({'major': 4, 'minor': 5}, '$.version.major: 4 is not 5'),
                ({'major': 5, 'minor': 4}, '$.version.minor: 4 is outside'),
                ({'major': 5, 'minor': -1}, '$.version.minor'),
                ({'major': '5'}, '$.version.major: expected an integer'),
                ({'major': True}, '$.version.major: expected an integer'),
                ({'minor': 0}, "$.version: missing required field 'major'"),
                ({'major': 5, 'patch': 1}, "unknown field 'patch'"),
                ('5.3', '$.version: expected an object')]:
            rep = self.broken()
            rep['version'] = version
            self.assertError(rep, needle)
        rep = self.broken()
        del rep['version']
        self.assertError(rep, "$: missing required field 'version'")
        rep['version'] = {'major': 5}      # minor 0: no v5.1 fields
        self.assertError(rep, 'origin_builds_finish_time', 'needs schema v5.1')
        rep['version'] = {'major': 5, 'minor': 1}
        self.assertValid(rep)

    def test_missing_required_fields(self):
        for lst, field in [('checkouts', 'id'), ('checkouts', 'origin'),
                           ('builds', 'checkout_id'), ('builds', 'id'),
                           ('tests', 'build_id'), ('tests', 'origin')]:
            rep = self.broken()
            del rep[lst][0][field]
            self.assertError(rep, f'$.{lst}[0]: missing required field '
                             f'{field!r}')

    def test_unknown_fields(self):
        rep = self.broken()
        rep['revisions'] = []
        rep['builds'][0]['valid'] = True        # a v4 field, gone in v5
        rep['tests'][0]['waived'] = False       # likewise
        self.assertError(rep, "$: unknown field 'revisions'")
        self.assertError(rep, "$.builds[0]: unknown field 'valid'")
        self.assertError(rep, "$.tests[0]: unknown field 'waived'")

    def test_null_and_wrong_types(self):
        rep = self.broken()
        rep['builds'][0]['comment'] = None
        rep['builds'][0]['duration'] = '12'
        rep['tests'][0]['misc'] = []
        rep['checkouts'][0]['valid'] = 1
        rep['tests'] = rep['tests'][0]
        self.assertError(rep, '$.builds[0].comment: must not be null')
        self.assertError(rep, '$.builds[0].duration: expected a number')
        self.assertError(rep, '$.checkouts[0].valid: expected a boolean')
        self.assertError(rep, '$.tests: expected an array, got object')

    def test_misc_is_free_form(self):
        rep = self.broken()
        rep['tests'][0]['misc'] = {'anything': [None, '\0', {'x': 1.5}]}
        self.assertValid(rep)
        rep['tests'][0]['misc'] = 'text'
        self.assertError(rep, '$.tests[0].misc: expected an object')

    def test_bad_id_and_origin(self):
        for bad in ('kunitport', 'KunitPort:x', ':x', 'kunit-port:x',
                    'kunitport:a\0b'):
            rep = self.broken()
            rep['tests'][1]['id'] = bad
            self.assertError(rep, '$.tests[1].id')
        rep = self.broken()
        rep['builds'][0]['origin'] = 'Kunit Port'
        self.assertError(rep, '$.builds[0].origin', 'does not match')
        rep = self.broken()
        rep['tests'][0]['origin'] = 'other_ci'
        self.assertError(rep, '$.tests[0].id', "origin 'other_ci'")

    def test_bad_status(self):
        for bad in ('pass', 'BROKEN', '', 1):
            rep = self.broken()
            rep['tests'][1]['status'] = bad
            self.assertError(rep, '$.tests[1].status')
        rep = self.broken()
        rep['builds'][0]['status'] = 'OK'
        self.assertError(rep, '$.builds[0].status', 'not one of FAIL')
        for good in kcidb.STATUSES:
            rep['builds'][0]['status'] = good
            self.assertValid(rep)

    def test_bad_timestamp(self):
        for bad in ('2026-11-22 01:00:00+00:00', '2026-11-22T01:00:00',
                    '2026-13-01T00:00:00Z', '2026-02-30T00:00:00Z',
                    '2026-11-22T24:00:00Z', '2026-11-22T01:00:00+25:00',
                    '2024-02-29T23:59:60Z', '22/11/2026', '2026-11-22'):
            rep = self.broken()
            rep['builds'][0]['start_time'] = bad
            self.assertError(rep, '$.builds[0].start_time')
        for good in ('2026-11-22T01:00:00Z', '2026-11-22T01:00:00.967+05:30',
                     '2024-02-29T23:59:59.5-00:00', '2026-11-22t01:00:00z'):
            rep = self.broken()
            rep['builds'][0]['start_time'] = good
            self.assertValid(rep)

    def test_duplicate_ids(self):
        rep = self.broken()
        rep['tests'].append(copy.deepcopy(rep['tests'][0]))
        self.assertError(rep, '$.tests[2].id: duplicate id')
        rep = self.broken()
        rep['builds'].append(copy.deepcopy(rep['builds'][0]))
        self.assertError(rep, '$.builds[1].id: duplicate id')

    def test_dangling_references(self):
        rep = self.broken()
        rep['tests'][1]['build_id'] = 'kunitport:no-such-build'
        self.assertError(rep, '$.tests[1].build_id', 'not the id of any')
        self.assertEqual(kcidb.validate(rep, self_contained=False), [])
        rep = self.broken()
        rep['builds'][0]['checkout_id'] = 'kunitport:elsewhere'
        self.assertError(rep, '$.builds[0].checkout_id', 'checkouts')
        rep = self.broken()
        del rep['builds']
        self.assertError(rep, '$.tests[0].build_id')

    def test_log_excerpt_limit(self):
        rep = self.broken()
        rep['tests'][1]['log_excerpt'] = 'x' * kcidb.LOG_EXCERPT_MAX
        self.assertValid(rep)
        rep['tests'][1]['log_excerpt'] += 'x'
        self.assertError(rep, '$.tests[1].log_excerpt', '16385 characters')
        rep = self.broken()
        rep['builds'][0]['log_excerpt'] = 'a\0b'
        self.assertError(rep, '$.builds[0].log_excerpt', 'NUL')

    def test_bad_path(self):
        for bad, comp in [('kunit.foo bar.x', 'foo bar'), ('kunit..x', ''),
                          ('.kunit', ''), ('kunit.', ''),
                          ('kunit.a/b', 'a/b'), ('kunit.2048K pages', '')]:
            rep = self.broken()
            rep['tests'][1]['path'] = bad
            self.assertError(rep, '$.tests[1].path', f'component {comp!r}'
                             if comp else 'invalid component')
        for good in ('', 'kunit', 'kunit.a-b_C.9'):
            rep = self.broken()
            rep['tests'][1]['path'] = good
            self.assertValid(rep)

    def test_checkout_formats(self):
        for field, bad in [('patchset_hash', 'ABC'),
                           ('patchset_hash', 'F' * 64),
                           ('git_commit_hash', BASE[:39]),
                           ('git_repository_url', 'git://x.org/l.git'),
                           ('git_repository_url', 'https://x y'),
                           ('message_id', 'no-at-sign'),
                           ('tree_name', 'a\0b')]:
            rep = self.broken()
            rep['checkouts'][0][field] = bad
            self.assertError(rep, f'$.checkouts[0].{field}')

    def test_build_formats(self):
        rep = self.broken()
        rep['builds'][0]['architecture'] = 'x86-64'
        rep['builds'][0]['output_files'] = [{'name': 'a/b', 'url': 'x'}]
        self.assertError(rep, '$.builds[0].architecture')
        self.assertError(rep, '$.builds[0].output_files[0].name')
        self.assertError(rep, '$.builds[0].output_files[0].url', 'URI')

    def test_fields_need_their_minor_version(self):
        rep = self.broken()
        rep['tests'][0]['input_files'] = [
            {'name': 'rootfs.cpio', 'url': 'https://example.org/rootfs.cpio'}]
        self.assertValid(rep)
        rep['version']['minor'] = 2
        self.assertError(rep, '$.tests[0].input_files', 'needs schema v5.3')
        rep['version']['minor'] = 0
        self.assertError(rep, '$.checkouts[0].origin_builds_finish_time',
                         'needs schema v5.1')

    def test_issues_and_incidents(self):
        rep = self.broken()
        test_id = rep['tests'][1]['id']
        rep['issues'] = [{'id': 'kunitport:ptlock', 'origin': 'kunitport',
                          'version': 1, 'categories': ['runtime.lock'],
                          'culprit': {'code': True}}]
        rep['incidents'] = [{'id': 'kunitport:i1', 'origin': 'kunitport',
                             'issue_id': 'kunitport:ptlock',
                             'issue_version': 1, 'test_id': test_id,
                             'present': True}]
        self.assertValid(rep)
        rep['issues'].append(dict(rep['issues'][0], version=2))
        self.assertValid(rep)      # another version of the same issue
        rep['issues'][0]['categories'] = ['bad category']
        rep['incidents'][0]['issue_version'] = -1
        del rep['incidents'][0]['issue_id']
        self.assertError(rep, '$.issues[0].categories[0]')
        self.assertError(rep, '$.incidents[0].issue_version', 'below 0')
        self.assertError(rep, "$.incidents[0]: missing required field "
                         "'issue_id'")


class RoundTrip(Base):
    """build_report() output validates for assorted synthetic inputs."""

    WEIRD = ['2048K pages', 'a.b.c', '../../etc/passwd', 'x' * 300, '',
             '   ', '日本語', 'tab\there', 'nul\0byte', 'new\nline',
             'order=9, THP', '100%', '-', '_', '"quoted"', 'a b', 'a-b']

    def test_round_trips(self):
        inputs = [
            [],
            [row()],
            [row(cases=[case(param=p) for p in self.WEIRD])],
            [row(n, a, verdict=v, build_ok=ok, reasons=['why'] if
                 v == 'fail' else [], console='c' * 70000,
                 cases=[case(status=s, log='L' * 20000)
                        for s in ('PASS', 'FAIL', 'SKIP', 'ERROR')])
             for n, a, v, ok in [('x86_64', 'x86_64', 'pass', True),
                                 ('i386 (PAE)', 'i386', 'fail', True),
                                 ('um/kasan', 'um', 'fail', False),
                                 ('um/kasan', 'um', 'fail', True)]],
            [row(name='', cases=[case(suite='', name='', status='pass',
                                      duration=None)]),
             dict(row(), start_time='not a time', build_seconds=None,
                  boot_seconds=float('nan'), compiler=None, arch='ARM64')],
        ]
        for rows in inputs:
            for base in (BASE, '', 'v6.12'):
                with self.subTest(rows=len(rows), base=base):
                    rep = self.report(rows, base=base)
                    self.assertValid(rep)
                    self.assertEqual(len(rep['builds']), len(rows))
                    text = json.dumps(rep, allow_nan=False)
                    self.assertEqual(kcidb.validate(json.loads(text)), [])

    def test_weird_params_keep_original_in_misc(self):
        rep = self.report([row(cases=[case(param=p) for p in self.WEIRD
                                      if p])])
        got = [t['misc'].get('param') for t in rep['tests'][1:]]
        self.assertEqual(got, [p.replace('\0', '') for p in self.WEIRD if p])


class Cli(Base):
    def run_main(self, report):
        path = os.path.join(self.tmp, 'kcidb.json')
        with open(path, 'w') as fh:
            fh.write(report if isinstance(report, str) else
                     json.dumps(report))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = kcidb.main(['validate', path])
        return rc, out.getvalue()

    def test_valid_file(self):
        rc, out = self.run_main(self.report())
        self.assertEqual(rc, 0)
        self.assertIn('valid', out)

    def test_invalid_file(self):
        rep = self.report()
        rep['tests'][0]['status'] = 'OK'
        rc, out = self.run_main(rep)
        self.assertEqual(rc, 1)
        self.assertIn('$.tests[0].status', out)

    def test_not_json(self):
        rc, out = self.run_main('{not json')
        self.assertEqual(rc, 1)
        self.assertIn('cannot read JSON', out)


if __name__ == '__main__':
    unittest.main()
