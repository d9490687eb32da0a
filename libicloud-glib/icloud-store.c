/* icloud-store.c: one account's session on disk
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "icloud-store-private.h"
#include "icloud-json-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "icloud-glib/icloud-error.h"

#define SESSION_SUFFIX    ".session.json"
#define LOCK_SUFFIX       ".lock"
#define FORMAT_VERSION    1
/* A session file is a few KiB; anything much larger is not ours. */
#define MAX_FILE_SIZE     (4 * 1024 * 1024)
/* Keep `<base>.session.json.corrupt-<time>` well under NAME_MAX. */
#define MAX_BASE_LEN      160
/* The readable part of a session file name, and the hex digits of the
 * SHA-256 of the case-folded Apple ID after it. */
#define MAX_STEM_LEN      64
#define ACCOUNT_HASH_LEN  16

struct _ICloudStore
{
  GObject        parent_instance;

  char          *directory;
  char          *apple_id;
  char          *base;        /* <readable stem>-<hash of the case-folded ID> */
  char          *file_name;   /* <base>.session.json */
  char          *legacy_file_name; /* 0.1.0's <pyicloud base>.session.json */
  char          *path;        /* directory/file_name */
  char          *lock_name;   /* <base>.lock */
  ICloudSecretStore secret_store;

  GHashTable    *data;        /* key → value; values wiped on removal */
  SoupCookieJar *jar;

  /* What is on disk as far as we know (the bytes last loaded or saved),
   * NULL when unknown or absent. Secret: wiped before it is freed. */
  char          *last_bytes;
  gsize          last_len;

  guint          n_writes;

  int            lock_fd;
  guint          lock_count;
};

G_DEFINE_FINAL_TYPE (ICloudStore, icloud_store, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static void
wipe_free (gpointer p)
{
  if (p != NULL)
    {
      explicit_bzero (p, strlen (p));
      g_free (p);
    }
}

static void
clear_last_bytes (ICloudStore *self)
{
  if (self->last_bytes != NULL)
    {
      explicit_bzero (self->last_bytes, self->last_len);
      g_clear_pointer (&self->last_bytes, g_free);
    }
  self->last_len = 0;
}

/* Takes ownership of @bytes. */
static void
set_last_bytes (ICloudStore *self,
                char        *bytes,
                gsize        len)
{
  clear_last_bytes (self);
  self->last_bytes = bytes;
  self->last_len = len;
}

static void
clear_cookies (ICloudStore *self)
{
  GSList *cookies = soup_cookie_jar_all_cookies (self->jar);

  for (GSList *l = cookies; l != NULL; l = l->next)
    soup_cookie_jar_delete_cookie (self->jar, l->data);
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
}

static gboolean
cookie_is_expired (SoupCookie *cookie,
                   gint64      now)
{
  GDateTime *expires = soup_cookie_get_expires (cookie);

  return expires != NULL && g_date_time_to_unix (expires) <= now;
}

static const char *
same_site_to_string (SoupSameSitePolicy policy)
{
  switch (policy)
    {
    case SOUP_SAME_SITE_POLICY_NONE:
      return "None";
    case SOUP_SAME_SITE_POLICY_STRICT:
      return "Strict";
    case SOUP_SAME_SITE_POLICY_LAX:
    default:
      return "Lax";
    }
}

static gboolean
same_site_from_string (const char         *str,
                       SoupSameSitePolicy *policy)
{
  if (g_strcmp0 (str, "None") == 0)
    *policy = SOUP_SAME_SITE_POLICY_NONE;
  else if (g_strcmp0 (str, "Lax") == 0)
    *policy = SOUP_SAME_SITE_POLICY_LAX;
  else if (g_strcmp0 (str, "Strict") == 0)
    *policy = SOUP_SAME_SITE_POLICY_STRICT;
  else
    return FALSE;
  return TRUE;
}

static void
set_storage_error (GError     **error,
                   int          saved_errno,
                   const char  *format,
                   const char  *name)
{
  g_autofree char *what = g_strdup_printf (format, name);

  g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
               "%s: %s", what, g_strerror (saved_errno));
}

/* ------------------------------------------------------------------ */
/* Names                                                                */

char *
icloud_store_default_directory (void)
{
  return g_build_filename (g_get_user_state_dir (), "icloud-glib", NULL);
}

static char *
hash_prefix (const char *apple_id)
{
  g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256,
                                                        apple_id, -1);

  return g_strndup (sum, 16);
}

char *
icloud_store_base_name (const char *apple_id)
{
  GString *base;

  g_return_val_if_fail (apple_id != NULL, NULL);

  base = g_string_new (NULL);

  /* pyicloud: re.sub(r"\W", "", apple_id), with Python's Unicode \w
   * (letters, digits, underscore). */
  if (g_utf8_validate (apple_id, -1, NULL))
    {
      for (const char *p = apple_id; *p != '\0'; p = g_utf8_next_char (p))
        {
          gunichar c = g_utf8_get_char (p);

          if (g_unichar_isalnum (c) || c == '_')
            g_string_append_unichar (base, c);
        }
    }

  if (base->len == 0)
    {
      g_autofree char *hash = hash_prefix (apple_id);

      g_string_append (base, "account");
      g_string_append (base, hash);
    }
  else if (base->len > MAX_BASE_LEN)
    {
      /* Not something pyicloud could have written either; keep the name
       * usable and unique. */
      g_autofree char *hash = hash_prefix (apple_id);
      const char *end = g_utf8_find_prev_char (base->str,
                                               base->str + MAX_BASE_LEN - 16);

      g_string_truncate (base, end - base->str);
      g_string_append_c (base, '-');
      g_string_append (base, hash);
    }

  return g_string_free (base, FALSE);
}

