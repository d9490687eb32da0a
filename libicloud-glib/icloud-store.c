/* icloud-store.c: one account's session on disk
 *
 * The object the session holds: the in-memory state (data map, cookie
 * jar), the file format, the only-on-change rule, the lock count, and the
 * asynchronous operations (open, save, save and unlock, delete) built on a
 * backend (icloud-store-backend-private.h: icloud-file-store.c,
 * icloud-keyring-store.c) that does the I/O off this thread. The blocking
 * functions run the very same asynchronous code on a private main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "icloud-store-private.h"
#include "icloud-store-backend-private.h"
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

#include "icloud-glib/icloud-error.h"

#define SESSION_SUFFIX    ".session.json"
#define LOCK_SUFFIX       ".lock"
#define FORMAT_VERSION    1
/* Keep `<base>.session.json.corrupt-<time>` well under NAME_MAX. */
#define MAX_BASE_LEN      160
/* The readable part of a session file name, and the hex digits of the
 * SHA-256 of the case-folded Apple ID after it. */
#define MAX_STEM_LEN      64
#define ACCOUNT_HASH_LEN  16

#define LAST_DIGEST_LEN 32   /* SHA-256 */

struct _ICloudStore
{
  GObject        parent_instance;

  ICloudStoreLocation      *location;  /* immutable, shared with workers */
  ICloudSecretStore         secret_store;
  const ICloudStoreBackend *backend;

  GHashTable    *data;        /* key → value; values wiped on removal */
  SoupCookieJar *jar;

  /* What is on disk as far as we know: the SHA-256 of the bytes last
   * loaded or saved (has_last FALSE when unknown or absent). A digest
   * rather than a copy of the file: 32 bytes per session instead of
   * about 2 KiB, and no second copy of the secrets. */
  guint8         last_digest[LAST_DIGEST_LEN];
  gboolean       has_last;

  guint          n_writes;

  int            lock_fd;
  guint          lock_count;

  gboolean       busy;        /* an operation is running */
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

GHashTable *
icloud_store_data_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, wipe_free);
}

typedef struct
{
  char  *buf;
  gsize  len;
} SecretBuffer;

static void
secret_buffer_free (gpointer p)
{
  SecretBuffer *secret = p;

  explicit_bzero (secret->buf, secret->len);
  g_free (secret->buf);
  g_free (secret);
}

GBytes *
icloud_store_secret_bytes_take (char  *buf,
                                gsize  len)
{
  SecretBuffer *secret = g_new (SecretBuffer, 1);

  secret->buf = buf;
  secret->len = len;
  return g_bytes_new_with_free_func (buf, len, secret_buffer_free, secret);
}

static void
digest_of (const char *buf,
           gsize       len,
           guint8      digest[LAST_DIGEST_LEN])
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize digest_len = LAST_DIGEST_LEN;

  g_checksum_update (checksum, (const guchar *) buf, len);
  g_checksum_get_digest (checksum, digest, &digest_len);
  g_assert (digest_len == LAST_DIGEST_LEN);
}

/* Whether @buf is what was last loaded or saved. */
static gboolean
same_as_last (ICloudStore *self,
              const char  *buf,
              gsize        len)
{
  guint8 digest[LAST_DIGEST_LEN];

  if (!self->has_last)
    return FALSE;
  digest_of (buf, len, digest);
  return memcmp (digest, self->last_digest, LAST_DIGEST_LEN) == 0;
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

void
icloud_store_set_storage_error (GError     **error,
                                int          saved_errno,
                                const char  *format,
                                const char  *name)
{
  g_autofree char *what = g_strdup_printf (format, name);

  g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
               "%s: %s", what, g_strerror (saved_errno));
}

/* ------------------------------------------------------------------ */
/* The main-thread I/O check                                            */

/* -1: not decided yet (the environment decides at the first use). */
static gint io_thread_check = -1;

void
icloud_store_set_io_thread_check (gboolean enabled)
{
  g_atomic_int_set (&io_thread_check, enabled ? 1 : 0);
}

