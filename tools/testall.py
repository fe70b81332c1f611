#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make check` and `make test`.

check: checkpatch --strict on every patch, the series applies to the
       pristine base with git am, generated patches and .kunitconfig are in
       sync with kunit/ and tools/rows.toml.
all:   the tools' own unit tests + check + every matrix row.

Ends with "N passed, N failed, N skipped" (KUnit cases, tool tests and
checks) and exits non-zero on any failure.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
import kpatch  # noqa: E402
import rows as rowsmod  # noqa: E402
import matrix  # noqa: E402


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
    suite = unittest.defaultTestLoader.discover(str(HERE / 'tests'),
                                                top_level_dir=str(REPO))
    stream = io.StringIO()
    res = unittest.TextTestRunner(stream=stream, verbosity=1).run(suite)
    sys.stdout.write(stream.getvalue())
    bad = len(res.failures) + len(res.errors)
    t.passed += res.testsRun - bad - len(res.skipped)
    t.failed += bad
    t.skipped += len(res.skipped)
    if bad:
        t.failures.append(f'{bad} tool unit test(s)')
    print(f'unit: {res.testsRun} tool tests in {time.monotonic() - t0:.1f}s, '
          f'{bad} failed, {len(res.skipped)} skipped', flush=True)


def run_check(t: Tally, survival: bool = True) -> None:
    t0 = time.monotonic()
    try:
        names = kpatch.read_series()
        t.check('series file', True)
    except kpatch.KpatchError as e:
        t.check('series file', False, str(e))
        return
    try:
        rows = rowsmod.load_rows()
        t.check('rows file', True)
        want = rowsmod.kunitconfig_text(rowsmod.default_row(rows))
        have = (REPO / '.kunitconfig').read_text() \
            if (REPO / '.kunitconfig').exists() else ''
        t.check('.kunitconfig matches the default row', want == have,
                'run `make gen`')
    except rowsmod.RowError as e:
        t.check('rows file', False, str(e))
    try:
        tree, _ = kpatch.ensure_debian_base()
    except kpatch.KpatchError as e:
        t.check('pristine base', False, str(e))
        return
    for n in names:
        if n == kpatch.COVER:
            continue
        ok, out = kpatch.checkpatch_one(tree, n)
        t.check(f'checkpatch --strict {n}', ok, out)
    try:
        kpatch.prepare(None)
        t.check(f'series ({len(names)} files) applies to the pristine base '
                f'with git am', True)
    except kpatch.KpatchError as e:
        t.check('series applies to the pristine base', False, str(e))
    tree = kpatch.prepare(None)
    if not survival:
        # `make test`: every row's build checks its own options (kunit.py
        # and the runner), so a separate olddefconfig per row is a minute
        # of CI time spent twice.
        print('check: config survival: checked by each matrix row\'s '
              'build', flush=True)
    for r in rowsmod.load_rows() if survival else []:
        bad = matrix.config_check(r, tree)
        t.check(f'row {r.name}: requested options survive olddefconfig, '
                f'expectations agree with the config',
                not bad, '; '.join(bad))
    try:
        kpatch.check_sync()
        t.check('generated patches in sync with kunit/', True)
    except kpatch.KpatchError as e:
        t.check('generated patches in sync with kunit/', False, str(e))
    print(f'check: done in {time.monotonic() - t0:.0f}s', flush=True)


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    """Pass a Ctrl-C on until the child has cleaned up and exited.

    A terminal's Ctrl-C reaches the child too, `kill -INT` of this process
    does not; the child ignores all but the first, so repeating is safe.
    """
    for _ in range(60):
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=1)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.kill()
    proc.wait()


def run_child(cmd: list[str]) -> int:
    """Run cmd; on Ctrl-C let it finish its cleanup, then unwind.

    The child starts with SIGINT ignored, so a Ctrl-C while it is still
    importing cannot end it in a traceback; matrix.py installs its own
    handler first thing.
    """
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(cmd)
    finally:
        signal.signal(signal.SIGINT, old)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        stop_child(proc)
        raise
    if rc == 130:              # the child was interrupted, and said where
        raise KeyboardInterrupt
    return rc


def run_matrix(t: Tally) -> None:
    t.phase = 'prepare (applying the series)'
    tree = kpatch.prepare(os.environ.get('KERNEL_SRC') or None)
    t.phase = 'the matrix'
    rc = run_child([sys.executable, str(HERE / 'matrix.py'), 'run',
                    '--tree', str(tree),
                    '--rows', os.environ.get('ROWS', '')])
    rows = rowsmod.select(rowsmod.load_rows(), os.environ.get('ROWS', ''))
    results = Path(os.environ.get('RESULTS') or REPO / 'results')
    for r in rows:
        path = results / r.name / 'result.json'
        if not path.exists():
            t.check(f'matrix row {r.name}', False, 'no result')
            continue
        d = json.loads(path.read_text())
        for c in d['cases']:
            if c['status'] == 'PASS':
                t.passed += 1
            elif c['status'] == 'SKIP':
                t.skipped += 1
            else:
                t.failed += 1
        if d['verdict'] != 'pass':
            t.failed += 1
            t.failures.append(f'row {r.name}: ' + '; '.join(
                x.splitlines()[0] for x in d['reasons']))
    if rc not in (0, 1):
        t.check('matrix runner', False, f'exit {rc}')


def run_phases(t: Tally, what: str) -> None:
    if what in ('all', 'unit'):
        t.phase = 'the tool unit tests'
        run_unit(t)
    if what in ('all', 'check'):
        t.phase = 'make check'
        run_check(t, survival=what == 'check')
    if what in ('all', 'matrix'):
        run_matrix(t)


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
