# SPDX-License-Identifier: GPL-2.0
"""Run one matrix row with kunit.py and judge it.

  run_row()    prepare the row's results folder, build (kunit.py build,
               skipped when none of its inputs changed), check the final
               .config, boot and test (kunit.py exec --json), judge.
               start() + build() + boot_and_judge() are its steps, for
               a caller that boots one row while it builds the next.

kunit.py builds, boots and parses the KTAP; this adds what a matrix needs
on top: a check that every option a row asked for survived, a console scan
for splats KUnit cannot see, must-run suites, the values the suites report
against the row and its .config, and a hard timeout around everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import ktap
import paths
import rows as rowsmod
import suites
from console import scan_build_warnings, scan_reports, scan_splats, tail
from results import RowResult, Status

KILL_MARGIN = 60    # s after kunit.py's own --timeout before we kill it
BUILD_TIMEOUT = 3600
PROGRESS_EVERY = 20.0  # s between progress lines of a build
STAMP = 'matrix-stamp.json'      # in the build folder: inputs of the build
SAVED_LOG = 'matrix-build.log'   # ... and its log, for a skipped build


def kunit_args(row: rowsmod.Row, build_dir: Path) -> list[str]:
    """kunit.py's config options for a row (build, exec, config)."""
    args = [*row.arch_args(), f'--build_dir={build_dir}']
    args += [f'--kunitconfig={paths.REPO / frag}' for frag in row.kunitconfigs]
    for opt in row.options:
        args += ['--kconfig_add', opt]
    return args


# Every row's kernel: panic=-1 reboots (kunit.py sees the end) instead of
# hanging; pty.legacy_count=0 skips registering 256 BSD pty pairs, which
# took 0.75-2.4 s of the PREEMPT_RT and debug rows' boots (initcall_debug:
# pty_init) and no test uses.
COMMON_KERNEL_ARGS = ('panic=-1', 'pty.legacy_count=0')


def boot_args(row: rowsmod.Row) -> list[str]:
    """kunit.py's boot options for a row (exec and the reproducer)."""
    return ([f'--timeout={row.timeout}'] +
            [f'--qemu_args={a}' for a in row.qemu_args] +
            [f'--kernel_args={a}'
             for a in (*COMMON_KERNEL_ARGS, *row.kernel_args)])


def ccache_env(work: Path, cross: str = '') -> tuple[str, dict[str, str]]:
    """kunit.py --make_options for the compiler, and ccache's settings.

    ccache's depend mode takes the compiler's own -MMD output instead of
    running the preprocessor a second time: a cold build (CI) pays no
    ccache overhead, and a warm one still hits.  With the work folder as
    base_dir, the absolute source paths in each command line are hashed
    relative to the build folder (../../linux/...), so a fresh clone
    elsewhere and the other 6.12.y trees of `make check-bases` hit the
    same cache entries.
    """
    if not shutil.which('ccache'):
        return f'CC={cross}gcc', {}
    return f'CC=ccache {cross}gcc', {
        'CCACHE_DEPEND': os.environ.get('CCACHE_DEPEND', '1'),
        'CCACHE_BASEDIR': os.environ.get('CCACHE_BASEDIR', str(work))}


# kunit.py processes running now, for kill_all(): boots run in worker
# threads (tools/matrix.py), where no KeyboardInterrupt arrives.
LIVE: set[subprocess.Popen[bytes]] = set()
LIVE_LOCK = threading.Lock()


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """End kunit.py and everything it started (QEMU, make, gcc).

    They run in their own session, so a Ctrl-C in the terminal never
    reaches them: SIGTERM, then SIGKILL for whatever is left of the group
    (a QEMU that outlived kunit.py) once kunit.py is gone or after 10 s.
    """
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass


def run_logged(cmd: list[str], cwd: Path, logf: Path, timeout: int,
               env: Optional[dict[str, str]] = None) -> tuple[int, bool]:
    """Run cmd in its own process group, output to logf; (rc, timed_out)."""
    with logf.open('w') as fh:
        fh.write('$ ' + ' '.join(cmd) + '\n')
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                env={**os.environ, **(env or {})},
                                start_new_session=True)
        with LIVE_LOCK:
            LIVE.add(proc)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return -1, True
        except KeyboardInterrupt:
            kill_group(proc)
            raise
        finally:
            with LIVE_LOCK:
                LIVE.discard(proc)


