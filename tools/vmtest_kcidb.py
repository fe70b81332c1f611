# SPDX-License-Identifier: GPL-2.0
"""`make vmtest` as a KCIDB v5.3 report (results/vmtest/kcidb.json).

Two checkouts, the patched one (the base and the series, as the matrix's
report has it) and the base alone (no patches); per row and kernel a
build ("<row>" and "<row>-base"); per build one test per vmtest test,
its path "vmtest." and the test's name split at "/" (e.g.
vmtest.uffd-unit-tests.register_on_hugetlb, vmtest.writeback.text.c),
so they never collide with the matrix's "kunit." paths.
"""

from __future__ import annotations

from typing import Any, Optional

import kcidb
from kcidb import ORIGIN, excerpt, path_component
from vmtest_parse import Test
from vmtest_report import RowVm


def test_path(name: str) -> str:
    return '.'.join(['vmtest'] + [path_component(p) for p in name.split('/')])


def tests_of(build_id: str, tests: list[Test], when: Optional[str]
             ) -> list[dict[str, Any]]:
    out, used = [], set()
    for t in tests:
        path, n = test_path(t.name), 1
        while path in used:
            n += 1
            path = f'{test_path(t.name)}_{n}'
        used.add(path)
        obj = kcidb._put({'id': f'{build_id}:{path}', 'build_id': build_id,
                          'origin': ORIGIN, 'path': path,
                          'status': t.status.value},
                         comment=kcidb._text(t.why.splitlines()[0]
                                             if t.why else ''),
                         start_time=when)
        if t.status.failed:
            obj['log_excerpt'] = excerpt(t.why + ('\n\n' + t.log
                                                  if t.log else ''), 'head')
        out.append(obj)
    return out


def build_obj(checkout_id: str, r: RowVm, kernel: str, ok: bool
              ) -> dict[str, Any]:
    suffix = '' if kernel == 'patched' else '-base'
    return kcidb._put({'id': f'{checkout_id}-vmtest-'
                             f'{path_component(r.row)}{suffix}',
                       'origin': ORIGIN, 'checkout_id': checkout_id,
                       'status': 'PASS' if ok else 'FAIL'},
                      architecture=r.arch, config_name=r.row,
                      comment=f'{kernel} kernel of row {r.row}, booted with '
                              f'the vmtest initramfs',
                      misc={'row': r.row, 'kernel': kernel})


def build_report(patched: kcidb.Checkout, rows: list[RowVm]
                 ) -> dict[str, Any]:
    co, _ = kcidb._checkout(patched)
    base = kcidb.Checkout(base=patched.base, base_desc=patched.base_desc,
                          start_time=patched.start_time,
                          tree_name=patched.tree_name)
    bco, _ = kcidb._checkout(base)
    if bco['id'] == co['id']:       # a checkout without patches
        bco['id'] += '-base'
    builds, tests = [], []
    for r in rows:
        for kernel, c, got in (('patched', co, r.patched),
                               ('base', bco, r.base)):
            if got is None:
                continue
            b = build_obj(c['id'], r, kernel, bool(got))
            builds.append(b)
            tests += tests_of(b['id'], got, r.start_time or None)
    return {'version': {'major': kcidb.SCHEMA_MAJOR,
                        'minor': kcidb.SCHEMA_MINOR},
            'checkouts': [co, bco] if any(r.base is not None for r in rows)
            else [co], 'builds': builds, 'tests': tests}
