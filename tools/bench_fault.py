# SPDX-License-Identifier: GPL-2.0
"""`make bench BENCH=fault`: hugetlb faults and huge_pte_lock(), split
page-table locks against the per-mm lock.

Two kernels of the series, built from one throwaway worktree of the
prepared tree (<work>/bench-fault/linux) into <work>/bench-fault/build/
<variant>, with the x86_64 row's config, the series' suites off and the
in-kernel bench (kunit/bench/hugetlb_ptlock_bench.c) on:

  split    the row's config as is (CONFIG_NR_CPUS=8): SPLIT_PMD_PTLOCKS=y
  unsplit  the same plus CONFIG_NR_CPUS=2: mm/Kconfig's SPLIT_PTE_PTLOCKS
           needs NR_CPUS >= 4, so SPLIT_PMD_PTLOCKS is off and every
           hugetlb entry takes mm->page_table_lock; -smp 2 still boots.
           The final .config files then differ in NR_CPUS,
           SPLIT_PTE_PTLOCKS, SPLIT_PMD_PTLOCKS and
           HUGETLB_PMD_PAGE_TABLE_SHARING (fs/Kconfig: depends on
           SPLIT_PMD_PTLOCKS; it shares only PMD tables of shared
           mappings spanning an aligned GiB, none of the bench's); the
           report prints the difference of each run.

Each boot runs, in one guest: the KUnit case hugetlb_ptlock_bench (lock
acquisitions per second, T kthreads on different CPUs, entries in
different PMD tables), then, because the command line has no
kunit_shutdown=, init: kunit/bench/hugetlb_fault_user.c, built static
with the host's gcc and packed as an initramfs (tools/initramfs.py),
which prints faults per second and wall time of T threads faulting 2M
pages, and restarts the guest.  QEMU is started here, not by kunit.py:
kunit.py's x86_64 command line ends with kunit_shutdown=reboot
(kunit_kernel.py), which ends the boot right after the KUnit tests, before
init.  The boots alternate split, unsplit, split, ... (--runs each), so
drift on a shared machine hits both alike; builds and boots hold the
machine's build lock (paths.kbuild_lock()).

The vCPU count (--vcpus) and QEMU's accelerator (--accel, default kvm
when /dev/kvm is usable, else multi-threaded TCG) are parameters: on a
big machine `--vcpus 16 --accel kvm` gives the scaling curve.

smoke() is `make test`'s check that the user-space part still works: it
boots the x86_64 row's kernel the matrix has just built (its config has
CONFIG_BLK_DEV_INITRD for this) with a few iterations; no kernel build.
"""

from __future__ import annotations

import os
import re
import shlex
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import bench_cost
import buildlock
import initramfs
import paths
import rows as rowsmod
from bench_cost import coarse_clock, drop_worktree, load_spec
from console import tail
from paths import SeriesError
from runner import ccache_env, run_logged

VARIANTS = ('split', 'unsplit')
ROW = 'x86_64'
# What the unsplit kernel adds to the split one's config; nothing else.
UNSPLIT = {'CONFIG_NR_CPUS': '2'}
SPEC = paths.BENCH_FAULT_TOML
USER_SRC = paths.BENCH_FAULT_USER
BUILD_TIMEOUT = 5400
KERNEL_IMAGE = 'arch/x86/boot/bzImage'


@dataclass(frozen=True)
class Params:
    """What one boot does; the defaults are `make bench`'s."""
    vcpus: int = 2
    accel: str = 'auto'
    runs: int = 5
    kernel_ms: int = 500        # per in-kernel sample
    kernel_samples: int = 1     # per boot and thread count
    iters: int = 60             # faults per thread (mmap, dontneed)
    pages: int = 16             # touch2013: N
    touches: int = 10
    rounds: int = 4
    timeout: int = 300          # s per boot

    def hugepages(self) -> int:
        """Enough 2M pages for every test (each thread holds one)."""
        return max(self.pages, self.vcpus) + 16


TCG = 'tcg,thread=multi'
# The smoke: a few faults per test, a few seconds of TCG per boot.  TCG
# even where /dev/kvm opens: on an Intel host of this machine kind
# (itself a VM) a KVM guest spent 60 s in the host kernel without one
# line of output, and once stopped on "KVM internal error ... emulation
# failure" (a cmpxchg16b in SLUB), where TCG boots it in 2 s.
SMOKE = Params(accel=TCG, runs=1, iters=4, pages=4, touches=2, rounds=1,
               timeout=180)
