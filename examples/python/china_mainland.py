#!/usr/bin/python3
# china_mainland.py: an Apple ID of China mainland.
#
# pyicloud's async guide:
#
#     api = await AsyncPyiCloudService.create(id, pw, china_mainland=True)
#
# Here: region='china-mainland' (the china-mainland plugin: Apple's
# setup.icloud.com.cn and www.icloud.com.cn). Without it, a China mainland
# account fails with ICloud.Error.WRONG_REGION, naming the right region.
#
# The fake server runs in routed mode (TLS, Apple's host names); the
# session reaches it through fake.soup_session, which connects every host
# name to 127.0.0.1 and trusts only the test certificate. With Apple, leave
# out soup_session.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

from urllib.parse import urlsplit

from icloudexample import FakeICloud, check, closing, gio_call, run, GLib, ICloud

APPLE_ID = 'china@example.com'
fake = FakeICloud(routed=True)


async def main():
    # Forgetting the region.
    wrong = ICloud.Session(apple_id=APPLE_ID, password='china mainland',
                           soup_session=fake.soup_session)
    try:
        await gio_call(wrong, 'init', GLib.PRIORITY_DEFAULT)
        check(False, 'signed in through the global hosts')
    except GLib.Error as error:
        check(error.matches(ICloud.error_quark(), ICloud.Error.WRONG_REGION), error.message)
        check('china-mainland' in error.message, 'the message names the region')
        print(f'Without the region: {error.message}')

    api = ICloud.Session(apple_id=APPLE_ID, password='china mainland',
                         region='china-mainland',          # china_mainland=True
                         soup_session=fake.soup_session)
    await gio_call(api, 'init', GLib.PRIORITY_DEFAULT)
    async with closing(api):
        check(api.props.state == ICloud.AuthState.AUTHENTICATED, 'signed in')
        check(api.props.region == 'china-mainland', 'region')
        host = urlsplit(api.get_endpoint().get_setup_uri()).hostname
        print(f'Signed in through {host}')
        check(host.endswith('.icloud.com.cn'), 'China mainland setup host')
        check(fake.count_requests(APPLE_ID, '/setup/ws/1/accountLogin') > 0, 'accountLogin')


run(main())
