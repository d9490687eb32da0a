#!/usr/bin/python3
# test_install.py: icloud_glib works from an install prefix, not only from
# the build tree. `meson install --no-rebuild --destdir TMP` installs the
# build into a temporary directory; then the 2FA block of pyicloud's async
# guide runs in a fresh /usr/bin/python3 that sees only that prefix, as a
# user of it would: PYTHONPATH, GI_TYPELIB_PATH, LD_LIBRARY_PATH and
# ICLOUD_PLUGIN_PATH point into TMP and nowhere else.
#
# The fake server is NOT taken from the prefix: ICloudMock may not be
# installed yet, so this test process starts it from the build tree's
# ICloudMock-0 typelib (as every python test does). The block's process
# does not load ICloudMock at all (the guide runner reads the 2FA code over
# the fake server's HTTP control API): the icloud_glib package, the ICloud-1
# typelib, libicloud-glib and its plugins all come from the prefix, which
# the block's process checks and prints.
#
# Arguments: the build directory. Environment (tests/python/meson.build):
# ICLOUD_INSTALL_PREFIX, _LIBDIR, _PYTHONDIR, _TYPELIBDIR, _PLUGINDIR, and
# ICLOUD_MESON (the meson that configured the build).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from icloudtest import ICloudMock

import test_guide

BUILD_DIR = sys.argv.pop(1) if len(sys.argv) > 1 and os.path.isdir(sys.argv[1]) else None

WHERE_FROM = r'''
import sys
import gi
gi.require_version('GIRepository', '2.0')
from gi.repository import GIRepository
import icloud_glib
from icloud_glib.pyicloud import AsyncPyiCloudService
from gi.repository import ICloud
ICloud.Session(apple_id='nobody@example.com')   # loads the library
with open('/proc/self/maps') as f:
    libs = sorted({l.split()[-1] for l in f if 'libicloud-glib' in l})
print(icloud_glib.__file__)
print(GIRepository.Repository.get_default().get_typelib_path('ICloud'))
print(libs[0] if len(libs) == 1 else libs)
print('ICloudMock' in sys.modules or 'gi.repository.ICloudMock' in sys.modules)
'''


class InstallTest(unittest.TestCase):

    def setUp(self):
        if BUILD_DIR is None:
            self.skipTest('give the build directory as the first argument')
        self.destdir = tempfile.mkdtemp(prefix='icloud-install-')
        self.addCleanup(shutil.rmtree, self.destdir, True)

    def staged(self, variable):
        path = os.environ['ICLOUD_INSTALL_' + variable]
        return os.path.join(self.destdir, path.lstrip('/'))

    def test_two_factor_block_from_the_prefix(self):
        installed = subprocess.run([os.environ.get('ICLOUD_MESON', 'meson'), 'install', '--no-rebuild', '--quiet',
                                    '-C', BUILD_DIR, '--destdir', self.destdir],
                                   capture_output=True, text=True, timeout=120)
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)
        python_dir = self.staged('PYTHONDIR')
        self.assertTrue(os.path.isfile(os.path.join(python_dir, 'icloud_glib', 'pyicloud',
                                                    'base.py')))

        # A user of the prefix: nothing of the build or source tree.
        env = {k: v for k, v in os.environ.items()
               if k not in ('PYTHONPATH', 'GI_TYPELIB_PATH', 'LD_LIBRARY_PATH',
                            'ICLOUD_PLUGIN_PATH')}
        env.update(PYTHONPATH=python_dir, GI_TYPELIB_PATH=self.staged('TYPELIBDIR'),
                   LD_LIBRARY_PATH=self.staged('LIBDIR'),
                   ICLOUD_PLUGIN_PATH=self.staged('PLUGINDIR'),
                   XDG_STATE_HOME=os.path.join(self.destdir, 'state'))

        where = subprocess.run([sys.executable, '-c', WHERE_FROM], env=env, cwd=self.destdir,
                               capture_output=True, text=True, timeout=60)
        self.assertEqual(where.returncode, 0, where.stderr)
        package, typelib, library, mock_loaded = where.stdout.splitlines()
        for path in (package, typelib, library):
            self.assertTrue(path.startswith(self.destdir + '/'), path)
        self.assertEqual(mock_loaded, 'False')

        # The guide's 2FA block, from the prefix.
        original = dict(test_guide.guide_blocks())['Two-Factor Authentication (2FA)']
        block = os.path.join(self.destdir, 'two_factor.py')
        with open(block, 'w', encoding='utf-8') as f:
            f.write(test_guide.switch_import(original))
        server = ICloudMock.Server.new()
        server.load_accounts_from_data(json.dumps({'accounts': [test_guide.account(
            test_guide.JAPPLESEED, 'password', 'hsa2', phones=test_guide.PHONES)]}), -1)
        server.start()
        self.addCleanup(server.stop)
        env.update(ICLOUD_ENDPOINT_BASE=server.get_base_uri(),
                   GUIDE_APPLE_ID=test_guide.JAPPLESEED)
        done = subprocess.run([sys.executable, test_guide.RUNNER, block], env=env,
                              cwd=self.destdir, capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout,
                         'Two-factor authentication required.\nCode validation result: True\n')
        self.assertEqual(server.count_codes_sent(test_guide.JAPPLESEED, None), 1)


if __name__ == '__main__':
    unittest.main(verbosity=2)
