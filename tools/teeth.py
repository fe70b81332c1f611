#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make teeth`: prove that the suites fail on the historical bugs.

  teeth.py run --tree DIR [--mutants a,b]   apply each mutant on the series
                                            in a throwaway worktree, build
                                            and boot its rows, judge them
  teeth.py check --tree DIR                 the data is valid and every
                                            mutant applies (no build)
  teeth.py list                             the mutants and their rows

The mutants are patches in kunit/mutants/ with their data in
kunit/mutants/mutants.toml (schema in that file and in
Documentation/teeth.rst).  Each row is run by tools/runner.py exactly as
the matrix runs it, in its own build folder, holding the machine's kernel
build lock (paths.kbuild_lock()).  A row kills its mutant when the reason
the data expects shows (a failing case, a console splat of that kind, or
a build error); a row that fails only for other reasons is reported as
killed-otherwise and does not count.  Exit status 0 only when every
mutant that is not declared equivalent is killed for its expected reason.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Any, Iterator, Optional

import kcidb
import buildlock
import paths
import reports
import results as resultsmod
import rows as rowsmod
import runner
import suites
from console import SPLATS
from gitcmd import add_worktree, git
from results import RowResult

BUILD_ERROR = 'build error'
SPLAT_KINDS = tuple(kind for kind, _ in SPLATS)
NAME_RE = re.compile(r'[a-z0-9][a-z0-9-]*')
FIELDS = {'name', 'patch', 'description', 'rows', 'expect', 'equivalent'}
REASON_SEP = '; '     # between the reasons of a row that expects several


class TeethError(Exception):
    """Bad mutant data, or a mutant that does not apply: printed without a
    traceback, exit status 2."""


@dataclass(frozen=True)
class Mutant:
    name: str
    patch: Path
    description: str
    rows: tuple[str, ...] = ()
    expect: dict[str, str] = field(default_factory=dict)  # row -> reason
    equivalent: str = ''      # why no row can kill it; then rows == ()
    # The patch as it was when the data was loaded: editing the file
    # during a run does not change what the run applies.
    diff: str = ''


class Verdict(str, Enum):
    KILLED = 'killed'
    KILLED_OTHERWISE = 'killed-otherwise'
    SURVIVED = 'survived'
    BUILD_ERROR = 'build-error'
    EQUIVALENT = 'equivalent'
    NOT_RUN = 'not-run'       # interrupted before all its rows ran


@dataclass
class Cell:
    """One mutant on one row: the verdict and what it rests on."""
    mutant: str
    row: str
    expected: str
    verdict: Verdict
    detail: str = ''          # the observed expected reason, or the first
    others: list[str] = field(default_factory=list)   # other reasons
    result: Optional[RowResult] = None


# ------------------------------------------------------------------ data --

def reason_error(reason: str, suite_names: set[str]) -> str:
    """Why an expected kill reason is not one teeth can observe, or ''."""
    if reason == BUILD_ERROR or reason in SPLAT_KINDS:
        return ''
    suite = reason.split('.', 1)[0]
    if '.' in reason and suite in suite_names:
        return ''
    return (f'expected reason {reason!r} is neither {BUILD_ERROR!r}, a splat '
            f'kind ({", ".join(SPLAT_KINDS)}) nor "suite.case [param]" of a '
            f'suite ({", ".join(sorted(suite_names))})')


def _str_field(rec: dict[str, Any], key: str, where: str,
               required: bool = True) -> str:
    v = rec.get(key, '')
    if not isinstance(v, str) or (required and not v.strip()):
        raise TeethError(f'{where}: {key} must be a non-empty string')
    return v