/* Apple IDs compare without regard to case: one key for one account. */
static char *
fold_apple_id (const char *apple_id)
{
  g_autofree char *normal = g_utf8_normalize (apple_id, -1, G_NORMALIZE_DEFAULT);

  return g_utf8_casefold (normal != NULL ? normal : apple_id, -1);
}

static gboolean
same_apple_id (const char *a,
               const char *b)
{
  g_autofree char *fa = fold_apple_id (a);
  g_autofree char *fb = fold_apple_id (b);

  return g_str_equal (fa, fb);
}

char *
icloud_store_account_name (const char *apple_id)
{
  g_autofree char *folded = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *sum = NULL;
  const char *end;

  g_return_val_if_fail (apple_id != NULL, NULL);
  g_return_val_if_fail (g_utf8_validate (apple_id, -1, NULL), NULL);

  /* The readable stem is the pyicloud name of the case-folded ID, cut
   * short; what tells accounts apart is the hash of the whole folded ID
   * ("user@example.com" and "u.ser@example.com" have one stem). */
  folded = fold_apple_id (apple_id);
  stem = icloud_store_base_name (folded);
  if (strlen (stem) > MAX_STEM_LEN)
    {
      end = g_utf8_find_prev_char (stem, stem + MAX_STEM_LEN + 1);
      stem[end - stem] = '\0';
    }
  sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, folded, -1);
  return g_strdup_printf ("%s-%.*s", stem, ACCOUNT_HASH_LEN, sum);
}

/* ------------------------------------------------------------------ */
/* Object                                                               */

static void
icloud_store_finalize (GObject *object)
{
  ICloudStore *self = ICLOUD_STORE (object);

  if (self->lock_fd >= 0)
    {
      flock (self->lock_fd, LOCK_UN);
      close (self->lock_fd);
      self->lock_fd = -1;
    }

  clear_last_bytes (self);
  g_clear_pointer (&self->data, g_hash_table_unref);
  g_clear_object (&self->jar);
  g_free (self->directory);
  g_free (self->apple_id);
  g_free (self->base);
  g_free (self->file_name);
  g_free (self->legacy_file_name);
  g_free (self->path);
  g_free (self->lock_name);

  G_OBJECT_CLASS (icloud_store_parent_class)->finalize (object);
}

static void
icloud_store_class_init (ICloudStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = icloud_store_finalize;
}

static void
icloud_store_init (ICloudStore *self)
{
  self->lock_fd = -1;
  self->data = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
  self->jar = soup_cookie_jar_new ();
  soup_cookie_jar_set_accept_policy (self->jar, SOUP_COOKIE_JAR_ACCEPT_ALWAYS);
}

ICloudStore *
icloud_store_new (const char *directory,
                  const char *apple_id)
{
  return icloud_store_new_full (directory, apple_id, ICLOUD_SECRET_STORE_FILE);
}

ICloudStore *
icloud_store_new_full (const char        *directory,
                       const char        *apple_id,
                       ICloudSecretStore  secret_store)
{
  ICloudStore *self;
  g_autofree char *dir = NULL;

  g_return_val_if_fail (apple_id != NULL, NULL);
  g_return_val_if_fail (g_utf8_validate (apple_id, -1, NULL), NULL);
  g_return_val_if_fail (secret_store == ICLOUD_SECRET_STORE_FILE ||
                        secret_store == ICLOUD_SECRET_STORE_KEYRING, NULL);

  dir = directory != NULL ? g_strdup (directory) : icloud_store_default_directory ();

  self = g_object_new (ICLOUD_TYPE_STORE, NULL);
  /* Absolute, no trailing slash: so that lstat/O_NOFOLLOW see the
   * directory itself and not what a symbolic link points to. */
  self->directory = g_canonicalize_filename (dir, NULL);
  self->apple_id = g_strdup (apple_id);
  self->base = icloud_store_account_name (apple_id);
  self->file_name = g_strconcat (self->base, SESSION_SUFFIX, NULL);
  {
    g_autofree char *legacy = icloud_store_base_name (apple_id);
    self->legacy_file_name = g_strconcat (legacy, SESSION_SUFFIX, NULL);
  }
  self->lock_name = g_strconcat (self->base, LOCK_SUFFIX, NULL);
  self->path = g_build_filename (self->directory, self->file_name, NULL);
  self->secret_store = secret_store;

  return self;
}

ICloudSecretStore
icloud_store_get_secret_store (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), ICLOUD_SECRET_STORE_FILE);
  return self->secret_store;
}

gboolean
icloud_store_keyring_supported (void)
{
#ifdef HAVE_LIBSECRET
  return TRUE;
#else
  return FALSE;
#endif
}

const char *
icloud_store_get_directory (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  return self->directory;
}

const char *
icloud_store_get_path (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  return self->path;
}

const char *
icloud_store_get_apple_id (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  return self->apple_id;
}

