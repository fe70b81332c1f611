# SPDX-License-Identifier: GPL-2.0
"""Tests of preparing the tree (tree.py) and the series (series.py) on a
small fake kernel tree (no real kernel)."""

import os
import subprocess
import tarfile
import tempfile
import unittest
from pathlib import Path
from unittest import mock

import gitcmd
import paths
import series
import tree as treemod

KCONFIG = 'menu "Memory"\n\nconfig FOO\n\tbool\n\nendmenu\n'
HUGETLB = ''.join(f'line {i}\n' for i in range(1, 41))


def sh(cmd, cwd, env=None):
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **(env or {})})


def make_patch(repo: Path, path: str, old: str, new: str, subject: str,
               out: Path) -> Path:
    """A git format-patch file changing path from old to new."""
    (repo / path).write_text(new)
    sh(['git', 'add', '-A'], repo)
    sh(['git', 'commit', '-q', '-m', subject], repo)
    sh(['git', 'format-patch', '-q', '-1', '--zero-commit', '-o', str(out)],
       repo)
    sh(['git', 'reset', '-q', '--hard', 'HEAD~1'], repo)
    produced = sorted(out.glob('0001-*.patch'))[-1]
    return produced


class FakeKernel(unittest.TestCase):
    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp())
        self.env = mock.patch.dict(os.environ, {
            'WORK': str(self.tmp / 'work'),
            'GIT_AUTHOR_NAME': 'T', 'GIT_AUTHOR_EMAIL': 't@example.invalid',
            'GIT_COMMITTER_NAME': 'T',
            'GIT_COMMITTER_EMAIL': 't@example.invalid'})
        self.env.start()
        self.addCleanup(self.env.stop)
        src = self.tmp / 'src' / 'linux-source-6.12'
        (src / 'mm').mkdir(parents=True)
        (src / 'tools/testing/kunit').mkdir(parents=True)
        (src / 'tools/testing/kunit/kunit.py').write_text('')
        (src / 'Kbuild').write_text('')
        (src / 'mm/Kconfig').write_text(KCONFIG)
        (src / 'mm/Makefile').write_text('obj-y += hugetlb.o\n')
        (src / 'mm/hugetlb.c').write_text(HUGETLB)
        (src / '.gitignore').write_text('/*\n')  # like Debian's
        self.tarball = self.tmp / 'linux-source-6.12.tar.xz'
        with tarfile.open(self.tarball, 'w:xz') as tf:
            tf.add(src, arcname='linux-source-6.12')
        # A scratch repo to author patches against the same content.
        self.author = self.tmp / 'author'
        sh(['cp', '-r', str(src), str(self.author)], self.tmp)
        sh(['git', 'init', '-q'], self.author)
        sh(['git', 'add', '-f', '-A'], self.author)
        sh(['git', 'commit', '-q', '-m', 'base'], self.author)
        self.patches = self.tmp / 'kernel-patches'
        self.patches.mkdir()
        self.kunit = self.tmp / 'kunit'
        self.kunit.mkdir()
        for name, val in (('PATCH_DIR', self.patches),
                          ('KUNIT_DIR', self.kunit),
                          ('DEBIAN_TARBALL', self.tarball)):
            p = mock.patch.object(paths, name, val)
            p.start()
            self.addCleanup(p.stop)
        p = mock.patch.object(treemod, 'debian_version',
                              return_value='6.12.117-1~deb12u1')
        p.start()
        self.addCleanup(p.stop)

    def add_patch(self, path, new, subject):
        old = (self.author / path).read_text()
        f = make_patch(self.author, path, old, new, subject,
                       self.tmp / 'fp')
        dest = self.patches / f.name
        f.rename(dest)
        return dest.name

    def write_series(self, names):
        (self.patches / 'series').write_text(
            '# test series\n' + '\n'.join(names) + '\n')


