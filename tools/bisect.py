#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make check-bisect`: every prefix of the series builds for the default row.

Builds in a worktree of its own (work/bisect) and a build folder of its own
(work/build/bisect), so the prepared tree and the rows' build folders are
untouched.  kunit.py does the configuring and building.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kpatch  # noqa: E402
import rows as rowsmod  # noqa: E402
from matrix import kunit_args  # noqa: E402


def main() -> int:
    tree = kpatch.prepare(None)
    names = [n for n in kpatch.read_series() if n != kpatch.COVER]
    wd = kpatch.work_dir()
    wt = wd / 'bisect'
    if not (wt / '.git').exists():
        kpatch.git(['worktree', 'prune'], tree)
        kpatch.git(['worktree', 'add', '-f', '--detach', str(wt), 'base'],
                   tree)
    row = rowsmod.default_row(rowsmod.load_rows())
    build = wd / 'build' / 'bisect'
    bad = 0
    for k in range(1, len(names) + 1):
        rev = f'series~{len(names) - k}'
        kpatch.git(['checkout', '-q', '-f', '--detach',
                    kpatch.git(['rev-parse', rev], tree).strip()], wt)
        t0 = time.monotonic()
        res = subprocess.run(
            [sys.executable, str(wt / 'tools/testing/kunit/kunit.py'),
             'build', *kunit_args(row, wt, build), '--jobs=2',
             '--make_options', 'CC=ccache gcc'],
            cwd=wt, capture_output=True, text=True)
        ok = res.returncode == 0
        bad += not ok
        print(f'bisect: {k}/{len(names)} {names[k - 1]}: '
              f'{"builds" if ok else "FAILS"} ({time.monotonic() - t0:.0f}s)',
              flush=True)
        if not ok:
            print('\n'.join((res.stdout + res.stderr).splitlines()[-30:]))
    print(f'{len(names) - bad} passed, {bad} failed')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
