# session.py: ICloud.Session, awaitable from asyncio.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The asyncio face of ``ICloud.Session``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, cast

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Gio', '2.0')
gi.require_version('Json', '1.0')
gi.require_version('ICloud', '1')

from gi.repository import GLib, Gio, Json, ICloud  # noqa: E402

from . import _context  # noqa: E402
from .errors import ICloudError, InvalidEndpointError, from_glib_error  # noqa: E402

__all__ = ['Session', 'SessionState', 'TrustedPhone', 'ENDPOINT_BASE_VARIABLE']

#: The environment variable that points new sessions at a test server.
ENDPOINT_BASE_VARIABLE = 'ICLOUD_ENDPOINT_BASE'


@dataclass(frozen=True)
class SessionState:
    """What a session says about itself, read on its context's thread when
    the last operation ended (a snapshot: reading it is free and thread-safe)."""

    state: ICloud.AuthState = ICloud.AuthState.SIGNED_OUT
    account_name: Optional[str] = None
    requires_2fa: bool = False
    requires_2sa: bool = False
    is_trusted_session: bool = False
    retry_after: int = 0
    region: Optional[str] = None
    code_delivery: ICloud.CodeDelivery = ICloud.CodeDelivery.NONE


@dataclass(frozen=True)
class TrustedPhone:
    """A phone a 2FA code can be sent to by SMS (``ICloud.TrustedPhone``)."""

    id: str
    obfuscated_number: Optional[str]
    push_mode: Optional[str]


def _json_to_python(node: Optional[Json.Node]) -> Any:
    if node is None:
        return None
    return json.loads(Json.to_string(node, False))


def _snapshot(session: ICloud.Session) -> SessionState:
    # requires-2fa and requires-2sa are the states NEEDS_2FA and NEEDS_2SA.
    state = session.get_state()
    return SessionState(
        state=state,
        account_name=session.get_account_name(),
        requires_2fa=state == ICloud.AuthState.NEEDS_2FA,
        requires_2sa=state == ICloud.AuthState.NEEDS_2SA,
        is_trusted_session=session.get_is_trusted_session(),
        retry_after=session.get_retry_after(),
        region=session.get_region(),
        code_delivery=session.get_code_delivery(),
    )


def endpoint_for_base(endpoint_base: Optional[str]) -> Optional[ICloud.Endpoint]:
    """The endpoint of a server serving Apple's paths on one origin.

    ``endpoint_base`` None: ``$ICLOUD_ENDPOINT_BASE`` if set, else None
    (Apple). The library accepts plain ``http://`` only for loopback hosts.
    """
    if endpoint_base is None:
        endpoint_base = os.environ.get(ENDPOINT_BASE_VARIABLE) or None
    if endpoint_base is None:
        return None
    try:
        return ICloud.Endpoint.new_for_base_uri(endpoint_base)
    except GLib.Error as error:
        exception = InvalidEndpointError(error.message, glib_error=error)
        raise exception from error