class PrepareTest(FakeKernel):
    def test_prepare_applies_series_and_is_incremental(self):
        n = self.add_patch('mm/hugetlb.c', HUGETLB.replace('line 20', 'L20'),
                           'mm: change line 20')
        self.write_series([n])
        tree = treemod.prepare(None)
        self.assertIn('L20', (tree / 'mm/hugetlb.c').read_text())
        head = gitcmd.git(['rev-parse', 'HEAD'], tree).strip()
        # Nothing changed: same head, nothing re-applied.
        with mock.patch.object(treemod, 'apply_series') as ap:
            treemod.prepare(None)
            ap.assert_not_called()
        self.assertEqual(head, gitcmd.git(['rev-parse', 'HEAD'], tree).strip())

    def test_testenv_fixes_are_applied_after_the_series(self):
        n = self.add_patch('mm/hugetlb.c', HUGETLB.replace('line 20', 'L20'),
                           'mm: change line 20')
        self.write_series([n])
        env = self.patches / paths.TESTENV
        env.mkdir()
        f = make_patch(self.author, 'mm/Kconfig', KCONFIG, KCONFIG + '# env\n',
                       'kunit: a test-environment fix', self.tmp / 'fp')
        f.rename(env / f.name)
        tree = treemod.prepare(None)
        self.assertIn('L20', (tree / 'mm/hugetlb.c').read_text())
        self.assertIn('# env', (tree / 'mm/Kconfig').read_text())
        subjects = gitcmd.git(['log', '--format=%s', 'base..HEAD'],
                              tree).splitlines()
        self.assertEqual(subjects, ['kunit: a test-environment fix',
                                    'mm: change line 20'])

    def test_reprepare_keeps_mtime_of_unchanged_files(self):
        a = self.add_patch('mm/hugetlb.c', HUGETLB.replace('line 3\n', 'L3\n'),
                           'mm: three')
        b = self.add_patch('mm/Kconfig', KCONFIG + '# one\n', 'mm: kconfig')
        self.write_series([a, b])
        tree = treemod.prepare(None)
        old = 1_000_000_000_000_000_000
        os.utime(tree / 'mm/hugetlb.c', ns=(old, old))
        os.utime(tree / 'mm/Kconfig', ns=(old, old))
        p = self.patches / b
        p.write_text(p.read_text().replace('+# one', '+# two'))
        tree = treemod.prepare(None)
        self.assertIn('# two', (tree / 'mm/Kconfig').read_text())
        self.assertEqual((tree / 'mm/hugetlb.c').stat().st_mtime_ns, old)
        self.assertNotEqual((tree / 'mm/Kconfig').stat().st_mtime_ns, old)

    def test_bad_patch_names_patch_file_and_hunk_and_keeps_base(self):
        good = self.add_patch('mm/hugetlb.c',
                              HUGETLB.replace('line 5\n', 'L5\n'), 'mm: one')
        bad = self.add_patch('mm/hugetlb.c',
                             HUGETLB.replace('line 30\n', 'L30\n'), 'mm: two')
        # Corrupt the context of the second patch so its hunk cannot apply.
        p = self.patches / bad
        p.write_text(p.read_text().replace(' line 28\n', ' line 28 (x)\n'))
        self.write_series([good, bad])
        with self.assertRaises(paths.SeriesError) as cm:
            treemod.prepare(None)
        msg = str(cm.exception)
        self.assertIn(bad, msg)
        self.assertIn('mm/hugetlb.c', msg)
        self.assertIn('Hunk #1 FAILED', msg)
        tree = self.tmp / 'work' / 'linux'
        base = gitcmd.git(['rev-parse', 'base'], tree).strip()
        self.assertEqual(gitcmd.git(['rev-parse', 'HEAD'], tree).strip(), base)
        self.assertEqual(gitcmd.git(['status', '--porcelain'], tree), '')
        self.assertFalse(treemod.am_in_progress(tree))
        # Fix the patch: the next prepare works without manual cleanup.
        p.write_text(p.read_text().replace(' line 28 (x)\n', ' line 28\n'))
        tree = treemod.prepare(None)
        self.assertIn('L30', (tree / 'mm/hugetlb.c').read_text())

    def test_interrupted_unpack_and_am_recover(self):
        n = self.add_patch('mm/Kconfig', KCONFIG + '# x\n', 'mm: kconfig')
        self.write_series([n])
        work = self.tmp / 'work'
        (work / 'linux.unpack-999' / 'junk').mkdir(parents=True)
        tree = treemod.prepare(None)
        self.assertFalse((work / 'linux.unpack-999').exists())
        # Simulate Ctrl-C in the middle of git am.
        gitcmd.git(['checkout', '-q', 'base'], tree)
        subprocess.run(['git', 'am', '--whitespace=nowarn',
                        str(self.tmp / 'nonexistent.patch')], cwd=tree,
                       capture_output=True)
        (tree / '.git/rebase-apply').mkdir(exist_ok=True)
        self.assertTrue(treemod.am_in_progress(tree))
        tree = treemod.prepare(None)
        self.assertFalse(treemod.am_in_progress(tree))
        self.assertIn('# x', (tree / 'mm/Kconfig').read_text())

    def test_incomplete_tree_is_unpacked_again(self):
        self.write_series([])
        tree = treemod.prepare(None)
        (tree / '.git' / 'kpatch-base').unlink()
        (tree / 'mm' / 'hugetlb.c').write_text('garbage')
        tree = treemod.prepare(None)
        self.assertEqual((tree / 'mm' / 'hugetlb.c').read_text(), HUGETLB)

    def test_kernel_src_errors(self):
        self.write_series([])
        with self.assertRaisesRegex(paths.SeriesError, 'no such directory'):
            treemod.prepare(str(self.tmp / 'nope'))
        plain = self.tmp / 'plain'
        plain.mkdir()
        with self.assertRaisesRegex(paths.SeriesError, 'is not a git tree'):
            treemod.prepare(str(plain))
        sh(['git', 'init', '-q'], plain)
        with self.assertRaisesRegex(paths.SeriesError, 'not a Linux kernel'):
            treemod.prepare(str(plain))

    def test_kernel_src_user_tree_untouched(self):
        n = self.add_patch('mm/hugetlb.c', HUGETLB.replace('line 2\n', 'L2\n'),
                           'mm: two')
        self.write_series([n])
        (self.author / 'mm/hugetlb.c').write_text(HUGETLB + 'local edit\n')
        before = gitcmd.git(['status', '--porcelain'], self.author)
        head = gitcmd.git(['rev-parse', 'HEAD'], self.author).strip()
        tree = treemod.prepare(str(self.author))
        self.assertNotEqual(tree, self.author)
        self.assertIn('L2', (tree / 'mm/hugetlb.c').read_text())
        self.assertEqual(gitcmd.git(['status', '--porcelain'], self.author),
                         before)
        self.assertEqual(gitcmd.git(['rev-parse', 'HEAD'], self.author)
                         .strip(), head)
        self.assertIn('local edit', (self.author / 'mm/hugetlb.c').read_text())

    def test_failed_kernel_src_leaves_user_repo_as_it_was(self):
        n = self.add_patch('mm/hugetlb.c', HUGETLB.replace('line 7\n', 'L7\n'),
                           'mm: seven')
        self.write_series([n])
        # The user's tree has moved on: the patch's context is gone.
        (self.author / 'mm/hugetlb.c').write_text(HUGETLB.replace(
            'line 6\n', 'other 6\n'))
        sh(['git', 'commit', '-q', '-am', 'user change'], self.author)

        def repo_state():
            return (gitcmd.git(['worktree', 'list', '--porcelain'],
                               self.author),
                    gitcmd.git(['for-each-ref'], self.author),
                    gitcmd.git(['status', '--porcelain'], self.author))
        before = repo_state()
        with self.assertRaises(paths.SeriesError) as cm:
            treemod.prepare(str(self.author))
        msg = str(cm.exception)
        self.assertIn(n, msg)
        self.assertIn('Hunk #1 FAILED', msg)
        # The fake tree has none of what the series builds on: named.
        self.assertIn('5f75cfbd6bb0', msg)
        self.assertEqual(repo_state(), before)
        self.assertEqual(list((self.tmp / 'work').glob('ksrc-*')), [])

    def test_base_line_says_when_the_base_differs(self):
        (self.patches / paths.BASE_RECORD).write_text(
            '# comment\n6.12.117-1~deb12u1\n')
        self.assertEqual(treemod.recorded_base(), '6.12.117-1~deb12u1')
        same = treemod.base_line('Debian linux-source-6.12 6.12.117-1~deb12u1')
        self.assertNotIn('generated on linux', same)
        other = treemod.base_line('Debian linux-source-6.12 6.12.118-1~deb12u1')
        self.assertIn('6.12.118-1~deb12u1', other)
        self.assertIn('generated on linux-source-6.12 6.12.117-1~deb12u1',
                      other)
        self.assertEqual(len(other.splitlines()), 1)

    def test_series_file_errors(self):
        (self.patches / 'series').write_text('missing.patch\n')
        with self.assertRaisesRegex(paths.SeriesError,
                                    'missing.patch: no such patch file'):
            paths.read_series(self.patches)


