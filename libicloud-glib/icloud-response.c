/* icloud-response.c: one answer from Apple, as plugins see it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-error.h"
#include "icloud-error-private.h"
#include "icloud-json-private.h"
#include "icloud-response-private.h"
#include "icloud-text-private.h"

/**
 * ICloudResponse:
 *
 * An HTTP answer from one of the session's roots: the status, the headers
 * and the body, parsed as JSON where it parses (Apple serves JSON as
 * `text/html` in places, so the content type is not trusted).
 *
 * Plugins get responses from [method@ICloud.Session.send_request_finish].
 * The response headers Apple uses for session state (`scnt`,
 * `X-Apple-Session-Token`, ...) have already been captured into the session
 * by then.
 */
struct _ICloudResponse
{
  GObject parent_instance;

  guint               status;
  SoupMessageHeaders *headers;
  GBytes             *body;
  JsonNode           *json;
  gboolean            json_parsed;
};

G_DEFINE_FINAL_TYPE (ICloudResponse, icloud_response, G_TYPE_OBJECT)

static void
icloud_response_finalize (GObject *object)
{
  ICloudResponse *self = ICLOUD_RESPONSE (object);

  g_clear_pointer (&self->headers, soup_message_headers_unref);
  g_clear_pointer (&self->body, g_bytes_unref);
  g_clear_pointer (&self->json, json_node_unref);

  G_OBJECT_CLASS (icloud_response_parent_class)->finalize (object);
}

static void
icloud_response_class_init (ICloudResponseClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = icloud_response_finalize;
}

static void
icloud_response_init (ICloudResponse *self)
{
}

ICloudResponse *
icloud_response_new (guint               status,
                     SoupMessageHeaders *headers,
                     GBytes             *body)
{
  ICloudResponse *self = g_object_new (ICLOUD_TYPE_RESPONSE, NULL);

  self->status = status;
  self->headers = headers ? soup_message_headers_ref (headers) : NULL;
  self->body = body ? g_bytes_ref (body) : g_bytes_new_static ("", 0);

  return self;
}

/**
 * icloud_response_get_status:
 * @self: a response
 *
 * Gets the HTTP status code of the response.
 *
 * Returns: the HTTP status code
 */
guint
icloud_response_get_status (ICloudResponse *self)
{
  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), 0);
  return self->status;
}

/**
 * icloud_response_get_header:
 * @self: a response
 * @name: a header name (case-insensitive)
 *
 * Looks up a header of the response.
 *
 * Returns: (nullable): the header's value, or %NULL
 */
const char *
icloud_response_get_header (ICloudResponse *self,
                            const char     *name)
{
  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  if (self->headers == NULL)
    return NULL;
  return soup_message_headers_get_one (self->headers, name);
}

/**
 * icloud_response_get_body:
 * @self: a response
 *
 * Gets the body of the response as received.
 *
 * Returns: (transfer none): the raw body
 */
GBytes *
icloud_response_get_body (ICloudResponse *self)
{
  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), NULL);
  return self->body;
}

/**
 * icloud_response_get_json:
 * @self: a response
 *
 * Parses the body as JSON, whatever its content type.
 *
 * Returns: (transfer none) (nullable): the body as JSON, or %NULL when it is
 *   empty or not JSON
 */
JsonNode *
icloud_response_get_json (ICloudResponse *self)
{
  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), NULL);

  if (!self->json_parsed)
    {
      gsize len = 0;
      const char *data = g_bytes_get_data (self->body, &len);

      self->json_parsed = TRUE;
      /* Nested deeper than ICLOUD_JSON_MAX_DEPTH: no JSON (the session
       * refuses such an answer before anyone reads it). */
      if (len > 0 && len <= ICLOUD_RESPONSE_MAX_BODY)
        self->json = icloud_json_parse (data, len, NULL);
    }

  return self->json;
}

