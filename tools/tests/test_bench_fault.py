# SPDX-License-Identifier: GPL-2.0
"""`make bench BENCH=fault`: the guest's lines parsed from a console, the
table and ratios, the two kernels' configs, the QEMU command, the
initramfs, and `make test`'s smoke."""

import os
import stat
import subprocess
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import bench_fault
import initramfs
import paths
import rows
import suites
from bench_fault import Params, Sample

# A split kernel's boot: the KUnit case, then init's lines, as the serial
# console has them (printk time and KTAP indentation on the kernel's).
CONSOLE = '''\
[    2.100000] KTAP version 1
[    2.100001] 1..1
[    2.100002]     # Subtest: hugetlb_ptlock_bench
[    2.600000]         # hugetlb_ptlock_bench_lock_rate: threads=1 split=1 \
sample=0 ms=500 acquisitions=5000000 per_s=10000000
[    2.600001]         ok 1 1 threads
[    3.100000]         # hugetlb_ptlock_bench_lock_rate: threads=2 split=1 \
sample=0 ms=500 acquisitions=9000000 per_s=18000000
[    3.100001]         ok 2 2 threads
[    3.100002]     ok 1 hugetlb_ptlock_bench
[    3.200000] Run /init as init process
fault_bench: start cpus=2 iters=4 pages=4 touches=2 rounds=1
fault_bench: test=mmap threads=1 faults=4 wall_ns=40000000 faults_per_s=100
fault_bench: test=mmap threads=2 faults=8 wall_ns=50000000 faults_per_s=160
fault_bench: test=dontneed threads=1 faults=4 wall_ns=20000000 \
faults_per_s=200
fault_bench: test=dontneed threads=2 error=Cannot allocate memory
fault_bench: test=touch2013 threads=1 faults=4 wall_ns=10000000 \
faults_per_s=400
fault_bench: done status=error
'''


def sample(variant, test, threads, rate, part='user'):
    return Sample(variant, part, test, threads, rate, 1.0)


class Parse(unittest.TestCase):
    def test_kernel_and_user_lines(self):
        b = bench_fault.parse(CONSOLE, 'split')
        self.assertEqual(b.samples[0], Sample('split', 'kernel', 'lock', 1,
                                              10000000.0))
        self.assertEqual(b.samples[1].rate, 18000000.0)
        self.assertEqual(b.samples[2], Sample('split', 'user', 'mmap', 1,
                                              100.0, 0.04))
        self.assertEqual(len(b.samples), 6)

    def test_errors_are_kept_and_done_needs_ok(self):
        b = bench_fault.parse(CONSOLE, 'split')
        self.assertFalse(b.done)
        self.assertIn('dontneed threads=2: Cannot allocate memory', b.errors)
        self.assertTrue(any('did not finish' in e for e in b.errors))
        ok = bench_fault.parse(CONSOLE.replace('status=error', 'status=ok')
                               .replace('threads=2 error', 'threads=2 '
                                        'errorx'), 'split')
        self.assertTrue(ok.done)

    def test_a_kernel_of_the_wrong_kind_is_an_error(self):
        b = bench_fault.parse(CONSOLE, 'unsplit')
        self.assertIn('unsplit kernel reports split=1', b.errors)

    def test_failed_kunit_case_is_an_error(self):
        b = bench_fault.parse(CONSOLE.replace('ok 1 hugetlb_ptlock_bench',
                                              'not ok 1 hugetlb_ptlock_bench'),
                              'split')
        self.assertIn('KUnit: not ok hugetlb_ptlock_bench', b.errors)


class Table(unittest.TestCase):
    def test_median_min_max_and_ratio(self):
        ss = [sample('split', 'mmap', 2, r) for r in (10, 30, 20)] + \
             [sample('unsplit', 'mmap', 2, r) for r in (5, 10, 15)]
        line = [x for x in bench_fault.table(ss) if 'munmap' in x][0]
        self.assertIn('| 2 | 20 | 10 | 30 | 1.00 | 10 | 5 | 15 | 1.00 | '
                      '2.00 | 3/3 |', line)

    def test_kernel_rows_first_and_one_row_per_thread_count(self):
        ss = [sample('split', 'lock', t, 100, 'kernel') for t in (1, 2)] + \
             [sample('unsplit', 'dontneed', 1, 7)]
        lines = bench_fault.table(ss)[2:]
        self.assertEqual(len(lines), 3)
        self.assertIn('huge_pte_lock()', lines[0])
        self.assertIn('| - | - | - | - | - |', lines[0])   # no unsplit
        self.assertIn('| 1 | - | - | - | - | 7 |', lines[2])

    def test_report_states_the_parameters_and_the_diff(self):
        res = bench_fault.Result([sample('split', 'mmap', 1, 1)], ['x'],
                                 ['CONFIG_NR_CPUS: 8 -> 2'], Params())
        text = bench_fault.report(res, 'a machine')
        self.assertTrue(text.startswith('# hugetlb fault and PT lock '))
        self.assertIn('CONFIG_NR_CPUS: 8 -> 2', text)
        self.assertIn('5 boots of each kernel', text)
        self.assertIn('Errors: x', text)


