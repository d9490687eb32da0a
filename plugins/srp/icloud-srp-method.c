/* icloud-srp-method.c: the `srp` auth method, Apple's SRP-6a password proof
 * (protocol §1.2 steps 2, 3 and 3c; §3)
 *
 * The password never leaves the machine: it is turned into the PBKDF2 key
 * Apple asks for (s2k or s2k_fo) and proved with SRP-6a. The derivation and
 * the modular exponentiations run in a worker thread, never on the main
 * loop.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <string.h>
#include <gio/gio.h>
#include <icloud-glib/icloud-plugin.h>

#include "icloud-crypto-private.h"
#include "icloud-srp-private.h"
#include "icloud-text-private.h"
#include "icloud-token-private.h"

/* The PBKDF2 iteration counts a server may ask for. */
#define ICLOUD_SRP_MIN_ITERATIONS 1000
#define ICLOUD_SRP_MAX_ITERATIONS 10000000

#define ICLOUD_TYPE_SRP_METHOD (icloud_srp_method_get_type ())
G_DECLARE_FINAL_TYPE (ICloudSrpMethod, icloud_srp_method, ICLOUD, SRP_METHOD, ICloudAuthMethod)

struct _ICloudSrpMethod
{
  ICloudAuthMethod parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (ICloudSrpMethod, icloud_srp_method, ICLOUD_TYPE_AUTH_METHOD)

typedef struct {
  ICloudAuthContext *context;
  char             *apple_id;
  char             *password;     /* a copy, wiped */
  ICloudSrpClient  *client;
  char             *c;            /* Apple's opaque handshake id */
  GBytes           *A;
  /* from signin/init */
  ICloudSrpProtocol protocol;
  GBytes           *salt;
  GBytes           *B;
  guint             iterations;
  /* results */
  char             *m1;
  char             *m2;
} SignIn;

static void
sign_in_free (SignIn *data)
{
  g_clear_object (&data->context);
  g_free (data->apple_id);
  g_clear_pointer (&data->password, icloud_crypto_free_secret);
  g_clear_pointer (&data->client, icloud_srp_client_free);
  g_clear_pointer (&data->c, icloud_crypto_free_secret);
  g_clear_pointer (&data->A, g_bytes_unref);
  g_clear_pointer (&data->salt, g_bytes_unref);
  g_clear_pointer (&data->B, g_bytes_unref);
  g_clear_pointer (&data->m1, icloud_crypto_free_secret);
  g_clear_pointer (&data->m2, icloud_crypto_free_secret);
  g_free (data);
}

static char *
base64_bytes (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return g_base64_encode (data, len);
}

/* Decodes standard base64 strictly enough: g_base64_decode accepts anything,
 * so check the alphabet first. */
static GBytes *
decode_base64 (const char *text)
{
  gsize len = 0;
  guchar *data;

  if (text == NULL || *text == '\0')
    return NULL;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      return NULL;

  data = g_base64_decode (text, &len);
  if (len == 0)
    {
      g_free (data);
      return NULL;
    }
  return g_bytes_new_take (data, len);
}

/* The derivation and the modular exponentiations run on a pool of worker
 * threads sized to the processors, never on the main loop: hundreds of
 * sign-ins at once then queue here instead of crowding the cores (and the
 * main loop) with threads.
 *
 * On Linux the workers run at nice +10 (setpriority () on the thread): a
 * pool as wide as the machine would otherwise take the main thread's share
 * of the cores, and a GTK application drops frames while many accounts
 * sign in (docs/gtk-demo.md: on 2 cores, 11 of 39 spinner frames later
 * than 33.4 ms with 20 sign-ins, 2 of 84 with the workers niced). */
typedef struct {
  GTask          *task;
  GTaskThreadFunc func;
} CryptoJob;

static void
crypto_job_run (gpointer job_data,
                gpointer user_data)
{
  CryptoJob *job = job_data;

#ifdef __linux__
  /* Per thread on Linux; harmless to repeat, and a failure changes nothing. */
  (void) setpriority (PRIO_PROCESS, (id_t) syscall (SYS_gettid), 10);
#endif
  job->func (job->task, g_task_get_source_object (job->task),
             g_task_get_task_data (job->task), g_task_get_cancellable (job->task));
  g_object_unref (job->task);
  g_free (job);
}

static void
run_crypto (GTask           *task,
            GTaskThreadFunc  func)
{
  static gsize once = 0;
  static GThreadPool *pool;
  CryptoJob *job = g_new (CryptoJob, 1);

  if (g_once_init_enter (&once))
    {
      /* Exclusive: the niced threads stay ours, never lent to GLib's
       * shared pool (a thread cannot be given its priority back). */
      pool = g_thread_pool_new (crypto_job_run, NULL,
                                MAX (1, (int) g_get_num_processors ()),
                                TRUE, NULL);
      g_once_init_leave (&once, 1);
    }

  job->task = g_object_ref (task);
  job->func = func;
  g_thread_pool_push (pool, job, NULL);
}

/* Step A (worker thread): a fresh client secret a and A = g^a. */
static void
make_client_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  SignIn *data = task_data;

