/* icloud-test-method.c: a test-only auth method, built as a real GIO module
 * outside the library's plugin folder, to show that modules on
 * ICLOUD_PLUGIN_PATH are found and used. It signs in with pyicloud 1.0.0's
 * legacy plain-password call (protocol §1.2 step 3b), which the fake server
 * accepts for accounts marked so. Never use this method against Apple.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <icloud-glib/icloud-plugin.h>

#define TEST_TYPE_LEGACY_METHOD (test_legacy_method_get_type ())
G_DECLARE_FINAL_TYPE (TestLegacyMethod, test_legacy_method, TEST, LEGACY_METHOD, ICloudAuthMethod)

struct _TestLegacyMethod
{
  ICloudAuthMethod parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (TestLegacyMethod, test_legacy_method, ICLOUD_TYPE_AUTH_METHOD)

static void
signin_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(ICloudResponse) response = NULL;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    g_task_return_error (task, error);
  else if (icloud_response_get_status (response) == 401)
    g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN,
                             "The legacy sign-in was refused");
  else if (!icloud_response_check (response, &error))
    g_task_return_error (task, error);
  else if (icloud_response_get_header (response, "X-Apple-Session-Token") == NULL)
    g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                             "The legacy sign-in gave no session token");
  else
    g_task_return_pointer (task, g_strdup (icloud_response_get_header (response, "X-Apple-Session-Token")),
                           g_free);
}

static void
test_legacy_method_sign_in_async (ICloudAuthMethod    *method,
                                  ICloudAuthContext   *context,
                                  const char          *password,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  GTask *task = g_task_new (method, cancellable, callback, user_data);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;

  g_task_set_source_tag (task, test_legacy_method_sign_in_async);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "accountName");
  json_builder_add_string_value (builder, icloud_auth_context_get_apple_id (context));
  json_builder_set_member_name (builder, "password");
  json_builder_add_string_value (builder, password);
  json_builder_set_member_name (builder, "rememberMe");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "trustTokens");
  json_builder_begin_array (builder);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_auth_context_send_request_async (context, "POST", ICLOUD_ROOT_AUTH,
                                          "/signin?isRememberMeEnabled=true", body,
                                          ICLOUD_REQUEST_AUTH_HEADERS, cancellable,
                                          signin_cb, task);
}

static gboolean
test_legacy_method_sign_in_finish (ICloudAuthMethod  *method,
                                   GAsyncResult      *result,
                                   char             **session_token,
                                   GError           **error)
{
  char *token;

  g_return_val_if_fail (g_task_is_valid (result, method), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == test_legacy_method_sign_in_async, FALSE);

  token = g_task_propagate_pointer (G_TASK (result), error);
  if (session_token != NULL)
    *session_token = token;
  else
    g_free (token);
  return token != NULL;
}

static void
test_legacy_method_class_init (TestLegacyMethodClass *klass)
{
  ICLOUD_AUTH_METHOD_CLASS (klass)->sign_in_async = test_legacy_method_sign_in_async;
  ICLOUD_AUTH_METHOD_CLASS (klass)->sign_in_finish = test_legacy_method_sign_in_finish;
}

static void
test_legacy_method_class_finalize (TestLegacyMethodClass *klass)
{
}

static void
test_legacy_method_init (TestLegacyMethod *self)
{
}

G_MODULE_EXPORT void
g_io_module_load (GIOModule *module)
{
  g_type_module_use (G_TYPE_MODULE (module));
  test_legacy_method_register_type (G_TYPE_MODULE (module));
  icloud_auth_method_register (TEST_TYPE_LEGACY_METHOD, "test-legacy-password", 0);
}

G_MODULE_EXPORT void
g_io_module_unload (GIOModule *module)
{
}
