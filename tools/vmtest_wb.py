# SPDX-License-Identifier: GPL-2.0
"""The writeback end-to-end checks, from the trace lines the guest sent.

tools/vmtest/writeback.sh sends, per source (the ftrace text of its own
instance, `trace-cmd report`, `trace-cmd report -R`), the writeback
event lines whose cgroup_ino= is that of /a/b/c or of the deep sibling
(stat of the cgroup directory), or whose cgroup= names one of them.
Per source and writer:

  patched   at least one event with the writer's cgroup_ino=, every one
            of them with cgroup=<its path> (the deep sibling's in the
            documented truncated form: "..." and the last 252
            characters), and every cgroup=<path> line with that
            cgroup_ino=
  base      at least one event with the writer's cgroup_ino=, and no
            cgroup= field on any line

The events that only ever had cgroup_ino= fields (FOREIGN, see
Documentation/admin-guide/cgroup-v2.rst in the series) are left out.
"""

from __future__ import annotations

import re
from typing import Optional

from results import Status
from vmtest_parse import GuestRun, Test

# WB_TRACE_CGROUP_PATH_MAX and WB_TRACE_CGROUP_TRUNC_MARK (patch 0007).
PATH_MAX = 255
MARK = '...'
SOURCES = ('text', 'trace-cmd-report', 'trace-cmd-report-raw')
WRITERS = ('c', 'long')
FOREIGN = ('inode_foreign_history', 'inode_switch_wbs',
           'track_foreign_dirty', 'flush_foreign')
EVENT_RE = re.compile(r'\s(\w+):\s')


def shown(path: str) -> str:
    """The cgroup= value the series documents for a cgroup path."""
    if len(path) <= PATH_MAX:
        return path
    return MARK + path[len(path) - (PATH_MAX - len(MARK)):]


def field(line: str, key: str) -> Optional[str]:
    m = re.search(rf'(?:^|[\s,]){re.escape(key)}=(\S*)', line)
    return m.group(1) if m else None


def event(line: str) -> str:
    """The event name: the first "name: " after the task and timestamp."""
    m = EVENT_RE.search(line.split('] ', 1)[-1])
    return m.group(1) if m else ''


def _events(lines: list[str]) -> str:
    names = sorted({event(x) for x in lines})
    return ', '.join(names[:8]) + (' ...' if len(names) > 8 else '')


def check(kernel: str, lines: list[str], ino: str, path: str) -> Test:
    """One writer in one source; name and kernel are the caller's."""
    want = shown(path)
    mine = [x for x in lines if field(x, 'cgroup_ino') == ino and
            event(x) not in FOREIGN]
    if not mine:
        return Test('', Status.FAIL, f'no writeback event with '
                    f'cgroup_ino={ino} (stat of {path})')
    if kernel == 'base':
        bad = [x for x in lines if field(x, 'cgroup') is not None]
        verdict = f'{len(mine)} events ({_events(mine)}) with ' \
            f'cgroup_ino={ino} and no cgroup='
        return Test('', Status.FAIL if bad else Status.PASS,
                    f'unpatched kernel printed cgroup=: {bad[0]}' if bad
                    else verdict)
    bad = [x for x in mine if field(x, 'cgroup') != want]
    bad += [x for x in lines if field(x, 'cgroup') == want and
            field(x, 'cgroup_ino') != ino]
    if bad:
        return Test('', Status.FAIL, f'want cgroup_ino={ino} '
                    f'cgroup={want}, got: {bad[0]}')
    return Test('', Status.PASS, f'{len(mine)} events ({_events(mine)}) '
                f'with cgroup_ino={ino} cgroup={want}')


def wb_tests(run: GuestRun, kernel: str) -> list[Test]:
    """writeback/<source>/<writer> for each source and writer."""
    out = []
    for src in SOURCES:
        for writer in WRITERS:
            name = f'writeback/{src}/{writer}'
            if writer not in run.inos:
                out.append(Test(name, Status.ERROR, 'the guest sent no '
                                f'inode number for the {writer} cgroup'))
                continue
            if src not in run.lines:
                out.append(Test(name, Status.ERROR, f'the guest sent no '
                                f'{src} lines'))
                continue
            ino, path = run.inos[writer]
            t = check(kernel, run.lines[src], ino, path)
            t.name = name
            out.append(t)
    return out
