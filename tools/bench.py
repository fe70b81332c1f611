#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make bench`: the matrix's turnaround, beside a plain kunit.py loop.

Speed targets live here, not in tests.  Each figure is measured --repeat
times (default 3) and quoted as median with min and max; the plain loop
runs in the same invocation, so the ratio compares like with like:

  matrix, nothing changed     `matrix.py run` over the rows (builds skipped),
                              rows booted side by side (one per core) and,
                              beside it, one at a time (BOOTS=1)
  kunit.py loop, same         `kunit.py run` per row, same build folders,
                              configs and QEMU arguments: what a user would
                              script without this project
  one kunit/ file edited      a comment appended to a suite's .c in a copy
                              of the repository, `make gen`, prepare, and
                              the matrix over the rows (the kunit.py loop
                              after the same gen and prepare)
  boot+test per row           from the no-change matrix runs with one
                              boot at a time (no other guest beside it)

The edit happens in a copy of the committed repository (work/bench-repo),
so the checkout and its tracked files are never touched.  A cold
`make test` is not repeated here (45 minutes); `.ci/run` times it.
Writes results/bench.md (the latest figures are kept in
Documentation/benchmarks.rst).  Exits 0: a benchmark reports, it does not
gate CI.

`--part cost` (`make bench BENCH=cost`) runs only the in-kernel cost of
the writeback events' cgroup= field instead, base vs series-v1 vs the
series of this checkout (tools/bench_cost.py); `--part fault` only
hugetlb fault and huge_pte_lock() rates with split PT locks against the
per-mm lock (tools/bench_fault.py); `--part turnaround` only the figures
above; the default all three.  Each part replaces its own section of
results/bench.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import bench_cost
import bench_fault
import paths
import results as resultsmod
import rows as rowsmod
from runner import boot_args, ccache_env, kunit_args


@dataclass
class Figure:
    name: str
    samples: list[float] = field(default_factory=list)
    target: Optional[float] = None

    def cells(self) -> str:
        if not self.samples:
            return f'| {self.name} | 0 | - | - | - | - |'
        med = statistics.median(self.samples)
        tgt = '-' if self.target is None else \
            f'{self.target:.0f} ({"met" if med <= self.target else "missed"})'
        return (f'| {self.name} | {len(self.samples)} | {med:.1f} | '
                f'{min(self.samples):.1f} | {max(self.samples):.1f} | {tgt} |')


def timed(fn: Callable[[], object]) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def sample(fig: Figure, seconds: float) -> None:
    """Record a sample and show it at once: a long benchmark shows its
    progress, and an interrupted one has printed what it measured."""
    fig.samples.append(seconds)
    print(f'bench: {fig.name}: {seconds:.1f}s', flush=True)


def run(cmd: list[str], cwd: Path,
        env: Optional[dict[str, str]] = None) -> str:
    """cmd's output; the copy of the repository shares the work folder."""
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, 'WORK': str(paths.work_dir()),
                              **(env or {})})
    if res.returncode not in (0, 1):
        sys.exit(f'bench: {" ".join(cmd[:3])} failed:\n{res.stderr[-2000:]}')
    return res.stdout


def bench_repo() -> Path:
    """A copy of the committed repository, for the edited-file runs."""
    repo = paths.work_dir() / 'bench-repo'
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    archive = subprocess.run(['git', 'archive', 'HEAD'], cwd=paths.REPO,
                             capture_output=True, check=True).stdout
    subprocess.run(['tar', '-x', '-C', str(repo)], input=archive, check=True)
    return repo


def matrix_run(repo: Path, tree: Path, names: str, boots: int = 0) -> None:
    run([sys.executable, str(repo / 'tools/matrix.py'), 'run', '--tree',
         str(tree), '--rows', names, f'--boots={boots}'], repo)


def kunit_loop(tree: Path, selected: list[rowsmod.Row]) -> None:
    """kunit.py run per row, with the matrix's compiler (CC=ccache gcc):
    another CC would rebuild every object, which is no fair comparison."""
    for row in selected:
        make_options, env = ccache_env(paths.work_dir(), row.cross_compile)
        run([sys.executable, str(paths.kunit_py(tree)), 'run',
             *kunit_args(row, paths.build_root() / row.name),
             *boot_args(row), '--make_options', make_options], tree, env)


