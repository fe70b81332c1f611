#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run config-matrix rows with kunit.py and judge them.

kunit.py builds (`kunit.py build`), boots and parses KTAP (`kunit.py exec
--json`).  This tool adds what a matrix needs on top: one build folder per
row, a check that every option a row asked for survived into the final
.config, a console scan for splats KUnit cannot see, must-run suites,
expected values the suites report, a timeout around everything, and the
reports (terminal table, results/summary.md, results/kcidb.json,
results/junit.xml) and, for a failing row, results/<row>/reproduce.sh.
Ctrl-C stops cleanly: exit 130, the row marked interrupted, reports kept.

  matrix.py run [--rows a,b] [--tree DIR]   build, boot, judge, report
  matrix.py report                          rebuild reports from results/
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import junit  # noqa: E402
import rows as rowsmod  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get('RESULTS') or REPO / 'results').resolve()

# What the console must never show.  KUnit passes a case even when the
# kernel printed one of these while it ran.
SPLATS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(rx)) for kind, rx in [
        # Specific kinds first: many of them also start with BUG:/WARNING:.
        ('lockdep', r'possible circular locking|possible recursive locking|'
                    r'inconsistent lock state|suspicious RCU usage|'
                    r'possible irq lock inversion|Invalid wait context|'
                    r'-safe -> \S+-unsafe lock order detected|'
                    r'Nested lock was not taken|'
                    r'lock held when returning to user space|'
                    r'bad unlock balance detected|still has locks held|'
                    r'held lock freed'),
        ('sleep-in-atomic', r'sleeping function called from invalid context'),
        ('scheduling-while-atomic', r'scheduling while atomic'),
        ('KASAN', r'BUG: KASAN|\bKASAN: [a-z-]+'),
        ('UBSAN', r'UBSAN: '),
        ('KFENCE', r'BUG: KFENCE'),
        ('lockup', r'soft lockup|hard LOCKUP|watchdog: BUG'),
        ('RCU stall', r'\bINFO: rcu_\w+ (?:self-)?detected (?:expedited )?'
                      r'stalls?|RCU Stall'),
        ('hung task', r'blocked for more than \d+ seconds'),
        ('list corruption', r'list_(add|del) corruption'),
        ('panic', r'Kernel panic'),
        ('Oops', r'\bOops[: ]|: [0-9a-f]{4} \[#\d+\]'),
        ('BUG', r'\bBUG: |\bkernel BUG at '),
        # x86 prints "RETBleed: WARNING: ..." style CPU notices: not splats.
        ('WARNING', r'(?<!: )\bWARNING: '),
    ]]
REPORT_RE = re.compile(r'#.*\breport: ([A-Za-z0-9_]+)=(\S+)')
KILL_MARGIN = 60  # s after kunit.py's own --timeout before we kill it
TIMESTAMP_RE = re.compile(r'^\[\s*(\d+\.\d+)\](?:\[\s*[CT]\d+\])?\s?')


@dataclass
class Case:
    suite: str
    case: str
    param: Optional[str]
    status: str
    duration: Optional[float] = None
    log: str = ''
    skip_reason: str = ''     # the KTAP "# SKIP reason" directive


@dataclass
class RowResult:
    row: str
    arch: str
    description: str
    verdict: str = 'fail'
    reasons: list[str] = field(default_factory=list)
    build_ok: bool = False
    build_seconds: float = 0.0
    boot_seconds: float = 0.0
    start_time: str = ''
    config_name: str = ''
    compiler: str = ''
    console_excerpt: str = ''
    splats: list[str] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)
    cases: list[Case] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: the row did not run to the end

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for c in self.cases:
            d = out.setdefault(c.suite, {'PASS': 0, 'FAIL': 0, 'SKIP': 0,
                                         'ERROR': 0})
            d[c.status] = d.get(c.status, 0) + 1
        return out


# ------------------------------------------------------------ scanning --

def strip_ts(line: str) -> str:
    return TIMESTAMP_RE.sub('', line)


