/* icloud-mock-apple.c: the fake server's answers on Apple's paths
 * (protocol/apple-web-auth.md §1.2, §2.3, §4, §9).
 *
 * Every function here runs in the server thread with the server lock held.
 * Nothing here logs a password, token, cookie value, SRP value or code.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "icloud-mock-private.h"
#include "icloud-crypto-private.h"

#define JSON_TYPE "application/json;charset=UTF-8"
#define HTML_TYPE "text/html;charset=UTF-8"

#define ERR_WRONG_PASSWORD \
  "{\"serviceErrors\":[{\"code\":\"-20101\",\"message\":\"Enter the email or phone number " \
  "and password for your Apple Account.\",\"suppressDismissal\":false}]}"
#define ERR_LOCKED \
  "{\"serviceErrors\":[{\"code\":\"-20209\",\"message\":\"This Apple Account has been " \
  "locked for security reasons.\",\"suppressDismissal\":false}]}"
#define ERR_WRONG_CODE \
  "{\"service_errors\":[{\"code\":\"-21669\",\"title\":\"Incorrect Verification Code\"," \
  "\"message\":\"Incorrect verification code.\",\"suppressDismissal\":false}],\"hasError\":true}"
#define ERR_NO_SESSION \
  "{\"serviceErrors\":[{\"code\":\"-20001\",\"message\":\"Your session has expired. " \
  "Please sign in again.\",\"suppressDismissal\":false}]}"
#define ERR_MISSING_WEBAUTH \
  "{\"success\":false,\"error\":\"Missing X-APPLE-WEBAUTH-TOKEN cookie\"}"
#define ERR_MISSING_APPLE_ID \
  "{\"success\":false,\"error\":\"Missing apple_id field\"}"
#define BODY_503 \
  "<!DOCTYPE html>\n<html><head><title>Service Temporarily Unavailable</title></head>" \
  "<body><h1>Service Temporarily Unavailable</h1></body></html>\n"

/* ------------------------------------------------------------------------ */
/* sessions and tokens */

MockAuthSession *
mock_auth_session_ref (MockAuthSession *session)
{
  return g_atomic_rc_box_acquire (session);
}

static void
mock_auth_session_clear (MockAuthSession *session)
{
  g_free (session->account_key);
  g_free (session->id);
  icloud_crypto_free_secret (session->scnt);
  icloud_crypto_free_secret (session->auth_attributes);
}

void
mock_auth_session_unref (MockAuthSession *session)
{
  g_atomic_rc_box_release_full (session, (GDestroyNotify) mock_auth_session_clear);
}

void
mock_handshake_free (MockHandshake *hs)
{
  g_free (hs->account_key);
  g_free (hs->identity);
  g_clear_pointer (&hs->srp, icloud_srp_server_free);
  g_clear_pointer (&hs->salt, g_bytes_unref);
  g_clear_pointer (&hs->A, g_bytes_unref);
  icloud_crypto_free_secret (hs->scnt);
  icloud_crypto_free_secret (hs->session_id);
  icloud_crypto_free_secret (hs->auth_attributes);
  g_free (hs);
}

MockAccount *
mock_lookup_account (ICloudMockServer *self,
                     const char       *apple_id)
{
  g_autofree char *key = NULL;

  if (apple_id == NULL)
    return NULL;
  key = g_ascii_strdown (apple_id, -1);
  return g_hash_table_lookup (self->accounts, key);
}

static MockAuthSession *
lookup_valid (GHashTable *table,
              const char *token)
{
  MockAuthSession *session;

  if (token == NULL || *token == '\0')
    return NULL;
  session = g_hash_table_lookup (table, token);
  if (session == NULL || !session->valid)
    return NULL;
  return session;
}

/* Issues a new random token mapped to @session in @table; returns it (owned
 * by the table). */
static const char *
issue_token (GHashTable      *table,
             MockAuthSession *session,
             gsize            n_bytes)
{
  char *token = icloud_crypto_random_token (n_bytes);

  g_hash_table_insert (table, token, mock_auth_session_ref (session));
  return token;
}

static MockAuthSession *
auth_session_new (ICloudMockServer *self,
                  MockAccount      *account,
                  const char       *id,
                  const char       *scnt,
                  const char       *auth_attributes)
{
  MockAuthSession *session = g_atomic_rc_box_new0 (MockAuthSession);

  session->account_key = g_strdup (account->key);
  session->id = g_strdup (id);
  session->scnt = g_strdup (scnt);
  session->auth_attributes = g_strdup (auth_attributes);
  session->valid = TRUE;
  /* the table owns the only reference we hand out here */
  g_hash_table_replace (self->auth_sessions, session->id, session);
  return session;
}

static void
invalidate_one (gpointer key, gpointer value, gpointer user_data)
{
  MockAuthSession *session = value;

  if (g_str_equal (session->account_key, user_data))
    session->valid = FALSE;
}

static gboolean
drop_invalid (gpointer key, gpointer value, gpointer user_data)
{
  MockAuthSession *session = value;
  return !session->valid;
}

static void
drop_invalid_tokens (ICloudMockServer *self)
{
  g_hash_table_foreach_remove (self->session_tokens, drop_invalid, NULL);
  g_hash_table_foreach_remove (self->web_tokens, drop_invalid, NULL);
  g_hash_table_foreach_remove (self->ds_tokens, drop_invalid, NULL);
  g_hash_table_foreach_remove (self->aasp_tokens, drop_invalid, NULL);
  g_hash_table_foreach_remove (self->auth_sessions, drop_invalid, NULL);
}

/* Every session, token and cookie of the account stops working. */
void
mock_invalidate_account (ICloudMockServer *self,
                         const char       *account_key)
{
  g_hash_table_foreach (self->auth_sessions, invalidate_one, (gpointer) account_key);
  drop_invalid_tokens (self);
  mock_bridge_forget_account (self, account_key);
}

static void
invalidate_session (ICloudMockServer *self,
                    MockAuthSession  *session)
{
  session->valid = FALSE;
  drop_invalid_tokens (self);
}

char *
mock_random_code (void)
{
  guint32 n;

  icloud_crypto_random ((guint8 *) &n, sizeof n);
  return g_strdup_printf ("%06u", n % 1000000);
}

MockCode *
mock_send_code (MockAccount *account,
                const char  *target)
{
  MockCode *code = g_hash_table_lookup (account->codes, target);

  if (code == NULL)
    {
      code = g_new0 (MockCode, 1);
      g_hash_table_insert (account->codes, g_strdup (target), code);
    }
  icloud_crypto_free_secret (code->code);
  code->code = mock_random_code ();
  code->sent++;
  code->used = FALSE;
  return code;
}

