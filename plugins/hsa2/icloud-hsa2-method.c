/* icloud-hsa2-method.c: the `hsa2` auth method, Apple's two-factor challenge
 * (protocol §1.2 steps 6–11 and 13; §9)
 *
 * The session enters this method when accountLogin says the account has
 * two-factor authentication (dsInfo.hsaVersion 2) and the session is not
 * trusted yet. begin_async reads Apple's auth options (the trusted phone
 * numbers, and whether security keys protect the account); the user then
 * asks for a code (pushed to the trusted devices, or by SMS to one trusted
 * phone) and types it; trust_async asks Apple to trust the session.
 *
 * Everything a later process needs to finish the challenge (the phone a
 * code was sent to, the security keys) is kept in the saved session, so
 * that `login` and `verify` may run as two processes (headless 2FA).
 *
 * Codes are never logged nor put in a message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <icloud-glib/icloud-plugin.h>

#include "icloud-hsa2-bridge.h"
#include "icloud-hsa2-options.h"
#include "icloud-text-private.h"
#include "icloud-token-private.h"

/* Keys of this method's slice of the saved session (its context adds the
 * "hsa2_" prefix). */
#define DATA_PHONE_ID      "phone_id"       /* a code was sent by SMS to this phone */
#define DATA_PHONE_MODE    "phone_mode"     /* …in this mode (sms, voice) */
#define DATA_SECURITY_KEYS "security_keys"  /* key names, joined by ", " */

#define WRONG_CODE "-21669"

#define ICLOUD_TYPE_HSA2_METHOD (icloud_hsa2_method_get_type ())
G_DECLARE_FINAL_TYPE (ICloudHsa2Method, icloud_hsa2_method, ICLOUD, HSA2_METHOD, ICloudAuthMethod)

struct _ICloudHsa2Method
{
  ICloudAuthMethod parent_instance;

  /* The trusted phones of the last auth options read, or NULL. */
  GListStore *phones;

  /* What the last auth options read say of the trusted-device bridge
   * (in memory: another process reads them again). */
  gboolean    options_read;
  gboolean    bridge_offered;
  char       *bridge_topic;
  char       *bridge_host;
  char       *source_app_id;

  /* The open prompt of this session's bridge, or NULL. The method is
   * made for one session (its context's): the bridge is that session's. */
  ICloudHsa2Bridge *bridge;
};

G_DEFINE_DYNAMIC_TYPE (ICloudHsa2Method, icloud_hsa2_method, ICLOUD_TYPE_AUTH_METHOD)

/* ------------------------------------------------------------------------ */
/* JSON helpers */

/* The error of a failed response: Apple's generic statuses, or PROTOCOL. */
static GError *
response_error (ICloudResponse *response,
                const char     *what)
{
  GError *error = NULL;

  if (!icloud_response_check (response, &error))
    return error;
  return g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                      "Unexpected answer from Apple to %s (HTTP %u)",
                      what, icloud_response_get_status (response));
}

/* ------------------------------------------------------------------------ */
/* The auth options (step 6): JSON, or HTML with the boot args */

/* What one read of the options gave. */
typedef struct {
  gboolean    parsed;         /* a JSON document was found */
  GListStore *phones;         /* of ICloudTrustedPhone */
  char       *security_keys;  /* NULL if none */
  GError     *http_error;     /* Apple refused to answer */
  gboolean    bridge;         /* the trusted-device bridge is offered */
  char       *bridge_topic;
  char       *bridge_host;
  char       *source_app_id;
} Options;

static void
options_free (Options *options)
{
  g_clear_object (&options->phones);
  g_free (options->security_keys);
  g_clear_error (&options->http_error);
  g_free (options->bridge_topic);
  g_free (options->bridge_host);
  g_free (options->source_app_id);
  g_free (options);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Options, options_free)

