/* icloud-mock-server.c: the fake iCloud server object: its thread, the
 * request log, fault injection and the /_mock/ control API. Apple's paths are
 * answered by icloud-mock-apple.c, the fixtures parsed by icloud-mock-account.c.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "icloud-mock-private.h"
#include "icloud-crypto-private.h"

/**
 * ICloudMockServer:
 *
 * A faithful fake of Apple's iCloud web sign-in servers, for tests and demos.
 *
 * The server answers Apple's paths (`/appleauth/auth/...` and
 * `/setup/ws/1/...`) on one origin, `http://127.0.0.1:PORT`, from a set of
 * accounts loaded from JSON (see `data/accounts.json`). It checks the SRP
 * proof with real maths, issues session tokens, trust tokens and
 * host-only cookies, and enforces Apple's rules: no `validate` without the
 * web-auth cookie, no trust without a valid second-factor code.
 *
 * It runs in a thread of its own with its own [struct@GLib.MainContext], so a
 * test may make blocking calls to it from the main thread. Every method is
 * thread-safe.
 *
 * It serves two ways. By default, on one origin over plain http
 * ([method@ICloudMock.Server.get_base_uri]). In *routed* mode
 * ([method@ICloudMock.Server.set_routed]) it speaks TLS with a test
 * certificate and plays Apple's real hosts, dispatching on the `Host`
 * header: the IDMSA hosts (`idmsa.apple.com`, `idmsa.apple.com.cn`) answer
 * the auth paths, the setup hosts (`setup.icloud.com`,
 * `setup.icloud.com.cn`) the setup paths, the home hosts (`www.icloud.com`,
 * `www.icloud.com.cn`) their home page; a path on the wrong host is a 404,
 * an unknown host a 421. Cookies are scoped as Apple scopes them
 * (`Domain=.icloud.com`, `.icloud.com.cn` or `.apple.com`; `Secure`), and
 * the region of a setup call is that of the host it reached: a China
 * mainland account on `setup.icloud.com` gets Apple's `302`
 * `{"domainToUse": "iCloud.com.cn"}`, and a global account on
 * `setup.icloud.com.cn` the mirror image, `{"domainToUse": "iCloud.com"}`.
 * Clients reach it with a `SoupSession` whose `remote-connectable` is the
 * server's address ([method@ICloudMock.Server.create_connectable]) and
 * whose `tls-database` trusts the test certificate
 * ([method@ICloudMock.Server.create_tls_database]), so Apple's names are
 * never resolved. The request log records the `Host` of every request.
 *
 * Accounts marked `"bridge": true` get the HSA2 trusted-device bridge of
 * 2026 (`protocol/hsa2-bridge.md`): the boot data asks for it, the server
 * runs Apple's web push service as a WebSocket at `/v2/<hex>` (on the one
 * origin, or on `websocket.push.apple.com` in routed mode) with the
 * connection-message check, INVALID_NONCE, the push token, the subscription,
 * pushes and their acknowledgements, and plays the trusted device behind
 * `bridge/step/N` and `bridge/code/validate` (the SPAKE2+ verifier). The
 * device code it shows is read like a pushed code
 * ([method@ICloudMock.Server.dup_last_code] with a %NULL target). Push
 * connection attempts are logged under the path `/v2`;
 * [method@ICloudMock.Server.get_n_push_connections] counts the open ones,
 * and the `ICLOUD_MOCK_FAULT_WS_*` faults break the WebSocket at each stage.
 *
 * The same control functions are reachable over HTTP under `/_mock/`
 * (`requests`, `requests/clear`, `code`, `codes-sent`, `fault`,
 * `revoke-trust`, `expire-sessions`, `accounts`, `region`,
 * `isolation-violations`, `push`, `health`), which the standalone
 * `icloud-mock-server` program and tests in other languages use. Control
 * requests are not recorded in the request log.
 */

G_DEFINE_FINAL_TYPE (ICloudMockServer, icloud_mock_server, G_TYPE_OBJECT)

#define JSON_TYPE "application/json;charset=UTF-8"
#define OVERSIZE_BYTES (16u * 1024u * 1024u)
#define DEEP_JSON_LEVELS 100000u
/* The discard port of loopback: nothing there answers. */
#define DEFAULT_REDIRECT_TARGET "http://127.0.0.1:9/stolen"

/* ------------------------------------------------------------------------ */
/* log and faults */

static void
mock_log_entry_free (MockLogEntry *entry)
{
  g_free (entry->method);
  g_free (entry->path);
  g_free (entry->query);
  g_free (entry->host);
  g_free (entry->apple_id);
  g_strfreev (entry->cookies);
  g_free (entry);
}

static void
mock_fault_free (MockFault *fault)
{
  g_free (fault->path);
  g_free (fault->body);
  g_free (fault);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockFault, mock_fault_free)

static const struct {
  const char    *name;
  MockFaultKind  kind;
} fault_names[] = {
  { ICLOUD_MOCK_FAULT_503, MOCK_FAULT_503 },
  { ICLOUD_MOCK_FAULT_429, MOCK_FAULT_429 },
  { ICLOUD_MOCK_FAULT_421, MOCK_FAULT_421 },
  { ICLOUD_MOCK_FAULT_450, MOCK_FAULT_450 },
  { ICLOUD_MOCK_FAULT_500, MOCK_FAULT_500 },
  { ICLOUD_MOCK_FAULT_ACCESS_DENIED, MOCK_FAULT_ACCESS_DENIED },
  { ICLOUD_MOCK_FAULT_MALFORMED, MOCK_FAULT_MALFORMED },
  { ICLOUD_MOCK_FAULT_TRUNCATED, MOCK_FAULT_TRUNCATED },
  { ICLOUD_MOCK_FAULT_WRONG_CONTENT_TYPE, MOCK_FAULT_WRONG_CONTENT_TYPE },
  { ICLOUD_MOCK_FAULT_MISSING_FIELDS, MOCK_FAULT_MISSING_FIELDS },
  { ICLOUD_MOCK_FAULT_OVERSIZE, MOCK_FAULT_OVERSIZE },
  { ICLOUD_MOCK_FAULT_DROP, MOCK_FAULT_DROP },
  { ICLOUD_MOCK_FAULT_SLOW, MOCK_FAULT_SLOW },
  { ICLOUD_MOCK_FAULT_REDIRECT, MOCK_FAULT_REDIRECT },
  { ICLOUD_MOCK_FAULT_DEEP_JSON, MOCK_FAULT_DEEP_JSON },
  { ICLOUD_MOCK_FAULT_HOSTILE_TEXT, MOCK_FAULT_HOSTILE_TEXT },
  { ICLOUD_MOCK_FAULT_INVALID_NONCE, MOCK_FAULT_WS_INVALID_NONCE },
  { ICLOUD_MOCK_FAULT_WS_CLOSE_AT_TOKEN, MOCK_FAULT_WS_CLOSE_AT_TOKEN },
  { ICLOUD_MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE, MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE },
  { ICLOUD_MOCK_FAULT_WS_CLOSE_AT_PROMPT, MOCK_FAULT_WS_CLOSE_AT_PROMPT },
  { ICLOUD_MOCK_FAULT_WS_CLOSE_AT_STEP4, MOCK_FAULT_WS_CLOSE_AT_STEP4 },
  { ICLOUD_MOCK_FAULT_WS_CLOSE_AT_FINAL, MOCK_FAULT_WS_CLOSE_AT_FINAL },
  { ICLOUD_MOCK_FAULT_WS_SILENT, MOCK_FAULT_WS_SILENT },
  { ICLOUD_MOCK_FAULT_WS_PING, MOCK_FAULT_WS_PING },
  { ICLOUD_MOCK_FAULT_WS_NOISY, MOCK_FAULT_WS_NOISY },
  { ICLOUD_MOCK_FAULT_WS_OTHER_TOPIC, MOCK_FAULT_WS_OTHER_TOPIC },
  { ICLOUD_MOCK_FAULT_WS_ERROR_PUSH, MOCK_FAULT_WS_ERROR_PUSH },
};

