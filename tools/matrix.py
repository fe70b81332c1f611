#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run config-matrix rows with kunit.py and report them.

  matrix.py run [--rows a,b] --tree DIR   build, boot, judge, report
  matrix.py run --default --tree DIR      only the default row
  matrix.py report                        rebuild the reports from results/

One row is tools/runner.py; the reports (terminal table, summary.md,
kcidb.json, junit.xml, reproduce.sh of a failing row) tools/reports.py.
Builds run one after another, the row with the longest last boot first; a
built row boots while the next builds, up to one boot per core (--boots,
BOOTS=).  Ctrl-C stops cleanly: exit 130,
the rows it stopped marked interrupted, reports kept.
`make test` calls run_matrix() in-process.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Callable, Optional

import paths
import reports
import results as resultsmod
import rows as rowsmod
import runner
from console import tail
from results import RowResult, Status

# Called with a row once the row has built.
OnBuilt = Callable[[rowsmod.Row], None]


def on_sigint(signum: int, frame: Optional[FrameType]) -> None:
    """The first Ctrl-C unwinds (KeyboardInterrupt); later ones, from an
    impatient user or a parent passing it on, are ignored so that killing
    kunit.py and writing the reports cannot be cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def interrupted_result(row: rowsmod.Row, build_dir: Path) -> RowResult:
    """The row a Ctrl-C stopped: failed, reason "interrupted", the tail of
    the log of the phase it was in (kunit.log exists once booting)."""
    out = paths.row_results(row.name)
    booting = (out / 'kunit.log').exists()
    log = build_dir / 'test.log' if booting else out / 'build.log'
    return RowResult(
        row=row.name, arch=row.arch, description=row.description,
        config_name=row.name, reasons=['interrupted'], build_ok=booting,
        interrupted=True, start_time=dt.datetime.now(dt.timezone.utc)
        .isoformat(timespec='seconds'),
        console_excerpt=tail(log.read_text(errors='replace'), 40)
        if log.exists() else '')


def save(row: rowsmod.Row, res: RowResult, tree: Path,
         build_root: Path) -> None:
    """result.json, and for a failing row its reproducer."""
    resultsmod.save(res, paths.row_results(row.name) / 'result.json')
    if not res.passed:
        reports.write_reproducer(row, res, tree, build_root / row.name)


def interrupted(selected: list[rowsmod.Row], done: dict[str, RowResult],
                started: list[str], tree: Path, build_root: Path) -> None:
    """Ctrl-C: mark the rows it stopped, rewrite the reports, say so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopped = [r for r in selected if r.name in started and
               r.name not in done]
    for row in stopped:
        res = interrupted_result(row, build_root / row.name)
        save(row, res, tree, build_root)
        done[row.name] = res
    results = [done[r.name] for r in selected if r.name in done]
    reports.write_reports(results, tree)
    what = '; '.join(
        f'during the {"boot+test" if done[r.name].build_ok else "build"} '
        f'of row {r.name}' for r in stopped) or 'while writing the reports'
    left = [r.name for r in selected if r.name not in done]
    print(f'matrix: interrupted {what}; '
          f'{len(results) - len(stopped)} row(s) finished' +
          (f', not run: {", ".join(left)}' if left else '') +
          f'; reports rewritten in {paths.results_dir()}', file=sys.stderr,
          flush=True)


def finish(row: rowsmod.Row, res: RowResult, tree: Path, build_root: Path,
           kunit_summary: bool) -> None:
    """Save a finished row and print its line."""
    save(row, res, tree, build_root)
    klog = paths.row_results(row.name) / 'kunit.log'
    if kunit_summary and klog.exists():
        # kunit.py's own summary of the default row.
        print(''.join(klog.read_text(errors='replace')
                      .splitlines(True)[1:]), end='', flush=True)
    summary = ', '.join(f'{s} {c.passed} passed {c.failed + c.errors} '
                        f'failed {c.skipped} skipped'
                        for s, c in sorted(res.counts().items()))
    build = 'skipped (nothing changed)' if res.build_skipped else \
        f'{res.build_seconds:.0f}s'
    print(f'matrix: [{row.name}] build {build}, '
          f'boot+test {res.boot_seconds:.0f}s: {summary or "no results"}'
          f' -> {reports.VERDICT[res.passed]}', flush=True)
    for reason in res.reasons:
        print(f'matrix: [{row.name}]   {reason}', flush=True)


def boot_order(selected: list[rowsmod.Row]) -> list[rowsmod.Row]:
    """The rows, longest last boot+test first (results/<row>/result.json;
    a row without one first of all, as it may be long).  Builds go in this
    order too: with nothing to build the longest boots start first instead
    of last (the debug row takes 9 s, the um row 2 s), and after the last
    build the short boots are left.  Reports keep the rows' own order."""
    def last(row: rowsmod.Row) -> float:
        res = resultsmod.load(paths.row_results(row.name) / 'result.json')
        return res.boot_seconds if res and res.boot_seconds else \
            float('inf')
    return sorted(selected, key=last, reverse=True)


def default_boots() -> int:
    """Boots at a time: one per core.  With nothing to build, all nine
    rows took 35.9 s this way and 39.0 s one at a time (2 cores, medians
    of 3): the -smp 2 guests keep more than one core busy."""
    return max(1, os.cpu_count() or 1)