def scan_splats(console: str) -> list[str]:
    """'kind: line' for every splat line in a console log."""
    found = []
    for line in console.splitlines():
        text = strip_ts(line)
        for kind, rx in SPLATS:
            if rx.search(text):
                found.append(f'{kind}: {text.strip()[:200]}')
                break
    return found


BUILD_WARNING_RE = re.compile(r'^\S+?:\d+(?::\d+)?: (?:warning|error): |'
                              r'^\S+\.o: warning: objtool: ')


def scan_build_warnings(log: str) -> list[str]:
    """Compiler and objtool warnings in a kunit.py build log."""
    return [line.strip()[:200] for line in log.splitlines()
            if BUILD_WARNING_RE.search(line)]


def ccache_make_option(work: Path) -> str:
    """kunit.py --make_options value for the compiler.

    ccache's depend mode takes the compiler's own -MMD output instead of
    running the preprocessor a second time: a cold build (CI) pays no
    ccache overhead, and a warm one still hits.  With the work folder as
    base_dir, the absolute source paths in each command line are hashed
    relative to the build folder (../../linux/...), so a fresh clone
    elsewhere and the other 6.12.y trees of `make check-bases` hit the
    same cache entries.
    """
    if not shutil.which('ccache'):
        return 'CC=gcc'
    os.environ.setdefault('CCACHE_DEPEND', '1')
    os.environ.setdefault('CCACHE_BASEDIR', str(work))
    return 'CC=ccache gcc'


def scan_reports(console: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in console.splitlines():
        m = REPORT_RE.search(strip_ts(line))
        if m:
            out[m.group(1)] = m.group(2)
    return out


def check_expect(expect: dict[str, str], reports: dict[str, str]) -> list[str]:
    bad = []
    for key, want in sorted(expect.items()):
        got = reports.get(key)
        if got is None:
            bad.append(f'expected {key}={want}, but no suite reported {key}')
        elif got != want:
            bad.append(f'expected {key}={want}, suite reported {key}={got}')
    return bad


def config_expect(final: dict[str, str]) -> dict[str, str]:
    """The values the suites must report, as a row's final .config decides.

    Derived from upstream symbols, not from the series' own macros:
    hugetlb must use split locks exactly when core-mm's split PMD locks are
    on (the seed-000 review), CGROUP_WRITEBACK is its own Kconfig symbol,
    and without HUGETLB_PAGE there are no huge page sizes.
    """
    def on(sym: str) -> bool:
        return final.get(sym, 'n') == 'y'
    out = {'USE_SPLIT_HUGETLB_PTLOCKS':
           '1' if on('CONFIG_SPLIT_PMD_PTLOCKS') else '0',
           'CGROUP_WRITEBACK': '1' if on('CONFIG_CGROUP_WRITEBACK') else '0'}
    if not on('CONFIG_HUGETLB_PAGE'):
        out['hugetlb_sizes'] = 'none'
    return out


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


def flatten_json(node: dict[str, Any], path: list[str]) -> list[Case]:
    """kunit.py --json: groups (suites, parameterised cases) and cases."""
    out: list[Case] = []
    for g in node.get('sub_groups', []):
        out += flatten_json(g, path + [g['name']])
    for tc in node.get('test_cases', []):
        if not path:
            # A case directly under the top group: a suite that crashed or
            # had no cases parsed; keep it under its own name.
            out.append(Case(tc['name'], tc['name'], None, tc['status']))
        elif len(path) == 1:
            out.append(Case(path[0], tc['name'], None, tc['status']))
        else:
            out.append(Case(path[0], path[1], tc['name'], tc['status']))
    return out


def case_timing(console: str, cases: list[Case]) -> None:
    """Durations, failure logs and skip reasons from the console.

    KTAP nests by indentation: "# Subtest: X" opens a level at its own
    indentation, a result line at that indentation belongs to it.  A
    result's duration is the time since the previous header or result.
    """
    last_ts: Optional[float] = None
    buf: list[str] = []
    stack: list[tuple[int, str]] = []
    found: dict[tuple[str, ...], tuple[float, list[str], str]] = {}
    for line in console.splitlines():
        m = TIMESTAMP_RE.match(line)
        ts = float(m.group(1)) if m else None
        raw = strip_ts(line).rstrip()
        text = raw.lstrip()
        indent = len(raw) - len(text)
        h = re.match(r'^# Subtest: (.+)$', text)
        if h:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, h.group(1).strip()))
            last_ts, buf = ts if ts is not None else last_ts, []
            continue
        buf.append(text)
        r = re.match(r'^(?:not )?ok \d+ (.*?)(?:\s+#\s*(.*))?$', text)
        if not r:
            continue
        while stack and stack[-1][0] > indent:
            stack.pop()
        path = tuple(n for _, n in stack) + (r.group(1).strip(),)
        if ts is not None:
            start = last_ts if last_ts is not None else ts
            found.setdefault(path, (max(0.0, ts - start), buf[-40:],
                                    r.group(2) or ''))
            last_ts = ts
        buf = []
    for c in cases:
        key = (c.suite, c.case) + ((c.param,) if c.param else ())
        hit = found.get(key)
        if hit:
            c.duration = round(hit[0], 6)
            if c.status in ('FAIL', 'ERROR'):
                c.log = '\n'.join(hit[1])
            skip = re.match(r'SKIP\b\s*(.*)', hit[2], re.I)
            if c.status == 'SKIP' and skip:
                c.skip_reason = skip.group(1).strip()


