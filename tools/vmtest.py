#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make vmtest`: tests nobody here wrote, on the patched kernel and the
unpatched base, side by side.

  vmtest.py run [--rows a,b] --tree DIR [--kernels patched,base]
                [--boot-only]      (no build: the kernels as last built)
  vmtest.py report                 the reports again, from every row's
                                   results/vmtest/<row>/result.json

For each row with `vmtest = true` (tools/rows.toml): the initramfs of its
arch (tools/vmtest_image.py), the row's kernel as the matrix builds it
(the build is skipped when the matrix built it already), the unpatched
base built with the same config (tools/vmtest_base.py), each booted once
(tools/vmtest_boot.py) to run the hugetlb selftests of the tree beside the
writeback end-to-end scenario (tools/vmtest/), judged per test
(tools/vmtest_verdict.py) and reported (summary.md, kcidb.json and the
terminal table, tools/vmtest_report.py).  `make test` runs the patched
half (run_vmtest(kernels=('patched',))).  Exit 1 when a row fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import kcidb
import buildlock
import paths
import reports
import rows as rowsmod
import runner
import vmtest_base
import vmtest_boot
import vmtest_image
import vmtest_kcidb
import vmtest_report
from vmtest_report import RowVm
from vmtest_verdict import boot_tests

KERNELS = ('patched', 'base')
PARTS = 'hugetlb,writeback'
BOOT_TIMEOUT = 2400     # s: TCG, KASAN and 60 gup_test runs


def log(msg: str) -> None:
    print(f'vmtest: {msg}', flush=True)


def patched_build(row: rowsmod.Row, tree: Path) -> Path:
    """The row's kernel, built (or not) exactly as the matrix does."""
    out = paths.vmtest_results() / row.name / 'build'
    run = runner.start(row, tree, paths.build_root(), os.cpu_count() or 2,
                       out)
    with buildlock.held(f'vmtest: {row.name} build'):
        final = runner.build(run)
    if final is None or run.res.reasons:
        raise vmtest_base.BaseError(
            f'patched build of row {row.name}: ' +
            '; '.join(r.splitlines()[0] for r in run.res.reasons))
    log(f'[{row.name}] patched kernel: ' + (
        'build skipped (nothing changed)' if run.res.build_skipped else
        f'built in {run.res.build_seconds:.0f}s'))
    return run.build_dir


def boot_one(row: rowsmod.Row, tree: Path, kernel: str, bdir: Path,
             image: Path, res: RowVm) -> None:
    out = paths.vmtest_results() / row.name / kernel
    log(f'[{row.name}] booting the {kernel} kernel')
    boot = vmtest_boot.boot(tree, row, bdir, image, out, PARTS, BOOT_TIMEOUT)
    tests = boot_tests(boot, kernel)
    res.seconds[kernel] = boot.seconds
    if kernel == 'patched':
        res.patched = tests
    else:
        res.base = tests
    bad = sum(t.status.failed for t in tests)
    log(f'[{row.name}] {kernel}: {len(tests)} tests, {bad} failed, '
        f'{boot.seconds:.0f}s')


def built(row: rowsmod.Row, kernel: str) -> Path:
    """--boot-only: the build folder as the last build left it."""
    bdir = paths.build_root() / row.name if kernel == 'patched' else \
        vmtest_base.base_dir() / 'build' / row.name
    if not (bdir / 'vmlinux').exists():
        raise vmtest_base.BaseError(f'--boot-only: no {kernel} kernel of '
                                    f'row {row.name} in {bdir}')
    log(f'[{row.name}] {kernel} kernel: as last built (no build step)')
    return bdir


def kernel_of(row: rowsmod.Row, tree: Path, kernel: str,
              boot_only: bool) -> Path:
    if boot_only:
        return built(row, kernel)
    if kernel == 'patched':
        return patched_build(row, tree)
    t0 = time.monotonic()
    log_file = paths.vmtest_results() / row.name / 'base-build.log'
    bdir = vmtest_base.build(tree, row, log_file)
    skipped = log_file.read_text().startswith(vmtest_base.SKIPPED)
    log(f'[{row.name}] base kernel: ' + (
        'build skipped (nothing changed)' if skipped else
        f'built in {time.monotonic() - t0:.0f}s'))
    return bdir


