# SPDX-License-Identifier: GPL-2.0
"""Every path the tools use, and the series' patch names: computed here only.

  repository   REPO, PATCH_DIR (kernel-patches/), KUNIT_DIR, ROWS_FILE
  work folder  work_dir() ($WORK or <repo>/work), build_root() (one kunit.py
               build folder per row), the prepared tree's path file
  results      results_dir() ($RESULTS or <repo>/results), row_results()
  the tree     kunit_py(tree)
  benchmarks   BENCH_COST_TOML, BENCH_FAULT_TOML, BENCH_FAULT_USER
               (kunit/bench/, not part of the series),
               bench_cost_dir() (worktrees and build folders of
               `make bench BENCH=cost`), bench_fault_dir() (the same for
               `make bench BENCH=fault`), kbuild_lock() (the machine's
               shared lock around kernel builds and boots)
  vmtest       VMTEST_SCRIPTS (the guest's shell), vmtest_dir() (images,
               the base worktree and its builds), vmtest_results()
  mutants      MUTANTS_DIR, MUTANTS_FILE (kunit/mutants/, not part of the
               series), teeth_dir() (worktree and build folders of `make
               teeth`), teeth_results(), teeth_report(), teeth_kcidb()
  the series   read_series(), patches() (in apply order, no cover letter)

Functions, not constants, where the environment decides, so a test (or a
caller such as `make check-bases`) that sets WORK or RESULTS is obeyed
everywhere at once.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator, Optional

REPO = Path(__file__).resolve().parent.parent
TOOLS = REPO / 'tools'
PATCH_DIR = REPO / 'kernel-patches'
KUNIT_DIR = REPO / 'kunit'
ROWS_FILE = TOOLS / 'rows.toml'
KUNITCONFIG = REPO / '.kunitconfig'
SETUP_SH = TOOLS / 'setup.sh'
# Not *.patch, so that `git am kernel-patches/*.patch` works as is;
# FORMAT_PATCH_COVER is the name `git format-patch` gives it.
COVER = '0000-cover-letter.txt'
FORMAT_PATCH_COVER = '0000-cover-letter.patch'
SERIES = 'series'
# The Debian version the series was last generated on; only `make gen`
# writes it.
BASE_RECORD = 'base'
# checkpatch findings a patch keeps on purpose, each with its reason.
CHECKPATCH_ACCEPTED = PATCH_DIR / 'checkpatch.toml'
DEBIAN_PKG = 'linux-source-6.12'
DEBIAN_TARBALL = Path('/usr/src/linux-source-6.12.tar.xz')
KUNIT_PY = 'tools/testing/kunit/kunit.py'
# kernel-patches/<TESTENV>/: fixes to the kernel the tests need, not part
# of the series; applied after it to every tree that boots KUnit
# (tools/tree.py apply_series).
TESTENV = 'testenv'
# `make teeth`: the mutants (not part of the series) and their data.
MUTANTS_DIR = KUNIT_DIR / 'mutants'
MUTANTS_FILE = MUTANTS_DIR / 'mutants.toml'
# The in-kernel cost benchmark: its source and how it goes into a tree.
BENCH_COST_TOML = KUNIT_DIR / 'bench' / 'wb_trace_cost.toml'
# The hugetlb fault benchmark: its in-kernel part (a KUnit suite copied
# into a worktree, as above) and its user-space init.
BENCH_FAULT_TOML = KUNIT_DIR / 'bench' / 'hugetlb_ptlock_bench.toml'
BENCH_FAULT_USER = KUNIT_DIR / 'bench' / 'hugetlb_fault_user.c'
# Where the series of `make bench BENCH=cost`'s "v1" kernel is kept.
V1_TAG = 'series-v1'
DEFAULT_KBUILD_LOCK = '/tmp/kbuild.lock'
# `make vmtest`: the guest's init and scripts, and the selftests' folder.
VMTEST_SCRIPTS = TOOLS / 'vmtest'
MM_SELFTESTS = 'tools/testing/selftests/mm'


class SeriesError(Exception):
    """A user-facing error about the series or the tree: printed without a
    traceback, exit status 1."""


def work_dir() -> Path:
    return Path(os.environ.get('WORK') or REPO / 'work').resolve()


def build_root() -> Path:
    return work_dir() / 'build'


def bench_cost_dir() -> Path:
    """<variant>/linux (throwaway worktree), <variant>/build/<row>."""
    return work_dir() / 'bench-cost'


def bench_fault_dir() -> Path:
    """`make bench BENCH=fault`: linux/ (throwaway worktree), build/<variant>,
    the initramfs, the consoles; smoke/ for `make test`'s smoke."""
    return work_dir() / 'bench-fault'