static Options *
options_from_response (ICloudResponse *response)
{
  Options *options = g_new0 (Options, 1);
  g_autoptr(ICloudHsa2Options) found = NULL;

  if (!icloud_response_is_success (response))
    {
      options->phones = g_list_store_new (ICLOUD_TYPE_TRUSTED_PHONE);
      options->http_error = response_error (response, "the request for the sign-in options");
      return options;
    }

  /* icloud-hsa2-options.c: the body decides, whatever the content type. */
  found = icloud_hsa2_options_parse_document (icloud_response_get_body (response),
                                             icloud_response_get_json (response));
  options->parsed = found->parsed;
  options->phones = g_steal_pointer (&found->phones);
  options->security_keys = g_steal_pointer (&found->security_keys);
  options->bridge = found->bridge;
  options->bridge_topic = g_steal_pointer (&found->bridge_topic);
  options->bridge_host = g_steal_pointer (&found->bridge_host);
  options->source_app_id = g_steal_pointer (&found->source_app_id);
  return options;
}

static gboolean
options_useful (Options *options)
{
  return options->security_keys != NULL ||
         g_list_model_get_n_items (G_LIST_MODEL (options->phones)) > 0;
}

typedef struct {
  ICloudAuthContext *context;
  gboolean       as_json;
} FetchData;

static void
fetch_data_free (FetchData *data)
{
  g_clear_object (&data->context);
  g_free (data);
}

static void fetch_options_send (GTask *task);

static void
fetch_options_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  FetchData *data = g_task_get_task_data (task);
  g_autoptr(ICloudResponse) response = NULL;
  g_autoptr(Options) options = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (data->context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  options = options_from_response (response);
  if (!data->as_json && options->http_error == NULL && !options_useful (options))
    {
      /* Apple's page may lack what its JSON has (what-users-hit §2, §13):
       * ask once more for the JSON. Not after a refusal (503, 429…). */
      g_debug ("The HTML sign-in options show no phone and no security key; asking for JSON");
      data->as_json = TRUE;
      fetch_options_send (g_steal_pointer (&task));
      return;
    }

  g_task_return_pointer (task, g_steal_pointer (&options), (GDestroyNotify) options_free);
}

static void
fetch_options_send (GTask *task)
{
  FetchData *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  ICloudRequestFlags flags = ICLOUD_REQUEST_AUTH_HEADERS;

  if (!data->as_json)
    flags |= ICLOUD_REQUEST_ACCEPT_HTML;
  icloud_auth_context_send_request_async (data->context, "GET", ICLOUD_ROOT_AUTH, "", NULL,
                                     flags, cancellable, fetch_options_cb, task);
}

/* GET AUTH (step 6), as Apple's page, then as JSON if the page is of no use. */
static void
fetch_options_async (ICloudHsa2Method    *self,
                     ICloudAuthContext       *context,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  FetchData *data = g_new0 (FetchData, 1);

  g_task_set_source_tag (task, fetch_options_async);
  data->context = g_object_ref (context);
  g_task_set_task_data (task, data, (GDestroyNotify) fetch_data_free);
  fetch_options_send (task);
}

static Options *
fetch_options_finish (ICloudHsa2Method  *self,
                      GAsyncResult      *result,
                      GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == fetch_options_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* Keeps what the options say: the phones for list_targets, the security
 * keys in the saved session (and the state). */
static void
apply_options (ICloudHsa2Method *self,
               ICloudAuthContext    *context,
               Options          *options)
{
  if (!options->parsed)
    return;

  g_set_object (&self->phones, options->phones);
  icloud_auth_context_store (context, DATA_SECURITY_KEYS, options->security_keys);

  self->options_read = TRUE;
  self->bridge_offered = options->bridge;
  g_free (self->bridge_topic);
  self->bridge_topic = g_strdup (options->bridge_topic);
  g_free (self->bridge_host);
  self->bridge_host = g_strdup (options->bridge_host);
  g_free (self->source_app_id);
  self->source_app_id = g_strdup (options->source_app_id);
}

/* The challenge that follows the options: a security key when Apple lists
 * keys, the two-factor code otherwise. */
static ICloudAuthState
challenge_after (ICloudAuthContext *context)
{
  if (icloud_auth_context_lookup (context, DATA_SECURITY_KEYS) != NULL)
    return ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY;
  return icloud_auth_context_get_state (context);
}

static GListModel *
copy_phones (GListStore *phones)
{
  GListStore *copy = g_list_store_new (ICLOUD_TYPE_TRUSTED_PHONE);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (phones));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GObject) item = g_list_model_get_item (G_LIST_MODEL (phones), i);
      g_list_store_append (copy, item);
    }
  return G_LIST_MODEL (copy);
}

