#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn KUnit config-matrix results into a KCIDB I/O report, and check one.

Reports follow KCIDB I/O schema v5.3 (kernelci/kcidb-io, schema files
v05_00.py..v05_03.py).  validate() is written from that schema's text:
required fields, no unknown fields, no nulls, origin [a-z0-9_]+, ids
"<origin>:<no NUL>", statuses FAIL/ERROR/MISS/PASS/DONE/SKIP, RFC 3339
date-times, test paths of dot-joined [a-zA-Z0-9_-]+ components,
log_excerpt <= 16384 characters, no NUL in free text, version.major 5 and
version.minor 0..3 (with the fields v5.1..v5.3 added needing that minor).
It also checks what the schema leaves to the data: ids unique per object
type and prefixed with the object's own origin, and (self_contained) every
*_id naming an object in the same report.

  kcidb.py validate FILE     print the errors, exit 1 if there are any
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from paths import COVER
from results import RowResult

ORIGIN = 'kunitport'
SCHEMA_MAJOR, SCHEMA_MINOR = 5, 3
LOG_EXCERPT_MAX = 16384
STATUSES = ('FAIL', 'ERROR', 'MISS', 'PASS', 'DONE', 'SKIP')
ARCHES = {'x86-64': 'x86_64', 'amd64': 'x86_64', 'i686': 'i386',
          'x86': 'i386'}

ORIGIN_RE = re.compile(r'[a-z0-9_]+')
ID_RE = re.compile(r'[a-z0-9_]+:[^\0]*')
PATH_RE = re.compile(r'([a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*)?')
COMPONENT_RE = re.compile(r'[a-zA-Z0-9_-]+')
SHA1_RE = re.compile(r'[0-9a-f]{40}')
GIT_URL_RE = re.compile(r'https://[^\0]*')
DATETIME_RE = re.compile(r'(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)'
                         r'(\.\d+)?([Zz]|[+-](\d\d):(\d\d))')