static gboolean
fault_from_string (const char    *name,
                   MockFaultKind *out)
{
  if (name == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (fault_names); i++)
    if (g_str_equal (fault_names[i].name, name))
      {
        *out = fault_names[i].kind;
        return TRUE;
      }
  return FALSE;
}

/* lock held */
static void
add_fault (ICloudMockServer *self,
           const char       *path,
           MockFaultKind     kind,
           guint             count,
           guint             retry_after,
           guint             delay_ms)
{
  MockFault *fault;

  if (count == 0)
    return;
  fault = g_new0 (MockFault, 1);
  fault->path = (path != NULL && *path != '\0') ? g_strdup (path) : NULL;
  fault->kind = kind;
  fault->count = count;
  fault->retry_after = retry_after;
  fault->delay_ms = delay_ms;
  g_ptr_array_add (self->faults, fault);
}

/* lock held; returns a copy of the fault to apply to @path, or NULL. */
static MockFault *
take_fault (ICloudMockServer *self,
            const char       *path)
{
  for (guint i = 0; i < self->faults->len; i++)
    {
      MockFault *fault = g_ptr_array_index (self->faults, i);
      MockFault *copy;

      if (fault->path != NULL && !g_str_equal (fault->path, path))
        continue;
      /* the push service's own faults wait for their stage */
      if (MOCK_FAULT_IS_PUSH (fault->kind))
        continue;

      copy = g_memdup2 (fault, sizeof *fault);
      copy->path = NULL;
      copy->body = g_strdup (fault->body);
      if (--fault->count == 0)
        g_ptr_array_remove_index (self->faults, i);
      return copy;
    }
  return NULL;
}

gboolean
mock_take_push_fault (ICloudMockServer *self,
                      MockFaultKind     kind)
{
  for (guint i = 0; i < self->faults->len; i++)
    {
      MockFault *fault = g_ptr_array_index (self->faults, i);

      if (fault->kind != kind ||
          (fault->path != NULL && !g_str_equal (fault->path, MOCK_PUSH_PATH)))
        continue;
      if (--fault->count == 0)
        g_ptr_array_remove_index (self->faults, i);
      return TRUE;
    }
  return FALSE;
}

static void
reply_fault (MockRequest *r,
             MockFault   *fault)
{
  g_autofree char *retry = fault->retry_after ? g_strdup_printf ("%u", fault->retry_after) : NULL;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (r->msg);

  switch (fault->kind)
    {
    case MOCK_FAULT_503:
      if (retry)
        soup_message_headers_replace (headers, "Retry-After", retry);
      mock_reply_text (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/html;charset=UTF-8",
                       "<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title>"
                       "</head><body><h1>Service Temporarily Unavailable</h1></body></html>\n");
      break;
    case MOCK_FAULT_429:
      if (retry)
        soup_message_headers_replace (headers, "Retry-After", retry);
      mock_reply_text (r, 429, "text/html;charset=UTF-8",
                       "<!DOCTYPE html>\n<html><head><title>Too Many Requests</title>"
                       "</head><body><h1>Too Many Requests</h1></body></html>\n");
      break;
    case MOCK_FAULT_421:
      mock_reply_json_literal (r, SOUP_STATUS_MISDIRECTED_REQUEST,
                               "{\"success\":false,\"error\":\"Missing X-APPLE-WEBAUTH-TOKEN cookie\"}");
      break;
    case MOCK_FAULT_450:
      mock_reply_json_literal (r, 450, "{\"success\":false,\"error\":\"Authentication required\"}");
      break;
    case MOCK_FAULT_500:
      mock_reply_json_literal (r, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                               "{\"success\":false,\"error\":\"Internal Server Error\"}");
      break;
    case MOCK_FAULT_ACCESS_DENIED:
      mock_reply_json_literal (r, SOUP_STATUS_FORBIDDEN,
                               "{\"errorCode\":\"ACCESS_DENIED\",\"reason\":\"Access denied\","
                               "\"errorMessage\":\"Access denied\"}");
      break;
    case MOCK_FAULT_MALFORMED:
      mock_reply_json_literal (r, SOUP_STATUS_OK, "{not json");
      break;
    case MOCK_FAULT_TRUNCATED:
      mock_reply_json_literal (r, SOUP_STATUS_OK,
                               "{\"dsInfo\":{\"dsid\":\"8000000001\",\"appleId\":\"us");
      break;
    case MOCK_FAULT_WRONG_CONTENT_TYPE:
      mock_reply_text (r, SOUP_STATUS_OK, "text/plain", "hello");
      break;
    case MOCK_FAULT_MISSING_FIELDS:
      mock_reply_json_literal (r, SOUP_STATUS_OK, "{}");
      break;
    case MOCK_FAULT_OVERSIZE:
      {
        char *big = g_malloc (OVERSIZE_BYTES);
        const char head[] = "{\"pad\":\"";
        const char tail[] = "\"}";

        memset (big, 'a', OVERSIZE_BYTES);
        memcpy (big, head, sizeof head - 1);
        memcpy (big + OVERSIZE_BYTES - (sizeof tail - 1), tail, sizeof tail - 1);
        soup_server_message_set_status (r->msg, SOUP_STATUS_OK, NULL);
        soup_server_message_set_response (r->msg, JSON_TYPE, SOUP_MEMORY_TAKE,
                                          big, OVERSIZE_BYTES);
      }
      break;
    case MOCK_FAULT_REDIRECT:
      soup_message_headers_replace (headers, "Location",
                                    r->self->redirect_target != NULL
                                    ? r->self->redirect_target : DEFAULT_REDIRECT_TARGET);
      mock_reply_text (r, SOUP_STATUS_FOUND, "text/html;charset=UTF-8",
                       "<html><body>Moved</body></html>\n");
      break;
    case MOCK_FAULT_DEEP_JSON:
      {
        gsize n = DEEP_JSON_LEVELS;
        char *deep = g_malloc (2 * n);

        memset (deep, '[', n);
        memset (deep + n, ']', n);
        soup_server_message_set_status (r->msg, SOUP_STATUS_OK, NULL);
        soup_server_message_set_response (r->msg, JSON_TYPE, SOUP_MEMORY_TAKE, deep, 2 * n);
      }
      break;
    case MOCK_FAULT_HOSTILE_TEXT:
      {
        /* ESC ] 0 ; title BEL (sets the window title), ESC [ 2 J (clears
         * the screen), a newline that fakes a line of the client's own,
         * a bidi override, C1 CSI, then 500 KB. */
        g_autoptr(GString) text = g_string_new ("\x1b]0;owned\x07\x1b[2J\x1b[31m-20101\n"
                                                "icloud-auth: signed in\u202e" "\xc2\x9b" "31m");
        g_autoptr(JsonBuilder) b = json_builder_new ();
        g_autofree char *message = g_strdup (text->str);

        for (guint i = 0; i < 500 * 1024 / 16; i++)
          g_string_append (text, "AAAAAAAAAAAAAAA\n");
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "serviceErrors");
        json_builder_begin_array (b);
        json_builder_begin_object (b);
        json_builder_set_member_name (b, "code");
        json_builder_add_string_value (b, text->str);
        json_builder_set_member_name (b, "message");
        json_builder_add_string_value (b, message);
        json_builder_end_object (b);
        json_builder_end_array (b);
        json_builder_end_object (b);
        mock_reply_json (r, SOUP_STATUS_BAD_REQUEST, json_builder_get_root (b));
      }
      break;
    case MOCK_FAULT_REPLY:
      mock_reply_json_literal (r, fault->status, fault->body);
      break;
    case MOCK_FAULT_DROP:
    case MOCK_FAULT_SLOW:
    default:
      g_assert_not_reached ();
    }
}