def kill_all() -> None:
    """End every kunit.py run_logged() started and has not reaped."""
    with LIVE_LOCK:
        procs = list(LIVE)
    for proc in procs:
        kill_group(proc)


def compiler_version() -> str:
    try:
        return subprocess.run(['gcc', '--version'], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return 'gcc'


# ------------------------------------------------------------- building --

@dataclass
class RowRun:
    """One row in flight: where it builds and writes, what it found."""
    row: rowsmod.Row
    tree: Path
    build_dir: Path
    out: Path
    jobs: int
    res: RowResult

    def build_cmd(self, make_options: str) -> list[str]:
        return [sys.executable, str(paths.kunit_py(self.tree)), 'build',
                *kunit_args(self.row, self.build_dir), f'--jobs={self.jobs}',
                '--make_options', make_options]


@dataclass
class Inputs:
    """What a row's build depends on: `key`, a hash of all of it; `config`,
    of everything but the tree (compiler, fragments, kunit.py's
    arguments); `tree`, the tree's commit, which stands for the kernel
    source and the suites (they are patches of the series).  All '' when
    unknown: a tree with local changes never skips."""
    key: str = ''
    config: str = ''
    tree: str = ''


def build_inputs(run: RowRun, cmd: list[str]) -> Inputs:
    head = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=run.tree,
                          capture_output=True, text=True)
    dirty = subprocess.run(['git', 'status', '--porcelain', '-uno'],
                           cwd=run.tree, capture_output=True, text=True)
    if head.returncode != 0 or dirty.returncode != 0 or dirty.stdout.strip():
        return Inputs()
    frags = [(paths.REPO / f).read_text() for f in run.row.kunitconfigs]
    parts = [compiler_version(), *frags,
             *[c for c in cmd if not c.startswith('--jobs=')]]
    key, config = hashlib.sha256(), hashlib.sha256()
    for part in parts:
        # The fragments' contents count, not where the checkout is: a
        # copy of the repository (make bench's) shares the build folders.
        config.update(part.replace(str(paths.REPO), '<repo>').encode() +
                      b'\0')
    for part in [head.stdout, *parts]:
        key.update(part.encode() + b'\0')
    return Inputs(key.hexdigest(), config.hexdigest(), head.stdout.strip())


# A changed file that can change what olddefconfig makes of a .config.
KCONFIG_RE = re.compile(r'(^|/)Kconfig[^/]*$|^scripts/kconfig/')
# kunit.py's make line ("Building with:\n$ make all ..."), which
# run_logged() also writes first.
MAKE_LINE_RE = re.compile(r'^\$ make all compile_commands\.json (.*)$',
                          re.MULTILINE)


def make_only_cmd(run: RowRun, stamp: dict[str, object], inputs: Inputs,
                  make_options: str) -> Optional[list[str]]:
    """kunit.py's own make command, when only the tree's commit changed
    since the row's last build and no Kconfig file changed with it: the
    .config is then what kunit.py's olddefconfig (5.8 s of a 17.5 s
    rebuild of the x86_64 row after a suite edit) would write again.
    None when kunit.py build must run."""
    old = stamp.get('tree')
    if not inputs.config or stamp.get('config') != inputs.config or \
            not isinstance(old, str) or not (run.build_dir / '.config')\
            .exists() or stamp.get('vmlinux') != vmlinux_stamp(run.build_dir):
        return None
    diff = subprocess.run(['git', 'diff', '--name-only', old, inputs.tree],
                          cwd=run.tree, capture_output=True, text=True)
    if diff.returncode != 0 or any(KCONFIG_RE.search(f)
                                   for f in diff.stdout.split()):
        return None
    try:
        m = MAKE_LINE_RE.search((run.build_dir / SAVED_LOG).read_text(
            errors='replace'))
    except OSError:
        return None
    words = m.group(1).split() if m else []
    arch = [w for w in words if w.startswith('ARCH=')]
    cross = [w for w in words if w.startswith('CROSS_COMPILE=')]
    if len(arch) != 1:
        return None
    return ['make', 'all', 'compile_commands.json', arch[0],
            f'O={run.build_dir}', f'--jobs={run.jobs}', make_options, *cross]


def vmlinux_stamp(build_dir: Path) -> Optional[int]:
    """The kernel's mtime: a build folder someone rebuilt by hand (a
    reproducer, kunit.py run) is not the one the stamp describes."""
    try:
        return (build_dir / 'vmlinux').stat().st_mtime_ns
    except OSError:
        return None


