# icloud_glib.pyicloud.base: pyicloud's services on libicloud-glib.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""``AsyncPyiCloudService`` and ``PyiCloudService`` on :class:`icloud_glib.Session`."""

from __future__ import annotations

import asyncio
import functools
from typing import Any, Awaitable, Callable, Dict, List, Optional, TypeVar

from .. import errors as _errors
from ..session import Session, TrustedPhone
from .exceptions import PyiCloudException, from_icloud_error

__all__ = ['AsyncPyiCloudService', 'PyiCloudService', 'SUPPORTED', 'UNSUPPORTED_SERVICES']

T = TypeVar('T')

#: What icloud_glib.pyicloud supports: signing in, nothing beyond.
SUPPORTED = ('sign-in: create/authenticate, account_name, requires_2fa, requires_2sa, '
             'is_trusted_session, two_factor_delivery_method, request_2fa_code, '
             'validate_2fa_code, trust_session, '
             'trusted_phone_numbers, trusted_devices/get_trusted_devices, '
             'send_verification_code, validate_verification_code, data, logout, close')

#: pyicloud's iCloud services, which this layer does not provide.
UNSUPPORTED_SERVICES = ('devices', 'iphone', 'account', 'files', 'photos', 'calendar',
                        'contacts', 'reminders', 'drive', 'hidemyemail', 'notes',
                        'webservices', 'get_webservice_url')


def _unsupported(name: str) -> property:
    def getter(self: Any) -> Any:
        raise NotImplementedError(
            'icloud_glib.pyicloud does not provide pyicloud\'s "%s": iCloud services '
            '(devices, photos, drive, ...) are out of its scope. Supported: %s.'
            % (name, SUPPORTED))
    return property(getter, doc='Not supported: raises NotImplementedError.')


def _phone_dict(phone: TrustedPhone) -> Dict[str, Any]:
    """A trusted phone in the shape of Apple's ``trustedPhoneNumbers`` entries."""
    phone_id: Any = int(phone.id) if phone.id.isdigit() else phone.id
    return {'id': phone_id, 'obfuscatedNumber': phone.obfuscated_number,
            'pushMode': phone.push_mode}


def _phone_from(phone: Optional[Any]) -> Optional[TrustedPhone]:
    if phone is None or isinstance(phone, TrustedPhone):
        return phone
    if isinstance(phone, dict):
        return TrustedPhone(id=str(phone['id']), obfuscated_number=phone.get('obfuscatedNumber'),
                            push_mode=phone.get('pushMode', 'sms'))
    return TrustedPhone(id=str(phone), obfuscated_number=None, push_mode='sms')


