# SPDX-License-Identifier: GPL-2.0
"""The series in kernel-patches/: generate it, check it, checkpatch it.

`make gen` replays the series with a private git index (no checkout):
patch files are applied with `git apply --cached`, suite patches are built
from kunit/<suite>/ (tools/suites.py), and one `git format-patch
--cover-letter` writes every file, so numbering, base-commit and the cover
letter's shortlog are always consistent.  `make check` compares the
committed patches with what gen would write by content, not bytes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import paths
import suites as suitesmod
import tree as treemod
from gitcmd import git, log
from paths import COVER, SeriesError

# A fixed abbreviation: git's default grows with the object count, so a
# long-lived tree and a fresh clone would otherwise write different index
# lines.
FORMAT_OPTS = ['--zero-commit', '--no-signature', '--abbrev=12']
# The posting this series is: [PATCH v<REVISION> nn/NN].  What changed
# since the last one goes below each patch's "---" (its changelog).
REVISION = 2
SUBJECT_PREFIX = f'--subject-prefix=PATCH v{REVISION}' if REVISION > 1 \
    else '--subject-prefix=PATCH'


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
            raise SeriesError(f'{path} does not exist in the tree')
        return self.run(['cat-file', 'blob', out[1]])

    def put(self, path: str, content: str) -> None:
        sha = self.run(['hash-object', '-w', '--stdin'],
                       input_=content).strip()
        self.run(['update-index', '--add', '--cacheinfo',
                  f'100644,{sha},{path}'])

    def commit(self, parent: str, message: str, ident: dict[str, str]) -> str:
        tree = self.run(['write-tree']).strip()
        return self.run(['commit-tree', tree, '-p', parent, '-F', '-'],
                        env=ident, input_=message).strip()


def parse_ident(author: str) -> tuple[str, str]:
    m = re.match(r'\s*(.*?)\s*<([^>]+)>\s*$', author)
    if not m:
        raise SeriesError(f'author {author!r} is not "Name <email>"')
    return m.group(1), m.group(2)


def mailinfo(repo: Path, patch: Path) -> tuple[dict[str, str], str]:
    """Author identity and commit message of a patch file (git mailinfo)."""
    with tempfile.TemporaryDirectory() as td:
        with patch.open() as fh:
            res = subprocess.run(['git', 'mailinfo', '-k', f'{td}/msg',
                                  f'{td}/patch'], stdin=fh,
                                 capture_output=True, text=True, cwd=repo)
        if res.returncode != 0:
            raise SeriesError(f'{patch.name}: not a mail-formatted patch')
        hdr = dict(ln.split(': ', 1) for ln in res.stdout.splitlines()
                   if ': ' in ln)
        body = Path(f'{td}/msg').read_text()
    subject = re.sub(r'^\[[^\]]*\]\s*', '', hdr.get('Subject', ''))
    ident = {'GIT_AUTHOR_NAME': hdr.get('Author', ''),
             'GIT_AUTHOR_EMAIL': hdr.get('Email', ''),
             'GIT_AUTHOR_DATE': hdr.get('Date', ''),
             'GIT_COMMITTER_DATE': hdr.get('Date', ''),
             **treemod.SERIES_COMMITTER}
    return ident, f'{subject}\n\n{body}'


SUITE_DATE = '2026-11-22T00:00:00+0000'


def suite_commit(pl: Plumbing, head: str, s: suitesmod.Suite
                 ) -> tuple[str, dict[str, str]]:
    """A commit of suite s on head, from kunit/<suite>/ alone."""
    for src, dest in s.files:
        pl.put(dest, src.read_text())
    for e in s.edits:
        pl.put(e['file'], suitesmod.apply_edit(pl.blob(e['file']), e,
                                               f'kunit/{s.name}'))
    name, email = parse_ident(s.author)
    ident = {'GIT_AUTHOR_NAME': name, 'GIT_AUTHOR_EMAIL': email,
             'GIT_AUTHOR_DATE': SUITE_DATE, 'GIT_COMMITTER_DATE': SUITE_DATE,
             **treemod.SERIES_COMMITTER}
    msg = (f'{s.subject}\n\n{s.body.strip()}\n\n'
           f'Signed-off-by: {name} <{email}>\n')
    return pl.commit(head, msg, ident), ident


def patch_commit(pl: Plumbing, head: str, name: str
                 ) -> tuple[str, dict[str, str]]:
    """A commit of kernel-patches/<name> on head (git apply --cached)."""
    patch = paths.PATCH_DIR / name
    res = subprocess.run(['git', 'apply', '--cached', str(patch)],
                         cwd=pl.repo, capture_output=True, text=True,
                         env={**os.environ, **pl.env})
    if res.returncode != 0:
        raise SeriesError(f'{name} does not apply: {res.stderr.strip()}')
    ident, msg = mailinfo(pl.repo, patch)
    return pl.commit(head, msg, ident), ident


DIFFSTAT = re.compile(r'^ (\S.* \| +\d+|\d+ files? changed)')


def changelog_of(text: str) -> str:
    """The changelog of a patch file: what it says between --- and the
    diffstat (empty when nothing)."""
    lines = text.splitlines()
    if '---' not in lines:
        return ''
    start = lines.index('---') + 1
    end = next((i for i in range(start, len(lines))
                if DIFFSTAT.match(lines[i]) or lines[i].startswith('diff ')),
               len(lines))
    return '\n'.join(lines[start:end]).strip()


def with_changelog(text: str, changelog: str) -> str:
    """A format-patch file with changelog put below its --- line."""
    if not changelog.strip():
        return text
    return text.replace('\n---\n', f'\n---\n{changelog.strip()}\n\n', 1)


def changelogs(names: list[str], suites: dict[str, suitesmod.Suite],
               produced: list[str]) -> dict[str, str]:
    """Each produced patch's changelog: a suite's from its suite.toml, a
    patch file's from what the committed file has below its ---."""
    out = {}
    for n, new in zip(names, [p for p in produced if p != COVER]):
        out[new] = suites[n].changelog if n in suites else \
            changelog_of((paths.PATCH_DIR / n).read_text())
    return out


