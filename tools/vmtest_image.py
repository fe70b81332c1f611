# SPDX-License-Identifier: GPL-2.0
"""The vmtest initramfs of one architecture, from Debian packages and the
prepared tree only (no network).

  headers    `make headers_install` of the tree into <vmtest>/<arch>/hdr
             (O= a folder of its own: the source tree stays clean for
             kunit.py's O= builds)
  selftests  the hugetlb tests of tools/testing/selftests/mm, built with
             OUTPUT=<vmtest>/<arch>/mm against those headers
  image      busybox (busybox-static) as /bin/sh, bash, trace-cmd, pgrep
             and killall with the libraries ldd names, the selftests in /mm, the guest's
             scripts (tools/vmtest/) in /vmtest and /init: a newc cpio

The same image boots the patched kernel and the base.  On the host's
architecture (x86_64) busybox, bash and trace-cmd are the installed
ones; for i386 they are Debian's i386 packages, fetched with apt-get
download through a private apt state (<vmtest>/apt-i386: the machine's
sources, its dpkg and architectures untouched) and unpacked into the
image with dpkg-deb, and the selftests are built -m32 -static
(gcc-12-multilib; not gcc-multilib, which conflicts with
gcc-aarch64-linux-gnu).
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
# pgrep (procps) and killall --wait (psmisc): charge_reserved_hugetlb.sh.
HOST_PROGRAMS = (Path('/usr/bin/bash'), Path('/usr/bin/trace-cmd'),
                 Path('/usr/bin/pgrep'), Path('/usr/bin/killall'))
LDD_RE = re.compile(r'(?:=>\s*)?(/\S+)\s+\(0x')
# The packages of a foreign-architecture image (static busybox; bash and
# trace-cmd with the libraries their packages depend on).
FOREIGN_DEBS = ('busybox-static', 'bash', 'libtinfo6', 'libc6', 'trace-cmd',
                'libtraceevent1', 'libtracefs1', 'libzstd1', 'procps',
                'libproc2-0', 'libsystemd0', 'libcap2', 'libgcrypt20',
                'libgpg-error0', 'liblz4-1', 'liblzma5', 'psmisc')
# Compiler flags of the selftests per foreign architecture.
FOREIGN_CFLAGS = {'i386': '-m32 -static'}


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
    flags = [f'EXTRA_CFLAGS={FOREIGN_CFLAGS[arch]}'] \
        if arch in FOREIGN_CFLAGS else []
    run(['make', '-C', str(tree / paths.MM_SELFTESTS), f'OUTPUT={out}',
         f'KHDR_INCLUDES=-isystem {hdr}', f'ARCH={arch}', *flags,
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


def apt_options(arch: str) -> list[str]:
    state = paths.vmtest_dir() / f'apt-{arch}'
    for d in ('lists/partial', 'cache/archives/partial'):
        (state / d).mkdir(parents=True, exist_ok=True)
    return ['-o', f'APT::Architecture={arch}',
            '-o', f'APT::Architectures::={arch}',
            '-o', f'Dir::State::Lists={state / "lists"}',
            '-o', f'Dir::Cache={state / "cache"}',
            '-o', 'Dir::State::status=/dev/null',
            '-o', 'Debug::NoLocking=1']


def foreign_debs(arch: str) -> list[Path]:
    """FOREIGN_DEBS for arch, downloaded once (apt-get download)."""
    folder = paths.vmtest_dir() / f'apt-{arch}' / 'debs'
    debs = sorted(folder.glob('*.deb'))
    if len(debs) >= len(FOREIGN_DEBS):
        return debs
    folder.mkdir(parents=True, exist_ok=True)
    # A mirror mid-sync fails one index (e.g. the security one) with an
    # error exit; the download below says whether what came is enough.
    subprocess.run(['apt-get', *apt_options(arch), 'update', '-q'],
                   capture_output=True)
    run(['apt-get', *apt_options(arch), 'download',
         *[f'{p}:{arch}' for p in FOREIGN_DEBS]],
        paths.vmtest_dir() / f'apt-{arch}' / 'download.log', folder)
    return sorted(folder.glob('*.deb'))


def host_userspace(root: Path, mm: Path) -> None:
    """busybox, bash, trace-cmd and the selftests' libraries of the host."""
    shutil.copyfile(BUSYBOX, root / 'bin' / 'busybox')
    os.chmod(root / 'bin' / 'busybox', 0o755)
    for prog in HOST_PROGRAMS + tuple(mm / t for t in SELFTESTS):
        for lib in libraries(prog):
            copy_in(root, lib)
    for prog in HOST_PROGRAMS:
        copy_in(root, prog)
    (root / 'bin' / 'bash').symlink_to('/usr/bin/bash')


def foreign_userspace(root: Path, arch: str) -> None:
    """The same programs from arch's Debian packages (no documentation)."""
    for deb in foreign_debs(arch):
        run(['dpkg-deb', '-x', str(deb), str(root)],
            paths.vmtest_dir() / f'apt-{arch}' / 'unpack.log')
    shutil.rmtree(root / 'usr' / 'share', ignore_errors=True)
    if not (root / 'bin' / 'busybox').exists():
        raise ImageError(f'{arch}: busybox-static has no /bin/busybox')


def stage(root: Path, tree: Path, arch: str, mm: Path) -> None:
    """The image's files under root (emptied first)."""
    shutil.rmtree(root, ignore_errors=True)
    for d in ('bin', 'usr/bin', 'mm', 'vmtest', 'proc', 'sys', 'dev', 'tmp'):
        (root / d).mkdir(parents=True, exist_ok=True)
    if arch == platform.machine():
        host_userspace(root, mm)
    else:
        foreign_userspace(root, arch)
    (root / 'bin' / 'sh').unlink(missing_ok=True)
    (root / 'bin' / 'sh').symlink_to('busybox')
    for t in SELFTESTS:
        shutil.copy2(mm / t, root / 'mm' / t)
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
    if arch != host and arch not in FOREIGN_CFLAGS:
        raise ImageError(f'no {arch} user space: the image is built for '
                         f'{host} and {", ".join(FOREIGN_CFLAGS)} only')
    hdr = headers(tree, arch)
    mm = selftests(tree, arch, hdr)
    root = arch_dir(arch) / 'root'
    stage(root, tree, arch, mm)
    out = arch_dir(arch) / 'initramfs.cpio'
    pack(root, out)
    return out