class _ServiceBase:
    """What both services share: settings, the state snapshot, the services."""

    def __init__(self, apple_id: str, password: Optional[str] = None,
                 cookie_directory: Optional[str] = None, verify: bool = True,
                 client_id: Optional[str] = None, with_family: bool = True,
                 china_mainland: bool = False, accept_terms: bool = False,
                 endpoint_base: Optional[str] = None, **_ignored: Any) -> None:
        self.apple_id = apple_id
        self._password = password
        self._cookie_directory = cookie_directory
        self._client_id = client_id
        self._china_mainland = china_mainland
        self._endpoint_base = endpoint_base
        self._session: Optional[Session] = None
        self._phones: List[Dict[str, Any]] = []
        self._devices: List[Dict[str, Any]] = []

    # -------------------------------------------------------------- state

    @property
    def account_name(self) -> str:
        """The Apple ID signed in (pyicloud's ``account_name``)."""
        return self._session.account_name if self._session and self._session.account_name \
            else self.apple_id

    @property
    def requires_2fa(self) -> bool:
        """A two-factor code is needed (``ICloud.AuthState.NEEDS_2FA``)."""
        return bool(self._session and self._session.requires_2fa)

    @property
    def requires_2sa(self) -> bool:
        """A two-step code is needed. Unlike pyicloud's, never also true for 2FA accounts."""
        return bool(self._session and self._session.requires_2sa)

    @property
    def is_trusted_session(self) -> bool:
        return bool(self._session and self._session.is_trusted_session)

    @property
    def two_factor_delivery_method(self) -> str:
        """How the last 2FA code was asked for, as pyicloud 2.6 says it:
        ``'trusted_device'`` (the trusted-device bridge or Apple's push),
        ``'sms'``, or ``'unknown'`` before any request."""
        nick = getattr(self._session.code_delivery, 'value_nick', '') if self._session else ''
        return {'bridge': 'trusted_device', 'trusted-device': 'trusted_device',
                'sms': 'sms'}.get(nick, 'unknown')

    @property
    def data(self) -> Dict[str, Any]:
        """The latest accountLogin/validate document."""
        return (self._session.account_info if self._session else None) or {}

    @property
    def session(self) -> Optional[Session]:
        """The :class:`icloud_glib.Session` underneath."""
        return self._session

    def __str__(self) -> str:
        return 'iCloud API: %s' % self.apple_id

    def __repr__(self) -> str:
        return '<%s>' % str(self)

    # ---------------------------------------------------------- the flows
    # Coroutines on the async session; the sync service runs them on a
    # private asyncio loop, so both share one implementation.

    def _raise(self, error: _errors.ICloudError) -> PyiCloudException:
        state = self._session.state if self._session is not None else None
        return from_icloud_error(error, self.apple_id, self._password is not None, state)

    async def _guard(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except _errors.ICloudError as error:
            raise self._raise(error) from error.glib_error

    async def _authenticate(self, force_refresh: bool) -> None:
        if self._session is None:
            self._session = await self._guard(Session.create(
                self.apple_id, self._password, endpoint_base=self._endpoint_base,
                region='china-mainland' if self._china_mainland else None,
                cookie_directory=self._cookie_directory,
                **({'client_id': self._client_id} if self._client_id else {})))
        else:
            await self._guard(self._session.authenticate(force_refresh))
        if self._session.requires_2fa:
            # As pyicloud >= 2.6.1: Apple no longer pushes a code by itself.
            self._phones = [_phone_dict(p) for p in
                            await self._guard(self._session.get_trusted_phone_numbers())]
            await self._guard(self._session.request_2fa_code(None))
        elif self._session.requires_2sa:
            self._devices = await self._guard(self._session.get_trusted_devices())

    def _checked(self) -> Session:
        if self._session is None:
            raise PyiCloudException('not signed in: call authenticate() first')
        return self._session

    async def _request_2fa_code(self, phone: Optional[Any]) -> bool:
        await self._guard(self._checked().request_2fa_code(_phone_from(phone)))
        return True

    async def _validate(self, call: Callable[[], Awaitable[bool]]) -> bool:
        try:
            return await self._guard(call())
        except PyiCloudException as error:
            if isinstance(error.icloud_error, _errors.InvalidCodeError):
                return False  # as pyicloud: a wrong code is False
            raise

    async def _trust_session(self) -> bool:
        try:
            return await self._checked().trust_session()
        except _errors.ICloudError:
            return False  # as pyicloud

    async def _get_trusted_phone_numbers(self) -> List[Dict[str, Any]]:
        phones = await self._guard(self._checked().get_trusted_phone_numbers())
        self._phones = [_phone_dict(p) for p in phones]
        return list(self._phones)

    async def _get_trusted_devices(self) -> List[Dict[str, Any]]:
        self._devices = await self._guard(self._checked().get_trusted_devices())
        return [dict(d) for d in self._devices]

    async def _close(self) -> None:
        if self._session is not None:
            await self._guard(self._session.close())


for _service in UNSUPPORTED_SERVICES:
    setattr(_ServiceBase, _service, _unsupported(_service))


class AsyncPyiCloudService(_ServiceBase):
    """pyicloud's ``AsyncPyiCloudService`` on libicloud-glib.

    ``await AsyncPyiCloudService.create(apple_id, password)`` signs in;
    when a 2FA code is pending it has asked Apple to push one to the
    trusted devices (as pyicloud >= 2.6.1). ``endpoint_base=`` (or
    ``$ICLOUD_ENDPOINT_BASE``) points it at a test server.
    """

    @classmethod
    async def create(cls, apple_id: str, password: Optional[str] = None,
                     cookie_directory: Optional[str] = None, verify: bool = True,
                     client_id: Optional[str] = None, with_family: bool = True,
                     china_mainland: bool = False, accept_terms: bool = False,
                     refresh_interval: Optional[float] = None,
                     endpoint_base: Optional[str] = None,
                     **kwargs: Any) -> 'AsyncPyiCloudService':
        """Creates the service and signs in."""
        service = cls(apple_id, password, cookie_directory, verify, client_id, with_family,
                      china_mainland, accept_terms, endpoint_base=endpoint_base, **kwargs)
        await service.authenticate()
        return service

    async def authenticate(self, force_refresh: bool = False, service: Optional[str] = None) -> None:
        """Signs in: the saved session, else its token, else the password."""
        if service is not None:
            raise NotImplementedError('authenticate(service=...) is not supported; %s' % SUPPORTED)
        await self._authenticate(force_refresh)

    async def request_2fa_code(self, phone: Optional[Any] = None) -> bool:
        """Pushes a 2FA code to the trusted devices, or by SMS to ``phone``
        (an entry of :attr:`trusted_phone_numbers`)."""
        return await self._request_2fa_code(phone)

    async def validate_2fa_code(self, code: str) -> bool:
        """Checks the 2FA code and trusts the session; False if it is wrong."""
        return await self._validate(lambda: self._checked().validate_2fa_code(code))

    async def trust_session(self) -> bool:
        """Asks Apple to trust the session; False if it refused."""
        return await self._trust_session()

    @property
    def trusted_phone_numbers(self) -> List[Dict[str, Any]]:
        """The trusted phones read when the 2FA challenge began (no I/O;
        ``await get_trusted_phone_numbers()`` reads them again)."""
        return list(self._phones)

    async def get_trusted_phone_numbers(self) -> List[Dict[str, Any]]:
        return await self._get_trusted_phone_numbers()

    @property
    def trusted_devices(self) -> List[Dict[str, Any]]:
        """2SA: the devices read when the challenge began or by the last
        ``await get_trusted_devices()`` (no I/O)."""
        return [dict(d) for d in self._devices]

    async def get_trusted_devices(self) -> List[Dict[str, Any]]:
        """2SA: the trusted devices, as Apple's dicts (``deviceId``, ``deviceType``, ...)."""
        return await self._get_trusted_devices()

    async def send_verification_code(self, device: Dict[str, Any]) -> bool:
        """2SA: sends a code to ``device``."""
        return await self._guard(self._checked().send_verification_code(device))

    async def validate_verification_code(self, device: Dict[str, Any], code: str) -> bool:
        """2SA: checks the code; False if it is wrong."""
        return await self._validate(lambda: self._checked().validate_verification_code(device, code))

    async def logout(self, keep_trusted: bool = False, all_sessions: bool = False) -> None:
        await self._guard(self._checked().logout(keep_trusted, all_sessions))

    async def close(self) -> None:
        """Saves the session if it changed and closes its connections."""
        await self._close()

    async def __aenter__(self) -> 'AsyncPyiCloudService':
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


def _blocking(method: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    @functools.wraps(method)
    def run(self: 'PyiCloudService', *args: Any, **kwargs: Any) -> T:
        return self._run(method(self, *args, **kwargs))
    return run


class PyiCloudService(_ServiceBase):
    """pyicloud's synchronous ``PyiCloudService`` on libicloud-glib.

    The constructor signs in (and pushes a 2FA code when one is pending);
    every method blocks. It runs the same code as
    :class:`AsyncPyiCloudService` on a private asyncio loop, and both use
    the same session files. Do not call it from a running asyncio loop.
    """

    def __init__(self, apple_id: str, password: Optional[str] = None,
                 cookie_directory: Optional[str] = None, verify: bool = True,
                 client_id: Optional[str] = None, with_family: bool = True,
                 china_mainland: bool = False, accept_terms: bool = False,
                 endpoint_base: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(apple_id, password, cookie_directory, verify, client_id, with_family,
                         china_mainland, accept_terms, endpoint_base=endpoint_base, **kwargs)
        self._loop = asyncio.new_event_loop()
        try:
            self.authenticate()
        except BaseException:
            self._loop.close()
            raise

    def _run(self, awaitable: Awaitable[T]) -> T:
        return self._loop.run_until_complete(awaitable)

    @_blocking
    async def authenticate(self, force_refresh: bool = False, service: Optional[str] = None) -> None:
        """Signs in again (the constructor already did)."""
        if service is not None:
            raise NotImplementedError('authenticate(service=...) is not supported; %s' % SUPPORTED)
        await self._authenticate(force_refresh)

    @_blocking
    async def request_2fa_code(self, phone: Optional[Any] = None) -> bool:
        return await self._request_2fa_code(phone)

    @_blocking
    async def validate_2fa_code(self, code: str) -> bool:
        return await self._validate(lambda: self._checked().validate_2fa_code(code))

    @_blocking
    async def trust_session(self) -> bool:
        return await self._trust_session()

    @property
    def trusted_phone_numbers(self) -> List[Dict[str, Any]]:
        """The trusted phones (asks the server if they were not read yet)."""
        return self._run(self._get_trusted_phone_numbers())

    @property
    def trusted_devices(self) -> List[Dict[str, Any]]:
        """2SA: the trusted devices, as Apple's dicts."""
        return self._run(self._get_trusted_devices())

    @_blocking
    async def get_trusted_devices(self) -> List[Dict[str, Any]]:
        return await self._get_trusted_devices()

    @_blocking
    async def send_verification_code(self, device: Dict[str, Any]) -> bool:
        return await self._guard(self._checked().send_verification_code(device))

    @_blocking
    async def validate_verification_code(self, device: Dict[str, Any], code: str) -> bool:
        return await self._validate(lambda: self._checked().validate_verification_code(device, code))

    @_blocking
    async def logout(self, keep_trusted: bool = False, all_sessions: bool = False) -> None:
        await self._guard(self._checked().logout(keep_trusted, all_sessions))

    def close(self) -> None:
        """Saves the session if it changed and closes it (pyicloud has no close; call it
        before another process or service uses the same account)."""
        if not self._loop.is_closed():
            try:
                self._run(self._close())
            finally:
                self._loop.close()

    def __enter__(self) -> 'PyiCloudService':
        return self

    def __del__(self) -> None:
        # Not closed (pyicloud programs never close): free the private loop;
        # the session itself is saved after every operation.
        loop = getattr(self, '_loop', None)
        if loop is not None and not loop.is_closed() and not loop.is_running():
            loop.close()

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