def read_stamp(build_dir: Path) -> dict[str, object]:
    try:
        data = json.loads((build_dir / STAMP).read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


class BuildProgress:
    """A line every PROGRESS_EVERY s while a kernel builds: objects
    compiled so far, elapsed time and, from the object count of an
    earlier full build (`expect`; by default the row's last one), an
    estimate.  who ("matrix: [x86_64]") starts each line."""

    def __init__(self, who: str, build_dir: Path,
                 expect: Optional[object] = None) -> None:
        self.who, self.build_dir, self.t0 = who, build_dir, time.time()
        self.expect = expect if expect is not None else \
            read_stamp(build_dir).get('objects')
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def objects(self, since: float = 0.0) -> int:
        """Object files in the build folder written since `since`."""
        n = 0
        for dirpath, _, files in os.walk(self.build_dir):
            for f in files:
                if f.endswith('.o'):
                    try:
                        n += os.stat(os.path.join(dirpath, f)).st_mtime >= \
                            since
                    except OSError:
                        pass
        return n

    def loop(self) -> None:
        while not self.stop.wait(PROGRESS_EVERY):
            done, secs = self.objects(self.t0), time.time() - self.t0
            est = ''
            if isinstance(self.expect, int) and self.expect > 0 and done:
                pct = min(99, 100 * done // self.expect)
                left = secs * max(self.expect - done, 0) / done
                est = f' of ~{self.expect} ({pct}%), ~{left:.0f}s left'
            print(f'{self.who} building: {done} objects compiled{est}, '
                  f'{secs:.0f}s elapsed', flush=True)

    def __enter__(self) -> BuildProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def logged_build(run: RowRun, cmd: list[str], env: dict[str, str]) \
        -> tuple[int, bool]:
    log = run.out / 'build.log'
    rc, timed_out = run_logged(cmd, run.tree, log, BUILD_TIMEOUT, env)
    if rc != 0 and 'fixdep: error opening file' in \
            log.read_text(errors='replace'):
        # A build killed mid-compile can leave a ccache result without
        # its dependency file; rebuild once, refreshing the entries.
        shutil.move(log, run.out / 'build-1.log')
        rc, timed_out = run_logged(cmd, run.tree, log, BUILD_TIMEOUT,
                                   {**env, 'CCACHE_RECACHE': '1'})
    return rc, timed_out


def kunit_build(run: RowRun) -> tuple[int, bool]:
    """kunit.py build; only its make when the configuration is the last
    build's; nothing when no input changed."""
    make_options, env = ccache_env(
        Path(os.path.commonpath([run.tree, run.build_dir])),
        run.row.cross_compile)
    cmd = run.build_cmd(make_options)
    inputs = build_inputs(run, cmd)
    stamp = read_stamp(run.build_dir)
    if inputs.key and stamp.get('inputs') == inputs.key and \
            stamp.get('vmlinux') == vmlinux_stamp(run.build_dir) and \
            (run.build_dir / SAVED_LOG).exists():
        shutil.copyfile(run.build_dir / SAVED_LOG, run.out / 'build.log')
        run.res.build_skipped = True
        if (stamp.get('config'), stamp.get('tree')) != (inputs.config,
                                                        inputs.tree):
            # A stamp from before these fields: the next build may then
            # be make only.
            (run.build_dir / STAMP).write_text(json.dumps(
                {**stamp, 'config': inputs.config, 'tree': inputs.tree}) +
                '\n')
        return 0, False
    make = make_only_cmd(run, stamp, inputs, make_options)
    if make:
        print(f'matrix: [{run.row.name}] configuration as last built: '
              f'make only', flush=True)
    (run.build_dir / STAMP).unlink(missing_ok=True)
    with BuildProgress(f'matrix: [{run.row.name}]', run.build_dir) \
            as progress:
        rc, timed_out = logged_build(run, make or cmd, env)
    if rc == 0 and inputs.key:
        # The whole build's object count: the estimate of the next cold
        # build of this row.
        shutil.copyfile(run.out / 'build.log', run.build_dir / SAVED_LOG)
        (run.build_dir / STAMP).write_text(json.dumps(
            {'inputs': inputs.key, 'config': inputs.config,
             'tree': inputs.tree, 'objects': progress.objects(),
             'vmlinux': vmlinux_stamp(run.build_dir)}) + '\n')
    return rc, timed_out


def build(run: RowRun) -> Optional[dict[str, str]]:
    """Build the row; the final .config, or None when the build failed."""
    t0 = time.monotonic()
    rc, timed_out = kunit_build(run)
    run.res.build_seconds = round(time.monotonic() - t0, 1)
    config = run.build_dir / '.config'
    if config.exists():
        shutil.copyfile(config, run.out / 'config')
    log = (run.out / 'build.log').read_text(errors='replace')
    if rc != 0:
        run.res.reasons.append(
            'build timed out' if timed_out else
            f'kunit.py build failed (exit {rc}); see '
            f'results/{run.row.name}/build.log')
        run.res.console_excerpt = tail(log)
        return None
    run.res.build_ok = True
    # A warning in a build that otherwise succeeds is still a defect a
    # reviewer would reject (the base builds warning-free in every row).
    run.res.reasons += [f'build warning: {w}'
                        for w in scan_build_warnings(log)]
    final = rowsmod.parse_config(config.read_text())
    missing = rowsmod.missing_options(run.row.config_entries(), final)
    if missing:
        run.res.reasons.append('options not in the final .config: ' +
                               ', '.join(missing))
    return final


# ---------------------------------------------------------------- booting --

def boot(run: RowRun) -> tuple[str, int]:
    """kunit.py exec; (console, kunit.py's exit code).  kunit.py enforces
    row.timeout on QEMU/UML, this a hard limit on kunit.py itself."""
    out, row = run.out, run.row
    cmd = [sys.executable, str(paths.kunit_py(run.tree)), 'exec',
           *kunit_args(row, run.build_dir), *boot_args(row),
           f'--json={out / "kunit.json"}']
    test_log = run.build_dir / 'test.log'
    test_log.unlink(missing_ok=True)
    t0 = time.monotonic()
    rc, timed_out = run_logged(cmd, run.tree, out / 'kunit.log',
                               row.timeout + KILL_MARGIN)
    run.res.boot_seconds = round(time.monotonic() - t0, 1)
    console = test_log.read_text(errors='replace') if test_log.exists() \
        else ''
    (out / 'console.log').write_text(console)
    kunit_out = (out / 'kunit.log').read_text(errors='replace')
    if timed_out or 'Timeout Expired' in kunit_out or \
            'timed out' in kunit_out.lower():
        run.res.reasons.append(f'boot+test timed out after {row.timeout}s; '
                               f'last console lines:\n{tail(console, 15)}')
    return console, rc


def read_cases(run: RowRun, console: str) -> None:
    """kunit.py's JSON, annotated from the console; ktap.txt."""
    out, res = run.out, run.res
    if (out / 'kunit.json').exists():
        try:
            res.cases = ktap.flatten_json(json.loads(
                (out / 'kunit.json').read_text()), [])
        except ValueError:
            res.reasons.append('kunit.py wrote invalid JSON')
    (out / 'ktap.txt').write_text(ktap.case_timing(console, res.cases))
    if not res.cases:
        res.reasons.append('no KUnit results (kernel crashed or no tests '
                           'ran); last console lines:\n' + tail(console, 15))
    res.reasons += [f'{c.name}: {c.status.value}' for c in res.cases
                    if c.status.failed]


# ---------------------------------------------------------------- judging --

def check_expect(expect: dict[str, str], reports: dict[str, str]) -> list[str]:
    bad = []
    for key, want in sorted(expect.items()):
        got = reports.get(key)
        if got is None:
            bad.append(f'expected {key}={want}, but no suite reported {key}')
        elif got != want:
            bad.append(f'expected {key}={want}, suite reported {key}={got}')
    return bad


def check_config_expect(expect: dict[str, str], derived: dict[str, str],
                        reports: dict[str, str]) -> list[str]:
    """A row's expectations must agree with its own final .config.

    A row that expects what its config cannot give is a wrong row; a value
    the row does not state is still checked against the config whenever a
    suite reports it.
    """
    bad = []
    for key, want in sorted(derived.items()):
        if key in expect:
            if expect[key] != want:
                bad.append(f'row expects {key}={expect[key]}, but its final '
                           f'.config implies {key}={want}')
        elif key in reports and reports[key] != want:
            bad.append(f'suite reported {key}={reports[key]}, but the final '
                       f'.config implies {key}={want}')
    return bad


def check_must_run(row: rowsmod.Row, res: RowResult) -> list[str]:
    counts = res.counts()
    bad = []
    for suite in row.must_run:
        c = counts.get(suite)
        if not c:
            bad.append(f'must-run suite {suite} is absent')
        elif not c.ran:
            bad.append(f'must-run suite {suite} was skipped')
    return bad


def skip_allowed(name: str, pattern: str) -> bool:
    """pattern matches name, "*" standing for any text; everything else,
    "[2048K]" included, is literal (not fnmatch's character classes)."""
    rx = '.*'.join(re.escape(part) for part in pattern.split('*'))
    return re.fullmatch(rx, name) is not None


def check_skips(row: rowsmod.Row, res: RowResult) -> list[str]:
    """Only the cases the row says cannot run here may skip: a failed
    reservation or a lost option must not make a row quieter."""
    bad = []
    for c in res.cases:
        if c.status is Status.SKIP and not any(
                skip_allowed(c.name, pat) for pat in row.may_skip):
            why = f' ({c.skip_reason})' if c.skip_reason else ''
            bad.append(f'unexpected skip: {c.name}{why}; the row\'s '
                       f'may_skip does not allow it')
    return bad


def judge(run: RowRun, console: str, rc: int, final: dict[str, str]) -> None:
    res, row = run.res, run.row
    res.reasons += check_must_run(row, res)
    res.reasons += check_skips(row, res)
    res.splats = scan_splats(console)
    if res.splats:
        res.reasons.append(f'console splat: {res.splats[0]}' +
                           (f' (+{len(res.splats) - 1} more)'
                            if len(res.splats) > 1 else ''))
    res.reports = scan_reports(console)
    res.reasons += check_expect(row.expect, res.reports)
    res.reasons += check_config_expect(row.expect,
                                       suites.config_expect(final),
                                       res.reports)
    if rc not in (0, 1) and not res.reasons:
        res.reasons.append(f'kunit.py exec exited {rc}')
    res.verdict = Status.FAIL if res.reasons else Status.PASS
    if res.reasons:
        kunit_out = (run.out / 'kunit.log').read_text(errors='replace')
        res.console_excerpt = tail(console or kunit_out, 40)


def start(row: rowsmod.Row, tree: Path, build_root: Path, jobs: int,
          out: Path) -> RowRun:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    build_dir = build_root / row.name
    build_dir.mkdir(parents=True, exist_ok=True)
    res = RowResult(row=row.name, arch=row.arch, description=row.description,
                    config_name=row.name, compiler=compiler_version(),
                    start_time=dt.datetime.now(dt.timezone.utc)
                    .isoformat(timespec='seconds'))
    return RowRun(row, tree, build_dir, out, jobs, res)


def run_row(row: rowsmod.Row, tree: Path, build_root: Path, jobs: int,
            out: Optional[Path] = None) -> RowResult:
    """Build, boot and judge one row; results in out (results/<row>)."""
    run = start(row, tree, build_root, jobs,
                out or paths.row_results(row.name))
    final = build(run)
    if final is None:
        return run.res
    return boot_and_judge(run, final)


def boot_and_judge(run: RowRun, final: dict[str, str]) -> RowResult:
    """Boot a built row (final: its .config) and judge it."""
    console, rc = boot(run)
    read_cases(run, console)
    judge(run, console, rc, final)
    return run.res


def config_check(row: rowsmod.Row, tree: Path) -> list[str]:
    """Configure (no build) a row in a scratch folder; what did not survive.

    `kunit.py config` runs olddefconfig and its own validation in seconds,
    so a row whose options cannot hold, or whose expectations its config
    cannot give, fails before any compiling.
    """
    with tempfile.TemporaryDirectory() as td:
        bd = Path(td) / row.name
        res = subprocess.run([sys.executable, str(paths.kunit_py(tree)),
                              'config', *kunit_args(row, bd)],
                             cwd=tree, capture_output=True, text=True)
        if not (bd / '.config').exists():
            return [f'kunit.py config failed: '
                    f'{tail(res.stdout + res.stderr, 5)}']
        final = rowsmod.parse_config((bd / '.config').read_text())
        missing = rowsmod.missing_options(row.config_entries(), final)
        if res.returncode != 0 and not missing:
            missing = [tail(res.stdout + res.stderr, 5)]
        return missing + check_config_expect(
            row.expect, suites.config_expect(final), {})
