# SPDX-License-Identifier: GPL-2.0
"""KUnit results of a row: kunit.py's JSON, plus what only the console has.

kunit.py parses the KTAP and writes --json; that decides every case's
status.  The console adds, in one pass: the KTAP text itself (ktap.txt),
each case's duration from the printk timestamps, the lines before a failed
result (its log) and a skip's reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from console import TIMESTAMP_RE, strip_ts
from results import Case, Status

SUBTEST_RE = re.compile(r'^# Subtest: (.+)$')
RESULT_RE = re.compile(r'^(?:not )?ok \d+ (.*?)(?:\s+#\s*(.*))?$')
KTAP_START_RE = re.compile(r'\b(?:K?TAP) version \d+')


def flatten_json(node: dict[str, Any], path: list[str]) -> list[Case]:
    """kunit.py --json: groups (suites, parameterised cases) and cases."""
    out: list[Case] = []
    for g in node.get('sub_groups', []):
        out += flatten_json(g, path + [g['name']])
    for tc in node.get('test_cases', []):
        status = Status.of(tc['status'])
        if not path:
            # A case directly under the top group: a suite that crashed or
            # had no cases parsed; keep it under its own name.
            out.append(Case(tc['name'], tc['name'], None, status))
        elif len(path) == 1:
            out.append(Case(path[0], tc['name'], None, status))
        else:
            out.append(Case(path[0], path[1], tc['name'], status))
    return out


@dataclass
class Result:
    duration: float
    log: list[str]
    directive: str


@dataclass
class Console:
    """What one pass over the console found."""
    ktap: list[str] = field(default_factory=list)
    results: dict[tuple[str, ...], Result] = field(default_factory=dict)


def read_console(console: str) -> Console:
    """KTAP nests by indentation: "# Subtest: X" opens a level at its own
    indentation, a result line at that indentation belongs to it.  A
    result's duration is the time since the previous header or result."""
    out = Console()
    last_ts: Optional[float] = None
    buf: list[str] = []
    stack: list[tuple[int, str]] = []
    for line in console.splitlines():
        m = TIMESTAMP_RE.match(line)
        ts = float(m.group(1)) if m else None
        raw = strip_ts(line).rstrip()
        if out.ktap or KTAP_START_RE.search(raw):
            out.ktap.append(raw)
        text = raw.lstrip()
        indent = len(raw) - len(text)
        h = SUBTEST_RE.match(text)
        if h:
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, h.group(1).strip()))
            last_ts, buf = ts if ts is not None else last_ts, []
            continue
        buf.append(text)
        r = RESULT_RE.match(text)
        if not r:
            continue
        while stack and stack[-1][0] > indent:
            stack.pop()
        path = tuple(n for _, n in stack) + (r.group(1).strip(),)
        if ts is not None:
            start = last_ts if last_ts is not None else ts
            out.results.setdefault(path, Result(max(0.0, ts - start),
                                                buf[-40:], r.group(2) or ''))
            last_ts = ts
        buf = []
    return out


def annotate(cases: list[Case], found: Console) -> None:
    """Durations, failure logs and skip reasons onto kunit.py's cases."""
    for c in cases:
        hit = found.results.get((c.suite, c.case) +
                                ((c.param,) if c.param else ()))
        if not hit:
            continue
        c.duration = round(hit.duration, 6)
        if c.status.failed:
            c.log = '\n'.join(hit.log)
        skip = re.match(r'SKIP\b\s*(.*)', hit.directive, re.I)
        if c.status is Status.SKIP and skip:
            c.skip_reason = skip.group(1).strip()


def case_timing(console: str, cases: list[Case]) -> str:
    """annotate() cases from the console; return the KTAP text."""
    found = read_console(console)
    annotate(cases, found)
    return '\n'.join(found.ktap) + '\n'