/* One-shot check of a code sent to @target. */
static gboolean
check_code (MockAccount *account,
            const char  *target,
            const char  *given)
{
  MockCode *code = g_hash_table_lookup (account->codes, target);

  if (code == NULL || code->used || code->code == NULL || given == NULL)
    return FALSE;
  if (!icloud_crypto_str_equal (code->code, given))
    return FALSE;
  code->used = TRUE;
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* request helpers */

static void
note_account (MockRequest *r,
              const char  *apple_id)
{
  if (apple_id == NULL || *apple_id == '\0')
    return;
  if (r->apple_id == NULL)
    r->apple_id = g_ascii_strdown (apple_id, -1);
  else if (g_ascii_strcasecmp (r->apple_id, apple_id) != 0)
    r->conflict = TRUE;
}

static void
note_session (MockRequest     *r,
              MockAuthSession *session)
{
  if (session != NULL)
    note_account (r, session->account_key);
}

static const char *
body_string (MockRequest *r,
             const char  *name)
{
  JsonNode *node;

  if (r->body_obj == NULL)
    return NULL;
  node = json_object_get_member (r->body_obj, name);
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

const char *
mock_request_header (MockRequest *r,
                     const char  *name)
{
  return soup_message_headers_get_one (soup_server_message_get_request_headers (r->msg), name);
}

static MockAuthSession *
header_session (MockRequest *r)
{
  return lookup_valid (r->self->auth_sessions, mock_request_header (r, "X-Apple-ID-Session-Id"));
}

void
mock_request_identify (MockRequest *r)
{
  ICloudMockServer *self = r->self;

  note_session (r, lookup_valid (self->web_tokens, g_hash_table_lookup (r->cookies, "X-APPLE-WEBAUTH-TOKEN")));
  note_session (r, lookup_valid (self->ds_tokens, g_hash_table_lookup (r->cookies, "X-APPLE-DS-WEB-SESSION-TOKEN")));
  note_session (r, lookup_valid (self->aasp_tokens, g_hash_table_lookup (r->cookies, "aasp")));
  note_session (r, header_session (r));
  note_session (r, lookup_valid (self->session_tokens, body_string (r, "dsWebAuthToken")));
  if (g_str_has_prefix (r->path, MOCK_AUTH_PREFIX "/signin"))
    note_account (r, body_string (r, "accountName"));
}

void
mock_reply_text (MockRequest *r,
                 guint        status,
                 const char  *content_type,
                 const char  *text)
{
  soup_server_message_set_status (r->msg, status, NULL);
  soup_server_message_set_response (r->msg, content_type, SOUP_MEMORY_COPY,
                                    text, strlen (text));
}

void
mock_reply_json_literal (MockRequest *r,
                         guint        status,
                         const char  *json)
{
  mock_reply_text (r, status, JSON_TYPE, json);
}

static char *
node_to_string (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();

  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

static void
reply_node (MockRequest *r,
            guint        status,
            const char  *content_type,
            JsonNode    *node)
{
  char *text = node_to_string (node);

  soup_server_message_set_status (r->msg, status, NULL);
  soup_server_message_set_response (r->msg, content_type, SOUP_MEMORY_TAKE,
                                    text, strlen (text));
  json_node_unref (node);
}

void
mock_reply_json (MockRequest *r,
                 guint        status,
                 JsonNode    *node)
{
  reply_node (r, status, JSON_TYPE, node);
}

static void
reply_object (MockRequest *r,
              guint        status,
              JsonObject  *obj)  /* (transfer full) */
{
  JsonNode *node = json_node_init_object (json_node_alloc (), obj);

  json_object_unref (obj);
  mock_reply_json (r, status, node);
}

void
mock_reply_empty (MockRequest *r,
                  guint        status)
{
  soup_server_message_set_status (r->msg, status, NULL);
  soup_server_message_set_response (r->msg, NULL, SOUP_MEMORY_STATIC, NULL, 0);
}

static void
add_header (MockRequest *r,
            const char  *name,
            const char  *value)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (r->msg), name, value);
}

/* One-origin mode: host-only cookies on Path=/. Routed mode: scoped to the
 * domain of the host that set them (.icloud.com, .icloud.com.cn, .apple.com),
 * Secure, as Apple scopes them. */
static void
set_cookie (MockRequest *r,
            const char  *name,
            const char  *value)
{
  g_autofree char *header = NULL;

  if (r->cookie_domain != NULL)
    header = g_strdup_printf ("%s=%s; Domain=%s; Path=/; Secure; HttpOnly",
                              name, value, r->cookie_domain);
  else
    header = g_strdup_printf ("%s=%s; Path=/; HttpOnly", name, value);

  soup_message_headers_append (soup_server_message_get_response_headers (r->msg),
                               "Set-Cookie", header);
}

static void
expire_cookie (MockRequest *r,
               const char  *name)
{
  g_autofree char *header = NULL;

  if (r->cookie_domain != NULL)
    header = g_strdup_printf ("%s=; Domain=%s; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; "
                              "Secure; HttpOnly", name, r->cookie_domain);
  else
    header = g_strdup_printf ("%s=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT; HttpOnly",
                              name);

  soup_message_headers_append (soup_server_message_get_response_headers (r->msg),
                               "Set-Cookie", header);
}

void
mock_add_session_headers (MockRequest     *r,
                          MockAuthSession *session)
{
  add_header (r, "scnt", session->scnt);
  add_header (r, "X-Apple-ID-Session-Id", session->id);
  add_header (r, "X-Apple-Auth-Attributes", session->auth_attributes);
}

/* The IDMSA calls after signin: the X-Apple-ID-Session-Id and scnt headers of
 * a live sign-in must come along. */
MockAuthSession *
mock_require_idmsa_session (MockRequest *r)
{
  MockAuthSession *session = header_session (r);
  const char *scnt = mock_request_header (r, "scnt");

  if (session == NULL || scnt == NULL || !icloud_crypto_str_equal (scnt, session->scnt))
    {
      mock_reply_json_literal (r, SOUP_STATUS_UNAUTHORIZED, ERR_NO_SESSION);
      return NULL;
    }
  return session;
}

static MockAuthSession *
cookie_session (MockRequest *r)
{
  MockAuthSession *session;

  session = lookup_valid (r->self->web_tokens, g_hash_table_lookup (r->cookies, "X-APPLE-WEBAUTH-TOKEN"));
  if (session == NULL)
    session = lookup_valid (r->self->ds_tokens,
                            g_hash_table_lookup (r->cookies, "X-APPLE-DS-WEB-SESSION-TOKEN"));
  return session;
}

static gboolean
has_valid_trust_token (MockAccount *account,
                       JsonNode    *node)
{
  if (node == NULL)
    return FALSE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return g_hash_table_contains (account->trust_tokens, json_node_get_string (node));
  if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *el = json_array_get_element (array, i);
          if (JSON_NODE_HOLDS_VALUE (el) && json_node_get_value_type (el) == G_TYPE_STRING &&
              g_hash_table_contains (account->trust_tokens, json_node_get_string (el)))
            return TRUE;
        }
    }
  return FALSE;
}

static char *
base64_of (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return g_base64_encode (data, len);
}

static char *
random_b64url (gsize n)
{
  return icloud_crypto_random_token (n);
}

/* ------------------------------------------------------------------------ */
/* IDMSA: sign-in */