def _rows_expect(rec: dict[str, Any], where: str, row_names: set[str],
                 suite_names: set[str]) -> tuple[tuple[str, ...],
                                                 dict[str, str]]:
    rows, expect = rec.get('rows', []), rec.get('expect', {})
    if not isinstance(rows, list) or not all(isinstance(r, str)
                                             for r in rows):
        raise TeethError(f'{where}: rows must be a list of row names')
    if not isinstance(expect, dict):
        raise TeethError(f'{where}: expect must be a table row = "reason"')
    for r in rows:
        if r not in row_names:
            raise TeethError(f'{where}: unknown row {r!r} (rows: '
                             f'{", ".join(sorted(row_names))})')
    if len(set(rows)) != len(rows) or set(expect) != set(rows):
        raise TeethError(f'{where}: expect must give one reason for each '
                         f'row of rows, and only those (rows {rows}, '
                         f'expect {sorted(expect)})')
    out: dict[str, str] = {}
    for r, why in expect.items():
        # A list: every one of its reasons must show (e.g. two page sizes).
        whys = why if isinstance(why, list) else [why]
        err = '' if whys and all(isinstance(w, str) for w in whys) else \
            'the reason must be a string or a non-empty list of strings'
        for w in whys if not err else []:
            err = err or reason_error(w, suite_names)
        if err:
            raise TeethError(f'{where}: row {r}: {err}')
        out[r] = REASON_SEP.join(whys)
    return tuple(rows), out


def parse_mutant(rec: Any, where: str, folder: Path, row_names: set[str],
                 suite_names: set[str]) -> Mutant:
    if not isinstance(rec, dict):
        raise TeethError(f'{where}: not a table')
    unknown = sorted(set(rec) - FIELDS)
    if unknown:
        raise TeethError(f'{where}: unknown field(s) {", ".join(unknown)}')
    name = _str_field(rec, 'name', where)
    where = f'{where} ({name})'
    if not NAME_RE.fullmatch(name):
        raise TeethError(f'{where}: the name must match {NAME_RE.pattern}')
    patch = folder / _str_field(rec, 'patch', where)
    if not patch.is_file() or patch.parent != folder:
        raise TeethError(f'{where}: patch file {patch} is missing')
    desc = _str_field(rec, 'description', where)
    equivalent = _str_field(rec, 'equivalent', where, required=False)
    rows, expect = _rows_expect(rec, where, row_names, suite_names)
    if bool(equivalent.strip()) == bool(rows):
        raise TeethError(f'{where}: give either rows (and expect) or '
                         f'equivalent (why no row can kill it), not both '
                         f'or neither')
    return Mutant(name, patch, desc, rows, expect, equivalent.strip(),
                  patch.read_text())


def parse_mutants(text: str, source: str, folder: Path,
                  row_names: set[str], suite_names: set[str]
                  ) -> list[Mutant]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TeethError(f'{source}: {e}') from None
    recs = data.get('mutant', [])
    if set(data) - {'mutant'} or not isinstance(recs, list) or not recs:
        raise TeethError(f'{source}: expected [[mutant]] records only')
    out = [parse_mutant(r, f'{source}: mutant {i + 1}', folder, row_names,
                        suite_names) for i, r in enumerate(recs)]
    names = [m.name for m in out]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise TeethError(f'{source}: mutant(s) listed twice: '
                         f'{", ".join(dups)}')
    return out


def load_mutants(path: Path = paths.MUTANTS_FILE,
                 rows: Optional[list[rowsmod.Row]] = None) -> list[Mutant]:
    rows = rows if rows is not None else rowsmod.load_rows()
    return parse_mutants(path.read_text(), str(path), path.parent,
                         {r.name for r in rows}, suites.suite_names())


def select(mutants: list[Mutant], spec: str) -> list[Mutant]:
    want = [s.strip() for s in spec.split(',') if s.strip()]
    known = {m.name: m for m in mutants}
    bad = [w for w in want if w not in known]
    if bad:
        raise TeethError(f'unknown mutant(s) {", ".join(bad)}; known: '
                         f'{", ".join(known)}')
    return [known[w] for w in want] if want else mutants


# --------------------------------------------------------------- judging --

def observed(expect: str, res: RowResult) -> str:
    """What in res shows every expected kill reason, or ''."""
    hits = [observed_one(e, res) for e in expect.split(REASON_SEP)]
    return REASON_SEP.join(hits) if all(hits) else ''


def observed_one(expect: str, res: RowResult) -> str:
    """What in res is this one expected kill reason, or ''."""
    if expect == BUILD_ERROR:
        return BUILD_ERROR if not res.build_ok else ''
    if expect in SPLAT_KINDS:
        return next((s for s in res.splats if s.startswith(expect + ': ')),
                    '')
    return next((f'{c.name}: {c.status.value}' for c in res.cases
                 if c.status.failed and runner.skip_allowed(c.name, expect)),
                '')


