#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The config matrix rows: typed records loaded from tools/rows.toml.

`python3 tools/rows.py list` prints the rows, `ci` prints a JSON list for a
CI fan-out (GitHub Actions `matrix: include:` style), `kunitconfig` prints
the merged config of the default row (the top-level .kunitconfig).
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import suites
from paths import REPO, ROWS_FILE

ARCHES = ('um', 'x86_64', 'i386', 'arm64')
# kunit.py --cross_compile prefix of an arch the host cannot build natively
# (Debian's gcc-aarch64-linux-gnu).
CROSS_COMPILE = {'arm64': 'aarch64-linux-gnu-'}
NAME_RE = re.compile(r'^[a-z0-9][a-z0-9_-]*$')
OPTION_RE = re.compile(r'^CONFIG_[A-Za-z0-9_]+=(y|n|m|-?[0-9]+|0x[0-9a-fA-F]+'
                       r'|"[^"]*")$')
KEY_RE = re.compile(r'^[A-Za-z0-9_]+$')
# The options the in-VM tests of `make vmtest` need (and only they).
VMTEST_CONFIG = 'kunit/configs/vmtest.config'
FIELDS = {'name', 'description', 'arch', 'kunitconfigs', 'options',
          'qemu_args', 'kernel_args', 'timeout', 'must_run', 'expect',
          'default', 'may_skip', 'vmtest', 'vmtest_in_test'}
# What [defaults] may give every row (a row's own value wins).
DEFAULTABLE = FIELDS - {'name', 'description', 'default'}


class RowError(Exception):
    """A rows file that is not valid; the message names file and row."""


@dataclass(frozen=True)
class Row:
    name: str
    description: str
    arch: str
    kunitconfigs: tuple[str, ...]
    options: tuple[str, ...] = ()
    qemu_args: tuple[str, ...] = ()
    kernel_args: tuple[str, ...] = ()
    timeout: int = 300
    must_run: tuple[str, ...] = ()
    expect: dict[str, str] = field(default_factory=dict)
    default: bool = False
    # "suite.case [param]" glob -> why that case cannot run in this row;
    # any other skipped case fails the row.
    may_skip: dict[str, str] = field(default_factory=dict)
    # `make vmtest` boots this row's kernel with the selftests image
    # (tools/vmtest.py); its config must list VMTEST_CONFIG.
    vmtest: bool = False
    # ... and `make test` runs its patched half (CI time: a few minutes
    # a row).
    vmtest_in_test: bool = False

    @property
    def cross_compile(self) -> str:
        return CROSS_COMPILE.get(self.arch, '')

    def arch_args(self) -> list[str]:
        """kunit.py's --arch (and --cross_compile) for the row."""
        cross = self.cross_compile
        return [f'--arch={self.arch}'] + \
            ([f'--cross_compile={cross}'] if cross else [])

    def config_entries(self, repo: Path = REPO) -> dict[str, str]:
        """Merged config (fragments, then options), as kunit.py merges it."""
        merged: dict[str, str] = {}
        for frag in self.kunitconfigs:
            merged.update(parse_config((repo / frag).read_text()))
        merged.update(parse_config('\n'.join(self.options)))
        return merged


