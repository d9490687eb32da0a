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
 * chooses the file store explicitly. The keyring calls are libsecret's
 * synchronous ones: they block the calling thread briefly (a round trip to
 * the Secret Service) during a session operation; a later version may make
 * them asynchronous.
 *
 * Thread safety: none. A store is used from one thread at a time (the
 * session's); the lock is between processes (and between store objects),
 * not between threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <libsoup/soup.h>

#include "icloud-glib/icloud-session.h"   /* ICloudSecretStore */

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

/* Creates/tightens the directory and reads the file, replacing the whole
 * in-memory state (data and cookies). A missing file is an empty state; a
 * corrupt one is set aside (see above) and gives an empty state, TRUE.
 * Errors (ICLOUD_ERROR_STORAGE) when the directory cannot be used (not a
 * directory, a symbolic link, another user's) or the file cannot be read
 * (permission, a symbolic link, not a regular file); the in-memory state
 * is then unchanged. Does not take the lock: callers lock around
 * load/modify/save. */
gboolean       icloud_store_load              (ICloudStore  *self,
                                               GError      **error);
/* Writes if (and only if) the serialised state changed since the last load
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
/* Removes the file, or clears the keyring secret (logout without keeping
 * anything; a missing file or secret is fine) and clears the in-memory state except client_id. A save right after
 * it writes nothing until the state changes again. */
gboolean       icloud_store_delete            (ICloudStore  *self,
                                               GError      **error);

/* Per-account advisory lock (flock on `<base>.lock`, 0600), non-blocking: if
 * another process (or another store object, even in this process) holds
 * it, FALSE with ICLOUD_ERROR_STORAGE ("The session of <apple id> is in use
 * by another process"). Recursive within one store object (counted); the
 * last unlock releases it, and so does finalizing the store. */
gboolean       icloud_store_lock              (ICloudStore  *self,
                                               GError      **error);
void           icloud_store_unlock            (ICloudStore  *self);

G_END_DECLS
