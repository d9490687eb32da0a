/* fuzz-lwp-cookie-jar.c: pyicloud's cookie jar, Python's LWPCookieJar text
 * (protocol §5.1), as icloud_session_import_pyicloud () reads it.
 *
 * Checks: no crash; a refused jar is ICLOUD_ERROR_PROTOCOL and gives no
 * cookie; every cookie of an accepted one has a name, a domain, a path
 * and no expiry in the past, and is accepted by a cookie jar.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>

#include "icloud-pyicloud-import-private.h"
#include "icloud-error.h"
#include "fuzz-common.h"

#define PATH "/nonexistent/jdoeexamplecom.cookiejar"

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SoupCookieJar) jar = NULL;
  g_autofree char *text = NULL;
  GSList *cookies = (GSList *) 0x1;   /* must be overwritten */
  g_autoptr(GDateTime) now = NULL;

  fuzz_init_once ();

  /* As g_file_get_contents () gives it: NUL-terminated. */
  text = g_malloc (size + 1);
  memcpy (text, data, size);
  text[size] = '\0';

  if (!icloud_pyicloud_parse_cookie_jar (PATH, text, size, &cookies, &error))
    {
      FUZZ_CHECK (cookies == NULL);
      FUZZ_CHECK (g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL));
      FUZZ_CHECK (g_str_has_prefix (error->message, PATH " "));
      FUZZ_CHECK (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }

  FUZZ_CHECK (error == NULL);
  now = g_date_time_new_now_utc ();
  jar = soup_cookie_jar_new ();
  for (GSList *l = cookies; l != NULL; l = l->next)
    {
      SoupCookie *cookie = l->data;
      GDateTime *expires = soup_cookie_get_expires (cookie);

      FUZZ_CHECK (soup_cookie_get_name (cookie) != NULL && *soup_cookie_get_name (cookie) != '\0');
      FUZZ_CHECK (soup_cookie_get_value (cookie) != NULL);
      FUZZ_CHECK (soup_cookie_get_domain (cookie) != NULL && *soup_cookie_get_domain (cookie) != '\0');
      FUZZ_CHECK (soup_cookie_get_path (cookie) != NULL);
      /* Drop and keep as the importer does: the jar takes the cookie. */
      if (expires != NULL)
        FUZZ_CHECK (g_date_time_compare (expires, now) > 0 ||
                    g_date_time_difference (now, expires) < 60 * G_TIME_SPAN_SECOND);
      soup_cookie_jar_add_cookie (jar, cookie);
    }
  g_slist_free (cookies);

  /* What the jar kept can be read back. */
  {
    GSList *all = soup_cookie_jar_all_cookies (jar);
    g_slist_free_full (all, (GDestroyNotify) soup_cookie_free);
  }
  return 0;
}