def kbuild_lock() -> Optional[Path]:
    """The lock every kernel build and boot on this machine takes
    (flock(1) compatible); KBUILD_LOCK= (empty) disables it, for a caller
    that already holds it."""
    value = os.environ.get('KBUILD_LOCK', DEFAULT_KBUILD_LOCK)
    return Path(value) if value else None


_results_override: Optional[Path] = None


def results_dir() -> Path:
    if _results_override is not None:
        return _results_override
    return Path(os.environ.get('RESULTS') or REPO / 'results').resolve()


@contextlib.contextmanager
def results_in(folder: Path) -> Iterator[None]:
    """Write results to folder for a while (`make check-bases` keeps each
    version's in results/bases/<version>/)."""
    global _results_override
    old, _results_override = _results_override, folder.resolve()
    try:
        yield
    finally:
        _results_override = old


def row_results(row: str) -> Path:
    return results_dir() / row


def vmtest_dir() -> Path:
    """<arch>/ (headers, selftests, initramfs), base/linux (a worktree of
    the prepared tree at tag base) and base/build/<row>."""
    return work_dir() / 'vmtest'


def vmtest_results() -> Path:
    """results/vmtest/: <row>/<kernel>-console.log and -records.txt,
    summary.md, kcidb.json."""
    return results_dir() / 'vmtest'


def teeth_dir() -> Path:
    """`make teeth`'s folder: the throwaway worktree (linux/, removed after
    each run) and one kunit.py build folder per mutant and row (build/,
    kept).  The two sit as work/linux and work/build/<row> do, so the
    compiler runs with the same relative paths and ccache hits the
    matrix's entries."""
    return work_dir() / 'teeth'


def teeth_tree() -> Path:
    return teeth_dir() / 'linux'


def teeth_build_root() -> Path:
    return teeth_dir() / 'build'


def teeth_results() -> Path:
    """results/teeth/<mutant>-<row>/: each run's files, as results/<row>."""
    return results_dir() / 'teeth'


def teeth_report() -> Path:
    return results_dir() / 'teeth.md'


def teeth_kcidb() -> Path:
    return results_dir() / 'teeth-kcidb.json'


def kunit_py(tree: Path) -> Path:
    return tree / KUNIT_PY


def read_series(patch_dir: Optional[Path] = None,
                generated: frozenset[str] = frozenset()) -> list[str]:
    """File names from kernel-patches/series, in apply order.

    Names in `generated` (suite patches, rebuilt from kunit/) may be
    missing: `make gen` writes them.
    """
    patch_dir = patch_dir or PATCH_DIR
    series = patch_dir / SERIES
    if not series.exists():
        raise SeriesError(f'{series} is missing')
    names: list[str] = []
    for lineno, raw in enumerate(series.read_text().splitlines(), 1):
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        name = line.split()[0]
        if not (patch_dir / name).is_file() and name not in generated:
            raise SeriesError(f'{series}:{lineno}: {name}: no such patch '
                              f'file')
        if name in names:
            raise SeriesError(f'{series}:{lineno}: {name} listed twice')
        names.append(name)
    return names


def patches(patch_dir: Optional[Path] = None) -> list[str]:
    """The patches of the series in apply order, without the cover letter."""
    return [n for n in read_series(patch_dir) if n != COVER]


def testenv_patches() -> list[Path]:
    """The test-environment fixes, in apply order (by name)."""
    return sorted((PATCH_DIR / TESTENV).glob('*.patch'))


def testenv_names() -> list[str]:
    """The same, as names relative to kernel-patches/ (for checkpatch)."""
    return [f'{TESTENV}/{p.name}' for p in testenv_patches()]