guint
icloud_store_get_n_writes (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), 0);
  return self->n_writes;
}

const char *
icloud_store_get (ICloudStore *self,
                  const char  *key)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  return g_hash_table_lookup (self->data, key);
}

void
icloud_store_set (ICloudStore *self,
                  const char  *key,
                  const char  *value)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (key != NULL && *key != '\0');
  g_return_if_fail (g_utf8_validate (key, -1, NULL));
  g_return_if_fail (value == NULL || g_utf8_validate (value, -1, NULL));

  if (value == NULL || *value == '\0')
    g_hash_table_remove (self->data, key);
  else
    g_hash_table_replace (self->data, g_strdup (key), g_strdup (value));
}

SoupCookieJar *
icloud_store_get_cookie_jar (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  return self->jar;
}

/* ------------------------------------------------------------------ */
/* The directory                                                        */

/* Creates the directory if needed, refuses a symbolic link or a directory
 * that is not ours, tightens it to 0700, and returns an fd for it. */
static int
open_directory (ICloudStore  *self,
                GError      **error)
{
  struct stat st;
  int fd;

  if (g_mkdir_with_parents (self->directory, 0700) != 0)
    {
      set_storage_error (error, errno,
                         "Cannot create the session directory %s",
                         self->directory);
      return -1;
    }

  fd = open (self->directory,
             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ELOOP ||
          (saved_errno == ENOTDIR &&
           lstat (self->directory, &st) == 0 && S_ISLNK (st.st_mode)))
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session directory %s is a symbolic link; "
                     "refusing to use it", self->directory);
      else
        set_storage_error (error, saved_errno,
                           "Cannot open the session directory %s",
                           self->directory);
      return -1;
    }

  if (fstat (fd, &st) != 0)
    {
      set_storage_error (error, errno,
                         "Cannot inspect the session directory %s",
                         self->directory);
      close (fd);
      return -1;
    }

  if (st.st_uid != geteuid ())
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                   "The session directory %s belongs to another user; "
                   "refusing to use it", self->directory);
      close (fd);
      return -1;
    }

  if ((st.st_mode & 07777) != 0700)
    {
      if (fchmod (fd, 0700) != 0)
        {
          set_storage_error (error, errno,
                             "Cannot make the session directory %s private",
                             self->directory);
          close (fd);
          return -1;
        }
      g_debug ("Tightened the session directory %s to 0700", self->directory);
    }

  return fd;
}

/* ------------------------------------------------------------------ */
/* Serialisation                                                        */

static int
compare_cookies (gconstpointer a,
                 gconstpointer b)
{
  SoupCookie *ca = (SoupCookie *) a;
  SoupCookie *cb = (SoupCookie *) b;
  int r;

  if ((r = g_strcmp0 (soup_cookie_get_domain (ca), soup_cookie_get_domain (cb))) != 0)
    return r;
  if ((r = g_strcmp0 (soup_cookie_get_path (ca), soup_cookie_get_path (cb))) != 0)
    return r;
  return g_strcmp0 (soup_cookie_get_name (ca), soup_cookie_get_name (cb));
}

/* Returns the file content; secret, the caller wipes it. Members in sorted
 * order everywhere so that equal states give equal bytes. */
static char *
serialise (ICloudStore *self,
           gsize       *len)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GList) keys = NULL;
  GSList *cookies;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  char *out;

  json_builder_begin_object (builder);

  json_builder_set_member_name (builder, "apple_id");
  json_builder_add_string_value (builder, self->apple_id);

  json_builder_set_member_name (builder, "cookies");
  json_builder_begin_array (builder);
  cookies = soup_cookie_jar_all_cookies (self->jar);
  cookies = g_slist_sort (cookies, compare_cookies);
  for (GSList *l = cookies; l != NULL; l = l->next)
    {
      SoupCookie *cookie = l->data;
      GDateTime *expires = soup_cookie_get_expires (cookie);
      const char *path = soup_cookie_get_path (cookie);

      if (soup_cookie_get_domain (cookie) == NULL ||
          cookie_is_expired (cookie, now))
        continue;

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "domain");
      json_builder_add_string_value (builder, soup_cookie_get_domain (cookie));
      if (expires != NULL)
        {
          json_builder_set_member_name (builder, "expires");
          json_builder_add_int_value (builder, g_date_time_to_unix (expires));
        }
      json_builder_set_member_name (builder, "http_only");
      json_builder_add_boolean_value (builder, soup_cookie_get_http_only (cookie));
      json_builder_set_member_name (builder, "name");
      json_builder_add_string_value (builder, soup_cookie_get_name (cookie));
      json_builder_set_member_name (builder, "path");
      json_builder_add_string_value (builder, path != NULL ? path : "/");
      json_builder_set_member_name (builder, "same_site");
      json_builder_add_string_value (builder,
                                     same_site_to_string (soup_cookie_get_same_site_policy (cookie)));
      json_builder_set_member_name (builder, "secure");
      json_builder_add_boolean_value (builder, soup_cookie_get_secure (cookie));
      json_builder_set_member_name (builder, "value");
      json_builder_add_string_value (builder, soup_cookie_get_value (cookie));
      json_builder_end_object (builder);
    }
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "data");
  json_builder_begin_object (builder);
  keys = g_list_sort (g_hash_table_get_keys (self->data), (GCompareFunc) strcmp);
  for (GList *l = keys; l != NULL; l = l->next)
    {
      json_builder_set_member_name (builder, l->data);
      json_builder_add_string_value (builder,
                                     g_hash_table_lookup (self->data, l->data));
    }
  json_builder_end_object (builder);

  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, FORMAT_VERSION);

  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_pretty (generator, TRUE);
  json_generator_set_indent (generator, 2);
  json_generator_set_root (generator, root);
  out = json_generator_to_data (generator, len);

  return out;
}

