# SPDX-License-Identifier: GPL-2.0
"""Boot a row's kernel with the vmtest initramfs under QEMU.

The command line is kunit.py's own for the arch (the tree's
tools/testing/kunit/qemu_configs/<arch>.py: QEMU binary, kernel image,
console, extra parameters) plus the row's qemu_args and kernel_args, an
-initrd and a second serial port for the guest's records.  The kernel's
KUnit suites are switched off (kunit.enable=0): the matrix ran them on
this kernel already.  The guest reboots when done; QEMU runs with
-no-reboot, so it exits.  The boot holds the machine's kernel build lock
(paths.kbuild_lock()).
"""

from __future__ import annotations

import ast
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import buildlock
import paths
import rows as rowsmod
import runner

QEMU_CONFIGS = 'tools/testing/kunit/qemu_configs'


@dataclass
class Boot:
    console: str
    records: str
    seconds: float
    timed_out: bool


def qemu_params(tree: Path, arch: str) -> dict[str, Any]:
    """The literal arguments of QemuArchParams(...) in kunit.py's file."""
    src = (tree / QEMU_CONFIGS / f'{arch}.py').read_text()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', '') == \
                'QemuArchParams':
            return {k.arg: ast.literal_eval(k.value) for k in node.keywords
                    if k.arg}
    raise ValueError(f'{QEMU_CONFIGS}/{arch}.py: no QemuArchParams')


def kernel_args(row: rowsmod.Row, base: str, parts: str,
                preempt_rt: bool = False) -> list[str]:
    """The row's arguments and the image's, plus two the tests need.

    thuge-gen on x86_64 bails out ("No GB pages available") unless a 1G
    hstate exists, even with no 1G page free: hugepagesz=1G registers it
    and reserves nothing, for the rows whose own arguments do not.

    PREEMPT_RT threads the 8250 handler; under the records' traffic on
    ttyS1 the hard interrupt kept finding the thread busy, the spurious
    interrupt detector counted it unhandled ("irq 3: nobody cared") and
    disabled IRQ 3 after 266 s, and the guest's output stopped until the
    boot timed out.  noirqdebug turns that detector off there."""
    gb = [] if row.arch != 'x86_64' or any(
        'hugepagesz=1G' in a.split() for a in row.kernel_args) \
        else ['hugepagesz=1G']
    rt = ['noirqdebug'] if preempt_rt else []
    return [base, 'panic=-1', *row.kernel_args, *gb, *rt, 'kunit.enable=0',
            'rdinit=/init', f'vmtest.parts={parts}']


def is_preempt_rt(build_dir: Path) -> bool:
    """From the kernel's own .config."""
    cfg = build_dir / '.config'
    return cfg.exists() and 'CONFIG_PREEMPT_RT=y' in \
        cfg.read_text().splitlines()


def qemu_cmd(tree: Path, row: rowsmod.Row, build_dir: Path, initrd: Path,
             out: Path, parts: str) -> list[str]:
    """out.console (ttyS0, the kernel log), out.records (ttyS1)."""
    p = qemu_params(tree, row.arch)
    extra = [a for q in row.qemu_args for a in shlex.split(q)]
    if row.arch == 'x86_64' and '-cpu' not in extra:
        # hugepagesz=1G needs GB pages (pdpe1gb), which QEMU's default
        # qemu64 CPU lacks: the kernel ignored it on x86_64-rt and
        # thuge-gen bailed out.  -erms as in the x86_64 rows.
        extra = ['-cpu', 'max,-erms', *extra]
    return [f'qemu-system-{p["qemu_arch"]}', '-nodefaults', '-m', '1024',
            '-kernel', str(build_dir / p['kernel_path']),
            '-initrd', str(initrd), '-append',
            ' '.join(kernel_args(row, p['kernel_command_line'], parts,
                                 is_preempt_rt(build_dir))),
            '-no-reboot', '-display', 'none',
            '-serial', f'file:{out.with_suffix(".console")}',
            '-serial', f'file:{out.with_suffix(".records")}',
            *p.get('extra_qemu_params', []), *extra]


def boot(tree: Path, row: rowsmod.Row, build_dir: Path, initrd: Path,
         out: Path, parts: str, timeout: int) -> Boot:
    """Run the guest to its end (or timeout s); what both ports showed."""
    cmd = qemu_cmd(tree, row, build_dir, initrd, out, parts)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix('.cmd').write_text(shlex.join(cmd) + '\n')
    with buildlock.held(f'vmtest: {row.name} boot'):
        t0 = time.monotonic()
        # runner.run_logged: QEMU in its own session, which
        # runner.kill_all() ends when `make test` is interrupted while
        # this boot runs in a worker thread beside the matrix.
        _, timed_out = runner.run_logged(cmd, tree,
                                         out.with_suffix('.qemu.log'),
                                         timeout)
        secs = time.monotonic() - t0

    def read(suffix: str) -> str:
        f = out.with_suffix(suffix)
        return f.read_text(errors='replace') if f.exists() else ''
    return Boot(read('.console'), read('.records'), round(secs, 1),
                timed_out)