def prepare(repo: Path) -> Path:
    return Path(run([sys.executable, str(repo / 'tools/kpatch.py'),
                     'prepare'], repo).strip())


def edit_and_prepare(repo: Path, n: int) -> Path:
    """Append a comment to a suite's .c, make gen, prepare: the tree."""
    src = repo / 'kunit/hugetlb_ptlock/hugetlb_ptlock_kunit.c'
    src.write_text(src.read_text() + f'/* bench edit {n} */\n')
    run([sys.executable, str(repo / 'tools/kpatch.py'), 'gen'], repo)
    return prepare(repo)


def boot_figures(selected: list[rowsmod.Row]) -> list[Figure]:
    return [Figure(f'boot+test {row.name}',
                   target=None if 'debug' in row.name else 5.0)
            for row in selected]


def sample_boots(figs: list[Figure], selected: list[rowsmod.Row]) -> None:
    """Each row's boot+test of the run that just ended."""
    for fig, row in zip(figs, selected):
        res = resultsmod.load(paths.row_results(row.name) / 'result.json')
        if res is not None:
            fig.samples.append(res.boot_seconds)


def machine() -> str:
    cpu = next((ln.split(':', 1)[1].strip() for ln in
                Path('/proc/cpuinfo').read_text().splitlines()
                if ln.startswith('model name')), platform.processor())
    mem = next((ln.split()[1] for ln in
                Path('/proc/meminfo').read_text().splitlines()
                if ln.startswith('MemTotal')), '0')
    kvm = '/dev/kvm present' if Path('/dev/kvm').exists() else 'no KVM'
    return (f'{os.cpu_count()} cores, {cpu}, '
            f'{int(mem) // (1024 * 1024)} GiB, QEMU TCG ({kvm})')


def report(figs: list[Figure], names: str, command: str) -> str:
    by = {f.name: f for f in figs}
    ratios = []
    for mine, plain in (('matrix, nothing changed',
                         'kunit.py loop, nothing changed'),
                        ('one kunit/ file edited: gen + prepare + matrix',
                         'one kunit/ file edited: gen + prepare + kunit.py '
                         'loop')):
        m, k = by[mine].samples, by[plain].samples
        ratios.append(f'{statistics.median(m) / statistics.median(k):.2f}'
                      if m and k else '-')
    lines = ['# Matrix turnaround', '',
             f'Machine: {machine()}.  Rows: {names or "all"}.  Seconds; '
             f'n is the number of runs.', '',
             '| figure | n | median | min | max | target |',
             '|---|---|---|---|---|---|', *[f.cells() for f in figs], '',
             f'matrix / plain kunit.py loop (medians, same run): nothing '
             f'changed {ratios[0]}, one file edited {ratios[1]}', '',
             f'Command: `{command}`.', '']
    return '\n'.join(lines)


def measure(tree: Path, selected: list[rowsmod.Row], names: str,
            repeat: int, edit_repeat: int, loop_repeat: int) -> list[Figure]:
    same = Figure('matrix, nothing changed', target=30.0)
    same1 = Figure('matrix, nothing changed, one boot at a time (BOOTS=1)')
    loop = Figure('kunit.py loop, nothing changed')
    edit = Figure('one kunit/ file edited: gen + prepare + matrix',
                  target=180.0)
    loop_edit = Figure('one kunit/ file edited: gen + prepare + '
                       'kunit.py loop')
    boots = boot_figures(selected)    # from the one-at-a-time runs
    matrix_run(paths.REPO, tree, names)           # warm every row first
    for _ in range(repeat):
        sample(same, timed(lambda: matrix_run(paths.REPO, tree, names)))
        sample(same1, timed(lambda: matrix_run(paths.REPO, tree, names, 1)))
        sample_boots(boots, selected)
    # After the matrix samples: kunit.py run relinks the um and arm64
    # kernels even with nothing changed, and a matrix run after it would
    # rebuild them and count that as "nothing changed".
    for _ in range(repeat):
        sample(loop, timed(lambda: kunit_loop(tree, selected)))
    repo = bench_repo()
    # The matrix's edits first: after a kunit.py run the matrix cannot
    # tell how the kernel was built and runs kunit.py build again.
    for n in range(edit_repeat):
        t0 = time.monotonic()
        matrix_run(repo, edit_and_prepare(repo, n), names)
        sample(edit, time.monotonic() - t0)
    for n in range(loop_repeat):
        t0 = time.monotonic()
        kunit_loop(edit_and_prepare(repo, edit_repeat + n), selected)
        sample(loop_edit, time.monotonic() - t0)
    shutil.rmtree(repo, ignore_errors=True)
    matrix_run(paths.REPO, prepare(paths.REPO), names)  # the checkout's
    return [same, same1, loop, edit, loop_edit, *boots]


