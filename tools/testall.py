#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make check` and `make test`.

check: checkpatch --strict on every patch, the series applies to the
       pristine base with git am, generated patches and .kunitconfig are in
       sync with kunit/ and tools/rows.toml.
all:   the tools' own unit tests + check + every matrix row + a smoke of
       the hugetlb fault benchmark (tools/bench_fault.py) on the x86_64
       row's kernel + the patched half of `make vmtest` on the rows with
       vmtest_in_test = true (their kernels are the matrix's: each boots
       in a worker thread once the matrix has built it, beside the next
       rows' builds).

Ends with "N passed, N failed, N skipped" (KUnit cases, tool tests and
checks) and exits non-zero on any failure.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import unittest
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Iterator, Optional

import bench_fault
import matrix
import paths
import rows as rowsmod
import runner
import series
import tree as treemod
import vmtest
from paths import SeriesError
from results import Status
from vmtest_report import RowVm


class Tally:
    def __init__(self) -> None:
        self.passed = self.failed = self.skipped = 0
        self.failures: list[str] = []
        self.phase = 'start'      # what a Ctrl-C interrupts

    def check(self, name: str, ok: bool, detail: str = '') -> bool:
        if ok:
            self.passed += 1
            print(f'check: {name}: ok', flush=True)
        else:
            self.failed += 1
            self.failures.append(name)
            print(f'check: {name}: FAIL{": " + detail if detail else ""}',
                  flush=True)
        return ok


def run_unit(t: Tally) -> None:
    t0 = time.monotonic()
    suite = unittest.defaultTestLoader.discover(str(paths.TOOLS / 'tests'),
                                                top_level_dir=str(paths.TOOLS))
    stream = io.StringIO()
    # The tests drive the Ctrl-C paths (matrix.interrupted(), the CLIs'
    # handlers) in this process, and those leave SIGINT ignored: a Ctrl-C
    # of `make test` then stopped nothing, not even the matrix.
    handler = signal.getsignal(signal.SIGINT)
    try:
        res = unittest.TextTestRunner(stream=stream, verbosity=1).run(suite)
    finally:
        signal.signal(signal.SIGINT, handler)
    sys.stdout.write(stream.getvalue())
    bad = len(res.failures) + len(res.errors)
    t.passed += res.testsRun - bad - len(res.skipped)
    t.failed += bad
    t.skipped += len(res.skipped)
    if bad:
        t.failures.append(f'{bad} tool unit test(s)')
    print(f'unit: {res.testsRun} tool tests in {time.monotonic() - t0:.1f}s, '
          f'{bad} failed, {len(res.skipped)} skipped', flush=True)


def check_rows(t: Tally) -> None:
    try:
        rows = rowsmod.load_rows()
        t.check('rows file', True)
        want = rowsmod.kunitconfig_text(rowsmod.default_row(rows))
        have = paths.KUNITCONFIG.read_text() \
            if paths.KUNITCONFIG.exists() else ''
        t.check('.kunitconfig matches the default row', want == have,
                'run `make gen`')
    except rowsmod.RowError as e:
        t.check('rows file', False, str(e))


# The type checker Debian ships (python3-mypy) is a module of Debian's
# python3, which may not be the python3 first on PATH.
MYPY = ['/usr/bin/python3', '-m', 'mypy']


def check_types(t: Tally) -> None:
    """mypy --strict on tools/ (the tests excluded, as kunit_tool does)."""
    res = subprocess.run([*MYPY, '--config-file',
                          str(paths.TOOLS / 'mypy.ini'), str(paths.TOOLS)],
                         capture_output=True, text=True, cwd=paths.REPO)
    detail = (res.stdout + res.stderr).strip()
    if 'No module named mypy' in detail:
        detail = 'mypy is missing: `make setup` installs python3-mypy'
    t.check('mypy --strict tools/', res.returncode == 0, detail)


def run_check(t: Tally, survival: bool = True) -> None:
    t0 = time.monotonic()
    try:
        names = paths.patches()
        t.check('series file', True)
    except SeriesError as e:
        t.check('series file', False, str(e))
        return
    check_rows(t)
    check_types(t)
    try:
        base_tree, _ = treemod.ensure_debian_base()
    except SeriesError as e:
        t.check('pristine base', False, str(e))
        return
    env = paths.testenv_names()
    for n in [*names, *env]:
        ok, out = series.checkpatch_one(base_tree, n)
        t.check(f'checkpatch --strict {n}', ok, out)
    try:
        prepared = treemod.prepare(None)
        t.check(f'series ({len(names)} files) and {len(env)} '
                f'test-environment fix(es) apply to the pristine base '
                f'with git am', True)
    except SeriesError as e:
        t.check('series applies to the pristine base', False, str(e))
        return
    if not survival:
        # `make test`: every row's build checks its own options (kunit.py
        # and the runner), so a separate olddefconfig per row is a minute
        # of CI time spent twice.
        print('check: config survival: checked by each matrix row\'s '
              'build', flush=True)
    for r in rowsmod.load_rows() if survival else []:
        bad = runner.config_check(r, prepared)
        t.check(f'row {r.name}: requested options survive olddefconfig, '
                f'expectations agree with the config',
                not bad, '; '.join(bad))
    try:
        series.check_sync()
        t.check('generated patches in sync with kunit/', True)
    except SeriesError as e:
        t.check('generated patches in sync with kunit/', False, str(e))
    print(f'check: done in {time.monotonic() - t0:.0f}s', flush=True)


class Beside:
    """`make test`'s vmtest rows, each started in a worker thread as soon
    as the matrix has built the row's kernel, beside the next rows' builds
    instead of after the last one.  On the 2-core machine its boot took
    190 s alone (152 s of CPU); in a cold `make test` it took 334 s beside
    the next build, which took 519 s instead of about 345 s: a net gain of
    about a minute against the 226 s it cost after the last row.  A row
    whose build failed never starts here: run_vmtest() runs it and
    reports the build."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(max_workers=1,
                                       thread_name_prefix='vmtest')
        self.futures: dict[str, Future[RowVm]] = {}

    def start(self, row: rowsmod.Row, tree: Path) -> None:
        if row.vmtest and row.vmtest_in_test:
            self.futures[row.name] = self.pool.submit(
                vmtest.run_row, row, tree, ('patched',), True)

    def results(self) -> dict[str, RowVm]:
        """Wait in 1-s steps, so that a Ctrl-C is handled within a
        second whichever thread the kernel delivers it to."""
        done = {}
        for name, f in self.futures.items():
            while name not in done:
                try:
                    done[name] = f.result(timeout=1)
                except FutureTimeout:
                    pass
        self.pool.shutdown()
        return done

    def stop(self) -> None:
        """Ctrl-C: end the boot (its QEMU runs in its own session)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        runner.kill_all()


def run_matrix(t: Tally, beside: Optional[Beside] = None) -> None:
    t.phase = 'prepare (applying the series)'
    prepared = treemod.prepare(os.environ.get('KERNEL_SRC') or None)
    t.phase = 'the matrix'
    selected = rowsmod.select(rowsmod.load_rows(), os.environ.get('ROWS', ''))
    on_built = (lambda row: beside.start(row, prepared)) if beside else None
    for r in matrix.run_matrix(selected, prepared, on_built=on_built):
        total = r.totals()
        t.passed += total.passed
        t.skipped += total.skipped
        t.failed += total.failed + total.errors
        if not r.passed:
            t.failures.append(f'row {r.row}: ' + '; '.join(
                x.splitlines()[0] for x in r.reasons))


def run_fault_smoke(t: Tally) -> None:
    """The user-space fault benchmark, a few faults per test, on the
    x86_64 row's kernel the matrix has just built: it still builds,
    boots and prints every figure.  No kernel build; a few seconds of
    QEMU."""
    selected = rowsmod.select(rowsmod.load_rows(), os.environ.get('ROWS', ''))
    if bench_fault.ROW not in {r.name for r in selected}:
        print(f'check: bench fault smoke: skipped (row {bench_fault.ROW} '
              f'not selected)', flush=True)
        t.skipped += 1
        return
    t.phase = 'the fault benchmark smoke'
    t0 = time.monotonic()
    ok, detail = bench_fault.smoke()
    t.check(f'bench fault smoke ({time.monotonic() - t0:.0f}s)', ok, detail)


def run_vmtest(t: Tally, beside: Optional[Beside] = None) -> None:
    """The patched half of `make vmtest`: the rows `beside` ran, and
    any other (ROWS=..., `make test vmtest` or a failed build)."""
    t.phase = 'vmtest (the patched kernels)'
    prepared = treemod.prepare(os.environ.get('KERNEL_SRC') or None)
    selected = [r for r in rowsmod.select(rowsmod.load_rows(),
                                          os.environ.get('ROWS', ''))
                if r.vmtest_in_test]
    ran = beside.results() if beside else {}
    results = vmtest.run_vmtest(selected, prepared, ('patched',), ran=ran)
    for r in results:
        for line in r.lines():
            st = line.patched.status if line.patched else Status.ERROR
            t.passed += st is Status.PASS
            t.skipped += st is Status.SKIP
            t.failed += line.fails_run
        if not r.passed:
            t.failures.append(f'vmtest row {r.row}: ' + '; '.join(
                r.errors + [x.name for x in r.lines() if x.fails_run][:10]))


@contextlib.contextmanager
def no_build_lock() -> Iterator[None]:
    """Like the matrix, the vmtest boots take no kernel build lock of
    their own here: a shared machine wraps `make test` in flock
    (KBUILD_LOCK= tells vmtest.py not to take it again)."""
    old = os.environ.get('KBUILD_LOCK')
    os.environ['KBUILD_LOCK'] = ''
    try:
        yield
    finally:
        if old is None:
            del os.environ['KBUILD_LOCK']
        else:
            os.environ['KBUILD_LOCK'] = old


def run_phases(t: Tally, what: str) -> None:
    if what in ('all', 'unit'):
        t.phase = 'the tool unit tests'
        run_unit(t)
    if what in ('all', 'check'):
        t.phase = 'make check'
        run_check(t, survival=what == 'check')
    beside = Beside() if what == 'all' else None
    with no_build_lock():
        try:
            if what in ('all', 'matrix'):
                run_matrix(t, beside)
            if what == 'all':
                run_fault_smoke(t)
            if what in ('all', 'vmtest'):
                run_vmtest(t, beside)
        except KeyboardInterrupt:
            if beside:
                beside.stop()
            raise


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else 'all'
    t = Tally()
    t0 = time.monotonic()
    try:
        run_phases(t, what)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(f'\n{what}: interrupted during {t.phase} after '
              f'{time.monotonic() - t0:.0f}s; so far {t.passed} passed, '
              f'{t.failed} failed, {t.skipped} skipped', file=sys.stderr)
        return 130
    print()
    for f in t.failures:
        print(f'FAILED: {f}')
    print(f'{what}: finished in {time.monotonic() - t0:.0f}s')
    print(f'{t.passed} passed, {t.failed} failed, {t.skipped} skipped')
    return 1 if t.failed else 0


if __name__ == '__main__':
    signal.signal(signal.SIGINT, matrix.on_sigint)
    sys.exit(main(sys.argv))