def judge_row(mutant: str, row: str, expect: str, res: RowResult) -> Cell:
    """killed (the expected reason shows), build-error, survived (the row
    passed) or killed-otherwise (it failed, for other reasons only)."""
    hit = observed(expect, res)
    hits = hit.split(REASON_SEP) if hit else []
    others = [r.splitlines()[0] for r in res.reasons
              if not any(h in r for h in hits)]
    if hit:
        verdict = Verdict.KILLED
    elif not res.build_ok:
        verdict = Verdict.BUILD_ERROR
    elif res.passed:
        verdict = Verdict.SURVIVED
    else:
        verdict = Verdict.KILLED_OTHERWISE
    detail = hit or (others.pop(0) if others else '')
    return Cell(mutant, row, expect, verdict, detail, others, res)


def mutant_verdict(m: Mutant, cells: list[Cell]) -> Verdict:
    """The mutant's verdict: killed only when every one of its rows killed
    it for the expected reason; otherwise its worst row."""
    if m.equivalent:
        return Verdict.EQUIVALENT
    order = [Verdict.SURVIVED, Verdict.KILLED_OTHERWISE, Verdict.BUILD_ERROR,
             Verdict.NOT_RUN]
    mine = [c.verdict for c in cells if c.mutant == m.name]
    for v in order:
        if v in mine:
            return v
    return Verdict.KILLED if len(mine) == len(m.rows) else Verdict.NOT_RUN


def all_killed(mutants: list[Mutant], cells: list[Cell]) -> bool:
    return all(mutant_verdict(m, cells) in (Verdict.KILLED,
                                            Verdict.EQUIVALENT)
               for m in mutants)


# --------------------------------------------------------------- running --

def log(msg: str) -> None:
    print(f'teeth: {msg}', flush=True)


def drop_worktree(tree: Path, wt: Path) -> None:
    git(['worktree', 'remove', '--force', str(wt)], tree, check=False)
    shutil.rmtree(wt, ignore_errors=True)
    git(['worktree', 'prune'], tree, check=False)


@contextlib.contextmanager
def worktree(tree: Path) -> Iterator[tuple[Path, str]]:
    """A throwaway worktree of the prepared tree at its HEAD; removed
    afterwards, also on an error or Ctrl-C."""
    head = git(['rev-parse', 'HEAD'], tree).strip()
    wt = paths.teeth_tree()
    drop_worktree(tree, wt)     # left over by a killed run
    t0 = time.monotonic()
    add_worktree(tree, wt, head)
    log(f'worktree {wt} at {head[:12]} in {time.monotonic() - t0:.0f}s')
    try:
        yield wt, head
    finally:
        drop_worktree(tree, wt)
        log(f'worktree {wt} removed')


def reset(wt: Path, head: str) -> None:
    """The worktree back at the series, without the last mutant."""
    git(['checkout', '-q', '-f', '--detach', head], wt)
    git(['clean', '-q', '-f', '-d'], wt)


def apply_mutant(wt: Path, head: str, m: Mutant, check: bool = False) -> None:
    """Apply m to a clean tree at head (or only check that it applies)."""
    res = subprocess.run(['git', 'apply', '--whitespace=nowarn',
                          *(['--check'] if check else []), '-'],
                         cwd=wt, capture_output=True, text=True,
                         input=m.diff or m.patch.read_text())
    if res.returncode != 0:
        raise TeethError(f'mutant {m.name}: {m.patch.name} does not apply to '
                         f'the series ({head[:12]}):\n{res.stderr.strip()}\n'
                         f'Make it again against the prepared tree: edit '
                         f'there, `git diff > {m.patch}`, `git checkout .`')


def run_cell(m: Mutant, row: rowsmod.Row, wt: Path, jobs: int) -> Cell:
    """Build, boot and judge one row of one mutant, under the lock."""
    label = f'{m.name}-{row.name}'
    out = paths.teeth_results() / label
    log(f'[{label}] {m.name} on row {row.name}: must fail with '
        f'{m.expect[row.name]!r}')
    with buildlock.held(f'teeth: [{label}]'):
        res = runner.run_row(dataclasses.replace(row, name=label), wt,
                             paths.teeth_build_root(), jobs, out)
    resultsmod.save(res, out / 'result.json')
    cell = judge_row(m.name, row.name, m.expect[row.name], res)
    log(f'[{label}] build {res.build_seconds:.0f}s, boot+test '
        f'{res.boot_seconds:.0f}s -> {cell.verdict.value}'
        f'{": " + cell.detail if cell.detail else ""}')
    for other in cell.others[:8]:
        log(f'[{label}]   also: {other}')
    return cell