# ------------------------------------------------------------- running --

def kunit_args(row: rowsmod.Row, tree: Path, build_dir: Path) -> list[str]:
    args = [f'--arch={row.arch}', f'--build_dir={build_dir}']
    for frag in row.kunitconfigs:
        args.append(f'--kunitconfig={REPO / frag}')
    for opt in row.options:
        args += ['--kconfig_add', opt]
    return args


def boot_args(row: rowsmod.Row) -> list[str]:
    """kunit.py's boot options for a row (exec and the reproducer)."""
    return ([f'--timeout={row.timeout}'] +
            [f'--qemu_args={a}' for a in row.qemu_args] +
            [f'--kernel_args={a}' for a in ('panic=-1', *row.kernel_args)])


def run_logged(cmd: list[str], cwd: Path, logf: Path,
               timeout: int) -> tuple[int, bool]:
    """Run cmd in its own process group, tee to logf; (rc, timed_out)."""
    with logf.open('w') as fh:
        fh.write('$ ' + ' '.join(cmd) + '\n')
        fh.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            return proc.wait(timeout=timeout), False
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return -1, True
        except KeyboardInterrupt:
            kill_group(proc)
            raise


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


def tail(text: str, n: int = 30) -> str:
    return '\n'.join(text.splitlines()[-n:])