/* Security keys cannot be used here: every code operation fails at once. */
static gboolean
return_if_security_keys (GTask         *task,
                         ICloudAuthContext *context)
{
  const char *keys = icloud_auth_context_lookup (context, DATA_SECURITY_KEYS);
  g_autofree char *shown = NULL;

  if (keys == NULL && icloud_auth_context_get_state (context) != ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY)
    return FALSE;

  shown = icloud_text_escape (keys != NULL ? keys : "a security key", -1, ICLOUD_TEXT_MAX_QUOTED);
  g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_SECURITY_KEY_REQUIRED,
                           "This account is protected by security keys (%s); sign in with one on icloud.com",
                           shown);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* begin */

static void
begin_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (source);
  g_autoptr(GTask) task = user_data;
  ICloudAuthContext *context = g_task_get_task_data (task);
  g_autoptr(Options) options = NULL;
  GError *error = NULL;

  options = fetch_options_finish (self, result, &error);
  if (options == NULL && g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL))
    {
      /* An answer that could not be read (one over the size limit): the
       * options are optional, like an unparsable page. */
      g_debug ("The sign-in options could not be read: %s", error->message);
      g_clear_error (&error);
      g_task_return_int (task, challenge_after (context));
      return;
    }
  if (options == NULL)
    {
      /* Network failure or cancellation. */
      g_task_return_error (task, error);
      return;
    }

  /* Not fatal: the user may still type a code pushed to a device. */
  if (options->http_error != NULL)
    g_debug ("The sign-in options could not be read: %s", options->http_error->message);
  else if (!options->parsed)
    g_debug ("The sign-in options are neither JSON nor a page with boot args");

  apply_options (self, context, options);
  g_task_return_int (task, challenge_after (context));
}

static void
icloud_hsa2_method_begin_async (ICloudAuthMethod    *method,
                                ICloudAuthContext       *context,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (method);
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, icloud_hsa2_method_begin_async);
  /* A new challenge: a prompt of an earlier one is over. */
  g_clear_object (&self->bridge);
  g_task_set_task_data (task, g_object_ref (context), g_object_unref);
  fetch_options_async (self, context, cancellable, begin_cb, task);
}

static gboolean
boolean_finish (ICloudAuthMethod  *method,
                GAsyncResult      *result,
                gpointer           source_tag,
                GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, method), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

static ICloudAuthState
icloud_hsa2_method_begin_finish (ICloudAuthMethod  *method,
                                 GAsyncResult      *result,
                                 GError           **error)
{
  GError *local_error = NULL;
  gssize state;

  g_return_val_if_fail (g_task_is_valid (result, method), ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_hsa2_method_begin_async,
                        ICLOUD_AUTH_STATE_SIGNED_OUT);
  state = g_task_propagate_int (G_TASK (result), &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return ICLOUD_AUTH_STATE_SIGNED_OUT;
    }
  /* The challenge that follows: the method's own, or a security key. */
  return (ICloudAuthState) state;
}

/* ------------------------------------------------------------------------ */
/* list_targets: the trusted phone numbers */

static void
list_targets_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (source);
  g_autoptr(GTask) task = user_data;
  ICloudAuthContext *context = g_task_get_task_data (task);
  g_autoptr(Options) options = NULL;
  GError *error = NULL;

  options = fetch_options_finish (self, result, &error);
  if (options == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (options->http_error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&options->http_error));
      return;
    }
  if (!options->parsed)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's sign-in options could not be read (neither JSON nor a page with boot args)");
      return;
    }

  apply_options (self, context, options);
  if (return_if_security_keys (task, context))
    return;
  g_task_return_pointer (task, copy_phones (self->phones), g_object_unref);
}

static void
icloud_hsa2_method_list_targets_async (ICloudAuthMethod    *method,
                                       ICloudAuthContext       *context,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (method);
  g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, icloud_hsa2_method_list_targets_async);
  g_task_set_task_data (task, g_object_ref (context), g_object_unref);

  if (return_if_security_keys (task, context))
    return;

  if (self->phones != NULL)
    {
      g_task_return_pointer (task, copy_phones (self->phones), g_object_unref);
      return;
    }

  /* Another process read the options: read them again. */
  fetch_options_async (self, context, cancellable, list_targets_cb, g_steal_pointer (&task));
}

