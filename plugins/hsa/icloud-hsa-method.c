/* icloud-hsa-method.c: the `hsa` auth method, Apple's legacy two-step
 * verification (2SA; protocol §1.2 steps 13–16, §9)
 *
 * The session enters this method when accountLogin says the account has
 * two-step verification (dsInfo.hsaVersion 1) and the session is not
 * trusted. There is nothing to prepare: the user lists the trusted devices,
 * has a code sent to one, and types it; the code is checked on the setup
 * host, then the session asks Apple to trust it.
 *
 * Codes are never logged nor put in a message.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <icloud-glib/icloud-plugin.h>
#include "icloud-token-private.h"

#define WRONG_CODE "-21669"

#define ICLOUD_TYPE_HSA_METHOD (icloud_hsa_method_get_type ())
G_DECLARE_FINAL_TYPE (ICloudHsaMethod, icloud_hsa_method, ICLOUD, HSA_METHOD, ICloudAuthMethod)

struct _ICloudHsaMethod
{
  ICloudAuthMethod parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (ICloudHsaMethod, icloud_hsa_method, ICLOUD_TYPE_AUTH_METHOD)

/* ------------------------------------------------------------------------ */
/* helpers */

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

static JsonObject *
response_object (ICloudResponse *response)
{
  JsonNode *json = icloud_response_get_json (response);

  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    return NULL;
  return json_node_get_object (json);
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

/* ------------------------------------------------------------------------ */
/* list_targets: the trusted devices (step 14) */

static void
list_targets_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  ICloudAuthContext *context = ICLOUD_AUTH_CONTEXT (source);
  g_autoptr(ICloudResponse) response = NULL;
  g_autoptr(GListStore) devices = NULL;
  GError *error = NULL;
  JsonObject *object;
  JsonNode *list;
  JsonArray *array;

  response = icloud_auth_context_send_request_finish (context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!icloud_response_is_success (response))
    {
      g_task_return_error (task, response_error (response, "the list of trusted devices"));
      return;
    }

  object = response_object (response);
  list = object != NULL ? json_object_get_member (object, "devices") : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's list of trusted devices has no devices array");
      return;
    }

  devices = g_list_store_new (ICLOUD_TYPE_TRUSTED_DEVICE);
  array = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      g_autoptr(ICloudTrustedDevice) device = NULL;
      g_autoptr(GError) device_error = NULL;

      device = icloud_trusted_device_new_from_json (json_array_get_element (array, i), &device_error);
      if (device == NULL)
        {
          g_debug ("Skipping trusted device %u: %s", i, device_error->message);
          continue;
        }
      g_list_store_append (devices, device);
    }

  g_task_return_pointer (task, g_steal_pointer (&devices), g_object_unref);
}

static void
icloud_hsa_method_list_targets_async (ICloudAuthMethod    *method,
                                      ICloudAuthContext       *context,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *task = g_task_new (method, cancellable, callback, user_data);

  g_task_set_source_tag (task, icloud_hsa_method_list_targets_async);
  icloud_auth_context_send_request_async (context, "GET", ICLOUD_ROOT_SETUP, "/listDevices",
                                     NULL, ICLOUD_REQUEST_SETUP_PARAMS, cancellable,
                                     list_targets_cb, task);
}

static GListModel *
icloud_hsa_method_list_targets_finish (ICloudAuthMethod  *method,
                                       GAsyncResult      *result,
                                       GError           **error)
{
  g_return_val_if_fail (g_task_is_valid (result, method), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == icloud_hsa_method_list_targets_async, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ------------------------------------------------------------------------ */
/* request_code: send a code to one device (step 15) */

static void
request_code_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (!icloud_response_is_success (response))
    {
      g_task_return_error (task, response_error (response, "the request for a verification code"));
      return;
    }
  if (icloud_response_get_service_error (response, NULL, NULL))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple did not send a verification code to this device");
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
icloud_hsa_method_request_code_async (ICloudAuthMethod    *method,
                                      ICloudAuthContext       *context,
                                      GObject             *target,
                                      GCancellable        *cancellable,
                                      GAsyncReadyCallback  callback,
                                      gpointer             user_data)
{
  GTask *task = g_task_new (method, cancellable, callback, user_data);
  g_autoptr(JsonNode) body = NULL;

  g_task_set_source_tag (task, icloud_hsa_method_request_code_async);

  if (target == NULL || !ICLOUD_IS_TRUSTED_DEVICE (target))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "A two-step code is sent to one trusted device");
      g_object_unref (task);
      return;
    }

  body = icloud_trusted_device_to_json (ICLOUD_TRUSTED_DEVICE (target));
  icloud_auth_context_send_request_async (context, "POST", ICLOUD_ROOT_SETUP, "/sendVerificationCode",
                                     body, ICLOUD_REQUEST_SETUP_PARAMS, cancellable,
                                     request_code_cb, task);
}

static gboolean
icloud_hsa_method_request_code_finish (ICloudAuthMethod  *method,
                                       GAsyncResult      *result,
                                       GError           **error)
{
  return boolean_finish (method, result, icloud_hsa_method_request_code_async, error);
}