static gboolean
member_is_string (JsonObject *object,
                  const char *name,
                  gboolean    optional)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return optional;
  /* json-glib lets a lone surrogate escape ("\ud800") through as bytes that
   * are not UTF-8; such a file was not written by us. */
  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_STRING &&
         g_utf8_validate (json_node_get_string (node), -1, NULL);
}

static gboolean
member_is_boolean (JsonObject *object,
                   const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return TRUE;
  return JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN;
}

/* Parses the file content into @data and @cookies. On FALSE, @why says what
 * is wrong (no content in it). */
static gboolean
parse (ICloudStore  *self,
       const char   *bytes,
       gsize         len,
       GHashTable   *data,
       GSList      **cookies,
       const char  **why)
{
  g_autoptr(JsonNode) root = NULL;
  JsonNode *node;
  JsonObject *object, *data_object;
  JsonArray *array = NULL;
  g_autoptr(GList) members = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gboolean too_deep = FALSE;

  if (!g_utf8_validate (bytes, len, NULL))
    {
      *why = "not JSON";
      return FALSE;
    }
  root = icloud_json_parse (bytes, len, &too_deep);
  if (too_deep)
    {
      *why = "nested too deep";
      return FALSE;
    }
  if (root == NULL)
    {
      *why = "not JSON";
      return FALSE;
    }
  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      *why = "not a JSON object";
      return FALSE;
    }
  object = json_node_get_object (root);

  node = json_object_get_member (object, "version");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    {
      *why = "no format version";
      return FALSE;
    }
  if (json_node_get_int (node) != FORMAT_VERSION)
    {
      *why = "unknown format version";
      return FALSE;
    }

  if (!member_is_string (object, "apple_id", FALSE))
    {
      *why = "no Apple ID";
      return FALSE;
    }
  if (!same_apple_id (json_object_get_string_member (object, "apple_id"),
                      self->apple_id))
    {
      *why = "belongs to another Apple ID";
      return FALSE;
    }

  node = json_object_get_member (object, "data");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      *why = "no data object";
      return FALSE;
    }
  data_object = json_node_get_object (node);
  members = json_object_get_members (data_object);
  for (GList *l = members; l != NULL; l = l->next)
    {
      const char *key = l->data;
      const char *value;

      if (!g_utf8_validate (key, -1, NULL) ||
          !member_is_string (data_object, key, FALSE))
        {
          *why = "a data value is not a string";
          return FALSE;
        }
      value = json_object_get_string_member (data_object, key);
      if (*key != '\0' && *value != '\0')
        g_hash_table_replace (data, g_strdup (key), g_strdup (value));
    }

  node = json_object_get_member (object, "cookies");
  if (node != NULL && !JSON_NODE_HOLDS_NULL (node))
    {
      if (!JSON_NODE_HOLDS_ARRAY (node))
        {
          *why = "cookies is not an array";
          return FALSE;
        }
      array = json_node_get_array (node);
    }

  for (guint i = 0; array != NULL && i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *c;
      JsonNode *expires_node;
      SoupCookie *cookie;
      SoupSameSitePolicy same_site = SOUP_SAME_SITE_POLICY_LAX;
      gint64 expires = -1;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        {
          *why = "a cookie is not an object";
          return FALSE;
        }
      c = json_node_get_object (element);

      if (!member_is_string (c, "name", FALSE) ||
          !member_is_string (c, "value", FALSE) ||
          !member_is_string (c, "domain", FALSE) ||
          !member_is_string (c, "path", TRUE) ||
          !member_is_string (c, "same_site", TRUE) ||
          !member_is_boolean (c, "secure") ||
          !member_is_boolean (c, "http_only"))
        {
          *why = "a cookie has a wrong member";
          return FALSE;
        }

      if (json_object_has_member (c, "same_site") &&
          !same_site_from_string (json_object_get_string_member (c, "same_site"),
                                  &same_site))
        {
          *why = "a cookie has an unknown same-site policy";
          return FALSE;
        }

      expires_node = json_object_get_member (c, "expires");
      if (expires_node != NULL && !JSON_NODE_HOLDS_NULL (expires_node))
        {
          if (!JSON_NODE_HOLDS_VALUE (expires_node) ||
              json_node_get_value_type (expires_node) != G_TYPE_INT64)
            {
              *why = "a cookie has a wrong expiry";
              return FALSE;
            }
          expires = json_node_get_int (expires_node);
          if (expires <= now)
            continue;   /* expired: dropped */
        }

      if (*json_object_get_string_member (c, "domain") == '\0')
        continue;

      cookie = soup_cookie_new (json_object_get_string_member (c, "name"),
                                json_object_get_string_member (c, "value"),
                                json_object_get_string_member (c, "domain"),
                                json_object_get_string_member_with_default (c, "path", "/"),
                                -1);
      if (expires >= 0)
        {
          g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (expires);

          if (dt == NULL)
            {
              soup_cookie_free (cookie);
              *why = "a cookie has a wrong expiry";
              return FALSE;
            }
          soup_cookie_set_expires (cookie, dt);
        }
      soup_cookie_set_secure (cookie,
                              json_object_get_boolean_member_with_default (c, "secure", FALSE));
      soup_cookie_set_http_only (cookie,
                                 json_object_get_boolean_member_with_default (c, "http_only", FALSE));
      soup_cookie_set_same_site_policy (cookie, same_site);

      *cookies = g_slist_prepend (*cookies, cookie);
    }

  *cookies = g_slist_reverse (*cookies);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The keyring                                                          */

