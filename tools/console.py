# SPDX-License-Identifier: GPL-2.0
"""What a row's console and build log show that KUnit cannot see.

KUnit passes a case even when the kernel printed a splat while it ran, and
kunit.py passes a build that printed warnings: these scans fail the row.
They also read the "# report: KEY=VALUE" lines the suites print.
"""

from __future__ import annotations

import re

# What the console must never show.  KUnit passes a case even when the
# kernel printed one of these while it ran.
SPLATS: list[tuple[str, re.Pattern[str]]] = [
    (kind, re.compile(rx)) for kind, rx in [
        # Specific kinds first: many of them also start with BUG:/WARNING:.
        ('lockdep', r'possible circular locking|possible recursive locking|'
                    r'inconsistent lock state|suspicious RCU usage|'
                    r'possible irq lock inversion|Invalid wait context|'
                    r'-safe -> \S+-unsafe lock order detected|'
                    r'Nested lock was not taken|'
                    r'lock held when returning to user space|'
                    r'bad unlock balance detected|still has locks held|'
                    r'held lock freed'),
        ('sleep-in-atomic', r'sleeping function called from invalid context'),
        ('scheduling-while-atomic', r'scheduling while atomic'),
        ('KASAN', r'BUG: KASAN|\bKASAN: [a-z-]+'),
        ('UBSAN', r'UBSAN: '),
        ('KFENCE', r'BUG: KFENCE'),
        ('lockup', r'soft lockup|hard LOCKUP|watchdog: BUG'),
        ('RCU stall', r'\bINFO: rcu_\w+ (?:self-)?detected (?:expedited )?'
                      r'stalls?|RCU Stall'),
        ('hung task', r'blocked for more than \d+ seconds'),
        ('list corruption', r'list_(add|del) corruption'),
        # note_interrupt(): the IRQ is disabled next, its device goes quiet.
        ('bad irq', r'\birq \d+: nobody cared'),
        ('panic', r'Kernel panic'),
        ('Oops', r'\bOops[: ]|: [0-9a-f]{4} \[#\d+\]'),
        ('BUG', r'\bBUG: |\bkernel BUG at '),
        # x86 prints "RETBleed: WARNING: ..." style CPU notices: not splats.
        ('WARNING', r'(?<!: )\bWARNING: '),
    ]]
REPORT_RE = re.compile(r'#.*\breport: ([A-Za-z0-9_]+)=(\S+)')
TIMESTAMP_RE = re.compile(r'^\[\s*(\d+\.\d+)\](?:\[\s*[CT]\d+\])?\s?')
BUILD_WARNING_RE = re.compile(r'^\S+?:\d+(?::\d+)?: (?:warning|error): |'
                              r'^\S+\.o: warning: objtool: ')


def strip_ts(line: str) -> str:
    """A console line without its printk timestamp (and caller id)."""
    return TIMESTAMP_RE.sub('', line)


def scan_splats(console: str) -> list[str]:
    """'kind: line' for every splat line in a console log."""
    found = []
    for line in console.splitlines():
        text = strip_ts(line)
        for kind, rx in SPLATS:
            if rx.search(text):
                found.append(f'{kind}: {text.strip()[:200]}')
                break
    return found


def scan_build_warnings(log: str) -> list[str]:
    """Compiler and objtool warnings in a kunit.py build log."""
    return [line.strip()[:200] for line in log.splitlines()
            if BUILD_WARNING_RE.search(line)]


def scan_reports(console: str) -> dict[str, str]:
    """The suites' "# report: KEY=VALUE" lines."""
    out: dict[str, str] = {}
    for line in console.splitlines():
        m = REPORT_RE.search(strip_ts(line))
        if m:
            out[m.group(1)] = m.group(2)
    return out


def tail(text: str, n: int = 30) -> str:
    return '\n'.join(text.splitlines()[-n:])
