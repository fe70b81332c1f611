#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make check-bases`: the series on every 6.12.y Debian offers.

Debian's security archive moves linux-source-6.12 every few weeks and a
fresh machine installs the newest.  For each version (default: the newest
the archive offers and the one before it; BASES=all or BASES=v1,v2 picks
others) this downloads the package with `apt-get download`, unpacks its
tarball into a pristine base of its own (<work>/bases/<version>/linux),
applies the series with `git am`, builds and runs the default row, and
reports one line per version.  Results go to results/bases/<version>/.

Not in `make test`: each version other than the installed one is a
download, an unpack, a base commit and a build; ccache helps little across
versions (measured: 6.12.117 after 6.12.118 built in 335 s, about a cold
build), because security updates touch widely included headers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import matrix
import paths
import rows as rowsmod
import tree as treemod
from gitcmd import log
from paths import DEBIAN_PKG, SeriesError


def archive_versions() -> list[str]:
    """Versions of linux-source-6.12 the configured archive offers, newest
    first (apt-cache madison)."""
    res = subprocess.run(['apt-cache', 'madison', DEBIAN_PKG],
                         capture_output=True, text=True)
    out: list[str] = []
    for line in res.stdout.splitlines():
        parts = [p.strip() for p in line.split('|')]
        if len(parts) >= 2 and parts[1] not in out:
            out.append(parts[1])
    if not out:
        raise SeriesError(
            f'apt-cache madison {DEBIAN_PKG} lists no versions: run '
            f'`apt-get update` (as root) first')
    return out


def pick(offered: list[str], spec: str) -> list[str]:
    if spec == 'all':
        return offered
    if not spec:
        return offered[:2]
    want = [v.strip() for v in spec.split(',') if v.strip()]
    bad = [v for v in want if v not in offered]
    if bad:
        raise SeriesError(f'BASES: {", ".join(bad)} not offered by the '
                                 f'archive; it offers {", ".join(offered)}')
    return want


def tarball_of(version: str, folder: Path) -> Path:
    """linux-source-6.12.tar.xz of one version, downloaded once."""
    tarball = folder / paths.DEBIAN_TARBALL.name
    if tarball.exists():
        return tarball
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as td:
        log(f'apt-get download {DEBIAN_PKG}={version}')
        res = subprocess.run(['apt-get', 'download', '-q',
                              f'{DEBIAN_PKG}={version}'], cwd=td,
                             capture_output=True, text=True)
        debs = list(Path(td).glob('*.deb'))
        if res.returncode != 0 or not debs:
            raise SeriesError(f'apt-get download {DEBIAN_PKG}='
                                     f'{version} failed: {res.stderr.strip()}')
        member = f'./usr/src/{paths.DEBIAN_TARBALL.name}'
        with open(Path(td) / 't.part', 'wb') as fh:
            dpkg = subprocess.Popen(['dpkg-deb', '--fsys-tarfile',
                                     str(debs[0])], stdout=subprocess.PIPE)
            subprocess.run(['tar', '-xO', member], stdin=dpkg.stdout,
                           stdout=fh, check=True)
            dpkg.wait()
        # Renamed into place only when complete: an interrupted download
        # leaves nothing that looks finished.
        (Path(td) / 't.part').rename(tarball)
    return tarball


def prepared_tree(version: str) -> Path:
    """Base + series for one version; the installed one is the main tree."""
    if version == treemod.debian_version():
        return treemod.prepare(None)
    folder = paths.work_dir() / 'bases' / version
    tree, base = treemod.ensure_debian_base(tarball_of(version, folder),
                                           version, folder / 'linux')
    return treemod.prepare_tree(tree, base, 'series',
                               f'Debian {DEBIAN_PKG} {version}')


def run_default_row(version: str, prepared: Path, row: rowsmod.Row) -> bool:
    """The default row on one version's tree, in-process; results in
    results/bases/<version>/, builds in the version's own folder (the
    installed version's are the matrix's)."""
    installed = version == treemod.debian_version()
    build_root = paths.build_root() if installed else \
        paths.work_dir() / 'bases' / version / 'build'
    with paths.results_in(paths.results_dir() / 'bases' / version):
        out = matrix.run_matrix([row], prepared, build_root)
    return all(r.passed for r in out)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--bases', default=os.environ.get('BASES', ''),
                    help='comma-separated versions, or "all" (default: the '
                         'newest two the archive offers)')
    args = ap.parse_args(argv)
    row = rowsmod.default_row(rowsmod.load_rows())
    try:
        versions = pick(archive_versions(), args.bases)
    except SeriesError as e:
        print(f'check-bases: error: {e}', file=sys.stderr)
        return 2
    print(f'check-bases: {len(versions)} version(s) of {DEBIAN_PKG}: '
          f'{", ".join(versions)}; row {row.name}; the series was generated '
          f'on {treemod.recorded_base() or "?"}', flush=True)
    t_all = time.monotonic()
    table = []
    for v in versions:
        t0 = time.monotonic()
        print(f'check-bases: [{v}] preparing', flush=True)
        try:
            prepared = prepared_tree(v)
        except SeriesError as e:
            table.append((v, False, f'does not apply: {e}'.splitlines()[0],
                          time.monotonic() - t0))
            print(f'check-bases: [{v}] {e}', flush=True)
            continue
        print(f'check-bases: [{v}] applies; running row {row.name}',
              flush=True)
        ok = run_default_row(v, prepared, row)
        summary = f'row {row.name} ' + ('passed' if ok else 'FAILED')
        table.append((v, ok, summary, time.monotonic() - t0))
        print(f'check-bases: [{v}] {summary} ({time.monotonic() - t0:.0f}s)',
              flush=True)
    print()
    for v, ok, summary, secs in table:
        print(f'  {v:<22} {"PASS" if ok else "FAIL"}  {secs:5.0f}s  '
              f'{summary}')
    passed = sum(ok for _, ok, _, _ in table)
    print(f'check-bases: {len(table)} versions in '
          f'{time.monotonic() - t_all:.0f}s')
    print(f'{passed} passed, {len(table) - passed} failed')
    return 0 if passed == len(table) else 1


if __name__ == '__main__':
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print('check-bases: interrupted; the next run recovers',
              file=sys.stderr)
        sys.exit(130)
