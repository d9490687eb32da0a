# icloud_glib: libicloud-glib for asyncio programs.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""libicloud-glib (the ``ICloud-1`` typelib) for asyncio programs.

:class:`Session` makes every operation of ``ICloud.Session`` a coroutine
that works from a plain ``asyncio.run()`` loop, from PyGObject's
GLib-backed loop (``gi.events``, PyGObject >= 3.50) and so from a GTK
application; cancelling the task cancels the operation. Failures are
:class:`ICloudError` subclasses (:mod:`icloud_glib.errors`).

:mod:`icloud_glib.pyicloud` offers pyicloud's names on top of it.

    import asyncio
    import icloud_glib

    async def main():
        async with await icloud_glib.Session.create('me@example.com', password) as session:
            print(session.state, session.account_name)

    asyncio.run(main())
"""

from .errors import (AccountLockedError, AuthRequiredError, CancelledError, ClosedError,
                     FailedLoginError, ICloudError, InvalidArgumentError, InvalidCodeError,
                     InvalidEndpointError, NetworkError, NoPluginError, NotAuthenticatedError,
                     PendingError, ProtocolError,
                     RepairRequiredError, SecurityKeyRequiredError, ServiceNotActivatedError,
                     StorageError, ThrottledError, TwoFactorRequiredError, TwoStepRequiredError,
                     WrongRegionError)
from .session import ENDPOINT_BASE_VARIABLE, Session, SessionState, TrustedPhone

__all__ = [
    'Session', 'SessionState', 'TrustedPhone', 'ENDPOINT_BASE_VARIABLE',
    'ICloudError', 'FailedLoginError', 'InvalidCodeError', 'TwoFactorRequiredError',
    'TwoStepRequiredError', 'SecurityKeyRequiredError', 'AccountLockedError',
    'RepairRequiredError', 'ThrottledError', 'AuthRequiredError', 'ServiceNotActivatedError',
    'WrongRegionError', 'NotAuthenticatedError', 'ProtocolError', 'NoPluginError',
    'StorageError', 'ClosedError', 'CancelledError', 'NetworkError', 'InvalidEndpointError',
    'InvalidArgumentError', 'PendingError',
]