/**
 * icloud_response_is_success:
 * @self: a response
 *
 * Tells whether the HTTP status is a success (2xx).
 *
 * Returns: %TRUE for a 2xx status
 */
gboolean
icloud_response_is_success (ICloudResponse *self)
{
  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), FALSE);
  return SOUP_STATUS_IS_SUCCESSFUL (self->status);
}

/* Error codes go into messages, which a person reads on a terminal: UTF-8,
 * no control characters, a sane length. */
static char *
valid_utf8_dup (const char *text)
{
  return g_utf8_validate (text, -1, NULL) ? icloud_text_escape (text, -1, ICLOUD_TEXT_MAX_QUOTED) : NULL;
}

/* Apple's service error code (serviceErrors[0].code, service_errors[0].code,
 * errorCode, serverErrorCode), as a string, or NULL. */
static char *
find_service_error_code (JsonNode *json)
{
  static const char * const lists[] = { "serviceErrors", "service_errors" };
  JsonObject *object;

  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    return NULL;
  object = json_node_get_object (json);

  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      JsonNode *node = json_object_get_member (object, lists[i]);
      if (node != NULL && JSON_NODE_HOLDS_ARRAY (node) &&
          json_array_get_length (json_node_get_array (node)) > 0)
        {
          JsonNode *first = json_array_get_element (json_node_get_array (node), 0);
          if (JSON_NODE_HOLDS_OBJECT (first))
            {
              JsonNode *code = json_object_get_member (json_node_get_object (first), "code");
              if (code != NULL && JSON_NODE_HOLDS_VALUE (code))
                {
                  if (json_node_get_value_type (code) == G_TYPE_STRING)
                    return valid_utf8_dup (json_node_get_string (code));
                  if (json_node_get_value_type (code) == G_TYPE_INT64)
                    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (code));
                }
            }
        }
    }

  for (const char * const *m = (const char *[]) { "errorCode", "serverErrorCode", NULL }; *m; m++)
    {
      JsonNode *code = json_object_get_member (object, *m);
      if (code != NULL && JSON_NODE_HOLDS_VALUE (code))
        {
          if (json_node_get_value_type (code) == G_TYPE_STRING)
            return valid_utf8_dup (json_node_get_string (code));
          if (json_node_get_value_type (code) == G_TYPE_INT64)
            return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (code));
        }
    }

  return NULL;
}

/* Retry-After in seconds (delta-seconds or an HTTP date); 0 when absent. */
guint
icloud_response_get_retry_after (ICloudResponse *self)
{
  const char *value = icloud_response_get_header (self, "Retry-After");
  guint64 seconds = 0;

  if (value == NULL)
    return 0;
  if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT, &seconds, NULL))
    return (guint) seconds;

  {
    g_autoptr(GDateTime) when = soup_date_time_new_from_http_string (value);
    g_autoptr(GDateTime) now = g_date_time_new_now_utc ();

    if (when != NULL && g_date_time_compare (when, now) > 0)
      return (guint) (g_date_time_difference (when, now) / G_TIME_SPAN_SECOND);
  }
  return 0;
}

/**
 * icloud_response_check:
 * @self: a response
 * @error: return location for a #GError
 *
 * Maps the response to an error by meaning (protocol §4): 503 and 429 (and
 * `ACCESS_DENIED`) are %ICLOUD_ERROR_THROTTLED, 421 and 450 are
 * %ICLOUD_ERROR_AUTH_REQUIRED, 412 is %ICLOUD_ERROR_REPAIR_REQUIRED, a locked
 * account is %ICLOUD_ERROR_ACCOUNT_LOCKED, `domainToUse` is
 * %ICLOUD_ERROR_WRONG_REGION, `ZONE_NOT_FOUND` and `AUTHENTICATION_FAILED`
 * are %ICLOUD_ERROR_SERVICE_NOT_ACTIVATED, and any other failure is
 * %ICLOUD_ERROR_PROTOCOL. A 2xx answer whose JSON says `"success": false`
 * is an error too. Auth methods handle the statuses they give a meaning to
 * (a 401 at `signin/complete`, a 409 asking for a second factor) before
 * calling this.
 *
 * Returns: %TRUE if the response is a success
 */