gboolean
icloud_store_get_io_thread_check (void)
{
  gint value = g_atomic_int_get (&io_thread_check);

  if (value < 0)
    {
      const char *env = g_getenv ("ICLOUD_STORE_ASSERT_OFF_MAIN");

      value = env != NULL && *env != '\0' && !g_str_equal (env, "0") ? 1 : 0;
      g_atomic_int_compare_and_exchange (&io_thread_check, -1, value);
      value = g_atomic_int_get (&io_thread_check);
    }
  return value == 1;
}

void
icloud_store_check_io_thread (const char *what)
{
  if (icloud_store_get_io_thread_check () &&
      g_main_context_is_owner (g_main_context_default ()))
    g_error ("%s: blocking session store I/O on the thread that runs the "
             "default main context (ICLOUD_STORE_ASSERT_OFF_MAIN)", what);
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
/* Location and snapshot                                                */

static void
location_clear (gpointer p)
{
  ICloudStoreLocation *location = p;

  g_free (location->directory);
  g_free (location->apple_id);
  g_free (location->file_name);
  g_free (location->legacy_file_name);
  g_free (location->path);
  g_free (location->lock_name);
}

ICloudStoreLocation *
icloud_store_location_ref (ICloudStoreLocation *location)
{
  return g_atomic_rc_box_acquire (location);
}

void
icloud_store_location_unref (ICloudStoreLocation *location)
{
  g_atomic_rc_box_release_full (location, location_clear);
}

ICloudStoreSnapshot *
icloud_store_snapshot_new (void)
{
  ICloudStoreSnapshot *snapshot = g_new0 (ICloudStoreSnapshot, 1);

  snapshot->lock_fd = -1;
  snapshot->data = icloud_store_data_new ();
  return snapshot;
}

void
icloud_store_snapshot_free (ICloudStoreSnapshot *snapshot)
{
  icloud_store_release_lock (snapshot->lock_fd);
  g_clear_pointer (&snapshot->bytes, g_bytes_unref);
  g_clear_pointer (&snapshot->data, g_hash_table_unref);
  g_slist_free_full (snapshot->cookies, (GDestroyNotify) soup_cookie_free);
  g_free (snapshot);
}

static void
job_free (ICloudStoreJob *job)
{
  icloud_store_release_lock (job->lock_fd);
  g_clear_pointer (&job->snapshot, icloud_store_snapshot_free);
  g_clear_pointer (&job->bytes, g_bytes_unref);
  icloud_store_location_unref (job->location);
  g_free (job);
}

GTask *
icloud_store_job_new (ICloudStoreLocation *location,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data,
                      gpointer             source_tag)
{
  GTask *task = g_task_new (NULL, cancellable, callback, user_data);
  ICloudStoreJob *job = g_new0 (ICloudStoreJob, 1);

  job->location = icloud_store_location_ref (location);
  job->lock_fd = -1;
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, job, (GDestroyNotify) job_free);
  /* Cancellation is looked at once, before the I/O; a finished write or a
   * taken lock is reported as it is. */
  g_task_set_check_cancellable (task, FALSE);
  return task;
}

void
icloud_store_job_return_snapshot (GTask *task)
{
  ICloudStoreJob *job = g_task_get_task_data (task);

  g_task_return_pointer (task, g_steal_pointer (&job->snapshot),
                         (GDestroyNotify) icloud_store_snapshot_free);
}