/* The keyring calls below are libsecret's synchronous ones: they run on a
 * private main context and block the calling thread for a round trip to
 * the Secret Service. Simple and good enough for one small secret per
 * operation; a later version may use the asynchronous calls. */

static void
keyring_unavailable (GError     **error,
                     const GError *cause)
{
  g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
               "The keyring is not available: %s; use the file store instead",
               cause != NULL ? cause->message : "built without libsecret");
}

#ifdef HAVE_LIBSECRET

static const SecretSchema keyring_schema = {
  "org.gnome.ICloudGlib.Session", SECRET_SCHEMA_NONE,
  {
    { "apple-id", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "version", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  }
};

#define KEYRING_VERSION "1"

/* Clears the secret; a missing one is fine. */
static gboolean
keyring_clear (ICloudStore  *self,
               GError      **error)
{
  g_autoptr(GError) local_error = NULL;

  secret_password_clear_sync (&keyring_schema, NULL, &local_error,
                              "apple-id", self->apple_id,
                              "version", KEYRING_VERSION,
                              NULL);
  if (local_error != NULL)
    {
      keyring_unavailable (error, local_error);
      return FALSE;
    }
  return TRUE;
}

/* The secret's bytes in a g_malloc'd buffer (the caller wipes it), NULL
 * when there is none (@error unset) or on error. */
static char *
keyring_lookup (ICloudStore  *self,
                gsize        *len_out,
                GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  char *secret;
  char *bytes;
  gsize len;

  secret = secret_password_lookup_sync (&keyring_schema, NULL, &local_error,
                                        "apple-id", self->apple_id,
                                        "version", KEYRING_VERSION,
                                        NULL);
  if (local_error != NULL)
    {
      keyring_unavailable (error, local_error);
      return NULL;
    }
  if (secret == NULL)
    return NULL;

  len = strlen (secret);
  bytes = g_malloc (len + 1);
  memcpy (bytes, secret, len + 1);
  secret_password_free (secret);   /* wipes */

  *len_out = len;
  return bytes;
}

static gboolean
keyring_store (ICloudStore  *self,
               const char   *bytes,
               GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autofree char *label = g_strdup_printf ("iCloud session of %s", self->apple_id);

  if (!secret_password_store_sync (&keyring_schema, SECRET_COLLECTION_DEFAULT,
                                   label, bytes, NULL, &local_error,
                                   "apple-id", self->apple_id,
                                   "version", KEYRING_VERSION,
                                   NULL))
    {
      keyring_unavailable (error, local_error);
      return FALSE;
    }
  return TRUE;
}

static void
clear_state (ICloudStore *self)
{
  g_hash_table_remove_all (self->data);
  clear_cookies (self);
  clear_last_bytes (self);
}

/* Takes ownership of @cookies (the jar takes each cookie) and of @data. */
static void
install_state (ICloudStore *self,
               GHashTable  *data,
               GSList      *cookies)
{
  g_hash_table_remove_all (self->data);
  g_hash_table_unref (self->data);
  self->data = data;

  clear_cookies (self);
  for (GSList *l = cookies; l != NULL; l = l->next)
    soup_cookie_jar_add_cookie (self->jar, l->data);   /* takes ownership */
  g_slist_free (cookies);
}

#endif /* HAVE_LIBSECRET */

static gboolean
keyring_load (ICloudStore  *self,
              GError      **error)
{
#ifdef HAVE_LIBSECRET
  g_autoptr(GHashTable) data = NULL;
  GSList *cookies = NULL;
  GError *local_error = NULL;
  const char *why = NULL;
  char *bytes;
  gsize len = 0;
  guint n_keys;
  int dir_fd;

  /* The directory holds the lock: the same rules as for the file store. */
  dir_fd = open_directory (self, error);
  if (dir_fd < 0)
    return FALSE;
  close (dir_fd);

  bytes = keyring_lookup (self, &len, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (bytes == NULL)
    {
      g_debug ("No session of %s in the keyring", self->apple_id);
      clear_state (self);
      return TRUE;
    }

  data = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
  if (len > MAX_FILE_SIZE)
    why = "too large";
  else if (!parse (self, bytes, len, data, &cookies, &why))
    g_slist_free_full (g_steal_pointer (&cookies), (GDestroyNotify) soup_cookie_free);

  if (why != NULL)
    {
      explicit_bzero (bytes, len);
      g_free (bytes);

      /* Like a corrupt file: never a crash, no session. Clearing it is
       * best effort (the next save replaces it anyway). */
      if (keyring_clear (self, &local_error))
        g_debug ("The session secret of %s in the keyring is unusable (%s); "
                 "cleared it", self->apple_id, why);
      else
        {
          g_debug ("The session secret of %s in the keyring is unusable (%s) "
                   "and could not be cleared: %s",
                   self->apple_id, why, local_error->message);
          g_clear_error (&local_error);
        }
      clear_state (self);
      return TRUE;
    }

  n_keys = g_hash_table_size (data);
  g_debug ("Loaded the session of %s from the keyring (%u keys, %u cookies)",
           self->apple_id, n_keys, g_slist_length (cookies));
  install_state (self, g_steal_pointer (&data), cookies);
  set_last_bytes (self, bytes, len);

  return TRUE;
#else
  keyring_unavailable (error, NULL);
  return FALSE;
#endif
}

/* Takes ownership of @bytes (wiped). */
static gboolean
keyring_save (ICloudStore  *self,
              char         *bytes,
              gsize         len,
              GError      **error)
{
#ifdef HAVE_LIBSECRET
  if (!keyring_store (self, bytes, error))
    {
      explicit_bzero (bytes, len);
      g_free (bytes);
      return FALSE;
    }

  set_last_bytes (self, bytes, len);
  self->n_writes++;
  g_debug ("Saved the session of %s in the keyring", self->apple_id);
  return TRUE;
#else
  explicit_bzero (bytes, len);
  g_free (bytes);
  keyring_unavailable (error, NULL);
  return FALSE;
#endif
}

static gboolean
keyring_delete (ICloudStore  *self,
                GError      **error)
{
#ifdef HAVE_LIBSECRET
  int dir_fd = open_directory (self, error);

  if (dir_fd < 0)
    return FALSE;
  close (dir_fd);

  if (!keyring_clear (self, error))
    return FALSE;
  g_debug ("Cleared the session of %s from the keyring", self->apple_id);
  return TRUE;
#else
  keyring_unavailable (error, NULL);
  return FALSE;
#endif
}

/* ------------------------------------------------------------------ */
/* Load                                                                 */

static void
set_aside (ICloudStore *self,
           int          dir_fd,
           const char  *why)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *aside = NULL;

  for (guint i = 0; i < 100; i++)
    {
      struct stat st;

      g_free (aside);
      if (i == 0)
        aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT, self->file_name, now);
      else
        aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT "-%u",
                                 self->file_name, now, i);

      if (fstatat (dir_fd, aside, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
        break;
    }

  if (renameat (dir_fd, self->file_name, dir_fd, aside) == 0)
    {
      g_debug ("The session file %s is unusable (%s); moved it aside to %s",
               self->path, why, aside);
    }
  else
    {
      int saved_errno = errno;

      /* Not fatal: the next save replaces it. */
      g_debug ("The session file %s is unusable (%s) and could not be "
               "moved aside: %s", self->path, why, g_strerror (saved_errno));
    }
}

/* Reads the whole file @name; NULL with errno set on error. ENOENT when
 * absent, EFBIG when too large, EINVAL when not a regular file (a FIFO is
 * opened without waiting for a writer, then refused), EPERM when another
 * user owns it. */
static char *
read_file (ICloudStore *self,
           int          dir_fd,
           const char  *name,
           gsize       *len_out)
{
  struct stat st;
  char *buf;
  gsize len = 0;
  int fd;

  fd = openat (dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
  if (fd < 0)
    return NULL;

  if (fstat (fd, &st) != 0)
    {
      int saved_errno = errno;

      close (fd);
      errno = saved_errno;
      return NULL;
    }

  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      errno = EINVAL;
      return NULL;
    }

  /* In our own 0700 directory, a file of someone else's was put there by
   * someone with more rights than ours: not ours to trust. */
  if (st.st_uid != geteuid ())
    {
      close (fd);
      errno = EPERM;
      return NULL;
    }

  if (st.st_size > MAX_FILE_SIZE)
    {
      close (fd);
      errno = EFBIG;
      return NULL;
    }

  /* A session file written by someone else with a loose mode: ours now. */
  if ((st.st_mode & 0077) != 0)
    (void) fchmod (fd, 0600);

  buf = g_malloc (st.st_size + 1);
  while (len < (gsize) st.st_size)
    {
      gssize n = read (fd, buf + len, st.st_size - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          explicit_bzero (buf, len);
          g_free (buf);
          close (fd);
          errno = saved_errno;
          return NULL;
        }
      if (n == 0)
        break;  /* shrunk while reading */
      len += n;
    }
  buf[len] = '\0';
  close (fd);

  *len_out = len;
  return buf;
}

/* 0.1.0 named a session file after the Apple ID with its punctuation
 * removed, so that two accounts could share one name. When this account
 * has no file under its own name but one under the old name holds this
 * very Apple ID, it is renamed (the same atomic rename a save ends with)
 * and its content returned; a file of another account under that name is
 * left as it is. NULL with errno ENOENT otherwise. */
static char *
take_legacy_file (ICloudStore *self,
                  int          dir_fd,
                  gsize       *len_out)
{
  g_autoptr(GHashTable) data = NULL;
  GSList *cookies = NULL;
  const char *why = NULL;
  gboolean ours;
  char *bytes;
  gsize len = 0;

  bytes = read_file (self, dir_fd, self->legacy_file_name, &len);
  if (bytes == NULL)
    {
      errno = ENOENT;
      return NULL;
    }

  data = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
  ours = parse (self, bytes, len, data, &cookies, &why);
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  if (!ours ||
      renameat (dir_fd, self->legacy_file_name, dir_fd, self->file_name) != 0)
    {
      explicit_bzero (bytes, len);
      g_free (bytes);
      errno = ENOENT;
      return NULL;
    }
  (void) fsync (dir_fd);
  g_debug ("Renamed the session file %s to %s", self->legacy_file_name, self->file_name);

  *len_out = len;
  return bytes;
}

gboolean
icloud_store_load (ICloudStore  *self,
                   GError      **error)
{
  g_autoptr(GHashTable) data = NULL;
  GSList *cookies = NULL;
  const char *why = NULL;
  char *bytes;
  gsize len = 0;
  int dir_fd;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->secret_store == ICLOUD_SECRET_STORE_KEYRING)
    return keyring_load (self, error);

  dir_fd = open_directory (self, error);
  if (dir_fd < 0)
    return FALSE;

  bytes = read_file (self, dir_fd, self->file_name, &len);
  if (bytes == NULL && errno == ENOENT)
    bytes = take_legacy_file (self, dir_fd, &len);
  if (bytes == NULL)
    {
      int saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          g_debug ("No session file %s", self->path);
          g_hash_table_remove_all (self->data);
          clear_cookies (self);
          clear_last_bytes (self);
          close (dir_fd);
          return TRUE;
        }

      if (saved_errno == EFBIG)
        {
          set_aside (self, dir_fd, "too large");
          g_hash_table_remove_all (self->data);
          clear_cookies (self);
          clear_last_bytes (self);
          close (dir_fd);
          return TRUE;
        }

      if (saved_errno == ELOOP)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session file %s is a symbolic link; refusing to use it",
                     self->path);
      else if (saved_errno == EINVAL)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session file %s is not a regular file", self->path);
      else if (saved_errno == EPERM)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session file %s belongs to another user; refusing to use it",
                     self->path);
      else
        set_storage_error (error, saved_errno,
                           "Cannot read the session file %s", self->path);
      close (dir_fd);
      return FALSE;
    }

  data = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
  if (!parse (self, bytes, len, data, &cookies, &why))
    {
      g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
      explicit_bzero (bytes, len);
      g_free (bytes);

      set_aside (self, dir_fd, why);
      g_hash_table_remove_all (self->data);
      clear_cookies (self);
      clear_last_bytes (self);
      close (dir_fd);
      return TRUE;
    }

  close (dir_fd);

  g_hash_table_remove_all (self->data);
  g_hash_table_unref (self->data);
  self->data = g_steal_pointer (&data);

  clear_cookies (self);
  for (GSList *l = cookies; l != NULL; l = l->next)
    soup_cookie_jar_add_cookie (self->jar, l->data);   /* takes ownership */

  g_debug ("Loaded the session file %s (%u keys, %u cookies)",
           self->path, g_hash_table_size (self->data), g_slist_length (cookies));
  g_slist_free (cookies);

  /* The raw file content: if it is not exactly what we would write (an
   * expired cookie dropped, another layout), the next save rewrites it. */
  set_last_bytes (self, bytes, len);

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Save                                                                 */

