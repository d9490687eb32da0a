/* icloud-file-store.c: the session as a JSON file (the default backend)
 *
 * `<base>.session.json` in the session directory, 0600, written atomically
 * (O_EXCL temporary file, write, fsync, rename, fsync of the directory).
 * Every function here that touches the disk runs in a worker thread
 * (g_task_run_in_thread); see icloud-store-backend-private.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "config.h"

#include "icloud-store-backend-private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "icloud-glib/icloud-error.h"

/* ------------------------------------------------------------------ */
/* Open: lock and load                                                  */

static void
set_aside (ICloudStoreLocation *location,
           int                  dir_fd,
           const char          *why)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree char *aside = NULL;

  for (guint i = 0; i < 100; i++)
    {
      struct stat st;

      g_free (aside);
      if (i == 0)
        aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT,
                                 location->file_name, now);
      else
        aside = g_strdup_printf ("%s.corrupt-%" G_GINT64_FORMAT "-%u",
                                 location->file_name, now, i);

      if (fstatat (dir_fd, aside, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
        break;
    }

  if (renameat (dir_fd, location->file_name, dir_fd, aside) == 0)
    {
      g_debug ("The session file %s is unusable (%s); moved it aside to %s",
               location->path, why, aside);
    }
  else
    {
      int saved_errno = errno;

      /* Not fatal: the next save replaces it. */
      g_debug ("The session file %s is unusable (%s) and could not be "
               "moved aside: %s", location->path, why, g_strerror (saved_errno));
    }
}

/* Reads the whole file @name; NULL with errno set on error. ENOENT when
 * absent, EFBIG when too large, EINVAL when not a regular file (a FIFO is
 * opened without waiting for a writer, then refused), EPERM when another
 * user owns it. */
static GBytes *
read_file (int         dir_fd,
           const char *name)
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

  if (st.st_size > ICLOUD_STORE_MAX_SIZE)
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

  return icloud_store_secret_bytes_take (buf, len);
}

/* 0.1.0 named a session file after the Apple ID with its punctuation
 * removed, so that two accounts could share one name. When this account
 * has no file under its own name but one under the old name holds this
 * very Apple ID, it is renamed (the same atomic rename a save ends with)
 * and its content returned; a file of another account under that name is
 * left as it is. NULL with errno ENOENT otherwise. */
static GBytes *
take_legacy_file (ICloudStoreLocation *location,
                  int                  dir_fd)
{
  g_autoptr(GHashTable) data = NULL;
  g_autoptr(GBytes) bytes = NULL;
  GSList *cookies = NULL;
  const char *why = NULL;
  gboolean ours;
  gsize len;
  const char *content;

  bytes = read_file (dir_fd, location->legacy_file_name);
  if (bytes == NULL)
    {
      errno = ENOENT;
      return NULL;
    }

  content = g_bytes_get_data (bytes, &len);
  data = icloud_store_data_new ();
  ours = icloud_store_parse (location->apple_id, content, len, data, &cookies, &why);
  g_slist_free_full (cookies, (GDestroyNotify) soup_cookie_free);
  if (!ours ||
      renameat (dir_fd, location->legacy_file_name, dir_fd, location->file_name) != 0)
    {
      errno = ENOENT;
      return NULL;
    }
  (void) fsync (dir_fd);
  g_debug ("Renamed the session file %s to %s",
           location->legacy_file_name, location->file_name);

  return g_steal_pointer (&bytes);
}

/* Reads, parses and (when unusable) sets aside the session file into
 * @snapshot. */
