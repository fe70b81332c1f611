# SPDX-License-Identifier: GPL-2.0
"""The matrix's reports, all written from typed results:

  the terminal table and results/summary.md   (table())
  results/kcidb.json                          (tools/kcidb.py)
  results/junit.xml                           (tools/junit.py)
  results/<row>/reproduce.sh + kunitconfig    for every failing row
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Optional

import junit
import kcidb
import paths
import rows as rowsmod
import runner
import tree as treemod
from results import RowResult

VERDICT = {True: 'PASS', False: 'FAIL'}


def table(results: list[RowResult]) -> str:
    suites = sorted({c.suite for r in results for c in r.cases})
    head = ['row'] + suites + ['build s', 'boot+test s', 'verdict']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join('---' for _ in head) + '|']
    for r in results:
        counts = r.counts()
        cells = [r.row] + [counts[s].cell() if s in counts else '-'
                           for s in suites]
        build = 'skipped' if r.build_skipped else f'{r.build_seconds:.0f}'
        cells += [build, f'{r.boot_seconds:.0f}', VERDICT[r.passed]]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
    lines.append('Cells: passed/failed/skipped KUnit cases per suite; build '
                 '"skipped": no input changed since the last build.')
    for r in results:
        if r.reports:
            lines.append(f'- {r.row} reported: ' + ', '.join(
                f'{k}={v}' for k, v in sorted(r.reports.items())))
        for reason in r.reasons:
            lines.append(f'- {r.row} FAIL: ' + reason.splitlines()[0])
    return '\n'.join(lines) + '\n'


def base_of(tree: Optional[Path]) -> tuple[str, str]:
    """(commit, one-line description) of the base the rows ran on."""
    if tree is None:
        return '', ''
    base, desc = treemod.tree_base(tree)
    return base, treemod.base_line(desc) if desc else ''


def checkout(results: list[RowResult], tree: Optional[Path]) -> kcidb.Checkout:
    base, base_desc = base_of(tree)
    return kcidb.Checkout(
        base=base or '0' * 40,
        base_desc=base_desc or 'Linux 6.12 from Debian linux-source-6.12',
        patch_files=[str(paths.PATCH_DIR / n) for n in paths.patches()],
        start_time=min((r.start_time for r in results if r.start_time),
                       default=dt.datetime.now(dt.timezone.utc)
                       .isoformat(timespec='seconds')),
        tree_name='linux-6.12-debian')


def write_reports(results: list[RowResult], tree: Optional[Path]) -> None:
    out = paths.results_dir()
    out.mkdir(parents=True, exist_ok=True)
    base_desc = base_of(tree)[1]
    (out / 'summary.md').write_text(
        '# Config matrix results\n\n' +
        (f'{base_desc[0].upper() + base_desc[1:]}.\n\n' if base_desc else '')
        + table(results))
    junit.write(out / 'junit.xml', results)
    report = kcidb.build_report(checkout(results, tree), results)
    errors = kcidb.validate(report)
    (out / 'kcidb.json').write_text(json.dumps(report, indent=2) + '\n')
    if errors:
        print('matrix: kcidb.json does not validate:\n  ' +
              '\n  '.join(errors[:20]), file=sys.stderr)


# ----------------------------------------------------------- reproducer --

def make_command(row: rowsmod.Row) -> str:
    """The make line that reruns one row (with the same KERNEL_SRC)."""
    src = os.environ.get('KERNEL_SRC')
    return ' '.join(([f'KERNEL_SRC={shlex.quote(src)}'] if src else []) +
                    ['make', 'matrix', f'ROWS={row.name}'])


def reproducer(row: rowsmod.Row, res: RowResult, tree: Path,
               build_dir: Path, kunitconfig: Path) -> str:
    """reproduce.sh: kunit.py alone on the prepared tree, or `make`.

    kunit.py run with the row's merged kunitconfig (fragments and options
    in one file) and its boot options is what a kernel developer reruns
    without this project's tooling; the build folder is the row's own, so
    the rebuild is incremental.
    """
    # The compiler as the matrix ran it (CC=ccache gcc): another CC would
    # change every object's command line and rebuild the row from scratch.
    make_options, env = runner.ccache_env(build_dir.parent.parent,
                                          row.cross_compile)
    kunit = ['python3', paths.KUNIT_PY, 'run', *row.arch_args(),
             f'--build_dir={build_dir.resolve()}',
             f'--kunitconfig={kunitconfig.resolve()}',
             *runner.boot_args(row), '--make_options', make_options]
    why = (res.reasons or ['failed'])[0].splitlines()[0]
    q = shlex.quote
    exports = ''.join(f'export {k}={q(v)}\n' for k, v in env.items())
    return (f'#!/bin/sh\n'
            f'# Reproduce the failure of matrix row {row.name}:\n'
            f'#   {why}\n'
            f'#   reproduce.sh        kunit.py alone on the prepared tree\n'
            f'#   reproduce.sh make   the whole pipeline: '
            f'{make_command(row)}\n'
            f'set -e\n'
            f'if [ "${{1:-}}" = make ]; then\n'
            f'\tcd {q(str(paths.REPO))}\n'
            f'\texec {make_command(row)}\n'
            f'fi\n'
            f'cd {q(str(tree))}\n'
            f'{exports}'
            f'exec {shlex.join(kunit)}\n')


def write_reproducer(row: rowsmod.Row, res: RowResult, tree: Path,
                     build_dir: Path) -> Path:
    """results/<row>/reproduce.sh and the kunitconfig it runs."""
    out = paths.row_results(row.name)
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / 'kunitconfig'
    cfg.write_text(rowsmod.render_config(
        [f'Merged kunitconfig of matrix row "{row.name}" (fragments, '
         f'then options)', row.description], row.config_entries()))
    script = out / 'reproduce.sh'
    script.write_text(reproducer(row, res, tree, build_dir, cfg))
    script.chmod(0o755)
    return script


def print_reproducers(failed: list[rowsmod.Row]) -> None:
    """How to rerun each failing row: with make, or kunit.py alone."""
    for r in failed:
        print(f'matrix: [{r.name}] reproduce: {make_command(r)}, or '
              f'kunit.py alone: {paths.row_results(r.name) / "reproduce.sh"}')
