# errors.py: the library's GErrors as Python exceptions.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exceptions of :mod:`icloud_glib`.

Every failure of the library is an :class:`ICloudError`. The subclass names
the cause (one per ``ICloud.Error`` code), ``code`` is the ``ICloud.Error``
value, and the ``GLib.Error`` the library returned is kept as
``__cause__`` (and as ``glib_error``). Failures of the network
(``G_IO_ERROR``, ``G_RESOLVER_ERROR``, ``G_TLS_ERROR``) are
:class:`NetworkError`, except ``G_IO_ERROR_PENDING`` (:class:`PendingError`),
``G_IO_ERROR_INVALID_ARGUMENT`` (:class:`InvalidArgumentError`) and
``G_IO_ERROR_CANCELLED`` (:class:`CancelledError`). Cancelling an awaiting asyncio task raises
``asyncio.CancelledError`` as usual.

PyGObject's ``GLib.Error.matches(ICloud.Error, code)`` silently returns
False; test ``error.matches(ICloud.error_quark(), code)`` on the
``GLib.Error``, or simply the Python class.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('ICloud', '1')

from gi.repository import GLib, Gio, ICloud  # noqa: E402

__all__ = [
    'ICloudError', 'FailedLoginError', 'InvalidCodeError', 'TwoFactorRequiredError',
    'TwoStepRequiredError', 'SecurityKeyRequiredError', 'AccountLockedError',
    'RepairRequiredError', 'ThrottledError', 'AuthRequiredError',
    'ServiceNotActivatedError', 'WrongRegionError', 'NotAuthenticatedError',
    'ProtocolError', 'NoPluginError', 'StorageError', 'ClosedError',
    'CancelledError', 'NetworkError', 'InvalidEndpointError', 'InvalidArgumentError',
    'PendingError', 'from_glib_error',
]


class ICloudError(Exception):
    """The base of every error of icloud_glib.

    Attributes:
        message: the library's message (never holds a password or a token).
        code: the ``ICloud.Error`` code, or None for errors of other domains.
        glib_error: the ``GLib.Error`` (also ``__cause__``), or None.
        retry_after: seconds Apple asked to wait (THROTTLED), else 0.
    """

    def __init__(self, message: str, *, code: Optional[ICloud.Error] = None,
                 glib_error: Optional[GLib.Error] = None, retry_after: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.glib_error = glib_error
        self.retry_after = retry_after


class FailedLoginError(ICloudError):
    """Apple said the Apple ID or the password is wrong (``FAILED_LOGIN``)."""


class InvalidCodeError(ICloudError):
    """The verification code was wrong (``INVALID_CODE``); try again."""


class TwoFactorRequiredError(ICloudError):
    """The call needs a signed-in session; a 2FA code is pending (``TWO_FACTOR_REQUIRED``)."""


class TwoStepRequiredError(ICloudError):
    """The call needs a signed-in session; a 2SA code is pending (``TWO_STEP_REQUIRED``)."""


class SecurityKeyRequiredError(ICloudError):
    """The account is protected by security keys (``SECURITY_KEY_REQUIRED``)."""


class AccountLockedError(ICloudError):
    """Apple locked the account (``ACCOUNT_LOCKED``)."""


class RepairRequiredError(ICloudError):
    """The account needs repair or new terms accepted on icloud.com (``REPAIR_REQUIRED``)."""


class ThrottledError(ICloudError):
    """Apple refuses to serve for now (``THROTTLED``); see ``retry_after``."""


class AuthRequiredError(ICloudError):
    """The saved session is not accepted and no password was given (``AUTH_REQUIRED``)."""


class ServiceNotActivatedError(ICloudError):
    """iCloud is not set up for this account on the web (``SERVICE_NOT_ACTIVATED``)."""


class WrongRegionError(ICloudError):
    """The account belongs to another region (``WRONG_REGION``)."""


class NotAuthenticatedError(ICloudError):
    """The call does not fit the session's state (``NOT_AUTHENTICATED``)."""


class ProtocolError(ICloudError):
    """The server sent an answer the library cannot read (``PROTOCOL``)."""


class NoPluginError(ICloudError):
    """No plugin provides the auth method or the region (``NO_PLUGIN``)."""


class StorageError(ICloudError):
    """The session directory cannot be used, or the account is in use (``STORAGE``)."""


class ClosedError(ICloudError):
    """The session was closed (``CLOSED``)."""


class CancelledError(ICloudError):
    """The operation was cancelled by something else than its asyncio task."""


class NetworkError(ICloudError):
    """The server could not be reached (``G_IO_ERROR``, ``G_RESOLVER_ERROR``, ``G_TLS_ERROR``)."""


class InvalidArgumentError(ICloudError, ValueError):
    """An argument the library refuses, such as text that is not UTF-8
    (``G_IO_ERROR_INVALID_ARGUMENT``)."""


class PendingError(ICloudError):
    """Another operation of the session is running: one at a time
    (``G_IO_ERROR_PENDING``)."""


class InvalidEndpointError(ICloudError, ValueError):
    """The endpoint cannot be used: not a URI, or plain http to a host that is not loopback."""


_BY_CODE: Dict[int, Type[ICloudError]] = {
    int(ICloud.Error.FAILED_LOGIN): FailedLoginError,
    int(ICloud.Error.INVALID_CODE): InvalidCodeError,
    int(ICloud.Error.TWO_FACTOR_REQUIRED): TwoFactorRequiredError,
    int(ICloud.Error.TWO_STEP_REQUIRED): TwoStepRequiredError,
    int(ICloud.Error.SECURITY_KEY_REQUIRED): SecurityKeyRequiredError,
    int(ICloud.Error.ACCOUNT_LOCKED): AccountLockedError,
    int(ICloud.Error.REPAIR_REQUIRED): RepairRequiredError,
    int(ICloud.Error.THROTTLED): ThrottledError,
    int(ICloud.Error.AUTH_REQUIRED): AuthRequiredError,
    int(ICloud.Error.SERVICE_NOT_ACTIVATED): ServiceNotActivatedError,
    int(ICloud.Error.WRONG_REGION): WrongRegionError,
    int(ICloud.Error.NOT_AUTHENTICATED): NotAuthenticatedError,
    int(ICloud.Error.PROTOCOL): ProtocolError,
    int(ICloud.Error.NO_PLUGIN): NoPluginError,
    int(ICloud.Error.STORAGE): StorageError,
    int(ICloud.Error.CLOSED): ClosedError,
}


def from_glib_error(error: GLib.Error, retry_after: int = 0) -> ICloudError:
    """The :class:`ICloudError` for a ``GLib.Error``, with it as ``__cause__``."""
    code: Optional[ICloud.Error] = None
    cls: Type[ICloudError]
    if error.matches(ICloud.error_quark(), error.code):
        cls = _BY_CODE.get(error.code, ICloudError)
        try:
            code = ICloud.Error(error.code)
        except ValueError:
            code = None
    elif error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
        cls = CancelledError
    elif error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.PENDING):
        cls = PendingError
    elif error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.INVALID_ARGUMENT):
        cls = InvalidArgumentError
    else:
        cls = NetworkError
    exception = cls(error.message, code=code, glib_error=error,
                    retry_after=retry_after if cls is ThrottledError else 0)
    exception.__cause__ = error
    return exception
