/* icloud-request.c: the request layer (protocol §2)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-crypto-private.h"
#include "icloud-error.h"
#include "icloud-json-private.h"
#include "icloud-request-private.h"

#define OAUTH_CLIENT_ID "d39ba9916b7251055b22c7f910e2ea796ee65e98b2ddecea8f5dde8d9d1a815d"
#define CLIENT_BUILD_NUMBER "2534Project66"
#define CLIENT_MASTERING_NUMBER "2534B22"

/* Response header → session key (protocol §2.3). The session token is not
 * among them: it is what an auth method returns. */
static const struct {
  const char *header;
  const char *key;
} captured_headers[] = {
  { "X-Apple-ID-Account-Country", ICLOUD_DATA_ACCOUNT_COUNTRY },
  { "X-Apple-ID-Session-Id", ICLOUD_DATA_SESSION_ID },
  { "X-Apple-Auth-Attributes", ICLOUD_DATA_AUTH_ATTRIBUTES },
  { "X-Apple-TwoSV-Trust-Token", ICLOUD_DATA_TRUST_TOKEN },
  { "X-Apple-TwoSV-Trust-Eligible", "trust_eligible" },
  { "X-Apple-OAuth-Grant-Code", "grant_code" },
  { "X-Apple-I-Rscd", "apple_rscd" },
  { "X-Apple-I-Ercd", "apple_ercd" },
  { "scnt", ICLOUD_DATA_SCNT },
};

/* Headers whose values are secrets: never printed. */
static const char * const secret_headers[] = {
  "Cookie", "Set-Cookie", "scnt", "X-Apple-ID-Session-Id",
  "X-Apple-Auth-Attributes", "X-Apple-Session-Token",
  "X-Apple-TwoSV-Trust-Token", "X-Apple-OAuth-Grant-Code",
  "X-Apple-OAuth-State", "X-Apple-Frame-Id", "Authorization",
};

static char *
uri_origin (const char *uri)
{
  g_autoptr(GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);

  if (parsed == NULL)
    return g_strdup (uri);
  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (parsed), NULL,
                     g_uri_get_host (parsed), g_uri_get_port (parsed), "",
                     NULL, NULL);
}

static void
append_setup_params (GString     *uri,
                     const ICloudRequestContext *ctx)
{
  const char *dsid = icloud_store_get (ctx->store, ICLOUD_DATA_DSID);
  g_autofree char *client_id = g_uri_escape_string (ctx->client_id, NULL, FALSE);

  g_string_append_c (uri, strchr (uri->str, '?') ? '&' : '?');
  g_string_append_printf (uri, "clientBuildNumber=%s&clientMasteringNumber=%s&clientId=%s",
                          CLIENT_BUILD_NUMBER, CLIENT_MASTERING_NUMBER, client_id);
  if (dsid != NULL)
    {
      g_autofree char *escaped = g_uri_escape_string (dsid, NULL, FALSE);
      g_string_append_printf (uri, "&dsid=%s", escaped);
    }
}

static void
add_auth_headers (SoupMessageHeaders         *headers,
                  const ICloudRequestContext *ctx)
{
  static const char * const stored[][2] = {
    { "scnt", ICLOUD_DATA_SCNT },
    { "X-Apple-ID-Session-Id", ICLOUD_DATA_SESSION_ID },
    { "X-Apple-Auth-Attributes", ICLOUD_DATA_AUTH_ATTRIBUTES },
  };
  g_autofree char *auth_origin = uri_origin (ctx->auth_uri);
  g_autofree char *fd_client_info = NULL;

  soup_message_headers_replace (headers, "Accept", "application/json, text/javascript");
  soup_message_headers_replace (headers, "X-Apple-OAuth-Client-Id", OAUTH_CLIENT_ID);
  soup_message_headers_replace (headers, "X-Apple-OAuth-Client-Type", "firstPartyAuth");
  soup_message_headers_replace (headers, "X-Apple-OAuth-Redirect-URI", ctx->home_uri);
  soup_message_headers_replace (headers, "X-Apple-OAuth-Require-Grant-Code", "true");
  soup_message_headers_replace (headers, "X-Apple-OAuth-Response-Mode", "web_message");
  soup_message_headers_replace (headers, "X-Apple-OAuth-Response-Type", "code");
  soup_message_headers_replace (headers, "X-Apple-OAuth-State", ctx->client_id);
  soup_message_headers_replace (headers, "X-Apple-Widget-Key", OAUTH_CLIENT_ID);
  soup_message_headers_replace (headers, "X-Apple-Frame-Id", ctx->client_id);
  fd_client_info = g_strdup_printf ("{\"U\":\"%s\",\"L\":\"en-US\",\"Z\":\"GMT+00:00\",\"V\":\"1.1\",\"F\":\"\"}",
                                    ICLOUD_USER_AGENT);
  soup_message_headers_replace (headers, "X-Apple-FD-Client-Info", fd_client_info);
  soup_message_headers_replace (headers, "Referer", auth_origin);

  for (guint i = 0; i < G_N_ELEMENTS (stored); i++)
    {
      const char *value = icloud_store_get (ctx->store, stored[i][1]);
      if (value != NULL)
        soup_message_headers_replace (headers, stored[i][0], value);
    }
}