def run_mutants(mutants: list[Mutant], rows: dict[str, rowsmod.Row],
                tree: Path, jobs: int, cells: list[Cell]) -> None:
    """Append a Cell per mutant and row to cells as they finish (the
    caller keeps what finished when this is interrupted)."""
    with worktree(tree) as (wt, head):
        for i, m in enumerate(mutants, 1):
            log(f'mutant {i}/{len(mutants)}: {m.name}: {m.description}')
            reset(wt, head)
            if m.equivalent:
                apply_mutant(wt, head, m, check=True)
                log(f'[{m.name}] applies; declared equivalent, not run: '
                    f'{m.equivalent}')
                continue
            apply_mutant(wt, head, m)
            for name in m.rows:
                cells.append(run_cell(m, rows[name], wt, jobs))


# --------------------------------------------------------------- reports --

def cell_text(c: Optional[Cell]) -> str:
    if c is None:
        return '-'
    return c.verdict.value + (f' ({c.detail})' if c.detail else '')


def matrix_table(mutants: list[Mutant], cells: list[Cell]) -> str:
    """The kill matrix, mutant x row, as Markdown."""
    cols = list(dict.fromkeys(r for m in mutants for r in m.rows))
    head = ['mutant', *cols, 'verdict']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join('---' for _ in head) + '|']
    for m in mutants:
        by_row = {c.row: c for c in cells if c.mutant == m.name}
        row_cells = [cell_text(by_row.get(r)) if r in m.rows else
                     ('equivalent' if m.equivalent else '') for r in cols]
        lines.append('| ' + ' | '.join([m.name, *row_cells,
                                        mutant_verdict(m, cells).value])
                     + ' |')
    return '\n'.join(lines) + '\n'


def details(mutants: list[Mutant], cells: list[Cell]) -> str:
    out = []
    for m in mutants:
        out.append(f'- **{m.name}** ({m.patch.name}): {m.description}.')
        if m.equivalent:
            out.append(f'  - equivalent, not counted as killed: '
                       f'{m.equivalent}')
        for c in (c for c in cells if c.mutant == m.name):
            out.append(f'  - {c.row}: expected `{c.expected}`; '
                       f'{cell_text(c)}')
            out += [f'    - also: {o}' for o in c.others]
    return '\n'.join(out) + '\n'


def write_reports(mutants: list[Mutant], cells: list[Cell], tree: Path,
                  seconds: float) -> None:
    out = paths.results_dir()
    out.mkdir(parents=True, exist_ok=True)
    base_desc = reports.base_of(tree)[1]
    paths.teeth_report().write_text(
        '# Mutants: do the suites fail on the historical bugs?\n\n' +
        (f'{base_desc[0].upper() + base_desc[1:]}; ' if base_desc else '') +
        f'{len(mutants)} mutants in {seconds:.0f}s.\n\n' +
        matrix_table(mutants, cells) + '\n' + details(mutants, cells))
    report = kcidb_report(mutants, cells, tree)
    errors = kcidb.validate(report)
    paths.teeth_kcidb().write_text(json.dumps(report, indent=2) + '\n')
    if errors:
        log('teeth-kcidb.json does not validate:\n  ' +
            '\n  '.join(errors[:20]))


KCIDB_STATUS = {Verdict.KILLED: 'PASS', Verdict.KILLED_OTHERWISE: 'FAIL',
                Verdict.SURVIVED: 'FAIL', Verdict.BUILD_ERROR: 'ERROR'}


def kcidb_test(c: Cell, build_id: str) -> dict[str, Any]:
    """One KCIDB test per mutant x row: PASS when the row killed the
    mutant for the expected reason."""
    path = f'teeth.{kcidb.path_component(c.mutant)}.' \
        f'{kcidb.path_component(c.row)}'
    t: dict[str, Any] = {
        'id': f'{build_id}:{path}', 'build_id': build_id,
        'origin': kcidb.ORIGIN, 'path': path,
        'status': KCIDB_STATUS[c.verdict],
        'comment': f'mutant {c.mutant} on row {c.row}: {cell_text(c)}',
        'misc': {'mutant': c.mutant, 'row': c.row, 'expected': c.expected,
                 'verdict': c.verdict.value, 'others': c.others}}
    if c.result is not None and c.result.start_time:
        t['start_time'] = c.result.start_time
    if c.verdict is not Verdict.KILLED:
        t['log_excerpt'] = kcidb.excerpt('\n'.join(
            [cell_text(c), *c.others]), 'head')
    return t