# A KVM guest that works prints the smoke's figures in about a second.
KVM_PROBE_TIMEOUT = 30


@dataclass(frozen=True)
class Sample:
    variant: str
    part: str           # kernel | user
    test: str           # lock | mmap | dontneed | touch2013
    threads: int
    rate: float         # acquisitions/s or faults/s
    wall: float = 0.0   # s (user space)


@dataclass
class Boot:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: bool = False          # init said "done status=ok"


KERNEL_RE = re.compile(r'#\s+hugetlb_ptlock_bench_lock_rate:\s+'
                       r'threads=(\d+)\s+split=(\d)\s.*?per_s=(\d+)')
USER_RE = re.compile(r'fault_bench: test=(\w+) threads=(\d+) faults=(\d+) '
                     r'wall_ns=(\d+) faults_per_s=([\d.]+)')
USER_ERR_RE = re.compile(r'fault_bench: test=(\w+) threads=(\d+) '
                         r'error=(.*)$')
KTAP_FAIL_RE = re.compile(r'not ok \d+ (hugetlb_ptlock_bench\S*)')


def parse(console: str, variant: str) -> Boot:
    """A boot's figures, and what went wrong in it."""
    b = Boot()
    for line in console.splitlines():
        if m := KERNEL_RE.search(line):
            b.samples.append(Sample(variant, 'kernel', 'lock',
                                    int(m.group(1)), float(m.group(3))))
            want = '1' if variant == 'split' else '0'
            if variant in VARIANTS and m.group(2) != want:
                b.errors.append(f'{variant} kernel reports split='
                                f'{m.group(2)}')
        elif m := USER_RE.search(line):
            b.samples.append(Sample(variant, 'user', m.group(1),
                                    int(m.group(2)), float(m.group(5)),
                                    int(m.group(4)) / 1e9))
        elif m := USER_ERR_RE.search(line):
            b.errors.append(f'{m.group(1)} threads={m.group(2)}: '
                            f'{m.group(3).strip()}')
        elif m := KTAP_FAIL_RE.search(line):
            b.errors.append(f'KUnit: not ok {m.group(1)}')
        elif 'fault_bench: done status=ok' in line:
            b.done = True
    if not b.done:
        b.errors.append('init did not finish (no "fault_bench: done '
                        'status=ok")')
    return b


def accel(value: str) -> str:
    if value != 'auto':
        return value
    return 'kvm' if os.access('/dev/kvm', os.R_OK | os.W_OK) else TCG


def resolve_accel(p: Params, row: rowsmod.Row, initrd: Path) -> Params:
    """p with 'auto' made concrete: kvm only when /dev/kvm opens and
    the smoke boots on it (nested KVM can open and still not run a
    guest, see SMOKE), else TCG; says which and why."""
    if accel(p.accel) != 'kvm' or p.accel != 'auto':
        return replace(p, accel=accel(p.accel))
    log = paths.bench_fault_dir() / 'kvm-probe-console.log'
    probe = replace(SMOKE, vcpus=p.vcpus, accel='kvm',
                    timeout=KVM_PROBE_TIMEOUT)
    b = boot(qemu_cmd(build_dir(VARIANTS[0]) / KERNEL_IMAGE, initrd, row,
                      probe, kunit=False), log, 'kvm probe', probe.timeout,
             fine_clock=False)
    if b.done and not b.errors:
        print('bench: fault: the KVM probe booted: -accel kvm', flush=True)
        return replace(p, accel='kvm')
    print(f'bench: fault: /dev/kvm opens but the KVM probe did not boot '
          f'({"; ".join(b.errors)}; console in {log}): -accel {TCG}',
          flush=True)
    return replace(p, accel=TCG)


def qemu_args(row: rowsmod.Row, p: Params) -> list[str]:
    """The row's QEMU arguments with -smp from p, and the accelerator."""
    out: list[str] = []
    for a in row.qemu_args:
        words = shlex.split(a)
        if words and words[0] != '-smp':
            out += words
    return [*out, '-smp', str(p.vcpus), '-accel', accel(p.accel)]


