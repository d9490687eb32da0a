/* icloud-store-private.h: one account's session on disk
 *
 * The store owns the persisted state of one account: a flat string map
 * (protocol §5.2 keys: client_id, session_token, trust_token, scnt,
 * session_id, account_country, auth_attributes, dsid, ...) and an in-memory
 * SoupCookieJar. It loads them from and saves them to one JSON file,
 * `<base>.session.json` in the session directory, where <base> is the Apple ID
 * with every non-word character removed (pyicloud's rule).
 *
 * Rules: directory 0700 (created if missing, tightened if ours and looser);
 * file 0600, written atomically (O_CREAT|O_EXCL temp file with mode 0600 in
 * the same directory, write, fsync, rename, fsync the directory) and only
 * when its serialised content differs from what is on disk; a file that does
 * not parse, or belongs to another Apple ID, is renamed aside to
 * `<name>.corrupt-<unix time>` and treated as no session (never a crash);
 * a per-account advisory lock (`<base>.lock`, flock) guards operations.
 * No secret is ever logged; secret buffers the store owns (values, the
 * serialised file content) are wiped before they are freed.
 *
 * File format (version 1), members sorted so equal states give equal bytes:
 *   {"apple_id": "<as given>",
 *    "cookies": [{"domain", "expires" (unix seconds; absent for a session
 *                 cookie), "http_only", "name", "path", "same_site"
 *                 ("None"/"Lax"/"Strict"), "secure", "value"}, ...],
 *    "data": {"<key>": "<string>", ...},
 *    "version": 1}
 * Session cookies are kept; expired cookies are dropped on load and save.
 *
 * Backends. The file store (ICLOUD_SECRET_STORE_FILE, the default) writes
 * the document above to `<base>.session.json`. The keyring store
 * (ICLOUD_SECRET_STORE_KEYRING, with libsecret) keeps the very same document
 * as one secret instead: schema "org.gnome.ICloudGlib.Session", attributes
 * "apple-id" (the Apple ID as given) and "version" ("1"), label "iCloud
 * session of <apple id>", in the default collection. Nothing is then
 * written to `<base>.session.json`; the directory still holds the lock file
 * (same rules). Only-write-when-changed holds too; a secret that does not
 * parse (or belongs to another Apple ID) is cleared and treated as no
 * session. No silent fallback: when the keyring cannot be reached (no
 * Secret Service, a D-Bus error) or the library was built without
 * libsecret, load/save/delete fail with ICLOUD_ERROR_STORAGE ("The keyring
 * is not available: ...; use the file store instead") and the caller
 * chooses the file store explicitly. The keyring is reached through
 * libsecret's asynchronous calls. The two backends are separate files
 * behind a small interface (icloud-store-backend-private.h).
 *
 * Threads. The object (its data map, cookie jar, lock count) belongs to
 * the thread that uses it (the session's) and is never touched by another.
 * The I/O runs elsewhere: the `_async` operations below do every disk
 * access (mkdir, open, read, write, fsync, rename, flock) in a worker
 * thread (g_task_run_in_thread, as GFile does), on immutable input: the
 * state is serialised on the caller's thread before a save, and a load's
 * parsed data comes back from the worker and is installed on the caller's
 * thread when the operation completes. Callbacks run in the thread-default
 * main context of the caller. One operation at a time per store: another
 * one started meanwhile fails with G_IO_ERROR_PENDING.
 *
 * The blocking functions (load, save, lock, delete) are the blocking twins:
 * they run the very same asynchronous code on a private main context and
 * wait for it (libsecret's way), so both paths share every line of I/O.
 * They block the calling thread for the whole operation: call them from a
 * worker, a command-line tool or a test, not from code dispatched by the
 * default main context. The session uses the `_async` forms only (op_begin,
 * op_end, logout and close); icloud_session_import_pyicloud (), a blocking
 * API by design, is the one caller of the blocking ones.
 *
 * Cancellation: the GCancellable is looked at once, before any I/O
 * starts; a cancelled operation then fails with G_IO_ERROR_CANCELLED and
 * has changed nothing (no file written, no lock taken; a save-and-unlock
 * still unlocks). Once the file I/O started, the operation runs to its
 * end and reports what happened (the keyring backend also hands the
 * cancellable to libsecret, whose store is all or nothing). A write is
 * atomic (rename), so no cancellation or crash can leave half a file.
 *
 * Debugging: with icloud_store_set_io_thread_check (TRUE), or
 * ICLOUD_STORE_ASSERT_OFF_MAIN=1 in the environment, any blocking store
 * function called on the thread that owns the default main context
 * (g_main_context_is_owner (g_main_context_default ())) aborts with
 * g_error (), and so does any disk access of a backend made there. Tests
 * use it to prove the asynchronous path never blocks the main loop.
 *
 * The lock is between processes (and between store objects), not between
 * threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#include <libsoup/soup.h>

#include "icloud-glib/icloud-session.h"   /* ICloudSecretStore */
#include "icloud-data-private.h"

G_BEGIN_DECLS

#define ICLOUD_TYPE_STORE (icloud_store_get_type ())
G_DECLARE_FINAL_TYPE (ICloudStore, icloud_store, ICLOUD, STORE, GObject)

/* $XDG_STATE_HOME/icloud-glib (g_get_user_state_dir ()). */
char          *icloud_store_default_directory (void);
/* pyicloud's file base name for an Apple ID (non-word characters removed):
 * for pyicloud's files, and 0.1.0's own. */
char          *icloud_store_base_name         (const char   *apple_id);
/* The base name of this library's files for an Apple ID: a readable stem,
 * '-', and 16 hex digits of the SHA-256 of the case-folded ID, so that
 * distinct accounts never share a file. */
