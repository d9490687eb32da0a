#!/usr/bin/python3
# guide_runner.py: runs one Python block of pyicloud's async guide (given as
# a file, its import line already switched to icloud_glib.pyicloud) the
# way a user would, against the fake server of test_guide.py.
#
# The test hooks, all from the environment:
#   ICLOUD_ENDPOINT_BASE  the fake server (icloud_glib's documented hook)
#   GUIDE_APPLE_ID        whose code input() "reads" from the fake server's
#                         control API (/_mock/code), where the guide asks the user
#   GUIDE_CODE_TARGET     the trusted device the 2SA code was sent to
#   GUIDE_DEVICE_CHOICE   the answer to "Select a device: "
#   GUIDE_COOKIE_REMAP    FROM=TO: the guide's cookie_directory '/path/to/cookies'
#                         is created under a temporary directory instead
#
# A block that is a fragment (no asyncio.run, like "China Mainland") runs
# inside `async def main()` with asyncio.run(main()).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import builtins
import json
import os
import sys
import textwrap
import urllib.parse
import urllib.request


def read_code() -> str:
    query = {'apple_id': os.environ['GUIDE_APPLE_ID']}
    if os.environ.get('GUIDE_CODE_TARGET'):
        query['target'] = os.environ['GUIDE_CODE_TARGET']
    url = '%s/_mock/code?%s' % (os.environ['ICLOUD_ENDPOINT_BASE'], urllib.parse.urlencode(query))
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())['code']


def fake_input(prompt: str = '') -> str:
    # Not echoed: the guide prints what it wants the user to see.
    if 'Select a device' in prompt:
        return os.environ.get('GUIDE_DEVICE_CHOICE', '0')
    if 'code' in prompt.lower():
        return read_code()
    raise AssertionError('unexpected input() prompt: %r' % prompt)


def remap_cookie_directory() -> None:
    remap = os.environ.get('GUIDE_COOKIE_REMAP')
    if not remap:
        return
    old, new = remap.split('=', 1)
    from icloud_glib import session
    creation = session.Session._creation.__func__

    def _creation(cls, context, apple_id, password, endpoint_base, region, cookie_directory,
                  properties):
        if cookie_directory is not None and cookie_directory.startswith(old):
            cookie_directory = new + cookie_directory[len(old):]
        return creation(cls, context, apple_id, password, endpoint_base, region,
                        cookie_directory, properties)
    session.Session._creation = classmethod(_creation)


def main() -> None:
    with open(sys.argv[1], encoding='utf-8') as f:
        code = f.read()
    if 'asyncio.run(' not in code and 'await ' in code:
        imports = [line for line in code.splitlines() if line.startswith(('from ', 'import '))]
        body = [line for line in code.splitlines() if not line.startswith(('from ', 'import '))]
        code = '\n'.join(['import asyncio'] + imports +
                         ['', 'async def main():', textwrap.indent('\n'.join(body), '    '),
                          '', 'asyncio.run(main())', ''])
    builtins.input = fake_input
    remap_cookie_directory()
    exec(compile(code, sys.argv[1], 'exec'), {'__name__': '__main__'})


if __name__ == '__main__':
    main()