static GListModel *
icloud_hsa2_method_list_targets_finish (ICloudAuthMethod  *method,
                                        GAsyncResult      *result,
                                        GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, method), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_hsa2_method_list_targets_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* request_code: the trusted-device bridge (hsa2-bridge.md), a push to the
 * trusted devices (step 7) or an SMS (step 10): one route per request */

typedef struct {
  ICloudAuthContext *context;
  char          *phone_id;    /* NULL: pushed to the trusted devices */
  char          *phone_mode;
} RequestData;

static void
request_data_free (RequestData *data)
{
  g_clear_object (&data->context);
  g_free (data->phone_id);
  g_free (data->phone_mode);
  g_free (data);
}

static void
request_code_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (data->context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  if (!icloud_response_is_success (response))
    {
      g_task_return_error (task, response_error (response,
                                                 data->phone_id != NULL
                                                 ? "the request for an SMS code"
                                                 : "the request for a code on the trusted devices"));
      return;
    }

  /* Remembered for validate_code, in this process or another one. */
  icloud_auth_context_store (data->context, DATA_PHONE_ID, data->phone_id);
  icloud_auth_context_store (data->context, DATA_PHONE_MODE, data->phone_mode);
  icloud_auth_context_set_code_delivery (data->context,
                                         data->phone_id != NULL ? ICLOUD_CODE_DELIVERY_SMS
                                                                : ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE);
  g_task_return_boolean (task, TRUE);
}

/* {"phoneNumber": {"id": N}, …}: the id as a number when it is one. */
static void
add_phone_number (JsonBuilder *builder,
                  const char  *id)
{
  gint64 number;

  json_builder_set_member_name (builder, "phoneNumber");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "id");
  if (g_ascii_string_to_signed (id, 10, G_MININT64, G_MAXINT64, &number, NULL))
    json_builder_add_int_value (builder, number);
  else
    json_builder_add_string_value (builder, id);
  json_builder_end_object (builder);
}

/* GET verify/trusteddevice: Apple pushes a code only when asked
 * (what-users-hit §1). */
static void
request_push (GTask *task)
{
  RequestData *data = g_task_get_task_data (task);

  icloud_auth_context_send_request_async (data->context, "GET", ICLOUD_ROOT_AUTH, "/verify/trusteddevice",
                                          NULL, ICLOUD_REQUEST_AUTH_HEADERS, g_task_get_cancellable (task),
                                          request_code_cb, task);
}

/* PUT verify/phone {"phoneNumber": {"id"}, "mode"} */
static void
request_sms (GTask              *task,
             ICloudTrustedPhone *phone)
{
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;
  const char *mode = icloud_trusted_phone_get_push_mode (phone);

  if (mode == NULL || *mode == '\0')
    mode = "sms";
  g_free (data->phone_id);
  data->phone_id = g_strdup (icloud_trusted_phone_get_id (phone));
  g_free (data->phone_mode);
  data->phone_mode = g_strdup (mode);

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  add_phone_number (builder, data->phone_id);
  json_builder_set_member_name (builder, "mode");
  json_builder_add_string_value (builder, mode);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_auth_context_send_request_async (data->context, "PUT", ICLOUD_ROOT_AUTH, "/verify/phone",
                                          body, ICLOUD_REQUEST_AUTH_HEADERS, g_task_get_cancellable (task),
                                          request_code_cb, task);
}

/* The trusted phone an SMS may go to when the bridge fails: the first one
 * Apple lists with the SMS mode (the bridge's phoneNumberVerification, or
 * the phones list). */
static ICloudTrustedPhone *
sms_phone (ICloudHsa2Method *self)
{
  guint n = self->phones != NULL ? g_list_model_get_n_items (G_LIST_MODEL (self->phones)) : 0;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (G_LIST_MODEL (self->phones), i);
      const char *mode = icloud_trusted_phone_get_push_mode (phone);

      if (mode == NULL || *mode == '\0' || g_str_equal (mode, "sms"))
        return g_steal_pointer (&phone);
    }
  return NULL;
}