class Pipeline:
    """Builds one after another in the caller's thread (each uses every
    core), boots in up to `boots` worker threads: a row boots while the
    next one builds, and rows with nothing to build boot side by side.
    A row's line is printed when its boot ends."""

    def __init__(self, tree: Path, build_root: Path, jobs: int, boots: int,
                 kunit_summary: bool, on_built: Optional[OnBuilt] = None
                 ) -> None:
        self.tree, self.build_root, self.jobs = tree, build_root, jobs
        self.kunit_summary, self.on_built = kunit_summary, on_built
        self.pool = ThreadPoolExecutor(max_workers=boots,
                                       thread_name_prefix='boot')
        self.done: dict[str, RowResult] = {}
        self.started: list[str] = []
        self.futures: list[Future[RowResult]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def record(self, row: rowsmod.Row, res: RowResult) -> None:
        with self.lock:
            if self.stopping.is_set():
                return
            finish(row, res, self.tree, self.build_root, self.kunit_summary)
            self.done[row.name] = res

    def boot(self, row: rowsmod.Row, run: runner.RowRun,
             final: dict[str, str]) -> RowResult:
        res = runner.boot_and_judge(run, final)
        self.record(row, res)
        return res

    def add(self, row: rowsmod.Row) -> None:
        print(f'matrix: [{row.name}] {row.description}', flush=True)
        self.started.append(row.name)
        run = runner.start(row, self.tree, self.build_root, self.jobs,
                           paths.row_results(row.name))
        final = runner.build(run)
        if final is None:
            self.record(row, run.res)
        else:
            self.futures.append(self.pool.submit(self.boot, row, run, final))
            if self.on_built:
                self.on_built(row)

    def wait(self) -> None:
        for f in self.futures:
            f.result()
        self.pool.shutdown()

    def stop(self) -> None:
        """Ctrl-C: no more lines, kill the boots, let the workers end."""
        self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        runner.kill_all()
        self.pool.shutdown(wait=True)


def run_matrix(selected: list[rowsmod.Row], tree: Path,
               build_root: Optional[Path] = None, jobs: int = 0,
               kunit_summary: bool = False,
               boots: int = 0,
               on_built: Optional[OnBuilt] = None) -> list[RowResult]:
    """Run the rows and write every report; Ctrl-C marks the rows it
    stopped and rewrites the reports before it propagates.  on_built(row)
    is called once a row has built, before the next row's build starts
    (`make test` starts the row's vmtest there)."""
    build_root = build_root or paths.build_root()
    jobs = jobs or os.cpu_count() or 2
    pipe = Pipeline(tree, build_root, jobs, boots or default_boots(),
                    kunit_summary, on_built)
    t_all = time.monotonic()
    try:
        for row in boot_order(selected):
            pipe.add(row)
        pipe.wait()
        results = [pipe.done[r.name] for r in selected]
        reports.write_reports(results, tree)
    except KeyboardInterrupt:
        pipe.stop()
        interrupted(selected, pipe.done, pipe.started, tree, build_root)
        raise
    print()
    print(reports.table(results))
    print(f'matrix: {len(results)} rows in {time.monotonic() - t_all:.0f}s; '
          f'results in {paths.results_dir()}')
    base_desc = reports.base_of(tree)[1]
    if base_desc:
        print(f'matrix: {base_desc}')
    ok = all(r.passed for r in results)
    print(f'matrix: verdict {reports.VERDICT[ok]}: '
          f'{resultsmod.totals(results).line()}')
    reports.print_reproducers([r for r, res in zip(selected, results)
                               if not res.passed])
    return results


def do_run(args: argparse.Namespace, rows: list[rowsmod.Row]) -> int:
    selected = [rowsmod.default_row(rows)] if args.default else \
        rowsmod.select(rows, args.rows)
    try:
        results = run_matrix(selected, Path(args.tree).resolve(),
                             Path(args.build_root), args.jobs, args.default,
                             args.boots)
    except KeyboardInterrupt:
        return 130
    return 0 if all(r.passed for r in results) else 1


def do_report(args: argparse.Namespace, rows: list[rowsmod.Row]) -> int:
    results = [r for r in (resultsmod.load(paths.row_results(x.name) /
                                           'result.json') for x in rows)
               if r is not None]
    reports.write_reports(results, None)
    print(reports.table(results))
    return 0 if all(r.verdict is Status.PASS for r in results) else 1


HANDLERS: dict[str, Callable[[argparse.Namespace, list[rowsmod.Row]], int]] \
    = {'run': do_run, 'report': do_report}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--rows', default=os.environ.get('ROWS', ''))
    r.add_argument('--tree', required=True, help='prepared kernel tree')
    r.add_argument('--build-root', default=str(paths.build_root()))
    r.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    r.add_argument('--boots', type=int,
                   default=int(os.environ.get('BOOTS') or 0),
                   help='rows booted at a time (default: one per core)')
    r.add_argument('--default', action='store_true',
                   help='run only the default row')
    sub.add_parser('report')
    args = ap.parse_args(argv)
    try:
        return HANDLERS[args.cmd](args, rowsmod.load_rows())
    except rowsmod.RowError as e:
        print(f'matrix: error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    signal.signal(signal.SIGINT, on_sigint)
    sys.exit(main())