/* lock held */
static void
log_request (MockRequest *r,
             guint        status)
{
  MockLogEntry *entry = g_new0 (MockLogEntry, 1);
  GUri *uri = soup_server_message_get_uri (r->msg);
  g_autoptr(GStrvBuilder) names = g_strv_builder_new ();
  GHashTableIter iter;
  gpointer name;

  entry->method = g_strdup (r->method);
  /* push connections: one path, without the connection message */
  entry->path = g_strdup (mock_path_in (r->path, MOCK_PUSH_PATH) ? MOCK_PUSH_PATH : r->path);
  entry->query = g_strdup (g_uri_get_query (uri));
  entry->host = g_strdup (soup_message_headers_get_one (soup_server_message_get_request_headers (r->msg),
                                                        "Host"));
  entry->apple_id = g_strdup (r->apple_id);
  entry->status = status;
  g_hash_table_iter_init (&iter, r->cookies);
  while (g_hash_table_iter_next (&iter, &name, NULL))
    g_strv_builder_add (names, name);
  entry->cookies = g_strv_builder_end (names);
  g_ptr_array_add (r->self->log, entry);
}

static gboolean
log_entry_matches (MockLogEntry *entry,
                   const char   *apple_id,
                   const char   *path)
{
  if (apple_id != NULL && *apple_id != '\0' &&
      (entry->apple_id == NULL || g_ascii_strcasecmp (entry->apple_id, apple_id) != 0))
    return FALSE;
  if (path != NULL && *path != '\0' && !g_str_equal (entry->path, path))
    return FALSE;
  return TRUE;
}