def cmdline(p: Params, kunit: bool) -> str:
    """Kernel arguments: no kunit_shutdown (init must run), the bench's
    2M pages only (no 1G page to populate), init's parameters (key=value
    words without a dot reach init's environment)."""
    words = ['console=ttyS0', 'panic=-1', 'hugepagesz=2M',
             f'hugepages={p.hugepages()}']
    if kunit:
        words += ['kunit.filter_glob=hugetlb_ptlock_bench',
                  f'hugetlb_ptlock_bench.ms={p.kernel_ms}',
                  f'hugetlb_ptlock_bench.samples={p.kernel_samples}']
    else:
        words.append('kunit.enable=0')
    words += [f'fault_iters={p.iters}', f'fault_pages={p.pages}',
              f'fault_touches={p.touches}', f'fault_rounds={p.rounds}',
              f'fault_maxthreads={p.vcpus}']
    return ' '.join(words)


def qemu_cmd(kernel: Path, initrd: Path, row: rowsmod.Row, p: Params,
             kunit: bool) -> list[str]:
    """kunit.py's x86_64 QEMU command (kunit_kernel.py, qemu_configs/
    x86_64.py) plus -initrd, without kunit_shutdown."""
    return ['qemu-system-x86_64', '-nodefaults', '-m', '1024',
            '-kernel', str(kernel), '-initrd', str(initrd),
            '-append', cmdline(p, kunit), '-no-reboot', '-nographic',
            '-serial', 'stdio', '-bios', 'qboot.rom', *qemu_args(row, p)]


def boot(cmd: list[str], log: Path, variant: str, timeout: int,
         fine_clock: bool = True) -> Boot:
    """One boot (the caller holds the build lock); with fine_clock, a
    guest whose clock fell back to jiffies is booted again, as in
    bench_cost (its figures would be multiples of a tick)."""
    b = Boot(errors=['not booted'])
    for attempt in range(1, bench_cost.CLOCK_TRIES + 1):
        rc, timed_out = run_logged(cmd, paths.REPO, log, timeout)
        console = log.read_text(errors='replace')
        if fine_clock and coarse_clock(console):
            print(f'bench: fault: {variant}: the guest timed with jiffies '
                  f'(boot {attempt}); booted again', flush=True)
            continue
        b = parse(console, variant)
        if timed_out:
            b.errors.append(f'timed out after {timeout}s')
        break
    return b


def variant_config(row: rowsmod.Row, variant: str) -> str:
    spec = load_spec(SPEC)
    entries = rowsmod.parse_config(bench_cost.bench_config(row, spec))
    if variant == 'unsplit':
        entries.update(UNSPLIT)
    return rowsmod.render_config(
        [f'bench-fault: row {row.name}, suites off, {spec.name} on, '
         f'{variant}'], entries)


def build_dir(variant: str) -> Path:
    return paths.bench_fault_dir() / 'build' / variant


def build(wt: Path, row: rowsmod.Row, variant: str) -> dict[str, str]:
    """kunit.py build (the caller holds the lock); the final .config,
    checked against what the variant means."""
    bdir = build_dir(variant)
    bdir.mkdir(parents=True, exist_ok=True)
    cfg = paths.bench_fault_dir() / f'{variant}.kunitconfig'
    cfg.write_text(variant_config(row, variant))
    make_options, env = ccache_env(paths.bench_fault_dir())
    cmd = [sys.executable, str(paths.kunit_py(wt)), 'build',
           *row.arch_args(), f'--build_dir={bdir}',
           f'--kunitconfig={cfg}', f'--jobs={os.cpu_count() or 2}',
           '--make_options', make_options]
    t0 = time.monotonic()
    log = paths.bench_fault_dir() / f'{variant}-build.log'
    rc, _ = run_logged(cmd, wt, log, BUILD_TIMEOUT, env)
    if rc != 0:
        raise SeriesError(f'{variant} kernel: kunit.py build exit {rc}:\n'
                          f'{tail(log.read_text(errors="replace"), 30)}')
    final = rowsmod.parse_config((bdir / '.config').read_text())
    split = final.get('CONFIG_SPLIT_PMD_PTLOCKS', 'n') == 'y'
    if split != (variant == 'split'):
        raise SeriesError(f'{variant} kernel: CONFIG_SPLIT_PMD_PTLOCKS='
                          f'{"y" if split else "n"} in {bdir}/.config')
    print(f'bench: fault: {variant} kernel built in '
          f'{time.monotonic() - t0:.0f}s', flush=True)
    return final


