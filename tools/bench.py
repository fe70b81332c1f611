#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`: speed figures of the tooling (targets, not tests).

Measures the warm paths a developer hits on every `make`: the no-op
prepare, regeneration of the series, and boot+test of the already built
default row.  Prints each figure against its target; exits 0 (a benchmark
reports, it does not gate CI).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import paths
import rows as rowsmod
import series
import tree as treemod
from runner import boot_args, kunit_args


def timed(fn: Callable[[], object], n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.monotonic()
        fn()
        samples.append(time.monotonic() - t0)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument('--tree', required=True)
    ap.add_argument('--repeat', type=int, default=3)
    args = ap.parse_args()
    tree = Path(args.tree)
    figures = []
    figures.append(('prepare, nothing changed', timed(
        lambda: treemod.prepare(None), args.repeat), 2.0))

    def gen() -> None:
        with tempfile.TemporaryDirectory() as td:
            series.generate(Path(td))
    figures.append(('regenerate the series (make gen)',
                    timed(gen, args.repeat), 30.0))
    row = rowsmod.default_row(rowsmod.load_rows())
    build = paths.build_root() / row.name
    if (build / '.config').exists():
        cmd = [sys.executable, str(paths.kunit_py(tree)), 'exec',
               *kunit_args(row, build), *boot_args(row)]
        figures.append((f'boot+test of row {row.name} (built)', timed(
            lambda: subprocess.run(cmd, cwd=tree, capture_output=True),
            args.repeat), 30.0))
    print(f'{"benchmark":<45} {"median s":>9} {"target s":>9}')
    for name, val, target in figures:
        mark = 'ok' if val <= target else 'OVER'
        print(f'{name:<45} {val:9.2f} {target:9.1f}  {mark}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
