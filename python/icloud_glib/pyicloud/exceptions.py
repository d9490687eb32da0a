# icloud_glib.pyicloud.exceptions: pyicloud's exception names.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pyicloud's exceptions, raised by :mod:`icloud_glib.pyicloud`.

The names and constructors are pyicloud's (``pyicloud.exceptions``). Each
is raised for the library's error codes listed below; the library's
exception (:mod:`icloud_glib.errors`) is kept as ``icloud_error``, its
``ICloud.Error`` code as ``icloud_code``, and the ``GLib.Error`` as
``__cause__``.

=====================================================  ==========================================
``ICloud.Error`` (``icloud_glib`` exception)            raised as
=====================================================  ==========================================
``FAILED_LOGIN`` (FailedLoginError)                    PyiCloudFailedLoginException
``INVALID_CODE`` (InvalidCodeError)                    ``False`` from the ``validate_*`` methods;
                                                       elsewhere PyiCloudAPIResponseException
``TWO_FACTOR_REQUIRED``, ``SECURITY_KEY_REQUIRED``,    PyiCloud2FARequiredException
``NOT_AUTHENTICATED`` while a 2FA code is pending
``TWO_STEP_REQUIRED``, ``NOT_AUTHENTICATED`` while     PyiCloud2SARequiredException
a 2SA code is pending
``AUTH_REQUIRED`` without a password                   PyiCloudNoStoredPasswordAvailableException
``AUTH_REQUIRED`` with a password                      PyiCloudAuthRequiredException
``REPAIR_REQUIRED``                                    PyiCloudAcceptTermsException
``SERVICE_NOT_ACTIVATED``                              PyiCloudServiceNotActivatedException
``THROTTLED``                                          PyiCloudAPIResponseException (code 503;
                                                       ``retry_after``)