gboolean
icloud_response_check (ICloudResponse  *self,
                       GError         **error)
{
  g_autofree char *code = NULL;
  JsonNode *json;

  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), FALSE);

  json = icloud_response_get_json (self);
  code = find_service_error_code (json);

  if (json != NULL && JSON_NODE_HOLDS_OBJECT (json))
    {
      const char *domain = icloud_json_object_get_string (json_node_get_object (json), "domainToUse");
      if (domain != NULL)
        {
          /* Name the region to use (protocol §9: "iCloud.com.cn"). */
          const char *region = NULL;
          g_autofree char *shown = icloud_text_escape (domain, -1, ICLOUD_TEXT_MAX_QUOTED);

          if (g_ascii_strcasecmp (domain, "iCloud.com.cn") == 0)
            region = "china-mainland";
          else if (g_ascii_strcasecmp (domain, "iCloud.com") == 0)
            region = "global";

          if (region != NULL)
            g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION,
                         "This account must sign in through %s: use the region “%s”",
                         shown, region);
          else
            g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION,
                         "This account must sign in through %s: choose the region that serves it",
                         shown);
          return FALSE;
        }
    }

  if (g_strcmp0 (code, "ACCESS_DENIED") == 0 ||
      self->status == SOUP_STATUS_SERVICE_UNAVAILABLE ||
      self->status == 429)
    {
      guint seconds = icloud_response_get_retry_after (self);
      GError *throttled;

      if (seconds > 0)
        throttled = g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED,
                                 "Apple is refusing requests for now (HTTP %u); retry after %u s",
                                 self->status, seconds);
      else
        throttled = g_error_new (ICLOUD_ERROR, ICLOUD_ERROR_THROTTLED,
                                 "Apple is refusing requests for now (HTTP %u); wait a few minutes",
                                 self->status);
      _icloud_error_set_retry_after (throttled, seconds);
      g_propagate_error (error, throttled);
      return FALSE;
    }

  if (g_strcmp0 (code, "ZONE_NOT_FOUND") == 0 ||
      g_strcmp0 (code, "AUTHENTICATION_FAILED") == 0)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_SERVICE_NOT_ACTIVATED,
                   "iCloud is not set up for this account on the web: sign in at icloud.com once to finish setting it up");
      return FALSE;
    }

  if (g_strcmp0 (code, "-20209") == 0)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_ACCOUNT_LOCKED,
                   "This Apple Account is locked; unlock it at iforgot.apple.com");
      return FALSE;
    }

  if (self->status == 421 || self->status == 450)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED,
                   "The saved session is no longer accepted (HTTP %u); sign in again",
                   self->status);
      return FALSE;
    }

  if (self->status == SOUP_STATUS_PRECONDITION_FAILED)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_REPAIR_REQUIRED,
                   "The account needs attention (new terms or an account repair): sign in at icloud.com to finish it");
      return FALSE;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (self->status))
    {
      if (code != NULL)
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                     "Unexpected answer from Apple (HTTP %u, error %s)", self->status, code);
      else
        g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                     "Unexpected answer from Apple (HTTP %u)", self->status);
      return FALSE;
    }

  if (json != NULL && JSON_NODE_HOLDS_OBJECT (json))
    {
      JsonNode *success = json_object_get_member (json_node_get_object (json), "success");
      if (success != NULL && JSON_NODE_HOLDS_VALUE (success) &&
          json_node_get_value_type (success) == G_TYPE_BOOLEAN &&
          !json_node_get_boolean (success))
        {
          g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                       "Apple refused the request%s%s", code ? ": error " : "", code ? code : "");
          return FALSE;
        }
    }

  return TRUE;
}
