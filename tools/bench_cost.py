# SPDX-License-Identifier: GPL-2.0
"""`make bench BENCH=cost`: the in-kernel cost of the writeback events.

Nanoseconds per event of trace_writeback_wake_background(wb) (wb-based)
and trace_wbc_writepage(wbc, bdi) (wbc-based, wbc->wb set), measured by
the KUnit suite kunit/bench/wb_trace_cost.c on three kernels built with
the same config (a row's, the series' suites off, the bench on):

  base   the pristine base (the events print cgroup_ino= only)
  v1     the series at git tag series-v1
  v2     the series in kernel-patches/ of this checkout

Each kernel is the base plus its series and the test-environment fixes
(tree.apply_series), applied with git am in a throwaway worktree of the
prepared tree (<work>/bench-cost/<variant>/linux, removed afterwards),
plus the bench file, its Kconfig symbol and Makefile
line (kunit/bench/wb_trace_cost.toml).  `kunit.py run
wb_trace_cost` (its filter_glob) builds it in <work>/bench-cost/<variant>/
build/<row> and boots it with the row's QEMU and kernel arguments, holding
the machine's kernel build lock (paths.kbuild_lock()).  The suite prints
one diagnostic line per figure; they are parsed from the console.

Two rows by default (ROWS): x86_64 under QEMU TCG, where every guest
instruction is emulated (a `rep movsb` copy runs one iteration per
translated block: ~3 ns a byte here), and um, whose kernel runs natively
on the host CPU, so its figures are what hardware pays.  Each row gets
its own section of results/bench.md.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import buildlock
import paths
import rows as rowsmod
import suites as suitesmod
import tree as treemod
from console import tail
from gitcmd import add_worktree, git
from paths import SeriesError
from runner import boot_args, ccache_env, run_logged

VARIANTS = ('base', 'v1', 'v2')
ROWS = ('x86_64', 'um')
RATIO_DEPTH = 8         # the ratio to base that has a target
RATIO_TARGET = 1.25
RUN_TIMEOUT = 5400      # s for one kunit.py run (a cold build is ~6 min)

# "# <case>: event=E depth=D state=S path_len=N ... median_ns=M min_ns=L
# max_ns=H", after the console's timestamp and KTAP indentation.
LINE_RE = re.compile(r'#\s+(?:[\w.-]+:\s+)?(event=\S+(?:\s+\w+=\S+)+)\s*$')


@dataclass(frozen=True)
class Cost:
    """One figure: ns per event, median/min/max of the samples."""
    row: str
    variant: str
    event: str
    depth: int
    state: str
    path_len: int
    median: float
    low: float
    high: float


@dataclass(frozen=True)
class BenchSpec:
    """kunit/bench/wb_trace_cost.toml: what goes into each tree."""
    name: str
    config: str
    files: tuple[tuple[Path, str], ...]
    edits: tuple[dict[str, str], ...]


def parse_costs(console: str, row: str, variant: str) -> list[Cost]:
    """The figures the suite printed; lines that are not one are skipped."""
    out = []
    for line in console.splitlines():
        m = LINE_RE.search(line)
        if not m:
            continue
        kv = dict(p.split('=', 1) for p in m.group(1).split() if '=' in p)
        try:
            out.append(Cost(row, variant, kv['event'], int(kv['depth']),
                            kv['state'], int(kv.get('path_len', '0')),
                            float(kv['median_ns']), float(kv['min_ns']),
                            float(kv['max_ns'])))
        except (KeyError, ValueError):
            continue
    return out


def load_spec(path: Path = paths.BENCH_COST_TOML) -> BenchSpec:
    try:
        data = tomllib.loads(path.read_text())
        files = tuple((path.parent / f['src'], str(f['dest']))
                      for f in data['files'])
        return BenchSpec(str(data['name']), str(data['config']), files,
                         tuple(data.get('edits', [])))
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError) as e:
        raise SeriesError(f'{path}: {e}') from None


def bench_config(row: rowsmod.Row, spec: BenchSpec) -> str:
    """The row's merged config, the series' suites off, the bench on: the
    same lines for every variant (the suites do not exist on base)."""
    entries = dict(row.config_entries())
    for s in suitesmod.load_suites().values():
        entries[s.config] = 'n'
    entries[spec.config] = 'y'
    return rowsmod.render_config(
        [f'bench-cost: row {row.name}, suites off, {spec.name} on'], entries)


def tag_patches(tag: str, out: Path) -> list[Path]:
    """The series as committed at tag, written to out, in apply order."""
    rel = paths.PATCH_DIR.relative_to(paths.REPO).as_posix()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for name in git(['ls-tree', '--name-only', f'{tag}:{rel}'],
                    paths.REPO).split():
        (out / name).write_text(git(['show', f'{tag}:{rel}/{name}'],
                                    paths.REPO))
    return [out / n for n in paths.patches(out)]


def variant_patches(variant: str, scratch: Path) -> list[Path]:
    if variant == 'base':
        return []
    if variant == 'v1':
        return tag_patches(paths.V1_TAG, scratch)
    return [paths.PATCH_DIR / n for n in paths.patches()]


def drop_worktree(tree: Path, wt: Path) -> None:
    """Delete the worktree, then unregister it (`git worktree remove`
    first scans all of its files: minutes on a busy 2-core machine)."""
    shutil.rmtree(wt, ignore_errors=True)
    git(['worktree', 'prune'], tree, check=False)


def make_worktree(tree: Path, wt: Path, patches: list[Path],
                  spec: BenchSpec) -> None:
    """base + patches (git am) + the bench file and its two edits."""
    drop_worktree(tree, wt)
    base = git(['rev-parse', 'refs/tags/base^{commit}'], tree).strip()
    add_worktree(tree, wt, base)
    treemod.apply_series(wt, base, None, patches)
    for src, dest in spec.files:
        shutil.copyfile(src, wt / dest)
    for edit in spec.edits:
        f = wt / edit['file']
        f.write_text(suitesmod.apply_edit(f.read_text(), edit,
                                          str(paths.BENCH_COST_TOML)))


def kunit_cmd(wt: Path, build_dir: Path, cfg: Path, row: rowsmod.Row,
              spec: BenchSpec, make_options: str) -> list[str]:
    return [sys.executable, str(paths.kunit_py(wt)), 'run',
            *row.arch_args(), f'--build_dir={build_dir}',
            f'--kunitconfig={cfg}', f'--jobs={os.cpu_count() or 2}',
            '--make_options', make_options, *boot_args(row),
            spec.name]      # kunit.py's filter_glob (positional)


def console_of(row: str, variant: str) -> Path:
    return paths.results_dir() / 'bench-cost' / f'{row}-{variant}-console.log'


# A guest whose TSC calibration failed under emulation ("tsc: Unable to
# calibrate against PIT") times with jiffies: every batch then measures a
# multiple of a tick (1000.06 ns per event for 4000 events, 0.00 disabled),
# not the event.  Seen once in six boots here; such a boot is redone.
COARSE_CLOCK = re.compile(r'clocksource: Switched to clocksource '
                          r'(refined-)?jiffies')
CLOCK_TRIES = 3


def coarse_clock(console: str) -> bool:
    return bool(COARSE_CLOCK.search(console))


def boot_timed(variant: str, cmd: list[str], wt: Path, vdir: Path,
               log: Path, env: dict[str, str]) -> tuple[int, str]:
    """kunit.py run until the guest has a fine clock (CLOCK_TRIES)."""
    rc, console = 0, ''
    for attempt in range(1, CLOCK_TRIES + 1):
        log.unlink(missing_ok=True)
        with buildlock.held('bench: cost'):
            rc, _ = run_logged(cmd, wt, vdir / 'kunit.log', RUN_TIMEOUT, env)
        console = log.read_text(errors='replace') if log.exists() else ''
        if not coarse_clock(console):
            break
        print(f'bench: cost: {variant}: the guest timed with jiffies '
              f'(boot {attempt}/{CLOCK_TRIES}); its figures are dropped',
              flush=True)
    return rc, console


def run_variant(variant: str, tree: Path, rows: list[rowsmod.Row],
                spec: BenchSpec) -> list[Cost]:
    """Build and boot one kernel per row; the figures (none of a row
    whose kernel failed)."""
    vdir = paths.bench_cost_dir() / variant
    wt = vdir / 'linux'
    costs: list[Cost] = []
    try:
        make_worktree(tree, wt, variant_patches(variant, vdir / 'patches'),
                      spec)
        for row in rows:
            costs += run_row(variant, wt, vdir, row, spec)
    finally:
        drop_worktree(tree, wt)
    return costs


def run_row(variant: str, wt: Path, vdir: Path, row: rowsmod.Row,
            spec: BenchSpec) -> list[Cost]:
    make_options, env = ccache_env(vdir, row.cross_compile)
    build_dir = vdir / 'build' / row.name
    build_dir.mkdir(parents=True, exist_ok=True)
    cfg = vdir / f'{row.name}.kunitconfig'
    cfg.write_text(bench_config(row, spec))
    t0 = time.monotonic()
    cmd = kunit_cmd(wt, build_dir, cfg, row, spec, make_options)
    rc, console = boot_timed(variant, cmd, wt, vdir, build_dir / 'test.log',
                             env)
    out = console_of(row.name, variant)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(console)
    costs = [] if coarse_clock(console) else \
        parse_costs(console, row.name, variant)
    print(f'bench: cost: {row.name}: {variant}: {len(costs)} figures, '
          f'kunit.py exit {rc}, {time.monotonic() - t0:.0f}s', flush=True)
    if not costs:
        print(tail((vdir / 'kunit.log').read_text(errors='replace'), 30))
    return costs


def ratio(costs: list[Cost], c: Cost) -> Optional[float]:
    """c's median over base's for the same event, depth and state."""
    for b in costs:
        if (b.row, b.variant, b.event, b.depth, b.state) == \
                (c.row, 'base', c.event, c.depth, c.state) and b.median > 0:
            return c.median / b.median
    return None


def table(costs: list[Cost]) -> list[str]:
    lines = ['| variant | event | depth | path chars | state | median ns '
             '| min ns | max ns | x base |', '|---|---|---|---|---|---|---|'
             '---|---|']
    for c in costs:
        r = ratio(costs, c)
        lines.append(f'| {c.variant} | {c.event} | '
                     f'{c.depth if c.depth else "root"} | {c.path_len} | '
                     f'{c.state} | {c.median:.2f} | {c.low:.2f} | '
                     f'{c.high:.2f} | {"-" if r is None else f"{r:.2f}"} |')
    return lines


def verdicts(costs: list[Cost]) -> list[str]:
    """(enabled at RATIO_DEPTH) / base, per event and patched variant."""
    out = []
    for c in costs:
        r = ratio(costs, c)
        if c.variant != 'base' and c.state == 'enabled' and \
                c.depth == RATIO_DEPTH and r is not None:
            out.append(f'- {c.event}, depth {RATIO_DEPTH}, enabled: '
                       f'{c.variant}/base = {r:.2f}x (target <= '
                       f'{RATIO_TARGET:.2f}x: '
                       f'{"met" if r <= RATIO_TARGET else "missed"})')
    return out


def report(costs: list[Cost], machine: str, variants: list[str],
           row: str) -> str:
    """The section of results/bench.md for one row's figures."""
    mine = [c for c in costs if c.row == row]
    how = ('UML: the kernel runs natively on the host CPU' if row == 'um'
           else 'QEMU TCG: every guest instruction is emulated')
    return '\n'.join([
        f'# Writeback event cost, row {row}', '',
        f'Machine: {machine}.  Row {row} config (suites off, '
        f'wb_trace_cost on), {how}; kernels: {", ".join(variants)}.  ns per '
        f'event in the guest; each sample is the mean of a batch of events, '
        f'median/min/max of the samples.', '',
        *table(mine), '', *verdicts(mine), '',
        'Commands: `make bench BENCH=cost [ROWS=x86_64,um]` (`python3 '
        'tools/bench.py --tree $(cat work/tree-path) --part cost '
        '[--rows ...] [--variants base,v1,v2]`).', ''])


def run(tree: Path, variants: list[str], row_names: str = '') -> list[Cost]:
    """Every variant's figures on every row (ROWS unless row_names), in
    order; a failed variant or row has none."""
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise SeriesError(f'unknown variant(s) {", ".join(bad)}; known: '
                          f'{", ".join(VARIANTS)}')
    rows = rowsmod.select(rowsmod.load_rows(), row_names or ','.join(ROWS))
    spec = load_spec()
    costs: list[Cost] = []
    for variant in variants:
        costs += run_variant(variant, tree, rows, spec)
    return costs


def merge_section(old: str, new: str) -> str:
    """old with the '# ' section that new starts with replaced (or
    appended): each part of `make bench` keeps the other's figures."""
    title = new.splitlines()[0]
    parts = [p.rstrip('\n') + '\n' for p in re.split(r'(?m)^(?=# )', old)
             if p.strip()]
    new = new.rstrip('\n') + '\n'
    for i, p in enumerate(parts):
        if p.splitlines()[0] == title:
            parts[i] = new
            break
    else:
        parts.append(new)
    return '\n'.join(parts)
