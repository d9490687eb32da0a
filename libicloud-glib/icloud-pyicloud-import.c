/* icloud-pyicloud-import.c: import a session saved by pyicloud
 * (protocol §5.1, §5.2)
 *
 * pyicloud keeps two files per account in its cookie directory, both named
 * from the Apple ID with every non-word character removed (<base>):
 *
 * - `<base>.session`: a flat JSON object of strings (client_id,
 *   session_token, trust_token, scnt, session_id, account_country, ...);
 * - the cookie jar, in Python's LWPCookieJar text format: `<base>` for
 *   pyicloud 1.x and icloudpd, `<base>.cookiejar` for pyicloud 2.x.
 *
 * Everything is read and checked before the session's store is touched, so
 * a file that does not parse changes nothing.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "icloud-error.h"
#include "icloud-pyicloud.h"
#include "icloud-plugin.h"
#include "icloud-session-private.h"
#include "icloud-store-private.h"
#include "icloud-crypto-private.h"
#include "icloud-pyicloud-import-private.h"
#include "icloud-json-private.h"

/* Far more than pyicloud ever writes. */
#define MAX_FILE_SIZE (1024 * 1024)

#define LWP_MAGIC "#LWP-Cookies-"
#define LWP_LINE  "Set-Cookie3:"

/* The keys of pyicloud's session file we take (protocol §5.2). The bridge
 * state of pyicloud 2.x is never persisted by it, and ignored here. */
static const char * const session_keys[] = {
  ICLOUD_DATA_CLIENT_ID,
  ICLOUD_DATA_SESSION_TOKEN,
  ICLOUD_DATA_TRUST_TOKEN,
  ICLOUD_DATA_SCNT,
  ICLOUD_DATA_SESSION_ID,
  ICLOUD_DATA_ACCOUNT_COUNTRY,
  ICLOUD_DATA_AUTH_ATTRIBUTES,
  "trust_eligible",
  "grant_code",
  "apple_rscd",
  "apple_ercd",
};

/* Reads a whole file of at most MAX_FILE_SIZE bytes. A missing file is
 * G_FILE_ERROR_NOENT (callers check for it); any other failure is
 * ICLOUD_ERROR_STORAGE. The message names the file, never its content. */
static gboolean
read_small_file (const char  *path,
                 char       **contents,
                 gsize       *length,
                 GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                     "%s does not exist", path);
      else
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "Cannot read %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                   "%s is not a regular file", path);
      return FALSE;
    }
  if (st.st_size > MAX_FILE_SIZE)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "%s is too large to be a pyicloud session file", path);
      return FALSE;
    }
  if (!g_file_get_contents (path, contents, length, &local_error))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                   "Cannot read %s: %s", path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* The session JSON */

GHashTable *
icloud_pyicloud_parse_session (const char  *path,
                               const char  *text,
                               gsize        length,
                               GError     **error)
{
  g_autoptr(GHashTable) data = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                      (GDestroyNotify) icloud_crypto_free_secret);
  g_autoptr(JsonNode) root = NULL;
  gboolean too_deep = FALSE;
  JsonObject *object;

  root = icloud_json_parse (text, length, &too_deep);
  if (too_deep)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "%s is not a pyicloud session file (nested deeper than %u levels)",
                   path, ICLOUD_JSON_MAX_DEPTH);
      return NULL;
    }
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "%s is not a pyicloud session file (not a JSON object)", path);
      return NULL;
    }
  object = json_node_get_object (root);

  for (guint i = 0; i < G_N_ELEMENTS (session_keys); i++)
    {
      JsonNode *node = json_object_get_member (object, session_keys[i]);

      if (node == NULL || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING ||
          !g_utf8_validate (json_node_get_string (node), -1, NULL))
        {
          g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                       "%s is not a pyicloud session file (“%s” is not a UTF-8 string)",
                       path, session_keys[i]);
          return NULL;
        }
      if (*json_node_get_string (node) != '\0')
        g_hash_table_insert (data, (gpointer) session_keys[i],
                             g_strdup (json_node_get_string (node)));
    }

  if (!g_hash_table_contains (data, ICLOUD_DATA_SESSION_TOKEN) &&
      !g_hash_table_contains (data, ICLOUD_DATA_TRUST_TOKEN))
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "%s holds no session: neither a session token nor a trust token", path);
      return NULL;
    }

  return g_steal_pointer (&data);
}

/* ------------------------------------------------------------------------ */
/* The LWP cookie jar (Python's http.cookiejar.LWPCookieJar) */

