# SPDX-License-Identifier: GPL-2.0
"""A static user-space program as the init of an initramfs.

build_init() compiles one C file with the host's gcc into a static binary
(glibc's libc.a, Debian's libc6-dev); write() packs it as /init of an
uncompressed "newc" cpio archive (the format the kernel unpacks,
Documentation/driver-api/early-userspace/buffer-format.rst) with
/dev/console, so init's stdout reaches the serial console without
devtmpfs.  No root, no cpio(1), nothing at run time but the kernel.
"""

from __future__ import annotations

import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from paths import SeriesError


@dataclass(frozen=True)
class Entry:
    name: str
    mode: int               # with the file type bits
    data: bytes = b''
    rdev: tuple[int, int] = (0, 0)


def _pad4(n: int) -> bytes:
    return b'\0' * (-n % 4)


def newc(entries: list[Entry]) -> bytes:
    """The archive: each header, name and data padded to 4 bytes, then
    the TRAILER!!! record."""
    out = bytearray()
    for ino, e in enumerate([*entries, Entry('TRAILER!!!', 0)], start=1):
        name = e.name.encode() + b'\0'
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        fields = (ino, e.mode, 0, 0, nlink, 0, len(e.data), 0, 0,
                  e.rdev[0], e.rdev[1], len(name), 0)
        hdr = b'070701' + b''.join(b'%08X' % f for f in fields)
        out += hdr + name + _pad4(len(hdr) + len(name))
        out += e.data + _pad4(len(e.data))
    return bytes(out)


def entries_for(init: bytes) -> list[Entry]:
    return [Entry('dev', stat.S_IFDIR | 0o755),
            Entry('dev/console', stat.S_IFCHR | 0o600, rdev=(5, 1)),
            Entry('init', stat.S_IFREG | 0o755, init)]


def build_init(src: Path, out: Path) -> Path:
    """gcc -static -pthread: one binary, no loader or libraries needed."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ['gcc', '-static', '-pthread', '-O2', '-Wall', '-o', str(out),
           str(src)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        hint = ('; glibc\'s static libc.a is in libc6-dev (`make setup`)'
                if 'cannot find -lc' in res.stderr else '')
        raise SeriesError(f'{" ".join(cmd)} failed{hint}:\n'
                          f'{res.stderr[-2000:]}')
    return out


def write(init_src: Path, folder: Path) -> Path:
    """folder/initramfs.cpio with init_src, compiled, as /init."""
    binary = build_init(init_src, folder / 'init')
    cpio = folder / 'initramfs.cpio'
    cpio.write_bytes(newc(entries_for(binary.read_bytes())))
    return cpio