/* GET AUTH/authorize/signin: TL's pre-flight; seeds scnt and attributes. */
static void
handle_authorize (MockRequest *r)
{
  g_autofree char *scnt = random_b64url (24);
  g_autofree char *attrs = random_b64url (32);

  add_header (r, "scnt", scnt);
  add_header (r, "X-Apple-Auth-Attributes", attrs);
  mock_reply_text (r, SOUP_STATUS_OK, HTML_TYPE,
                   "<!DOCTYPE html>\n<html><head><title>Sign In</title></head><body></body></html>\n");
}

static void
reply_throttled (MockRequest *r)
{
  add_header (r, "Retry-After", "120");
  mock_reply_text (r, SOUP_STATUS_SERVICE_UNAVAILABLE, HTML_TYPE, BODY_503);
}

static void
handle_signin_init (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  const char *a = body_string (r, "a");
  const char *account_name = body_string (r, "accountName");
  MockAccount *account;
  MockHandshake *hs;
  g_autoptr(GBytes) B = NULL;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *salt_b64 = NULL;
  g_autofree char *b_b64 = NULL;
  guchar *A;
  gsize A_len = 0;
  char *c;
  guint iterations;
  const char *protocol;

  if (a == NULL || account_name == NULL)
    {
      mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST,
                               "{\"serviceErrors\":[{\"code\":\"-20000\",\"message\":\"Bad request.\"}]}");
      return;
    }

  account = mock_lookup_account (self, account_name);
  if (account != NULL && account->throttled)
    {
      reply_throttled (r);
      return;
    }
  if (account != NULL && account->malformed)
    {
      mock_reply_text (r, SOUP_STATUS_OK, HTML_TYPE,
                       "{\"iteration\":1000,\"salt\":\"c2FsdHNhbHRzYWx0c2Fs");
      return;
    }

  A = g_base64_decode (a, &A_len);
  if (A_len == 0)
    {
      g_free (A);
      mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST,
                               "{\"serviceErrors\":[{\"code\":\"-20000\",\"message\":\"Bad request.\"}]}");
      return;
    }

  hs = g_new0 (MockHandshake, 1);
  hs->identity = g_strdup (account_name);
  hs->A = g_bytes_new_take (A, A_len);
  hs->scnt = random_b64url (24);
  hs->session_id = random_b64url (24);
  hs->auth_attributes = random_b64url (32);

  if (account != NULL)
    {
      GBytes *v = mock_account_get_verifier (account);

      hs->account_key = g_strdup (account->key);
      hs->salt = g_bytes_ref (account->salt);
      hs->srp = icloud_srp_server_new (g_bytes_get_data (v, NULL), g_bytes_get_size (v), NULL, 0);
      iterations = account->iterations;
      protocol = account->protocol == ICLOUD_SRP_S2K_FO ? "s2k_fo" : "s2k";
    }
  else
    {
      /* No user enumeration: an unknown account gets a well-formed init
       * with a random salt and verifier; complete then fails. */
      guint8 *salt = g_malloc (16);
      guint8 v[256];

      icloud_crypto_random (salt, 16);
      icloud_crypto_random (v, sizeof v);
      v[0] |= 0x01;
      hs->salt = g_bytes_new_take (salt, 16);
      hs->srp = icloud_srp_server_new (v, sizeof v, NULL, 0);
      iterations = 20000;
      protocol = "s2k";
    }

  B = icloud_srp_server_get_B (hs->srp);
  salt_b64 = base64_of (hs->salt);
  b_b64 = base64_of (B);
  {
    g_autofree char *nonce = random_b64url (12);
    c = g_strdup_printf ("d-%u-%s:PRN", ++self->handshake_counter, nonce);
  }

  reply = json_object_new ();
  json_object_set_int_member (reply, "iteration", iterations);
  json_object_set_string_member (reply, "salt", salt_b64);
  json_object_set_string_member (reply, "protocol", protocol);
  json_object_set_string_member (reply, "b", b_b64);
  json_object_set_string_member (reply, "c", c);

  add_header (r, "scnt", hs->scnt);
  add_header (r, "X-Apple-ID-Session-Id", hs->session_id);
  add_header (r, "X-Apple-Auth-Attributes", hs->auth_attributes);

  /* keep the table bounded if clients never complete */
  if (g_hash_table_size (self->handshakes) > 10000)
    g_hash_table_remove_all (self->handshakes);
  g_hash_table_insert (self->handshakes, c, hs);

  /* Apple's quirk: JSON served as text/html */
  reply_node (r, SOUP_STATUS_OK, HTML_TYPE,
              json_node_init_object (json_node_alloc (), reply));
}

static const char *
auth_type_of (MockAccount *account)
{
  switch (account->factor)
    {
    case MOCK_FACTOR_HSA2:
      return "hsa2";
    case MOCK_FACTOR_HSA:
      return "hsa";
    case MOCK_FACTOR_NONE:
    default:
      return "non-sa";
    }
}

/* The outcome of a password the server accepted (SRP or legacy). */
static void
finish_signin (MockRequest *r,
               MockAccount *account,
               const char  *session_id,
               const char  *scnt,
               const char  *auth_attributes)
{
  ICloudMockServer *self = r->self;
  MockAuthSession *session;
  JsonNode *trust_tokens = r->body_obj ? json_object_get_member (r->body_obj, "trustTokens") : NULL;
  gboolean trusted = has_valid_trust_token (account, trust_tokens);
  g_autofree char *acn = NULL;
  JsonObject *reply;

  session = auth_session_new (self, account, session_id, scnt, auth_attributes);
  mock_add_session_headers (r, session);

  if (account->repair != MOCK_REPAIR_NO)
    {
      session->repair_pending = TRUE;
      mock_reply_json_literal (r, SOUP_STATUS_PRECONDITION_FAILED, "{\"auth_type\":\"sa\"}");
      return;
    }

  session->trusted = trusted;
  session->verified = account->factor == MOCK_FACTOR_NONE || trusted;

  add_header (r, "X-Apple-Session-Token", issue_token (self->session_tokens, session, 48));
  add_header (r, "X-Apple-ID-Account-Country", account->china ? "CHN" : "USA");
  add_header (r, "X-Apple-TwoSV-Trust-Eligible", "true");
  set_cookie (r, "aasp", issue_token (self->aasp_tokens, session, 32));
  acn = random_b64url (16);
  set_cookie (r, "acn01", acn);

  reply = json_object_new ();
  json_object_set_string_member (reply, "authType", auth_type_of (account));
  if (account->factor == MOCK_FACTOR_HSA2 && !trusted)
    reply_object (r, SOUP_STATUS_CONFLICT, reply);
  else
    reply_object (r, SOUP_STATUS_OK, reply);
}