def run_row(row: rowsmod.Row, tree: Path, kernels: tuple[str, ...],
            boot_only: bool = False) -> RowVm:
    res = RowVm(row.name, row.arch, start_time=dt.datetime.now(
        dt.timezone.utc).isoformat(timespec='seconds'))
    try:
        image = vmtest_image.build_image(tree, row.arch)
        for kernel in kernels:
            bdir = kernel_of(row, tree, kernel, boot_only)
            boot_one(row, tree, kernel, bdir, image, res)
    except (vmtest_image.ImageError, vmtest_base.BaseError) as e:
        res.errors.append(str(e))
        log(f'[{row.name}] {e}')
    return res


def write_reports(results: list[RowVm], tree: Optional[Path]) -> str:
    out = paths.vmtest_results()
    out.mkdir(parents=True, exist_ok=True)
    desc = reports.base_of(tree)[1]
    (out / 'summary.md').write_text(vmtest_report.report(results, desc,
                                                         False))
    report = vmtest_kcidb.build_report(reports.checkout([], tree), results)
    errors = kcidb.validate(report)
    (out / 'kcidb.json').write_text(json.dumps(report, indent=2) + '\n')
    if errors:
        log('kcidb.json does not validate:\n  ' + '\n  '.join(errors[:20]))
    for r in results:
        (out / r.row).mkdir(parents=True, exist_ok=True)
        (out / r.row / 'result.json').write_text(
            json.dumps(asdict(r), indent=1) + '\n')
    return vmtest_report.report(results, desc, True)


def run_vmtest(selected: list[rowsmod.Row], tree: Path,
               kernels: tuple[str, ...] = KERNELS,
               boot_only: bool = False,
               ran: Optional[dict[str, RowVm]] = None) -> list[RowVm]:
    """The vmtest rows among selected; reports written, table printed.
    ran: rows the caller has run already (`make test` runs them beside
    the matrix), which are only reported."""
    t0 = time.monotonic()
    results: list[RowVm] = []
    for row in selected:
        if row.vmtest:
            # Reports after each row: an interrupted run keeps the rows
            # that finished.
            done = (ran or {}).get(row.name)
            results.append(done or run_row(row, tree, kernels, boot_only))
            table = write_reports(results, tree)
    print(table if results else '')
    ok = all(r.passed for r in results)
    early = sum(r.row in (ran or {}) for r in results)
    log(f'{len(results)} rows in {time.monotonic() - t0:.0f}s' +
        (f' ({early} booted beside the matrix, timed above)'
         if early else '') + '; results in '
        f'{paths.vmtest_results()}; verdict {"PASS" if ok else "FAIL"}')
    return results


def report_all() -> int:
    """`vmtest.py report`: the reports over every vmtest row that has a
    result.json, whichever run wrote it (each row's start_time says)."""
    results = [r for r in (vmtest_report.load(paths.vmtest_results() /
                                              row.name / 'result.json')
                           for row in rowsmod.load_rows() if row.vmtest)
               if r is not None]
    if not results:
        print(f'vmtest: error: no result.json under '
              f'{paths.vmtest_results()}', file=sys.stderr)
        return 2
    print(write_reports(results, None))
    return 0 if all(r.passed for r in results) else 1


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--rows', default=os.environ.get('ROWS', ''))
    r.add_argument('--tree', required=True, help='prepared kernel tree')
    r.add_argument('--kernels', default=','.join(KERNELS))
    r.add_argument('--boot-only', action='store_true',
                   help='boot the kernels the last builds left (no build)')
    sub.add_parser('report', help='rewrite summary.md and kcidb.json from '
                   'every row\'s result.json (rows of earlier runs too)')
    args = ap.parse_args(argv)
    if args.cmd == 'report':
        return report_all()
    kernels = tuple(k for k in args.kernels.split(',') if k)
    if not kernels or set(kernels) - set(KERNELS):
        ap.error(f'--kernels: a list of {", ".join(KERNELS)}')
    try:
        selected = rowsmod.select(rowsmod.load_rows(), args.rows)
    except rowsmod.RowError as e:
        print(f'vmtest: error: {e}', file=sys.stderr)
        return 2
    if not any(r.vmtest for r in selected):
        print('vmtest: error: none of the rows has vmtest = true',
              file=sys.stderr)
        return 2
    try:
        results = run_vmtest(selected, Path(args.tree).resolve(), kernels,
                             args.boot_only)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print('vmtest: interrupted (QEMU and kunit.py stopped); reports of '
              f'the rows that finished are in {paths.vmtest_results()}; the '
              'next run resumes an interrupted build where make left it',
              file=sys.stderr, flush=True)
        return 130
    return 0 if all(r.passed for r in results) else 1


if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.exit(main())
