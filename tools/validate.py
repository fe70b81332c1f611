#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reject bad input before any slow work, in well under a second.

The Makefile runs this first for every target that sets up, unpacks,
prepares or builds: a typo in ROWS, a broken rows file, a KERNEL_SRC that
is no kernel tree or a missing package would otherwise surface only after
minutes of unpacking or a cold build.

  validate.py [--rows a,b]   print every problem and exit 2, or exit 0

Each message is the one the slow path would print, minutes later.

Checks: the rows file parses and every name in --rows is a row; KERNEL_SRC
(if set) is a git tree of Linux with kunit.py (tree.check_user_tree);
when not root, the packages tools/setup.sh needs are installed (as root,
`make`'s setup step installs them right after this).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import rows as rowsmod
import tree as treemod
from paths import SETUP_SH, SeriesError


def check_rows(spec: str) -> list[str]:
    try:
        rowsmod.select(rowsmod.load_rows(), spec)
    except rowsmod.RowError as e:
        return [f'matrix: error: {e}']
    return []


def check_kernel_src(src: str) -> list[str]:
    if not src:
        return []           # the Debian tarball: a package, checked below
    try:
        treemod.check_user_tree(Path(src))
    except SeriesError as e:
        return [f'kpatch: error: {e}']
    return []


def check_packages() -> list[str]:
    """setup.sh's own message: as non-root it only checks, and prints the
    apt-get line to run."""
    if os.geteuid() == 0:
        return []
    res = subprocess.run(['sh', str(SETUP_SH)], capture_output=True, text=True)
    if res.returncode == 0:
        return []
    return [(res.stdout + res.stderr).strip()]


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--rows', default=os.environ.get('ROWS', ''))
    args = ap.parse_args(argv)
    errors = (check_rows(args.rows) +
              check_kernel_src(os.environ.get('KERNEL_SRC', '')) +
              check_packages())
    for e in errors:
        print(e, file=sys.stderr)
    return 2 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