static void
handle_signin_complete (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  const char *account_name = body_string (r, "accountName");
  const char *c = body_string (r, "c");
  const char *m1 = body_string (r, "m1");
  MockHandshake *hs = NULL;
  MockAccount *account;
  g_autofree guchar *M1 = NULL;
  gsize M1_len = 0;
  guint8 M2[32];
  gboolean ok = FALSE;
  gpointer key = NULL;

  if (c == NULL || account_name == NULL || m1 == NULL ||
      !g_hash_table_steal_extended (self->handshakes, c, &key, (gpointer *) &hs))
    {
      mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST,
                               "{\"serviceErrors\":[{\"code\":\"-20000\",\"message\":\"Bad request.\"}]}");
      return;
    }
  g_free (key);

  account = hs->account_key ? g_hash_table_lookup (self->accounts, hs->account_key) : NULL;
  if (account == NULL || g_ascii_strcasecmp (account_name, account->key) != 0)
    {
      mock_handshake_free (hs);
      mock_reply_json_literal (r, SOUP_STATUS_UNAUTHORIZED, ERR_WRONG_PASSWORD);
      return;
    }

  M1 = g_base64_decode (m1, &M1_len);
  if (M1_len == 32)
    {
      g_autoptr(GError) error = NULL;
      gsize salt_len, A_len;
      const guint8 *salt = g_bytes_get_data (hs->salt, &salt_len);
      const guint8 *A = g_bytes_get_data (hs->A, &A_len);

      ok = icloud_srp_server_verify (hs->srp, hs->identity, salt, salt_len,
                                     A, A_len, M1, M2, &error);
      icloud_crypto_wipe (M2, sizeof M2);
    }

  if (account->locked)
    {
      mock_handshake_free (hs);
      mock_reply_json_literal (r, SOUP_STATUS_FORBIDDEN, ERR_LOCKED);
      return;
    }
  if (!ok)
    {
      mock_handshake_free (hs);
      mock_reply_json_literal (r, SOUP_STATUS_UNAUTHORIZED, ERR_WRONG_PASSWORD);
      return;
    }

  finish_signin (r, account, hs->session_id, hs->scnt, hs->auth_attributes);
  mock_handshake_free (hs);
}

/* pyicloud 1.0.0's plain-password sign-in: gone at Apple since SRP. */
static void
handle_signin_legacy (MockRequest *r)
{
  MockAccount *account = mock_lookup_account (r->self, body_string (r, "accountName"));
  const char *password = body_string (r, "password");
  g_autofree char *session_id = NULL;
  g_autofree char *scnt = NULL;
  g_autofree char *attrs = NULL;

  if (account == NULL || !account->legacy_password)
    {
      mock_reply_text (r, SOUP_STATUS_SERVICE_UNAVAILABLE, HTML_TYPE, BODY_503);
      return;
    }
  if (account->throttled)
    {
      reply_throttled (r);
      return;
    }
  if (account->locked)
    {
      mock_reply_json_literal (r, SOUP_STATUS_FORBIDDEN, ERR_LOCKED);
      return;
    }
  if (password == NULL || !icloud_crypto_str_equal (password, account->password))
    {
      mock_reply_json_literal (r, SOUP_STATUS_UNAUTHORIZED, ERR_WRONG_PASSWORD);
      return;
    }

  session_id = random_b64url (24);
  scnt = random_b64url (24);
  attrs = random_b64url (32);
  finish_signin (r, account, session_id, scnt, attrs);
}

static void
handle_repair_complete (MockRequest *r)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;

  if (session == NULL)
    return;
  account = g_hash_table_lookup (r->self->accounts, session->account_key);
  mock_add_session_headers (r, session);
  if (account == NULL || !session->repair_pending || account->repair != MOCK_REPAIR_AUTO)
    {
      /* a repair that needs a browser */
      mock_reply_json_literal (r, SOUP_STATUS_PRECONDITION_FAILED, "{\"auth_type\":\"sa\"}");
      return;
    }

  session->repair_pending = FALSE;
  session->verified = account->factor == MOCK_FACTOR_NONE;
  add_header (r, "X-Apple-Session-Token", issue_token (r->self->session_tokens, session, 48));
  add_header (r, "X-Apple-ID-Account-Country", account->china ? "CHN" : "USA");
  mock_reply_empty (r, SOUP_STATUS_NO_CONTENT);
}

/* ------------------------------------------------------------------------ */
/* IDMSA: second factor (HSA2) */

static JsonObject *
security_code_object (void)
{
  JsonObject *obj = json_object_new ();

  json_object_set_int_member (obj, "length", 6);
  json_object_set_boolean_member (obj, "tooManyCodesSent", FALSE);
  json_object_set_boolean_member (obj, "tooManyCodesValidated", FALSE);
  json_object_set_boolean_member (obj, "securityCodeLocked", FALSE);
  json_object_set_boolean_member (obj, "securityCodeCooldown", FALSE);
  return obj;
}

static JsonArray *
phones_array (MockAccount *account)
{
  JsonArray *array = json_array_new ();

  for (guint i = 0; i < account->phones->len; i++)
    json_array_add_object_element (array, mock_phone_to_json (g_ptr_array_index (account->phones, i)));
  return array;
}

static JsonObject *
phone_verification_object (MockAccount *account)
{
  JsonObject *obj = json_object_new ();

  json_object_set_array_member (obj, "trustedPhoneNumbers", phones_array (account));
  if (account->phones->len > 0)
    json_object_set_object_member (obj, "trustedPhoneNumber",
                                   mock_phone_to_json (g_ptr_array_index (account->phones, 0)));
  json_object_set_object_member (obj, "securityCode", security_code_object ());
  json_object_set_string_member (obj, "authenticationType", auth_type_of (account));
  json_object_set_boolean_member (obj, "hsa2Account", account->factor == MOCK_FACTOR_HSA2);
  json_object_set_boolean_member (obj, "restrictedAccount", FALSE);
  return obj;
}

static void
add_security_keys (JsonObject  *obj,
                   MockAccount *account)
{
  JsonArray *names;
  JsonArray *handles;
  JsonObject *challenge;
  g_autoptr(GString) allowed = g_string_new (NULL);
  g_autofree char *nonce = NULL;

  if (account->security_keys == NULL)
    return;

  names = json_array_new ();
  handles = json_array_new ();
  for (guint i = 0; account->security_keys[i] != NULL; i++)
    {
      g_autofree char *handle = random_b64url (32);

      json_array_add_string_element (names, account->security_keys[i]);
      json_array_add_string_element (handles, handle);
      if (i > 0)
        g_string_append_c (allowed, ',');
      g_string_append (allowed, handle);
    }

  nonce = random_b64url (32);
  challenge = json_object_new ();
  json_object_set_string_member (challenge, "challenge", nonce);
  json_object_set_array_member (challenge, "keyHandles", handles);
  json_object_set_string_member (challenge, "rpId", "apple.com");
  json_object_set_string_member (challenge, "allowedCredentials", allowed->str);

  json_object_set_array_member (obj, "keyNames", names);
  json_object_set_object_member (obj, "fsaChallenge", challenge);
}

/* The JSON shape of GET AUTH. */
static JsonObject *
auth_options_object (MockRequest *r,
                     MockAccount *account)
{
  JsonObject *obj = json_object_new ();

  json_object_set_int_member (obj, "trustedDeviceCount", 1);
  json_object_set_string_member (obj, "otherTrustedDeviceClass", "iPhone");
  json_object_set_object_member (obj, "securityCode", security_code_object ());
  json_object_set_object_member (obj, "phoneNumberVerification", phone_verification_object (account));
  json_object_set_string_member (obj, "authenticationType", auth_type_of (account));
  json_object_set_boolean_member (obj, "hsa2Account", account->factor == MOCK_FACTOR_HSA2);
  json_object_set_boolean_member (obj, "supportsRecovery", TRUE);
  add_security_keys (obj, account);
  mock_bridge_add_boot_data (r, account, NULL, NULL, obj);
  return obj;
}

