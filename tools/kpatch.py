#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Prepare a kernel tree with the series applied, and keep the series in sync.

  kpatch.py prepare     pristine base (Debian linux-source-6.12 or
                        KERNEL_SRC) + series; prints the tree's path
  kpatch.py gen         regenerate kernel-patches/ from itself and kunit/
  kpatch.py check-sync  fail if kernel-patches/ differs (by content) from
                        what gen would write
  kpatch.py checkpatch  scripts/checkpatch.pl --strict on every patch
  kpatch.py series      the patch files in apply order
  kpatch.py hash        content hash of kernel-patches/ + kunit/

Getting and preparing the tree is tools/tree.py, the series tools/series.py;
all state lives under the work folder (default: <repo>/work).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Optional

import paths
import series
import tree
from paths import SeriesError


def do_prepare(args: argparse.Namespace) -> int:
    print(tree.prepare(args.kernel_src or None))
    return 0


def do_gen(args: argparse.Namespace) -> int:
    series.write_gen()
    return 0


def do_check_sync(args: argparse.Namespace) -> int:
    series.check_sync()
    return 0


def do_checkpatch(args: argparse.Namespace) -> int:
    base_tree, _ = tree.ensure_debian_base()
    return 1 if series.checkpatch(base_tree) else 0


def do_series(args: argparse.Namespace) -> int:
    print('\n'.join(paths.read_series()))
    return 0


def do_hash(args: argparse.Namespace) -> int:
    print(tree.series_hash())
    return 0


HANDLERS: dict[str, tuple[str, Callable[[argparse.Namespace], int]]] = {
    'prepare': ('base + series -> prepared tree', do_prepare),
    'gen': ('regenerate kernel-patches/', do_gen),
    'check-sync': ('fail if kernel-patches/ is stale', do_check_sync),
    'checkpatch': ('checkpatch.pl --strict every patch', do_checkpatch),
    'series': ('list patches in order', do_series),
    'hash': ('content hash of kernel-patches/ + kunit/', do_hash),
}


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    for name, (help_, _) in HANDLERS.items():
        p = sub.add_parser(name, help=help_)
        if name == 'prepare':
            p.add_argument('--kernel-src',
                           default=os.environ.get('KERNEL_SRC'))
    args = ap.parse_args(argv)
    try:
        return HANDLERS[args.cmd][1](args)
    except SeriesError as e:
        print(f'kpatch: error: {e}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('kpatch: interrupted; the next run recovers', file=sys.stderr)
        return 130


if __name__ == '__main__':
    sys.exit(main())