/* lock held */
static JsonNode *
log_to_json (ICloudMockServer *self,
             const char       *apple_id,
             const char       *path,
             guint            *count)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  *count = 0;
  json_builder_begin_array (b);
  for (guint i = 0; i < self->log->len; i++)
    {
      MockLogEntry *e = g_ptr_array_index (self->log, i);

      if (!log_entry_matches (e, apple_id, path))
        continue;
      (*count)++;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "method");
      json_builder_add_string_value (b, e->method);
      json_builder_set_member_name (b, "path");
      json_builder_add_string_value (b, e->path);
      json_builder_set_member_name (b, "query");
      if (e->query)
        json_builder_add_string_value (b, e->query);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "host");
      if (e->host)
        json_builder_add_string_value (b, e->host);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "apple_id");
      if (e->apple_id)
        json_builder_add_string_value (b, e->apple_id);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "status");
      json_builder_add_int_value (b, e->status);
      json_builder_set_member_name (b, "cookies");
      json_builder_begin_array (b);
      for (guint j = 0; e->cookies[j] != NULL; j++)
        json_builder_add_string_value (b, e->cookies[j]);
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static char *
node_to_string (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------------------ */
/* accounts, codes (lock held) */

static void
add_accounts (ICloudMockServer *self,
              GPtrArray        *accounts)
{
  for (guint i = 0; i < accounts->len; i++)
    {
      MockAccount *account = g_ptr_array_steal_index (accounts, i--);
      /* a replaced account's sessions die with it */
      if (g_hash_table_contains (self->accounts, account->key))
        mock_invalidate_account (self, account->key);
      g_hash_table_replace (self->accounts, account->key, account);
    }
}

static MockCode *
lookup_code (ICloudMockServer *self,
             const char       *apple_id,
             const char       *target_id)
{
  MockAccount *account = mock_lookup_account (self, apple_id);

  if (account == NULL)
    return NULL;
  return g_hash_table_lookup (account->codes, target_id ? target_id : "");
}

static void
revoke_trust_locked (ICloudMockServer *self,
                     const char       *apple_id)
{
  MockAccount *account = mock_lookup_account (self, apple_id);
  GHashTableIter iter;
  gpointer value;

  if (account == NULL)
    return;
  g_hash_table_remove_all (account->trust_tokens);
  g_hash_table_iter_init (&iter, self->auth_sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      MockAuthSession *session = value;
      if (g_str_equal (session->account_key, account->key))
        session->trusted = FALSE;
    }
}

static void
expire_sessions_locked (ICloudMockServer *self,
                        const char       *apple_id)
{
  MockAccount *account = mock_lookup_account (self, apple_id);

  if (account != NULL)
    mock_invalidate_account (self, account->key);
}

/* ------------------------------------------------------------------------ */
/* the /_mock/ control API (lock held) */

static const char *
query_get (GHashTable *query,
           const char *name)
{
  const char *value = query ? g_hash_table_lookup (query, name) : NULL;

  return (value != NULL && *value != '\0') ? value : NULL;
}

static JsonObject *
control_body (MockRequest *r)
{
  return r->body_obj;
}

static void
control_ok (MockRequest *r)
{
  mock_reply_json_literal (r, SOUP_STATUS_OK, "{\"success\":true}");
}

static void
control_error (MockRequest *r,
               guint        status,
               const char  *message)
{
  g_autoptr(JsonObject) obj = json_object_new ();

  json_object_set_boolean_member (obj, "success", FALSE);
  json_object_set_string_member (obj, "error", message);
  mock_reply_json (r, status, json_node_init_object (json_node_alloc (), obj));
}

static void
control_count (MockRequest *r,
               const char  *name,
               guint        count)
{
  g_autoptr(JsonObject) obj = json_object_new ();

  json_object_set_int_member (obj, name, count);
  mock_reply_json (r, SOUP_STATUS_OK, json_node_init_object (json_node_alloc (), obj));
}

static void
handle_control (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  const char *what = r->path + strlen ("/_mock/");
  gboolean get = g_str_equal (r->method, "GET");
  gboolean post = g_str_equal (r->method, "POST");

  if (get && g_str_equal (what, "health"))
    {
      g_autoptr(JsonObject) obj = json_object_new ();
      json_object_set_string_member (obj, "status", "ok");
      json_object_set_int_member (obj, "accounts", g_hash_table_size (self->accounts));
      json_object_set_string_member (obj, "region", self->china ? "china-mainland" : "global");
      json_object_set_boolean_member (obj, "routed", self->routed);
      mock_reply_json (r, SOUP_STATUS_OK, json_node_init_object (json_node_alloc (), obj));
    }
  else if (get && g_str_equal (what, "requests"))
    {
      g_autoptr(JsonObject) obj = json_object_new ();
      guint count;
      JsonNode *list = log_to_json (self, query_get (r->query, "apple_id"),
                                    query_get (r->query, "path"), &count);
      json_object_set_int_member (obj, "count", count);
      json_object_set_member (obj, "requests", list);
      mock_reply_json (r, SOUP_STATUS_OK, json_node_init_object (json_node_alloc (), obj));
    }
  else if ((g_str_equal (r->method, "DELETE") && g_str_equal (what, "requests")) ||
           ((post || g_str_equal (r->method, "DELETE")) && g_str_equal (what, "requests/clear")))
    {
      g_ptr_array_set_size (self->log, 0);
      control_ok (r);
    }
  else if (get && (g_str_equal (what, "code") || g_str_equal (what, "codes-sent")))
    {
      const char *apple_id = query_get (r->query, "apple_id");
      MockCode *code;

      if (apple_id == NULL)
        {
          control_error (r, SOUP_STATUS_BAD_REQUEST, "apple_id is required");
          return;
        }
      code = lookup_code (self, apple_id, query_get (r->query, "target"));
      if (g_str_equal (what, "codes-sent"))
        control_count (r, "count", code ? code->sent : 0);
      else if (code == NULL || code->code == NULL)
        control_error (r, SOUP_STATUS_NOT_FOUND, "no code was sent");
      else
        {
          g_autoptr(JsonObject) obj = json_object_new ();
          json_object_set_string_member (obj, "code", code->code);
          mock_reply_json (r, SOUP_STATUS_OK, json_node_init_object (json_node_alloc (), obj));
        }
    }
  else if (post && g_str_equal (what, "fault"))
    {
      JsonObject *body = control_body (r);
      MockFaultKind kind;
      gint64 count, retry_after, delay_ms;

      if (body == NULL ||
          !fault_from_string (json_object_get_string_member_with_default (body, "fault", NULL), &kind))
        {
          control_error (r, SOUP_STATUS_BAD_REQUEST, "unknown or missing fault");
          return;
        }
      count = json_object_get_int_member_with_default (body, "count", 1);
      retry_after = json_object_get_int_member_with_default (body, "retry_after", 0);
      delay_ms = json_object_get_int_member_with_default (body, "delay_ms", 0);
      if (count < 0 || count > G_MAXINT32 || retry_after < 0 || retry_after > G_MAXINT32 ||
          delay_ms < 0 || delay_ms > G_MAXINT32)
        {
          control_error (r, SOUP_STATUS_BAD_REQUEST, "bad number");
          return;
        }
      add_fault (self, json_object_get_string_member_with_default (body, "path", NULL),
                 kind, count, retry_after, delay_ms);
      if (json_object_has_member (body, "location"))
        {
          g_free (self->redirect_target);
          self->redirect_target =
            g_strdup (json_object_get_string_member_with_default (body, "location", NULL));
        }
      control_ok (r);
    }
  else if ((post || g_str_equal (r->method, "DELETE")) && g_str_equal (what, "faults/clear"))
    {
      g_ptr_array_set_size (self->faults, 0);
      control_ok (r);
    }
  else if (post && (g_str_equal (what, "revoke-trust") || g_str_equal (what, "expire-sessions")))
    {
      JsonObject *body = control_body (r);
      const char *apple_id = body ? json_object_get_string_member_with_default (body, "apple_id", NULL) : NULL;

      if (apple_id == NULL)
        {
          control_error (r, SOUP_STATUS_BAD_REQUEST, "apple_id is required");
          return;
        }
      if (mock_lookup_account (self, apple_id) == NULL)
        {
          control_error (r, SOUP_STATUS_NOT_FOUND, "no such account");
          return;
        }
      if (g_str_equal (what, "revoke-trust"))
        revoke_trust_locked (self, apple_id);
      else
        expire_sessions_locked (self, apple_id);
      control_ok (r);
    }
  else if (post && g_str_equal (what, "accounts"))
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = soup_message_body_flatten (soup_server_message_get_request_body (r->msg));
      g_autoptr(GPtrArray) accounts = NULL;
      guint n;

      accounts = mock_accounts_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
      if (accounts == NULL)
        {
          control_error (r, SOUP_STATUS_BAD_REQUEST, error->message);
          return;
        }
      n = accounts->len;
      add_accounts (self, accounts);
      control_count (r, "added", n);
    }
  else if (post && g_str_equal (what, "region"))
    {
      JsonObject *body = control_body (r);
      const char *region = body ? json_object_get_string_member_with_default (body, "region", NULL) : NULL;

      if (g_strcmp0 (region, "global") != 0 && g_strcmp0 (region, "china-mainland") != 0)
        {
          control_error (r, SOUP_STATUS_BAD_REQUEST, "region must be global or china-mainland");
          return;
        }
      self->china = g_str_equal (region, "china-mainland");
      control_ok (r);
    }
  else if (get && g_str_equal (what, "push"))
    mock_reply_json (r, SOUP_STATUS_OK, mock_bridge_stats_to_json (self));
  else if (get && g_str_equal (what, "isolation-violations"))
    control_count (r, "count", self->isolation_violations);
  else
    control_error (r, SOUP_STATUS_NOT_FOUND, "no such control");
}

/* ------------------------------------------------------------------------ */
/* the request dispatcher (server thread) */

static GHashTable *
parse_cookies (SoupServerMessage *msg)
{
  GHashTable *cookies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                               (GDestroyNotify) icloud_crypto_free_secret);
  const char *header = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                      "Cookie");
  g_auto(GStrv) parts = NULL;

  if (header == NULL)
    return cookies;

  parts = g_strsplit (header, ";", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    {
      char *pair = g_strstrip (parts[i]);
      char *eq = strchr (pair, '=');

      if (eq == NULL || eq == pair)
        continue;
      *eq = '\0';
      g_hash_table_replace (cookies, g_strdup (g_strstrip (pair)), g_strdup (eq + 1));
    }
  return cookies;
}

static gboolean
unpause_message (gpointer data)
{
  soup_server_message_unpause (SOUP_SERVER_MESSAGE (data));
  return G_SOURCE_REMOVE;
}