/* The HTML shape of GET AUTH: Apple's page with the boot args. */
static char *
auth_options_html (MockRequest *r,
                   MockAccount *account)
{
  g_autoptr(JsonObject) root = json_object_new ();
  JsonObject *direct = json_object_new ();
  JsonObject *two_sv = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *json = NULL;

  json_object_set_int_member (two_sv, "trustedDeviceCount", 1);
  json_object_set_object_member (two_sv, "securityCode", security_code_object ());
  json_object_set_string_member (two_sv, "authenticationType", auth_type_of (account));
  if (account->options_bridge || account->bridge)
    {
      JsonObject *bridge = json_object_new ();
      json_object_set_object_member (bridge, "phoneNumberVerification",
                                     phone_verification_object (account));
      json_object_set_object_member (two_sv, "bridgeInitiateData", bridge);
    }
  else
    json_object_set_object_member (two_sv, "phoneNumberVerification",
                                   phone_verification_object (account));
  add_security_keys (two_sv, account);

  json_object_set_boolean_member (direct, "hasTrustedDevices", TRUE);
  mock_bridge_add_boot_data (r, account, direct, two_sv, NULL);
  json_object_set_object_member (direct, "twoSV", two_sv);
  json_object_set_object_member (root, "direct", direct);

  node = json_node_init_object (json_node_alloc (), root);
  json = node_to_string (node);

  return g_strdup_printf ("<!DOCTYPE html>\n<html><head><title>Apple Account</title></head>\n"
                          "<body>\n<script type=\"application/json\" class=\"boot_args\">%s</script>\n"
                          "</body></html>\n", json);
}

static MockAccount *
session_account (MockRequest     *r,
                 MockAuthSession *session)
{
  return g_hash_table_lookup (r->self->accounts, session->account_key);
}

static void
handle_auth_options (MockRequest *r)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;
  const char *accept;

  if (session == NULL)
    return;
  account = session_account (r, session);
  mock_add_session_headers (r, session);
  accept = mock_request_header (r, "Accept");
  if (accept != NULL && strstr (accept, "text/html") != NULL)
    {
      char *html = auth_options_html (r, account);
      soup_server_message_set_status (r->msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (r->msg, HTML_TYPE, SOUP_MEMORY_TAKE, html, strlen (html));
    }
  else
    reply_object (r, SOUP_STATUS_OK, auth_options_object (r, account));
}

static gboolean
refuse_codes_for_keys (MockRequest *r,
                       MockAccount *account)
{
  if (account->security_keys == NULL)
    return FALSE;
  mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST,
                           "{\"service_errors\":[{\"code\":\"-21675\",\"title\":\"Security Key Required\","
                           "\"message\":\"Use your security key to sign in.\",\"suppressDismissal\":false}],"
                           "\"hasError\":true}");
  return TRUE;
}

/* GET AUTH/verify/trusteddevice: push a code to the trusted devices. */
static void
handle_request_push (MockRequest *r)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;

  if (session == NULL)
    return;
  account = session_account (r, session);
  mock_add_session_headers (r, session);
  if (refuse_codes_for_keys (r, account))
    return;
  mock_send_code (account, "");
  reply_object (r, SOUP_STATUS_OK, auth_options_object (r, account));
}

static gint64
body_phone_id (MockRequest *r)
{
  JsonNode *pn;
  JsonNode *id;

  if (r->body_obj == NULL)
    return -1;
  pn = json_object_get_member (r->body_obj, "phoneNumber");
  if (pn == NULL || !JSON_NODE_HOLDS_OBJECT (pn))
    return -1;
  id = json_object_get_member (json_node_get_object (pn), "id");
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
    return -1;
  if (json_node_get_value_type (id) == G_TYPE_INT64)
    return json_node_get_int (id);
  if (json_node_get_value_type (id) == G_TYPE_STRING)
    return g_ascii_strtoll (json_node_get_string (id), NULL, 10);
  return -1;
}

/* PUT AUTH/verify/phone: send an SMS code to one trusted phone. */
static void
handle_request_sms (MockRequest *r)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;
  MockPhone *phone;
  g_autofree char *target = NULL;
  JsonObject *reply;

  if (session == NULL)
    return;
  account = session_account (r, session);
  mock_add_session_headers (r, session);
  if (refuse_codes_for_keys (r, account))
    return;

  phone = mock_account_find_phone (account, body_phone_id (r));
  if (phone == NULL)
    {
      mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST,
                               "{\"service_errors\":[{\"code\":\"-22421\",\"title\":\"Invalid Phone Number\","
                               "\"message\":\"This phone number is not a trusted phone number.\","
                               "\"suppressDismissal\":false}],\"hasError\":true}");
      return;
    }

  target = g_strdup_printf ("%" G_GINT64_FORMAT, phone->id);
  mock_send_code (account, target);

  reply = json_object_new ();
  json_object_set_object_member (reply, "trustedPhoneNumber", mock_phone_to_json (phone));
  json_object_set_array_member (reply, "trustedPhoneNumbers", phones_array (account));
  json_object_set_object_member (reply, "securityCode", security_code_object ());
  json_object_set_string_member (reply, "mode", phone->push_mode);
  json_object_set_string_member (reply, "type", "verification");
  json_object_set_string_member (reply, "authenticationType", auth_type_of (account));
  reply_object (r, SOUP_STATUS_OK, reply);
}

static const char *
body_security_code (MockRequest *r)
{
  JsonNode *sc;

  if (r->body_obj == NULL)
    return NULL;
  sc = json_object_get_member (r->body_obj, "securityCode");
  if (sc == NULL || !JSON_NODE_HOLDS_OBJECT (sc))
    return NULL;
  return json_object_get_string_member_with_default (json_node_get_object (sc), "code", NULL);
}

void
mock_code_accepted (MockRequest     *r,
                    MockAuthSession *session)
{
  g_autofree char *grant = random_b64url (32);

  session->verified = TRUE;
  session->code_verified = TRUE;
  mock_add_session_headers (r, session);
  add_header (r, "X-Apple-Session-Token", issue_token (r->self->session_tokens, session, 48));
  add_header (r, "X-Apple-OAuth-Grant-Code", grant);
  mock_reply_empty (r, SOUP_STATUS_NO_CONTENT);
}

static void
handle_verify_code (MockRequest *r,
                    gboolean     phone_route)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;
  g_autofree char *target = NULL;

  if (session == NULL)
    return;
  account = session_account (r, session);
  mock_add_session_headers (r, session);

  if (phone_route)
    {
      MockPhone *phone = mock_account_find_phone (account, body_phone_id (r));
      if (phone != NULL)
        target = g_strdup_printf ("%" G_GINT64_FORMAT, phone->id);
    }
  else
    target = g_strdup ("");

  if (target == NULL ||
      (!phone_route && mock_bridge_refuses_code (r->self, account, body_security_code (r))) ||
      !check_code (account, target, body_security_code (r)))
    {
      mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST, ERR_WRONG_CODE);
      return;
    }
  mock_code_accepted (r, session);
}

