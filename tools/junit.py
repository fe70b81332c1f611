#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write config-matrix results as JUnit XML (results/junit.xml).

CI systems and review tools (GitLab test reports, Jenkins' junit plugin,
GitHub test-reporter actions) all read the Ant/Surefire JUnit dialect, so
that is what this writes:

  <testsuites name=... tests= failures= errors= skipped= time=>
    <testsuite name="<row>">           the runner's own checks of the row:
      <testcase classname="<row>" name="build|config survival|...">
    <testsuite name="<row>.<suite>">   one per KUnit suite the row ran:
      <testcase classname="<row>.<suite>" name="case" or "case [param]">
        <failure message="one line">log excerpt</failure>   (or <error>,
        <skipped message="reason"/>)                          or neither)

The input is typed results (tools/results.py), as the runner returns them
or results/<row>/result.json holds them; `matrix.py report` rewrites
junit.xml from results/.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Optional

from results import Case, RowResult, Status

# The runner's checks of a row, each a <testcase> of the row's own suite,
# with the reason prefixes (tools/runner.py) that make it fail.
CHECKS: list[tuple[str, tuple[str, ...]]] = [
    ('build', ('kunit.py build failed', 'build timed out',
               'build warning: ')),
    ('config survival', ('options not in the final .config',)),
    ('expectations', ('expected ', 'row expects ', 'suite reported ')),
    ('console splats', ('console splat: ',)),
    ('must-run suites', ('must-run suite ', 'unexpected skip: ')),
    ('timeout/crash', ('boot+test timed out', 'no KUnit results',
                       'kunit.py exec exited', 'kunit.py wrote invalid JSON')),
]
OTHER = 'other'           # a reason no check claims (kept, never dropped)
MESSAGE_MAX = 200
# XML 1.0 cannot carry most control characters, not even escaped; console
# logs have them (ANSI colours, stray NULs).
XML_BAD_RE = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-'
                        '\U0010ffff]')


def clean(text: Any) -> str:
    return XML_BAD_RE.sub('', '' if text is None else str(text))


def one_line(text: str) -> str:
    first = clean(text).strip().splitlines()
    line = first[0] if first else ''
    return line if len(line) <= MESSAGE_MAX else line[:MESSAGE_MAX - 3] + '...'


def case_name(case: Case) -> str:
    return f'{case.case} [{case.param}]' if case.param else case.case


def case_reason(case: Case) -> str:
    """The reason the runner gives for a failed case."""
    return f'{case.name}: {case.status.value}'


def seconds(v: Optional[float]) -> float:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    return float(v) if ok and v is not None else 0.0


def classify(row: RowResult) -> dict[str, list[str]]:
    """The row's reasons by check; failed KUnit cases are their own."""
    own = {case_reason(c) for c in row.cases}
    out: dict[str, list[str]] = {}
    for reason in row.reasons:
        if reason in own:
            continue
        name = next((n for n, prefixes in CHECKS
                     if reason.startswith(prefixes)), OTHER)
        if reason == 'interrupted':     # Ctrl-C: what was running failed
            name = 'timeout/crash' if row.build_ok else 'build'
        out.setdefault(name, []).append(reason)
    return out


def testcase(classname: str, name: str, time: float) -> ET.Element:
    return ET.Element('testcase', classname=classname, name=name,
                      time=f'{time:.3f}')


def outcome(tc: ET.Element, kind: str, message: str, body: str = '') -> None:
    """Add <failure>, <error> or <skipped> (at most one per testcase)."""
    el = ET.SubElement(tc, kind, message=one_line(message) or kind)
    if kind != 'skipped':
        el.set('type', kind)
        el.text = clean(body)


def suite(name: str, cases: list[ET.Element]) -> ET.Element:
    """A <testsuite> with counts that match its children."""
    ts = ET.Element('testsuite', name=name, tests=str(len(cases)))
    for k, attr in (('failure', 'failures'), ('error', 'errors'),
                    ('skipped', 'skipped')):
        ts.set(attr, str(sum(1 for c in cases if c.find(k) is not None)))
    ts.set('time', f'{sum(float(c.get("time", 0)) for c in cases):.3f}')
    ts.extend(cases)
    return ts


def check_cases(row: RowResult) -> list[ET.Element]:
    """The row's own testcases: one per runner check."""
    failed = classify(row)
    out = []
    for check, _ in CHECKS + ([(OTHER, ())] if OTHER in failed else []):
        t = (seconds(row.build_seconds) if check == 'build' else
             seconds(row.boot_seconds) if check == 'timeout/crash' else 0.0)
        tc = testcase(row.row, check, t)
        reasons = failed.get(check)
        if reasons:
            console = row.console_excerpt
            outcome(tc, 'failure', reasons[0],
                    '\n'.join(reasons) + ('\n\n' + console if console else ''))
        elif check != 'build' and (row.interrupted or not row.build_ok):
            outcome(tc, 'skipped', 'not run: ' + (
                'interrupted' if row.interrupted else 'the build failed'))
        out.append(tc)
    return out


def kunit_suites(row: RowResult) -> list[ET.Element]:
    """One <testsuite> per KUnit suite of the row, in first-seen order."""
    by_suite: dict[str, list[ET.Element]] = {}
    for c in row.cases:
        cls = f'{row.row}.{c.suite}'
        tc = testcase(cls, case_name(c), seconds(c.duration))
        if c.status is Status.SKIP:
            outcome(tc, 'skipped', c.skip_reason or 'skipped')
        elif c.status is Status.FAIL:
            outcome(tc, 'failure', case_reason(c), c.log)
        elif c.status is Status.ERROR:    # crashed or never finished
            outcome(tc, 'error', case_reason(c), c.log)
        by_suite.setdefault(cls, []).append(tc)
    return [suite(n, cases) for n, cases in by_suite.items()]


def build(rows: list[RowResult], name: str = 'kunit-matrix') -> ET.Element:
    root = ET.Element('testsuites', name=name)
    for row in rows:
        root.append(suite(row.row, check_cases(row)))
        root.extend(kunit_suites(row))
    for attr in ('tests', 'failures', 'errors', 'skipped'):
        root.set(attr, str(sum(int(s.get(attr, 0)) for s in root)))
    root.set('time', f'{sum(float(s.get("time", 0)) for s in root):.3f}')
    return root


def write(path: Path, rows: list[RowResult]) -> None:
    tree = ET.ElementTree(build(rows))
    ET.indent(tree)
    tmp = path.with_name(path.name + '.tmp')
    tree.write(tmp, encoding='utf-8', xml_declaration=True)
    tmp.replace(path)          # a reader never sees half a file