class Kernels(unittest.TestCase):
    def test_unsplit_differs_only_in_nr_cpus(self):
        row = rows.select(rows.load_rows(), bench_fault.ROW)[0]
        a = rows.parse_config(bench_fault.variant_config(row, 'split'))
        b = rows.parse_config(bench_fault.variant_config(row, 'unsplit'))
        self.assertEqual(bench_fault.config_diff(a, b),
                         ['CONFIG_NR_CPUS: 8 -> 2'])
        self.assertEqual(a['CONFIG_HUGETLB_PTLOCK_BENCH_KUNIT'], 'y')
        self.assertEqual(a['CONFIG_BLK_DEV_INITRD'], 'y')
        for s in suites.load_suites().values():
            self.assertEqual(a[s.config], 'n')

    def test_config_diff_counts_absent_as_n(self):
        self.assertEqual(bench_fault.config_diff(
            {'CONFIG_A': 'y', 'CONFIG_B': 'n'}, {'CONFIG_C': 'n'}),
            ['CONFIG_A: y -> n'])

    def test_spec_is_not_a_suite_of_the_series(self):
        spec = bench_fault.load_spec(paths.BENCH_FAULT_TOML)
        self.assertEqual(spec.name, 'hugetlb_ptlock_bench')
        self.assertNotIn(spec.name, suites.suite_names())
        self.assertNotIn(spec.config, paths.KUNITCONFIG.read_text())
        texts = {'mm/Kconfig': 'source "mm/damon/Kconfig"\n',
                 'mm/Makefile': 'obj-$(CONFIG_HUGETLBFS)\t+= hugetlb.o\n'}
        for e in spec.edits:
            texts[e['file']] = suites.apply_edit(texts[e['file']], e, 'x')
        self.assertIn('config HUGETLB_PTLOCK_BENCH_KUNIT\n',
                      texts['mm/Kconfig'])
        self.assertIn('hugetlb_ptlock_bench.o', texts['mm/Makefile'])


class Qemu(unittest.TestCase):
    def row(self):
        return rows.select(rows.load_rows(), bench_fault.ROW)[0]

    def test_vcpus_and_accel_replace_the_rows(self):
        cmd = bench_fault.qemu_cmd(Path('bz'), Path('rd'), self.row(),
                                   Params(vcpus=16, accel='kvm'), True)
        self.assertEqual(cmd.count('-smp'), 1)
        self.assertEqual(cmd[cmd.index('-smp') + 1], '16')
        self.assertEqual(cmd[cmd.index('-accel') + 1], 'kvm')
        self.assertIn('-cpu', cmd)
        self.assertEqual(cmd[cmd.index('-initrd') + 1], 'rd')

    def test_cmdline_lets_init_run(self):
        line = bench_fault.cmdline(Params(vcpus=4), kunit=True)
        self.assertNotIn('kunit_shutdown', line)
        self.assertIn('kunit.filter_glob=hugetlb_ptlock_bench', line)
        self.assertIn('fault_maxthreads=4', line)
        self.assertIn(f'hugepages={Params(vcpus=4).hugepages()}', line)
        self.assertIn('kunit.enable=0',
                      bench_fault.cmdline(Params(), kunit=False))

    def test_auto_accel(self):
        with mock.patch.object(bench_fault.os, 'access', return_value=True):
            self.assertEqual(bench_fault.accel('auto'), 'kvm')
        with mock.patch.object(bench_fault.os, 'access', return_value=False):
            self.assertEqual(bench_fault.accel('auto'), 'tcg,thread=multi')
        self.assertEqual(bench_fault.accel('tcg'), 'tcg')

    def test_kvm_is_probed_before_use(self):
        # /dev/kvm opening is not enough (nested KVM, see SMOKE): 'auto'
        # boots the probe and takes TCG when it gives no figure.
        row, rd = self.row(), Path('rd')
        with tempfile.TemporaryDirectory() as td, \
                mock.patch.dict(os.environ, {'WORK': td}), \
                mock.patch.object(bench_fault.os, 'access',
                                  return_value=True), \
                mock.patch.object(bench_fault, 'boot') as boot:
            boot.return_value = bench_fault.Boot(errors=['timed out'])
            got = bench_fault.resolve_accel(Params(), row, rd)
            self.assertEqual(got.accel, bench_fault.TCG)
            boot.return_value = bench_fault.Boot(done=True)
            got = bench_fault.resolve_accel(Params(), row, rd)
            self.assertEqual(got.accel, 'kvm')
            cmd = boot.call_args.args[0]
            self.assertEqual(cmd[cmd.index('-accel') + 1], 'kvm')
            boot.reset_mock()
            got = bench_fault.resolve_accel(Params(accel='tcg'), row, rd)
            self.assertEqual(got.accel, 'tcg')
            boot.assert_not_called()

    def test_smoke_runs_on_tcg(self):
        self.assertEqual(bench_fault.accel(bench_fault.SMOKE.accel),
                         bench_fault.TCG)

    def test_thread_counts(self):
        self.assertEqual(bench_fault.thread_counts(1), [1])
        self.assertEqual(bench_fault.thread_counts(6), [1, 2, 4])

    def test_smoke_without_a_built_kernel_fails_with_a_reason(self):
        with tempfile.TemporaryDirectory() as td, \
                mock.patch.dict(os.environ, {'WORK': td}):
            ok, detail = bench_fault.smoke()
        self.assertFalse(ok)
        self.assertIn('missing', detail)