ICloudStoreSnapshot *
icloud_store_job_propagate_snapshot (GAsyncResult  *result,
                                     gpointer       source_tag,
                                     GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

gboolean
icloud_store_job_propagate_boolean (GAsyncResult  *result,
                                    gpointer       source_tag,
                                    GError       **error)
{
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Object                                                               */

static void
icloud_store_finalize (GObject *object)
{
  ICloudStore *self = ICLOUD_STORE (object);

  icloud_store_release_lock (self->lock_fd);
  self->lock_fd = -1;

  explicit_bzero (self->last_digest, sizeof self->last_digest);
  g_clear_pointer (&self->data, g_hash_table_unref);
  g_clear_object (&self->jar);
  g_clear_pointer (&self->location, icloud_store_location_unref);

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
  self->data = icloud_store_data_new ();
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
  ICloudStoreLocation *location;
  g_autofree char *dir = NULL;
  g_autofree char *base = NULL;
  g_autofree char *legacy = NULL;

  g_return_val_if_fail (apple_id != NULL, NULL);
  g_return_val_if_fail (g_utf8_validate (apple_id, -1, NULL), NULL);
  g_return_val_if_fail (secret_store == ICLOUD_SECRET_STORE_FILE ||
                        secret_store == ICLOUD_SECRET_STORE_KEYRING, NULL);

  dir = directory != NULL ? g_strdup (directory) : icloud_store_default_directory ();
  base = icloud_store_account_name (apple_id);
  legacy = icloud_store_base_name (apple_id);

  location = g_atomic_rc_box_new0 (ICloudStoreLocation);
  /* Absolute, no trailing slash: so that lstat/O_NOFOLLOW see the
   * directory itself and not what a symbolic link points to. */
  location->directory = g_canonicalize_filename (dir, NULL);
  location->apple_id = g_strdup (apple_id);
  location->file_name = g_strconcat (base, SESSION_SUFFIX, NULL);
  location->legacy_file_name = g_strconcat (legacy, SESSION_SUFFIX, NULL);
  location->lock_name = g_strconcat (base, LOCK_SUFFIX, NULL);
  location->path = g_build_filename (location->directory, location->file_name, NULL);

  self = g_object_new (ICLOUD_TYPE_STORE, NULL);
  self->location = location;
  self->secret_store = secret_store;
  self->backend = secret_store == ICLOUD_SECRET_STORE_KEYRING
                  ? &icloud_keyring_store_backend
                  : &icloud_file_store_backend;

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
  return self->location->directory;
}

const char *
icloud_store_get_path (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  return self->location->path;
}

const char *
icloud_store_get_apple_id (ICloudStore *self)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), NULL);
  return self->location->apple_id;
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
int
icloud_store_open_directory (ICloudStoreLocation  *location,
                             GError              **error)
{
  struct stat st;
  int fd;

  icloud_store_check_io_thread ("icloud_store_open_directory");

  if (g_mkdir_with_parents (location->directory, 0700) != 0)
    {
      icloud_store_set_storage_error (error, errno,
                                                   "Cannot create the session directory %s",
                         location->directory);
      return -1;
    }

  fd = open (location->directory,
             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    {
      int saved_errno = errno;

      if (saved_errno == ELOOP ||
          (saved_errno == ENOTDIR &&
           lstat (location->directory, &st) == 0 && S_ISLNK (st.st_mode)))
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session directory %s is a symbolic link; "
                     "refusing to use it", location->directory);
      else
        icloud_store_set_storage_error (error, saved_errno,
                                        "Cannot open the session directory %s",
                           location->directory);
      return -1;
    }

  if (fstat (fd, &st) != 0)
    {
      icloud_store_set_storage_error (error, errno,
                                                   "Cannot inspect the session directory %s",
                         location->directory);
      close (fd);
      return -1;
    }

  if (st.st_uid != geteuid ())
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                   "The session directory %s belongs to another user; "
                   "refusing to use it", location->directory);
      close (fd);
      return -1;
    }

  if ((st.st_mode & 07777) != 0700)
    {
      if (fchmod (fd, 0700) != 0)
        {
          icloud_store_set_storage_error (error, errno,
                                                       "Cannot make the session directory %s private",
                             location->directory);
          close (fd);
          return -1;
        }
      g_debug ("Tightened the session directory %s to 0700", location->directory);
    }

  return fd;
}

int
icloud_store_take_lock (ICloudStoreLocation  *location,
                        int                   dir_fd,
                        GError              **error)
{
  struct stat st;
  int fd;

  icloud_store_check_io_thread ("icloud_store_take_lock");

  fd = openat (dir_fd, location->lock_name,
               O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600);
  if (fd < 0)
    {
      int saved_errno = errno;
      g_autofree char *lock_path = g_build_filename (location->directory,
                                                     location->lock_name, NULL);

      icloud_store_set_storage_error (error, saved_errno,
                                      "Cannot open the lock file %s", lock_path);
      return -1;
    }

  if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || st.st_uid != geteuid ())
    {
      g_autofree char *lock_path = g_build_filename (location->directory,
                                                     location->lock_name, NULL);

      close (fd);
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                   "The lock file %s is not a regular file of this user; refusing to use it",
                   lock_path);
      return -1;
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
                     location->apple_id);
      else
        icloud_store_set_storage_error (error, saved_errno,
                                        "Cannot lock the session of %s",
                                        location->apple_id);
      return -1;
    }

  return fd;
}

