# fakeicloud.py: the fake iCloud server the Python examples sign in to, and
# check(). Not something to copy into an application: the examples' sessions
# use the icloud_glib package (python/icloud_glib), and an application
# leaves out endpoint_base and talks to Apple.
#
# - FakeICloud: the fake iCloud server (ICloudMock-0), started in this
#   process with the accounts of data/accounts.json, on one origin
#   (http://127.0.0.1:PORT, its `base_uri`, given to the sessions as
#   endpoint_base=). A China mainland server with region='china-mainland'.
# - check(): the example fails (exit status 1, through an uncaught
#   exception) when a check does not hold.
# - A private $XDG_STATE_HOME, so that the default session directory,
#   $XDG_STATE_HOME/icloud-glib, belongs to this run only.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import atexit
import os
import shutil
import tempfile

_STATE = tempfile.mkdtemp(prefix='icloud-example-')
os.environ['XDG_STATE_HOME'] = _STATE
atexit.register(shutil.rmtree, _STATE, True)

import gi  # noqa: E402

gi.require_version('ICloudMock', '0')

from gi.repository import ICloudMock  # noqa: E402


class CheckFailed(Exception):
    pass


def check(condition, what='check failed'):
    """Fails the example (exit status 1) when condition does not hold."""
    if not condition:
        raise CheckFailed(what)


class FakeICloud:
    """The fake iCloud server, with the accounts of data/accounts.json."""

    def __init__(self, region='global'):
        accounts = os.environ.get('ICLOUD_MOCK_ACCOUNTS')
        check(accounts is not None,
              'set ICLOUD_MOCK_ACCOUNTS to data/accounts.json (meson test and meson devenv do)')
        self.server = ICloudMock.Server.new()
        self.server.load_accounts(accounts)
        self.server.set_region(region)
        self.server.start()
        atexit.register(self.server.stop)
        self.base_uri = self.server.get_base_uri()

    def last_code(self, apple_id, target_id=None):
        """The code the server "sent": what the user would type."""
        return self.server.dup_last_code(apple_id, target_id)

    def count_requests(self, apple_id, path):
        return self.server.count_requests(apple_id, path)

    def count_codes_sent(self, apple_id, target_id=None):
        return self.server.count_codes_sent(apple_id, target_id)