  data->client = icloud_srp_client_new ();
  data->A = icloud_srp_client_get_A (data->client);
  g_task_return_boolean (task, TRUE);
}

/* Step B (worker thread): PBKDF2, then S, K, M1 and M2. */
static void
prove_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  SignIn *data = task_data;
  guint8 p[32];
  gsize salt_len, B_len;
  const guint8 *salt = g_bytes_get_data (data->salt, &salt_len);
  const guint8 *B = g_bytes_get_data (data->B, &B_len);
  g_autoptr(GError) error = NULL;
  gboolean ok;

  icloud_srp_derive_password (data->protocol, data->password, salt, salt_len,
                              data->iterations, p);
  g_clear_pointer (&data->password, icloud_crypto_free_secret);

  ok = icloud_srp_client_process (data->client, data->apple_id, p, salt, salt_len,
                                  B, B_len, &error);
  icloud_crypto_wipe (p, sizeof p);

  if (!ok)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's SRP challenge is not valid: %s", error->message);
      return;
    }

  data->m1 = g_base64_encode (icloud_srp_client_get_M1 (data->client), 32);
  data->m2 = g_base64_encode (icloud_srp_client_get_M2 (data->client), 32);
  g_clear_pointer (&data->client, icloud_srp_client_free);
  g_task_return_boolean (task, TRUE);
}

static void
repair_cb (GObject      *source,
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

  if (icloud_response_is_success (response) &&
      icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER) == NULL)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple finished the account repair but sent no session token");
      return;
    }

  if (!icloud_response_is_success (response))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_REPAIR_REQUIRED,
                               "The account needs attention (new terms or an account repair) that only a browser can give: sign in at icloud.com once");
      return;
    }

  icloud_token_task_return (task, icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER));
}

static void
complete_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SignIn *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(ICloudResponse) response = NULL;
  g_autofree char *code = NULL;
  GError *error = NULL;
  guint status;

  response = icloud_auth_context_send_request_finish (data->context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  status = icloud_response_get_status (response);
  icloud_response_get_service_error (response, &code, NULL);

  /* 409: the password is right and a second factor is wanted; the account
   * document of accountLogin says which. */
  if (icloud_response_is_success (response) || status == 409)
    {
      /* Whatever the body, the proof is only worth the session token Apple
       * sends back with it. */
      const char *token = icloud_response_get_header (response, ICLOUD_SESSION_TOKEN_HEADER);

      if (token == NULL)
        g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                                 "Apple accepted the password proof but sent no session token (HTTP %u)",
                                 status);
      else
        icloud_token_task_return (task, token);
      return;
    }

  if (status == 412)
    {
      /* A non-2FA account flagged for repair: the repair completes here when
       * Apple allows it (protocol §1.2 step 3c). */
      g_autoptr(JsonNode) body = json_from_string ("{}", NULL);

      icloud_auth_context_send_request_async (data->context, "POST", ICLOUD_ROOT_AUTH,
                                         "/repair/complete", body,
                                         ICLOUD_REQUEST_AUTH_HEADERS,
                                         cancellable,
                                         repair_cb, g_steal_pointer (&task));
      return;
    }

  /* A 403 may be throttling by body (ACCESS_DENIED) rather than a lock. */
  if (status == 403 && !icloud_response_check (response, &error) &&
      g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED))
    {
      g_task_return_error (task, error);
      return;
    }
  g_clear_error (&error);

  if (icloud_response_has_service_error (response, "-20209") || (status == 403 && code == NULL))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_ACCOUNT_LOCKED,
                               "This Apple Account is locked; unlock it at iforgot.apple.com");
      return;
    }

  if (status == 401 || status == 403)
    {
      if (icloud_response_has_service_error (response, "-20283"))
        g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN,
                                 "Apple did not accept this password for %s (app-specific passwords cannot sign in to iCloud on the web)",
                                 data->apple_id);
      else
        g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN,
                                 "Apple did not accept the Apple ID or the password for %s",
                                 data->apple_id);
      return;
    }

  if (!icloud_response_check (response, &error))
    g_task_return_error (task, error);
  else
    g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                             "Unexpected answer from Apple to the password proof (HTTP %u)",
                             status);
}