static gboolean
write_all (int         fd,
           const char *buf,
           gsize       len)
{
  while (len > 0)
    {
      gssize n = write (fd, buf, len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      buf += n;
      len -= n;
    }
  return TRUE;
}

/* Creates `<file_name>.XXXXXX` with O_EXCL and mode 0600 in @dir_fd. */
static int
create_temp (ICloudStore  *self,
             int           dir_fd,
             char        **name_out)
{
  static const char letters[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

  for (guint attempt = 0; attempt < 100; attempt++)
    {
      char suffix[7];
      char *name;
      int fd;

      for (guint i = 0; i < 6; i++)
        suffix[i] = letters[g_random_int_range (0, sizeof letters - 1)];
      suffix[6] = '\0';

      name = g_strdup_printf ("%s.%s", self->file_name, suffix);
      fd = openat (dir_fd, name,
                   O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
                   0600);
      if (fd >= 0)
        {
          *name_out = name;
          return fd;
        }

      g_free (name);
      if (errno != EEXIST)
        return -1;
    }

  errno = EEXIST;
  return -1;
}

gboolean
icloud_store_save (ICloudStore  *self,
                   GError      **error)
{
  g_autofree char *tmp_name = NULL;
  char *bytes;
  gsize len = 0;
  int dir_fd, fd;
  int saved_errno;
  const char *step;
  const char *step_name = self->path;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  bytes = serialise (self, &len);

  if (self->last_bytes != NULL && self->last_len == len &&
      memcmp (self->last_bytes, bytes, len) == 0)
    {
      explicit_bzero (bytes, len);
      g_free (bytes);
      return TRUE;
    }

  if (self->secret_store == ICLOUD_SECRET_STORE_KEYRING)
    return keyring_save (self, bytes, len, error);

  dir_fd = open_directory (self, error);
  if (dir_fd < 0)
    {
      explicit_bzero (bytes, len);
      g_free (bytes);
      return FALSE;
    }

  fd = create_temp (self, dir_fd, &tmp_name);
  if (fd < 0)
    {
      saved_errno = errno;
      step = "Cannot create a temporary file in %s";
      step_name = self->directory;
      goto fail;
    }

  /* Exactly 0600 whatever the umask. */
  if (fchmod (fd, 0600) != 0)
    {
      saved_errno = errno;
      step = "Cannot set the mode of the session file %s";
      goto fail;
    }

  if (!write_all (fd, bytes, len))
    {
      saved_errno = errno;
      step = "Cannot write the session file %s";
      goto fail;
    }

  if (fsync (fd) != 0)
    {
      saved_errno = errno;
      step = "Cannot flush the session file %s";
      goto fail;
    }

  if (close (fd) != 0)
    {
      fd = -1;
      saved_errno = errno;
      step = "Cannot write the session file %s";
      goto fail;
    }
  fd = -1;

  if (renameat (dir_fd, tmp_name, dir_fd, self->file_name) != 0)
    {
      saved_errno = errno;
      step = "Cannot replace the session file %s";
      goto fail;
    }
  g_clear_pointer (&tmp_name, g_free);

  /* Make the rename durable; some file systems refuse fsync on a
   * directory, which is not worth failing for. */
  if (fsync (dir_fd) != 0)
    g_debug ("Cannot flush the session directory %s: %s",
             self->directory, g_strerror (errno));
  close (dir_fd);

  set_last_bytes (self, bytes, len);
  self->n_writes++;
  g_debug ("Saved the session file %s", self->path);

  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  if (tmp_name != NULL)
    unlinkat (dir_fd, tmp_name, 0);
  close (dir_fd);
  explicit_bzero (bytes, len);
  g_free (bytes);

  set_storage_error (error, saved_errno, step, step_name);
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Reset and delete                                                     */

static gboolean
should_drop (gpointer key,
             gpointer value,
             gpointer user_data)
{
  gboolean keep_trust = GPOINTER_TO_INT (user_data);

  /* The client id and the record of recent password sign-ins are
   * long-lived, like the trust token. */
  if (g_str_equal (key, "client_id") || g_str_equal (key, "password_sign_ins"))
    return FALSE;
  if (keep_trust && g_str_equal (key, "trust_token"))
    return FALSE;
  return TRUE;
}

void
icloud_store_reset (ICloudStore *self,
                    gboolean     keep_trust)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));

  g_hash_table_foreach_remove (self->data, should_drop,
                               GINT_TO_POINTER (keep_trust ? TRUE : FALSE));
  clear_cookies (self);
}

