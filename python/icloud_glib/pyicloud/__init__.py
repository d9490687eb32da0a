# icloud_glib.pyicloud: pyicloud's API on libicloud-glib.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pyicloud's sign-in API on libicloud-glib.

Change one import line of a pyicloud program::

    from icloud_glib.pyicloud import AsyncPyiCloudService   # was: from pyicloud import ...
    from icloud_glib.pyicloud.exceptions import PyiCloudFailedLoginException

and the code of pyicloud's async guide runs unchanged. Only signing in is
provided; pyicloud's iCloud services (``devices``, ``photos``, ``drive``,
...) raise ``NotImplementedError``. ``endpoint_base=`` (or
``$ICLOUD_ENDPOINT_BASE``) points a service at a test server.
"""

from . import exceptions
from .base import AsyncPyiCloudService, PyiCloudService

__all__ = ['AsyncPyiCloudService', 'PyiCloudService', 'exceptions']
