# SPDX-License-Identifier: GPL-2.0
"""Get the base tree and prepare it: the pristine base plus the series.

The base is Debian's linux-source-6.12 tarball unpacked into a git
repository whose first commit (tag `base`) is never modified, or the HEAD
of a user's tree (KERNEL_SRC) in a throwaway worktree.  Preparing is
`git checkout -B series base` followed by `git am` of every patch, then of
the test-environment fixes in kernel-patches/testenv/ (not part of the
series), and is skipped when neither the base nor the patches changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import paths
from gitcmd import add_worktree, git, log
from paths import SeriesError

BASE_IDENT = {
    'GIT_AUTHOR_NAME': 'Debian linux-source',
    'GIT_AUTHOR_EMAIL': 'debian-kernel@lists.debian.org',
    'GIT_AUTHOR_DATE': '2000-01-01T00:00:00+0000',
    'GIT_COMMITTER_NAME': 'Debian linux-source',
    'GIT_COMMITTER_EMAIL': 'debian-kernel@lists.debian.org',
    'GIT_COMMITTER_DATE': '2000-01-01T00:00:00+0000',
}


SERIES_COMMITTER = {
    'GIT_COMMITTER_NAME': 'kunit-port series',
    'GIT_COMMITTER_EMAIL': 'series@kunit-port.invalid',
}


# Not part of the series: the rows' config fragments, the cost benchmark
# and `make teeth`'s mutants (editing them must not make `make prepare`
# apply the series again).
SKIP_IN_HASH = (('kunit', 'configs'), ('kunit', 'bench'),
                ('kunit', paths.MUTANTS_DIR.name))


def content_hash(roots: list[Path]) -> str:
    """sha256 over every file below roots (relative name + content)."""
    h = hashlib.sha256()
    for root in roots:
        files = sorted(p for p in root.rglob('*') if p.is_file()) \
            if root.is_dir() else ([root] if root.exists() else [])
        for f in files:
            rel = f.relative_to(root.parent)
            if '__pycache__' in rel.parts or rel.parts[:2] in SKIP_IN_HASH:
                continue
            h.update(str(rel).encode() + b'\0')
            h.update(f.read_bytes() + b'\0')
    return h.hexdigest()


def series_hash() -> str:
    return content_hash([paths.PATCH_DIR, paths.KUNIT_DIR])


def debian_version() -> str:
    res = subprocess.run(['dpkg-query', '-W', '-f=${Version}',
                          paths.DEBIAN_PKG], capture_output=True, text=True)
    if res.returncode != 0 or not res.stdout.strip():
        raise SeriesError(f'Debian package {paths.DEBIAN_PKG} is not '
                          f'installed (run `make setup` as root, or set '
                          f'KERNEL_SRC=)')
    return res.stdout.strip()


def base_message(version: str) -> str:
    pkg = paths.DEBIAN_PKG
    return (f'Linux 6.12 from Debian {pkg} {version}\n\n'
            f'Pristine unpack of {paths.DEBIAN_TARBALL.name} from the Debian\n'
            f'package {pkg}, version {version}.  This commit is the\n'
            f'base of the series and is never modified.\n')


def unpack_base(tarball: Path, version: str, tmp: Path) -> None:
    """tarball into tmp as a git repository: one commit, tagged base."""
    t0 = time.monotonic()
    log(f'unpacking {tarball} ({paths.DEBIAN_PKG} {version})')
    tmp.mkdir()
    subprocess.run(['tar', '-xf', str(tarball), '-C', str(tmp),
                    '--strip-components=1'], check=True)
    log(f'unpacked in {time.monotonic() - t0:.0f}s; creating base commit')
    git(['init', '-q', '-b', 'base-branch'], tmp)
    # No background gc competing with kernel builds on a 2-core machine.
    git(['config', 'gc.auto', '0'], tmp)
    git(['config', 'maintenance.auto', 'false'], tmp)
    # The base commit writes ~90k loose blobs; deflating them is half its
    # time (measured: git add 44 s -> 22 s) for 1.1 GB more disk.
    git(['config', 'core.looseCompression', '0'], tmp)
    # Debian's top-level .gitignore ignores everything at the top level.
    git(['add', '-f', '-A', '.'], tmp)
    git(['commit', '-q', '--no-verify', '-m', base_message(version)], tmp,
        env=BASE_IDENT)
    git(['tag', 'base'], tmp)
    (tmp / '.git' / 'kpatch-base').write_text(version + '\n')
    log(f'base commit ready in {time.monotonic() - t0:.0f}s')


def ensure_debian_base(tarball: Optional[Path] = None,
                       version: Optional[str] = None,
                       tree: Optional[Path] = None) -> tuple[Path, str]:
    """Return (tree, base commit) of an unpacked Debian tree.

    By default the installed linux-source-6.12 into <work>/linux;
    `make check-bases` passes another version's tarball and tree.
    Unpacking goes to a temporary folder that is renamed into place only
    when the base commit exists, so an interrupted run leaves nothing that
    looks prepared; the next run removes the leftovers and starts again.
    """
    tarball = tarball or paths.DEBIAN_TARBALL
    version = version or debian_version()
    tree = tree or paths.work_dir() / 'linux'
    tree.parent.mkdir(parents=True, exist_ok=True)
    for stale in tree.parent.glob(f'{tree.name}.unpack-*'):
        log(f'removing interrupted unpack {stale.name}')
        shutil.rmtree(stale, ignore_errors=True)
    marker = tree / '.git' / 'kpatch-base'
    if tree.exists() and not (marker.exists() and
                              marker.read_text().strip() == version):
        log(f'{tree} is incomplete or from another package version; '
            f'unpacking again')
        shutil.rmtree(tree)
    if not tree.exists():
        if not tarball.exists():
            raise SeriesError(f'{tarball} is missing although '
                              f'{paths.DEBIAN_PKG} is installed: reinstall '
                              f'it')
        tmp = tree.parent / f'{tree.name}.unpack-{os.getpid()}'
        unpack_base(tarball, version, tmp)
        tmp.rename(tree)
    return tree, git(['rev-parse', 'refs/tags/base^{commit}'], tree).strip()


def check_user_tree(src: Path) -> Path:
    """The top of KERNEL_SRC if it is a git tree of Linux with KUnit.

    Cheap (one git call, nothing written): tools/validate.py runs it before
    any slow work.
    """
    src = src.expanduser().resolve()
    if not src.is_dir():
        raise SeriesError(f'KERNEL_SRC={src}: no such directory')
    res = subprocess.run(['git', '-C', str(src), 'rev-parse',
                          '--show-toplevel'], capture_output=True, text=True)
    if res.returncode != 0:
        raise SeriesError(f'KERNEL_SRC={src} is not a git tree (git says: '
                          f'{res.stderr.strip()})')
    top = Path(res.stdout.strip())
    if not paths.kunit_py(top).exists() or not (top / 'Kbuild').exists():
        raise SeriesError(f'KERNEL_SRC={top} is a git tree but not a Linux '
                          f'kernel tree with KUnit (no Kbuild or '
                          f'{paths.KUNIT_PY})')
    return top


def user_worktree(top: Path) -> Path:
    return paths.work_dir() / ('ksrc-' + hashlib.sha256(str(top).encode())
                         .hexdigest()[:12])


def ensure_user_tree(src: Path) -> tuple[Path, str]:
    """A detached worktree of the user's git tree at its HEAD.

    The user's checkout, index and branches are never touched: the series
    is applied in <work>/ksrc-<hash>, a `git worktree` of their repository.
    """
    top = check_user_tree(src)
    base = git(['rev-parse', 'HEAD^{commit}'], top).strip()
    wt = user_worktree(top)
    if wt.exists() and not (wt / '.git').exists():
        shutil.rmtree(wt)
    if not wt.exists():
        log(f'adding throwaway worktree {wt} of {top}')
        add_worktree(top, wt, base)
    return wt, base


def drop_user_tree(src: Path) -> None:
    """Unregister and delete the throwaway worktree of KERNEL_SRC.

    After a failed run the user's repository is left exactly as it was:
    no worktree entry, no branch, no ref.
    """
    top = check_user_tree(src)
    wt = user_worktree(top)
    git(['worktree', 'remove', '--force', str(wt)], top, check=False)
    shutil.rmtree(wt, ignore_errors=True)
    git(['worktree', 'prune'], top, check=False)
    state_path(wt).unlink(missing_ok=True)


# What the series builds on, and what a port past 6.14 would change.  A
# tree that fails to apply is checked against these, so the error says what
# the tree lacks rather than only which hunk failed.


@dataclass(frozen=True)
class Prerequisite:
    path: str
    pattern: str
    present: bool  # True: the series needs it; False: it must be absent
    what: str


PREREQUISITES = (
    Prerequisite('include/linux/mm.h', r'spinlock_t \*ptep_lockptr\(', True,
                 'huge_pte_lockptr() choosing the lock per level '
                 '(ptep_lockptr(), 5f75cfbd6bb0, v6.10)'),
    Prerequisite('mm/Kconfig', r'(?m)^config SPLIT_PMD_PTLOCKS$', True,
                 'the SPLIT_PTE_PTLOCKS/SPLIT_PMD_PTLOCKS Kconfig symbols '
                 '(394290cba966, v6.11)'),
    Prerequisite('include/trace/events/writeback.h',
                 r'static inline ino_t __trace_wb_assign_cgroup\(', True,
                 'the cgroup_ino writeback trace helpers '
                 '(__trace_wb_assign_cgroup() returning ino_t)'),
    Prerequisite('include/linux/kernfs.h', r'kernfs_rcu_name|'
                 r'KERNFS_ROOT_INVARIANT_PARENT', False,
                 'the pre-6.15 kernfs, where kn->parent and kn->name are '
                 'plain pointers (6.15 made them RCU-protected: '
                 'kernfs_parent(), kernfs_rcu_name())'),
)


def missing_prerequisites(tree: Path, rev: str = 'HEAD') -> list[str]:
    out = []
    for p in PREREQUISITES:
        text = git(['show', f'{rev}:{p.path}'], tree, check=False)
        if bool(re.search(p.pattern, text)) != p.present:
            out.append(p.what)
    return out


def failed_hunks(tree: Path, patch: Path) -> str:
    """Name the file and hunk that do not apply, via patch(1) --dry-run."""
    res = subprocess.run(['patch', '-p1', '--dry-run', '--batch', '-f', '-F0',
                          '-i', str(patch)], cwd=tree, capture_output=True,
                         text=True)
    out = []
    current = ''
    for line in res.stdout.splitlines():
        m = re.match(r'checking file (.*)', line)
        if m:
            current = m.group(1)
            continue
        if 'FAILED' in line or "can't find file" in line or \
                'No file to patch' in line:
            out.append(f'{current}: {line.strip()}' if current else
                       line.strip())
    return '\n'.join(out)


def am_in_progress(tree: Path) -> bool:
    path = git(['rev-parse', '--git-path', 'rebase-apply'], tree).strip()
    return (tree / path).exists() if not os.path.isabs(path) \
        else Path(path).exists()


def reset_to(tree: Path, base: str, branch: Optional[str]) -> None:
    if am_in_progress(tree):
        log('aborting an interrupted git am')
        git(['am', '--abort'], tree, check=False)
    if branch:
        git(['checkout', '-q', '-f', '-B', branch, base], tree)
    else:
        git(['checkout', '-q', '-f', '--detach', base], tree)
    git(['clean', '-q', '-f', '-d', '-x'], tree)


def state_path(tree: Path) -> Path:
    return paths.work_dir() / 'state' / (hashlib.sha256(str(tree).encode())
                                   .hexdigest()[:16] + '.json')


def apply_series(tree: Path, base: str, branch: Optional[str],
                 patches: list[Path]) -> str:
    """base + patches + the test-environment fixes, by git am."""
    reset_to(tree, base, branch)
    env = dict(SERIES_COMMITTER)
    for p in [*patches, *paths.testenv_patches()]:
        res = subprocess.run(
            ['git', 'am', '-q', '--committer-date-is-author-date',
             '--whitespace=nowarn', str(p)],
            cwd=tree, capture_output=True, text=True,
            env={**os.environ, **env})
        if res.returncode != 0:
            detail = failed_hunks(tree, p) or res.stdout + res.stderr
            git(['am', '--abort'], tree, check=False)
            reset_to(tree, base, branch)
            lacks = missing_prerequisites(tree, base)
            why = ''.join(f'\nThe base lacks what the series builds on: {w}'
                          for w in lacks)
            raise SeriesError(
                f'{p.name} does not apply to base {base[:12]}:\n'
                f'{detail.strip()}{why}\n'
                f'The tree was reset to its base; fix the patch '
                f'and run make again.')
    return git(['rev-parse', 'HEAD'], tree).strip()


def blobs(tree: Path, rev: str, paths: list[str]) -> dict[str, str]:
    if not paths:
        return {}
    out = git(['ls-tree', '-r', rev, '--', *paths], tree, check=False)
    return {ln.split('\t', 1)[1]: ln.split()[2] for ln in out.splitlines()}


def file_stamps(tree: Path, base: str) -> dict[str, tuple[str, int]]:
    """Blob and mtime of every file the current series touches.

    Re-preparing checks out the base and applies the series again, which
    rewrites those files; putting back the mtime of the ones whose content
    did not change keeps the rows' incremental builds incremental.
    """
    head = git(['rev-parse', '-q', '--verify', 'HEAD'], tree,
               check=False).strip()
    if not head:
        return {}
    paths = git(['diff', '--name-only', base, head], tree,
                check=False).split()
    out = {}
    for p, blob in blobs(tree, head, paths).items():
        try:
            out[p] = (blob, (tree / p).stat().st_mtime_ns)
        except OSError:
            pass
    return out


def restore_stamps(tree: Path, head: str,
                   kept: dict[str, tuple[str, int]]) -> None:
    now = blobs(tree, head, list(kept))
    for p, (blob, mtime) in kept.items():
        if now.get(p) == blob:
            os.utime(tree / p, ns=(mtime, mtime))


def prepare(kernel_src: Optional[str]) -> Path:
    """The prepared tree: base + series, re-applied only when they changed.

    With KERNEL_SRC, a failure removes the throwaway worktree again, so the
    user's repository is left exactly as it was.
    """
    if not kernel_src:
        tree, base = ensure_debian_base()
        return prepare_tree(tree, base, 'series',
                            f'Debian {paths.DEBIAN_PKG} {debian_version()}')
    tree, base = ensure_user_tree(Path(kernel_src))
    desc = git(['describe', '--tags', '--always', base], tree,
               check=False).strip() or base[:12]
    try:
        return prepare_tree(tree, base, None,
                            f'KERNEL_SRC {check_user_tree(Path(kernel_src))}'
                            f' at {desc}')
    except (SeriesError, KeyboardInterrupt):
        drop_user_tree(Path(kernel_src))
        raise


def prepare_tree(tree: Path, base: str, branch: Optional[str],
                 desc: str) -> Path:
    t0 = time.monotonic()
    names = paths.patches()
    want = {'base': base, 'series': series_hash(), 'base_desc': desc}
    log(base_line(desc))
    sp = state_path(tree)
    if sp.exists():
        try:
            have = json.loads(sp.read_text())
        except ValueError:
            have = {}
        head = git(['rev-parse', 'HEAD'], tree, check=False).strip()
        if all(have.get(k) == v for k, v in want.items()) \
                and have.get('head') == head and not am_in_progress(tree):
            dirty = git(['status', '--porcelain', '-uno'], tree).strip()
            if not dirty:
                log(f'tree {tree} is up to date ({len(names)} patches on '
                    f'{base[:12]}); checked in '
                    f'{time.monotonic() - t0:.1f}s')
                return tree
            log('tracked files were modified in the prepared tree; '
                'preparing again')
    sp.parent.mkdir(parents=True, exist_ok=True)
    sp.unlink(missing_ok=True)
    kept = file_stamps(tree, base)
    head = apply_series(tree, base, branch,
                        [paths.PATCH_DIR / n for n in names])
    restore_stamps(tree, head, kept)
    sp.write_text(json.dumps({**want, 'head': head, 'tree': str(tree)}) + '\n')
    log(f'applied {len(names)} patches and '
        f'{len(paths.testenv_patches())} test-environment fix(es) on '
        f'{base[:12]} in '
        f'{time.monotonic() - t0:.1f}s: {tree}')
    return tree


def tree_base(tree: Path) -> tuple[str, str]:
    """(base commit, description) a prepared tree was built on."""
    try:
        st = json.loads(state_path(tree).read_text())
    except (OSError, ValueError):
        return '', ''
    return st.get('base', ''), st.get('base_desc', '')


def recorded_base() -> str:
    """The Debian version `make gen` last generated the series on."""
    path = paths.PATCH_DIR / paths.BASE_RECORD
    if not path.exists():
        return ''
    lines = [ln.strip() for ln in path.read_text().splitlines()
             if ln.strip() and not ln.startswith('#')]
    return lines[0] if lines else ''


def base_line(desc: str) -> str:
    """One informative line: the base in use, and whether it is the one
    the series was generated on (a different 6.12.y is not an error)."""
    rec = recorded_base()
    if not rec or rec in desc:
        return f'base: {desc}' + (' (the series was generated on it)'
                                  if rec else '')
    return (f'base: {desc}; the series was generated on {paths.DEBIAN_PKG} '
            f'{rec} (hunk offsets may differ; the content is the same)')