typedef struct {
  char *name;
  char *value;   /* NULL for a bare attribute */
} Attribute;

static void
attribute_clear (Attribute *attr)
{
  g_free (attr->name);
  icloud_crypto_free_secret (attr->value);
}

/* Splits one header into name[=value] attributes the way Python's
 * http.cookiejar.split_header_words does for one element: values may be
 * quoted, with backslash escapes. FALSE for an unterminated quote or a
 * second element (a stray comma). */
static gboolean
split_header_words (const char *text,
                    GArray     *attrs)
{
  const char *p = text;

  while (*p != '\0')
    {
      Attribute attr = { NULL, NULL };
      const char *start;

      while (g_ascii_isspace (*p))
        p++;
      if (*p == '\0')
        break;
      if (*p == ';')
        {
          p++;
          continue;
        }
      if (*p == ',')
        return FALSE;

      start = p;
      while (*p != '\0' && *p != '=' && *p != ';' && *p != ',' && !g_ascii_isspace (*p))
        p++;
      if (p == start)
        return FALSE;
      attr.name = g_strndup (start, p - start);

      while (g_ascii_isspace (*p))
        p++;
      if (*p == '=')
        {
          p++;
          while (g_ascii_isspace (*p))
            p++;
          if (*p == '"')
            {
              GString *value = g_string_new (NULL);

              p++;
              while (*p != '\0' && *p != '"')
                {
                  if (*p == '\\' && p[1] != '\0')
                    p++;
                  g_string_append_c (value, *p);
                  p++;
                }
              if (*p != '"')
                {
                  icloud_crypto_wipe (value->str, value->len);
                  g_string_free (value, TRUE);
                  attribute_clear (&attr);
                  return FALSE;
                }
              p++;
              attr.value = g_string_free (value, FALSE);
            }
          else
            {
              start = p;
              while (*p != '\0' && *p != ';' && *p != ',' && !g_ascii_isspace (*p))
                p++;
              attr.value = g_strndup (start, p - start);
            }
        }
      g_array_append_val (attrs, attr);

      /* Anything up to the next separator is ignored, as Python does. */
      while (*p != '\0' && *p != ';' && *p != ',')
        p++;
    }

  return TRUE;
}

/* "2026-07-01 12:00:00Z" (time2isoz), the only form pyicloud writes; also
 * accepts a 'T' between date and time. */
static GDateTime *
parse_iso_time (const char *text)
{
  int year, month, day, hour, minute, second;
  char sep, zone = '\0';

  if (text == NULL ||
      sscanf (text, "%4d-%2d-%2d%c%2d:%2d:%2d%c",
              &year, &month, &day, &sep, &hour, &minute, &second, &zone) < 7 ||
      (sep != ' ' && sep != 'T') ||
      (zone != '\0' && zone != 'Z'))
    return NULL;

  return g_date_time_new_utc (year, month, day, hour, minute, second);
}

static gboolean
attr_is (const Attribute *attr,
         const char      *name)
{
  return g_ascii_strcasecmp (attr->name, name) == 0;
}

/* One `Set-Cookie3:` line. Returns NULL with *expired set for a cookie
 * that has already expired. */
static SoupCookie *
parse_cookie_line (const char  *line,
                   gboolean    *expired,
                   const char **why)
{
  g_autoptr(GArray) attrs = g_array_new (FALSE, TRUE, sizeof (Attribute));
  g_autoptr(GDateTime) expires = NULL;
  const Attribute *first;
  const char *domain = NULL;
  const char *path = "/";
  gboolean secure = FALSE;
  gboolean http_only = FALSE;
  SoupCookie *cookie;

  *expired = FALSE;
  g_array_set_clear_func (attrs, (GDestroyNotify) attribute_clear);

  if (!split_header_words (line, attrs) || attrs->len == 0)
    {
      *why = "a cookie line does not parse";
      return NULL;
    }

  first = &g_array_index (attrs, Attribute, 0);
  for (guint i = 1; i < attrs->len; i++)
    {
      const Attribute *attr = &g_array_index (attrs, Attribute, i);

      if (attr_is (attr, "domain"))
        domain = attr->value;
      else if (attr_is (attr, "path") && attr->value != NULL && *attr->value != '\0')
        path = attr->value;
      else if (attr_is (attr, "secure"))
        secure = TRUE;
      else if (attr_is (attr, "httponly"))
        http_only = TRUE;   /* Python writes HttpOnly=None */
      else if (attr_is (attr, "expires"))
        {
          g_clear_pointer (&expires, g_date_time_unref);
          expires = parse_iso_time (attr->value);
          if (expires == NULL)
            {
              *why = "a cookie has an expiry that does not parse";
              return NULL;
            }
        }
    }

  if (domain == NULL || *domain == '\0' || *first->name == '\0')
    {
      *why = "a cookie has no domain";
      return NULL;
    }

  if (expires != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

      if (g_date_time_compare (expires, now) <= 0)
        {
          *expired = TRUE;
          return NULL;
        }
    }

  /* A domain with a leading dot is a domain cookie; without one it was
   * host-only (Python stores the request host), as in libsoup. */
  cookie = soup_cookie_new (first->name, first->value ? first->value : "",
                            domain, path, -1);
  if (expires != NULL)
    soup_cookie_set_expires (cookie, expires);
  soup_cookie_set_secure (cookie, secure);
  soup_cookie_set_http_only (cookie, http_only);
  return cookie;
}

