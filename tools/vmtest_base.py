# SPDX-License-Identifier: GPL-2.0
"""The unpatched base kernel of a row, built with the row's config.

A worktree of the prepared tree at tag base (<vmtest>/base/linux, kept
between runs) and kunit.py build in <vmtest>/base/build/<row> with the
row's merged config, the series' suites off (they do not exist on the
base; everything else, the vmtest options included, is the same).  The
build holds the machine's kernel build lock and is skipped when the base
commit, the compiler and the config are those of the last build.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import buildlock
import paths
import rows as rowsmod
import suites as suitesmod
from gitcmd import add_worktree, git
from runner import (BuildProgress, ccache_env, compiler_version, read_stamp,
                    run_logged)

BUILD_TIMEOUT = 3600
SKIPPED = 'build skipped (nothing changed)'    # the log of a skipped build


class BaseError(Exception):
    """The base kernel could not be built; the message says where."""


def base_dir() -> Path:
    return paths.vmtest_dir() / 'base'


def worktree(tree: Path) -> Path:
    """The base worktree, (re)made when missing or not at tag base."""
    wt = base_dir() / 'linux'
    base = git(['rev-parse', 'refs/tags/base^{commit}'], tree).strip()
    if wt.exists():
        head = git(['rev-parse', 'HEAD'], wt, check=False).strip()
        if head == base:
            return wt
        git(['worktree', 'remove', '--force', str(wt)], tree, check=False)
    add_worktree(tree, wt, base)
    return wt


def base_config(row: rowsmod.Row) -> str:
    entries = dict(row.config_entries())
    for s in suitesmod.load_suites().values():
        entries[s.config] = 'n'
    return rowsmod.render_config(
        [f'vmtest: row {row.name} on the unpatched base, the series\' '
         f'suites off'], entries)


def build(tree: Path, row: rowsmod.Row, log: Path) -> Path:
    """The base kernel's build folder (kunit.py build, or nothing)."""
    wt = worktree(tree)
    bdir = base_dir() / 'build' / row.name
    bdir.mkdir(parents=True, exist_ok=True)
    cfg = base_dir() / f'{row.name}.kunitconfig'
    cfg.write_text(base_config(row))
    make_options, env = ccache_env(base_dir())
    cmd = [sys.executable, str(paths.kunit_py(wt)), 'build',
           f'--arch={row.arch}', f'--build_dir={bdir}',
           f'--kunitconfig={cfg}', f'--jobs={os.cpu_count() or 2}',
           '--make_options', make_options]
    head = git(['rev-parse', 'HEAD'], wt).strip()
    inputs = hashlib.sha256('\0'.join([head, compiler_version(),
                                       cfg.read_text(), *cmd]).encode()
                            ).hexdigest()
    stamp = bdir / 'vmtest-stamp'
    if stamp.exists() and stamp.read_text() == inputs and \
            (bdir / 'vmlinux').exists():
        log.write_text(SKIPPED + '\n')
        return bdir
    stamp.unlink(missing_ok=True)
    # The base builds about as many objects as the row's own kernel.
    expect = read_stamp(paths.build_root() / row.name).get('objects')
    with buildlock.held(f'vmtest: {row.name} base build'), \
            BuildProgress(f'vmtest: [{row.name}] base kernel:', bdir, expect):
        rc, timed_out = run_logged(cmd, wt, log, BUILD_TIMEOUT, env)
    if rc != 0:
        raise BaseError(f'base build of row {row.name} '
                        f'{"timed out" if timed_out else "failed"}; see '
                        f'{log}')
    stamp.write_text(inputs)
    return bdir
