# SPDX-License-Identifier: GPL-2.0
"""Typed results of the matrix: a status, counts, a case, a row.

Like kunit_tool's TestStatus and TestCounts: every place that counts or
compares statuses uses these, and results/<row>/result.json is their JSON
form (load() accepts what earlier versions wrote).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Any, Optional


class Status(str, Enum):
    """A KUnit case's status as kunit.py's JSON names it, or a row's."""
    PASS = 'PASS'
    FAIL = 'FAIL'
    SKIP = 'SKIP'
    ERROR = 'ERROR'     # crashed, timed out or never finished

    @classmethod
    def of(cls, text: Any) -> Status:
        """kunit.py's (or an older result.json's) status; anything else is
        an ERROR, never silently a pass."""
        return cls.__members__.get(str(text or '').upper(), cls.ERROR)

    @property
    def failed(self) -> bool:
        return self in (Status.FAIL, Status.ERROR)


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0

    def add(self, status: Status) -> None:
        if status is Status.PASS:
            self.passed += 1
        elif status is Status.SKIP:
            self.skipped += 1
        elif status is Status.FAIL:
            self.failed += 1
        else:
            self.errors += 1

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.passed + other.passed, self.failed + other.failed,
                      self.skipped + other.skipped,
                      self.errors + other.errors)

    @property
    def ran(self) -> int:
        """Cases that ran (did not skip)."""
        return self.passed + self.failed + self.errors

    def cell(self) -> str:
        """passed/failed/skipped, errors counted as failed."""
        return f'{self.passed}/{self.failed + self.errors}/{self.skipped}'

    def line(self) -> str:
        return (f'{self.passed} passed, {self.failed + self.errors} failed, '
                f'{self.skipped} skipped')


@dataclass
class Case:
    suite: str
    case: str
    param: Optional[str]
    status: Status
    duration: Optional[float] = None
    log: str = ''
    skip_reason: str = ''     # the KTAP "# SKIP reason" directive

    @property
    def name(self) -> str:
        """suite.case [param], as a failure reason names it."""
        return f'{self.suite}.{self.case}' + (f' [{self.param}]'
                                              if self.param else '')


@dataclass
class RowResult:
    row: str
    arch: str
    description: str
    verdict: Status = Status.FAIL
    reasons: list[str] = field(default_factory=list)
    build_ok: bool = False
    build_skipped: bool = False  # inputs unchanged since the last build
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

    @property
    def passed(self) -> bool:
        return self.verdict is Status.PASS

    def counts(self) -> dict[str, Counts]:
        """Per KUnit suite."""
        out: dict[str, Counts] = {}
        for c in self.cases:
            out.setdefault(c.suite, Counts()).add(c.status)
        return out

    def totals(self) -> Counts:
        """All cases; a row that failed without a failed case (a splat, a
        lost option, a crash) counts as one failure of its own."""
        total = sum(self.counts().values(), Counts())
        if not self.passed and not any(c.status.failed for c in self.cases):
            total.failed += 1
        return total

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RowResult:
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in d.items() if k in known}
        data['verdict'] = Status.of(d.get('verdict'))
        data['cases'] = [case_from_json(c) for c in d.get('cases') or []]
        return cls(**data)


def case_from_json(c: dict[str, Any]) -> Case:
    known = {f.name for f in fields(Case)}
    data: dict[str, Any] = {k: v for k, v in c.items() if k in known}
    data['status'] = Status.of(c.get('status'))
    return Case(**data)


def totals(results: list[RowResult]) -> Counts:
    return sum((r.totals() for r in results), Counts())


def save(res: RowResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res.to_json(), indent=2) + '\n')


def load(path: Path) -> Optional[RowResult]:
    try:
        return RowResult.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
