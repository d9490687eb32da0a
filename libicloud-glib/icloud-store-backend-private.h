/* icloud-store-backend-private.h: where an ICloudStore keeps its document
 *
 * The store (icloud-store.c) owns the in-memory state (the data map and the
 * cookie jar), the file format and the only-on-change rule, all on the
 * caller's thread. A backend only moves bytes: it reads the document (and
 * takes the lock), writes it, or removes it. It never sees the store
 * object: it works on an immutable ICloudStoreLocation (names fixed when
 * the store was made), takes immutable input (the serialised bytes) and
 * gives back new objects (ICloudStoreSnapshot) that the store installs on
 * its own thread. So a backend can do its blocking work in a worker thread
 * (g_task_run_in_thread) without any data race.
 *
 * The interface is a table of asynchronous functions, GIO-style
 * (`_async` + `_finish`); each callback runs in the thread-default main
 * context of the caller, as with any GTask. Every operation:
 *  - looks at @cancellable once, before any I/O starts, and then returns
 *    G_IO_ERROR_CANCELLED having touched nothing (the lock of a write is
 *    still released); once the I/O started it runs to its end and reports
 *    what happened;
 *  - does its file I/O in a worker thread, never on the caller's;
 *  - reports failures as ICLOUD_ERROR_STORAGE.
 *
 * The backends: icloud-file-store.c (the JSON file, the default) and
 * icloud-keyring-store.c (one libsecret secret, through its asynchronous
 * calls). Both keep the session directory and the lock file through the
 * shared helpers at the end of this header.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* The names of one account's files. Made once by the store and never
 * changed: any thread may read it; refcounted (g_atomic_rc_box) so a
 * backend's task can keep it alive. */
typedef struct
{
  char *directory;        /* absolute, canonical */
  char *apple_id;         /* as given */
  char *file_name;        /* <base>.session.json */
  char *legacy_file_name; /* 0.1.0's <pyicloud base>.session.json */
  char *path;             /* directory/file_name */
  char *lock_name;        /* <base>.lock */
} ICloudStoreLocation;

ICloudStoreLocation *icloud_store_location_ref   (ICloudStoreLocation *location);
void                 icloud_store_location_unref (ICloudStoreLocation *location);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudStoreLocation, icloud_store_location_unref)

typedef enum
{
  ICLOUD_STORE_OPEN_LOCK = 1 << 0,   /* take the account's lock */
  ICLOUD_STORE_OPEN_LOAD = 1 << 1,   /* read and parse the document */
} ICloudStoreOpenFlags;

/* What an open gives back: made in a worker, installed by the store on its
 * own thread. Freeing a snapshot that was not installed releases its lock
 * and wipes its bytes. */
typedef struct
{
  int         lock_fd;   /* the lock taken (ICLOUD_STORE_OPEN_LOCK), or -1 */
  GBytes     *bytes;     /* the document as read (secret), NULL when none
                          * or unusable */
  GHashTable *data;      /* parsed data (key → value), empty when none */
  GSList     *cookies;   /* parsed cookies (SoupCookie, owned) */
} ICloudStoreSnapshot;

ICloudStoreSnapshot *icloud_store_snapshot_new  (void);
void                 icloud_store_snapshot_free (ICloudStoreSnapshot *snapshot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudStoreSnapshot, icloud_store_snapshot_free)

