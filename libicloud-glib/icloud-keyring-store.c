/* icloud-keyring-store.c: the session as one libsecret secret
 *
 * The same document as the file store, kept as one secret of the default
 * collection: schema "org.gnome.ICloudGlib.Session", attributes "apple-id"
 * (the Apple ID as given) and "version" ("1"), label "iCloud session of
 * <apple id>". The session directory still holds the lock file: the
 * directory and the lock are the file backend's open without a load (in a
 * worker thread); the secret is read, stored and cleared through
 * libsecret's asynchronous calls, so nothing here blocks the caller's
 * thread. See icloud-store-backend-private.h.
 *
 * No silent fallback: when the keyring cannot be reached, or the library
 * was built without libsecret, load/save/delete fail with
 * ICLOUD_ERROR_STORAGE ("The keyring is not available: ...; use the file
 * store instead").
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "icloud-store-backend-private.h"

#include <string.h>

#ifdef HAVE_LIBSECRET
#include <libsecret/secret.h>
#endif

#include "icloud-glib/icloud-error.h"

/* Takes @task. */
static void
return_unavailable (GTask        *task,
                    const GError *cause)
{
  if (cause != NULL && g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_task_return_error (task, g_error_copy (cause));
  else
    g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                             "The keyring is not available: %s; use the file store instead",
                             cause != NULL ? cause->message : "built without libsecret");
  g_object_unref (task);
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

/* This account's attributes (libsecret copies what it keeps). */
static GHashTable *
attributes_of (ICloudStoreLocation *location)
{
  GHashTable *attributes = g_hash_table_new (g_str_hash, g_str_equal);

  g_hash_table_insert (attributes, "apple-id", location->apple_id);
  g_hash_table_insert (attributes, "version", KEYRING_VERSION);
  return attributes;
}

/* Clears this account's secret; @callback gets @task. */
static void
clear_secret (GTask               *task,
              GCancellable        *cancellable,
              GAsyncReadyCallback  callback)
{
  ICloudStoreJob *job = g_task_get_task_data (task);
  g_autoptr(GHashTable) attributes = attributes_of (job->location);

  secret_password_clearv (&keyring_schema, attributes, cancellable, callback, task);
}

#endif /* HAVE_LIBSECRET */

/* ------------------------------------------------------------------ */
/* Open: the lock (in the directory), then the secret                   */

#ifdef HAVE_LIBSECRET

/* An unusable secret was cleared (best effort): no session. */
static void
cleared_unusable_cb (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStoreJob *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  if (!secret_password_clear_finish (result, &error) && error != NULL)
    g_debug ("The unusable session secret of %s could not be cleared: %s",
             job->location->apple_id, error->message);
  else
    g_debug ("Cleared the unusable session secret of %s", job->location->apple_id);

  icloud_store_job_return_snapshot (task);
  g_object_unref (task);
}

static void
looked_up_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStoreJob *job = g_task_get_task_data (task);
  ICloudStoreSnapshot *snapshot = job->snapshot;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  const char *why = NULL;
  char *secret;
  char *copy;
  gsize len;

  secret = secret_password_lookup_finish (result, &error);
  if (error != NULL)
    {
      return_unavailable (task, error);   /* the snapshot's lock goes */
      return;
    }
  if (secret == NULL)
    {
      g_debug ("No session of %s in the keyring", job->location->apple_id);
      icloud_store_job_return_snapshot (task);
      g_object_unref (task);
      return;
    }

  len = strlen (secret);
  copy = g_malloc (len + 1);
  memcpy (copy, secret, len + 1);
  secret_password_free (secret);   /* wipes */
  bytes = icloud_store_secret_bytes_take (copy, len);

  if (len > ICLOUD_STORE_MAX_SIZE)
    why = "too large";
  else
    icloud_store_parse (job->location->apple_id, copy, len,
                        snapshot->data, &snapshot->cookies, &why);

  if (why != NULL)
    {
      /* Like a corrupt file: never a crash, no session. */
      g_debug ("The session secret of %s in the keyring is unusable (%s)",
               job->location->apple_id, why);
      g_slist_free_full (g_steal_pointer (&snapshot->cookies),
                         (GDestroyNotify) soup_cookie_free);
      g_hash_table_remove_all (snapshot->data);
      clear_secret (task, NULL, cleared_unusable_cb);
      return;
    }

  g_debug ("Loaded the session of %s from the keyring (%u keys, %u cookies)",
           job->location->apple_id, g_hash_table_size (snapshot->data),
           g_slist_length (snapshot->cookies));
  snapshot->bytes = g_steal_pointer (&bytes);
  icloud_store_job_return_snapshot (task);
  g_object_unref (task);
}

#endif /* HAVE_LIBSECRET */

