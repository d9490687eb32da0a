#!/usr/bin/python3
# test_guide.py: every Python block of pyicloud's async guide
# (data/pyicloud-async-guide.md, timlaing/pyicloud's ASYNC_API.md) runs
# unchanged on icloud_glib.pyicloud, with only its import line switched,
# against the fake server; each test asserts what the block prints and
# what the fake server saw.
#
# Each block runs in a fresh /usr/bin/python3 (guide_runner.py) with its
# own fake server, whose accounts are the guide's Apple IDs and passwords,
# and its own $XDG_STATE_HOME. The server is given through the documented
# hook ICLOUD_ENDPOINT_BASE; where the guide calls input(), the runner reads
# the code from the fake server's control API (see guide_runner.py).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from icloudtest import ICloudMock

HERE = os.path.dirname(os.path.abspath(__file__))
GUIDE = os.path.join(HERE, 'data', 'pyicloud-async-guide.md')
RUNNER = os.path.join(HERE, 'guide_runner.py')

SRP_INIT = '/appleauth/auth/signin/init'
ACCOUNT_LOGIN = '/setup/ws/1/accountLogin'

IMPORTS = {
    'from pyicloud import ': 'from icloud_glib.pyicloud import ',
    'from pyicloud.exceptions import': 'from icloud_glib.pyicloud.exceptions import',
}
IMPORT_SERVICE = 'from icloud_glib.pyicloud import AsyncPyiCloudService'


def guide_blocks():
    """(heading, code) of every ```python block, in order."""
    blocks, heading, code = [], None, None
    with open(GUIDE, encoding='utf-8') as f:
        for line in f:
            if code is not None:
                if line.startswith('```'):
                    blocks.append((heading, ''.join(code)))
                    code = None
                else:
                    code.append(line)
            elif line.startswith('```python'):
                code = []
            elif line.startswith('#'):
                heading = line.strip('# \n')
            elif re.match(r'\*\*.*\*\*$', line.strip()):
                heading = line.strip().strip('*').rstrip(':')
    return blocks


def switch_import(code):
    """The block with pyicloud's import line switched (or added, for fragments)."""
    lines = code.splitlines(keepends=True)
    for i, line in enumerate(lines):
        for old, new in IMPORTS.items():
            if line.startswith(old):
                lines[i] = new + line[len(old):]
    switched = ''.join(lines)
    if 'AsyncPyiCloudService' in code and 'import AsyncPyiCloudService' not in code:
        switched = IMPORT_SERVICE + '\n' + switched
    return switched


def session_file(apple_id):
    """The session file's name, as the library's store makes it."""
    stem = ''.join(c for c in apple_id if c.isalnum())
    digest = hashlib.sha256(apple_id.casefold().encode()).hexdigest()[:16]
    return '%s-%s.session.json' % (stem, digest)


def account(apple_id, password, factor='none', **extra):
    entry = {'apple_id': apple_id, 'password': password, 'protocol': 's2k',
             'iterations': 1000, 'factor': factor}
    entry.update(extra)
    return entry


JAPPLESEED = 'jappleseed@apple.com'
DEVICES = [{'deviceType': 'SMS', 'areaCode': '', 'phoneNumber': '*******58', 'deviceId': '1'},
           {'deviceType': 'SMS', 'areaCode': '', 'phoneNumber': '*******12', 'deviceId': '2'}]
PHONES = [{'id': 1, 'number': '+1 (•••) •••-••58', 'push_mode': 'sms'}]


class GuideTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.blocks = dict(guide_blocks())

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='icloud-guide-')
        self.addCleanup(shutil.rmtree, self.dir, True)

    def run_block(self, heading, accounts, region=None, **env):
        """Runs the block under `heading`; returns (stdout, server)."""
        self.assertIn(heading, self.blocks, 'the guide has no Python block under %r' % heading)
        original = self.blocks[heading]
        code = switch_import(original)
        # Only import lines differ.
        changed = set(code.splitlines()) ^ set(original.splitlines())
        self.assertTrue(all(line.startswith('from ') for line in changed), changed)
        self.assertIn('icloud_glib.pyicloud', code)

        server = ICloudMock.Server.new()
        server.load_accounts_from_data(json.dumps({'accounts': accounts}), -1)
        if region:
            server.set_region(region)
        server.start()
        self.addCleanup(server.stop)
        path = os.path.join(self.dir, 'block.py')
        with open(path, 'w', encoding='utf-8') as f:
            f.write(code)
        environ = dict(os.environ, ICLOUD_ENDPOINT_BASE=server.get_base_uri(),
                       XDG_STATE_HOME=os.path.join(self.dir, 'state'), **env)
        done = subprocess.run([sys.executable, RUNNER, path], env=environ, timeout=60,
                              capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, 'the block failed:\n' + done.stderr)
        self.assertNotIn('Traceback', done.stderr)
        return done.stdout, server

    def test_all_blocks_covered(self):
        # One test per block below: a block added to the guide fails here.
        self.assertEqual(len(guide_blocks()), 12)

    def test_factory_method(self):
        out, server = self.run_block('Using the Factory Method',
                                     [account(JAPPLESEED, 'password')])
        self.assertEqual(out, 'Logged in as: %s\nRequires 2FA: False\n' % JAPPLESEED)
        self.assertEqual(server.count_requests(JAPPLESEED, SRP_INIT), 1)

    def test_context_manager(self):
        out, server = self.run_block('Using Context Manager (Recommended)',
                                     [account(JAPPLESEED, 'password')])
        self.assertEqual(out, 'Logged in as: %s\n' % JAPPLESEED)

    def test_two_factor(self):
        out, server = self.run_block('Two-Factor Authentication (2FA)',
                                     [account(JAPPLESEED, 'password', 'hsa2', phones=PHONES)],
                                     GUIDE_APPLE_ID=JAPPLESEED)
        # create() pushed the code (pyicloud >= 2.6.1), validate trusted the session:
        # "Session is not trusted..." is not printed.
        self.assertEqual(out, 'Two-factor authentication required.\nCode validation result: True\n')
        self.assertEqual(server.count_codes_sent(JAPPLESEED, None), 1)

    def test_two_step(self):
        out, server = self.run_block('Two-Step Authentication (2SA)',
                                     [account(JAPPLESEED, 'password', 'hsa', devices=DEVICES)],
                                     GUIDE_APPLE_ID=JAPPLESEED, GUIDE_CODE_TARGET='1',
                                     GUIDE_DEVICE_CHOICE='0')
        self.assertEqual(out, 'Two-step authentication required.\nTrusted devices:\n'
                              '  0: Unknown\n  1: Unknown\nVerification successful!\n')
        self.assertEqual(server.count_codes_sent(JAPPLESEED, '1'), 1)
        self.assertEqual(server.count_codes_sent(JAPPLESEED, '2'), 0)

    def test_china_mainland(self):
        out, server = self.run_block('China Mainland',
                                     [account(JAPPLESEED, 'password', region='china-mainland')],
                                     region='china-mainland')
        self.assertEqual(out, '')
        self.assertEqual(server.count_requests(JAPPLESEED, ACCOUNT_LOGIN), 1)

    def test_cookie_directory(self):
        cookies = os.path.join(self.dir, 'path-to-cookies')
        out, server = self.run_block('Custom Cookie Directory', [account(JAPPLESEED, 'password')],
                                     GUIDE_COOKIE_REMAP='/path/to/cookies=' + cookies)
        self.assertEqual(out, '')
        self.assertEqual(os.listdir(cookies).count(session_file(JAPPLESEED)), 1,
                         os.listdir(cookies))
        self.assertFalse(os.path.exists(os.path.join(self.dir, 'state', 'icloud-glib')))

    def test_force_reauthentication(self):
        out, server = self.run_block('Force Reauthentication', [account(JAPPLESEED, 'password')])
        self.assertEqual(out, '')
        # The password once; force_refresh signs in again with the token.
        self.assertEqual(server.count_requests(JAPPLESEED, SRP_INIT), 1)
        self.assertEqual(server.count_requests(JAPPLESEED, ACCOUNT_LOGIN), 2)

    def test_backward_compatibility(self):
        out, server = self.run_block('Backward Compatibility', [account(JAPPLESEED, 'password')])
        self.assertEqual(out, '')
        self.assertEqual(server.count_requests(JAPPLESEED, SRP_INIT), 1)
        self.assertEqual(server.count_requests(JAPPLESEED, ACCOUNT_LOGIN), 1)

    def test_multiple_accounts(self):
        accounts = [account('user%d@example.com' % i, 'password%d' % i) for i in (1, 2, 3)]
        out, server = self.run_block('Example: Multiple Accounts', accounts)
        self.assertEqual(out, ''.join("{'email': 'user%d@example.com', 'requires_2fa': False, "
                                      "'is_trusted': True}\n" % i for i in (1, 2, 3)))

    def test_migration_before(self):
        out, server = self.run_block('Before (Sync)',
                                     [account('user@example.com', 'password', 'hsa',
                                              devices=DEVICES)])
        self.assertEqual(out, '')
        self.assertEqual(server.count_codes_sent('user@example.com', '1'), 1)

    def test_migration_after(self):
        out, server = self.run_block('After (Async)',
                                     [account('user@example.com', 'password', 'hsa',
                                              devices=DEVICES)])
        self.assertEqual(out, '')
        self.assertEqual(server.count_codes_sent('user@example.com', '1'), 1)

    def test_error_handling(self):
        out, server = self.run_block('Error Handling',
                                     [account('user@example.com', 'password')])
        self.assertEqual(out, 'Failed to log in - check your credentials\n')
        self.assertEqual(server.count_requests('user@example.com', ACCOUNT_LOGIN), 0)


if __name__ == '__main__':
    unittest.main(verbosity=2)
