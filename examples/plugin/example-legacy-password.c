/* example-legacy-password.c: an auth method written outside the library,
 * against the installed plugin API only (<icloud-glib/icloud-plugin.h>),
 * built as a GIO module and registered as "example-legacy-password".
 *
 * It signs in with pyicloud 1.0.0's legacy plain-password call (protocol
 * §1.2 step 3b): the password goes to the server as it is. The fake server
 * (icloud-mock-server) accepts it for accounts marked "legacy_password".
 * Never use this method against Apple: it hands Apple the password itself
 * instead of proving it, and Apple may refuse or lock an account that
 * signs in this way.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gio/gio.h>
#include <icloud-glib/icloud-plugin.h>

#define EXAMPLE_TYPE_LEGACY_METHOD (example_legacy_method_get_type ())
G_DECLARE_FINAL_TYPE (ExampleLegacyMethod, example_legacy_method, EXAMPLE, LEGACY_METHOD, ICloudAuthMethod)

struct _ExampleLegacyMethod
{
  ICloudAuthMethod parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (ExampleLegacyMethod, example_legacy_method, ICLOUD_TYPE_AUTH_METHOD)

static void
signin_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(ICloudResponse) response = NULL;
  const char *token;
  GError *error = NULL;

  response = icloud_auth_context_send_request_finish (ICLOUD_AUTH_CONTEXT (source), result, &error);
  if (response == NULL)
    {
      /* No answer: the network, a cancellation. */
      g_task_return_error (task, error);
      return;
    }

  /* The status this step gives a meaning to first, then Apple's generic
   * errors (throttling, a locked account, another region, ...). */
  if (icloud_response_get_status (response) == 401)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN,
                               "The legacy sign-in was refused");
      return;
    }
  /* 409: the password is right and a second factor is wanted (the account
   * document says which); the session token comes with it. */
  if (icloud_response_get_status (response) != 409 && !icloud_response_check (response, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  /* The session token is the result: the session saves it. */
  token = icloud_response_get_header (response, "X-Apple-Session-Token");
  if (token == NULL)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "The legacy sign-in gave no session token");
      return;
    }
  g_task_return_pointer (task, g_strdup (token), g_free);
}

static void
example_legacy_method_sign_in_async (ICloudAuthMethod    *method,
                                     ICloudAuthContext   *context,
                                     const char          *password,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  GTask *task = g_task_new (method, cancellable, callback, user_data);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  const char *trust_token = icloud_auth_context_get_trust_token (context);

  g_task_set_source_tag (task, example_legacy_method_sign_in_async);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "accountName");
  json_builder_add_string_value (builder, icloud_auth_context_get_apple_id (context));
  json_builder_set_member_name (builder, "password");
  json_builder_add_string_value (builder, password);
  json_builder_set_member_name (builder, "rememberMe");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "trustTokens");
  json_builder_begin_array (builder);
  if (trust_token != NULL)
    json_builder_add_string_value (builder, trust_token);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_auth_context_send_request_async (context, "POST", ICLOUD_ROOT_AUTH,
                                          "/signin?isRememberMeEnabled=true", body,
                                          ICLOUD_REQUEST_AUTH_HEADERS, cancellable,
                                          signin_cb, task);
}

static gboolean
example_legacy_method_sign_in_finish (ICloudAuthMethod  *method,
                                      GAsyncResult      *result,
                                      char             **session_token,
                                      GError           **error)
{
  char *token;

  g_return_val_if_fail (g_task_is_valid (result, method), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == example_legacy_method_sign_in_async,
                        FALSE);

  token = g_task_propagate_pointer (G_TASK (result), error);
  if (session_token != NULL)
    *session_token = token;
  else
    g_free (token);
  return token != NULL;
}

static void
example_legacy_method_class_init (ExampleLegacyMethodClass *klass)
{
  ICloudAuthMethodClass *method_class = ICLOUD_AUTH_METHOD_CLASS (klass);

  /* The other virtual methods keep the base class's: NOT_SUPPORTED. */
  method_class->sign_in_async = example_legacy_method_sign_in_async;
  method_class->sign_in_finish = example_legacy_method_sign_in_finish;
}

static void
example_legacy_method_class_finalize (ExampleLegacyMethodClass *klass)
{
}

static void
example_legacy_method_init (ExampleLegacyMethod *self)
{
}

/* GIO module entry points */

G_MODULE_EXPORT void
g_io_module_load (GIOModule *module)
{
  g_type_module_use (G_TYPE_MODULE (module));   /* never unloaded */
  example_legacy_method_register_type (G_TYPE_MODULE (module));
  icloud_auth_method_register (EXAMPLE_TYPE_LEGACY_METHOD, "example-legacy-password", 0);
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
