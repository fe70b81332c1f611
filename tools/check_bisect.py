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

import paths
import rows as rowsmod
import suites as suitesmod
import tree as treemod
from console import scan_build_warnings
from gitcmd import add_worktree, git
from paths import SeriesError
from runner import ccache_env

DEFAULT_ROWS = 'x86_64,i386-pae,i386-nopae'


def prefix_config(row: rowsmod.Row, applied: set[str],
                  suites: dict[str, suitesmod.Suite]) -> str:
    """The row's merged config without tests whose patch is not applied."""
    absent = {s.config for name, s in suites.items() if name not in applied}
    return rowsmod.render_config(
        [f'check-bisect: row {row.name}'],
        {k: v for k, v in row.config_entries().items() if k not in absent})


def build_prefix(row: rowsmod.Row, wt: Path, cfg: Path, jobs: int,
                 what: str) -> bool:
    """kunit.py build of the checked-out prefix: no error, no warning."""
    make_options, env = ccache_env(paths.work_dir(), row.cross_compile)
    t0 = time.monotonic()
    res = subprocess.run(
        [sys.executable, str(paths.kunit_py(wt)), 'build',
         *row.arch_args(),
         f'--build_dir={paths.build_root() / f"bisect-{row.name}"}',
         f'--kunitconfig={cfg}', f'--jobs={jobs}',
         '--make_options', make_options],
        cwd=wt, capture_output=True, text=True, env={**os.environ, **env})
    warnings = scan_build_warnings(res.stdout + res.stderr)
    ok = res.returncode == 0 and not warnings
    print(f'bisect: {row.name} {what}: {"builds" if ok else "FAILS"} '
          f'({time.monotonic() - t0:.0f}s)', flush=True)
    if warnings:
        print('\n'.join(warnings))
    elif not ok:
        print('\n'.join((res.stdout + res.stderr).splitlines()[-30:]))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--rows', default='',
                    help=f'comma-separated rows (default {DEFAULT_ROWS})')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    try:
        rows = rowsmod.select(rowsmod.load_rows(),
                              args.rows or DEFAULT_ROWS)
        tree = treemod.prepare(None)
        names = paths.patches()
        suites = suitesmod.load_suites()
    except (rowsmod.RowError, SeriesError) as e:
        print(f'check-bisect: {e}', file=sys.stderr)
        return 2
    wd = paths.work_dir()
    wt = wd / 'bisect'
    if not (wt / '.git').exists():
        add_worktree(tree, wt, 'base')
    bad = total = 0
    t_all = time.monotonic()
    for row in rows:
        cfg = wd / f'bisect-{row.name}.kunitconfig'
        for k in range(1, len(names) + 1):
            rev = git(['rev-parse', f'series~{len(names) - k}'],
                      tree).strip()
            git(['checkout', '-q', '-f', '--detach', rev], wt)
            cfg.write_text(prefix_config(row, set(names[:k]), suites))
            ok = build_prefix(row, wt, cfg, args.jobs,
                              f'{k}/{len(names)} {names[k - 1]}')
            total += 1
            bad += not ok
    print(f'check-bisect: {len(rows)} rows x {len(names)} prefixes in '
          f'{time.monotonic() - t_all:.0f}s')
    print(f'{total - bad} passed, {bad} failed')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
