#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Prepare a kernel tree with the series applied, and keep the series in sync.

Subcommands:
  prepare     pristine base (Debian linux-source-6.12 or KERNEL_SRC) + series
  gen         regenerate kernel-patches/ from itself and kunit/ (suites)
  check-sync  fail if kernel-patches/ differs from what `gen` would write
  checkpatch  scripts/checkpatch.pl --strict on every patch but the cover letter
  series      print the patch files in apply order

The pristine base is a git commit that is never modified: preparing is
`git checkout -B series base` followed by `git am` of every patch.  All
state lives under the work folder (default: <repo>/work).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

REPO = Path(__file__).resolve().parent.parent
PATCH_DIR = REPO / 'kernel-patches'
KUNIT_DIR = REPO / 'kunit'
DEBIAN_PKG = 'linux-source-6.12'
DEBIAN_TARBALL = Path('/usr/src/linux-source-6.12.tar.xz')

# Fixed identity and dates make the base commit and the regenerated
# patches byte-for-byte reproducible on every machine.
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
# A fixed abbreviation: git's default grows with the object count, so a
# long-lived tree and a fresh clone would otherwise write different index
# lines.
FORMAT_OPTS = ['--zero-commit', '--no-signature', '--abbrev=12']
# Not *.patch, so that `git am kernel-patches/*.patch` works as is.
COVER = '0000-cover-letter.txt'
# The Debian version the series was last generated on; only `make gen`
# writes it.
BASE_RECORD = 'base'


class KpatchError(Exception):
    """A user-facing error: printed without a traceback, exit status 1."""


def work_dir() -> Path:
    return Path(os.environ.get('WORK') or REPO / 'work').resolve()


def log(msg: str) -> None:
    print(f'kpatch: {msg}', file=sys.stderr, flush=True)


def git(args: list[str], cwd: Path, env: Optional[dict[str, str]] = None,
        check: bool = True, input_: Optional[str] = None) -> str:
    full_env = dict(os.environ)
    full_env.update({'GIT_CONFIG_NOSYSTEM': '1', 'LC_ALL': 'C'})
    if env:
        full_env.update(env)
    res = subprocess.run(['git', *args], cwd=cwd, env=full_env, text=True,
                         input=input_, capture_output=True)
    if check and res.returncode != 0:
        raise KpatchError(f'git {" ".join(args)} failed in {cwd}:\n'
                          f'{res.stderr.strip()}')
    return res.stdout


# ---------------------------------------------------------------- series --

