# SPDX-License-Identifier: GPL-2.0
"""Running git for the tree and series tools, and their log lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

from paths import SeriesError


def log(msg: str) -> None:
    print(f'kpatch: {msg}', file=sys.stderr, flush=True)


def git(args: list[str], cwd: Path, env: Optional[dict[str, str]] = None,
        check: bool = True, input_: Optional[str] = None) -> str:
    """git's stdout; a failure raises SeriesError with git's stderr."""
    full_env = dict(os.environ)
    full_env.update({'GIT_CONFIG_NOSYSTEM': '1', 'LC_ALL': 'C'})
    if env:
        full_env.update(env)
    res = subprocess.run(['git', *args], cwd=cwd, env=full_env, text=True,
                         input=input_, capture_output=True)
    if check and res.returncode != 0:
        raise SeriesError(f'git {" ".join(args)} failed in {cwd}:\n'
                          f'{res.stderr.strip()}')
    return res.stdout


def add_worktree(repo: Path, path: Path, rev: str) -> None:
    """A detached throwaway worktree of repo at rev (stale entries pruned:
    a worktree folder someone deleted by hand is still registered)."""
    git(['worktree', 'prune'], repo)
    path.parent.mkdir(parents=True, exist_ok=True)
    git(['worktree', 'add', '-f', '--detach', str(path), rev], repo)
