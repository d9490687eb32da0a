/* test-idmsa-client.h: a tiny IDMSA client for the tests that drive the
 * fake server by hand (test-mock-server.c, test-mock-bridge.c): one cookie
 * jar, the headers Apple hands out (apple-web-auth.md §2.3), and the SRP
 * sign-in with the crypto seam's client.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "icloud-srp-private.h"

typedef struct {
  SoupSession *session;
  char        *scnt;
  char        *session_id;
  char        *session_token;
  char        *trust_token;
  const char  *app_id;       /* X-Apple-App-Id to send, or NULL */
} Client;

typedef struct {
  guint               status;
  SoupMessageHeaders *headers;
  GBytes             *body;
} Reply;

static inline void
reply_clear (Reply *reply)
{
  g_clear_pointer (&reply->headers, soup_message_headers_unref);
  g_clear_pointer (&reply->body, g_bytes_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reply, reply_clear)

static inline void
client_init (Client *c)
{
  c->session = soup_session_new ();
  soup_session_add_feature_by_type (c->session, SOUP_TYPE_COOKIE_JAR);
}

static inline void
client_clear (Client *c)
{
  g_clear_object (&c->session);
  g_clear_pointer (&c->scnt, g_free);
  g_clear_pointer (&c->session_id, g_free);
  g_clear_pointer (&c->session_token, g_free);
  g_clear_pointer (&c->trust_token, g_free);
}

static inline void
capture (char              **field,
         SoupMessageHeaders *headers,
         const char         *name)
{
  const char *value = soup_message_headers_get_one (headers, name);

  if (value != NULL && *value != '\0')
    {
      g_free (*field);
      *field = g_strdup (value);
    }
}

/* Sends one request to @base + @path; captures the §2.3 headers into the
 * client. Returns the status. */
static inline guint
client_request (Client     *c,
                const char *base,
                const char *method,
                const char *path,
                const char *body,
                const char *accept,
                Reply      *reply)
{
  g_autofree char *uri = g_strconcat (base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr(GError) error = NULL;
  SoupMessageHeaders *req;

  g_assert_nonnull (msg);
  req = soup_message_get_request_headers (msg);
  if (c->scnt)
    soup_message_headers_replace (req, "scnt", c->scnt);
  if (c->session_id)
    soup_message_headers_replace (req, "X-Apple-ID-Session-Id", c->session_id);
  if (c->app_id)
    soup_message_headers_replace (req, "X-Apple-App-Id", c->app_id);
  soup_message_headers_replace (req, "Accept", accept ? accept : "application/json, text/javascript");
  if (body != NULL)
    {
      g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));
      soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
    }

  reply->body = soup_session_send_and_read (c->session, msg, NULL, &error);
  g_assert_no_error (error);
  reply->status = soup_message_get_status (msg);
  reply->headers = soup_message_headers_ref (soup_message_get_response_headers (msg));

  capture (&c->scnt, reply->headers, "scnt");
  capture (&c->session_id, reply->headers, "X-Apple-ID-Session-Id");
  capture (&c->session_token, reply->headers, "X-Apple-Session-Token");
  capture (&c->trust_token, reply->headers, "X-Apple-TwoSV-Trust-Token");
  return reply->status;
}

static inline JsonNode *
parse_json_text (const char *text,
                 gssize      len)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, len, &error);
  g_assert_no_error (error);
  return json_node_ref (json_parser_get_root (parser));
}

static inline JsonNode *
parse_json (GBytes *bytes)
{
  return parse_json_text (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
}

static inline JsonObject *
reply_object (Reply     *reply,
              JsonNode **keep)
{
  *keep = parse_json (reply->body);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (*keep));
  return json_node_get_object (*keep);
}

static inline char *
b64 (const guint8 *data, gsize len)
{
  return g_base64_encode (data, len);
}

/* Runs signin/init + signin/complete with real SRP. Returns the complete
 * status; @out (optional) gets the complete reply. */
static inline guint
client_srp_signin (Client     *c,
                   const char *base,
                   const char *apple_id,
                   const char *password,
                   Reply      *out)
{
  g_autoptr(ICloudSrpClient) srp = icloud_srp_client_new ();
  g_autoptr(GBytes) A = icloud_srp_client_get_A (srp);
  g_autofree char *a64 = b64 (g_bytes_get_data (A, NULL), g_bytes_get_size (A));
  g_autofree char *init_body = NULL;
  g_autofree char *complete_body = NULL;
  g_autofree char *m1 = NULL;
  g_autofree char *m2 = NULL;
  g_autofree guchar *salt = NULL;
  g_autofree guchar *B = NULL;
  g_autoptr(JsonNode) init_node = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Reply) init = { 0 };
  g_auto(Reply) complete = { 0 };
  JsonObject *obj;
  ICloudSrpProtocol protocol;
  gsize salt_len, B_len;
  guint8 p[32];
  guint status;

  init_body = g_strdup_printf ("{\"a\":\"%s\",\"accountName\":\"%s\",\"protocols\":[\"s2k\",\"s2k_fo\"]}",
                               a64, apple_id);
  client_request (c, base, "POST", "/appleauth/auth/signin/init", init_body, NULL, &init);
  g_assert_cmpuint (init.status, ==, 200);
  obj = reply_object (&init, &init_node);

  g_assert_true (icloud_srp_protocol_from_string (json_object_get_string_member (obj, "protocol"), &protocol));
  salt = g_base64_decode (json_object_get_string_member (obj, "salt"), &salt_len);
  B = g_base64_decode (json_object_get_string_member (obj, "b"), &B_len);
  icloud_srp_derive_password (protocol, password, salt, salt_len,
                              json_object_get_int_member (obj, "iteration"), p);
  g_assert_true (icloud_srp_client_process (srp, apple_id, p, salt, salt_len, B, B_len, &error));
  g_assert_no_error (error);

  m1 = b64 (icloud_srp_client_get_M1 (srp), 32);
  m2 = b64 (icloud_srp_client_get_M2 (srp), 32);
  complete_body = g_strdup_printf ("{\"accountName\":\"%s\",\"c\":\"%s\",\"m1\":\"%s\",\"m2\":\"%s\","
                                   "\"rememberMe\":true,\"trustTokens\":[%s%s%s]}",
                                   apple_id, json_object_get_string_member (obj, "c"), m1, m2,
                                   c->trust_token ? "\"" : "",
                                   c->trust_token ? c->trust_token : "",
                                   c->trust_token ? "\"" : "");
  client_request (c, base, "POST", "/appleauth/auth/signin/complete?isRememberMeEnabled=true", complete_body, NULL, &complete);
  status = complete.status;
  if (out)
    {
      *out = complete;
      memset (&complete, 0, sizeof complete);
    }
  return status;
}