static void
directory_ready_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStoreJob *job = g_task_get_task_data (task);
  GError *error = NULL;

  job->snapshot = icloud_file_store_backend.open_finish (result, &error);
  if (job->snapshot == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }

  if (!(job->flags & ICLOUD_STORE_OPEN_LOAD))
    {
      icloud_store_job_return_snapshot (task);
      g_object_unref (task);
      return;
    }

#ifdef HAVE_LIBSECRET
  {
    g_autoptr(GHashTable) attributes = attributes_of (job->location);

    secret_password_lookupv (&keyring_schema, attributes,
                             g_task_get_cancellable (task), looked_up_cb, task);
  }
#else
  return_unavailable (task, NULL);
#endif
}

static void
keyring_open_async (ICloudStoreLocation  *location,
                    ICloudStoreOpenFlags  flags,
                    GCancellable         *cancellable,
                    GAsyncReadyCallback   callback,
                    gpointer              user_data)
{
  GTask *task = icloud_store_job_new (location, cancellable, callback, user_data,
                              keyring_open_async);
  ICloudStoreJob *job = g_task_get_task_data (task);

  job->flags = flags;
  /* The directory's rules and the lock, in a worker; the file backend
   * reads nothing without ICLOUD_STORE_OPEN_LOAD. */
  icloud_file_store_backend.open_async (location, flags & ICLOUD_STORE_OPEN_LOCK,
                                        cancellable, directory_ready_cb, task);
}

static ICloudStoreSnapshot *
keyring_open_finish (GAsyncResult  *result,
                     GError       **error)
{
  return icloud_store_job_propagate_snapshot (result, keyring_open_async, error);
}

/* ------------------------------------------------------------------ */
/* Write                                                                */

#ifdef HAVE_LIBSECRET
static void
stored_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStoreJob *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  icloud_store_release_lock (job->lock_fd);
  job->lock_fd = -1;

  if (!secret_password_store_finish (result, &error))
    {
      return_unavailable (task, error);
      return;
    }
  g_debug ("Saved the session of %s in the keyring", job->location->apple_id);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}
#endif

static void
keyring_write_async (ICloudStoreLocation *location,
                     GBytes              *bytes,
                     int                  lock_fd,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task = icloud_store_job_new (location, cancellable, callback, user_data,
                              keyring_write_async);
  ICloudStoreJob *job = g_task_get_task_data (task);

  job->lock_fd = lock_fd;   /* released with the job in every case */
  job->bytes = g_bytes_ref (bytes);

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }

#ifdef HAVE_LIBSECRET
  {
    g_autofree char *label = g_strdup_printf ("iCloud session of %s",
                                              location->apple_id);
    g_autoptr(GHashTable) attributes = attributes_of (location);

    /* The serialised document is NUL-terminated text. */
    secret_password_storev (&keyring_schema, attributes, SECRET_COLLECTION_DEFAULT,
                            label, g_bytes_get_data (job->bytes, NULL),
                            cancellable, stored_cb, task);
  }
#else
  return_unavailable (task, NULL);
#endif
}

static gboolean
keyring_write_finish (GAsyncResult  *result,
                      GError       **error)
{
  return icloud_store_job_propagate_boolean (result, keyring_write_async, error);
}

/* ------------------------------------------------------------------ */
/* Remove                                                               */

#ifdef HAVE_LIBSECRET
static void
cleared_cb (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  GTask *task = user_data;
  ICloudStoreJob *job = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;

  /* FALSE without an error: there was nothing to clear, which is fine. */
  if (!secret_password_clear_finish (result, &error) && error != NULL)
    {
      return_unavailable (task, error);
      return;
    }
  g_debug ("Cleared the session of %s from the keyring", job->location->apple_id);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}
#endif

static void
remove_directory_ready_cb (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  GTask *task = user_data;
  GError *error = NULL;
  ICloudStoreSnapshot *snapshot;

  /* Same rules for the directory as the file store. */
  snapshot = icloud_file_store_backend.open_finish (result, &error);
  if (snapshot == NULL)
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  icloud_store_snapshot_free (snapshot);

#ifdef HAVE_LIBSECRET
  clear_secret (task, g_task_get_cancellable (task), cleared_cb);
#else
  return_unavailable (task, NULL);
#endif
}

static void
keyring_remove_async (ICloudStoreLocation *location,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  GTask *task = icloud_store_job_new (location, cancellable, callback, user_data,
                              keyring_remove_async);

  icloud_file_store_backend.open_async (location, 0, cancellable,
                                        remove_directory_ready_cb, task);
}

static gboolean
keyring_remove_finish (GAsyncResult  *result,
                       GError       **error)
{
  return icloud_store_job_propagate_boolean (result, keyring_remove_async, error);
}

const ICloudStoreBackend icloud_keyring_store_backend = {
  .name = "keyring",
  .open_async = keyring_open_async,
  .open_finish = keyring_open_finish,
  .write_async = keyring_write_async,
  .write_finish = keyring_write_finish,
  .remove_async = keyring_remove_async,
  .remove_finish = keyring_remove_finish,
};