static gboolean
load_file (ICloudStoreLocation  *location,
           int                   dir_fd,
           ICloudStoreSnapshot  *snapshot,
           GError              **error)
{
  g_autoptr(GBytes) bytes = NULL;
  const char *why = NULL;
  const char *content;
  gsize len;
  int saved_errno;

  bytes = read_file (dir_fd, location->file_name);
  if (bytes == NULL && errno == ENOENT)
    bytes = take_legacy_file (location, dir_fd);
  if (bytes == NULL)
    {
      saved_errno = errno;

      if (saved_errno == ENOENT)
        {
          g_debug ("No session file %s", location->path);
          return TRUE;
        }

      if (saved_errno == EFBIG)
        {
          set_aside (location, dir_fd, "too large");
          return TRUE;
        }

      if (saved_errno == ELOOP)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session file %s is a symbolic link; refusing to use it",
                     location->path);
      else if (saved_errno == EINVAL)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session file %s is not a regular file", location->path);
      else if (saved_errno == EPERM)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE,
                     "The session file %s belongs to another user; refusing to use it",
                     location->path);
      else
        icloud_store_set_storage_error (error, saved_errno,
                                        "Cannot read the session file %s",
                                        location->path);
      return FALSE;
    }

  content = g_bytes_get_data (bytes, &len);
  if (!icloud_store_parse (location->apple_id, content, len,
                           snapshot->data, &snapshot->cookies, &why))
    {
      g_slist_free_full (g_steal_pointer (&snapshot->cookies),
                         (GDestroyNotify) soup_cookie_free);
      g_hash_table_remove_all (snapshot->data);
      set_aside (location, dir_fd, why);
      return TRUE;
    }

  g_debug ("Loaded the session file %s (%u keys, %u cookies)",
           location->path, g_hash_table_size (snapshot->data),
           g_slist_length (snapshot->cookies));
  /* The raw file content: if it is not exactly what we would write (an
   * expired cookie dropped, another layout), the next save rewrites it. */
  snapshot->bytes = g_steal_pointer (&bytes);
  return TRUE;
}

/* In a worker, before any I/O: the cancellable, then the directory (its
 * fd, or -1 with @error set). */
static int
start_in_directory (GTask           *task,
                    ICloudStoreJob  *job,
                    GError         **error)
{
  if (g_cancellable_set_error_if_cancelled (g_task_get_cancellable (task), error))
    return -1;
  return icloud_store_open_directory (job->location, error);
}

/* The same, with the error returned as the task's result. */
static int
start_or_return (GTask          *task,
                 ICloudStoreJob *job)
{
  GError *error = NULL;
  int dir_fd = start_in_directory (task, job, &error);

  if (dir_fd < 0)
    g_task_return_error (task, error);
  return dir_fd;
}

static void
open_thread (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  ICloudStoreJob *job = task_data;
  GError *error = NULL;
  int dir_fd;

  dir_fd = start_or_return (task, job);
  if (dir_fd < 0)
    return;

  job->snapshot = icloud_store_snapshot_new ();
  if ((job->flags & ICLOUD_STORE_OPEN_LOCK) &&
      (job->snapshot->lock_fd = icloud_store_take_lock (job->location, dir_fd, &error)) < 0)
    goto fail;

  if ((job->flags & ICLOUD_STORE_OPEN_LOAD) &&
      !load_file (job->location, dir_fd, job->snapshot, &error))
    goto fail;

  close (dir_fd);
  icloud_store_job_return_snapshot (task);
  return;

fail:
  close (dir_fd);
  /* A lock taken here goes before the caller hears of the error. */
  g_clear_pointer (&job->snapshot, icloud_store_snapshot_free);
  g_task_return_error (task, error);
}

static void
file_open_async (ICloudStoreLocation  *location,
                 ICloudStoreOpenFlags  flags,
                 GCancellable         *cancellable,
                 GAsyncReadyCallback   callback,
                 gpointer              user_data)
{
  g_autoptr(GTask) task = icloud_store_job_new (location, cancellable, callback,
                                        user_data, file_open_async);
  ICloudStoreJob *job = g_task_get_task_data (task);

  job->flags = flags;
  g_task_run_in_thread (task, open_thread);
}

static ICloudStoreSnapshot *
file_open_finish (GAsyncResult  *result,
                  GError       **error)
{
  return icloud_store_job_propagate_snapshot (result, file_open_async, error);
}

/* ------------------------------------------------------------------ */
/* Write                                                                */

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
create_temp (ICloudStoreLocation  *location,
             int                   dir_fd,
             char                **name_out)
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

      name = g_strdup_printf ("%s.%s", location->file_name, suffix);
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