gboolean
icloud_pyicloud_parse_cookie_jar (const char  *path,
                                  const char  *text,
                                  gsize        length,
                                  GSList     **cookies,
                                  GError     **error)
{
  g_auto(GStrv) lines = NULL;
  const char *why = NULL;

  *cookies = NULL;

  if (memchr (text, '\0', length) != NULL || !g_utf8_validate (text, length, NULL))
    why = "it is not text";
  else
    {
      lines = g_strsplit (text, "\n", -1);
      /* Python: a search for the magic in the first line. */
      if (lines[0] == NULL || strstr (lines[0], LWP_MAGIC) == NULL)
        why = "it does not start with #LWP-Cookies-2.0";
    }

  for (guint i = 1; why == NULL && lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      gboolean expired;
      SoupCookie *cookie;

      if (!g_str_has_prefix (line, LWP_LINE))
        continue;   /* comments and blank lines, as Python skips them */

      cookie = parse_cookie_line (line + strlen (LWP_LINE), &expired, &why);
      if (cookie != NULL)
        *cookies = g_slist_prepend (*cookies, cookie);
    }

  if (lines != NULL)
    for (guint i = 0; lines[i] != NULL; i++)
      icloud_crypto_wipe (lines[i], strlen (lines[i]));

  if (why != NULL)
    {
      g_slist_free_full (g_steal_pointer (cookies), (GDestroyNotify) soup_cookie_free);
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "%s is not a pyicloud cookie jar: %s", path, why);
      return FALSE;
    }

  *cookies = g_slist_reverse (*cookies);
  return TRUE;
}

/* The jar of pyicloud 2.x (`<base>.cookiejar`) or of pyicloud 1.x and
 * icloudpd (`<base>`); the newer file when both exist; NULL when none. */
static char *
find_cookie_jar (const char *directory,
                 const char *base)
{
  g_autofree char *new_name = g_strconcat (base, ".cookiejar", NULL);
  g_autofree char *new_path = g_build_filename (directory, new_name, NULL);
  g_autofree char *old_path = g_build_filename (directory, base, NULL);
  GStatBuf new_st, old_st;
  gboolean have_new = g_stat (new_path, &new_st) == 0 && S_ISREG (new_st.st_mode);
  gboolean have_old = g_stat (old_path, &old_st) == 0 && S_ISREG (old_st.st_mode);

  if (have_new && have_old)
    return g_strdup (old_st.st_mtime > new_st.st_mtime ? old_path : new_path);
  if (have_new)
    return g_steal_pointer (&new_path);
  if (have_old)
    return g_steal_pointer (&old_path);
  return NULL;
}

/* ------------------------------------------------------------------------ */

static void
wipe_and_free (char  *text,
               gsize  length)
{
  if (text != NULL)
    icloud_crypto_wipe (text, length);
  g_free (text);
}