static void
prove_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SignIn *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonNode) body = NULL;
  const char *trust;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }

  builder = json_builder_new ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "accountName");
  json_builder_add_string_value (builder, data->apple_id);
  json_builder_set_member_name (builder, "c");
  json_builder_add_string_value (builder, data->c);
  json_builder_set_member_name (builder, "m1");
  json_builder_add_string_value (builder, data->m1);
  json_builder_set_member_name (builder, "m2");
  json_builder_add_string_value (builder, data->m2);
  json_builder_set_member_name (builder, "rememberMe");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "trustTokens");
  json_builder_begin_array (builder);
  trust = icloud_auth_context_get_trust_token (data->context);
  if (trust != NULL)
    json_builder_add_string_value (builder, trust);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_auth_context_send_request_async (data->context, "POST", ICLOUD_ROOT_AUTH,
                                     "/signin/complete?isRememberMeEnabled=true", body,
                                     ICLOUD_REQUEST_AUTH_HEADERS,
                                     cancellable,
                                     complete_cb, g_steal_pointer (&task));
}

static const char *
member_string (JsonObject *object,
               const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  /* Not UTF-8 (a lone surrogate escape json-glib lets through) is no value:
   * the protocol name would go into an error message. */
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING ||
      !g_utf8_validate (json_node_get_string (node), -1, NULL))
    return NULL;
  return json_node_get_string (node);
}

static void
init_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SignIn *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(ICloudResponse) response = NULL;
  g_autoptr(GTask) prove = NULL;
  GError *error = NULL;
  JsonNode *json;
  JsonObject *object;
  JsonNode *iteration;
  const char *protocol;
  gint64 iterations;

  response = icloud_auth_context_send_request_finish (data->context, result, &error);
  if (response == NULL)
    {
      g_task_return_error (task, error);
      return;
    }

  if (icloud_response_get_status (response) == 401)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN,
                               "Apple refused to start a sign-in for %s", data->apple_id);
      return;
    }
  if (!icloud_response_check (response, &error))
    {
      g_task_return_error (task, error);
      return;
    }

  /* Apple serves this JSON as text/html: the body decides. */
  json = icloud_response_get_json (response);
  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's answer to signin/init is not a JSON object");
      return;
    }
  object = json_node_get_object (json);

  protocol = member_string (object, "protocol");
  iteration = json_object_get_member (object, "iteration");
  data->salt = decode_base64 (member_string (object, "salt"));
  data->B = decode_base64 (member_string (object, "b"));
  data->c = g_strdup (member_string (object, "c"));

  if (protocol == NULL || data->salt == NULL || data->B == NULL || data->c == NULL ||
      iteration == NULL || !JSON_NODE_HOLDS_VALUE (iteration) ||
      json_node_get_value_type (iteration) != G_TYPE_INT64)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple's answer to signin/init lacks salt, b, c, protocol or iteration");
      return;
    }

  if (!icloud_srp_protocol_from_string (protocol, &data->protocol))
    {
      g_autofree char *shown = icloud_text_escape (protocol, -1, ICLOUD_TEXT_MAX_QUOTED);

      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple asked for the password protocol “%s”, which is not supported",
                               shown);
      return;
    }

  /* Fewer than ICLOUD_SRP_MIN_ITERATIONS would let a hostile server that
   * sees M1 guess the password offline cheaply (Apple asks for ~20,000);
   * more than ICLOUD_SRP_MAX_ITERATIONS would keep a core busy for
   * minutes. */
  iterations = json_node_get_int (iteration);
  if (iterations < ICLOUD_SRP_MIN_ITERATIONS || iterations > ICLOUD_SRP_MAX_ITERATIONS)
    {
      g_task_return_new_error (task, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                               "Apple asked for %" G_GINT64_FORMAT " PBKDF2 iterations", iterations);
      return;
    }
  data->iterations = (guint) iterations;

  prove = g_task_new (NULL, cancellable, prove_cb, g_steal_pointer (&task));
  g_task_set_source_tag (prove, prove_thread);
  g_task_set_task_data (prove, data, NULL);
  run_crypto (prove, prove_thread);
}