void
icloud_store_release_lock (int lock_fd)
{
  if (lock_fd < 0)
    return;
  flock (lock_fd, LOCK_UN);
  close (lock_fd);
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
  json_builder_add_string_value (builder, self->location->apple_id);

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
 * is wrong (no content in it). Pure: runs in the backends' workers. */
gboolean
icloud_store_parse (const char   *apple_id,
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
                      apple_id))
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

/* ------------------------------------------------------------------ */
/* The in-memory state                                                  */

/* Takes @bytes (may be NULL) and keeps only their digest. */
static void
set_last_bytes (ICloudStore *self,
                GBytes      *bytes)
{
  self->has_last = bytes != NULL;
  if (bytes != NULL)
    {
      gsize len;
      const char *buf = g_bytes_get_data (bytes, &len);

      digest_of (buf, len, self->last_digest);
      g_bytes_unref (bytes);
    }
}

/* Replaces data and cookies with the snapshot's (emptied). */
static void
install_state (ICloudStore         *self,
               ICloudStoreSnapshot *snapshot)
{
  g_hash_table_remove_all (self->data);
  g_hash_table_unref (self->data);
  self->data = g_steal_pointer (&snapshot->data);
  snapshot->data = icloud_store_data_new ();

  clear_cookies (self);
  for (GSList *l = snapshot->cookies; l != NULL; l = l->next)
    soup_cookie_jar_add_cookie (self->jar, l->data);   /* takes ownership */
  g_clear_pointer (&snapshot->cookies, g_slist_free);

  set_last_bytes (self, g_steal_pointer (&snapshot->bytes));
}

/* ------------------------------------------------------------------ */
/* Operations                                                           */

typedef struct
{
  ICloudStoreOpenFlags  flags;      /* open: what was asked */
  gboolean              recursive;  /* open: the lock was held already */
  gboolean              unlock;     /* save: then unlock */
  GBytes               *bytes;      /* save: what is being written */
} OpData;

static void
op_data_free (OpData *data)
{
  g_clear_pointer (&data->bytes, g_bytes_unref);
  g_free (data);
}

/* A task on @self, or NULL when it was already returned (another
 * operation running, or cancelled before anything started). */
static GTask *
op_begin (ICloudStore         *self,
          GCancellable        *cancellable,
          GAsyncReadyCallback  callback,
          gpointer             user_data,
          gpointer             source_tag)
{
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, g_new0 (OpData, 1), (GDestroyNotify) op_data_free);
  /* Cancellation is looked at here, before any I/O; once it started, the
   * result says what happened (a lock taken, a file written). */
  g_task_set_check_cancellable (task, FALSE);

  if (self->busy)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING,
                               "Another operation is running on the session store of %s",
                               self->location->apple_id);
      return NULL;
    }
  if (g_task_return_error_if_cancelled (task))
    return NULL;

  self->busy = TRUE;
  return g_steal_pointer (&task);
}

