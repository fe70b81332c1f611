# SPDX-License-Identifier: GPL-2.0
"""`make vmtest`'s reports, as the matrix's: a terminal table,
results/vmtest/summary.md (every test on both kernels, per row) and
results/vmtest/kcidb.json (tools/vmtest_kcidb.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from results import Counts, Status
from vmtest_parse import Test
from vmtest_verdict import KNOWN, OK, Line, compare


@dataclass
class RowVm:
    """One row of `make vmtest`: both boots' tests, or why none ran."""
    row: str
    arch: str
    patched: list[Test] = field(default_factory=list)
    base: Optional[list[Test]] = None
    errors: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    start_time: str = ''

    def lines(self) -> list[Line]:
        return compare(self.base, self.patched)

    @property
    def passed(self) -> bool:
        return not self.errors and bool(self.patched) and \
            not any(x.fails_run for x in self.lines())


def load(path: Path) -> Optional[RowVm]:
    """A row's result.json as the run wrote it; None when absent or
    unreadable."""
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError):
        return None

    def tests(items: list[dict[str, Any]]) -> list[Test]:
        return [Test(t['name'], Status(t['status']), t.get('why', ''),
                     t.get('log', '')) for t in items]
    try:
        return RowVm(d['row'], d['arch'], tests(d['patched']),
                     None if d['base'] is None else tests(d['base']),
                     list(d['errors']), dict(d['seconds']),
                     d.get('start_time', ''))
    except (KeyError, TypeError, ValueError):
        return None


def counts(tests: Optional[list[Test]]) -> str:
    if tests is None:
        return 'not run'
    c = Counts()
    for t in tests:
        c.add(t.status)
    return c.cell()


def cell(t: Optional[Test]) -> str:
    if t is None:
        return '-'
    why = t.why.splitlines()[0] if t.why else ''
    why = why if len(why) <= 90 else why[:87] + '...'
    return f'{t.status.value} ({why})' if why else t.status.value


def md(text: str) -> str:
    return text.replace('|', '\\|')


def summary_table(rows: list[RowVm]) -> list[str]:
    out = ['| row | patched | base | regressions | known failures | '
           'verdict |', '|---|---|---|---|---|---|']
    for r in rows:
        lines = r.lines()
        reg = sum(x.fails_run for x in lines)
        known = sum(x.verdict == KNOWN for x in lines)
        out.append(f'| {r.row} | {counts(r.patched)} | {counts(r.base)} | '
                   f'{reg} | {known} | {"PASS" if r.passed else "FAIL"} |')
    out += ['', 'Cells: passed/failed/skipped tests (failed includes '
            'errors: never reported, crashed, timed out).']
    return out


def row_table(r: RowVm, only_notable: bool) -> list[str]:
    out = [f'### {r.row}', '']
    out += [f'- error: {e}' for e in r.errors]
    secs = ', '.join(f'{k} {v:.0f}s' for k, v in r.seconds.items())
    if secs:
        out.append(f'- boots: {secs}')
    out += ['', '| test | base | patched | verdict |', '|---|---|---|---|']
    for x in r.lines():
        if only_notable and x.verdict == OK and not (
                x.patched and x.patched.status is Status.SKIP):
            continue
        out.append(f'| {md(x.name)} | {md(cell(x.base))} | '
                   f'{md(cell(x.patched))} | {x.verdict} |')
    if only_notable:
        out += failure_logs(r)
    return out + ['']


# The terminal (a CI log) shows this many last lines of a failing test's
# log: a failure a rerun does not repeat is still explained.
LOG_TAIL = 25


def failure_logs(r: RowVm) -> list[str]:
    out = []
    for x in r.lines():
        if x.fails_run and x.patched and x.patched.log:
            tail = x.patched.log.splitlines()[-LOG_TAIL:]
            out += ['', f'{x.name}, patched, last {len(tail)} log lines:',
                    *(f'    {line}' for line in tail)]
    return out


def report(rows: list[RowVm], base_desc: str, only_notable: bool) -> str:
    """The markdown; only_notable (the terminal) leaves out the tests
    that passed."""
    head = ['# make vmtest: hugetlb selftests and writeback end to end, '
            'patched vs base', '']
    if base_desc:
        head += [base_desc, '']
    body = [line for r in rows for line in row_table(r, only_notable)]
    return '\n'.join(head + summary_table(rows) + [''] + body)