``ACCOUNT_LOCKED``, ``WRONG_REGION``, ``PROTOCOL``,    PyiCloudAPIResponseException (code: the
other ``NOT_AUTHENTICATED``, network errors            error's nick, e.g. ``"account-locked"``)
``NO_PLUGIN``, ``STORAGE``, ``CLOSED``, a bad          PyiCloudException
endpoint, PendingError, InvalidArgumentError
=====================================================  ==========================================

``trust_session()`` returns ``False`` instead of raising, as pyicloud's
does. Cancellation is ``asyncio.CancelledError``, never one of these.
"""

from __future__ import annotations

from typing import Any, Optional

import gi

gi.require_version('ICloud', '1')

from gi.repository import ICloud  # noqa: E402

from .. import errors as _errors  # noqa: E402

__all__ = [
    'PyiCloudException', 'PyiCloudAPIResponseException', 'PyiCloudServiceNotActivatedException',
    'PyiCloudServiceUnavailable', 'PyiCloudFailedLoginException', 'PyiCloudPasswordException',
    'PyiCloud2SARequiredException', 'PyiCloud2FARequiredException',
    'PyiCloudAuthRequiredException', 'PyiCloudNoStoredPasswordAvailableException',
    'PyiCloudNoDevicesException', 'PyiCloudNoTrustedNumberAvailable',
    'PyiCloudTrustedDevicePromptException', 'PyiCloudTrustedDeviceVerificationException',
    'PyiCloudAcceptTermsException', 'TokenException', 'from_icloud_error',
]


class PyiCloudException(Exception):
    """Generic iCloud exception: the base of all the others.

    Attributes:
        icloud_error: the :class:`icloud_glib.ICloudError` it was made from, or None.
        icloud_code: its ``ICloud.Error`` code, or None.
    """

    icloud_error: Optional[_errors.ICloudError] = None
    icloud_code: Optional[ICloud.Error] = None


class PyiCloudAPIResponseException(PyiCloudException):
    """iCloud response exception: ``reason`` and ``code`` (Apple's, or the error's nick)."""

    def __init__(self, reason: str, code: Any = None, retry: bool = False) -> None:
        self.reason = reason
        self.code = code
        self.retry_after = 0
        message = reason or ''
        if code:
            message += ' (%s)' % code
        if retry:
            message += '. Retrying ...'
        super().__init__(message)


class PyiCloudServiceNotActivatedException(PyiCloudAPIResponseException):
    """iCloud service not activated exception."""


class PyiCloudServiceUnavailable(PyiCloudException):
    """iCloud service unavailable (not raised: services are not supported)."""


class PyiCloudFailedLoginException(PyiCloudException):
    """iCloud failed login exception: wrong Apple ID or password."""


class PyiCloudPasswordException(PyiCloudFailedLoginException):
    """Password exception (pyicloud's name; raised as PyiCloudFailedLoginException)."""


class PyiCloud2SARequiredException(PyiCloudException):
    """iCloud 2SA required exception."""

    def __init__(self, apple_id: str) -> None:
        self.apple_id = apple_id
        super().__init__('Two-step authentication required for account: %s' % apple_id)


class PyiCloud2FARequiredException(PyiCloudException):
    """iCloud 2FA required exception."""

    def __init__(self, apple_id: str, response: Any = None) -> None:
        self.apple_id = apple_id
        self.response = response
        super().__init__('Two-factor authentication required for account: %s' % apple_id)


class PyiCloudAuthRequiredException(PyiCloudException):
    """The saved session is no longer accepted: sign in again."""

    def __init__(self, apple_id: str, response: Any = None) -> None:
        self.apple_id = apple_id
        self.response = response
        super().__init__('Authentication required for account: %s' % apple_id)


class PyiCloudNoStoredPasswordAvailableException(PyiCloudException):
    """No password was given and the saved session cannot be used."""


class PyiCloudNoDevicesException(PyiCloudException):
    """iCloud no device exception (not raised: Find My is not supported)."""


class PyiCloudNoTrustedNumberAvailable(PyiCloudException):
    """No trusted phone number (not raised: the list is empty instead)."""


class PyiCloudTrustedDevicePromptException(PyiCloudException):
    """The push to the trusted devices failed (pyicloud's name)."""


class PyiCloudTrustedDeviceVerificationException(PyiCloudException):
    """The trusted-device code could not be verified (pyicloud's name)."""


class PyiCloudAcceptTermsException(PyiCloudException):
    """The account needs new terms accepted, or repair, on icloud.com."""


class TokenException(PyiCloudException):
    """A token problem (pyicloud's name; raised as PyiCloudAuthRequiredException)."""


def from_icloud_error(error: _errors.ICloudError, apple_id: str, password_given: bool,
                      state: Optional[ICloud.AuthState] = None) -> PyiCloudException:
    """The pyicloud exception for a library error (see the table above)."""
    exception: PyiCloudException
    nick = error.code.value_nick if error.code is not None else None
    if isinstance(error, _errors.FailedLoginError):
        exception = PyiCloudFailedLoginException(error.message)
    elif isinstance(error, (_errors.TwoFactorRequiredError, _errors.SecurityKeyRequiredError)) or (
            isinstance(error, _errors.NotAuthenticatedError) and state == ICloud.AuthState.NEEDS_2FA):
        exception = PyiCloud2FARequiredException(apple_id)
    elif isinstance(error, _errors.TwoStepRequiredError) or (
            isinstance(error, _errors.NotAuthenticatedError) and state == ICloud.AuthState.NEEDS_2SA):
        exception = PyiCloud2SARequiredException(apple_id)
    elif isinstance(error, _errors.AuthRequiredError):
        exception = (PyiCloudAuthRequiredException(apple_id) if password_given
                     else PyiCloudNoStoredPasswordAvailableException(error.message))
    elif isinstance(error, _errors.RepairRequiredError):
        exception = PyiCloudAcceptTermsException(error.message)
    elif isinstance(error, _errors.ServiceNotActivatedError):
        exception = PyiCloudServiceNotActivatedException(error.message, nick)
    elif isinstance(error, _errors.ThrottledError):
        exception = PyiCloudAPIResponseException(error.message, 503)
        exception.retry_after = error.retry_after
    elif isinstance(error, (_errors.AccountLockedError, _errors.WrongRegionError,
                            _errors.ProtocolError, _errors.NotAuthenticatedError,
                            _errors.InvalidCodeError)):
        exception = PyiCloudAPIResponseException(error.message, nick)
    elif isinstance(error, _errors.NetworkError):
        exception = PyiCloudAPIResponseException(error.message)
    else:
        exception = PyiCloudException(error.message)
    exception.icloud_error = error
    exception.icloud_code = error.code
    exception.__cause__ = error.glib_error
    return exception
