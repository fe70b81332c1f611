# SPDX-License-Identifier: GPL-2.0
"""Tests of `make vmtest`: the guest's records, the writeback checks, the
verdict against the base, the reports and the row field."""

import dataclasses
import json
import tempfile
import unittest
from pathlib import Path

import kcidb
import rows
import vmtest_boot
import vmtest_image
import vmtest_kcidb
import vmtest_parse
import vmtest_report
import vmtest_verdict
import vmtest_wb
from results import Status
from vmtest_boot import Boot
from vmtest_parse import Test

LONG = '/a/b/' + '/'.join(f'deep{i}-' + 'x' * 94 for i in (1, 2, 3))
SHOWN = '...' + LONG[-252:]


def wb_line(event, ino, cgroup=None, task='sh-97'):
    tail = f' cgroup={cgroup}' if cgroup is not None else ''
    return (f'{task:>16} [001] ..... 12.345678: {event}: bdi 1:0: '
            f'sb_dev 0:0 nr_pages=9 cgroup_ino={ino}{tail}')


def records(*, c_lines=(), long_lines=(), done=True, extra=''):
    body = ['VMTEST kernel 6.12.118 x86_64',
            'VMTEST ino c 41 /a/b/c', f'VMTEST ino long 57 {LONG}']
    for src in vmtest_wb.SOURCES:
        body += [f'VMTEST lines {src}', *c_lines, *long_lines,
                 f'VMTEST endlines {src}']
    body += extra.splitlines()
    if done:
        body.append('VMTEST done')
    return '\r\n'.join(body) + '\r\n'


class ParseTest(unittest.TestCase):
    def test_records_logs_and_blocks(self):
        text = records(extra='VMTEST log hugepage-mmap\n| TAP version 13\n'
                       '| ok 1 mmap\n| not ok 2 munmap\nVMTEST endlog '
                       'hugepage-mmap\nVMTEST test hugepage-mmap pass exit 0'
                       '\nVMTEST note hugepages: 2048kB')
        run = vmtest_parse.parse(text)
        self.assertTrue(run.done)
        self.assertEqual(run.inos['c'], ('41', '/a/b/c'))
        self.assertEqual(run.inos['long'][1], LONG)
        self.assertEqual(run.notes, ['hugepages: 2048kB'])
        t = run.tests[0]
        self.assertEqual((t.name, t.status), ('hugepage-mmap', Status.PASS))
        self.assertIn('not ok 2 munmap', t.log)
        # A "not ok" fails a test whose exit status said pass.
        out = {x.name: x for x in vmtest_parse.tests(run)}
        self.assertIs(out['hugepage-mmap'].status, Status.FAIL)
        self.assertIs(out['hugepage-mmap/mmap'].status, Status.PASS)
        self.assertIs(out['hugepage-mmap/munmap'].status, Status.FAIL)

    def test_every_expected_test_is_listed(self):
        run = vmtest_parse.parse(records(done=False))
        out = {x.name: x for x in vmtest_parse.tests(run)}
        for name in vmtest_parse.EXPECTED:
            self.assertIs(out[name].status, Status.ERROR)
            self.assertIn('crashed or timed out', out[name].why)
        self.assertIn('0 of 60', out['gup_test_-H (all runs)'].why)

    def test_uffd_hugetlb_cases_and_skips(self):
        log = ('Testing register on anon... done\n'
               'Testing register on hugetlb... done\n'
               'Testing minor on hugetlb-private... skipped [reason: '
               'feature missing]\nTesting wp on hugetlb... failed '
               '[reason: x]')
        t = Test('uffd-unit-tests', Status.FAIL, 'exit 1', log)
        got = [(x.name, x.status, x.why) for x in vmtest_parse.uffd_tests(t)]
        self.assertEqual(got, [
            ('uffd-unit-tests/register on hugetlb', Status.PASS, ''),
            ('uffd-unit-tests/minor on hugetlb-private', Status.SKIP,
             'feature missing'),
            ('uffd-unit-tests/wp on hugetlb', Status.FAIL, 'x')])

    def test_uffd_last_run_of_a_group_counts(self):
        log = ('uffd-unit-tests -f events\n'
               'Testing events on anon... ERROR: UFFDIO_COPY error: -2 '
               '(errno=2, @uffd-common.c:617)\n'
               'uffd-unit-tests -f events: retry 1, exit 1 at "Testing '
               'events on anon..." (outside hugetlb)\n'
               'uffd-unit-tests -f events\n'
               'Testing events on anon... done\n'
               'Testing events on hugetlb... done\n'
               'Testing events on hugetlb-private... ERROR: UFFDIO_COPY '
               'error: -17 (errno=17, @uffd-common.c:617)\n')
        run = vmtest_parse.parse(
            'VMTEST log uffd-unit-tests\n'
            + ''.join(f'| {line}\n' for line in log.splitlines())
            + 'VMTEST endlog uffd-unit-tests\n'
            'VMTEST test uffd-unit-tests fail exit 1, 20s\n')
        out = {x.name: x for x in vmtest_parse.tests(run)}
        self.assertEqual(out['uffd-unit-tests/events on hugetlb'].status,
                         Status.PASS)
        bad = out['uffd-unit-tests/events on hugetlb-private']
        self.assertEqual((bad.status, bad.why), (
            Status.FAIL, 'UFFDIO_COPY error: -17 (errno=17, '
            '@uffd-common.c:617)'))
        self.assertIn('1 group runs repeated', out['uffd-unit-tests'].why)
        self.assertNotIn('uffd-unit-tests/events on hugetlb #2', out)

    def test_skip_status_and_tap_skip(self):
        run = vmtest_parse.parse(
            'VMTEST log thuge-gen\n| TAP version 13\n| ok 1 x # SKIP no 1G'
            '\nVMTEST endlog thuge-gen\nVMTEST test thuge-gen skip exit 4\n')
        out = {x.name: x for x in vmtest_parse.tests(run)}
        self.assertIs(out['thuge-gen'].status, Status.SKIP)
        self.assertEqual((out['thuge-gen/x'].status, out['thuge-gen/x'].why),
                         (Status.SKIP, 'no 1G'))