static void
request_bridge_cb (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  GTask *task = user_data;
  ICloudHsa2Method *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autoptr(GError) error = NULL;

  if (icloud_hsa2_bridge_start_finish (ICLOUD_HSA2_BRIDGE (source), result, &error))
    {
      /* The code is checked over the bridge, in this process only. */
      icloud_auth_context_store (data->context, DATA_PHONE_ID, NULL);
      icloud_auth_context_store (data->context, DATA_PHONE_MODE, NULL);
      icloud_auth_context_set_code_delivery (data->context, ICLOUD_CODE_DELIVERY_BRIDGE);
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }

  g_clear_object (&self->bridge);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      g_object_unref (task);
      return;
    }

  /* §a.2: SMS when Apple offers it, else the push (§f). */
  phone = sms_phone (self);
  g_debug ("The trusted-device prompt failed (%s); falling back to %s",
           error->message, phone != NULL ? "SMS" : "a push to the trusted devices");
  if (phone != NULL)
    request_sms (task, phone);
  else
    request_push (task);
}

static void
request_start_bridge (GTask *task)
{
  ICloudHsa2Method *self = g_task_get_source_object (task);
  RequestData *data = g_task_get_task_data (task);

  self->bridge = icloud_hsa2_bridge_new (data->context, self->bridge_host, self->bridge_topic,
                                         self->source_app_id);
  icloud_hsa2_bridge_start_async (self->bridge, g_task_get_cancellable (task),
                                  request_bridge_cb, task);
}

static void
request_options_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (source);
  GTask *task = user_data;
  RequestData *data = g_task_get_task_data (task);
  g_autoptr(Options) options = NULL;
  GError *error = NULL;

  options = fetch_options_finish (self, result, &error);
  if (options == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  g_clear_error (&error);
  if (options != NULL && options->http_error == NULL)
    apply_options (self, data->context, options);

  if (self->bridge_offered)
    request_start_bridge (task);
  else
    request_push (task);
}

static void
icloud_hsa2_method_request_code_async (ICloudAuthMethod    *method,
                                       ICloudAuthContext       *context,
                                       GObject             *target,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (method);
  g_autoptr(GTask) task = g_task_new (method, cancellable, callback, user_data);
  RequestData *data;

  g_task_set_source_tag (task, icloud_hsa2_method_request_code_async);

  if (return_if_security_keys (task, context))
    return;

  /* A new request ends the earlier prompt (§a.2). */
  g_clear_object (&self->bridge);

  data = g_new0 (RequestData, 1);
  data->context = g_object_ref (context);
  g_task_set_task_data (task, data, (GDestroyNotify) request_data_free);

  if (target == NULL)
    {
      if (!icloud_auth_context_get_trusted_device_bridge (context))
        request_push (g_steal_pointer (&task));
      else if (!self->options_read)
        /* Another process read the options: whether Apple offers the
         * bridge is only known from them. */
        fetch_options_async (self, context, cancellable, request_options_cb, g_steal_pointer (&task));
      else if (self->bridge_offered)
        request_start_bridge (g_steal_pointer (&task));
      else
        request_push (g_steal_pointer (&task));
      return;
    }

  if (!ICLOUD_IS_TRUSTED_PHONE (target))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "A two-factor code can only be sent to a trusted phone number");
      return;
    }

  request_sms (g_steal_pointer (&task), ICLOUD_TRUSTED_PHONE (target));
}

static gboolean
icloud_hsa2_method_request_code_finish (ICloudAuthMethod  *method,
                                        GAsyncResult      *result,
                                        GError           **error)
{
  return boolean_finish (method, result, icloud_hsa2_method_request_code_async, error);
}

/* ------------------------------------------------------------------------ */
/* validate_code: the trusted-device route (step 8) or the phone route (11) */

/* The challenge is over: nothing of it is kept. */
static void
forget_challenge (ICloudAuthContext *context)
{
  icloud_auth_context_store (context, DATA_PHONE_ID, NULL);
  icloud_auth_context_store (context, DATA_PHONE_MODE, NULL);
  icloud_auth_context_store (context, DATA_SECURITY_KEYS, NULL);
}