char          *icloud_store_account_name      (const char   *apple_id);

/* @directory NULL → the default. Does no I/O. The file store. */
ICloudStore   *icloud_store_new               (const char   *directory,
                                               const char   *apple_id);
/* Same, with the backend the secrets go to (see "Backends" above). Does
 * no I/O: an unusable keyring shows at the first load/save/delete. */
ICloudStore   *icloud_store_new_full          (const char        *directory,
                                               const char        *apple_id,
                                               ICloudSecretStore  secret_store);
ICloudSecretStore icloud_store_get_secret_store (ICloudStore *self);
/* Whether this build can use the keyring (built with libsecret). */
gboolean       icloud_store_keyring_supported (void);
const char    *icloud_store_get_directory     (ICloudStore  *self);
/* The session file; for the keyring store, the file the file store would
 * use (never written by it). */
const char    *icloud_store_get_path          (ICloudStore  *self);
const char    *icloud_store_get_apple_id      (ICloudStore  *self);

/* Lock + load in one worker hop: takes the per-account lock (as
 * icloud_store_lock (); recursive: if this object holds it already, only
 * counted) and loads (as icloud_store_load ()). On error nothing changed:
 * no lock is left taken by it and the in-memory state is as it was. */
void           icloud_store_open_async        (ICloudStore          *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       icloud_store_open_finish       (ICloudStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);
/* Serialises the state on the caller's thread and, if (and only if) it
 * differs from what was last loaded or saved, writes it in a worker (file:
 * temporary file, fsync, rename, fsync of the directory; keyring: one
 * secret_password_store ()). When unchanged, completes without any I/O.
 * Errors as icloud_store_save (). */
void           icloud_store_save_async        (ICloudStore          *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       icloud_store_save_finish       (ICloudStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);
/* The end of an operation in one hop: saves as icloud_store_save_async ()
 * and then unlocks as icloud_store_unlock (), in the same worker, right
 * after the write. The lock is released whatever the outcome (failed or
 * cancelled saves too; not on G_IO_ERROR_PENDING, where nothing is done),
 * so it must be held (lock count > 0). The lock is gone only once the
 * callback runs: start the next operation from there. */
void           icloud_store_save_and_unlock_async  (ICloudStore          *self,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean       icloud_store_save_and_unlock_finish (ICloudStore          *self,
                                                    GAsyncResult         *result,
                                                    GError              **error);
/* As icloud_store_delete (), the removal in a worker (file) or through
 * libsecret's asynchronous secret_password_clear () (keyring). */
void           icloud_store_delete_async      (ICloudStore          *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean       icloud_store_delete_finish     (ICloudStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);

/* The debugging check (see "Threads" above), process-wide. Unset, it
 * follows ICLOUD_STORE_ASSERT_OFF_MAIN (set and not "0": on). */
void           icloud_store_set_io_thread_check (gboolean enabled);
gboolean       icloud_store_get_io_thread_check (void);

/* Blocking (see "Threads" above).
 * Creates/tightens the directory and reads the file, replacing the whole
 * in-memory state (data and cookies). A missing file is an empty state; a
 * corrupt one is set aside (see above) and gives an empty state, TRUE.
 * Errors (ICLOUD_ERROR_STORAGE) when the directory cannot be used (not a
 * directory, a symbolic link, another user's) or the file cannot be read
 * (permission, a symbolic link, not a regular file); the in-memory state
 * is then unchanged. Does not take the lock: callers lock around
 * load/modify/save. */
gboolean       icloud_store_load              (ICloudStore  *self,
                                               GError      **error);
/* Blocking. Writes if (and only if) the serialised state changed since the last load
 * or save. ICLOUD_ERROR_STORAGE on failure (the old file stays intact). */
gboolean       icloud_store_save              (ICloudStore  *self,
                                               GError      **error);
/* Number of times the file (or the keyring secret) was actually written by
 * this object. */
guint          icloud_store_get_n_writes      (ICloudStore  *self);

const char    *icloud_store_get               (ICloudStore  *self,
                                               const char   *key);
/* value NULL or "" removes the key. */
void           icloud_store_set               (ICloudStore  *self,
                                               const char   *key,
                                               const char   *value);
/* The jar holding this account's cookies (owned by the store). */
SoupCookieJar *icloud_store_get_cookie_jar    (ICloudStore  *self);

/* Forgets the short-lived state (session token, scnt, session id, account
 * country, auth attributes, dsid, every cookie) but keeps client_id and,
 * when @keep_trust, trust_token. */
void           icloud_store_reset             (ICloudStore  *self,
                                               gboolean      keep_trust);
/* Blocking. Removes the file, or clears the keyring secret (logout without keeping
 * anything; a missing file or secret is fine) and clears the in-memory state except client_id. A save right after
 * it writes nothing until the state changes again. */
gboolean       icloud_store_delete            (ICloudStore  *self,
                                               GError      **error);

/* Blocking. Per-account advisory lock (flock on `<base>.lock`, 0600), non-blocking: if
 * another process (or another store object, even in this process) holds
 * it, FALSE with ICLOUD_ERROR_STORAGE ("The session of <apple id> is in use
 * by another process"). Recursive within one store object (counted); the
 * last unlock releases it, and so does finalizing the store. */
gboolean       icloud_store_lock              (ICloudStore  *self,
                                               GError      **error);
/* Releases one level of the lock; the last releases the flock (LOCK_UN and
 * close: no disk access, any thread of the store's). */
void           icloud_store_unlock            (ICloudStore  *self);

G_END_DECLS