static void
wipe_and_free (gpointer data)
{
  char *text = data;

  icloud_crypto_wipe (text, strlen (text));
  g_free (text);
}

static void
restore_body (SoupMessage *msg,
              gpointer     content_type)
{
  GBytes *bytes = g_object_get_data (G_OBJECT (msg), "icloud-request-body");

  if (bytes != NULL)
    soup_message_set_request_body_from_bytes (msg, content_type, bytes);
}

SoupMessage *
icloud_request_build (const ICloudRequestContext  *ctx,
                      const char                  *http_method,
                      const char                  *uri,
                      JsonNode                    *body,
                      ICloudRequestFlags           flags,
                      GError                     **error)
{
  g_autoptr(GString) full_uri = g_string_new (uri);
  g_autoptr(GUri) parsed = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autofree char *referer = NULL;
  SoupMessageHeaders *headers;
  GSList *cookies;

  if (flags & ICLOUD_REQUEST_SETUP_PARAMS)
    append_setup_params (full_uri, ctx);

  parsed = g_uri_parse (full_uri->str, SOUP_HTTP_URI_FLAGS, error);
  if (parsed == NULL)
    return NULL;

  msg = soup_message_new_from_uri (http_method, parsed);
  /* Never follow a redirect: it would carry the cookies, the session
   * headers and (through restore_body ()) the body to wherever Location
   * points, even over plain http to another host. Apple's sign-in API
   * does not redirect; a 3xx is an answer, read by meaning. */
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  /* libsoup sends a POST on a connection of its own unless it may repeat
   * it; the requests safe to repeat may reuse a pooled connection. */
  if (flags & ICLOUD_REQUEST_IDEMPOTENT)
    soup_message_add_flags (msg, SOUP_MESSAGE_IDEMPOTENT);
  /* The account's cookies live in its own jar, never in a jar the
   * SoupSession may share between accounts. */
  soup_message_disable_feature (msg, SOUP_TYPE_COOKIE_JAR);
  headers = soup_message_get_request_headers (msg);

  referer = g_strconcat (ctx->home_uri, "/", NULL);
  soup_message_headers_replace (headers, "Origin", ctx->home_uri);
  soup_message_headers_replace (headers, "Referer", referer);
  soup_message_headers_replace (headers, "Accept", "*/*");

  if (flags & ICLOUD_REQUEST_AUTH_HEADERS)
    add_auth_headers (headers, ctx);
  if (flags & ICLOUD_REQUEST_ACCEPT_HTML)
    soup_message_headers_replace (headers, "Accept", "text/html");

  cookies = soup_cookie_jar_get_cookie_list (icloud_store_get_cookie_jar (ctx->store),
                                             parsed, TRUE);
  if (cookies != NULL)
    {
      g_autofree char *header = soup_cookies_to_cookie_header (cookies);
      soup_message_headers_replace (headers, "Cookie", header);
      soup_cookies_free (cookies);
    }

  if (body != NULL)
    {
      char *text = json_to_string (body, FALSE);
      gsize len = strlen (text);
      GBytes *bytes = g_bytes_new_with_free_func (text, len, wipe_and_free, text);
      const char *content_type = (flags & ICLOUD_REQUEST_TEXT_PLAIN)
        ? "text/plain;charset=UTF-8" : "application/json";

      soup_message_set_request_body_from_bytes (msg, content_type, bytes);
      /* libsoup sends a message again by itself after a 421 (on a new
       * connection) but, in 3.2, without its body: give it the body back. */
      g_object_set_data_full (G_OBJECT (msg), "icloud-request-body", bytes,
                              (GDestroyNotify) g_bytes_unref);
      g_signal_connect (msg, "restarted", G_CALLBACK (restore_body), (gpointer) content_type);
    }

  return g_steal_pointer (&msg);
}

/* A header value fit to keep and send back: UTF-8, no control character. */
static gboolean
icloud_request_header_value_is_clean (const char *value)
{
  if (!g_utf8_validate (value, -1, NULL))
    return FALSE;
  for (const char *p = value; *p != '\0'; p++)
    if (g_ascii_iscntrl (*p))
      return FALSE;
  return TRUE;
}

void
icloud_request_capture (const ICloudRequestContext *ctx,
                        SoupMessage                *msg)
{
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  SoupCookieJar *jar = icloud_store_get_cookie_jar (ctx->store);
  GUri *uri = soup_message_get_uri (msg);
  GSList *cookies;

  for (guint i = 0; i < G_N_ELEMENTS (captured_headers); i++)
    {
      const char *value = soup_message_headers_get_one (headers, captured_headers[i].header);
      /* Stored, and sent back as a header: UTF-8 with no control
       * character, or not at all. */
      if (value != NULL && *value != '\0' && icloud_request_header_value_is_clean (value))
        icloud_store_set (ctx->store, captured_headers[i].key, value);
    }

  cookies = soup_cookies_from_response (msg);
  for (GSList *l = cookies; l != NULL; l = l->next)
    soup_cookie_jar_add_cookie_full (jar, l->data, uri, NULL);
  g_slist_free (cookies);
}

