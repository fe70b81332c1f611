# SPDX-License-Identifier: GPL-2.0
"""The machine's kernel build lock: one kernel build or boot of the
benchmarks, the mutants and the in-VM tests at a time on a 2-core machine
(paths.kbuild_lock(); flock(1) on the same file agrees, so a shell can
hold it around `make matrix`)."""

from __future__ import annotations

import contextlib
import fcntl
import time
from typing import Iterator

import paths


@contextlib.contextmanager
def held(who: str) -> Iterator[None]:
    """Hold the lock; who ("bench: cost", "teeth: [label]") names the
    waiter in the lines it prints while it waits.  KBUILD_LOCK= (empty):
    no lock, for a caller that holds it already."""
    path = paths.kbuild_lock()
    if path is None:
        yield
        return
    with path.open('a') as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            t0 = time.monotonic()
            print(f'{who}: waiting for {path} (another kernel build or boot '
                  f'holds it)', flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
            print(f'{who}: got {path} after {time.monotonic() - t0:.0f}s',
                  flush=True)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