class Cpio(unittest.TestCase):
    def test_newc_layout(self):
        data = initramfs.newc(initramfs.entries_for(b'\x7fELF12345'))
        self.assertEqual(len(data) % 4, 0)
        self.assertTrue(data.startswith(b'070701'))
        self.assertIn(b'dev/console\0', data)
        self.assertIn(b'TRAILER!!!\0', data)
        # the init entry: mode 0100755, size 9, then name and data
        i = data.index(b'init\0')
        hdr = data[i - 110:i]
        self.assertEqual(int(hdr[14:22], 16), stat.S_IFREG | 0o755)
        self.assertEqual(int(hdr[54:62], 16), 9)
        # 110-byte header + 'init\0', padded to 4: the data at i + 6
        self.assertEqual(data[i + 6:i + 15], b'\x7fELF12345')

    def test_cpio_tool_reads_it(self):
        cpio = subprocess.run(['which', 'cpio'], capture_output=True)
        if cpio.returncode != 0:
            self.skipTest('no cpio(1)')
        data = initramfs.newc(initramfs.entries_for(b'#!x\n'))
        out = subprocess.run(['cpio', '-t', '-v'], input=data,
                             capture_output=True).stdout.decode()
        self.assertIn('dev/console', out)
        self.assertRegex(out, r'crw-------.*5,\s+1.*dev/console')
        self.assertRegex(out, r'-rwxr-xr-x.*init')


class Reuse(unittest.TestCase):
    def test_built_needs_both_kernels(self):
        with tempfile.TemporaryDirectory() as td, \
                mock.patch.dict(os.environ, {'WORK': td}):
            self.assertEqual(bench_fault.built(), {})
            for v, n in (('split', '8'), ('unsplit', '2')):
                d = bench_fault.build_dir(v)
                (d / 'arch/x86/boot').mkdir(parents=True)
                (d / '.config').write_text(f'CONFIG_NR_CPUS={n}\n')
                if v == 'split':
                    self.assertEqual(bench_fault.built(), {})
                (d / bench_fault.KERNEL_IMAGE).write_bytes(b'')
            got = bench_fault.built()
        self.assertEqual(got['unsplit'], {'CONFIG_NR_CPUS': '2'})


class MakeTest(unittest.TestCase):
    def test_smoke_is_skipped_without_the_x86_64_row(self):
        import testall
        t = testall.Tally()
        with mock.patch.dict(os.environ, {'ROWS': 'um'}), \
                mock.patch.object(bench_fault, 'smoke') as smoke:
            testall.run_fault_smoke(t)
        smoke.assert_not_called()
        self.assertEqual((t.passed, t.failed, t.skipped), (0, 0, 1))

    def test_smoke_result_is_one_check(self):
        import testall
        t = testall.Tally()
        with mock.patch.dict(os.environ, {'ROWS': 'x86_64'}), \
                mock.patch.object(bench_fault, 'smoke',
                                  return_value=(False, 'no figure')):
            testall.run_fault_smoke(t)
        self.assertEqual((t.passed, t.failed), (0, 1))
        self.assertTrue(t.failures[0].startswith('bench fault smoke'))