def write(text: str) -> None:
    """results/bench.md with text's section replaced, and text shown."""
    paths.results_dir().mkdir(parents=True, exist_ok=True)
    out = paths.results_dir() / 'bench.md'
    old = out.read_text() if out.exists() else ''
    out.write_text(bench_cost.merge_section(old, text))
    print(text)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tree', required=True)
    ap.add_argument('--part', choices=('all', 'turnaround', 'cost', 'fault'),
                    default=os.environ.get('BENCH') or 'all')
    ap.add_argument('--variants', default=','.join(bench_cost.VARIANTS),
                    help='kernels of the cost part (base,v1,v2)')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--edit-repeat', type=int, default=3,
                    help='runs of the matrix after an edit (each rebuilds '
                         'every row)')
    ap.add_argument('--edit-loop-repeat', type=int, default=3,
                    help='runs of the kunit.py loop after an edit (each '
                         'rebuilds every row: minutes)')
    ap.add_argument('--rows', default=os.environ.get('ROWS', ''))
    fault = bench_fault.Params()
    ap.add_argument('--fault-vcpus', type=int,
                    default=int(os.environ.get('VCPUS') or fault.vcpus),
                    help='guest CPUs of the fault part (VCPUS=)')
    ap.add_argument('--fault-accel', default=os.environ.get('ACCEL') or
                    fault.accel, help='QEMU -accel of the fault part: auto '
                    '(kvm when /dev/kvm is usable, else tcg,thread=multi), '
                    'kvm, tcg ... (ACCEL=)')
    ap.add_argument('--fault-runs', type=int, default=fault.runs,
                    help='boots of each kernel in the fault part')
    ap.add_argument('--fault-reuse', action='store_true',
                    help='boot the kernels an earlier fault part built '
                         '(no build; they must match the checkout)')
    return ap


def main(argv: Optional[list[str]] = None) -> int:
    args = parser().parse_args(argv)
    fault = bench_fault.Params()
    tree = Path(args.tree).resolve()
    if args.part in ('all', 'turnaround'):
        selected = rowsmod.select(rowsmod.load_rows(), args.rows)
        figs = measure(tree, selected, args.rows, args.repeat,
                       args.edit_repeat, args.edit_loop_repeat)
        write(report(figs, args.rows, ' '.join(
            ['python3', 'tools/bench.py', *(argv or sys.argv[1:])])))
    if args.part in ('all', 'cost'):
        variants = [v for v in args.variants.split(',') if v]
        try:
            costs = bench_cost.run(tree, variants, args.rows)
        except paths.SeriesError as e:
            sys.exit(f'bench: cost: {e}')
        for row in dict.fromkeys(c.row for c in costs):
            write(bench_cost.report(costs, machine(), variants, row))
    if args.part in ('all', 'fault'):
        params = dataclasses.replace(fault, vcpus=args.fault_vcpus,
                                     accel=args.fault_accel,
                                     runs=args.fault_runs)
        try:
            res = bench_fault.run(tree, params, args.fault_reuse)
        except paths.SeriesError as e:
            sys.exit(f'bench: fault: {e}')
        write(bench_fault.report(res, machine()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