static void
server_callback (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  ICloudMockServer *self = user_data;
  MockRequest r = { 0 };
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(MockFault) fault = NULL;
  gboolean control = g_str_has_prefix (path, "/_mock/");
  gboolean push = mock_path_in (path, MOCK_PUSH_PATH);

  r.self = self;
  r.msg = msg;
  r.method = soup_server_message_get_method (msg);
  r.path = path;
  r.query = query;
  r.cookies = parse_cookies (msg);

  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  if (g_bytes_get_size (body) > 0)
    {
      parser = json_parser_new ();
      if (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                      g_bytes_get_size (body), NULL))
        {
          r.body = json_parser_get_root (parser);
          if (r.body != NULL && JSON_NODE_HOLDS_OBJECT (r.body))
            r.body_obj = json_node_get_object (r.body);
        }
    }

  g_mutex_lock (&self->lock);

  if (control)
    {
      handle_control (&r);
      goto out;
    }

  mock_request_identify (&r);
  if (push)
    mock_bridge_identify (&r);
  fault = take_fault (self, push ? MOCK_PUSH_PATH : path);

  /* the push service refuses the upgrade rather than drop the socket */
  if (fault != NULL && fault->kind == MOCK_FAULT_DROP && push)
    {
      mock_reply_text (&r, SOUP_STATUS_SERVICE_UNAVAILABLE, "text/html;charset=UTF-8",
                       "<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title>"
                       "</head><body><h1>Service Temporarily Unavailable</h1></body></html>\n");
      g_clear_pointer (&fault, mock_fault_free);
    }

  if (fault != NULL && fault->kind == MOCK_FAULT_DROP)
    {
      GIOStream *stream;

      log_request (&r, 0);
      g_mutex_unlock (&self->lock);
      stream = soup_server_message_steal_connection (msg);
      if (stream != NULL)
        {
          g_io_stream_close (stream, NULL, NULL);
          g_object_unref (stream);
        }
      goto done;
    }

  if (fault != NULL && fault->kind != MOCK_FAULT_SLOW)
    reply_fault (&r, fault);
  else if (soup_server_message_get_status (msg) == 0 && mock_apple_route (&r))
    mock_apple_handle (&r);

  /* status 0: the push service's WebSocket upgrade goes ahead */
  log_request (&r, soup_server_message_get_status (msg) != 0
                   ? soup_server_message_get_status (msg)
                   : SOUP_STATUS_SWITCHING_PROTOCOLS);

  if (fault != NULL && fault->kind == MOCK_FAULT_SLOW && fault->delay_ms > 0)
    {
      GSource *source = g_timeout_source_new (fault->delay_ms);

      soup_server_message_pause (msg);
      g_source_set_callback (source, unpause_message, g_object_ref (msg), g_object_unref);
      g_source_set_name (source, "[icloud-mock] slow reply");
      g_source_attach (source, self->context);
      g_source_unref (source);
    }

out:
  g_mutex_unlock (&self->lock);
done:
  g_free (r.apple_id);
  g_free (r.base_uri);
  g_hash_table_unref (r.cookies);
}

/* ------------------------------------------------------------------------ */
/* the thread */

/* soup_server_listen_local () leaves the kernel's listen backlog at GSocket's
 * default of 10: hundreds of clients connecting at once (the load test, the
 * benchmark) overflow it and get their connections reset. */
static gboolean
listen_on_loopback (SoupServer  *server,
                    guint        port,
                    gboolean     https,
                    GError     **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_listen_backlog (socket, 1024);

  return g_socket_bind (socket, address, TRUE, error) &&
         g_socket_listen (socket, error) &&
         soup_server_listen_socket (server, socket,
                                    https ? SOUP_SERVER_LISTEN_HTTPS : 0, error);
}

static gpointer
server_thread (gpointer data)
{
  ICloudMockServer *self = data;
  g_autoptr(GError) error = NULL;
  SoupServer *server;
  gboolean ok;

  g_main_context_push_thread_default (self->context);

  server = soup_server_new ("server-header", "AppleHttpServer/icloud-mock ",
                            "tls-certificate", self->routed ? self->tls_certificate : NULL,
                            NULL);
  soup_server_add_handler (server, NULL, server_callback, self, NULL);
  /* the push service: checked by server_callback, then upgraded */
  soup_server_add_handler (server, MOCK_PUSH_PATH, server_callback, self, NULL);
  mock_bridge_add_handlers (self, server);
  ok = listen_on_loopback (server, self->port, self->routed, &error);

  g_mutex_lock (&self->lock);
  if (ok)
    {
      GSList *uris = soup_server_get_uris (server);
      GUri *uri = uris->data;

      self->port = g_uri_get_port (uri);
      g_free (self->base_uri);
      self->base_uri = g_strdup_printf ("%s://127.0.0.1:%u",
                                        self->routed ? "https" : "http", self->port);
      g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
    }
  else
    self->start_error = g_steal_pointer (&error);
  self->server = server;
  self->started = TRUE;
  g_cond_broadcast (&self->started_cond);
  g_mutex_unlock (&self->lock);

  if (ok)
    g_main_loop_run (self->loop);

  mock_bridge_shutdown (self);
  soup_server_disconnect (server);
  g_object_unref (server);
  self->server = NULL;
  while (g_main_context_pending (self->context))
    g_main_context_iteration (self->context, FALSE);

  g_main_context_pop_thread_default (self->context);
  return NULL;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------------ */
/* GObject */

static void
icloud_mock_server_dispose (GObject *object)
{
  icloud_mock_server_stop (ICLOUD_MOCK_SERVER (object));
  G_OBJECT_CLASS (icloud_mock_server_parent_class)->dispose (object);
}

static void
icloud_mock_server_finalize (GObject *object)
{
  ICloudMockServer *self = ICLOUD_MOCK_SERVER (object);

  /* tokens hold session references: drop them before the sessions */
  g_hash_table_unref (self->session_tokens);
  g_hash_table_unref (self->web_tokens);
  g_hash_table_unref (self->ds_tokens);
  g_hash_table_unref (self->aasp_tokens);
  g_hash_table_unref (self->auth_sessions);
  g_hash_table_unref (self->handshakes);
  mock_bridge_free (self->bridge);
  g_hash_table_unref (self->accounts);
  g_ptr_array_unref (self->log);
  g_ptr_array_unref (self->faults);
  g_free (self->redirect_target);
  g_free (self->base_uri);
  g_clear_object (&self->tls_certificate);
  g_free (self->tls_certificate_file);
  g_clear_error (&self->start_error);
  g_cond_clear (&self->started_cond);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (icloud_mock_server_parent_class)->finalize (object);
}

static void
icloud_mock_server_class_init (ICloudMockServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icloud_mock_server_dispose;
  object_class->finalize = icloud_mock_server_finalize;
}

static GHashTable *
token_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal,
                                (GDestroyNotify) icloud_crypto_free_secret,
                                (GDestroyNotify) mock_auth_session_unref);
}

static void
icloud_mock_server_init (ICloudMockServer *self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->started_cond);
  self->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) mock_account_free);
  self->handshakes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) mock_handshake_free);
  self->auth_sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                               (GDestroyNotify) mock_auth_session_unref);
  self->session_tokens = token_table_new ();
  self->web_tokens = token_table_new ();
  self->ds_tokens = token_table_new ();
  self->aasp_tokens = token_table_new ();
  self->log = g_ptr_array_new_with_free_func ((GDestroyNotify) mock_log_entry_free);
  self->faults = g_ptr_array_new_with_free_func ((GDestroyNotify) mock_fault_free);
  self->bridge = mock_bridge_new ();
}

/* ------------------------------------------------------------------------ */
/* public API */

/**
 * icloud_mock_server_new:
 *
 * Creates a fake iCloud server with no accounts, not yet listening.
 *
 * Returns: (transfer full): a new [class@ICloudMock.Server]
 */
ICloudMockServer *
icloud_mock_server_new (void)
{
  return g_object_new (ICLOUD_MOCK_TYPE_SERVER, NULL);
}

/**
 * icloud_mock_server_load_accounts_from_data:
 * @self: a [class@ICloudMock.Server]
 * @json: an accounts document: `{"accounts": [{"apple_id": ..., "password": ...}, ...]}`
 * @length: length of @json in bytes, or -1 if it is NUL-terminated
 * @error: return location for a [struct@GLib.Error]
 *
 * Adds the accounts of @json to the server (an account with the Apple ID of
 * one already loaded replaces it, and the old one's sessions end). The
 * document is checked whole before anything is added. May be called while
 * the server runs.
 *
 * Returns: %TRUE on success; %FALSE with @error set (`G_IO_ERROR_INVALID_DATA`
 *   or a `JSON_PARSER_ERROR`) if the document is not valid
 */