class WritebackTest(unittest.TestCase):
    def test_documented_truncation(self):
        self.assertEqual(vmtest_wb.shown('/a/b/c'), '/a/b/c')
        self.assertEqual(len(SHOWN), 255)
        self.assertEqual(vmtest_wb.shown(LONG), SHOWN)
        self.assertEqual(vmtest_wb.shown('/' + 'x' * 254), '/' + 'x' * 254)

    def run_wb(self, kernel, c_lines, long_lines):
        run = vmtest_parse.parse(records(c_lines=c_lines,
                                         long_lines=long_lines))
        return {t.name: t for t in vmtest_wb.wb_tests(run, kernel)}

    def test_patched_passes_with_path_and_ino(self):
        got = self.run_wb('patched', [wb_line('writeback_start', 41,
                                              '/a/b/c')],
                          [wb_line('writeback_written', 57, SHOWN)])
        self.assertEqual({t.status for t in got.values()}, {Status.PASS})
        self.assertIn('writeback_start', got['writeback/text/c'].why)

    def test_patched_fails_on_wrong_path_ino_or_none(self):
        for c_lines in ([wb_line('writeback_start', 41, '/a/b')],
                        [wb_line('writeback_start', 41)],
                        [wb_line('writeback_start', 41, '/a/b/c'),
                         wb_line('writeback_exec', 40, '/a/b/c')],
                        []):
            got = self.run_wb('patched', c_lines,
                              [wb_line('writeback_written', 57, SHOWN)])
            self.assertIs(got['writeback/text/c'].status, Status.FAIL,
                          c_lines)
            self.assertIs(got['writeback/text/long'].status, Status.PASS)
        # The untruncated long path is not the documented form.
        got = self.run_wb('patched', [], [wb_line('writeback_written', 57,
                                                  LONG)])
        self.assertIs(got['writeback/text/long'].status, Status.FAIL)

    def test_foreign_events_never_had_the_field(self):
        got = self.run_wb('patched', [wb_line('writeback_start', 41,
                                              '/a/b/c'),
                                      wb_line('flush_foreign', 41)], [])
        self.assertIs(got['writeback/text/c'].status, Status.PASS)

    def test_base_wants_ino_and_no_field(self):
        got = self.run_wb('base', [wb_line('writeback_start', 41)],
                          [wb_line('writeback_start', 57)])
        self.assertEqual({t.status for t in got.values()}, {Status.PASS})
        got = self.run_wb('base', [wb_line('writeback_start', 41, '/a/b/c')],
                          [wb_line('writeback_start', 57)])
        self.assertIs(got['writeback/text/c'].status, Status.FAIL)

    def test_missing_source_is_an_error(self):
        run = vmtest_parse.parse('VMTEST ino c 41 /a/b/c\n')
        got = {t.name: t for t in vmtest_wb.wb_tests(run, 'patched')}
        self.assertIs(got['writeback/text/c'].status, Status.ERROR)
        self.assertIs(got['writeback/text/long'].status, Status.ERROR)


