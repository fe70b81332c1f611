# SPDX-License-Identifier: GPL-2.0
"""What the vmtest guest wrote to its second serial port.

tools/vmtest/init.sh writes one "VMTEST <kind> ..." record a line (test,
log/endlog, ino, lines/endlines, note, kernel, done).  parse() reads them;
tests() lists every test of the hugetlb category with its status: a
test's exit status (0 pass, 4 skip, else fail), its TAP lines where it
speaks TAP (each a test of its own, and a "not ok" fails the test), the
hugetlb cases of uffd-unit-tests, and an ERROR for every expected test
the guest never reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from results import Status

RECORD_RE = re.compile(r'^VMTEST (\w+)(?: (.*))?$')
TAP_RE = re.compile(r'^(not )?ok \d+ (.*?)(?:\s+#\s*(SKIP|TODO)\b\s*(.*))?$',
                    re.IGNORECASE)
UFFD_RE = re.compile(r'Testing (.+?) on (hugetlb(?:-private)?)\.\.\. '
                     r'(done|skipped|failed|ERROR)'
                     r'(?: \[reason: |: )?(.*?)\]?$', re.MULTILINE)
# tools/vmtest/hugetlb.sh: one run per group ("uffd-unit-tests -f X"),
# run again when it stopped outside hugetlb ("...: retry N, ...").
UFFD_GROUP_RE = re.compile(r'^uffd-unit-tests -f (\S+)$', re.MULTILINE)
UFFD_RETRY_RE = re.compile(r'^uffd-unit-tests -f \S+: retry ', re.MULTILINE)
STATUS = {'pass': Status.PASS, 'fail': Status.FAIL, 'skip': Status.SKIP}
UFFD = {'done': Status.PASS, 'skipped': Status.SKIP, 'failed': Status.FAIL,
        'ERROR': Status.FAIL}

# `run_vmtests.sh -t hugetlb` of 6.12 (tools/vmtest/hugetlb.sh runs them
# in its order), uffd-unit-tests for its hugetlb cases; gup_test's -H
# runs are counted (GUP_RUNS).
EXPECTED = ('hugepage-mmap', 'hugepage-shm', 'map_hugetlb',
            'hugepage-mremap', 'hugepage-vmemmap', 'hugetlb-madvise',
            'hugetlb_dio', 'hugetlb_fault_after_madv', 'hugetlb_madv_vs_map',
            'uffd-unit-tests', 'thuge-gen', 'charge_reserved_hugetlb.sh',
            'hugetlb_reparenting_test.sh', 'hugetlb-soft-offline',
            'hugetlb-read-hwpoison')
GUP_PREFIX = 'gup_test_-H'
GUP_RUNS = 60       # -u -U -a -b -L x -w -W x shared or not x -n 1/512/123


@dataclass
class Test:
    name: str
    status: Status
    why: str = ''
    log: str = ''


@dataclass
class GuestRun:
    kernel: str = ''
    tests: list[Test] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    inos: dict[str, tuple[str, str]] = field(default_factory=dict)
    lines: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    done: bool = False


def _record(run: GuestRun, kind: str, rest: str) -> None:
    if kind == 'test':
        name, status, why = (rest.split(' ', 2) + ['', ''])[:3]
        run.tests.append(Test(name, STATUS.get(status, Status.ERROR),
                              why if status in STATUS else
                              f'bad status {status!r}: {why}'))
    elif kind == 'ino':
        label, ino, path = (rest.split(' ', 2) + ['', ''])[:3]
        run.inos[label] = (ino, path)
    elif kind == 'note':
        run.notes.append(rest)
    elif kind == 'kernel':
        run.kernel = rest
    elif kind == 'done':
        run.done = True


def parse(text: str) -> GuestRun:
    """The records of one boot (\\r of the serial line dropped)."""
    run = GuestRun()
    block: Optional[tuple[str, str, list[str]]] = None
    for raw in text.splitlines():
        line = raw.rstrip('\r')
        if block is not None:
            kind, name, body = block
            if line == f'VMTEST end{kind} {name}':
                if kind == 'log':
                    run.logs[name] = '\n'.join(body)
                else:
                    run.lines[name] = body
                block = None
            else:
                body.append(line[2:] if kind == 'log' and
                            line.startswith('| ') else line)
            continue
        m = RECORD_RE.match(line)
        if not m:
            continue
        kind, rest = m.group(1), (m.group(2) or '').strip()
        if kind in ('log', 'lines'):
            block = (kind, rest, [])
        else:
            _record(run, kind, rest)
    for t in run.tests:
        t.log = run.logs.get(t.name, '')
    return run


def tap_tests(parent: Test) -> list[Test]:
    """The TAP result lines of a test that speaks TAP ("TAP version")."""
    lines = parent.log.splitlines()
    if not any(line.startswith('TAP version') for line in lines):
        return []
    out = []
    for line in lines:
        m = TAP_RE.match(line.strip())
        if not m:
            continue
        status = Status.SKIP if (m.group(3) or '').upper() == 'SKIP' else \
            Status.FAIL if m.group(1) else Status.PASS
        out.append(Test(f'{parent.name}/{m.group(2).strip()}', status,
                        (m.group(4) or '').strip()))
    return out


def uffd_tests(parent: Test) -> list[Test]:
    """uffd-unit-tests' hugetlb and hugetlb-private cases, from the last
    run of each group (a run that stopped outside hugetlb ran again)."""
    runs: dict[str, str] = {}
    heads = list(UFFD_GROUP_RE.finditer(parent.log))
    for m, nxt in zip(heads, heads[1:] + [None]):
        runs[m.group(1)] = parent.log[m.end():nxt.start() if nxt else None]
    logs = list(runs.values()) if heads else [parent.log]
    return [Test(f'{parent.name}/{m.group(1)} on {m.group(2)}',
                 UFFD[m.group(3)], m.group(4) or '')
            for log in logs for m in UFFD_RE.finditer(log)]


def uffd_retries(parent: Test) -> str:
    """Says how many group runs of uffd-unit-tests ran again."""
    n = len(UFFD_RETRY_RE.findall(parent.log))
    return f'; {n} group runs repeated after a stop outside hugetlb' \
        if n else ''


def _unique(tests: list[Test]) -> list[Test]:
    seen: dict[str, int] = {}
    for t in tests:
        n = seen.get(t.name, 0) + 1
        seen[t.name] = n
        if n > 1:
            t.name = f'{t.name} #{n}'
    return tests


def tests(run: GuestRun) -> list[Test]:
    """Every test of the category, each with a status (see the module)."""
    out: list[Test] = []
    for t in run.tests:
        if t.name == 'uffd-unit-tests':
            subs = uffd_tests(t)
            t.why += uffd_retries(t)
        else:
            subs = tap_tests(t)
            bad = [s for s in subs if s.status is Status.FAIL]
            if bad and t.status is not Status.FAIL:
                t.status, t.why = Status.FAIL, f'{t.why}; TAP: {len(bad)} ' \
                    f'not ok'
        out += [t, *subs]
    names = {t.name for t in run.tests}
    why = 'never reported: the guest ' + (
        'finished without it' if run.done else 'crashed or timed out')
    out += [Test(n, Status.ERROR, why) for n in EXPECTED if n not in names]
    gup = sum(n.startswith(GUP_PREFIX) for n in names)
    if gup < GUP_RUNS:
        out.append(Test(f'{GUP_PREFIX} (all runs)', Status.ERROR,
                        f'{gup} of {GUP_RUNS} runs reported; {why}'))
    return _unique(out)