gboolean
icloud_mock_server_load_accounts_from_data (ICloudMockServer *self,
                                            const char       *json,
                                            gssize            length,
                                            GError          **error)
{
  g_autoptr(GPtrArray) accounts = NULL;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), FALSE);
  g_return_val_if_fail (json != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  accounts = mock_accounts_parse (json, length, error);
  if (accounts == NULL)
    return FALSE;

  g_mutex_lock (&self->lock);
  add_accounts (self, accounts);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * icloud_mock_server_load_accounts:
 * @self: a [class@ICloudMock.Server]
 * @path: (type filename): the path of an accounts JSON file
 * @error: return location for a [struct@GLib.Error]
 *
 * Like [method@ICloudMock.Server.load_accounts_from_data], reading @path.
 *
 * Returns: %TRUE on success
 */
gboolean
icloud_mock_server_load_accounts (ICloudMockServer *self,
                                  const char       *path,
                                  GError          **error)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!g_file_get_contents (path, &contents, &length, error))
    return FALSE;
  return icloud_mock_server_load_accounts_from_data (self, contents, length, error);
}

/**
 * icloud_mock_server_get_n_accounts:
 * @self: a [class@ICloudMock.Server]
 *
 * Returns: how many accounts the server knows
 */
guint
icloud_mock_server_get_n_accounts (ICloudMockServer *self)
{
  guint n;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), 0);

  g_mutex_lock (&self->lock);
  n = g_hash_table_size (self->accounts);
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * icloud_mock_server_set_region:
 * @self: a [class@ICloudMock.Server]
 * @region: `"global"` (the default) or `"china-mainland"`
 *
 * Says which of Apple's origins this server plays. `accountLogin` for an
 * account of the other region answers Apple's `302` with
 * `{"domainToUse": "iCloud.com.cn"}` (or `"iCloud.com"`).
 */
void
icloud_mock_server_set_region (ICloudMockServer *self,
                               const char       *region)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));
  g_return_if_fail (g_strcmp0 (region, "global") == 0 ||
                    g_strcmp0 (region, "china-mainland") == 0);

  g_mutex_lock (&self->lock);
  self->china = g_str_equal (region, "china-mainland");
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_get_region:
 * @self: a [class@ICloudMock.Server]
 *
 * Returns: `"global"` or `"china-mainland"`
 */
const char *
icloud_mock_server_get_region (ICloudMockServer *self)
{
  gboolean china;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);

  g_mutex_lock (&self->lock);
  china = self->china;
  g_mutex_unlock (&self->lock);
  return china ? "china-mainland" : "global";
}

/**
 * icloud_mock_server_set_port:
 * @self: a [class@ICloudMock.Server]
 * @port: the TCP port to listen on, or 0 for a free one (the default)
 *
 * Sets the port [method@ICloudMock.Server.start] listens on.
 */
void
icloud_mock_server_set_port (ICloudMockServer *self,
                             guint             port)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));
  g_return_if_fail (port <= 65535);
  g_return_if_fail (self->thread == NULL);

  self->port = port;
}

/**
 * icloud_mock_server_start:
 * @self: a [class@ICloudMock.Server]
 * @error: return location for a [struct@GLib.Error]
 *
 * Starts the server in a thread of its own, listening on 127.0.0.1, and
 * returns once it listens. Starting a running server does nothing.
 *
 * Returns: %TRUE if the server listens; %FALSE with @error set otherwise
 */
gboolean
icloud_mock_server_start (ICloudMockServer *self,
                          GError          **error)
{
  GError *start_error;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (self->thread != NULL)
    return TRUE;

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);

  g_mutex_lock (&self->lock);
  self->started = FALSE;
  g_clear_error (&self->start_error);
  self->thread = g_thread_new ("icloud-mock", server_thread, self);
  while (!self->started)
    g_cond_wait (&self->started_cond, &self->lock);
  start_error = g_steal_pointer (&self->start_error);
  g_mutex_unlock (&self->lock);

  if (start_error != NULL)
    {
      g_thread_join (g_steal_pointer (&self->thread));
      g_clear_pointer (&self->loop, g_main_loop_unref);
      g_clear_pointer (&self->context, g_main_context_unref);
      g_propagate_error (error, start_error);
      return FALSE;
    }
  return TRUE;
}

/**
 * icloud_mock_server_stop:
 * @self: a [class@ICloudMock.Server]
 *
 * Stops the server and joins its thread; open connections are closed.
 * Accounts and state are kept; the server may be started again (on a new
 * port unless one was set). Also done when the object is disposed.
 */
void
icloud_mock_server_stop (ICloudMockServer *self)
{
  GSource *source;

  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));

  if (self->thread == NULL)
    return;

  source = g_idle_source_new ();
  g_source_set_callback (source, quit_loop, self->loop, NULL);
  g_source_attach (source, self->context);
  g_source_unref (source);

  g_thread_join (g_steal_pointer (&self->thread));
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
}

/**
 * icloud_mock_server_is_running:
 * @self: a [class@ICloudMock.Server]
 *
 * Returns: whether the server was started and not stopped
 */
gboolean
icloud_mock_server_is_running (ICloudMockServer *self)
{
  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), FALSE);
  return self->thread != NULL;
}

/**
 * icloud_mock_server_get_base_uri:
 * @self: a [class@ICloudMock.Server]
 *
 * Gets the origin the server serves Apple's paths on, such as
 * `http://127.0.0.1:41234` (no trailing slash); pass it to
 * `icloud_endpoint_new_for_base_uri()`.
 *
 * Returns: (nullable): the base URI, or %NULL before the first start
 */
const char *
icloud_mock_server_get_base_uri (ICloudMockServer *self)
{
  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);
  return self->base_uri;
}

/**
 * icloud_mock_server_get_port:
 * @self: a [class@ICloudMock.Server]
 *
 * Returns: the port the server listens on (after start), or the port set
 */
guint
icloud_mock_server_get_port (ICloudMockServer *self)
{
  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), 0);
  return self->port;
}

/**
 * icloud_mock_server_count_requests:
 * @self: a [class@ICloudMock.Server]
 * @apple_id: (nullable): count only requests for this account
 * @path: (nullable): count only requests on this exact path, such as
 *   `"/appleauth/auth/signin/init"`
 *
 * Counts the requests in the log (control requests under `/_mock/` are
 * never logged).
 *
 * Returns: the number of matching requests
 */
guint
icloud_mock_server_count_requests (ICloudMockServer *self,
                                   const char       *apple_id,
                                   const char       *path)
{
  guint count = 0;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), 0);

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->log->len; i++)
    if (log_entry_matches (g_ptr_array_index (self->log, i), apple_id, path))
      count++;
  g_mutex_unlock (&self->lock);
  return count;
}

/**
 * icloud_mock_server_dup_request_log:
 * @self: a [class@ICloudMock.Server]
 *
 * Gets the request log as JSON text: an array of objects with `method`,
 * `path`, `query` (or null), `host`, `apple_id` (or null when the request
 * could not be tied to an account), `status` (0 for a dropped connection)
 * and `cookies` (the names of the cookies sent, never their values).
 *
 * Returns: (transfer full): the log as JSON
 */