/**
 * icloud_session_import_pyicloud:
 * @self: a session, initialised or not
 * @directory: (type filename): pyicloud's cookie directory, the one given
 *   to `PyiCloudService(cookie_directory=...)`
 * @error: return location for a [struct@GLib.Error]
 *
 * Imports the session pyicloud saved for the session's Apple ID, so that a
 * pyicloud user keeps a trusted session: no password and no verification
 * code are needed afterwards.
 *
 * pyicloud names its files from the Apple ID with every non-word character
 * removed (`jdoe@example.com` → `jdoeexamplecom`). The importer reads the
 * session file `<base>.session` (a JSON object: `session_token`,
 * `trust_token`, `scnt`, `session_id`, `account_country`, `client_id`, ...)
 * and the cookie jar in Python's LWP format, `<base>` (pyicloud 1.x,
 * icloudpd) or `<base>.cookiejar` (pyicloud 2.x); when both exist, the
 * newer one. A missing cookie jar is not an error (the session token alone
 * can sign in again). Cookies keep their domain, path, expiry, `Secure` and
 * `HttpOnly`; expired ones are dropped.
 *
 * The imported state replaces the short-lived state saved for the account
 * (tokens and cookies); it is saved at once, the way every session file is
 * (0600, atomically). It takes effect at the next
 * [method@ICloud.Session.authenticate], which finds it as a session saved
 * by an earlier run: so this can be called on a session made with
 * [ctor@GObject.Object.new], before [method@Gio.Initable.init]. It must not
 * be called while an operation runs on the session.
 *
 * Unlike the blocking twins of the session's operations, this does its
 * disk I/O (lock, read, write, fsync) on the calling thread: call it before
 * the main loop runs, from a worker thread or a command-line tool. With
 * `ICLOUD_STORE_ASSERT_OFF_MAIN=1` (a debugging aid) it aborts when called
 * on the thread that runs the default main context.
 *
 * The files are only read. Everything is checked before anything is
 * changed: a file that is not what pyicloud writes fails with
 * %ICLOUD_ERROR_PROTOCOL and a file that cannot be read (or a missing
 * session file) with %ICLOUD_ERROR_STORAGE, and in both cases the saved
 * session is left exactly as it was. Error messages name the files, never
 * their content.
 *
 * Returns: %TRUE if the session was imported and saved
 */
gboolean
icloud_session_import_pyicloud (ICloudSession  *self,
                                const char     *directory,
                                GError        **error)
{
  ICloudStore *store;
  g_autofree char *base = NULL;
  g_autofree char *session_name = NULL;
  g_autofree char *session_path = NULL;
  g_autofree char *jar_path = NULL;
  g_autoptr(GHashTable) data = NULL;
  g_autoptr(GError) read_error = NULL;
  GSList *cookies = NULL;
  char *text = NULL;
  gsize length = 0;
  GHashTableIter iter;
  gpointer key, value;
  SoupCookieJar *jar;
  gboolean ok;

  g_return_val_if_fail (ICLOUD_IS_SESSION (self), FALSE);
  g_return_val_if_fail (directory != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!icloud_session_check_usable (self, error))
    return FALSE;

  store = icloud_session_get_store (self);
  base = icloud_store_base_name (icloud_session_get_apple_id (self));
  session_name = g_strconcat (base, ".session", NULL);
  session_path = g_build_filename (directory, session_name, NULL);

  /* 1. Read and check both files; nothing is changed yet. */
  if (!read_small_file (session_path, &text, &length, &read_error))
    {
      if (g_error_matches (read_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "No pyicloud session for %s in %s (no file %s)",
                     icloud_session_get_apple_id (self), directory, session_name);
      else
        g_propagate_error (error, g_steal_pointer (&read_error));
      return FALSE;
    }
  data = icloud_pyicloud_parse_session (session_path, text, length, error);
  wipe_and_free (g_steal_pointer (&text), length);
  if (data == NULL)
    return FALSE;

  jar_path = find_cookie_jar (directory, base);
  if (jar_path != NULL)
    {
      if (!read_small_file (jar_path, &text, &length, error))
        return FALSE;
      ok = icloud_pyicloud_parse_cookie_jar (jar_path, text, length, &cookies, error);
      wipe_and_free (g_steal_pointer (&text), length);
      if (!ok)
        return FALSE;
    }

  /* 2. Replace the saved short-lived state, under the account's lock. */
  if (!icloud_store_lock (store, error))
    {
      g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
      return FALSE;
    }
  if (!icloud_store_load (store, error))
    {
      icloud_store_unlock (store);
      g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
      return FALSE;
    }

  icloud_store_reset (store, FALSE);
  g_hash_table_iter_init (&iter, data);
  while (g_hash_table_iter_next (&iter, &key, &value))
    icloud_store_set (store, key, value);

  jar = icloud_store_get_cookie_jar (store);
  for (GSList *l = cookies; l != NULL; l = l->next)
    soup_cookie_jar_add_cookie (jar, l->data);   /* takes the cookie */
  g_slist_free (cookies);

  ok = icloud_store_save (store, error);
  icloud_store_unlock (store);

  if (ok)
    g_debug ("Imported the pyicloud session of %s from %s (%u keys, cookies from %s)",
             icloud_session_get_apple_id (self), directory, g_hash_table_size (data),
             jar_path ? jar_path : "nowhere");
  return ok;
}
