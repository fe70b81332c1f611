# SPDX-License-Identifier: GPL-2.0
"""tools/setup.sh: a missing package as non-root prints the exact
apt-get line and fails; nothing missing passes without apt-get."""

import os
import subprocess
import tempfile
import unittest
from pathlib import Path

SETUP = Path(__file__).resolve().parents[1] / 'setup.sh'


def fake_bin(d: Path, missing: str, uid: int) -> None:
    # dpkg-query -W -f='${Package} ${Status}\n' PKG...: one line per
    # installed package, an error (stderr, exit 1) for a missing one.
    (d / 'dpkg-query').write_text(
        '#!/bin/sh\nrc=0\n'
        'for a; do case "$a" in\n'
        '-*) ;;\n'
        f'{missing}) echo "no packages found matching $a" >&2; rc=1 ;;\n'
        '*) echo "$a install ok installed" ;;\n'
        'esac; done\nexit $rc\n')
    (d / 'id').write_text(f'#!/bin/sh\necho {uid}\n')
    (d / 'apt-get').write_text('#!/bin/sh\necho APT-GET-RAN "$@"\nexit 0\n')
    (d / 'dpkg').write_text('#!/bin/sh\nexit 0\n')
    for f in d.iterdir():
        f.chmod(0o755)


class SetupTest(unittest.TestCase):
    def run_setup(self, missing: str, uid: int):
        with tempfile.TemporaryDirectory() as td:
            fake_bin(Path(td), missing, uid)
            env = {**os.environ, 'PATH': f'{td}:/usr/bin:/bin'}
            return subprocess.run(['sh', str(SETUP)], env=env,
                                  capture_output=True, text=True)

    def test_nothing_missing(self):
        r = self.run_setup('none-missing', 1000)
        self.assertEqual(r.returncode, 0)
        self.assertIn('all packages present', r.stdout)
        self.assertNotIn('APT-GET-RAN', r.stdout)

    def test_missing_not_root_prints_line_and_fails(self):
        r = self.run_setup('qemu-system-x86', 1000)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn('apt-get install -y --no-install-recommends '
                      'qemu-system-x86', r.stderr)
        self.assertNotIn('APT-GET-RAN', r.stdout)

    def test_missing_as_root_installs(self):
        r = self.run_setup('linux-source-6.12', 0)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('APT-GET-RAN install -y -q --no-install-recommends '
                      'linux-source-6.12', r.stdout)


if __name__ == '__main__':
    unittest.main()


class MakefileTest(unittest.TestCase):
    def test_only_make_gen_writes_tracked_files(self):
        """`make`, `make test`, `make check`, `make matrix` leave git status
        clean: no target but gen regenerates kernel-patches/ or
        .kunitconfig, and none depends on gen."""
        mk = (SETUP.parents[1] / 'Makefile').read_text()
        target = ''
        for line in mk.splitlines():
            if line and not line[0].isspace() and ':' in line and \
                    '=' not in line.split(':', 1)[0]:
                target, deps = line.split(':', 1)
                if target != '.PHONY':
                    self.assertNotIn('gen', deps.split(), target)
            elif line.startswith('\t') and ('kpatch.py gen' in line or
                                            '> .kunitconfig' in line):
                self.assertEqual(target, 'gen', line)