typedef struct
{
  const char *name;

  /* Makes sure the directory is usable (created 0700, ours, not a link),
   * takes the lock if asked, and reads and parses the document if asked: a
   * missing document gives an empty snapshot, an unusable one is set aside
   * (file) or cleared (keyring) and gives an empty snapshot too. On error
   * no lock is left taken. */
  void                  (*open_async)    (ICloudStoreLocation  *location,
                                          ICloudStoreOpenFlags  flags,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
  ICloudStoreSnapshot * (*open_finish)   (GAsyncResult         *result,
                                          GError              **error);

  /* Replaces the document with @bytes, atomically; then, if @lock_fd is
   * not -1, releases that lock (takes it, whatever the outcome). */
  void                  (*write_async)   (ICloudStoreLocation  *location,
                                          GBytes               *bytes,
                                          int                   lock_fd,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
  gboolean              (*write_finish)  (GAsyncResult         *result,
                                          GError              **error);

  /* Removes the document (a missing one is fine). */
  void                  (*remove_async)  (ICloudStoreLocation  *location,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
  gboolean              (*remove_finish) (GAsyncResult         *result,
                                          GError              **error);
} ICloudStoreBackend;

extern const ICloudStoreBackend icloud_file_store_backend;
extern const ICloudStoreBackend icloud_keyring_store_backend;

/* ---- Shared by the backends (icloud-store.c) ---- */

/* One backend operation: the task data of its GTask. */
typedef struct
{
  ICloudStoreLocation  *location;
  ICloudStoreOpenFlags  flags;     /* open: what was asked */
  ICloudStoreSnapshot  *snapshot;  /* open: the result being made */
  GBytes               *bytes;     /* write: the document */
  int                   lock_fd;   /* write: the lock to release (at the
                                    * latest when the job is freed) */
} ICloudStoreJob;

/* A GTask (no source object) holding a new ICloudStoreJob on @location.
 * Its cancellable is not checked by g_task_propagate_* (see "Every
 * operation" above): the backend looks at it before the I/O. */
GTask    *icloud_store_job_new        (ICloudStoreLocation  *location,
                                       GCancellable         *cancellable,
                                       GAsyncReadyCallback   callback,
                                       gpointer              user_data,
                                       gpointer              source_tag);
/* Returns the job's snapshot (taken from it) as the task's result. */
void      icloud_store_job_return_snapshot (GTask *task);
ICloudStoreSnapshot *icloud_store_job_propagate_snapshot (GAsyncResult  *result,
                                                          gpointer       source_tag,
                                                          GError       **error);
gboolean  icloud_store_job_propagate_boolean  (GAsyncResult  *result,
                                               gpointer       source_tag,
                                               GError       **error);

/* A session file is a few KiB; anything much larger is not ours. */
#define ICLOUD_STORE_MAX_SIZE (4 * 1024 * 1024)

/* Blocking: call them in a worker only (they check, see
 * icloud_store_set_io_thread_check ()). Creates/tightens the directory
 * and returns an fd for it, -1 on error. */
int       icloud_store_open_directory (ICloudStoreLocation  *location,
                                       GError              **error);
/* Opens and flocks `<base>.lock` in @dir_fd (non-blocking flock): the lock
 * fd, or -1 with "in use by another process" or another storage error. */
int       icloud_store_take_lock      (ICloudStoreLocation  *location,
                                       int                   dir_fd,
                                       GError              **error);
/* Not blocking (flock LOCK_UN and close): any thread. -1 is ignored. */
void      icloud_store_release_lock   (int                   lock_fd);

/* Takes @buf (g_malloc'd, @len bytes plus a NUL): a GBytes that wipes it
 * when freed. */
GBytes   *icloud_store_secret_bytes_take (char  *buf,
                                          gsize  len);
/* A data map: key → value, values wiped when removed. */
GHashTable *icloud_store_data_new     (void);
/* Parses a document into @data and @cookies (pure, any thread). FALSE with
 * @why (a short reason, never content) when it is not a document of
 * @apple_id. */
gboolean  icloud_store_parse          (const char   *apple_id,
                                       const char   *bytes,
                                       gsize         len,
                                       GHashTable   *data,
                                       GSList      **cookies,
                                       const char  **why);
void      icloud_store_set_storage_error (GError     **error,
                                          int          saved_errno,
                                          const char  *format,
                                          const char  *name);
/* g_error () when the main-thread I/O check is on and this thread owns
 * the default main context; @what names the caller. */
void      icloud_store_check_io_thread (const char *what);

G_END_DECLS