char *
icloud_mock_server_dup_request_log (ICloudMockServer *self)
{
  g_autoptr(JsonNode) node = NULL;
  guint count;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);

  g_mutex_lock (&self->lock);
  node = log_to_json (self, NULL, NULL, &count);
  g_mutex_unlock (&self->lock);
  return node_to_string (node);
}

/**
 * icloud_mock_server_clear_request_log:
 * @self: a [class@ICloudMock.Server]
 *
 * Empties the request log.
 */
void
icloud_mock_server_clear_request_log (ICloudMockServer *self)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));

  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->log, 0);
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_dup_last_code:
 * @self: a [class@ICloudMock.Server]
 * @apple_id: the account
 * @target_id: (nullable): a trusted phone id (`"1"`) or 2SA device id, or
 *   %NULL for the code pushed to the trusted devices
 *
 * Reveals the last verification code sent, as the user would read it.
 *
 * Returns: (transfer full) (nullable): the 6-digit code, or %NULL if none
 *   was sent
 */
char *
icloud_mock_server_dup_last_code (ICloudMockServer *self,
                                  const char       *apple_id,
                                  const char       *target_id)
{
  MockCode *code;
  char *ret = NULL;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);
  g_return_val_if_fail (apple_id != NULL, NULL);

  g_mutex_lock (&self->lock);
  code = lookup_code (self, apple_id, target_id);
  if (code != NULL)
    ret = g_strdup (code->code);
  g_mutex_unlock (&self->lock);
  return ret;
}

/**
 * icloud_mock_server_count_codes_sent:
 * @self: a [class@ICloudMock.Server]
 * @apple_id: the account
 * @target_id: (nullable): as for [method@ICloudMock.Server.dup_last_code]
 *
 * Returns: how many codes were sent to that target
 */
guint
icloud_mock_server_count_codes_sent (ICloudMockServer *self,
                                     const char       *apple_id,
                                     const char       *target_id)
{
  MockCode *code;
  guint sent;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), 0);
  g_return_val_if_fail (apple_id != NULL, 0);

  g_mutex_lock (&self->lock);
  code = lookup_code (self, apple_id, target_id);
  sent = code ? code->sent : 0;
  g_mutex_unlock (&self->lock);
  return sent;
}

/**
 * icloud_mock_server_inject_fault_full:
 * @self: a [class@ICloudMock.Server]
 * @path: (nullable): the exact path to break, or %NULL (or "") for any path
 * @fault: one of the `ICLOUD_MOCK_FAULT_*` names: `"503"`, `"429"`, `"421"`,
 *   `"450"`, `"500"`, `"access-denied"`, `"malformed"`, `"truncated"`,
 *   `"wrong-content-type"`, `"missing-fields"`, `"oversize"`, `"drop"`,
 *   `"slow"`, `"redirect"`, `"deep-json"`, `"hostile-text"`, or on the
 *   push service's path `/v2` one of the `ICLOUD_MOCK_FAULT_WS_*` names or
 *   `"invalid-nonce"` (`"drop"` there refuses the WebSocket upgrade with
 *   `503`)
 * @count: how many of the next matching requests get the fault
 * @retry_after: seconds for the `Retry-After` header of `"503"` and `"429"`
 *   (0: no header)
 * @delay_ms: the delay of a `"slow"` reply
 *
 * Makes the next @count requests on @path fail the given way. Faults are
 * applied in the order they were injected; a faulted request is logged with
 * the status it got.
 */
void
icloud_mock_server_inject_fault_full (ICloudMockServer *self,
                                      const char       *path,
                                      const char       *fault,
                                      guint             count,
                                      guint             retry_after,
                                      guint             delay_ms)
{
  MockFaultKind kind;

  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));
  g_return_if_fail (fault_from_string (fault, &kind));

  g_mutex_lock (&self->lock);
  add_fault (self, path, kind, count, retry_after, delay_ms);
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_set_redirect_target:
 * @self: a [class@ICloudMock.Server]
 * @uri: (nullable): where the `"redirect"` fault points, or %NULL for
 *   `http://127.0.0.1:9/stolen`
 *
 * Sets the `Location` of the [const@ICloudMock.FAULT_REDIRECT] fault. A
 * test points it at a server of its own to see that nothing ever arrives
 * there. Over the control API, the fault's `"location"` member does the
 * same.
 */
void
icloud_mock_server_set_redirect_target (ICloudMockServer *self,
                                        const char       *uri)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));

  g_mutex_lock (&self->lock);
  g_free (self->redirect_target);
  self->redirect_target = g_strdup (uri);
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_inject_fault:
 * @self: a [class@ICloudMock.Server]
 * @path: (nullable): the exact path to break, or %NULL for any path
 * @fault: a fault name, see [method@ICloudMock.Server.inject_fault_full]
 * @count: how many of the next matching requests get the fault
 * @retry_after: seconds for `Retry-After` (0: no header)
 *
 * [method@ICloudMock.Server.inject_fault_full] with a delay of one second for
 * `"slow"`.
 */
void
icloud_mock_server_inject_fault (ICloudMockServer *self,
                                 const char       *path,
                                 const char       *fault,
                                 guint             count,
                                 guint             retry_after)
{
  icloud_mock_server_inject_fault_full (self, path, fault, count, retry_after, 1000);
}

/**
 * icloud_mock_server_inject_reply:
 * @self: a [class@ICloudMock.Server]
 * @path: (nullable): the exact path to answer, or %NULL (or "") for any path
 * @status: the HTTP status of the answer
 * @body: the answer's body, sent as `application/json` whatever it holds
 * @count: how many of the next matching requests get this answer
 *
 * Makes the next @count requests on @path get @status and @body instead of
 * the server's own answer, the way a test shows what the client makes of
 * one shape of Apple's answers (an error body, say). Queued with the
 * faults of [method@ICloudMock.Server.inject_fault_full], in order.
 */
void
icloud_mock_server_inject_reply (ICloudMockServer *self,
                                 const char       *path,
                                 guint             status,
                                 const char       *body,
                                 guint             count)
{
  MockFault *fault;

  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));
  g_return_if_fail (status >= 100 && status <= 599);
  g_return_if_fail (body != NULL);

  g_mutex_lock (&self->lock);
  add_fault (self, path, MOCK_FAULT_REPLY, count, 0, 0);
  if (count > 0)
    {
      fault = g_ptr_array_index (self->faults, self->faults->len - 1);
      fault->status = status;
      fault->body = g_strdup (body);
    }
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_clear_faults:
 * @self: a [class@ICloudMock.Server]
 *
 * Forgets every fault not yet applied.
 */
void
icloud_mock_server_clear_faults (ICloudMockServer *self)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));

  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->faults, 0);
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_revoke_trust:
 * @self: a [class@ICloudMock.Server]
 * @apple_id: the account
 *
 * Forgets every trust token of the account and makes its live sessions
 * untrusted (as removing the browser from the trusted list does), so the
 * next sign-in asks for the second factor again.
 */