static void
client_ready_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SignIn *data = g_task_get_task_data (task);
  GCancellable *cancellable = g_task_get_cancellable (task);
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *a = NULL;
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      g_task_return_error (task, error);
      return;
    }

  a = base64_bytes (data->A);
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "a");
  json_builder_add_string_value (builder, a);
  json_builder_set_member_name (builder, "accountName");
  json_builder_add_string_value (builder, data->apple_id);
  json_builder_set_member_name (builder, "protocols");
  json_builder_begin_array (builder);
  json_builder_add_string_value (builder, "s2k");
  json_builder_add_string_value (builder, "s2k_fo");
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  body = json_builder_get_root (builder);

  icloud_auth_context_send_request_async (data->context, "POST", ICLOUD_ROOT_AUTH,
                                     "/signin/init", body,
                                     ICLOUD_REQUEST_AUTH_HEADERS | ICLOUD_REQUEST_IDEMPOTENT,
                                     cancellable,
                                     init_cb, g_steal_pointer (&task));
}

static void
icloud_srp_method_sign_in_async (ICloudAuthMethod    *method,
                                 ICloudAuthContext   *context,
                                 const char          *password,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data)
{
  g_autoptr(GTask) task = g_task_new (method, cancellable, callback, user_data);
  g_autoptr(GTask) make = NULL;
  SignIn *data;

  g_task_set_source_tag (task, icloud_srp_method_sign_in_async);

  data = g_new0 (SignIn, 1);
  data->context = g_object_ref (context);
  data->apple_id = g_strdup (icloud_auth_context_get_apple_id (context));
  /* A copy for the worker, wiped once the key is derived. */
  data->password = g_strdup (password);
  g_task_set_task_data (task, data, (GDestroyNotify) sign_in_free);

  make = g_task_new (NULL, cancellable, client_ready_cb, g_steal_pointer (&task));
  g_task_set_source_tag (make, make_client_thread);
  g_task_set_task_data (make, data, NULL);
  run_crypto (make, make_client_thread);
}

static gboolean
icloud_srp_method_sign_in_finish (ICloudAuthMethod  *method,
                                  GAsyncResult      *result,
                                  char             **session_token,
                                  GError           **error)
{
  return icloud_token_method_finish (method, result, icloud_srp_method_sign_in_async,
                                     session_token, error);
}

static void
icloud_srp_method_class_init (ICloudSrpMethodClass *klass)
{
  ICloudAuthMethodClass *method_class = ICLOUD_AUTH_METHOD_CLASS (klass);

  method_class->sign_in_async = icloud_srp_method_sign_in_async;
  method_class->sign_in_finish = icloud_srp_method_sign_in_finish;
}

static void
icloud_srp_method_class_finalize (ICloudSrpMethodClass *klass)
{
}

static void
icloud_srp_method_init (ICloudSrpMethod *self)
{
}

/* GIO module entry points */

G_MODULE_EXPORT void
g_io_module_load (GIOModule *module)
{
  g_type_module_use (G_TYPE_MODULE (module));   /* never unloaded */
  icloud_srp_method_register_type (G_TYPE_MODULE (module));
  icloud_auth_method_register (ICLOUD_TYPE_SRP_METHOD, "srp", 10);
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