static void
validate_bridge_cb (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ICloudHsa2Method *self = g_task_get_source_object (task);
  ICloudAuthContext *context = g_task_get_task_data (task);
  ICloudHsa2Bridge *bridge = ICLOUD_HSA2_BRIDGE (source);
  GError *error = NULL;
  char *token = NULL;

  if (!icloud_hsa2_bridge_validate_finish (bridge, result, &token, &error))
    {
      /* After a wrong code the prompt stays open for another try. */
      if (self->bridge == bridge && !icloud_hsa2_bridge_is_open (bridge))
        g_clear_object (&self->bridge);
      g_task_return_error (task, error);
      return;
    }

  if (self->bridge == bridge)
    g_clear_object (&self->bridge);
  forget_challenge (context);
  icloud_token_task_return (task, token);
  icloud_token_free (token);
}

static void
validate_code_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ICloudAuthContext *context = g_task_get_task_data (task);
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;
  guint status;

  response = icloud_auth_context_send_request_finish (context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  status = icloud_response_get_status (response);
  if (icloud_response_is_success (response))
    {
      forget_challenge (context);
      icloud_token_task_return (task, icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER));
      return;
    }

  if (icloud_response_has_service_error (response, WRONG_CODE))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                               "The verification code is not right");
      return;
    }

  if (status == 412)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple refused to check the code (HTTP 412): this sign-in may need to be verified another way; request a new code or sign in again");
      return;
    }

  g_task_return_error (task, response_error (response, "the verification code"));
}

static void
icloud_hsa2_method_validate_code_async (ICloudAuthMethod    *method,
                                        ICloudAuthContext       *context,
                                        GObject             *target,
                                        const char          *code,
                                        GCancellable        *cancellable,
                                        GAsyncReadyCallback  callback,
                                        gpointer             user_data)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (method);
  g_autoptr(GTask) task = g_task_new (method, cancellable, callback, user_data);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;
  const char *phone_id = NULL;
  const char *mode = NULL;

  g_task_set_source_tag (task, icloud_hsa2_method_validate_code_async);
  g_task_set_task_data (task, g_object_ref (context), g_object_unref);

  if (return_if_security_keys (task, context))
    return;

  if (code == NULL || *code == '\0')
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                               "No verification code was given");
      return;
    }

  if (target == NULL && self->bridge != NULL && !icloud_hsa2_bridge_is_legacy (self->bridge))
    {
      /* The code shown by the bridge's prompt: SPAKE2+ over the bridge. */
      icloud_hsa2_bridge_validate_async (self->bridge, code, cancellable,
                                         validate_bridge_cb, g_steal_pointer (&task));
      return;
    }
  /* The legacy verifier of a _W prompt (§e) takes the code at the
   * trusted-device endpoint; any other route ends the bridge too. */
  g_clear_object (&self->bridge);

  if (target != NULL && ICLOUD_IS_TRUSTED_PHONE (target))
    {
      phone_id = icloud_trusted_phone_get_id (ICLOUD_TRUSTED_PHONE (target));
      mode = icloud_trusted_phone_get_push_mode (ICLOUD_TRUSTED_PHONE (target));
    }
  else if (target != NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "A two-factor code is checked for a trusted phone number or the trusted devices");
      return;
    }
  else
    {
      /* Where the last code was asked for, maybe by another process. */
      phone_id = icloud_auth_context_lookup (context, DATA_PHONE_ID);
      mode = icloud_auth_context_lookup (context, DATA_PHONE_MODE);
    }
  if (mode == NULL || *mode == '\0')
    mode = "sms";

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  if (phone_id != NULL)
    add_phone_number (builder, phone_id);
  json_builder_set_member_name (builder, "securityCode");
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "code");
  json_builder_add_string_value (builder, code);
  json_builder_end_object (builder);
  if (phone_id != NULL)
    {
      json_builder_set_member_name (builder, "mode");
      json_builder_add_string_value (builder, mode);
    }
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_auth_context_send_request_async (context, "POST", ICLOUD_ROOT_AUTH,
                                     phone_id != NULL ? "/verify/phone/securitycode"
                                                      : "/verify/trusteddevice/securitycode",
                                     body, ICLOUD_REQUEST_AUTH_HEADERS, cancellable,
                                     validate_code_cb, g_steal_pointer (&task));
}

static gboolean
icloud_hsa2_method_validate_code_finish (ICloudAuthMethod  *method,
                                         GAsyncResult      *result,
                                         char             **session_token,
                                         GError           **error)
{
  return icloud_token_method_finish (method, result, icloud_hsa2_method_validate_code_async, session_token, error);
}