def read_series(patch_dir: Optional[Path] = None,
                generated: frozenset[str] = frozenset()) -> list[str]:
    """Patch file names from kernel-patches/series, in apply order.

    Names in `generated` (suite patches, rebuilt from kunit/) may be
    missing: `make gen` writes them.
    """
    patch_dir = patch_dir or PATCH_DIR
    series = patch_dir / 'series'
    if not series.exists():
        raise KpatchError(f'{series} is missing')
    names = []
    for lineno, raw in enumerate(series.read_text().splitlines(), 1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        name = line.split()[0]
        if not (patch_dir / name).is_file() and name not in generated:
            raise KpatchError(f'{series}:{lineno}: {name}: no such patch file')
        if name in names:
            raise KpatchError(f'{series}:{lineno}: {name} listed twice')
        names.append(name)
    return names


def content_hash(paths: list[Path]) -> str:
    """sha256 over every file below paths (relative name + content)."""
    h = hashlib.sha256()
    for root in paths:
        files = sorted(p for p in root.rglob('*') if p.is_file()) \
            if root.is_dir() else ([root] if root.exists() else [])
        for f in files:
            rel = f.relative_to(root.parent)
            if '__pycache__' in rel.parts or rel.parts[:2] == ('kunit',
                                                               'configs'):
                continue
            h.update(str(rel).encode() + b'\0')
            h.update(f.read_bytes() + b'\0')
    return h.hexdigest()


def series_hash() -> str:
    return content_hash([PATCH_DIR, KUNIT_DIR])


# ------------------------------------------------------------ base tree --

def debian_version() -> str:
    res = subprocess.run(['dpkg-query', '-W', '-f=${Version}', DEBIAN_PKG],
                         capture_output=True, text=True)
    if res.returncode != 0 or not res.stdout.strip():
        raise KpatchError(f'Debian package {DEBIAN_PKG} is not installed '
                          f'(run `make setup` as root, or set KERNEL_SRC=)')
    return res.stdout.strip()


def base_message(version: str) -> str:
    return (f'Linux 6.12 from Debian {DEBIAN_PKG} {version}\n\n'
            f'Pristine unpack of {DEBIAN_TARBALL.name} from the Debian\n'
            f'package {DEBIAN_PKG}, version {version}.  This commit is the\n'
            f'base of the series and is never modified.\n')


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
    tarball = tarball or DEBIAN_TARBALL
    version = version or debian_version()
    tree = tree or work_dir() / 'linux'
    wd = tree.parent
    marker = tree / '.git' / 'kpatch-base'
    wd.mkdir(parents=True, exist_ok=True)
    for stale in wd.glob(f'{tree.name}.unpack-*'):
        log(f'removing interrupted unpack {stale.name}')
        shutil.rmtree(stale, ignore_errors=True)
    if tree.exists():
        if marker.exists() and marker.read_text().strip() == version:
            base = git(['rev-parse', 'refs/tags/base^{commit}'], tree).strip()
            return tree, base
        log(f'{tree} is incomplete or from another package version; '
            f'unpacking again')
        shutil.rmtree(tree)
    if not tarball.exists():
        raise KpatchError(f'{tarball} is missing although {DEBIAN_PKG}'
                          f' is installed: reinstall it')
    tmp = wd / f'{tree.name}.unpack-{os.getpid()}'
    t0 = time.monotonic()
    log(f'unpacking {tarball} ({DEBIAN_PKG} {version})')
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
    tmp.rename(tree)
    base = git(['rev-parse', 'refs/tags/base^{commit}'], tree).strip()
    log(f'base commit {base[:12]} ready in {time.monotonic() - t0:.0f}s')
    return tree, base


def check_user_tree(src: Path) -> Path:
    """The top of KERNEL_SRC if it is a git tree of Linux with KUnit.

    Cheap (one git call, nothing written): tools/validate.py runs it before
    any slow work.
    """
    src = src.expanduser().resolve()
    if not src.is_dir():
        raise KpatchError(f'KERNEL_SRC={src}: no such directory')
    res = subprocess.run(['git', '-C', str(src), 'rev-parse',
                          '--show-toplevel'], capture_output=True, text=True)
    if res.returncode != 0:
        raise KpatchError(f'KERNEL_SRC={src} is not a git tree (git says: '
                          f'{res.stderr.strip()})')
    top = Path(res.stdout.strip())
    if not (top / 'tools/testing/kunit/kunit.py').exists() or \
            not (top / 'Kbuild').exists():
        raise KpatchError(f'KERNEL_SRC={top} is a git tree but not a Linux '
                          f'kernel tree with KUnit (no Kbuild or '
                          f'tools/testing/kunit/kunit.py)')
    return top


def user_worktree(top: Path) -> Path:
    return work_dir() / ('ksrc-' + hashlib.sha256(str(top).encode())
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
        git(['worktree', 'prune'], top)
        log(f'adding throwaway worktree {wt} of {top}')
        work_dir().mkdir(parents=True, exist_ok=True)
        git(['worktree', 'add', '-f', '--detach', str(wt), base], top)
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


# -------------------------------------------------------------- prepare --

@dataclass
class PatchFailure:
    patch: str
    files: list[str] = field(default_factory=list)
    detail: str = ''


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
    return work_dir() / 'state' / (hashlib.sha256(str(tree).encode())
                                   .hexdigest()[:16] + '.json')


def apply_series(tree: Path, base: str, branch: Optional[str],
                 patches: list[Path]) -> str:
    reset_to(tree, base, branch)
    env = dict(SERIES_COMMITTER)
    for p in patches:
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
            raise KpatchError(
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
                            f'Debian {DEBIAN_PKG} {debian_version()}')
    tree, base = ensure_user_tree(Path(kernel_src))
    desc = git(['describe', '--tags', '--always', base], tree,
               check=False).strip() or base[:12]
    try:
        return prepare_tree(tree, base, None,
                            f'KERNEL_SRC {check_user_tree(Path(kernel_src))}'
                            f' at {desc}')
    except (KpatchError, KeyboardInterrupt):
        drop_user_tree(Path(kernel_src))
        raise


def prepare_tree(tree: Path, base: str, branch: Optional[str],
                 desc: str) -> Path:
    t0 = time.monotonic()
    names = read_series()
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
    head = apply_series(tree, base, branch, [PATCH_DIR / n for n in names])
    restore_stamps(tree, head, kept)
    sp.write_text(json.dumps({**want, 'head': head, 'tree': str(tree)}) + '\n')
    log(f'applied {len(names)} patches on {base[:12]} in '
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
    path = PATCH_DIR / BASE_RECORD
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
    return (f'base: {desc}; the series was generated on {DEBIAN_PKG} {rec} '
            f'(hunk offsets may differ; the content is the same)')


# ------------------------------------------------------ suite generation --

@dataclass
class Suite:
    name: str
    config: str
    subject: str
    body: str
    patch: str
    files: list[tuple[Path, str]]
    edits: list[dict[str, str]]
    author: str


def load_suites(kunit_dir: Optional[Path] = None) -> dict[str, Suite]:
    """Suites by the patch file name they generate."""
    kunit_dir = kunit_dir or KUNIT_DIR
    suites: dict[str, Suite] = {}
    for toml_path in sorted(kunit_dir.glob('*/suite.toml')):
        where = toml_path.relative_to(REPO) if toml_path.is_relative_to(REPO) \
            else toml_path
        try:
            data = tomllib.loads(toml_path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise KpatchError(f'{where}: {e}') from None
        for key in ('name', 'config', 'subject', 'body', 'patch', 'author'):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise KpatchError(f'{where}: missing string field "{key}"')
        files = []
        for f in data.get('files', []):
            src = toml_path.parent / f['src']
            if not src.is_file():
                raise KpatchError(f'{where}: file {f["src"]} is missing')
            files.append((src, f['dest']))
        if not files:
            raise KpatchError(f'{where}: no [[files]]')
        edits = data.get('edits', [])
        for e in edits:
            if not {'file', 'after', 'text'} <= set(e):
                raise KpatchError(f'{where}: an [[edits]] entry needs file, '
                                  f'after and text')
        s = Suite(data['name'], data['config'], data['subject'],
                  data['body'], data['patch'], files, edits, data['author'])
        if s.patch in suites:
            raise KpatchError(f'{where}: patch {s.patch} is generated by two '
                              f'suites')
        suites[s.patch] = s
    return suites


def apply_edit(text: str, edit: dict[str, str], where: str) -> str:
    lines = text.splitlines(keepends=True)
    hits = [i for i, ln in enumerate(lines) if ln.rstrip('\n') == edit['after']]
    if len(hits) != 1:
        raise KpatchError(f'{where}: anchor line {edit["after"]!r} found '
                          f'{len(hits)} times in {edit["file"]} (need 1)')
    ins = edit['text'] if edit['text'].endswith('\n') else edit['text'] + '\n'
    lines.insert(hits[0] + 1, ins)
    return ''.join(lines)


class Plumbing:
    """Build commits with a private index: no checkout, no work tree."""

    def __init__(self, repo: Path, index: Path) -> None:
        self.repo = repo
        self.env = {'GIT_INDEX_FILE': str(index)}

    def run(self, args: list[str], env: Optional[dict[str, str]] = None,
            input_: Optional[str] = None) -> str:
        return git(args, self.repo, env={**self.env, **(env or {})},
                   input_=input_)

    def blob(self, path: str) -> str:
        out = self.run(['ls-files', '-s', '--', path]).split()
        if not out:
            raise KpatchError(f'{path} does not exist in the tree')
        return self.run(['cat-file', 'blob', out[1]])

    def put(self, path: str, content: str) -> None:
        sha = self.run(['hash-object', '-w', '--stdin'], input_=content).strip()
        self.run(['update-index', '--add', '--cacheinfo',
                  f'100644,{sha},{path}'])

    def commit(self, parent: str, message: str, ident: dict[str, str]) -> str:
        tree = self.run(['write-tree']).strip()
        return self.run(['commit-tree', tree, '-p', parent, '-F', '-'],
                        env=ident, input_=message).strip()


def parse_ident(author: str) -> tuple[str, str]:
    m = re.match(r'\s*(.*?)\s*<([^>]+)>\s*$', author)
    if not m:
        raise KpatchError(f'author {author!r} is not "Name <email>"')
    return m.group(1), m.group(2)


def mailinfo(repo: Path, patch: Path) -> tuple[dict[str, str], str]:
    """Author identity and commit message of a patch file (git mailinfo)."""
    with tempfile.TemporaryDirectory() as td:
        with patch.open() as fh:
            res = subprocess.run(['git', 'mailinfo', '-k', f'{td}/msg',
                                  f'{td}/patch'], stdin=fh,
                                 capture_output=True, text=True, cwd=repo)
        if res.returncode != 0:
            raise KpatchError(f'{patch.name}: not a mail-formatted patch')
        hdr = dict(ln.split(': ', 1) for ln in res.stdout.splitlines()
                   if ': ' in ln)
        body = Path(f'{td}/msg').read_text()
    subject = re.sub(r'^\[[^\]]*\]\s*', '', hdr.get('Subject', ''))
    ident = {'GIT_AUTHOR_NAME': hdr.get('Author', ''),
             'GIT_AUTHOR_EMAIL': hdr.get('Email', ''),
             'GIT_AUTHOR_DATE': hdr.get('Date', ''),
             'GIT_COMMITTER_DATE': hdr.get('Date', ''), **SERIES_COMMITTER}
    return ident, f'{subject}\n\n{body}'


def generate(out_dir: Path, repo: Optional[Path] = None,
             base: Optional[str] = None,
             renames: Optional[dict[str, str]] = None) -> list[str]:
    """Rebuild the whole series into out_dir; return the file names.

    Patches that a suite generates are rebuilt from kunit/<suite>/; every
    other patch is replayed from its file.  All of them, and the cover
    letter, are then written by one `git format-patch`, so numbering,
    base-commit and the cover letter's shortlog are always consistent.
    """
    if renames is None:
        renames = {}
    if repo is None or base is None:
        repo, base = ensure_debian_base()
    suites = load_suites()
    names = read_series(generated=frozenset(suites))
    unknown = set(suites) - set(names)
    if unknown:
        raise KpatchError(f'suite patch(es) not listed in series: '
                          f'{", ".join(sorted(unknown))}')
    names = [n for n in names if n != COVER]
    with tempfile.TemporaryDirectory() as td:
        pl = Plumbing(repo, Path(td) / 'index')
        pl.run(['read-tree', base])
        head = base
        first_ident: dict[str, str] = {}
        for n in names:
            if n in suites:
                s = suites[n]
                for src, dest in s.files:
                    pl.put(dest, src.read_text())
                for e in s.edits:
                    pl.put(e['file'], apply_edit(pl.blob(e['file']), e,
                                                 f'kunit/{s.name}'))
                name, email = parse_ident(s.author)
                ident = {'GIT_AUTHOR_NAME': name, 'GIT_AUTHOR_EMAIL': email,
                         'GIT_AUTHOR_DATE': '2026-11-22T00:00:00+0000',
                         'GIT_COMMITTER_DATE': '2026-11-22T00:00:00+0000',
                         **SERIES_COMMITTER}
                msg = (f'{s.subject}\n\n{s.body.strip()}\n\n'
                       f'Signed-off-by: {name} <{email}>\n')
                head = pl.commit(head, msg, ident)
                first_ident = first_ident or ident
            else:
                res = subprocess.run(
                    ['git', 'apply', '--cached', str(PATCH_DIR / n)],
                    cwd=repo, capture_output=True, text=True,
                    env={**os.environ, **pl.env})
                if res.returncode != 0:
                    raise KpatchError(f'{n} does not apply: '
                                      f'{res.stderr.strip()}')
                ident, msg = mailinfo(repo, PATCH_DIR / n)
                head = pl.commit(head, msg, ident)
                first_ident = first_ident or ident
        out_dir.mkdir(parents=True, exist_ok=True)
        fmt_dir = Path(td) / 'out'
        fmt_dir.mkdir()
        if head == base:
            (out_dir / 'series').write_text(merge_series([], PATCH_DIR /
                                                         'series'))
            return []
        # The cover letter is "from" the first patch's author, dated like
        # it: nothing depends on who runs gen, or when.
        cover_env = {
            'GIT_COMMITTER_NAME': first_ident['GIT_AUTHOR_NAME'],
            'GIT_COMMITTER_EMAIL': first_ident['GIT_AUTHOR_EMAIL'],
            'GIT_COMMITTER_DATE': first_ident['GIT_AUTHOR_DATE']}
        git(['format-patch', '-q', *FORMAT_OPTS, '--cover-letter', '-n',
             f'--base={base}', '-o', str(fmt_dir), f'{base}..{head}'], repo,
            env=cover_env)
        (fmt_dir / '0000-cover-letter.patch').rename(fmt_dir / COVER)
        produced = sorted(p.name for p in fmt_dir.iterdir())
        # A suite's patch file is named by format-patch from its subject and
        # position; record renames so write_gen can update suite.toml.
        renames.clear()
        patches_only = [p for p in produced if p != COVER]
        for pos, n in enumerate(names):
            if n in suites and patches_only[pos] != n:
                renames[n] = patches_only[pos]
        cover_new = (fmt_dir / COVER).read_text()
        old_cover = PATCH_DIR / COVER
        cover_new = merge_cover(cover_new, old_cover.read_text()
                                if old_cover.exists() else '')
        (fmt_dir / COVER).write_text(cover_new)
        for p in produced:
            shutil.copyfile(fmt_dir / p, out_dir / p)
    (out_dir / 'series').write_text(
        merge_series(produced, PATCH_DIR / 'series'))
    return produced


def merge_cover(new: str, old: str) -> str:
    """Keep the hand-written subject and blurb of the old cover letter."""
    m_old = re.search(r'^Subject: \[PATCH[^\]]*\] ([^\n]*)\n\n(.*?)\n\n'
                      r'(?=\S[^\n]*\(\d+\):\n)', old, re.S | re.M)
    if not m_old:
        return new
    subject, blurb = m_old.group(1), m_old.group(2)
    new = new.replace('*** SUBJECT HERE ***', subject, 1)
    return new.replace('*** BLURB HERE ***', blurb, 1)


def merge_series(produced: list[str], old_series: Path) -> str:
    """Rewrite series with the new names, keeping comments and grouping."""
    old = old_series.read_text().splitlines() if old_series.exists() else []
    produced = [p for p in produced if p != COVER]
    by_num = {p[:4]: p for p in produced}
    out, seen = [], set()
    for line in old:
        body = line.split('#', 1)[0].strip()
        if not body:
            out.append(line)
            continue
        num = body[:4]
        if num in by_num and num not in seen:
            out.append(by_num[num])
            seen.add(num)
    for p in produced:
        if p[:4] not in seen:
            out.append(p)
    return '\n'.join(out) + '\n'


@dataclass(frozen=True)
class PatchSignature:
    """What a reviewer compares between two versions of one patch.

    Not the bytes: blob ids (`index` lines), hunk line numbers and the
    cover letter's base-commit depend on the 6.12.y the series was
    generated on, and Debian moves it under us.
    """
    message: str       # subject and commit message
    files: tuple[str, ...]
    change: str        # git patch-id --verbatim: the diff itself, with line
                       # numbers and index lines ignored, whitespace kept


def patch_signature(path: Path) -> PatchSignature:
    text = path.read_text()
    if path.name == COVER:
        kept = [ln for ln in text.splitlines()
                if not ln.startswith('base-commit: ')]
        return PatchSignature('\n'.join(kept), (), '')
    _, message = mailinfo(REPO, path)
    files = tuple(re.findall(r'(?m)^diff --git a/(\S+) b/', text))
    res = subprocess.run(['git', 'patch-id', '--verbatim'], input=text,
                         capture_output=True, text=True, cwd=REPO)
    change = res.stdout.split()[0] if res.stdout.split() else ''
    return PatchSignature(message, files, change)


def signature_diff(name: str, have: Path, want: Path) -> list[str]:
    """How the committed patch differs from what gen produces, if at all."""
    a, b = patch_signature(have), patch_signature(want)
    if name == COVER:
        return [] if a == b else [f'{name}: differs from what gen writes '
                                  f'(besides base-commit)']
    out = []
    if a.message != b.message:
        out.append(f'{name}: subject or commit message differs')
    if a.files != b.files:
        out.append(f'{name}: touches {", ".join(a.files)}; gen touches '
                   f'{", ".join(b.files)}')
    elif a.change != b.change:
        out.append(f'{name}: the change differs (patch-id {a.change[:12]} '
                   f'!= {b.change[:12]})')
    return out


def check_sync() -> None:
    """kernel-patches/ against what `make gen` would write, by content."""
    with tempfile.TemporaryDirectory() as td:
        out = Path(td)
        renames: dict[str, str] = {}
        produced = generate(out, renames=renames)
        problems = [f'suite patch {o} should be named {n}'
                    for o, n in renames.items()]
        current = {p.name for p in PATCH_DIR.glob('*.patch')}
        current |= {p.name for p in PATCH_DIR.glob('*cover-letter*')}
        for name in sorted(current - set(produced)):
            problems.append(f'{name}: not produced by gen (stale file)')
        for name in produced:
            have = PATCH_DIR / name
            if not have.exists():
                problems.append(f'{name}: missing from kernel-patches/')
            else:
                problems += signature_diff(name, have, out / name)
        if (PATCH_DIR / 'series').read_text() != \
                (out / 'series').read_text():
            problems.append('series: differs from what gen writes')
        if problems:
            raise KpatchError('kernel-patches/ is out of sync; run `make gen`'
                              ':\n  ' + '\n  '.join(problems))
    log(f'in sync: {len(produced)} files regenerate with the same content')


def write_gen() -> None:
    with tempfile.TemporaryDirectory() as td:
        out = Path(td)
        renames: dict[str, str] = {}
        produced = generate(out, renames=renames)
        for old, new in renames.items():
            for toml_path in KUNIT_DIR.glob('*/suite.toml'):
                text = toml_path.read_text()
                line = f'patch = "{old}"'
                if line in text:
                    toml_path.write_text(text.replace(line, f'patch = "{new}"'))
                    log(f'{toml_path.parent.name}: patch renamed to {new}')
        for old in [*PATCH_DIR.glob('*.patch'),
                    *PATCH_DIR.glob('*cover-letter*')]:
            if old.name not in produced:
                old.unlink()
        for p in produced + ['series']:
            shutil.copyfile(out / p, PATCH_DIR / p)
    (PATCH_DIR / BASE_RECORD).write_text(
        f'# The {DEBIAN_PKG} version `make gen` last generated the series '
        f'on.\n# Other 6.12.y work too (`make check-bases`); only offsets '
        f'differ.\n{debian_version()}\n')
    log(f'wrote {len(produced)} files to {PATCH_DIR} (base {DEBIAN_PKG} '
        f'{debian_version()})')


def checkpatch_one(tree: Path, name: str) -> tuple[bool, str]:
    """checkpatch.pl --strict on one patch of kernel-patches/, in tree."""
    # With the tree, checkpatch also validates SPDX identifiers through
    # scripts/spdxcheck.py, which needs Debian's python3-ply and
    # python3-git: put Debian's python3 first.  A checker that crashes is
    # not a pass, so anything on stderr fails the patch.
    env = {**os.environ, 'PATH': '/usr/bin:' + os.environ.get('PATH', '')}
    res = subprocess.run(['perl', str(tree / 'scripts' / 'checkpatch.pl'),
                          '--strict', '--terse', '--show-types',
                          str(PATCH_DIR / name)],
                         capture_output=True, text=True, cwd=tree, env=env)
    ok = res.returncode == 0 and not res.stderr.strip()
    return ok, (res.stdout + res.stderr).strip()


def checkpatch(tree: Path) -> int:
    bad = 0
    for n in [n for n in read_series() if n != COVER]:
        ok, out = checkpatch_one(tree, n)
        bad += not ok
        print(f'checkpatch: {n}: ' + ('ok' if ok else f'FAIL\n{out}'),
              flush=True)
    return bad


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('prepare', help='base + series -> prepared tree')
    p.add_argument('--kernel-src', default=os.environ.get('KERNEL_SRC'))
    sub.add_parser('gen', help='regenerate kernel-patches/')
    sub.add_parser('check-sync', help='fail if kernel-patches/ is stale')
    sub.add_parser('checkpatch', help='checkpatch.pl --strict every patch')
    sub.add_parser('series', help='list patches in order')
    sub.add_parser('hash', help='content hash of kernel-patches/ + kunit/')
    args = ap.parse_args(argv)
    try:
        if args.cmd == 'prepare':
            print(prepare(args.kernel_src or None))
        elif args.cmd == 'gen':
            write_gen()
        elif args.cmd == 'check-sync':
            check_sync()
        elif args.cmd == 'checkpatch':
            tree, _ = ensure_debian_base()
            return 1 if checkpatch(tree) else 0
        elif args.cmd == 'series':
            print('\n'.join(read_series()))
        elif args.cmd == 'hash':
            print(series_hash())
    except KpatchError as e:
        print(f'kpatch: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('kpatch: interrupted; the next run recovers', file=sys.stderr)
        return 130
    return 0


if __name__ == '__main__':
    sys.exit(main())