/* Takes @task and @error (NULL: success). */
static void
op_end (GTask  *task,
        GError *error)
{
  ICloudStore *self = g_task_get_source_object (task);

  self->busy = FALSE;
  if (error != NULL)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static gboolean
op_finish (ICloudStore   *self,
           GAsyncResult  *result,
           gpointer       source_tag,
           GError       **error)
{
  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_async_result_is_tagged (result, source_tag), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- open: lock and/or load ---- */

static void
opened_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStore *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  g_autoptr(ICloudStoreSnapshot) snapshot = NULL;
  GError *error = NULL;

  snapshot = self->backend->open_finish (result, &error);
  if (snapshot == NULL)
    {
      /* The in-memory state and the lock are as they were. */
      op_end (task, error);
      return;
    }

  if (snapshot->lock_fd >= 0)
    {
      g_assert (self->lock_count == 0);
      self->lock_fd = snapshot->lock_fd;
      snapshot->lock_fd = -1;
      self->lock_count = 1;
    }
  else if (data->recursive)
    self->lock_count++;

  if (data->flags & ICLOUD_STORE_OPEN_LOAD)
    install_state (self, snapshot);

  op_end (task, NULL);
}

static void
open_with_flags (ICloudStore          *self,
                 ICloudStoreOpenFlags  flags,
                 GCancellable         *cancellable,
                 GAsyncReadyCallback   callback,
                 gpointer              user_data,
                 gpointer              source_tag)
{
  GTask *task = op_begin (self, cancellable, callback, user_data, source_tag);
  OpData *data;

  if (task == NULL)
    return;
  data = g_task_get_task_data (task);
  data->flags = flags;

  /* Recursive within one object: no I/O for the lock. */
  if ((flags & ICLOUD_STORE_OPEN_LOCK) && self->lock_count > 0)
    {
      data->recursive = TRUE;
      flags &= ~ICLOUD_STORE_OPEN_LOCK;
      if (flags == 0)
        {
          self->lock_count++;
          op_end (task, NULL);
          return;
        }
    }

  self->backend->open_async (self->location, flags, cancellable, opened_cb, task);
}

void
icloud_store_open_async (ICloudStore         *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  open_with_flags (self, ICLOUD_STORE_OPEN_LOCK | ICLOUD_STORE_OPEN_LOAD,
                   cancellable, callback, user_data, icloud_store_open_async);
}

gboolean
icloud_store_open_finish (ICloudStore   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  return op_finish (self, result, icloud_store_open_async, error);
}

/* ---- save, and save then unlock ---- */

static void
saved_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStore *self = g_task_get_source_object (task);
  OpData *data = g_task_get_task_data (task);
  GError *error = NULL;

  if (!self->backend->write_finish (result, &error))
    {
      /* What is on disk is unchanged: the next save tries again. */
      op_end (task, error);
      return;
    }

  set_last_bytes (self, g_steal_pointer (&data->bytes));
  self->n_writes++;
  op_end (task, NULL);
}

/* The lock fd to hand to the backend when this is the last unlock, -1
 * otherwise (or when no unlock was asked for). */
static int
unlock_later (ICloudStore *self,
              gboolean     unlock)
{
  int fd;

  if (!unlock || --self->lock_count > 0)
    return -1;
  fd = self->lock_fd;
  self->lock_fd = -1;
  return fd;
}

static void
save_with_unlock (ICloudStore         *self,
                  gboolean             unlock,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data,
                  gpointer             source_tag)
{
  g_autoptr(GTask) task = NULL;
  OpData *data;
  char *buf;
  gsize len = 0;

  if (self->busy)
    {
      /* Not our operation to unlock for. */
      op_begin (self, cancellable, callback, user_data, source_tag);
      return;
    }

  task = op_begin (self, cancellable, callback, user_data, source_tag);
  if (task == NULL)
    {
      /* Cancelled: nothing written, but the lock goes as promised. */
      icloud_store_release_lock (unlock_later (self, unlock));
      return;
    }
  data = g_task_get_task_data (task);
  data->unlock = unlock;

  /* Serialised here, on the caller's thread: the worker sees only bytes. */
  buf = serialise (self, &len);
  if (same_as_last (self, buf, len))
    {
      explicit_bzero (buf, len);
      g_free (buf);
      /* Releasing a lock does not touch the disk. */
      icloud_store_release_lock (unlock_later (self, unlock));
      op_end (g_steal_pointer (&task), NULL);
      return;
    }

  data->bytes = icloud_store_secret_bytes_take (buf, len);
  self->backend->write_async (self->location, data->bytes,
                              unlock_later (self, unlock), cancellable,
                              saved_cb, g_steal_pointer (&task));
}

void
icloud_store_save_async (ICloudStore         *self,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  save_with_unlock (self, FALSE, cancellable, callback, user_data,
                    icloud_store_save_async);
}

gboolean
icloud_store_save_finish (ICloudStore   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  return op_finish (self, result, icloud_store_save_async, error);
}

void
icloud_store_save_and_unlock_async (ICloudStore         *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));
  g_return_if_fail (self->lock_count > 0);

  save_with_unlock (self, TRUE, cancellable, callback, user_data,
                    icloud_store_save_and_unlock_async);
}

