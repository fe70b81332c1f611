# SPDX-License-Identifier: GPL-2.0
"""One boot's tests, and the patched kernel judged against the base.

Per boot: the guest's tests (vmtest_parse), the writeback checks
(vmtest_wb) and two of the host's: "boot" (the guest reached its end)
and "console" (tools/console.py's splat scan of the kernel log).

Side by side, per test:

  ok              passed or skipped on the patched kernel
  REGRESSION      failed on the patched kernel, passed on the base: fails
                  the run
  known failure   failed on both kernels: reported, does not fail the run
  FAIL            failed on the patched kernel, and the base did not run
                  it (skipped, absent, or no base boot), or passed on the
                  base and is absent on the patched kernel: fails the run
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import console as consolemod
import vmtest_parse
import vmtest_wb
from results import Status
from vmtest_boot import Boot
from vmtest_parse import Test

OK, REGRESSION, KNOWN, FAIL = 'ok', 'REGRESSION', 'known failure', 'FAIL'


@dataclass
class Line:
    name: str
    base: Optional[Test]
    patched: Optional[Test]
    verdict: str

    @property
    def fails_run(self) -> bool:
        return self.verdict in (REGRESSION, FAIL)


def host_tests(boot: Boot, done: bool) -> list[Test]:
    splats = consolemod.scan_splats(boot.console)
    end = Test('boot', Status.PASS, f'guest finished in {boot.seconds:.0f}s')
    if not done:
        end = Test('boot', Status.ERROR, (
            'timed out' if boot.timed_out else 'QEMU exited early') +
            ' before the guest finished; last console lines:\n' +
            consolemod.tail(boot.console, 15))
    scan = Test('console', Status.FAIL if splats else Status.PASS,
                f'{len(splats)} splat(s): {splats[0]}' + (
                    f' (+{len(splats) - 1} more)' if len(splats) > 1 else '')
                if splats else 'no splat on the console')
    scan.log = '\n'.join(splats)
    return [end, scan]


def boot_tests(boot: Boot, kernel: str) -> list[Test]:
    """Every test of one boot of the base or the patched kernel."""
    run = vmtest_parse.parse(boot.records)
    return host_tests(boot, run.done) + vmtest_parse.tests(run) + \
        vmtest_wb.wb_tests(run, kernel)


def verdict(base: Optional[Test], patched: Optional[Test]) -> str:
    if patched is None:
        return FAIL if base is not None and base.status is Status.PASS \
            else OK
    if not patched.status.failed:
        return OK
    if base is not None and base.status is Status.PASS:
        return REGRESSION
    if base is not None and base.status.failed:
        return KNOWN
    return FAIL


def compare(base: Optional[list[Test]], patched: list[Test]) -> list[Line]:
    """One line per test either kernel ran, the patched kernel's order
    first; base None when it was not booted."""
    by_base = {t.name: t for t in base or []}
    by_patched = {t.name: t for t in patched}
    names = list(by_patched) + [n for n in by_base if n not in by_patched]
    return [Line(n, by_base.get(n), by_patched.get(n),
                 verdict(by_base.get(n), by_patched.get(n))) for n in names]