URI_RE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`\x00-\x1f\x7f]*')

Check = Callable[[Any, str], list[str]]


# ---------------------------------------------------------------- validator

def _type_error(v: Any, p: str, want: str) -> list[str]:
    if v is None:
        return [f'{p}: must not be null (omit the field instead)']
    kind = {bool: 'boolean', dict: 'object', list: 'array', str: 'string',
            int: 'integer', float: 'number'}.get(type(v), type(v).__name__)
    return [f'{p}: expected {want}, got {kind}']


def datetime_error(s: str) -> Optional[str]:
    """Why s is not an RFC 3339 date-time (JSON schema "date-time")."""
    m = DATETIME_RE.fullmatch(s)
    if not m:
        return (f'{s!r} is not an RFC 3339 date-time '
                '(YYYY-MM-DDTHH:MM:SS[.frac] then Z or +HH:MM)')
    y, mo, d, h, mi, sec, oh, om = (int(m.group(i) or 0)
                                    for i in (1, 2, 3, 4, 5, 6, 9, 10))
    try:
        dt.date(y, mo, d)
    except ValueError:
        return f'{s!r} has no such date'
    bad = h > 23 or mi > 59 or sec > 59 or oh > 23 or om > 59
    return f'{s!r} has a time or offset out of range' if bad else None


def _str(rx: Optional[re.Pattern[str]] = None, what: str = '',
         maxlen: Optional[int] = None,
         fmt: Optional[Callable[[str], Optional[str]]] = None,
         nul_ok: bool = False) -> Check:
    def check(v: Any, p: str) -> list[str]:
        if not isinstance(v, str):
            return _type_error(v, p, 'a string')
        if not nul_ok and '\0' in v:
            return [f'{p}: contains a NUL character']
        if maxlen is not None and len(v) > maxlen:
            return [f'{p}: {len(v)} characters, over the {maxlen} allowed']
        if rx is not None and not rx.fullmatch(v):
            return [f'{p}: {v[:80]!r} does not match {what or rx.pattern}']
        err = fmt(v) if fmt else None
        return [f'{p}: {err}'] if err else []
    return check


def _enum(*values: str) -> Check:
    return _str(fmt=lambda v: None if v in values else
                f'{v!r} is not one of {", ".join(values)}')


def _num(types: tuple[type, ...], want: str, lo: Optional[int] = None,
         hi: Optional[int] = None) -> Check:
    def check(v: Any, p: str) -> list[str]:
        if isinstance(v, bool) != (bool in types) or not isinstance(v, types):
            return _type_error(v, p, want)
        if isinstance(v, float) and not math.isfinite(v):
            return [f'{p}: {v} is not a JSON number']
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = (f'is not {lo}' if lo == hi else f'is below {lo}'
                   if hi is None else f'is outside {lo}..{hi}')
            return [f'{p}: {v!r} {rng}']
        return []
    return check


def _path(v: Any, p: str) -> list[str]:
    if not isinstance(v, str):
        return _type_error(v, p, 'a string')
    bad = [c for c in v.split('.') if not COMPONENT_RE.fullmatch(c)]
    return [] if PATH_RE.fullmatch(v) else [
        f'{p}: path {v[:80]!r} has an invalid component {bad[0]!r} '
        '(components are non-empty [a-zA-Z0-9_-]+, joined by ".")']


def _array(item: Check) -> Check:
    def check(v: Any, p: str) -> list[str]:
        if not isinstance(v, list):
            return _type_error(v, p, 'an array')
        return [e for i, x in enumerate(v) for e in item(x, f'{p}[{i}]')]
    return check


def _object(fields: Optional[dict[str, Check]] = None,
            required: tuple[str, ...] = ()) -> Check:
    """An object with these fields only; fields=None: free-form (misc)."""
    def check(v: Any, p: str) -> list[str]:
        if not isinstance(v, dict):
            return _type_error(v, p, 'an object')
        if fields is None:
            return []
        errs = [f'{p}: missing required field {k!r}'
                for k in required if k not in v]
        for k, x in v.items():
            errs += fields[k](x, f'{p}.{k}') if k in fields else [
                f'{p}: unknown field {k!r}']
        return errs
    return check


def _uri_error(v: str) -> Optional[str]:
    return None if URI_RE.fullmatch(v) else f'{v!r} is not a URI'


TEXT, MISC = _str(), _object()
TIME, URI = _str(fmt=datetime_error), _str(fmt=_uri_error, nul_ok=True)
ID = _str(ID_RE, "'<origin>:<id>' with the origin made of [a-z0-9_]")
BOOL, NUMBER = _num((bool,), 'a boolean'), _num((int, float), 'a number')
COUNT = _num((int,), 'an integer', lo=0)
STATUS, LOG = _enum(*STATUSES), _str(maxlen=LOG_EXCERPT_MAX)
FILES = _array(_object({'name': _str(re.compile(r'[^/\0]+'), 'a file name'),
                        'url': URI}, ('name', 'url')))
COMMON = {'_timestamp': TIME, 'id': ID, 'origin': _str(ORIGIN_RE),
          'comment': TEXT, 'misc': MISC}
OBJECTS: dict[str, Check] = {
    'checkouts': _object({
        **COMMON, 'tree_name': TEXT, 'git_repository_url': _str(
            GIT_URL_RE, 'https://...', fmt=_uri_error),
        'git_commit_hash': _str(SHA1_RE, '40 lowercase hex digits'),
        'git_commit_name': TEXT, 'git_commit_tags': _array(TEXT),
        'git_commit_message': TEXT, 'git_repository_branch': TEXT,
        'git_repository_branch_tip': BOOL, 'patchset_files': FILES,
        'patchset_hash': _str(re.compile(r'([0-9a-f]{64})?'),
                              '"" or 64 lowercase hex digits'),
        'message_id': _str(fmt=lambda v: None if '@' in v else
                           f'{v!r} is not an e-mail address', nul_ok=True),
        'start_time': TIME, 'origin_builds_finish_time': TIME,
        'origin_tests_finish_time': TIME, 'log_url': URI, 'log_excerpt': LOG,
        'valid': BOOL}, ('id', 'origin')),
    'builds': _object({
        **COMMON, 'checkout_id': ID, 'start_time': TIME, 'duration': NUMBER,
        'architecture': _str(re.compile(r'[a-z0-9_]*')), 'command': TEXT,
        'compiler': TEXT, 'input_files': FILES, 'output_files': FILES,
        'config_name': TEXT, 'config_url': URI, 'log_url': URI,
        'log_excerpt': LOG, 'status': STATUS},
        ('checkout_id', 'id', 'origin')),
    'tests': _object({
        **COMMON, 'build_id': ID, 'path': _path, 'log_url': URI,
        'environment': _object({'compatible': _array(_str(re.compile(
            r'[^ \0]+(,[^ \0]+)*'))), 'comment': TEXT, 'misc': MISC}),
        'log_excerpt': LOG, 'status': STATUS, 'number': _object(
            {'value': NUMBER, 'unit': TEXT, 'prefix': _enum('metric',
                                                            'binary')},
            ('value',)),
        'start_time': TIME, 'duration': NUMBER, 'input_files': FILES,
        'output_files': FILES}, ('build_id', 'id', 'origin')),
    'issues': _object({
        **COMMON, 'version': COUNT, 'categories': _array(_path),
        'report_url': URI, 'report_subject': TEXT,
        'culprit': _object({'code': BOOL, 'tool': BOOL, 'harness': BOOL})},
        ('id', 'version', 'origin')),
    'incidents': _object({
        **COMMON, 'issue_id': ID, 'issue_version': COUNT, 'build_id': ID,
        'test_id': ID, 'present': BOOL},
        ('id', 'origin', 'issue_id', 'issue_version')),
}
VERSION = _object({'major': _num((int,), 'an integer', SCHEMA_MAJOR,
                                 SCHEMA_MAJOR),
                   'minor': _num((int,), 'an integer', 0, SCHEMA_MINOR)},
                  ('major',))
REPORT = _object({'version': VERSION,
                  **{k: _array(c) for k, c in OBJECTS.items()}}, ('version',))
# Fields a minor version added: (object list, field) -> minor.
SINCE = {('checkouts', 'origin_builds_finish_time'): 1,
         ('checkouts', 'origin_tests_finish_time'): 1,
         ('issues', 'categories'): 2, ('tests', 'input_files'): 3}
# References resolved within a self-contained report.
LINKS = {'builds': [('checkout_id', 'checkouts')],
         'tests': [('build_id', 'builds')],
         'incidents': [('issue_id', 'issues'), ('build_id', 'builds'),
                       ('test_id', 'tests')]}


def validate(report: Any, self_contained: bool = True) -> list[str]:
    """Check a report against KCIDB I/O schema v5.3; [] when valid.

    Each error names its place as a JSON path, e.g. "$.tests[3].path: ...".
    """
    errs = REPORT(report, '$')
    if not isinstance(report, dict):
        return errs
    ver = report.get('version')
    minor = ver.get('minor', 0) if isinstance(ver, dict) else None
    if _num((int,), '', 0, SCHEMA_MINOR)(minor, ''):
        minor = None                # already reported, if wrong
    ids: dict[str, set[Any]] = {}
    for name in OBJECTS:
        objs = report.get(name)
        seen: set[Any] = set()
        ids[name] = set()
        for i, obj in enumerate(objs if isinstance(objs, list) else []):
            if not isinstance(obj, dict):
                continue
            p = f'$.{name}[{i}]'
            errs += [f'{p}.{f}: needs schema v5.{n}, the report declares '
                     f'v5.{minor}' for (lst, f), n in SINCE.items()
                     if lst == name and f in obj and minor is not None
                     and minor < n]
            oid = obj.get('id')
            if not isinstance(oid, str):
                continue
            key = (oid, obj.get('version')) if name == 'issues' else oid
            if key in seen:
                errs.append(f'{p}.id: duplicate id {oid!r}')
            seen.add(key)
            ids[name].add(oid)
            if isinstance(obj.get('origin'), str) and \
                    not oid.startswith(obj['origin'] + ':'):
                errs.append(f'{p}.id: {oid!r} does not start with its '
                            f'origin {obj["origin"]!r} and a colon')
    for name, links in LINKS.items() if self_contained else ():
        objs = report.get(name)
        for i, obj in enumerate(objs if isinstance(objs, list) else []):
            for field, target in links:
                ref = obj.get(field) if isinstance(obj, dict) else None
                if isinstance(ref, str) and ref not in ids[target]:
                    errs.append(f'$.{name}[{i}].{field}: {ref!r} is not the '
                                f'id of any of the report\'s {target}')
    return errs


# ----------------------------------------------------------- report builder

def patchset_hash(patch_bytes: list[bytes]) -> str:
    """KCIDB's patchset hash: sha256 over the newline-terminated sha256 hex
    digests of each patch, in order (`sha256sum *.patch | cut -c-64 |
    sha256sum | cut -c-64`); "" when there are no patches."""
    if not patch_bytes:
        return ''
    digests = ''.join(hashlib.sha256(b).hexdigest() + '\n'
                      for b in patch_bytes)
    return hashlib.sha256(digests.encode('ascii')).hexdigest()


def path_component(text: str) -> str:
    """text as one test-path component ([a-zA-Z0-9_-]+): each run of other
    characters becomes "_" (none at the ends); text without any usable
    character becomes "p" plus 8 hex digits of its sha256."""
    comp = '_'.join(w for w in re.split(r'[^a-zA-Z0-9_-]+', text) if w)
    return comp or 'p' + hashlib.sha256(text.encode()).hexdigest()[:8]


def excerpt(raw: Any, keep: str = 'tail', limit: int = LOG_EXCERPT_MAX
            ) -> str:
    """raw without NULs, cut to at most limit characters: its tail (a
    console ends with what matters) or head (a case's first failure)."""
    text: str = str(raw or '').replace('\0', '')
    mark = '[... truncated ...]'
    if len(text) <= limit:
        return text
    if limit <= len(mark) + 1:
        return text[len(text) - limit:] if keep == 'tail' else text[:limit]
    if keep == 'tail':
        return mark + '\n' + text[len(text) - limit + len(mark) + 1:]
    return text[:limit - len(mark) - 1] + '\n' + mark


def _unique(name: str, used: set[str]) -> str:
    out, n = name, 1
    while out in used:
        n += 1
        out = f'{name}_{n}'
    used.add(out)
    return out


def _text(v: Any) -> str:
    return '' if v is None else str(v).replace('\0', '')


def _time(v: Any) -> Optional[dt.datetime]:
    """An ISO 8601 string as a UTC datetime (naive means UTC), or None."""
    try:
        t = dt.datetime.fromisoformat(str(v).strip())
    except ValueError:
        return None
    t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(dt.timezone.utc)


def _seconds(v: Any) -> Optional[float]:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    return float(v) if ok and math.isfinite(v) else None


def _put(obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """Set the fields that have a value (KCIDB has no nulls)."""
    obj.update((k, v) for k, v in fields.items() if v not in (None, ''))
    return obj


@dataclass
class Checkout:
    """What was tested: the base and the patches on it."""
    base: str = ''
    base_desc: str = ''
    patch_files: list[str] = field(default_factory=list)
    start_time: str = ''
    tree_name: str = ''
    git_repository_url: Optional[str] = None


def _summary_test(row: RowResult, build_id: str, when: Optional[str]
                  ) -> dict[str, Any]:
    """The row's summary test ("kunit"): its verdict and reasons."""
    verdict = 'pass' if row.passed else 'fail'
    reasons = [_text(r) for r in row.reasons]
    counts: dict[str, int] = {}
    for c in row.cases:
        counts[c.status.value] = counts.get(c.status.value, 0) + 1
    # MISS: never ran, the build failed.
    status = 'MISS' if not row.build_ok else \
        'PASS' if row.passed and not reasons else 'FAIL'
    summary = _put({'id': f'{build_id}:kunit', 'build_id': build_id,
                    'origin': ORIGIN, 'path': 'kunit', 'status': status,
                    'comment': f'KUnit run of matrix row {row.row}: '
                               f'{verdict}',
                    'misc': {'verdict': verdict, 'reasons': reasons,
                             'counts': counts}}, start_time=when)
    if row.build_ok:
        _put(summary, duration=_seconds(row.boot_seconds))
    if status != 'PASS':           # the reasons, then the console's tail
        head = '\n'.join(reasons or [f'verdict: {verdict}'])
        tail = excerpt(row.console_excerpt, 'tail',
                       max(LOG_EXCERPT_MAX - len(head) - 2, 0))
        summary['log_excerpt'] = excerpt(
            head + ('\n\n' + tail if tail else ''), 'head')
    return summary


def _row_tests(row: RowResult, build_id: str,
               start: Optional[dt.datetime]) -> list[dict[str, Any]]:
    """The row's summary test ("kunit") and one test per KUnit case."""
    when = start.isoformat() if start else None
    tests, used = [_summary_test(row, build_id, when)], {'kunit'}
    for c in row.cases:
        parts = [c.suite, c.case] + ([c.param] if c.param else [])
        path = _unique('.'.join(['kunit'] + [path_component(_text(x))
                                             for x in parts]), used)
        misc = _put({}, suite=_text(c.suite), case=_text(c.case),
                    param=_text(c.param))
        t = _put({'id': f'{build_id}:{path}', 'build_id': build_id,
                  'origin': ORIGIN, 'path': path, 'status': c.status.value},
                 duration=_seconds(c.duration), start_time=when,
                 misc=misc or None)
        if c.status.failed:
            _put(t, log_excerpt=excerpt(c.log, 'head'))
        tests.append(t)
    return tests


def _checkout(co: Checkout) -> tuple[dict[str, Any], list[str]]:
    """The KCIDB checkout, and the patch files it counts."""
    files = [f for f in co.patch_files if os.path.basename(f) != COVER]
    blobs = []
    for f in files:
        with open(f, 'rb') as fh:
            blobs.append(fh.read())
    phash = patchset_hash(blobs)
    base = _text(co.base).strip().lower()
    key = (path_component(base[:12]) if base else 'nobase') + (
        f'+{phash[:12]}' if phash else '')
    url = co.git_repository_url
    start = _time(co.start_time)
    out = _put({'id': f'{ORIGIN}:{key}', 'origin': ORIGIN,
                'patchset_hash': phash, 'valid': True},
               git_commit_hash=base if SHA1_RE.fullmatch(base) else None,
               tree_name=_text(co.tree_name), comment=_text(co.base_desc),
               git_repository_url=url if isinstance(url, str) and
               GIT_URL_RE.fullmatch(url) and not _uri_error(url) else None,
               start_time=start.isoformat() if start else None,
               misc={'patches': [os.path.basename(f) for f in files]})
    if base and 'git_commit_hash' not in out:
        out['misc']['base'] = base
    return out, files


def _build(row: RowResult, name: str, build_id: str, checkout_id: str
           ) -> dict[str, Any]:
    arch = _text(row.arch).lower()
    rstart = _time(row.start_time)
    b = _put({'id': build_id, 'origin': ORIGIN, 'checkout_id': checkout_id,
              'status': 'PASS' if row.build_ok else 'FAIL'},
             comment=_text(row.description),
             architecture=ARCHES.get(arch, re.sub(r'[^a-z0-9_]', '_', arch)),
             config_name=_text(row.config_name),
             compiler=_text(row.compiler),
             duration=_seconds(row.build_seconds),
             start_time=rstart.isoformat() if rstart else None,
             misc={'row': name, 'verdict': 'pass' if row.passed else 'fail'})
    if not row.build_ok or not row.passed:
        _put(b, log_excerpt=excerpt(row.console_excerpt))
    return b


def build_report(checkout: Checkout, rows: list[RowResult]) -> dict[str, Any]:
    """A KCIDB v5.3 report: the patched checkout, one build per matrix row,
    and per row a "kunit" summary test plus one test per KUnit case
    ("kunit.<suite>.<case>[.<param>]").  Ids derive from the base commit,
    the patchset hash and the row name, so they are deterministic."""
    co, _ = _checkout(checkout)
    builds: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    used: set[str] = set()
    done: list[tuple[dt.datetime, dt.datetime]] = []
    for i, row in enumerate(rows):
        name = _text(row.row or row.config_name or f'row{i}')
        build_id = f'{co["id"]}-{_unique(path_component(name), used)}'
        builds.append(_build(row, name, build_id, co['id']))
        rstart = _time(row.start_time)
        bsec, tsec = _seconds(row.build_seconds), _seconds(row.boot_seconds)
        tstart = rstart + dt.timedelta(seconds=bsec or 0) if rstart else None
        if tstart:
            done.append((tstart, tstart + dt.timedelta(seconds=tsec or 0)))
        tests += _row_tests(row, build_id, tstart)
    if done:
        co['origin_builds_finish_time'] = max(d[0] for d in done).isoformat()
        co['origin_tests_finish_time'] = max(d[1] for d in done).isoformat()
    return {'version': {'major': SCHEMA_MAJOR, 'minor': SCHEMA_MINOR},
            'checkouts': [co], 'builds': builds, 'tests': tests}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    sub.add_parser('validate', help='check a KCIDB JSON report file'
                   ).add_argument('file')
    args = ap.parse_args(argv)
    try:
        with open(args.file, encoding='utf-8') as fh:
            report = json.load(fh)
    except (OSError, ValueError) as e:
        print(f'{args.file}: cannot read JSON: {e}')
        return 1
    errors = validate(report)
    print('\n'.join(errors) if errors else
          f'{args.file}: valid (KCIDB I/O schema v5.{SCHEMA_MINOR})')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