def kcidb_report(mutants: list[Mutant], cells: list[Cell],
                 tree: Path) -> dict[str, Any]:
    """kcidb.build_report()'s checkout and one build per mutant x row
    (each a kunit.py build of the series plus the mutant), with one test
    per build: the kill verdict."""
    ran = [c for c in cells if c.result is not None]
    rows = [c.result for c in ran if c.result is not None]
    report = kcidb.build_report(reports.checkout(rows, tree), rows)
    report['checkouts'][0].setdefault('misc', {})['equivalent_mutants'] = \
        {m.name: m.equivalent for m in mutants if m.equivalent}
    report['tests'] = [kcidb_test(c, b['id'])
                       for c, b in zip(ran, report['builds'])]
    return report


def print_end(mutants: list[Mutant], cells: list[Cell], secs: float) -> bool:
    print()
    print(matrix_table(mutants, cells))
    ok = all_killed(mutants, cells)
    counts: dict[str, int] = {}
    for m in mutants:
        v = mutant_verdict(m, cells).value
        counts[v] = counts.get(v, 0) + 1
    log(f'{len(mutants)} mutants in {secs:.0f}s: ' + ', '.join(
        f'{n} {v}' for v, n in counts.items()) +
        f'; reports {paths.teeth_report()}, {paths.teeth_kcidb()}')
    log('verdict ' + ('PASS: every mutant that is not equivalent is killed '
                      'for its expected reason' if ok else
                      'FAIL: a mutant was not killed for its expected '
                      'reason (see above)'))
    return ok


# ------------------------------------------------------------------- CLI --

def on_sigint(signum: int, frame: Optional[FrameType]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def do_run(args: argparse.Namespace, mutants: list[Mutant],
           rows: list[rowsmod.Row]) -> int:
    tree, t0 = Path(args.tree).resolve(), time.monotonic()
    selected = select(mutants, args.mutants)
    cells: list[Cell] = []
    log(f'{len(selected)} mutant(s) on {tree}; started '
        f'{dt.datetime.now().isoformat(timespec="seconds")}')
    try:
        run_mutants(selected, {r.name: r for r in rows}, tree,
                    args.jobs, cells)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        write_reports(selected, cells, tree, time.monotonic() - t0)
        log(f'interrupted; {len(cells)} row(s) finished, reports '
            f'rewritten from them')
        return 130
    write_reports(selected, cells, tree, time.monotonic() - t0)
    return 0 if print_end(selected, cells, time.monotonic() - t0) else 1


def do_check(args: argparse.Namespace, mutants: list[Mutant],
             rows: list[rowsmod.Row]) -> int:
    tree = Path(args.tree).resolve()
    head = git(['rev-parse', 'HEAD'], tree).strip()
    for m in select(mutants, args.mutants):
        apply_mutant(tree, head, m, check=True)
    log(f'{len(mutants)} mutants valid; all apply to {head[:12]}')
    return 0


def do_list(args: argparse.Namespace, mutants: list[Mutant],
            rows: list[rowsmod.Row]) -> int:
    for m in mutants:
        where = ', '.join(f'{r}: {m.expect[r]}' for r in m.rows) or \
            f'equivalent: {m.equivalent}'
        print(f'{m.name:32} {where}')
    return 0


HANDLERS = {'run': do_run, 'check': do_check, 'list': do_list}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name in ('run', 'check'):
        p = sub.add_parser(name)
        p.add_argument('--tree', required=True, help='prepared kernel tree')
        p.add_argument('--mutants', default=os.environ.get('MUTANTS', ''))
        p.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    sub.add_parser('list')
    args = ap.parse_args(argv)
    try:
        rows = rowsmod.load_rows()
        return HANDLERS[args.cmd](args, load_mutants(rows=rows), rows)
    except (TeethError, rowsmod.RowError, paths.SeriesError) as e:
        print(f'teeth: error: {e}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    signal.signal(signal.SIGINT, on_sigint)
    sys.exit(main())
