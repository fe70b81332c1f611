#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make check-bisect`: every prefix of the series builds, row by row.

Default rows: x86_64, i386-pae and i386-nopae (`ROWS=a,b` picks others).
Each prefix is built with the row's config minus the test options of suite
patches not yet applied (their Kconfig symbols do not exist yet, and
kunit.py would reject a config that lost them).

Builds in a worktree of its own (work/bisect) and one build folder per row
(work/build/bisect-<row>), so the prepared tree and the matrix's build
folders are untouched.  kunit.py does the configuring and building.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kpatch  # noqa: E402
import rows as rowsmod  # noqa: E402
from matrix import ccache_make_option, scan_build_warnings  # noqa: E402

DEFAULT_ROWS = 'x86_64,i386-pae,i386-nopae'


def prefix_config(row: rowsmod.Row, applied: set[str],
                  suites: dict[str, kpatch.Suite]) -> str:
    """The row's merged config without tests whose patch is not applied."""
    absent = {s.config for name, s in suites.items() if name not in applied}
    return rowsmod.render_config(
        [f'check-bisect: row {row.name}'],
        {k: v for k, v in row.config_entries().items() if k not in absent})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rows', default='',
                    help=f'comma-separated rows (default {DEFAULT_ROWS})')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    try:
        rows = rowsmod.select(rowsmod.load_rows(),
                              args.rows or DEFAULT_ROWS)
        tree = kpatch.prepare(None)
        names = [n for n in kpatch.read_series() if n != kpatch.COVER]
        suites = kpatch.load_suites()
    except (rowsmod.RowError, kpatch.KpatchError) as e:
        print(f'check-bisect: {e}', file=sys.stderr)
        return 2
    wd = kpatch.work_dir()
    wt = wd / 'bisect'
    if not (wt / '.git').exists():
        kpatch.git(['worktree', 'prune'], tree)
        kpatch.git(['worktree', 'add', '-f', '--detach', str(wt), 'base'],
                   tree)
    bad = total = 0
    t_all = time.monotonic()
    for row in rows:
        build = wd / 'build' / f'bisect-{row.name}'
        cfg = wd / f'bisect-{row.name}.kunitconfig'
        for k in range(1, len(names) + 1):
            rev = kpatch.git(['rev-parse', f'series~{len(names) - k}'],
                             tree).strip()
            kpatch.git(['checkout', '-q', '-f', '--detach', rev], wt)
            cfg.write_text(prefix_config(row, set(names[:k]), suites))
            t0 = time.monotonic()
            res = subprocess.run(
                [sys.executable, str(wt / 'tools/testing/kunit/kunit.py'),
                 'build', f'--arch={row.arch}', f'--build_dir={build}',
                 f'--kunitconfig={cfg}', f'--jobs={args.jobs}',
                 '--make_options', ccache_make_option(wd)],
                cwd=wt, capture_output=True, text=True)
            warnings = scan_build_warnings(res.stdout + res.stderr)
            ok = res.returncode == 0 and not warnings
            total += 1
            bad += not ok
            print(f'bisect: {row.name} {k}/{len(names)} {names[k - 1]}: '
                  f'{"builds" if ok else "FAILS"} '
                  f'({time.monotonic() - t0:.0f}s)', flush=True)
            if warnings:
                print('\n'.join(warnings))
            elif not ok:
                print('\n'.join((res.stdout + res.stderr).splitlines()[-30:]))
    print(f'check-bisect: {len(rows)} rows x {len(names)} prefixes in '
          f'{time.monotonic() - t_all:.0f}s')
    print(f'{total - bad} passed, {bad} failed')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