def compiler_version() -> str:
    try:
        return subprocess.run(['gcc', '--version'], capture_output=True,
                              text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        return 'gcc'


def run_row(row: rowsmod.Row, tree: Path, build_root: Path,
            jobs: int) -> RowResult:
    res = RowResult(row=row.name, arch=row.arch, description=row.description,
                    config_name=row.name, compiler=compiler_version(),
                    start_time=dt.datetime.now(dt.timezone.utc)
                    .isoformat(timespec='seconds'))
    out = RESULTS / row.name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    build_dir = build_root / row.name
    build_dir.mkdir(parents=True, exist_ok=True)
    kunit = str(tree / 'tools/testing/kunit/kunit.py')
    common = kunit_args(row, tree, build_dir)
    env_cc = ccache_make_option(Path(os.path.commonpath([tree, build_dir])))

    # Build (kunit.py configures, checks its kunitconfig survived, builds).
    t0 = time.monotonic()
    build_cmd = [sys.executable, kunit, 'build', *common, f'--jobs={jobs}',
                 '--make_options', env_cc]
    rc, timed_out = run_logged(build_cmd, tree, out / 'build.log', 3600)
    if rc != 0 and 'fixdep: error opening file' in \
            (out / 'build.log').read_text(errors='replace'):
        # A build killed mid-compile can leave a ccache result without its
        # dependency file; rebuild once, refreshing the cache entries.
        shutil.move(out / 'build.log', out / 'build-1.log')
        os.environ['CCACHE_RECACHE'] = '1'
        try:
            rc, timed_out = run_logged(build_cmd, tree, out / 'build.log',
                                       3600)
        finally:
            del os.environ['CCACHE_RECACHE']
    res.build_seconds = round(time.monotonic() - t0, 1)
    if (build_dir / '.config').exists():
        shutil.copyfile(build_dir / '.config', out / 'config')
    if rc != 0:
        res.reasons.append('build timed out' if timed_out else
                           f'kunit.py build failed (exit {rc}); see '
                           f'results/{row.name}/build.log')
        res.console_excerpt = tail((out / 'build.log').read_text())
        return res
    res.build_ok = True
    # A warning in a build that otherwise succeeds is still a defect a
    # reviewer would reject (the base builds warning-free in every row).
    for w in scan_build_warnings((out / 'build.log').read_text(
            errors='replace')):
        res.reasons.append(f'build warning: {w}')
    final = rowsmod.parse_config((build_dir / '.config').read_text())
    missing = rowsmod.missing_options(row.config_entries(), final)
    if missing:
        res.reasons.append('options not in the final .config: ' +
                           ', '.join(missing))

    # Boot and test; kunit.py enforces row.timeout on QEMU/UML, we enforce
    # a hard limit on kunit.py itself.
    exec_args = [sys.executable, kunit, 'exec', *common, *boot_args(row),
                 f'--json={out / "kunit.json"}']
    test_log = build_dir / 'test.log'
    test_log.unlink(missing_ok=True)
    t0 = time.monotonic()
    rc, timed_out = run_logged(exec_args, tree, out / 'kunit.log',
                               row.timeout + KILL_MARGIN)
    res.boot_seconds = round(time.monotonic() - t0, 1)
    console = test_log.read_text(errors='replace') if test_log.exists() \
        else ''
    (out / 'console.log').write_text(console)
    kunit_out = (out / 'kunit.log').read_text(errors='replace')
    if timed_out or 'Timeout Expired' in kunit_out or \
            'timed out' in kunit_out.lower():
        res.reasons.append(f'boot+test timed out after {row.timeout}s; last '
                           f'console lines:\n{tail(console, 15)}')
    write_ktap(tree, console, out / 'ktap.txt')
    if (out / 'kunit.json').exists():
        try:
            res.cases = flatten_json(json.loads(
                (out / 'kunit.json').read_text()), [])
        except ValueError:
            res.reasons.append('kunit.py wrote invalid JSON')
    case_timing(console, res.cases)
    if not res.cases:
        res.reasons.append('no KUnit results (kernel crashed or no tests '
                           'ran); last console lines:\n' + tail(console, 15))
    for c in res.cases:
        if c.status in ('FAIL', 'ERROR'):
            name = f'{c.suite}.{c.case}' + (f' [{c.param}]' if c.param else '')
            res.reasons.append(f'{name}: {c.status}')
    counts = res.counts()
    for suite in row.must_run:
        d = counts.get(suite)
        if not d:
            res.reasons.append(f'must-run suite {suite} is absent')
        elif d['PASS'] + d['FAIL'] + d['ERROR'] == 0:
            res.reasons.append(f'must-run suite {suite} was skipped')
    res.splats = scan_splats(console)
    if res.splats:
        res.reasons.append(f'console splat: {res.splats[0]}' +
                           (f' (+{len(res.splats) - 1} more)'
                            if len(res.splats) > 1 else ''))
    res.reports = scan_reports(console)
    res.reasons += check_expect(row.expect, res.reports)
    res.reasons += check_config_expect(row.expect, config_expect(final),
                                       res.reports)
    if rc not in (0, 1) and not res.reasons:
        res.reasons.append(f'kunit.py exec exited {rc}')
    res.verdict = 'fail' if res.reasons else 'pass'
    if res.reasons:
        res.console_excerpt = tail(console or kunit_out, 40)
    return res


def config_check(row: rowsmod.Row, tree: Path) -> list[str]:
    """Configure (no build) a row in a scratch folder; what did not survive.

    `kunit.py config` runs olddefconfig and its own validation in seconds,
    so a row whose options cannot hold, or whose expectations its config
    cannot give, fails before any compiling.
    """
    import tempfile
    with tempfile.TemporaryDirectory() as td:
        bd = Path(td) / row.name
        res = subprocess.run([sys.executable,
                              str(tree / 'tools/testing/kunit/kunit.py'),
                              'config', *kunit_args(row, tree, bd)],
                             cwd=tree, capture_output=True, text=True)
        if not (bd / '.config').exists():
            return [f'kunit.py config failed: '
                    f'{tail(res.stdout + res.stderr, 5)}']
        final = rowsmod.parse_config((bd / '.config').read_text())
        missing = rowsmod.missing_options(row.config_entries(), final)
        if res.returncode != 0 and not missing:
            missing = [tail(res.stdout + res.stderr, 5)]
        return missing + check_config_expect(row.expect,
                                             config_expect(final), {})


def write_ktap(tree: Path, console: str, dest: Path) -> None:
    """The KTAP part of the console, extracted by kunit.py's own parser."""
    sys.path.insert(0, str(tree / 'tools/testing/kunit'))
    try:
        import kunit_parser  # type: ignore
        lines = kunit_parser.extract_tap_lines(console.splitlines(True))
        text = []
        while lines:
            text.append(lines.pop())
        dest.write_text('\n'.join(text) + '\n')
    except Exception as e:  # pragma: no cover - depends on the tree
        dest.write_text(f'# could not extract KTAP: {e}\n')
    finally:
        sys.path.pop(0)


# ---------------------------------------------------------- reproducer --

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
    kunit = ['python3', 'tools/testing/kunit/kunit.py', 'run',
             f'--arch={row.arch}', f'--build_dir={build_dir.resolve()}',
             f'--kunitconfig={kunitconfig.resolve()}', *boot_args(row)]
    why = (res.reasons or ['failed'])[0].splitlines()[0]
    q = shlex.quote
    return (f'#!/bin/sh\n'
            f'# Reproduce the failure of matrix row {row.name}:\n'
            f'#   {why}\n'
            f'#   reproduce.sh        kunit.py alone on the prepared tree\n'
            f'#   reproduce.sh make   the whole pipeline: '
            f'{make_command(row)}\n'
            f'set -e\n'
            f'if [ "${{1:-}}" = make ]; then\n'
            f'\tcd {q(str(REPO))}\n'
            f'\texec {make_command(row)}\n'
            f'fi\n'
            f'cd {q(str(tree))}\n'
            f'exec {shlex.join(kunit)}\n')


def write_reproducer(row: rowsmod.Row, res: RowResult, tree: Path,
                     build_dir: Path) -> Path:
    """results/<row>/reproduce.sh and the kunitconfig it runs."""
    out = RESULTS / row.name
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / 'kunitconfig'
    cfg.write_text(rowsmod.render_config(
        [f'Merged kunitconfig of matrix row "{row.name}" (fragments, '
         f'then options)', row.description], row.config_entries()))
    script = out / 'reproduce.sh'
    script.write_text(reproducer(row, res, tree, build_dir, cfg))
    script.chmod(0o755)
    return script


# ------------------------------------------------------------- reports --

def table(results: list[RowResult]) -> str:
    suites = sorted({c.suite for r in results for c in r.cases})
    head = ['row'] + suites + ['build s', 'boot+test s', 'verdict']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join('---' for _ in head) + '|']
    for r in results:
        counts = r.counts()
        cells = [r.row]
        for s in suites:
            d = counts.get(s)
            cells.append(f'{d["PASS"]}/{d["FAIL"] + d["ERROR"]}/{d["SKIP"]}'
                         if d else '-')
        cells += [f'{r.build_seconds:.0f}', f'{r.boot_seconds:.0f}',
                  r.verdict.upper()]
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines.append('')
    lines.append('Cells: passed/failed/skipped KUnit cases per suite.')
    for r in results:
        if r.reports:
            lines.append(f'- {r.row} reported: ' + ', '.join(
                f'{k}={v}' for k, v in sorted(r.reports.items())))
        for reason in r.reasons:
            lines.append(f'- {r.row} FAIL: ' + reason.splitlines()[0])
    return '\n'.join(lines) + '\n'