def format_series(repo: Path, base: str, head: str, first: dict[str, str],
                  out: Path) -> list[str]:
    """git format-patch of base..head with a cover letter, into out."""
    # The cover letter is "from" the first patch's author, dated like it:
    # nothing depends on who runs gen, or when.
    cover_env = {'GIT_COMMITTER_NAME': first['GIT_AUTHOR_NAME'],
                 'GIT_COMMITTER_EMAIL': first['GIT_AUTHOR_EMAIL'],
                 'GIT_COMMITTER_DATE': first['GIT_AUTHOR_DATE']}
    git(['format-patch', '-q', *FORMAT_OPTS, SUBJECT_PREFIX, '--cover-letter',
         '-n',
         f'--base={base}', '-o', str(out), f'{base}..{head}'], repo,
        env=cover_env)
    (out / paths.FORMAT_PATCH_COVER).rename(out / COVER)
    old_cover = paths.PATCH_DIR / COVER
    (out / COVER).write_text(merge_cover(
        (out / COVER).read_text(),
        old_cover.read_text() if old_cover.exists() else ''))
    return sorted(p.name for p in out.iterdir())


def generate(out_dir: Path, repo: Optional[Path] = None,
             base: Optional[str] = None,
             renames: Optional[dict[str, str]] = None) -> list[str]:
    """Rebuild the whole series into out_dir; return the file names.

    A suite's patch file is named by format-patch from its subject and
    position: renames gets {old name: new name} so write_gen can update
    the suite.toml.
    """
    renames = {} if renames is None else renames
    if repo is None or base is None:
        repo, base = treemod.ensure_debian_base()
    suites = suitesmod.load_suites()
    names = [n for n in paths.read_series(generated=frozenset(suites))
             if n != COVER]
    unknown = set(suites) - set(names)
    if unknown:
        raise SeriesError(f'suite patch(es) not listed in series: '
                          f'{", ".join(sorted(unknown))}')
    out_dir.mkdir(parents=True, exist_ok=True)
    produced: list[str] = []
    with tempfile.TemporaryDirectory() as td:
        pl = Plumbing(repo, Path(td) / 'index')
        pl.run(['read-tree', base])
        head, first = base, dict[str, str]()
        for n in names:
            head, ident = suite_commit(pl, head, suites[n]) if n in suites \
                else patch_commit(pl, head, n)
            first = first or ident
        if head != base:
            (Path(td) / 'out').mkdir()
            produced = format_series(repo, base, head, first,
                                     Path(td) / 'out')
            logs = changelogs(names, suites, produced)
            for p in produced:
                (out_dir / p).write_text(with_changelog(
                    (Path(td) / 'out' / p).read_text(), logs.get(p, '')))
    renames.clear()
    renames.update({n: new for n, new in zip(names, [
        p for p in produced if p != COVER]) if n in suites and n != new})
    (out_dir / paths.SERIES).write_text(
        merge_series(produced, paths.PATCH_DIR / paths.SERIES))
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
    changelog: str = ''  # below ---: what changed since the last posting


def patch_signature(path: Path) -> PatchSignature:
    text = path.read_text()
    if path.name == COVER:
        kept = [ln for ln in text.splitlines()
                if not ln.startswith('base-commit: ')]
        return PatchSignature('\n'.join(kept), (), '')
    _, message = mailinfo(paths.REPO, path)
    files = tuple(re.findall(r'(?m)^diff --git a/(\S+) b/', text))
    res = subprocess.run(['git', 'patch-id', '--verbatim'], input=text,
                         capture_output=True, text=True, cwd=paths.REPO)
    change = res.stdout.split()[0] if res.stdout.split() else ''
    return PatchSignature(message, files, change, changelog_of(text))