/* POST AUTH/verify/security/key: we cannot check a real FIDO assertion. */
static void
handle_security_key (MockRequest *r)
{
  MockAuthSession *session = mock_require_idmsa_session (r);

  if (session == NULL)
    return;
  mock_add_session_headers (r, session);
  mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST, ERR_WRONG_CODE);
}

/* GET AUTH/2sv/trust: only after a code was accepted in this sign-in. */
static void
handle_trust (MockRequest *r)
{
  MockAuthSession *session = mock_require_idmsa_session (r);
  MockAccount *account;
  char *trust_token;

  if (session == NULL)
    return;
  account = session_account (r, session);
  mock_add_session_headers (r, session);
  if (!session->code_verified)
    {
      mock_reply_json_literal (r, SOUP_STATUS_FORBIDDEN,
                               "{\"service_errors\":[{\"code\":\"-21672\",\"title\":\"Verification Required\","
                               "\"message\":\"Verify your identity first.\",\"suppressDismissal\":false}],"
                               "\"hasError\":true}");
      return;
    }

  trust_token = icloud_crypto_random_token (48);
  g_hash_table_add (account->trust_tokens, trust_token);
  session->trusted = TRUE;
  add_header (r, "X-Apple-TwoSV-Trust-Token", trust_token);
  add_header (r, "X-Apple-Session-Token", issue_token (r->self->session_tokens, session, 48));
  mock_reply_empty (r, SOUP_STATUS_NO_CONTENT);
}

/* ------------------------------------------------------------------------ */
/* setup.icloud.com */

static JsonObject *
service_object (const char *base,
                const char *path,
                gboolean    pcs)
{
  JsonObject *obj = json_object_new ();
  g_autofree char *url = g_strconcat (base, path, NULL);

  json_object_set_string_member (obj, "url", url);
  json_object_set_string_member (obj, "status", "active");
  if (pcs)
    json_object_set_boolean_member (obj, "pcsRequired", TRUE);
  return obj;
}

static JsonNode *
account_document (MockRequest      *r,
                  MockAccount      *account,
                  gboolean          challenge_required,
                  gboolean          trusted)
{
  JsonObject *root = json_object_new ();
  JsonObject *ds = json_object_new ();
  JsonObject *ws = json_object_new ();
  JsonObject *info = json_object_new ();
  g_autofree char *full_name = g_strdup_printf ("%s %s", account->first_name, account->last_name);
  int hsa_version = account->factor == MOCK_FACTOR_HSA2 ? 2 : account->factor == MOCK_FACTOR_HSA ? 1 : 0;
  const char *base = r->base_uri;
  JsonNode *node;

  json_object_set_string_member (ds, "dsid", account->dsid);
  json_object_set_string_member (ds, "appleId", account->apple_id);
  json_object_set_string_member (ds, "primaryEmail", account->apple_id);
  json_object_set_string_member (ds, "fullName", full_name);
  json_object_set_string_member (ds, "firstName", account->first_name);
  json_object_set_string_member (ds, "lastName", account->last_name);
  json_object_set_string_member (ds, "languageCode", "en-us");
  json_object_set_string_member (ds, "locale", "en_US");
  json_object_set_string_member (ds, "countryCode", account->china ? "CHN" : "USA");
  json_object_set_int_member (ds, "hsaVersion", hsa_version);
  json_object_set_boolean_member (ds, "hsaEnabled", hsa_version > 0);
  json_object_set_boolean_member (ds, "hasICloudQualifyingDevice", TRUE);
  json_object_set_boolean_member (ds, "isManagedAppleID", FALSE);
  json_object_set_boolean_member (ds, "locked", FALSE);

  json_object_set_object_member (ws, "findme", service_object (base, "/fmipservice", FALSE));
  json_object_set_object_member (ws, "ckdatabasews", service_object (base, "/ckdatabasews", TRUE));
  json_object_set_object_member (ws, "account", service_object (base, "/setup/account", FALSE));
  json_object_set_object_member (ws, "contacts", service_object (base, "/contacts", FALSE));
  json_object_set_object_member (ws, "calendar", service_object (base, "/calendar", FALSE));

  json_object_set_string_member (info, "country", r->china ? "CN" : "US");
  json_object_set_string_member (info, "timeZone", "GMT");
  json_object_set_string_member (info, "region", r->china ? "CN" : "US");

  json_object_set_object_member (root, "dsInfo", ds);
  json_object_set_boolean_member (root, "hasMinimumDeviceForPhotosWeb", TRUE);
  json_object_set_boolean_member (root, "iCDPEnabled", FALSE);
  json_object_set_object_member (root, "webservices", ws);
  json_object_set_boolean_member (root, "pcsEnabled", TRUE);
  json_object_set_boolean_member (root, "termsUpdateNeeded", FALSE);
  json_object_set_object_member (root, "configBag", json_object_new ());
  json_object_set_boolean_member (root, "hsaTrustedBrowser", trusted);
  json_object_set_object_member (root, "apps", json_object_new ());
  json_object_set_boolean_member (root, "isExtendedLogin", TRUE);
  json_object_set_boolean_member (root, "pcsServiceIdentitiesIncluded", FALSE);
  json_object_set_boolean_member (root, "hsaChallengeRequired", challenge_required);
  json_object_set_object_member (root, "requestInfo", info);
  json_object_set_boolean_member (root, "pcsDeleted", FALSE);

  node = json_node_init_object (json_node_alloc (), root);
  json_object_unref (root);
  return node;
}

/* Account is of the other region than this origin: Apple's 302. Recorded
 * for a China mainland account on the global setup host (§9); a global
 * account on the China mainland host gets the mirror image, which is our
 * guess at Apple's behaviour. In routed mode the origin is the Host the
 * request reached, so the same server plays both. */
static gboolean
reply_wrong_region (MockRequest *r,
                    MockAccount *account)
{
  if (account->china == r->china)
    return FALSE;
  mock_reply_json_literal (r, SOUP_STATUS_FOUND,
                           account->china ? "{\"domainToUse\":\"iCloud.com.cn\"}"
                                          : "{\"domainToUse\":\"iCloud.com\"}");
  return TRUE;
}

static void
session_flags (MockAuthSession *session,
               MockAccount     *account,
               gboolean         trust_token_valid,
               gboolean        *challenge_required,
               gboolean        *trusted)
{
  if (account->factor == MOCK_FACTOR_NONE)
    {
      *challenge_required = FALSE;
      *trusted = TRUE;
      return;
    }
  *challenge_required = !session->verified;
  *trusted = session->trusted || (session->verified && trust_token_valid);
}