void
icloud_mock_server_revoke_trust (ICloudMockServer *self,
                                 const char       *apple_id)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));
  g_return_if_fail (apple_id != NULL);

  g_mutex_lock (&self->lock);
  revoke_trust_locked (self, apple_id);
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_expire_sessions:
 * @self: a [class@ICloudMock.Server]
 * @apple_id: the account
 *
 * Ends every session of the account: session tokens, web-auth cookies and
 * pending sign-ins stop working (`validate` answers 421, `accountLogin`
 * 401), as when Apple expires a session. Trust tokens are kept.
 */
void
icloud_mock_server_expire_sessions (ICloudMockServer *self,
                                    const char       *apple_id)
{
  g_return_if_fail (ICLOUD_MOCK_IS_SERVER (self));
  g_return_if_fail (apple_id != NULL);

  g_mutex_lock (&self->lock);
  expire_sessions_locked (self, apple_id);
  g_mutex_unlock (&self->lock);
}

/**
 * icloud_mock_server_get_n_push_connections:
 * @self: a [class@ICloudMock.Server]
 *
 * Counts the WebSocket connections of the fake web push service (the HSA2
 * trusted-device bridge) open right now: upgraded and not yet closed by
 * either side. A client that finished or cancelled a bridge sign-in should
 * leave none. Connection attempts are in the request log under the path
 * `/v2` ([method@ICloudMock.Server.count_requests]); more figures are in
 * `GET /_mock/push`.
 *
 * Returns: the number of open push connections
 */
guint
icloud_mock_server_get_n_push_connections (ICloudMockServer *self)
{
  guint n;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), 0);

  g_mutex_lock (&self->lock);
  n = mock_bridge_count_open (self);
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * icloud_mock_server_get_isolation_violations:
 * @self: a [class@ICloudMock.Server]
 *
 * Counts the requests that carried tokens or cookies of two different
 * accounts (for example the web-auth cookie of one account with another's
 * session token). The server rejects such requests with 401.
 *
 * Returns: the number of such requests so far
 */
guint
icloud_mock_server_get_isolation_violations (ICloudMockServer *self)
{
  guint n;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), 0);

  g_mutex_lock (&self->lock);
  n = self->isolation_violations;
  g_mutex_unlock (&self->lock);
  return n;
}

/**
 * icloud_mock_server_set_routed:
 * @self: a [class@ICloudMock.Server]
 * @certificate_file: (type filename) (nullable): a PEM file holding the
 *   server's certificate (in the tree: `tests/data/icloud-mock-cert.pem`),
 *   or %NULL to go back to one-origin mode
 * @key_file: (type filename) (nullable): a PEM file holding the
 *   certificate's private key (`tests/data/icloud-mock-key.pem`)
 * @error: return location for a [struct@GLib.Error]
 *
 * Switches the server to routed mode (see [class@ICloudMock.Server]): on
 * the next [method@ICloudMock.Server.start] it listens with TLS, using this
 * certificate, and serves Apple's hosts by their `Host` header. Its base URI
 * becomes `https://127.0.0.1:PORT`, which still serves every path on one
 * origin. Must be called while the server is stopped.
 *
 * Returns: %TRUE on success; %FALSE with @error set (a [error@Gio.TlsError]
 *   or [error@GLib.FileError]) if the certificate cannot be loaded, in which
 *   case the mode is unchanged
 */
gboolean
icloud_mock_server_set_routed (ICloudMockServer  *self,
                               const char        *certificate_file,
                               const char        *key_file,
                               GError           **error)
{
  GTlsCertificate *certificate = NULL;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), FALSE);
  g_return_val_if_fail (self->thread == NULL, FALSE);
  g_return_val_if_fail (certificate_file == NULL || key_file != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (certificate_file != NULL)
    {
      certificate = g_tls_certificate_new_from_files (certificate_file, key_file, error);
      if (certificate == NULL)
        return FALSE;
    }

  g_mutex_lock (&self->lock);
  g_clear_object (&self->tls_certificate);
  g_clear_pointer (&self->tls_certificate_file, g_free);
  self->tls_certificate = certificate;
  self->tls_certificate_file = g_strdup (certificate_file);
  self->routed = certificate != NULL;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/**
 * icloud_mock_server_get_routed:
 * @self: a [class@ICloudMock.Server]
 *
 * Returns: whether the server is (or will start) in routed mode
 */
gboolean
icloud_mock_server_get_routed (ICloudMockServer *self)
{
  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), FALSE);
  return self->routed;
}

/**
 * icloud_mock_server_create_tls_database:
 * @self: a [class@ICloudMock.Server] in routed mode
 * @error: return location for a [struct@GLib.Error]
 *
 * Creates a TLS database that trusts the server's test certificate, and
 * nothing else, for a client's `tls-database`.
 *
 * Returns: (transfer full): a new [class@Gio.TlsDatabase], or %NULL with
 *   @error set
 */
GTlsDatabase *
icloud_mock_server_create_tls_database (ICloudMockServer  *self,
                                        GError           **error)
{
  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);
  g_return_val_if_fail (self->routed, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  return g_tls_file_database_new (self->tls_certificate_file, error);
}

/**
 * icloud_mock_server_create_connectable:
 * @self: a running [class@ICloudMock.Server]
 *
 * Creates the address the server listens on, `127.0.0.1:PORT`, for a
 * client's `remote-connectable`: every connection goes there whatever the
 * host of the URI, and no name is resolved.
 *
 * Returns: (transfer full): a new [iface@Gio.SocketConnectable]
 */
GSocketConnectable *
icloud_mock_server_create_connectable (ICloudMockServer *self)
{
  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);
  g_return_val_if_fail (self->thread != NULL, NULL);

  return g_network_address_new ("127.0.0.1", self->port);
}

/**
 * icloud_mock_server_create_soup_session: (skip)
 * @self: a running [class@ICloudMock.Server] in routed mode
 * @error: return location for a [struct@GLib.Error]
 *
 * Creates a `SoupSession` that reaches the server with Apple's real URLs:
 * its `remote-connectable` is [method@ICloudMock.Server.create_connectable],
 * its `tls-database` [method@ICloudMock.Server.create_tls_database], it
 * uses no proxy, and it allows as many connections as the library's own
 * session (64 per host). Give it to a session as `soup-session`.
 *
 * Not for bindings (the GIR does not depend on libsoup): they build the
 * same session from the two objects above.
 *
 * Returns: (transfer full): a new `SoupSession`, or %NULL with @error set
 */
SoupSession *
icloud_mock_server_create_soup_session (ICloudMockServer  *self,
                                        GError           **error)
{
  g_autoptr(GTlsDatabase) database = NULL;
  g_autoptr(GSocketConnectable) connectable = NULL;

  g_return_val_if_fail (ICLOUD_MOCK_IS_SERVER (self), NULL);
  g_return_val_if_fail (self->routed, NULL);
  g_return_val_if_fail (self->thread != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  database = icloud_mock_server_create_tls_database (self, error);
  if (database == NULL)
    return NULL;
  connectable = icloud_mock_server_create_connectable (self);

  /* The connection limits are the library's own: with libsoup 3.2's
   * default of 2 per host, a POST (which wants a fresh connection) waits for
   * the idle-connection timeout once two connections were left idle by
   * blocking calls, each of which runs on a main context of its own. */
  return soup_session_new_with_options ("remote-connectable", connectable,
                                        "tls-database", database,
                                        "proxy-resolver", NULL,
                                        "timeout", 60,
                                        "max-conns", 256,
                                        "max-conns-per-host", 64,
                                        NULL);
}