def T(name, status):
    return Test(name, status)


class VerdictTest(unittest.TestCase):
    def test_rules(self):
        P, F, S = Status.PASS, Status.FAIL, Status.SKIP
        v = vmtest_verdict.verdict
        self.assertEqual(v(T('a', P), T('a', F)), vmtest_verdict.REGRESSION)
        self.assertEqual(v(T('a', F), T('a', F)), vmtest_verdict.KNOWN)
        self.assertEqual(v(T('a', S), T('a', F)), vmtest_verdict.FAIL)
        self.assertEqual(v(None, T('a', Status.ERROR)), vmtest_verdict.FAIL)
        self.assertEqual(v(T('a', F), T('a', P)), vmtest_verdict.OK)
        self.assertEqual(v(T('a', P), None), vmtest_verdict.FAIL)
        self.assertEqual(v(T('a', S), None), vmtest_verdict.OK)

    def test_row_fails_only_on_regressions(self):
        r = vmtest_report.RowVm('x86_64', 'x86_64',
                                patched=[T('a', Status.PASS),
                                         T('b', Status.FAIL)],
                                base=[T('a', Status.PASS),
                                      T('b', Status.FAIL)])
        self.assertTrue(r.passed)
        r.base[0].status = Status.PASS
        r.patched[0].status = Status.FAIL
        self.assertFalse(r.passed)
        self.assertFalse(vmtest_report.RowVm('r', 'x86_64').passed)

    def test_console_splat_and_unfinished_boot(self):
        boot = Boot('[ 1.0] BUG: sleeping function called from invalid '
                    'context at kernel/locking/spinlock_rt.c:48\n', '',
                    9.0, True)
        end, scan = vmtest_verdict.host_tests(boot, False)
        self.assertIs(end.status, Status.ERROR)
        self.assertIn('timed out', end.why)
        self.assertIs(scan.status, Status.FAIL)
        self.assertIn('sleep-in-atomic', scan.why)


class ReportTest(unittest.TestCase):
    def rows(self):
        return [vmtest_report.RowVm(
            'x86_64', 'x86_64', patched=[T('writeback/text/c', Status.PASS),
                                         T('hugetlb_dio', Status.FAIL)],
            base=[T('writeback/text/c', Status.PASS),
                  T('hugetlb_dio', Status.PASS)])]

    def test_tables(self):
        text = vmtest_report.report(self.rows(), '', False)
        self.assertIn('| x86_64 | 1/1/0 | 2/0/0 | 1 | 0 | FAIL |', text)
        self.assertIn('| hugetlb_dio | PASS | FAIL | REGRESSION |', text)
        short = vmtest_report.report(self.rows(), '', True)
        self.assertNotIn('writeback/text/c', short)

    def test_result_json_round_trip(self):
        with tempfile.TemporaryDirectory() as td:
            f = Path(td) / 'result.json'
            for r in self.rows() + [vmtest_report.RowVm('i386-pae', 'i386')]:
                f.write_text(json.dumps(dataclasses.asdict(r)))
                self.assertEqual(vmtest_report.load(f), r)
            f.write_text('{"row": "x"}')
            self.assertIsNone(vmtest_report.load(f))
            self.assertIsNone(vmtest_report.load(Path(td) / 'none.json'))

    def test_kcidb_validates_with_own_paths(self):
        co = kcidb.Checkout(base='1' * 40, start_time='2026-12-05T17:00:00'
                            '+00:00', tree_name='t')
        rep = vmtest_kcidb.build_report(co, self.rows())
        self.assertEqual(kcidb.validate(rep), [])
        self.assertEqual(len(rep['checkouts']), 2)
        paths_ = {t['path'] for t in rep['tests']}
        self.assertIn('vmtest.writeback.text.c', paths_)
        self.assertEqual(len(rep['tests']), 4)