/* ------------------------------------------------------------------------ */
/* validate_code: check the code (step 16) */

static void
validate_code_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  /* Apple answers a wrong code with 200 and success false (§9). */
  if (icloud_response_has_service_error (response, WRONG_CODE))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                               "The verification code is not right");
      return;
    }
  if (!icloud_response_is_success (response))
    {
      g_task_return_error (task, response_error (response, "the verification code"));
      return;
    }
  if (icloud_response_get_service_error (response, NULL, NULL))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple did not accept the verification code, for an unknown reason");
      return;
    }
  icloud_token_task_return (task, icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER));
}

static void
icloud_hsa_method_validate_code_async (ICloudAuthMethod    *method,
                                       ICloudAuthContext       *context,
                                       GObject             *target,
                                       const char          *code,
                                       GCancellable        *cancellable,
                                       GAsyncReadyCallback  callback,
                                       gpointer             user_data)
{
  GTask *task = g_task_new (method, cancellable, callback, user_data);
  g_autoptr(JsonNode) body = NULL;
  JsonObject *object;

  g_task_set_source_tag (task, icloud_hsa_method_validate_code_async);

  if (target == NULL || !ICLOUD_IS_TRUSTED_DEVICE (target))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "A two-step code is checked for the trusted device it was sent to");
      g_object_unref (task);
      return;
    }
  if (code == NULL || *code == '\0')
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE,
                               "No verification code was given");
      g_object_unref (task);
      return;
    }

  body = icloud_trusted_device_to_json (ICLOUD_TRUSTED_DEVICE (target));
  object = json_node_get_object (body);
  json_object_set_string_member (object, "verificationCode", code);
  json_object_set_boolean_member (object, "trustBrowser", TRUE);

  icloud_auth_context_send_request_async (context, "POST", ICLOUD_ROOT_SETUP, "/validateVerificationCode",
                                     body, ICLOUD_REQUEST_SETUP_PARAMS, cancellable,
                                     validate_code_cb, task);
}

static gboolean
icloud_hsa_method_validate_code_finish (ICloudAuthMethod  *method,
                                        GAsyncResult      *result,
                                        char             **session_token,
                                        GError           **error)
{
  return icloud_token_method_finish (method, result, icloud_hsa_method_validate_code_async, session_token, error);
}

/* ------------------------------------------------------------------------ */
/* trust (step 13) */

static void
trust_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  /* icloudpd: "2sv/trust returns 404 for 2SA"; accountLogin then tells. */
  if (!icloud_response_is_success (response) && icloud_response_get_status (response) != 404)
    {
      g_task_return_error (task, response_error (response, "the request to trust this session"));
      return;
    }
  icloud_token_task_return (task, icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER));
}

static void
icloud_hsa_method_trust_async (ICloudAuthMethod    *method,
                               ICloudAuthContext       *context,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  GTask *task = g_task_new (method, cancellable, callback, user_data);

  g_task_set_source_tag (task, icloud_hsa_method_trust_async);
  icloud_auth_context_send_request_async (context, "GET", ICLOUD_ROOT_AUTH, "/2sv/trust",
                                     NULL, ICLOUD_REQUEST_AUTH_HEADERS, cancellable,
                                     trust_cb, task);
}

static gboolean
icloud_hsa_method_trust_finish (ICloudAuthMethod  *method,
                                GAsyncResult      *result,
                                char             **session_token,
                                GError           **error)
{
  return icloud_token_method_finish (method, result, icloud_hsa_method_trust_async, session_token, error);
}

/* ------------------------------------------------------------------------ */

static void
icloud_hsa_method_class_init (ICloudHsaMethodClass *klass)
{
  ICloudAuthMethodClass *method_class = ICLOUD_AUTH_METHOD_CLASS (klass);

  /* begin: nothing to fetch, the default succeeds. */
  method_class->list_targets_async = icloud_hsa_method_list_targets_async;
  method_class->list_targets_finish = icloud_hsa_method_list_targets_finish;
  method_class->request_code_async = icloud_hsa_method_request_code_async;
  method_class->request_code_finish = icloud_hsa_method_request_code_finish;
  method_class->validate_code_async = icloud_hsa_method_validate_code_async;
  method_class->validate_code_finish = icloud_hsa_method_validate_code_finish;
  method_class->trust_async = icloud_hsa_method_trust_async;
  method_class->trust_finish = icloud_hsa_method_trust_finish;
}

static void
icloud_hsa_method_class_finalize (ICloudHsaMethodClass *klass)
{
}

static void
icloud_hsa_method_init (ICloudHsaMethod *self)
{
}

/* GIO module entry points */

G_MODULE_EXPORT void
g_io_module_load (GIOModule *module)
{
  g_type_module_use (G_TYPE_MODULE (module));   /* never unloaded */
  icloud_hsa_method_register_type (G_TYPE_MODULE (module));
  icloud_auth_method_register (ICLOUD_TYPE_HSA_METHOD, "hsa", 10);
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
