/* icloud-session-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-plugin.h"
#include "icloud-store-private.h"

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

struct _ICloudSession
{
  GObject parent_instance;

  char            *apple_id;
  char            *password;
  char            *region;
  ICloudEndpoint  *endpoint;
  char            *cookie_directory;
  ICloudSecretStore secret_store;
  char            *client_id;
  char            *sign_in_method;
  SoupSession     *soup;
  gboolean         own_soup;       /* given through soup-session */
  GMainContext    *context;        /* thread-default when created */
  SoupSession     *blocking_soup;  /* of a blocking twin's call */
  GMainContext    *blocking_context;

  ICloudStore     *store;
  GHashTable      *methods;        /* name → ICloudAuthMethod */

  guint            throttle_retries;
  guint            max_password_sign_ins;
  guint            timeout;
  gboolean         trusted_device_bridge;
  ICloudCodeDelivery code_delivery;

  ICloudAuthState  state;
  GBytes          *account_doc;    /* Apple's latest account document */
  JsonNode        *account_info;   /* parsed from it when asked for */
  gboolean         trusted;
  char            *account_name;
  guint            retry_after;

  gboolean         busy;
  gboolean         initialized;
  GError          *invalid;          /* a construct property that cannot be used */
};

typedef struct {
  GMainContext  *context;
  GAsyncResult  *result;
  ICloudSession *session;
} SyncData;

/* What an operation goes on with once the lock is taken and the session
 * loaded (see icloud_session_op_begin ()). */
typedef void (*OpContinue) (GTask *task);

/* The task data of every operation. */
typedef struct {
  gboolean         force_refresh;  /* authenticate; keep_trusted for logout */
  gboolean         all_sessions;   /* logout */
  ICloudAuthState  wanted;         /* the challenge a second-factor call is for */
  GObject         *target;         /* the phone or device of a code */
  char            *code;           /* the code to validate (wiped) */
  OpContinue       then;
  /* the outcome, kept while the store saves */
  GError          *error;
  gpointer         result;
  GDestroyNotify   result_destroy;
} OpData;

/* At most this many requests of one main context are with libsoup at once;
 * the others wait in the session's queue, in order. libsoup 3.2 walks its
 * whole queue against its connections on every step, so hundreds of
 * sign-ins queued there stall the main loop for seconds; a queue of our own
 * costs nothing. */
#define MAX_REQUESTS_IN_FLIGHT 16

#define PASSWORD_SIGN_IN_WINDOW (15 * 60)
#define DATA_PASSWORD_SIGN_INS "password_sign_ins"

/* Shared by the files of ICloudSession (icloud-session.c, icloud-transport.c,
 * icloud-sign-in.c, icloud-challenge.c); see each for what it does. */
gboolean icloud_session_apply_account_info (ICloudSession *self, ICloudResponse *response, GError **error);
const char * icloud_session_challenge_method_name (ICloudAuthState state);
void icloud_session_forget_account_info (ICloudSession *self);
ICloudAuthMethod * icloud_session_get_method (ICloudSession *self, const char *name, GError **error);
GTask * icloud_session_op_new (ICloudSession *self, GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data, gpointer source_tag);
void icloud_session_op_begin (GTask *task, OpContinue then);
void icloud_session_op_end (GTask *task, GError *error);
void icloud_session_op_end_pointer (GTask *task, gpointer result, GDestroyNotify destroy);
void icloud_session_set_retry_after (ICloudSession *self, guint retry_after);
void icloud_session_set_code_delivery (ICloudSession *self, ICloudCodeDelivery delivery);
void icloud_session_drop_methods (ICloudSession *self);
void icloud_session_set_state (ICloudSession *self, ICloudAuthState state);
void icloud_session_sync_data_init (SyncData *data, ICloudSession *session);
void icloud_session_sync_data_wait (SyncData *data);
void icloud_session_sync_ready_cb (GObject *source, GAsyncResult *result, gpointer user_data);
void icloud_session_sync_data_clear (SyncData *data);
void icloud_session_wipe_password (ICloudSession *self);
gboolean icloud_session_ensure_prepared (ICloudSession *self, GError **error);
void icloud_session_drop_blocking_soup_session (ICloudSession *self);
SoupSession * icloud_session_dup_shared_soup_session (void);
gboolean icloud_session_boolean_finish (ICloudSession *self, GAsyncResult *result, gpointer source_tag, GError **error);
GListModel * icloud_session_list_finish (ICloudSession *self, GAsyncResult *result, gpointer source_tag, GError **error);
void icloud_session_trust_then_login (GTask *task, ICloudAuthMethod *method);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SyncData, icloud_session_sync_data_clear)

/* The transport (icloud-transport.c), for ICloudAuthContext and the core. */
void            icloud_session_send_request_async   (ICloudSession        *self,
                                                     const char           *http_method,
                                                     ICloudRoot            root,
                                                     const char           *path,
                                                     JsonNode             *body,
                                                     ICloudRequestFlags    flags,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
void            icloud_session_send_request_full_async (ICloudSession     *self,
                                                     const char           *http_method,
                                                     ICloudRoot            root,
                                                     const char           *path,
                                                     JsonNode             *body,
                                                     ICloudRequestFlags    flags,
                                                     SoupMessageHeaders   *headers,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
ICloudResponse *icloud_session_send_request_finish  (ICloudSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
void            icloud_session_connect_websocket_async (ICloudSession     *self,
                                                     const char           *host,
                                                     const char           *path,
                                                     const char           *origin,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
SoupWebsocketConnection *icloud_session_connect_websocket_finish (ICloudSession *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
/* accountLogin with the saved session token (icloud-sign-in.c). */
void            icloud_session_account_login_async  (ICloudSession        *self,
                                                     GCancellable         *cancellable,
                                                     GAsyncReadyCallback   callback,
                                                     gpointer              user_data);
gboolean        icloud_session_account_login_finish (ICloudSession        *self,
                                                     GAsyncResult         *result,
                                                     GError              **error);
/* The context the session made for @method (see get_method ()). */
ICloudAuthContext *icloud_session_get_context       (ICloudSession        *self,
                                                     ICloudAuthMethod     *method);
/* Saves a session token an auth method returned. */
void            icloud_session_take_session_token   (ICloudSession        *self,
                                                     char                 *token);


/* The store of a session (tests and the importer). */
ICloudStore *icloud_session_get_store (ICloudSession *self);
/* FALSE, with the error an operation would return, when a construct
 * property cannot be used or the session was closed. */
gboolean     icloud_session_check_usable (ICloudSession  *self,
                                          GError        **error);

G_END_DECLS