static void
handle_account_login (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  MockAuthSession *session;
  MockAccount *account;
  g_autofree char *user = NULL;
  g_autofree char *login = NULL;
  gboolean challenge_required, trusted;

  session = lookup_valid (self->session_tokens, body_string (r, "dsWebAuthToken"));
  account = session ? session_account (r, session) : NULL;
  if (session == NULL || account == NULL || session->repair_pending)
    {
      mock_reply_json_literal (r, SOUP_STATUS_UNAUTHORIZED, ERR_MISSING_APPLE_ID);
      return;
    }
  if (reply_wrong_region (r, account))
    return;

  session_flags (session, account,
                 has_valid_trust_token (account, json_object_get_member (r->body_obj, "trustToken")),
                 &challenge_required, &trusted);
  if (trusted)
    session->trusted = TRUE;

  user = g_strdup_printf ("\"v=1:s=%d:d=%s\"", trusted ? 1 : 0, account->dsid);
  login = random_b64url (24);
  set_cookie (r, "X-APPLE-WEBAUTH-USER", user);
  set_cookie (r, "X-APPLE-WEBAUTH-LOGIN", login);
  set_cookie (r, "X-APPLE-DS-WEB-SESSION-TOKEN", issue_token (self->ds_tokens, session, 48));
  if (trusted)
    set_cookie (r, "X-APPLE-WEBAUTH-TOKEN", issue_token (self->web_tokens, session, 48));

  mock_reply_json (r, SOUP_STATUS_OK, account_document (r, account, challenge_required, trusted));
}

static void
handle_validate (MockRequest *r)
{
  MockAuthSession *session;
  MockAccount *account;
  gboolean challenge_required, trusted;

  session = lookup_valid (r->self->web_tokens, g_hash_table_lookup (r->cookies, "X-APPLE-WEBAUTH-TOKEN"));
  account = session ? session_account (r, session) : NULL;
  if (session == NULL || account == NULL)
    {
      mock_reply_json_literal (r, SOUP_STATUS_MISDIRECTED_REQUEST, ERR_MISSING_WEBAUTH);
      return;
    }
  if (reply_wrong_region (r, account))
    return;
  session_flags (session, account, FALSE, &challenge_required, &trusted);
  mock_reply_json (r, SOUP_STATUS_OK, account_document (r, account, challenge_required, trusted));
}

static gboolean
body_bool (MockRequest *r,
           const char  *name)
{
  if (r->body_obj == NULL)
    return FALSE;
  return json_object_get_boolean_member_with_default (r->body_obj, name, FALSE);
}

static void
handle_logout (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  MockAuthSession *session = cookie_session (r);
  const char *cookies[] = {
    "X-APPLE-WEBAUTH-TOKEN", "X-APPLE-WEBAUTH-USER", "X-APPLE-WEBAUTH-LOGIN",
    "X-APPLE-DS-WEB-SESSION-TOKEN", "aasp", "acn01",
  };

  if (session != NULL)
    {
      g_autofree char *key = g_strdup (session->account_key);
      MockAccount *account = g_hash_table_lookup (self->accounts, key);

      if (!body_bool (r, "trustBrowser") && account != NULL)
        g_hash_table_remove_all (account->trust_tokens);
      if (body_bool (r, "allBrowsers"))
        mock_invalidate_account (self, key);
      else
        invalidate_session (self, session);
    }

  for (guint i = 0; i < G_N_ELEMENTS (cookies); i++)
    expire_cookie (r, cookies[i]);
  mock_reply_json_literal (r, SOUP_STATUS_OK, "{\"success\":true}");
}

/* 2SA (HSA v1) on the setup host; no query parameters required (§9). */
static MockAuthSession *
require_setup_session (MockRequest *r)
{
  MockAuthSession *session = cookie_session (r);

  if (session == NULL)
    mock_reply_json_literal (r, SOUP_STATUS_MISDIRECTED_REQUEST, ERR_MISSING_WEBAUTH);
  return session;
}

