# SPDX-License-Identifier: GPL-2.0
"""The vmtest initramfs of one architecture, from Debian packages and the
prepared tree only (no network).

  headers    `make headers_install` of the tree into <vmtest>/<arch>/hdr
             (O= a folder of its own: the source tree stays clean for
             kunit.py's O= builds)
  selftests  the hugetlb tests of tools/testing/selftests/mm, built with
             OUTPUT=<vmtest>/<arch>/mm against those headers
  image      busybox (busybox-static) as /bin/sh, bash and trace-cmd with
             the libraries ldd names, the selftests in /mm, the guest's
             scripts (tools/vmtest/) in /vmtest and /init: a newc cpio

The same image boots the patched kernel and the base.  User space comes
from the host's packages, so an image is built for the host's
architecture only (x86_64); other architectures raise ImageError.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import paths

# Built from the tree; run by tools/vmtest/hugetlb.sh.
SELFTESTS = ('hugepage-mmap', 'hugepage-shm', 'map_hugetlb',
             'hugepage-mremap', 'hugepage-vmemmap', 'hugetlb-madvise',
             'hugetlb_dio', 'hugetlb_fault_after_madv', 'hugetlb_madv_vs_map',
             'thuge-gen', 'gup_test', 'uffd-unit-tests',
             'hugetlb-soft-offline', 'hugetlb-read-hwpoison',
             'write_to_hugetlbfs')
SELFTEST_SCRIPTS = ('charge_reserved_hugetlb.sh',
                    'hugetlb_reparenting_test.sh', 'write_hugetlb_memory.sh')
BUSYBOX = Path('/bin/busybox')
# Dynamically linked host programs copied with their libraries.
HOST_PROGRAMS = (Path('/usr/bin/bash'), Path('/usr/bin/trace-cmd'))
LDD_RE = re.compile(r'(?:=>\s*)?(/\S+)\s+\(0x')


class ImageError(Exception):
    """The image cannot be built here; the message says why."""


def arch_dir(arch: str) -> Path:
    return paths.vmtest_dir() / arch


def run(cmd: list[str], log: Path, cwd: Path | None = None) -> None:
    with log.open('w') as fh:
        res = subprocess.run(cmd, cwd=cwd, stdout=fh,
                             stderr=subprocess.STDOUT)
    if res.returncode != 0:
        tail = '\n'.join(log.read_text(errors='replace').splitlines()[-15:])
        raise ImageError(f'{" ".join(cmd[:4])} ... failed (exit '
                         f'{res.returncode}); {log}:\n{tail}')


def tree_head(tree: Path) -> str:
    return subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=tree, text=True,
                          capture_output=True).stdout.strip()


def headers(tree: Path, arch: str) -> Path:
    """The tree's UAPI headers (usr/include), once per tree commit."""
    out = arch_dir(arch) / 'hdr'
    stamp = out / 'stamp'
    if stamp.exists() and stamp.read_text() == tree_head(tree):
        return out / 'usr' / 'include'
    out.mkdir(parents=True, exist_ok=True)
    run(['make', '-s', '-C', str(tree), f'ARCH={arch}', f'O={out}',
         'headers_install', f'INSTALL_HDR_PATH={out / "usr"}'],
        arch_dir(arch) / 'headers.log')
    stamp.write_text(tree_head(tree))
    return out / 'usr' / 'include'


def selftests(tree: Path, arch: str, hdr: Path) -> Path:
    """The hugetlb selftests, built (make decides what is stale)."""
    out = arch_dir(arch) / 'mm'
    out.mkdir(parents=True, exist_ok=True)
    run(['make', '-C', str(tree / paths.MM_SELFTESTS), f'OUTPUT={out}',
         f'KHDR_INCLUDES=-isystem {hdr}', f'ARCH={arch}',
         *[str(out / t) for t in SELFTESTS]], arch_dir(arch) / 'mm.log')
    return out


def libraries(program: Path) -> list[Path]:
    """The shared objects ldd names for program (the loader included)."""
    res = subprocess.run(['ldd', str(program)], capture_output=True,
                         text=True)
    if res.returncode != 0:
        raise ImageError(f'ldd {program}: {res.stderr.strip()}')
    return [Path(m.group(1)) for m in map(LDD_RE.search,
                                          res.stdout.splitlines()) if m]


def copy_in(root: Path, host: Path, mode: int = 0o755) -> None:
    """host at the same path inside root, symlinks resolved."""
    dest = root / host.relative_to('/')
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(host, dest)
    os.chmod(dest, mode)


def stage(root: Path, tree: Path, mm: Path) -> None:
    """The image's files under root (emptied first)."""
    shutil.rmtree(root, ignore_errors=True)
    for d in ('bin', 'usr/bin', 'mm', 'vmtest', 'proc', 'sys', 'dev', 'tmp'):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(BUSYBOX, root / 'bin' / 'busybox')
    os.chmod(root / 'bin' / 'busybox', 0o755)
    (root / 'bin' / 'sh').symlink_to('busybox')
    for prog in HOST_PROGRAMS:
        for lib in libraries(prog):
            copy_in(root, lib)
        copy_in(root, prog)
    (root / 'bin' / 'bash').symlink_to('/usr/bin/bash')
    for t in SELFTESTS:
        shutil.copy2(mm / t, root / 'mm' / t)
        for lib in libraries(mm / t):
            copy_in(root, lib)
    for s in SELFTEST_SCRIPTS:
        shutil.copy2(tree / paths.MM_SELFTESTS / s, root / 'mm' / s)
    for script in paths.VMTEST_SCRIPTS.glob('*.sh'):
        shutil.copy2(script, root / 'vmtest' / script.name)
    shutil.copy2(paths.VMTEST_SCRIPTS / 'init.sh', root / 'init')
    os.chmod(root / 'init', 0o755)


def pack(root: Path, out: Path) -> None:
    """root as a newc cpio archive (what the kernel unpacks as rootfs)."""
    names = sorted(str(p.relative_to(root)) for p in root.rglob('*'))
    part = out.with_suffix('.part')
    with part.open('wb') as fh:
        res = subprocess.run(['cpio', '-o', '-H', 'newc', '--quiet',
                              '-R', '0:0'], cwd=root, stdout=fh,
                             input='\n'.join(names).encode())
    if res.returncode != 0:
        raise ImageError(f'cpio failed (exit {res.returncode})')
    part.rename(out)


def build_image(tree: Path, arch: str) -> Path:
    """The initramfs for arch, rebuilt from the tree and the scripts."""
    host = platform.machine()
    if arch != host:
        raise ImageError(
            f'no {arch} user space: busybox, bash and trace-cmd come from '
            f'the host\'s {host} Debian packages (a {arch} image needs '
            f'dpkg --add-architecture and {arch} packages)')
    hdr = headers(tree, arch)
    mm = selftests(tree, arch, hdr)
    root = arch_dir(arch) / 'root'
    stage(root, tree, mm)
    out = arch_dir(arch) / 'initramfs.cpio'
    pack(root, out)
    return out