/* ------------------------------------------------------------------------ */
/* trust (step 13) */

static void
trust_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ICloudAuthContext *context = g_task_get_task_data (task);
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  /* The session keeps the X-Apple-TwoSV-Trust-Token by itself. */
  if (!icloud_response_is_success (response))
    {
      g_task_return_error (task, response_error (response, "the request to trust this session"));
      return;
    }
  /* Trust is only worth its token, as a password proof is only worth its
   * session token. */
  if (icloud_response_get_header (response, "X-Apple-TwoSV-Trust-Token") == NULL)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple answered the request to trust this session without a trust token (HTTP %u)",
                               icloud_response_get_status (response));
      return;
    }
  icloud_token_task_return (task, icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER));
}

static void
icloud_hsa2_method_trust_async (ICloudAuthMethod    *method,
                                ICloudAuthContext       *context,
                                GCancellable        *cancellable,
                                GAsyncReadyCallback  callback,
                                gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (method, cancellable, callback, user_data);

  g_task_set_source_tag (task, icloud_hsa2_method_trust_async);
  g_task_set_task_data (task, g_object_ref (context), g_object_unref);

  icloud_auth_context_send_request_async (context, "GET", ICLOUD_ROOT_AUTH, "/2sv/trust",
                                     NULL, ICLOUD_REQUEST_AUTH_HEADERS, cancellable,
                                     trust_cb, g_steal_pointer (&task));
}

static gboolean
icloud_hsa2_method_trust_finish (ICloudAuthMethod  *method,
                                 GAsyncResult      *result,
                                 char             **session_token,
                                 GError           **error)
{
  return icloud_token_method_finish (method, result, icloud_hsa2_method_trust_async, session_token, error);
}

/* ------------------------------------------------------------------------ */

static void
icloud_hsa2_method_finalize (GObject *object)
{
  ICloudHsa2Method *self = ICLOUD_HSA2_METHOD (object);

  g_clear_object (&self->phones);
  g_clear_object (&self->bridge);   /* closes its socket */
  g_free (self->bridge_topic);
  g_free (self->bridge_host);
  g_free (self->source_app_id);

  G_OBJECT_CLASS (icloud_hsa2_method_parent_class)->finalize (object);
}

static void
icloud_hsa2_method_class_init (ICloudHsa2MethodClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ICloudAuthMethodClass *method_class = ICLOUD_AUTH_METHOD_CLASS (klass);

  object_class->finalize = icloud_hsa2_method_finalize;

  method_class->begin_async = icloud_hsa2_method_begin_async;
  method_class->begin_finish = icloud_hsa2_method_begin_finish;
  method_class->list_targets_async = icloud_hsa2_method_list_targets_async;
  method_class->list_targets_finish = icloud_hsa2_method_list_targets_finish;
  method_class->request_code_async = icloud_hsa2_method_request_code_async;
  method_class->request_code_finish = icloud_hsa2_method_request_code_finish;
  method_class->validate_code_async = icloud_hsa2_method_validate_code_async;
  method_class->validate_code_finish = icloud_hsa2_method_validate_code_finish;
  method_class->trust_async = icloud_hsa2_method_trust_async;
  method_class->trust_finish = icloud_hsa2_method_trust_finish;
}

static void
icloud_hsa2_method_class_finalize (ICloudHsa2MethodClass *klass)
{
}

static void
icloud_hsa2_method_init (ICloudHsa2Method *self)
{
}

/* GIO module entry points */

G_MODULE_EXPORT void
g_io_module_load (GIOModule *module)
{
  g_type_module_use (G_TYPE_MODULE (module));   /* never unloaded */
  icloud_hsa2_method_register_type (G_TYPE_MODULE (module));
  icloud_hsa2_bridge_register (G_TYPE_MODULE (module));
  icloud_auth_method_register (ICLOUD_TYPE_HSA2_METHOD, "hsa2", 10);
}

G_MODULE_EXPORT void
g_io_module_unload (GIOModule *module)
{
}

G_MODULE_EXPORT char **
g_io_module_query (void)
{
  char *eps[] = { (char *) ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME, NULL };
  return g_strdupv (eps);
}