gboolean
icloud_store_save_and_unlock_finish (ICloudStore   *self,
                                     GAsyncResult  *result,
                                     GError       **error)
{
  return op_finish (self, result, icloud_store_save_and_unlock_async, error);
}

/* ---- delete ---- */

static void
removed_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStore *self = g_task_get_source_object (task);
  g_autofree char *client_id = NULL;
  GError *error = NULL;
  char *buf;
  gsize len = 0;

  if (!self->backend->remove_finish (result, &error))
    {
      op_end (task, error);
      return;
    }

  client_id = g_strdup (g_hash_table_lookup (self->data, "client_id"));
  g_hash_table_remove_all (self->data);
  if (client_id != NULL)
    g_hash_table_replace (self->data, g_strdup ("client_id"),
                          g_steal_pointer (&client_id));
  clear_cookies (self);

  /* Nothing to save until something changes: a save right after delete
   * does not bring the file back. */
  buf = serialise (self, &len);
  set_last_bytes (self, icloud_store_secret_bytes_take (buf, len));

  op_end (task, NULL);
}

void
icloud_store_delete_async (ICloudStore         *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = op_begin (self, cancellable, callback, user_data, icloud_store_delete_async);
  if (task != NULL)
    self->backend->remove_async (self->location, cancellable, removed_cb, task);
}

gboolean
icloud_store_delete_finish (ICloudStore   *self,
                            GAsyncResult  *result,
                            GError       **error)
{
  return op_finish (self, result, icloud_store_delete_async, error);
}

/* ------------------------------------------------------------------ */
/* The blocking twins: the same code on a private main context          */

typedef struct
{
  GMainContext *context;
  GAsyncResult *result;
} SyncCall;

static void
sync_call_begin (SyncCall   *call,
                 const char *what)
{
  icloud_store_check_io_thread (what);
  call->context = g_main_context_new ();
  call->result = NULL;
  g_main_context_push_thread_default (call->context);
}

static void
sync_call_ready (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SyncCall *call = user_data;

  call->result = g_object_ref (result);
}

static gboolean
sync_call_end (SyncCall     *call,
               ICloudStore  *self,
               gpointer      source_tag,
               GError      **error)
{
  gboolean ok;

  while (call->result == NULL)
    g_main_context_iteration (call->context, TRUE);
  g_main_context_pop_thread_default (call->context);
  g_main_context_unref (call->context);

  ok = op_finish (self, call->result, source_tag, error);
  g_object_unref (call->result);
  return ok;
}

gboolean
icloud_store_load (ICloudStore  *self,
                   GError      **error)
{
  SyncCall call;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_call_begin (&call, "icloud_store_load");
  open_with_flags (self, ICLOUD_STORE_OPEN_LOAD, NULL, sync_call_ready, &call,
                   icloud_store_load);
  return sync_call_end (&call, self, icloud_store_load, error);
}

gboolean
icloud_store_lock (ICloudStore  *self,
                   GError      **error)
{
  SyncCall call;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_call_begin (&call, "icloud_store_lock");
  open_with_flags (self, ICLOUD_STORE_OPEN_LOCK, NULL, sync_call_ready, &call,
                   icloud_store_lock);
  return sync_call_end (&call, self, icloud_store_lock, error);
}

gboolean
icloud_store_save (ICloudStore  *self,
                   GError      **error)
{
  SyncCall call;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_call_begin (&call, "icloud_store_save");
  icloud_store_save_async (self, NULL, sync_call_ready, &call);
  return sync_call_end (&call, self, icloud_store_save_async, error);
}

gboolean
icloud_store_delete (ICloudStore  *self,
                     GError      **error)
{
  SyncCall call;

  g_return_val_if_fail (ICLOUD_IS_STORE (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_call_begin (&call, "icloud_store_delete");
  icloud_store_delete_async (self, NULL, sync_call_ready, &call);
  return sync_call_end (&call, self, icloud_store_delete_async, error);
}

/* Not blocking: releasing a lock does not touch the disk. */
void
icloud_store_unlock (ICloudStore *self)
{
  g_return_if_fail (ICLOUD_IS_STORE (self));
  g_return_if_fail (self->lock_count > 0);

  icloud_store_release_lock (unlock_later (self, TRUE));
}