def totals(results: list[RowResult]) -> tuple[int, int, int]:
    p = f = s = 0
    for r in results:
        for c in r.cases:
            if c.status == 'PASS':
                p += 1
            elif c.status == 'SKIP':
                s += 1
            else:
                f += 1
        if r.verdict != 'pass' and not any(c.status in ('FAIL', 'ERROR')
                                           for c in r.cases):
            f += 1  # a row that failed for another reason counts once
    return p, f, s


def load_results(names: list[str]) -> list[RowResult]:
    out = []
    for n in names:
        path = RESULTS / n / 'result.json'
        if path.exists():
            d = json.loads(path.read_text())
            d['cases'] = [Case(**c) for c in d.get('cases', [])]
            out.append(RowResult(**d))
    return out


def base_of(tree: Optional[Path]) -> tuple[str, str]:
    """(commit, one-line description) of the base the rows ran on."""
    import kpatch
    if tree is None:
        return '', ''
    base, desc = kpatch.tree_base(tree)
    return base, kpatch.base_line(desc) if desc else ''


def write_reports(results: list[RowResult], tree: Optional[Path]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    base, base_desc = base_of(tree)
    (RESULTS / 'summary.md').write_text(
        '# Config matrix results\n\n' +
        (f'{base_desc[0].upper() + base_desc[1:]}.\n\n' if base_desc else '')
        + table(results))
    junit.write(RESULTS / 'junit.xml', [asdict(r) for r in results])
    try:
        import kcidb  # type: ignore
    except ImportError:
        return
    import kpatch
    names = [n for n in kpatch.read_series() if n != kpatch.COVER]
    checkout = {
        'base': base or '0' * 40,
        'base_desc': base_desc or 'Linux 6.12 from Debian linux-source-6.12',
        'patch_files': [str(kpatch.PATCH_DIR / n) for n in names],
        'start_time': min((r.start_time for r in results if r.start_time),
                          default=dt.datetime.now(dt.timezone.utc)
                          .isoformat(timespec='seconds')),
        'tree_name': 'linux-6.12-debian',
        'git_repository_url': None,
    }
    report = kcidb.build_report(checkout, [asdict(r) for r in results])
    errors = kcidb.validate(report)
    (RESULTS / 'kcidb.json').write_text(json.dumps(report, indent=2) + '\n')
    if errors:
        print('matrix: kcidb.json does not validate:\n  ' +
              '\n  '.join(errors[:20]), file=sys.stderr)


def print_reproducers(failed: list[rowsmod.Row]) -> None:
    """How to rerun each failing row: with make, or kunit.py alone."""
    for r in failed:
        print(f'matrix: [{r.name}] reproduce: {make_command(r)}, or '
              f'kunit.py alone: {RESULTS / r.name / "reproduce.sh"}')


def on_sigint(signum: int, frame: Any) -> None:
    """The first Ctrl-C unwinds (KeyboardInterrupt); later ones, from an
    impatient user or a parent passing it on, are ignored so that killing
    kunit.py and writing the reports cannot be cut short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def interrupted_result(row: rowsmod.Row, build_dir: Path) -> RowResult:
    """The row a Ctrl-C stopped: failed, reason "interrupted", the tail of
    the log of the phase it was in (kunit.log exists once booting)."""
    out = RESULTS / row.name
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
    out = RESULTS / row.name
    out.mkdir(parents=True, exist_ok=True)
    (out / 'result.json').write_text(json.dumps(asdict(res), indent=2) +
                                     '\n')
    if res.verdict != 'pass':
        write_reproducer(row, res, tree, build_root / row.name)


def interrupted(selected: list[rowsmod.Row], results: list[RowResult],
                tree: Path, build_root: Path) -> int:
    """Ctrl-C: mark the row it stopped, rewrite the reports, exit 130."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    what, finished = 'while writing the reports', len(results)
    if len(results) < len(selected):
        row = selected[len(results)]
        res = interrupted_result(row, build_root / row.name)
        what = (f'during the {"boot+test" if res.build_ok else "build"} of '
                f'row {row.name}')
        save(row, res, tree, build_root)
        results.append(res)
    write_reports(results, tree)
    left = [r.name for r in selected[len(results):]]
    print(f'matrix: interrupted {what}; {finished} row(s) finished' +
          (f', not run: {", ".join(left)}' if left else '') +
          f'; reports rewritten in {RESULTS}', file=sys.stderr, flush=True)
    return 130


def run_one(row: rowsmod.Row, args: argparse.Namespace,
            tree: Path) -> RowResult:
    print(f'matrix: [{row.name}] {row.description}', flush=True)
    res = run_row(row, tree, Path(args.build_root), args.jobs)
    save(row, res, tree, Path(args.build_root))
    klog = RESULTS / row.name / 'kunit.log'
    if args.default and klog.exists():
        # kunit.py's own summary of the default row.
        print(''.join(klog.read_text(errors='replace')
                      .splitlines(True)[1:]), end='', flush=True)
    counts = res.counts()
    summary = ', '.join(f'{s} {d["PASS"]} passed {d["FAIL"] + d["ERROR"]}'
                        f' failed {d["SKIP"]} skipped'
                        for s, d in sorted(counts.items()))
    print(f'matrix: [{row.name}] build {res.build_seconds:.0f}s, '
          f'boot+test {res.boot_seconds:.0f}s: {summary or "no results"}'
          f' -> {res.verdict.upper()}', flush=True)
    for reason in res.reasons:
        print(f'matrix: [{row.name}]   {reason}', flush=True)
    return res


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--rows', default=os.environ.get('ROWS', ''))
    r.add_argument('--tree', required=True, help='prepared kernel tree')
    r.add_argument('--build-root', default=str(
        Path(os.environ.get('WORK') or REPO / 'work').resolve() / 'build'))
    r.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    r.add_argument('--default', action='store_true',
                   help='run only the default row')
    sub.add_parser('report')
    args = ap.parse_args(argv)
    try:
        rows = rowsmod.load_rows()
        if args.cmd == 'report':
            results = load_results([x.name for x in rows])
            write_reports(results, None)
            print(table(results))
            return 0
        selected = [rowsmod.default_row(rows)] if args.default else \
            rowsmod.select(rows, args.rows)
    except rowsmod.RowError as e:
        print(f'matrix: error: {e}', file=sys.stderr)
        return 2
    tree = Path(args.tree).resolve()
    results: list[RowResult] = []
    t_all = time.monotonic()
    try:
        for row in selected:
            results.append(run_one(row, args, tree))
        write_reports(results, tree)
    except KeyboardInterrupt:
        return interrupted(selected, results, tree, Path(args.build_root))
    print()
    print(table(results))
    p, f, s = totals(results)
    print(f'matrix: {len(results)} rows in {time.monotonic() - t_all:.0f}s; '
          f'results in {RESULTS}')
    base_desc = base_of(tree)[1]
    if base_desc:
        print(f'matrix: {base_desc}')
    verdict = 'PASS' if all(r.verdict == 'pass' for r in results) else 'FAIL'
    print(f'matrix: verdict {verdict}: {p} passed, {f} failed, {s} skipped')
    print_reproducers([r for r, res in zip(selected, results)
                       if res.verdict != 'pass'])
    return 0 if all(r.verdict == 'pass' for r in results) else 1


if __name__ == '__main__':
    signal.signal(signal.SIGINT, on_sigint)
    sys.exit(main())
