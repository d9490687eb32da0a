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
 * No secret is ever logged.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib-object.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define ICLOUD_TYPE_STORE (icloud_store_get_type ())
G_DECLARE_FINAL_TYPE (ICloudStore, icloud_store, ICLOUD, STORE, GObject)

/* $XDG_STATE_HOME/icloud-glib (g_get_user_state_dir ()). */
char          *icloud_store_default_directory (void);
/* The file base name for an Apple ID (non-word characters removed). */
char          *icloud_store_base_name         (const char   *apple_id);

/* @directory NULL → the default. Does no I/O. */
ICloudStore   *icloud_store_new               (const char   *directory,
                                               const char   *apple_id);
const char    *icloud_store_get_directory     (ICloudStore  *self);
const char    *icloud_store_get_path          (ICloudStore  *self);

/* Creates/tightens the directory and reads the file. A missing file is an
 * empty state; a corrupt one is set aside (see above). Errors only when the
 * directory cannot be used: ICLOUD_ERROR_STORAGE. */
gboolean       icloud_store_load              (ICloudStore  *self,
                                               GError      **error);
/* Writes if (and only if) the serialised state changed since the last load
 * or save. ICLOUD_ERROR_STORAGE on failure (the old file stays intact). */
gboolean       icloud_store_save              (ICloudStore  *self,
                                               GError      **error);
/* Number of times the file was actually written by this object. */
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
/* Removes the file (logout without keeping anything). */
gboolean       icloud_store_delete            (ICloudStore  *self,
                                               GError      **error);

/* Per-account advisory lock, non-blocking: if another process (or another
 * store object) holds it, FALSE with ICLOUD_ERROR_STORAGE ("… is in use by
 * another process"). Recursive within one store object (counted). */
gboolean       icloud_store_lock              (ICloudStore  *self,
                                               GError      **error);
void           icloud_store_unlock            (ICloudStore  *self);

G_END_DECLS