def parse_config(text: str) -> dict[str, str]:
    """CONFIG_X=v and '# CONFIG_X is not set' lines, like kunit_config."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        m = re.match(r'^# (CONFIG_[A-Za-z0-9_]+) is not set$', line)
        if m:
            out[m.group(1)] = 'n'
            continue
        if not line or line.startswith('#'):
            continue
        m = re.match(r'^(CONFIG_[A-Za-z0-9_]+)=(.*)$', line)
        if m:
            out[m.group(1)] = m.group(2)
    return out


def missing_options(want: dict[str, str], final: dict[str, str]) -> list[str]:
    """Options a row asked for that did not survive into the final .config."""
    missing = []
    for name, value in sorted(want.items()):
        got = final.get(name, 'n')
        if value == 'n':
            if got != 'n':
                missing.append(f'{name}=n (got {got})')
        elif got != value:
            missing.append(f'{name}={value} (got '
                           f'{"not set" if got == "n" else got})')
    return missing


def _err(where: str, msg: str) -> RowError:
    return RowError(f'{where}: {msg}')


def _str_list(rec: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    val = rec.get(key, [])
    if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
        raise _err(where, f'"{key}" must be a list of strings')
    return tuple(val)


def defaults_of(data: dict[str, Any], source: str) -> dict[str, Any]:
    defaults = data.get('defaults', {})
    if not isinstance(defaults, dict):
        raise RowError(f'{source}: [defaults] must be a table')
    unknown = set(defaults) - DEFAULTABLE
    if unknown:
        raise RowError(f'{source}: [defaults]: field(s) '
                       f'{", ".join(sorted(unknown))} cannot have a default')
    return defaults


def check_must_run(rows: list[Row], source: str,
                   known: Optional[set[str]]) -> None:
    """must_run names only suites that exist (kunit/*/suite.toml)."""
    known = suites.suite_names() if known is None else known
    for r in rows:
        bad = sorted(set(r.must_run) - known)
        if bad:
            raise RowError(f'{source}: row {r.name}: must_run names no suite: '
                           f'{", ".join(bad)} (suites: '
                           f'{", ".join(sorted(known))})')


def _identity(rec: dict[str, Any], where: str) -> None:
    unknown = set(rec) - FIELDS
    if unknown:
        raise _err(where, f'unknown field(s) {", ".join(sorted(unknown))}')
    for key in ('name', 'description', 'arch'):
        if not isinstance(rec.get(key), str) or not rec[key].strip():
            raise _err(where, f'"{key}" is required (a string)')
    if not NAME_RE.match(rec['name']):
        raise _err(where, f'name {rec["name"]!r} must match '
                   f'{NAME_RE.pattern}')
    if rec['arch'] not in ARCHES:
        raise _err(where, f'arch {rec["arch"]!r} is not one of '
                   f'{", ".join(ARCHES)}')
    for key in ('default', 'vmtest', 'vmtest_in_test'):
        if not isinstance(rec.get(key, False), bool):
            raise _err(where, f'"{key}" must be true or false')


def _config(rec: dict[str, Any], where: str, repo: Path
            ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(fragments, options), each checked."""
    frags = _str_list(rec, 'kunitconfigs', where)
    if not frags:
        raise _err(where, '"kunitconfigs" needs at least one fragment')
    for frag in frags:
        if not (repo / frag).is_file():
            raise _err(where, f'config fragment {frag} does not exist')
    options = _str_list(rec, 'options', where)
    for opt in options:
        if not OPTION_RE.match(opt):
            raise _err(where, f'option {opt!r} is not CONFIG_NAME=value')
    return frags, options


def _run_fields(rec: dict[str, Any], where: str
                ) -> tuple[int, dict[str, str], tuple[str, ...]]:
    """(timeout, expect, qemu_args), each checked."""
    timeout = rec.get('timeout', 300)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or \
            not 10 <= timeout <= 3600:
        raise _err(where, '"timeout" must be an integer 10..3600 (s)')
    expect = rec.get('expect', {})
    if not isinstance(expect, dict):
        raise _err(where, '"expect" must be a table KEY = "value"')
    for k, v in expect.items():
        if not KEY_RE.match(k) or not isinstance(v, (str, int)) or \
                isinstance(v, bool):
            raise _err(where, f'expect.{k} must be a string or integer')
    qemu = _str_list(rec, 'qemu_args', where)
    if rec['arch'] == 'um' and qemu:
        raise _err(where, 'qemu_args make no sense for arch um')
    return timeout, {k: str(v) for k, v in expect.items()}, qemu


def _may_skip(rec: dict[str, Any], where: str) -> dict[str, str]:
    table = rec.get('may_skip', {})
    if not isinstance(table, dict):
        raise _err(where, '"may_skip" must be a table "suite.case" = "why"')
    for pattern, why in table.items():
        if '.' not in pattern or not isinstance(why, str) or \
                not why.strip():
            raise _err(where, f'may_skip.{pattern!r} needs a "suite.case" '
                       f'pattern and a reason')
    return dict(table)


def _vmtest(rec: dict[str, Any], where: str,
            frags: tuple[str, ...]) -> bool:
    """A vmtest row boots a QEMU guest with the options it needs."""
    on = bool(rec.get('vmtest', False))
    if on and rec['arch'] == 'um':
        raise _err(where, 'vmtest needs QEMU (arch x86_64 or i386)')
    if on and VMTEST_CONFIG not in frags:
        raise _err(where, f'vmtest = true needs {VMTEST_CONFIG} in '
                   f'"kunitconfigs"')
    if rec.get('vmtest_in_test', False) and not on:
        raise _err(where, 'vmtest_in_test = true needs vmtest = true')
    return on


def parse_row(rec: dict[str, Any], where: str, repo: Path) -> Row:
    _identity(rec, where)
    frags, options = _config(rec, where, repo)
    vmtest = _vmtest(rec, where, frags)
    timeout, expect, qemu = _run_fields(rec, where)
    return Row(name=rec['name'], description=rec['description'],
               arch=rec['arch'], kunitconfigs=frags, options=options,
               qemu_args=qemu,
               kernel_args=_str_list(rec, 'kernel_args', where),
               timeout=timeout, must_run=_str_list(rec, 'must_run', where),
               expect=expect, default=rec.get('default', False),
               may_skip=_may_skip(rec, where), vmtest=vmtest,
               vmtest_in_test=bool(rec.get('vmtest_in_test', False)))


def _records(text: str, source: str) -> tuple[list[Any], dict[str, Any]]:
    """The [[row]] records and the [defaults] table of a rows file."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RowError(f'{source}: not valid TOML: {e}') from None
    recs = data.get('row')
    if not isinstance(recs, list) or not recs:
        raise RowError(f'{source}: no [[row]] records')
    unknown_top = set(data) - {'row', 'defaults'}
    if unknown_top:
        raise RowError(f'{source}: unknown table(s) '
                       f'{", ".join(sorted(unknown_top))}')
    return recs, defaults_of(data, source)


def parse_rows(text: str, source: str = 'rows.toml', repo: Path = REPO,
               known_suites: Optional[set[str]] = None) -> list[Row]:
    recs, defaults = _records(text, source)
    rows = [parse_row({**defaults, **own},
                      f'{source}: row {i} ({own.get("name", "?")})', repo)
            for i, own in enumerate(recs, 1)]
    names = [r.name for r in rows]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RowError(f'{source}: duplicate row name(s): {", ".join(dup)}')
    marked = [r.name for r in rows if r.default]
    if len(marked) != 1:
        raise RowError(f'{source}: exactly one row must have default = true '
                       f'(found {len(marked)})')
    check_must_run(rows, source, known_suites)
    return rows


def load_rows(path: Path = ROWS_FILE) -> list[Row]:
    return parse_rows(path.read_text(), str(path.relative_to(REPO))
                      if path.is_relative_to(REPO) else str(path))


def select(rows: list[Row], spec: Optional[str]) -> list[Row]:
    """Rows named in a comma-separated spec, in file order; all if empty."""
    if not spec:
        return rows
    want = [s.strip() for s in spec.split(',') if s.strip()]
    known = {r.name for r in rows}
    bad = [w for w in want if w not in known]
    if bad:
        raise RowError(f'unknown row(s): {", ".join(bad)}; known rows: '
                       f'{", ".join(r.name for r in rows)}')
    return [r for r in rows if r.name in want]


def default_row(rows: list[Row]) -> Row:
    return next(r for r in rows if r.default)


def render_config(header: list[str], entries: dict[str, str]) -> str:
    """A kunitconfig: '# ' header lines, then the entries."""
    lines = [f'# {h}' for h in header]
    for k, v in entries.items():
        lines.append(f'# {k} is not set' if v == 'n' else f'{k}={v}')
    return '\n'.join(lines) + '\n'


def kunitconfig_text(row: Row) -> str:
    return render_config([f'Generated from tools/rows.toml (row '
                          f'"{row.name}") by `make gen`; do not edit.',
                          row.description], row.config_entries())


def ci_matrix(rows: list[Row]) -> str:
    return json.dumps([{'row': r.name, 'arch': r.arch,
                        'description': r.description,
                        'timeout-minutes': r.timeout // 60 + 30}
                       for r in rows], indent=2)


def main(argv: list[str]) -> int:
    cmd = argv[1] if len(argv) > 1 else 'list'
    try:
        rows = load_rows()
        if cmd == 'list':
            w = max(len(r.name) for r in rows)
            for r in rows:
                mark = '*' if r.default else ' '
                print(f'{mark} {r.name:<{w}}  {r.arch:<6}  {r.description}')
            print('(* = default row, run by `make`)')
        elif cmd == 'ci':
            print(ci_matrix(rows))
        elif cmd == 'kunitconfig':
            sys.stdout.write(kunitconfig_text(default_row(rows)))
        else:
            print(f'usage: {argv[0]} [list|ci|kunitconfig]', file=sys.stderr)
            return 2
    except RowError as e:
        print(f'rows: error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