class GenerateTest(FakeKernel):
    def add_suite(self):
        d = self.kunit / 'demo'
        d.mkdir()
        (d / 'demo_kunit.c').write_text('// SPDX-License-Identifier: GPL-2.0'
                                        '\n/* demo */\n')
        (d / 'suite.toml').write_text('''
name = "demo"
config = "CONFIG_DEMO_KUNIT_TEST"
subject = "mm: add KUnit suite for demo"
body = """Prove demo works."""
patch = "0002-mm-add-KUnit-suite-for-demo.patch"
author = "T <t@example.invalid>"
[[files]]
src = "demo_kunit.c"
dest = "mm/demo_kunit.c"
[[edits]]
file = "mm/Kconfig"
after = "\\tbool"
text = """
config DEMO_KUNIT_TEST
\\tbool "demo test"
"""
[[edits]]
file = "mm/Makefile"
after = "obj-y += hugetlb.o"
text = "obj-$(CONFIG_DEMO_KUNIT_TEST) += demo_kunit.o"
''')

    def test_generate_then_in_sync_then_drift_detected(self):
        first = self.add_patch('mm/hugetlb.c',
                               HUGETLB.replace('line 9\n', 'L9\n'), 'mm: nine')
        first_new = '0001-mm-nine.patch'
        (self.patches / first).rename(self.patches / first_new)
        self.add_suite()
        self.write_series([first_new, '0002-mm-add-KUnit-suite-for-demo.patch'])
        # The generated patch does not exist yet: gen writes it.
        (self.patches / '0002-mm-add-KUnit-suite-for-demo.patch').write_text('')
        series.write_gen()
        gen = (self.patches / '0002-mm-add-KUnit-suite-for-demo.patch')
        text = gen.read_text()
        self.assertIn('+++ b/mm/demo_kunit.c', text)
        self.assertIn('+config DEMO_KUNIT_TEST', text)
        self.assertIn('Signed-off-by: T <t@example.invalid>', text)
        self.assertIn(f'[PATCH v{series.REVISION} 2/2]', text)
        # Index lines have a fixed width, whatever the object count of the
        # tree that generated them (a fresh clone must regenerate the same).
        self.assertRegex(text, r'(?m)^index 0{12}\.\.[0-9a-f]{12}$')
        self.assertTrue((self.patches / paths.COVER).exists())
        series.check_sync()
        tree = treemod.prepare(None)
        self.assertTrue((tree / 'mm/demo_kunit.c').exists())
        # Editing kunit/ without regenerating is drift.
        (self.kunit / 'demo/demo_kunit.c').write_text('// changed\n')
        with self.assertRaisesRegex(paths.SeriesError, 'out of sync'):
            series.check_sync()

    def test_changelog_below_dashes_kept_and_checked(self):
        """A patch file's changelog (below ---) survives gen; a suite's
        comes from its suite.toml, so editing it in the patch is drift."""
        first = self.add_patch('mm/hugetlb.c',
                               HUGETLB.replace('line 9\n', 'L9\n'), 'mm: nine')
        self.add_suite()
        toml = self.kunit / 'demo/suite.toml'
        toml.write_text(toml.read_text().replace(
            'author =', 'changelog = "v2: suite note"\nauthor =', 1))
        suite = '0002-mm-add-KUnit-suite-for-demo.patch'
        self.write_series([first, suite])
        (self.patches / suite).write_text('')
        series.write_gen()
        pfile = self.patches / first
        pfile.write_text(pfile.read_text().replace(
            '\n---\n', '\n---\nv2: the first note\n\n', 1))
        series.write_gen()
        text = pfile.read_text()
        self.assertIn('---\nv2: the first note\n\n mm/hugetlb.c', text)
        self.assertEqual(series.changelog_of(text), 'v2: the first note')
        self.assertIn('---\nv2: suite note\n\n',
                      (self.patches / suite).read_text())
        series.check_sync()
        sfile = self.patches / suite
        sfile.write_text(sfile.read_text().replace('suite note', 'other'))
        with self.assertRaisesRegex(paths.SeriesError, 'changelog'):
            series.check_sync()

    def test_offset_only_drift_is_in_sync(self):
        """A newer 6.12.y moves hunks: same content, other bytes."""
        first = self.add_patch('mm/hugetlb.c',
                               HUGETLB.replace('line 30\n', 'L30\n'),
                               'mm: thirty')
        self.add_suite()
        suite = '0002-mm-add-KUnit-suite-for-demo.patch'
        self.write_series([first, suite])
        (self.patches / suite).write_text('')
        series.write_gen()
        self.assertIn('6.12.117-1~deb12u1',
                      (self.patches / paths.BASE_RECORD).read_text())
        committed = {p.name: p.read_text() for p in self.patches.iterdir()}
        # The next Debian upload adds lines above the hunks (outside their
        # context).
        self.new_base('6.12.118-1~deb12u1', {
            'mm/hugetlb.c': 'new 0\n' * 5 + HUGETLB,
            'mm/Kconfig': '# new\n' + KCONFIG})
        with tempfile.TemporaryDirectory() as td:
            series.generate(Path(td))
            regenerated = (Path(td) / first).read_text()
        self.assertNotEqual(regenerated, committed[first])  # offsets moved
        series.check_sync()  # ... and that is not drift
        self.assertEqual({p.name: p.read_text()
                          for p in self.patches.iterdir()}, committed)

    def test_one_character_in_kunit_is_drift_naming_the_patch(self):
        self.add_suite()
        suite = '0002-mm-add-KUnit-suite-for-demo.patch'
        self.write_series([suite])
        (self.patches / suite).write_text('')
        series.write_gen()
        suite = next(p.name for p in self.patches.glob('0001-*'))
        series.check_sync()
        src = self.kunit / 'demo/demo_kunit.c'
        src.write_text(src.read_text().replace('/* demo */', '/* demo  */'))
        with self.assertRaisesRegex(paths.SeriesError,
                                    f'{suite}: the change differs'):
            series.check_sync()
        src.write_text(src.read_text().replace('/* demo  */', '/* demo */'))
        toml = self.kunit / 'demo/suite.toml'
        toml.write_text(toml.read_text().replace('obj-$(CONFIG_DEMO',
                                                 'obj-y$(CONFIG_DEMO'))
        with self.assertRaisesRegex(paths.SeriesError,
                                    f'{suite}: the change differs'):
            series.check_sync()

    def new_base(self, version, files):
        """Replace the fake Debian tarball with another version."""
        src = self.tmp / 'src2' / 'linux-source-6.12'
        src.parent.mkdir(parents=True)
        sh(['cp', '-r', str(self.tmp / 'src' / 'linux-source-6.12'),
            str(src.parent)], self.tmp)
        for path, text in files.items():
            (src / path).write_text(text)
        with tarfile.open(self.tarball, 'w:xz') as tf:
            tf.add(src, arcname='linux-source-6.12')
        p = mock.patch.object(treemod, 'debian_version', return_value=version)
        p.start()
        self.addCleanup(p.stop)

    def test_bad_anchor_is_named(self):
        self.add_suite()
        toml = self.kunit / 'demo/suite.toml'
        toml.write_text(toml.read_text().replace('obj-y += hugetlb.o',
                                                 'obj-y += nothere.o'))
        (self.patches / '0002-mm-add-KUnit-suite-for-demo.patch').write_text('')
        self.write_series(['0002-mm-add-KUnit-suite-for-demo.patch'])
        with self.assertRaisesRegex(paths.SeriesError,
                                    "anchor line 'obj-y \\+= nothere.o' found "
                                    '0 times in mm/Makefile'):
            series.write_gen()


if __name__ == '__main__':
    unittest.main()