class BootAndImageTest(unittest.TestCase):
    def test_qemu_command_from_kunits_config(self):
        with tempfile.TemporaryDirectory() as td:
            cfg = Path(td) / vmtest_boot.QEMU_CONFIGS / 'x86_64.py'
            cfg.parent.mkdir(parents=True)
            cfg.write_text("from ..qemu_config import QemuArchParams\n"
                           "QEMU_ARCH = QemuArchParams(linux_arch='x86_64',"
                           " kconfig='', qemu_arch='x86_64', kernel_path="
                           "'arch/x86/boot/bzImage', kernel_command_line="
                           "'console=ttyS0', extra_qemu_params=['-bios', "
                           "'qboot.rom'])\n")
            row = [r for r in rows.load_rows() if r.name == 'x86_64'][0]
            cmd = vmtest_boot.qemu_cmd(Path(td), row, Path('/b'),
                                       Path('/i.cpio'), Path('/o/patched'),
                                       'hugetlb')
        self.assertEqual(cmd[0], 'qemu-system-x86_64')
        self.assertIn('/b/arch/x86/boot/bzImage', cmd)
        self.assertIn('/i.cpio', cmd)
        append = cmd[cmd.index('-append') + 1]
        for want in ('console=ttyS0', 'kunit.enable=0', 'hugepages=16',
                     'vmtest.parts=hugetlb'):
            self.assertIn(want, append)
        self.assertIn('file:/o/patched.records', cmd)
        self.assertEqual(cmd[-2:], ['-m', '3072'])

    def test_a_1g_hstate_for_thuge_gen_on_x86_64(self):
        by = {r.name: r for r in rows.load_rows()}
        for name, want in (('x86_64', 1), ('x86_64-debug', 1),
                           ('x86_64-rt', 1), ('i386-pae', 0)):
            args = ' '.join(vmtest_boot.kernel_args(by[name], 'x', 'all'))
            self.assertEqual(args.split().count('hugepagesz=1G'), want, name)
            with tempfile.TemporaryDirectory() as td:
                cfg = Path(td, vmtest_boot.QEMU_CONFIGS,
                           f'{by[name].arch}.py')
                cfg.parent.mkdir(parents=True)
                cfg.write_text("QEMU_ARCH = QemuArchParams(qemu_arch='x', "
                               "kernel_path='k', kernel_command_line='c')\n")
                cmd = vmtest_boot.qemu_cmd(Path(td), by[name], Path(td),
                                           Path('/i'), Path('/o/p'), 'all')
            # GB pages in the CPU, or the kernel ignores hugepagesz=1G.
            self.assertEqual(cmd.count('-cpu'), want, name)

    def test_ldd_lines(self):
        text = ('\tlinux-vdso.so.1 (0x00007ffd)\n\tlibc.so.6 => /lib/x86_64'
                '-linux-gnu/libc.so.6 (0x00007f)\n\t/lib64/ld-linux-x86-64.'
                'so.2 (0x00007f)\n')
        got = [m.group(1) for m in map(vmtest_image.LDD_RE.search,
                                       text.splitlines()) if m]
        self.assertEqual(got, ['/lib/x86_64-linux-gnu/libc.so.6',
                               '/lib64/ld-linux-x86-64.so.2'])


class RowFieldTest(unittest.TestCase):
    ROW = ('[[row]]\nname = "a"\ndescription = "d"\narch = "{arch}"\n'
           'default = true\nvmtest = true\nkunitconfigs = [{frags}]\n')

    def test_vmtest_rows_list_the_options(self):
        rs = rows.load_rows()
        self.assertEqual({r.name for r in rs if r.vmtest},
                         {'x86_64', 'x86_64-debug', 'x86_64-rt',
                          'i386-pae'})
        for r in rs:
            if r.vmtest:
                self.assertIn(rows.VMTEST_CONFIG, r.kunitconfigs)
        # make test's share: the default row.
        self.assertEqual([r.name for r in rs if r.vmtest_in_test],
                         ['x86_64'])

    def test_bad_vmtest_rows(self):
        base = '"kunit/configs/base.config"'
        for arch, frags, needle in (
                ('x86_64', base, 'vmtest.config'),
                ('um', f'{base}, "{rows.VMTEST_CONFIG}"', 'needs QEMU')):
            with self.assertRaises(rows.RowError) as cm:
                rows.parse_rows(self.ROW.format(arch=arch, frags=frags),
                                known_suites=set())
            self.assertIn(needle, str(cm.exception))
        with self.assertRaises(rows.RowError) as cm:
            rows.parse_rows(self.ROW.format(arch='x86_64', frags=base)
                            .replace('vmtest = true', 'vmtest_in_test = '
                                     'true'), known_suites=set())
        self.assertIn('needs vmtest = true', str(cm.exception))


if __name__ == '__main__':
    unittest.main()