def signature_diff(name: str, have: Path, want: Path) -> list[str]:
    """How the committed patch differs from what gen produces, if at all."""
    a, b = patch_signature(have), patch_signature(want)
    if name == COVER:
        return [] if a == b else [f'{name}: differs from what gen writes '
                                  f'(besides base-commit)']
    out = []
    if a.message != b.message:
        out.append(f'{name}: subject or commit message differs')
    if a.changelog != b.changelog:
        out.append(f'{name}: the changelog below --- differs')
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
        current = {p.name for p in paths.PATCH_DIR.glob('*.patch')}
        current |= {p.name for p in paths.PATCH_DIR.glob('*cover-letter*')}
        for name in sorted(current - set(produced)):
            problems.append(f'{name}: not produced by gen (stale file)')
        for name in produced:
            have = paths.PATCH_DIR / name
            if not have.exists():
                problems.append(f'{name}: missing from kernel-patches/')
            else:
                problems += signature_diff(name, have, out / name)
        if (paths.PATCH_DIR / paths.SERIES).read_text() != \
                (out / paths.SERIES).read_text():
            problems.append('series: differs from what gen writes')
        if problems:
            raise SeriesError('kernel-patches/ is out of sync; run `make gen`'
                              ':\n  ' + '\n  '.join(problems))
    log(f'in sync: {len(produced)} files regenerate with the same content')


def write_gen() -> None:
    with tempfile.TemporaryDirectory() as td:
        out = Path(td)
        renames: dict[str, str] = {}
        produced = generate(out, renames=renames)
        for old, new in renames.items():
            for toml_path in paths.KUNIT_DIR.glob('*/suite.toml'):
                text = toml_path.read_text()
                line = f'patch = "{old}"'
                if line in text:
                    toml_path.write_text(
                        text.replace(line, f'patch = "{new}"'))
                    log(f'{toml_path.parent.name}: patch renamed to {new}')
        for stale in [*paths.PATCH_DIR.glob('*.patch'),
                      *paths.PATCH_DIR.glob('*cover-letter*')]:
            if stale.name not in produced:
                stale.unlink()
        for p in produced + [paths.SERIES]:
            shutil.copyfile(out / p, paths.PATCH_DIR / p)
    pkg, version = paths.DEBIAN_PKG, treemod.debian_version()
    (paths.PATCH_DIR / paths.BASE_RECORD).write_text(
        f'# The {pkg} version `make gen` last generated the series on.\n'
        f'# Other 6.12.y work too (`make check-bases`); only offsets '
        f'differ.\n{version}\n')
    log(f'wrote {len(produced)} files to {paths.PATCH_DIR} (base {pkg} '
        f'{version})')


def accepted_findings(name: str) -> tuple[list[str], str]:
    """checkpatch types a patch keeps on purpose, and why
    (kernel-patches/checkpatch.toml)."""
    if not paths.CHECKPATCH_ACCEPTED.exists():
        return [], ''
    try:
        data = tomllib.loads(paths.CHECKPATCH_ACCEPTED.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SeriesError(f'{paths.CHECKPATCH_ACCEPTED.name}: {e}') from None
    entry = data.get(name[:4], {})
    types, reason = entry.get('ignore', []), str(entry.get('reason', ''))
    if types and not reason.strip():
        raise SeriesError(f'{paths.CHECKPATCH_ACCEPTED.name}: {name[:4]} '
                          f'ignores {", ".join(types)} without a reason')
    return [str(t) for t in types], reason


def checkpatch_one(tree: Path, name: str) -> tuple[bool, str]:
    """checkpatch.pl --strict on one patch of kernel-patches/, in tree,
    less the finding types kernel-patches/checkpatch.toml accepts for it."""
    # With the tree, checkpatch also validates SPDX identifiers through
    # scripts/spdxcheck.py, which needs Debian's python3-ply and
    # python3-git: put Debian's python3 first.  A checker that crashes is
    # not a pass, so anything on stderr fails the patch.
    env = {**os.environ, 'PATH': '/usr/bin:' + os.environ.get('PATH', '')}
    ignore, _ = accepted_findings(name)
    res = subprocess.run(['perl', str(tree / 'scripts' / 'checkpatch.pl'),
                          '--strict', '--terse', '--show-types',
                          *(['--ignore', ','.join(ignore)] if ignore else []),
                          str(paths.PATCH_DIR / name)],
                         capture_output=True, text=True, cwd=tree, env=env)
    ok = res.returncode == 0 and not res.stderr.strip()
    return ok, (res.stdout + res.stderr).strip()


def checkpatch(tree: Path) -> int:
    """checkpatch the series, then the test-environment fixes."""
    bad = 0
    env = paths.testenv_names()
    for n in [*paths.patches(), *env]:
        ok, out = checkpatch_one(tree, n)
        bad += not ok
        ignore, reason = accepted_findings(n)
        note = f' (accepted: {", ".join(ignore)}: {reason.strip()})' \
            if ignore else ''
        print(f'checkpatch: {n}: ' + ('ok' + note if ok else f'FAIL\n{out}'),
              flush=True)
    return bad