/* Temporary file, fsync, rename, fsync of the directory: a crash leaves
 * the old file or the new one, never half of one. */
static gboolean
write_file (ICloudStoreLocation  *location,
            int                   dir_fd,
            GBytes               *bytes,
            GError              **error)
{
  g_autofree char *tmp_name = NULL;
  const char *content;
  gsize len;
  int fd;
  int saved_errno;
  const char *step;
  const char *step_name = location->path;

  content = g_bytes_get_data (bytes, &len);

  fd = create_temp (location, dir_fd, &tmp_name);
  if (fd < 0)
    {
      saved_errno = errno;
      step = "Cannot create a temporary file in %s";
      step_name = location->directory;
      goto fail;
    }

  /* Exactly 0600 whatever the umask. */
  if (fchmod (fd, 0600) != 0)
    {
      saved_errno = errno;
      step = "Cannot set the mode of the session file %s";
      goto fail;
    }

  if (!write_all (fd, content, len))
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

  if (renameat (dir_fd, tmp_name, dir_fd, location->file_name) != 0)
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
             location->directory, g_strerror (errno));

  g_debug ("Saved the session file %s", location->path);
  return TRUE;

fail:
  if (fd >= 0)
    close (fd);
  if (tmp_name != NULL)
    unlinkat (dir_fd, tmp_name, 0);

  icloud_store_set_storage_error (error, saved_errno, step, step_name);
  return FALSE;
}

static void
write_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  ICloudStoreJob *job = task_data;
  GError *error = NULL;
  gboolean ok = FALSE;
  int dir_fd;

  dir_fd = start_in_directory (task, job, &error);
  if (dir_fd >= 0)
    {
      ok = write_file (job->location, dir_fd, job->bytes, &error);
      close (dir_fd);
    }

  /* Released here, in the worker, right after the write (or its failure,
   * or the cancellation), before the caller hears of it. */
  icloud_store_release_lock (job->lock_fd);
  job->lock_fd = -1;

  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
file_write_async (ICloudStoreLocation *location,
                  GBytes              *bytes,
                  int                  lock_fd,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data)
{
  g_autoptr(GTask) task = icloud_store_job_new (location, cancellable, callback,
                                        user_data, file_write_async);
  ICloudStoreJob *job = g_task_get_task_data (task);

  job->bytes = g_bytes_ref (bytes);
  job->lock_fd = lock_fd;
  g_task_run_in_thread (task, write_thread);
}

static gboolean
file_write_finish (GAsyncResult  *result,
                   GError       **error)
{
  return icloud_store_job_propagate_boolean (result, file_write_async, error);
}

/* ------------------------------------------------------------------ */
/* Remove                                                               */

static void
remove_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  ICloudStoreJob *job = task_data;
  GError *error = NULL;
  int dir_fd;

  dir_fd = start_or_return (task, job);
  if (dir_fd < 0)
    return;

  if (unlinkat (dir_fd, job->location->file_name, 0) != 0 && errno != ENOENT)
    {
      icloud_store_set_storage_error (&error, errno,
                                      "Cannot remove the session file %s",
                                      job->location->path);
      close (dir_fd);
      g_task_return_error (task, error);
      return;
    }
  (void) fsync (dir_fd);
  close (dir_fd);
  g_debug ("Removed the session file %s", job->location->path);
  g_task_return_boolean (task, TRUE);
}

static void
file_remove_async (ICloudStoreLocation *location,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GTask) task = icloud_store_job_new (location, cancellable, callback,
                                        user_data, file_remove_async);

  g_task_run_in_thread (task, remove_thread);
}

static gboolean
file_remove_finish (GAsyncResult  *result,
                    GError       **error)
{
  return icloud_store_job_propagate_boolean (result, file_remove_async, error);
}

const ICloudStoreBackend icloud_file_store_backend = {
  .name = "file",
  .open_async = file_open_async,
  .open_finish = file_open_finish,
  .write_async = file_write_async,
  .write_finish = file_write_finish,
  .remove_async = file_remove_async,
  .remove_finish = file_remove_finish,
};