gboolean
icloud_store_delete (ICloudStore  *self,
                     GError      **error)
{
  g_autofree char *client_id = NULL;
  int dir_fd;
  gsize len = 0;
  char *bytes;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->secret_store == ICLOUD_SECRET_STORE_KEYRING)
    {
      if (!keyring_delete (self, error))
        return FALSE;
    }
  else
    {
      dir_fd = open_directory (self, error);
      if (dir_fd < 0)
        return FALSE;

      if (unlinkat (dir_fd, self->file_name, 0) != 0 && errno != ENOENT)
        {
          set_storage_error (error, errno, "Cannot remove the session file %s",
                             self->path);
          close (dir_fd);
          return FALSE;
        }
      fsync (dir_fd);
      close (dir_fd);
      g_debug ("Removed the session file %s", self->path);
    }

  client_id = g_strdup (g_hash_table_lookup (self->data, "client_id"));
  g_hash_table_remove_all (self->data);
  if (client_id != NULL)
    g_hash_table_replace (self->data, g_strdup ("client_id"),
                          g_steal_pointer (&client_id));
  clear_cookies (self);

  /* Nothing to save until something changes: a save right after delete
   * does not bring the file back. */
  bytes = serialise (self, &len);
  set_last_bytes (self, bytes, len);

  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Lock                                                                 */

