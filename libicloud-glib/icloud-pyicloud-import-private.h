/* icloud-pyicloud-import-private.h: the parsers of pyicloud's files
 *
 * Exposed for the fuzzers (tests/fuzz/fuzz-pyicloud-session.c,
 * tests/fuzz/fuzz-lwp-cookie-jar.c); icloud_session_import_pyicloud () is
 * their only other caller. @path only names the file in error messages;
 * messages never quote the content.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* pyicloud's `<base>.session` (a flat JSON object of strings): the keys the
 * library takes (protocol §5.2) to their values (non-empty; the values are
 * wiped when the table frees them), or NULL with ICLOUD_ERROR_PROTOCOL when
 * it is not a JSON object, a key is not a string, or it holds neither a
 * session token nor a trust token. */
GHashTable *icloud_pyicloud_parse_session    (const char  *path,
                                              const char  *text,
                                              gsize        length,
                                              GError     **error);

/* Python's LWPCookieJar text. @text must have a NUL at @text[@length] (as
 * g_file_get_contents () gives); a NUL before it, invalid UTF-8, a missing
 * `#LWP-Cookies-` first line or a `Set-Cookie3:` line that does not parse
 * is ICLOUD_ERROR_PROTOCOL. On success *@cookies is the list of the
 * cookies (SoupCookie, in file order, expired ones dropped) the caller
 * owns; on failure it is NULL. */
gboolean    icloud_pyicloud_parse_cookie_jar (const char  *path,
                                              const char  *text,
                                              gsize        length,
                                              GSList     **cookies,
                                              GError     **error);

G_END_DECLS