def config_diff(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Every option whose value differs: 'NAME: a -> b'."""
    return [f'{k}: {a.get(k, "n")} -> {b.get(k, "n")}'
            for k in sorted(set(a) | set(b))
            if a.get(k, 'n') != b.get(k, 'n')]


@dataclass
class Result:
    samples: list[Sample]
    errors: list[str]
    diff: list[str]
    params: Params


def build_all(tree: Path, row: rowsmod.Row,
              spec: bench_cost.BenchSpec) -> dict[str, dict[str, str]]:
    """Both kernels from one worktree of the series; their .config (the
    caller holds the lock)."""
    wt = paths.bench_fault_dir() / 'linux'
    finals = {}
    try:
        bench_cost.make_worktree(tree, wt, [paths.PATCH_DIR / n for n in
                                            paths.patches()], spec)
        for v in VARIANTS:
            finals[v] = build(wt, row, v)
    finally:
        drop_worktree(tree, wt)
    return finals


def built() -> dict[str, dict[str, str]]:
    """The kernels an earlier run left, if both are there: their .config
    (--fault-reuse: boots again without building)."""
    out = {}
    for v in VARIANTS:
        cfg = build_dir(v) / '.config'
        if not (build_dir(v) / KERNEL_IMAGE).exists() or not cfg.exists():
            return {}
        out[v] = rowsmod.parse_config(cfg.read_text())
    print('bench: fault: booting the kernels of an earlier run (no build)',
          flush=True)
    return out


def run(tree: Path, p: Params, reuse: bool = False) -> Result:
    """Build both kernels (reuse: those an earlier run built, if any),
    then p.runs boots of each, alternating."""
    row = rowsmod.select(rowsmod.load_rows(), ROW)[0]
    spec = load_spec(SPEC)
    folder = paths.bench_fault_dir()
    folder.mkdir(parents=True, exist_ok=True)
    initrd = initramfs.write(USER_SRC, folder)
    # One hold of the lock for the builds and the boots: released in
    # between, a waiting 3-kernel benchmark took it before the boots.
    with buildlock.held('bench: fault'):
        finals = built() if reuse else {}
        if not finals:
            finals = build_all(tree, row, spec)
        res = Result([], [], config_diff(finals['split'],
                                         finals['unsplit']),
                     resolve_accel(p, row, initrd))
        print(f'bench: fault: split -> unsplit .config: '
              f'{"; ".join(res.diff)}', flush=True)
        boots(res, row, initrd)
    return res


def boots(res: Result, row: rowsmod.Row, initrd: Path) -> None:
    """p.runs boots of each kernel, alternating; a boot without a single
    figure ends the run (the next would fail alike, each up to
    p.timeout)."""
    p, folder = res.params, paths.bench_fault_dir()
    for n in range(p.runs):
        for v in VARIANTS:
            t0 = time.monotonic()
            log = folder / f'{v}-{n}-console.log'
            b = boot(qemu_cmd(build_dir(v) / KERNEL_IMAGE, initrd, row, p,
                              kunit=True), log, v, p.timeout)
            res.samples += b.samples
            res.errors += [f'{v} boot {n + 1}: {e}' for e in b.errors]
            print(f'bench: fault: {v} boot {n + 1}/{p.runs}: '
                  f'{len(b.samples)} figures, {len(b.errors)} errors, '
                  f'{time.monotonic() - t0:.0f}s', flush=True)
            if not b.samples:
                print(tail(log.read_text(errors='replace'), 30))
                res.errors.append(f'{v} boot {n + 1} gave no figure: '
                                  f'stopped')
                return


def smoke(p: Params = SMOKE) -> tuple[bool, str]:
    """Boot the x86_64 row's built kernel with the user-space bench; ok
    when every test printed a figure for every thread count."""
    row = rowsmod.select(rowsmod.load_rows(), ROW)[0]
    kernel = paths.build_root() / ROW / KERNEL_IMAGE
    if not kernel.exists():
        return False, f'{kernel} missing (the matrix builds it)'
    folder = paths.bench_fault_dir() / 'smoke'
    folder.mkdir(parents=True, exist_ok=True)
    try:
        initrd = initramfs.write(USER_SRC, folder)
    except SeriesError as e:
        return False, str(e)
    log = folder / 'console.log'
    # No lock here: the smoke is part of `make test`, whose matrix boots
    # take none either, and a caller holding /tmp/kbuild.lock around
    # `make test` (flock(1)) would wait for itself forever.
    # The smoke checks that every figure is printed, not their values: a
    # guest on jiffies (its TSC calibration fails on a loaded machine:
    # three boots in a row here while a build ran beside) still counts.
    b = boot(qemu_cmd(kernel, initrd, row, p, kunit=False), log, 'smoke',
             p.timeout, fine_clock=False)
    tests = {(s.test, s.threads) for s in b.samples}
    want = {(t, n) for t in ('mmap', 'dontneed', 'touch2013')
            for n in thread_counts(p.vcpus)}
    missing = sorted(want - tests)
    errors = b.errors + [f'no figure for {t} threads={n}'
                         for t, n in missing]
    return not errors, '; '.join(errors) or \
        f'{len(b.samples)} figures, console in {log}'


def thread_counts(vcpus: int) -> list[int]:
    """1, 2, 4 ... up to vcpus, as the guest's programs count."""
    out, t = [], 1
    while t <= vcpus:
        out.append(t)
        t *= 2
    return out


# ------------------------------------------------------------ the table --

@dataclass(frozen=True)
class Stat:
    median: float
    low: float
    high: float
    n: int
    wall: float     # median wall time, s (user space; 0 in the kernel)


def stat(samples: list[Sample]) -> Optional[Stat]:
    if not samples:
        return None
    rates = [s.rate for s in samples]
    return Stat(statistics.median(rates), min(rates), max(rates),
                len(rates), statistics.median(s.wall for s in samples))


TESTS = (('kernel', 'lock', 'huge_pte_lock() acquisitions/s'),
         ('user', 'mmap', 'mmap/touch/munmap faults/s'),
         ('user', 'dontneed', 'touch/MADV_DONTNEED faults/s'),
         ('user', 'touch2013', '2013 shape: N pages x T threads, faults/s'))


def _cell(s: Optional[Stat]) -> str:
    if s is None:
        return '- | - | - | -'
    wall = f'{s.wall:.2f}' if s.wall else '-'
    return f'{s.median:.0f} | {s.low:.0f} | {s.high:.0f} | {wall}'


def table(samples: list[Sample]) -> list[str]:
    lines = ['| test | threads | split median | min | max | wall s '
             '| unsplit median | min | max | wall s | split/unsplit | n |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for part, test, title in TESTS:
        counts = sorted({s.threads for s in samples
                         if (s.part, s.test) == (part, test)})
        for t in counts:
            st = {v: stat([s for s in samples if (s.part, s.test, s.threads,
                                                  s.variant) ==
                           (part, test, t, v)]) for v in VARIANTS}
            sp, un = st['split'], st['unsplit']
            ratio = f'{sp.median / un.median:.2f}' \
                if sp and un and un.median else '-'
            n = '/'.join(str(x.n if x else 0) for x in (sp, un))
            lines.append(f'| {title} | {t} | {_cell(sp)} | {_cell(un)} | '
                         f'{ratio} | {n} |')
    return lines


def report(res: Result, machine: str) -> str:
    p = res.params
    return '\n'.join([
        '# hugetlb fault and PT lock scalability', '',
        f'Machine: {machine}.  Guest: -smp {p.vcpus}, -accel '
        f'{accel(p.accel)}.  Row {ROW} config (suites off, '
        f'hugetlb_ptlock_bench on); unsplit = split + '
        f'{", ".join(f"{k}={v}" for k, v in UNSPLIT.items())}; the two '
        f'final .config files differ in: {"; ".join(res.diff) or "-"}.  '
        f'{p.runs} boots of each kernel, alternating; per boot '
        f'{p.kernel_samples} in-kernel sample(s) of {p.kernel_ms} ms per '
        f'thread count, and each user-space test once ({p.iters} faults '
        f'per thread; 2013 shape: N={p.pages} pages, {p.touches} touches, '
        f'{p.rounds} rounds).  Median/min/max over the samples (n = '
        f'split/unsplit); wall s = median wall time of a test.', '',
        *table(res.samples), '',
        *([f'Errors: {"; ".join(res.errors)}', ''] if res.errors else []),
        'Commands: `make bench BENCH=fault` (`python3 tools/bench.py --tree '
        '$(cat work/tree-path) --part fault [--fault-vcpus N] '
        '[--fault-accel kvm] [--fault-runs N]`).', ''])