gboolean
icloud_store_lock (ICloudStore  *self,
                   GError      **error)
{
  int dir_fd, fd;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->lock_count > 0)
    {
      self->lock_count++;
      return TRUE;
    }

  dir_fd = open_directory (self, error);
  if (dir_fd < 0)
    return FALSE;

  fd = openat (dir_fd, self->lock_name,
               O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_autofree char *lock_path = g_build_filename (self->directory,
                                                     self->lock_name, NULL);

      close (dir_fd);
      set_storage_error (error, saved_errno, "Cannot open the lock file %s",
                         lock_path);
      return FALSE;
    }
  close (dir_fd);

  {
    struct stat st;

    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid ())
      {
        g_autofree char *lock_path = g_build_filename (self->directory,
                                                       self->lock_name, NULL);

        close (fd);
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The lock file %s is not a regular file of this user; refusing to use it",
                     lock_path);
        return FALSE;
      }
  }

  while (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int saved_errno = errno;

      if (saved_errno == EINTR)
        continue;

      close (fd);
      if (saved_errno == EWOULDBLOCK)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session of %s is in use by another process",
                     self->apple_id);
      else
        set_storage_error (error, saved_errno,
                           "Cannot lock the session of %s", self->apple_id);
      return FALSE;
    }

  self->lock_fd = fd;
  self->lock_count = 1;
  return TRUE;
}

void
icloud_store_unlock (ICloudStore *self)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (self->lock_count > 0);

  if (--self->lock_count > 0)
    return;

  flock (self->lock_fd, LOCK_UN);
  close (self->lock_fd);
  self->lock_fd = -1;
}