class Session:
    """An iCloud session whose operations are coroutines.

    Create it with :meth:`create` (which signs in, like pyicloud's
    ``create()``); it succeeds once the password is accepted, even with a
    second factor pending (see :attr:`state`). Every method that talks to
    Apple is a coroutine; cancelling its task cancels the operation. Use
    ``async with`` (or :meth:`close`) to close it.

    The ``ICloud.Session`` lives on a GLib main context (see
    :mod:`icloud_glib._context`) and is only touched there; the properties
    below are a snapshot taken there when the last operation ended.
    """

    def __init__(self, context: _context.Context, gobject: Optional[ICloud.Session]) -> None:
        self._context = context
        self._gobject: Optional[ICloud.Session] = gobject
        self._state = SessionState()
        self._apple_id: str = ''

    # -------------------------------------------------------------- creation

    @classmethod
    async def create(cls, apple_id: str, password: Optional[str] = None, *,
                     endpoint_base: Optional[str] = None, region: Optional[str] = None,
                     cookie_directory: Optional[str] = None,
                     **properties: Any) -> 'Session':
        """Creates a session and signs in (``g_async_initable_init_async``).

        Args:
            apple_id: the Apple ID.
            password: the password, or None to use the saved session only.
            endpoint_base: a test server's base URI (plain http only on
                loopback); None: ``$ICLOUD_ENDPOINT_BASE``, else Apple.
            region: ``"global"`` (default), ``"china-mainland"``, ...
            cookie_directory: where the session is saved (default
                ``$XDG_STATE_HOME/icloud-glib``).
            properties: other construct properties of ``ICloud.Session``
                (``client_id``, ``secret_store``, ``timeout``, ...).

        Raises:
            ICloudError: the sign-in failed (the subclass names the cause).
        """
        context = _context.context_for_running_loop()
        job, session = cls._creation(context, apple_id, password, endpoint_base, region,
                                     cookie_directory, properties)
        await _context.run_async(context, job)
        return session

    @classmethod
    def _creation(cls, context: _context.Context, apple_id: str, password: Optional[str],
                  endpoint_base: Optional[str], region: Optional[str],
                  cookie_directory: Optional[str],
                  properties: Dict[str, Any]) -> 'tuple[_context.Job, Session]':
        endpoint = endpoint_for_base(endpoint_base)
        props = dict(properties)
        props['apple_id'] = apple_id
        if password is not None:
            props['password'] = password
        if endpoint is not None:
            props['endpoint'] = endpoint
        if region is not None:
            props['region'] = region
        if cookie_directory is not None:
            props['cookie_directory'] = os.path.expanduser(cookie_directory)
        session = cls(context, None)
        session._apple_id = apple_id

        def job(cancellable: Gio.Cancellable, done: _context.Done) -> None:
            # Constructed on the context's thread: it is the session's thread.
            gobject = ICloud.Session(**props)
            session._gobject = gobject
            session._finish_on(gobject, 'init', (GLib.PRIORITY_DEFAULT,), cancellable, done,
                               lambda _ok: None)

        return job, session

    # ------------------------------------------------------------ the bridge

    def _finish_on(self, gobject: ICloud.Session, name: str, args: Tuple[Any, ...],
                   cancellable: Gio.Cancellable, done: _context.Done,
                   convert: Callable[[Any], Any]) -> None:
        """Starts ``gobject.<name>_async(*args)``; finishes, snapshots, converts."""
        def ready(source: Any, result: Gio.AsyncResult, *_data: Any) -> None:
            try:
                value = getattr(gobject, name + '_finish')(result)
            except GLib.Error as error:
                self._state = _snapshot(gobject)
                done(None, from_glib_error(error, self._state.retry_after))
                return
            self._state = _snapshot(gobject)
            done(convert(value), None)

        getattr(gobject, name + '_async')(*args, cancellable, ready, None)

    def _job(self, name: str, *args: Any,
             convert: Callable[[Any], Any] = lambda value: value,
             prepare: Optional[Callable[[], Tuple[Any, ...]]] = None) -> _context.Job:
        """A job calling ``<name>_async(*args)`` (or ``*prepare()``) on the session."""
        def job(cancellable: Gio.Cancellable, done: _context.Done) -> None:
            gobject = self._gobject
            if gobject is None:
                raise ICloudError('the session was never created')
            call_args = prepare() if prepare is not None else args
            self._finish_on(gobject, name, call_args, cancellable, done, convert)
        return job

    async def _call(self, name: str, *args: Any, **options: Any) -> Any:
        return await _context.run_async(self._context, self._job(name, *args, **options))

    # ---------------------------------------------------------- properties

    @property
    def apple_id(self) -> str:
        return self._apple_id

    @property
    def snapshot(self) -> SessionState:
        """Everything below at once."""
        return self._state

    @property
    def state(self) -> ICloud.AuthState:
        """Where the sign-in stands (``ICloud.AuthState``)."""
        return self._state.state

    @property
    def account_name(self) -> Optional[str]:
        return self._state.account_name

    @property
    def requires_2fa(self) -> bool:
        return self._state.requires_2fa

    @property
    def requires_2sa(self) -> bool:
        return self._state.requires_2sa

    @property
    def is_trusted_session(self) -> bool:
        return self._state.is_trusted_session

    @property
    def retry_after(self) -> int:
        return self._state.retry_after

    @property
    def region(self) -> Optional[str]:
        return self._state.region

    @property
    def code_delivery(self) -> ICloud.CodeDelivery:
        """The route of the last code requested (``ICloud.CodeDelivery``):
        ``BRIDGE`` (the trusted-device bridge: check the code with this
        session), ``TRUSTED_DEVICE`` (Apple's push) or ``SMS``."""
        return self._state.code_delivery

    @property
    def account_info(self) -> Optional[Dict[str, Any]]:
        """The latest accountLogin/validate document, as Python data.

        Not part of the snapshot (the library parses it only when asked): it
        is read on the session's context, which blocks the calling thread
        for one hop to the helper thread.
        """
        def read() -> Optional[Dict[str, Any]]:
            return _json_to_python(self._gobject.get_account_info()) if self._gobject else None

        if self._context.is_current_thread():
            return read()
        return cast(Optional[Dict[str, Any]],
                    _context.run_blocking(self._context, lambda _c, done: done(read(), None)))

    # ---------------------------------------------------------- operations

    async def authenticate(self, force_refresh: bool = False) -> None:
        """Signs in again; ``force_refresh`` skips validating the saved web session."""
        await self._call('authenticate', force_refresh)

    async def get_trusted_phone_numbers(self) -> List[TrustedPhone]:
        """The phones a 2FA code can be sent to by SMS."""
        return cast(List[TrustedPhone], await self._call('get_trusted_phone_numbers', convert=_phones))

    async def request_2fa_code(self, phone: Optional[TrustedPhone] = None) -> None:
        """Asks for a code: a prompt on the trusted devices (through the
        trusted-device bridge when Apple offers it, else Apple's push), or
        (``phone``) an SMS; :attr:`code_delivery` says which."""
        await self._call('request_2fa_code', prepare=lambda: (_phone_object(phone),))

    async def validate_2fa_code(self, code: str) -> bool:
        """Checks a 2FA code and trusts the session; a wrong one raises InvalidCodeError."""
        return bool(await self._call('validate_2fa_code', code))

    async def trust_session(self) -> bool:
        """Asks Apple to trust the session (if validate_2fa_code could not)."""
        return bool(await self._call('trust_session'))

    async def get_trusted_devices(self) -> List[Dict[str, Any]]:
        """2SA: the trusted devices, as Apple describes them (dicts)."""
        return cast(List[Dict[str, Any]], await self._call('get_trusted_devices', convert=_devices))

    async def send_verification_code(self, device: Mapping[str, Any]) -> bool:
        """2SA: sends a code to a device of :meth:`get_trusted_devices`."""
        return bool(await self._call('send_verification_code',
                                     prepare=lambda: (_device_object(device),)))

    async def validate_verification_code(self, device: Mapping[str, Any], code: str) -> bool:
        """2SA: checks the code sent to ``device``; a wrong one raises InvalidCodeError."""
        return bool(await self._call('validate_verification_code',
                                     prepare=lambda: (_device_object(device), code)))

    async def logout(self, keep_trusted: bool = False, all_sessions: bool = False) -> None:
        """Signs out at Apple and forgets the saved session."""
        await self._call('logout', keep_trusted, all_sessions)

    async def close(self) -> None:
        """Saves the session if it changed and closes its connections."""
        await self._call('close')

    async def __aenter__(self) -> 'Session':
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __del__(self) -> None:
        # Drop the GObject on its own thread.
        gobject, self._gobject = getattr(self, '_gobject', None), None
        context = getattr(self, '_context', None)
        if gobject is not None and context is not None and not context.is_current_thread():
            try:
                context.invoke(lambda: gobject)
            except Exception:  # interpreter shutdown
                pass


def _phones(model: Gio.ListModel) -> List[TrustedPhone]:
    return [TrustedPhone(id=phone.get_id(), obfuscated_number=phone.get_obfuscated_number(),
                         push_mode=phone.get_push_mode()) for phone in model]


def _phone_object(phone: Optional[TrustedPhone]) -> Optional[ICloud.TrustedPhone]:
    if phone is None:
        return None
    return ICloud.TrustedPhone.new(str(phone.id), phone.obfuscated_number, phone.push_mode)


def _devices(model: Gio.ListModel) -> List[Dict[str, Any]]:
    return [_json_to_python(device.to_json()) for device in model]


def _device_object(device: Mapping[str, Any]) -> ICloud.TrustedDevice:
    return ICloud.TrustedDevice.new_from_json(Json.from_string(json.dumps(dict(device))))