/* Every string of a JSON body is replaced: the shape stays readable, and no
 * token, SRP value, code or password can get through, whatever its key. */
static void
redact_json (JsonNode *node)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObjectIter iter;
        JsonNode *member;

        json_object_iter_init (&iter, json_node_get_object (node));
        while (json_object_iter_next (&iter, NULL, &member))
          redact_json (member);
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);

        for (guint i = 0; i < json_array_get_length (array); i++)
          redact_json (json_array_get_element (array, i));
      }
      break;
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_STRING)
        json_node_set_string (node, "[redacted]");
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

/* ICLOUD_DEBUG output: on stderr, whatever G_MESSAGES_DEBUG says, so that
 * it never mixes with a program's own output (icloud-auth --json). */
static void
debug_print (char        direction,
             const char *text)
{
  g_printerr ("icloud-http: %c %s\n", direction, text);
}

static void
print_redacted_body (char        direction,
                     const char *data)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root = NULL;
  gsize len = strlen (data);

  if (len == 0)
    return;

  /* A parser of its own: redact_json () changes the nodes, which those of
   * icloud_json_parse () do not allow. Bounded the same way. */
  if (icloud_json_check_depth (data, len, ICLOUD_JSON_MAX_DEPTH) == ICLOUD_JSON_DEPTH_OK)
    {
      parser = json_parser_new ();
      if (json_parser_load_from_data (parser, data, len, NULL))
        root = json_parser_get_root (parser);
    }
  if (root != NULL)
    {
      g_autofree char *text = NULL;

      redact_json (root);
      text = json_to_string (root, FALSE);
      debug_print (direction, text);
    }
  else
    {
      g_autofree char *text =
        g_strdup_printf ("[a body of %" G_GSIZE_FORMAT " bytes that is not JSON, not shown]", len);
      debug_print (direction, text);
    }
}

/* "POST /path?a=1&b=2 HTTP/1.1" → "POST /path?a=[redacted]&b=[redacted] HTTP/1.1":
 * a query value (clientId, dsid) is as much a secret as a header. */
static char *
redact_query (const char *line)
{
  const char *query = strchr (line, '?');
  const char *end;
  GString *out;

  if (query == NULL)
    return g_strdup (line);
  end = strchr (query, ' ');
  if (end == NULL)
    end = query + strlen (query);

  out = g_string_new_len (line, query - line + 1);
  for (const char *p = query + 1; p < end; )
    {
      const char *amp = memchr (p, '&', end - p);
      const char *stop = amp != NULL ? amp : end;
      const char *eq = memchr (p, '=', stop - p);

      if (eq != NULL)
        {
          g_string_append_len (out, p, eq - p + 1);
          g_string_append (out, "[redacted]");
        }
      else
        g_string_append_len (out, p, stop - p);
      if (amp != NULL)
        g_string_append_c (out, '&');
      p = stop + (amp != NULL ? 1 : 0);
    }
  g_string_append (out, end);
  return g_string_free (out, FALSE);
}

static void
redacting_printer (SoupLogger         *logger,
                   SoupLoggerLogLevel  level,
                   char                direction,
                   const char         *data,
                   gpointer            user_data)
{
  const char *colon;

  if (level == SOUP_LOGGER_LOG_BODY)
    {
      print_redacted_body (direction, data);
      return;
    }

  colon = strchr (data, ':');
  if (colon != NULL && colon != data)
    {
      g_autofree char *name = g_strndup (data, colon - data);
      for (guint i = 0; i < G_N_ELEMENTS (secret_headers); i++)
        if (g_ascii_strcasecmp (name, secret_headers[i]) == 0)
          {
            g_autofree char *text = g_strdup_printf ("%s: [redacted]", name);
            debug_print (direction, text);
            return;
          }
    }

  {
    g_autofree char *text = redact_query (data);
    debug_print (direction, text);
  }
}

static SoupLoggerLogLevel
logger_filter (SoupLogger  *logger,
               SoupMessage *msg,
               gpointer     user_data)
{
  return GPOINTER_TO_INT (user_data);
}

SoupLogger *
icloud_request_new_redacting_logger (gboolean bodies)
{
  SoupLoggerLogLevel level = bodies ? SOUP_LOGGER_LOG_BODY : SOUP_LOGGER_LOG_HEADERS;
  SoupLogger *logger = soup_logger_new (level);

  soup_logger_set_printer (logger, redacting_printer, NULL, NULL);
  soup_logger_set_request_filter (logger, logger_filter, GINT_TO_POINTER (level), NULL);
  soup_logger_set_response_filter (logger, logger_filter, GINT_TO_POINTER (level), NULL);
  return logger;
}