static char *
body_device_id (MockRequest *r)
{
  JsonNode *id;

  if (r->body_obj == NULL)
    return NULL;
  id = json_object_get_member (r->body_obj, "deviceId");
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
    return NULL;
  if (json_node_get_value_type (id) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (id));
  if (json_node_get_value_type (id) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
  return NULL;
}

static void
handle_list_devices (MockRequest *r)
{
  MockAuthSession *session = require_setup_session (r);
  JsonObject *reply;

  if (session == NULL)
    return;
  reply = json_object_new ();
  json_object_set_array_member (reply, "devices",
                                json_array_ref (session_account (r, session)->devices));
  reply_object (r, SOUP_STATUS_OK, reply);
}

static void
handle_send_verification_code (MockRequest *r)
{
  MockAuthSession *session = require_setup_session (r);
  MockAccount *account;
  g_autofree char *device_id = NULL;

  if (session == NULL)
    return;
  account = session_account (r, session);
  device_id = body_device_id (r);
  if (mock_account_find_device (account, device_id) == NULL)
    {
      mock_reply_json_literal (r, SOUP_STATUS_BAD_REQUEST,
                               "{\"success\":false,\"errorCode\":-21670,"
                               "\"errorMessage\":\"Unknown device.\"}");
      return;
    }
  mock_send_code (account, device_id);
  mock_reply_json_literal (r, SOUP_STATUS_OK, "{\"success\":true}");
}

static void
handle_validate_verification_code (MockRequest *r)
{
  MockAuthSession *session = require_setup_session (r);
  MockAccount *account;
  g_autofree char *device_id = NULL;

  if (session == NULL)
    return;
  account = session_account (r, session);
  device_id = body_device_id (r);
  if (device_id == NULL ||
      mock_account_find_device (account, device_id) == NULL ||
      !check_code (account, device_id, body_string (r, "verificationCode")))
    {
      /* recorded Apple shape (§9): 200 with success false */
      mock_reply_json_literal (r, SOUP_STATUS_OK,
                               "{\"success\":false,\"errorCode\":-21669,"
                               "\"errorMessage\":\"Incorrect verification code.\"}");
      return;
    }

  session->verified = TRUE;
  session->code_verified = TRUE;
  if (body_bool (r, "trustBrowser"))
    session->trusted = TRUE;
  mock_reply_json_literal (r, SOUP_STATUS_OK, "{\"success\":true}");
}

/* ------------------------------------------------------------------------ */
/* routing */

typedef void (*MockHandler) (MockRequest *r);

typedef struct {
  const char  *method;
  const char  *path;
  MockHandler  handler;
} MockRoute;

static void handle_verify_device_code (MockRequest *r) { handle_verify_code (r, FALSE); }
static void handle_verify_phone_code (MockRequest *r) { handle_verify_code (r, TRUE); }

static const MockRoute routes[] = {
  { "GET",  MOCK_AUTH_PREFIX "/authorize/signin", handle_authorize },
  { "POST", MOCK_AUTH_PREFIX "/signin/init", handle_signin_init },
  { "POST", MOCK_AUTH_PREFIX "/signin/complete", handle_signin_complete },
  { "POST", MOCK_AUTH_PREFIX "/signin", handle_signin_legacy },
  { "POST", MOCK_AUTH_PREFIX "/repair/complete", handle_repair_complete },
  { "GET",  MOCK_AUTH_PREFIX, handle_auth_options },
  { "GET",  MOCK_AUTH_PREFIX "/", handle_auth_options },
  { "GET",  MOCK_AUTH_PREFIX "/verify/trusteddevice", handle_request_push },
  { "PUT",  MOCK_AUTH_PREFIX "/verify/phone", handle_request_sms },
  { "POST", MOCK_AUTH_PREFIX "/verify/trusteddevice/securitycode", handle_verify_device_code },
  { "POST", MOCK_AUTH_PREFIX "/verify/phone/securitycode", handle_verify_phone_code },
  { "POST", MOCK_AUTH_PREFIX "/verify/security/key", handle_security_key },
  { "GET",  MOCK_AUTH_PREFIX "/2sv/trust", handle_trust },
  { "POST", MOCK_AUTH_PREFIX "/bridge/step/0", mock_bridge_handle_step },
  { "POST", MOCK_AUTH_PREFIX "/bridge/step/2", mock_bridge_handle_step },
  { "POST", MOCK_AUTH_PREFIX "/bridge/step/4", mock_bridge_handle_step },
  { "POST", MOCK_AUTH_PREFIX "/bridge/step/6", mock_bridge_handle_step },
  { "POST", MOCK_AUTH_PREFIX "/bridge/code/validate", mock_bridge_handle_validate },
  { "POST", MOCK_SETUP_PREFIX "/accountLogin", handle_account_login },
  { "POST", MOCK_SETUP_PREFIX "/validate", handle_validate },
  { "POST", MOCK_SETUP_PREFIX "/logout", handle_logout },
  { "GET",  MOCK_SETUP_PREFIX "/listDevices", handle_list_devices },
  { "POST", MOCK_SETUP_PREFIX "/sendVerificationCode", handle_send_verification_code },
  { "POST", MOCK_SETUP_PREFIX "/validateVerificationCode", handle_validate_verification_code },
};

/* Routed mode: Apple's hosts, by role. The scheme is added at run time. */
typedef enum {
  MOCK_HOST_AUTH,
  MOCK_HOST_SETUP,
  MOCK_HOST_HOME,
  MOCK_HOST_PUSH,
} MockHostRole;

static const struct {
  const char   *host;
  MockHostRole  role;
  gboolean      china;
  const char   *cookie_domain;
} apple_hosts[] = {
  { "idmsa.apple.com",     MOCK_HOST_AUTH,  FALSE, ".apple.com" },
  { "idmsa.apple.com.cn",  MOCK_HOST_AUTH,  TRUE,  ".apple.com.cn" },
  { "setup.icloud.com",    MOCK_HOST_SETUP, FALSE, ".icloud.com" },
  { "setup.icloud.com.cn", MOCK_HOST_SETUP, TRUE,  ".icloud.com.cn" },
  { "www.icloud.com",      MOCK_HOST_HOME,  FALSE, ".icloud.com" },
  { "www.icloud.com.cn",   MOCK_HOST_HOME,  TRUE,  ".icloud.com.cn" },
  { "websocket.push.apple.com",         MOCK_HOST_PUSH, FALSE, NULL },
  { "websocket.sandbox.push.apple.com", MOCK_HOST_PUSH, FALSE, NULL },
};

/* The Host header without its port, lower-case; NULL when absent. */
static char *
request_host (MockRequest *r)
{
  const char *host = mock_request_header (r, "Host");
  const char *colon;

  if (host == NULL || *host == '\0')
    return NULL;
  if (host[0] == '[')
    {
      const char *end = strchr (host, ']');
      return g_ascii_strdown (host, end ? end - host + 1 : -1);
    }
  colon = strrchr (host, ':');
  return g_ascii_strdown (host, colon ? colon - host : -1);
}

gboolean
mock_path_in (const char *path,
              const char *prefix)
{
  gsize len = strlen (prefix);

  return strncmp (path, prefix, len) == 0 && (path[len] == '\0' || path[len] == '/');
}

gboolean
mock_apple_route (MockRequest *r)
{
  ICloudMockServer *self = r->self;
  g_autofree char *host = NULL;

  r->china = self->china;
  r->cookie_domain = NULL;
  g_free (r->base_uri);
  r->base_uri = g_strdup (self->base_uri);

  if (!self->routed)
    return TRUE;

  host = request_host (r);
  for (guint i = 0; host != NULL && i < G_N_ELEMENTS (apple_hosts); i++)
    {
      gboolean belongs;

      if (!g_str_equal (host, apple_hosts[i].host))
        continue;

      r->china = apple_hosts[i].china;
      r->cookie_domain = apple_hosts[i].cookie_domain;
      g_free (r->base_uri);
      r->base_uri = g_strconcat ("https://", host, NULL);

      switch (apple_hosts[i].role)
        {
        case MOCK_HOST_AUTH:
          belongs = mock_path_in (r->path, MOCK_AUTH_PREFIX);
          break;
        case MOCK_HOST_SETUP:
          belongs = mock_path_in (r->path, MOCK_SETUP_PREFIX);
          break;
        case MOCK_HOST_PUSH:
          belongs = mock_path_in (r->path, MOCK_PUSH_PATH);
          break;
        case MOCK_HOST_HOME:
        default:
          /* the home page only, as the Origin of the web session */
          if (g_str_equal (r->path, "/") && g_str_equal (r->method, "GET"))
            {
              mock_reply_text (r, SOUP_STATUS_OK, HTML_TYPE,
                               "<!DOCTYPE html>\n<html><head><title>iCloud</title></head>"
                               "<body></body></html>\n");
              return FALSE;
            }
          belongs = FALSE;
          break;
        }

      if (!belongs)
        mock_reply_json_literal (r, SOUP_STATUS_NOT_FOUND,
                                 "{\"success\":false,\"error\":\"Not Found\"}");
      return belongs;
    }

  /* Loopback names serve every path on one origin, over TLS. */
  if (host != NULL &&
      (g_str_equal (host, "127.0.0.1") || g_str_equal (host, "localhost") ||
       g_str_equal (host, "[::1]")))
    return TRUE;

  mock_reply_json_literal (r, SOUP_STATUS_MISDIRECTED_REQUEST,
                           "{\"success\":false,\"error\":\"Misdirected Request\"}");
  return FALSE;
}

void
mock_apple_handle (MockRequest *r)
{
  gboolean path_known = FALSE;

  if (r->conflict)
    {
      r->self->isolation_violations++;
      g_debug ("isolation violation: tokens of two accounts on %s", r->path);
      mock_reply_json_literal (r, SOUP_STATUS_UNAUTHORIZED,
                               "{\"success\":false,\"error\":\"Session tokens of another account\"}");
      return;
    }

  if (mock_path_in (r->path, MOCK_PUSH_PATH))
    {
      mock_bridge_handle_upgrade (r);
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      if (!g_str_equal (routes[i].path, r->path))
        continue;
      path_known = TRUE;
      if (g_str_equal (routes[i].method, r->method))
        {
          routes[i].handler (r);
          return;
        }
    }

  if (path_known)
    mock_reply_json_literal (r, SOUP_STATUS_METHOD_NOT_ALLOWED,
                             "{\"success\":false,\"error\":\"Method Not Allowed\"}");
  else
    mock_reply_json_literal (r, SOUP_STATUS_NOT_FOUND,
                             "{\"success\":false,\"error\":\"Not Found\"}");
}
