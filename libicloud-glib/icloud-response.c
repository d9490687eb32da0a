/* icloud-response.c: one answer from Apple, as plugins see it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "icloud-error.h"
#include "icloud-error-private.h"
#include "icloud-json-private.h"
#include "icloud-plugin-loader-private.h"
#include "icloud-response-private.h"
#include "icloud-text-private.h"

/**
 * ICloudResponse:
 *
 * An HTTP answer from one of the session's roots: the status, the headers
 * and the body, parsed as JSON where it parses (Apple serves JSON as
 * `text/html` in places, so the content type is not trusted).
 *
 * Plugins get responses from [method@ICloud.AuthContext.send_request_finish].
 * The response headers Apple uses for session state (`scnt`, the session
 * id, ...) have already been captured into the session by then; the
 * session token has not: a method gives it from its `_finish`.
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

/* ------------------------------------------------------------------------ */
/* Apple's error vocabulary (protocol §4.1, §9): the one reader */

/* Where Apple puts a service error, in the order they are read. */
static const char * const service_error_lists[] = { "serviceErrors", "service_errors" };
static const char * const service_error_codes[] = { "errorCode", "serverErrorCode" };
static const char * const service_error_messages[] = { "errorMessage", "errorReason", "reason", "error" };

/* A code as Apple sent it, as a string: a number in decimal, or a string
 * that is UTF-8 and not empty. NULL for anything else. Not escaped. */
static char *
code_from_node (JsonNode *node)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return NULL;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    {
      const char *text = json_node_get_string (node);

      if (*text != '\0' && g_utf8_validate (text, -1, NULL))
        return g_strdup (text);
    }
  return NULL;
}

/* A message: a string that is UTF-8 and not empty, or NULL. Not escaped. */
static const char *
message_from_object (JsonObject         *object,
                     const char * const *members,
                     gsize               n_members)
{
  for (gsize i = 0; i < n_members; i++)
    {
      const char *text = icloud_json_object_get_string (object, members[i]);

      if (text != NULL && *text != '\0')
        return text;
    }
  return NULL;
}

/* Calls @func on every object element of serviceErrors[], then of
 * service_errors[]; stops when @func returns TRUE. */
static gboolean
foreach_listed_error (JsonObject *object,
                      gboolean  (*func) (JsonObject *element, gpointer user_data),
                      gpointer    user_data)
{
  for (guint i = 0; i < G_N_ELEMENTS (service_error_lists); i++)
    {
      JsonNode *node = json_object_get_member (object, service_error_lists[i]);
      JsonArray *array;

      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        continue;
      array = json_node_get_array (node);
      for (guint j = 0; j < json_array_get_length (array); j++)
        {
          JsonNode *element = json_array_get_element (array, j);

          if (JSON_NODE_HOLDS_OBJECT (element) &&
              func (json_node_get_object (element), user_data))
            return TRUE;
        }
    }
  return FALSE;
}

typedef gboolean (*CodeFunc) (const char *code,
                              gpointer    user_data);

typedef struct {
  CodeFunc func;
  gpointer user_data;
} CodeVisit;

static gboolean
visit_listed_code (JsonObject *element,
                   gpointer    user_data)
{
  CodeVisit *visit = user_data;
  g_autofree char *code = code_from_node (json_object_get_member (element, "code"));

  return code != NULL && visit->func (code, visit->user_data);
}

/* Calls @func on every code of @object, in reading order: the elements of
 * serviceErrors[] and service_errors[], then errorCode and
 * serverErrorCode; stops when @func returns TRUE. */
static gboolean
foreach_code (JsonObject *object,
              CodeFunc    func,
              gpointer    user_data)
{
  CodeVisit visit = { func, user_data };

  if (foreach_listed_error (object, visit_listed_code, &visit))
    return TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (service_error_codes); i++)
    {
      g_autofree char *code = code_from_node (json_object_get_member (object, service_error_codes[i]));

      if (code != NULL && func (code, user_data))
        return TRUE;
    }
  return FALSE;
}

static gboolean
take_first_code (const char *code,
                 gpointer    user_data)
{
  char **first = user_data;

  *first = g_strdup (code);
  return TRUE;
}

static gboolean
take_listed_message (JsonObject *element,
                     gpointer    user_data)
{
  static const char * const element_messages[] = { "message", "title" };
  const char **first = user_data;

  *first = message_from_object (element, element_messages, G_N_ELEMENTS (element_messages));
  return *first != NULL;
}

/* The first message: of the first service error that has one (its
 * `message`, else its `title`), else the top-level errorMessage,
 * errorReason, reason or error. Not escaped. */
static const char *
find_message (JsonObject *object)
{
  const char *message = NULL;

  if (foreach_listed_error (object, take_listed_message, &message))
    return message;
  return message_from_object (object, service_error_messages, G_N_ELEMENTS (service_error_messages));
}

/* Whether @object has the boolean @member with the value @value. */
static gboolean
has_boolean (JsonObject *object,
             const char *member,
             gboolean    value)
{
  JsonNode *node = json_object_get_member (object, member);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
         json_node_get_value_type (node) == G_TYPE_BOOLEAN &&
         !json_node_get_boolean (node) == !value;
}

/* What the body says about a failure. code and message are escaped for
 * a message (ICLOUD_TEXT_MAX_QUOTED characters at most); refused is
 * `"success": false` or `"hasError": true`. */
typedef struct {
  char     *code;
  char     *message;
  gboolean  refused;
} ServiceError;

static void
service_error_clear (ServiceError *found)
{
  g_clear_pointer (&found->code, g_free);
  g_clear_pointer (&found->message, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ServiceError, service_error_clear)

/* Returns TRUE when the body reports a service error in any shape. */
static gboolean
read_service_error (ICloudResponse *self,
                    ServiceError   *found)
{
  JsonNode *json = icloud_response_get_json (self);
  JsonObject *object;
  g_autofree char *code = NULL;
  const char *message;

  memset (found, 0, sizeof *found);
  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    return FALSE;
  object = json_node_get_object (json);

  foreach_code (object, take_first_code, &code);
  if (code != NULL)
    found->code = icloud_text_escape (code, -1, ICLOUD_TEXT_MAX_QUOTED);
  message = find_message (object);
  if (message != NULL)
    found->message = icloud_text_escape (message, -1, ICLOUD_TEXT_MAX_QUOTED);
  found->refused = has_boolean (object, "success", FALSE) ||
                   has_boolean (object, "hasError", TRUE);

  return found->code != NULL || found->message != NULL || found->refused;
}

/**
 * icloud_response_get_service_error:
 * @self: a response
 * @code: (out) (optional) (nullable) (transfer full): return location for
 *   Apple's error code, or %NULL
 * @message: (out) (optional) (nullable) (transfer full): return location
 *   for Apple's error message, or %NULL
 *
 * Reads Apple's error vocabulary in the body, in all the shapes Apple
 * uses (protocol §4.1, §9):
 *
 * - the code: the `code` of the first element of `serviceErrors` or
 *   `service_errors` that has one, else `errorCode`, else
 *   `serverErrorCode`; a number is given in decimal (`-21669`), a string
 *   as sent (`"-20101"`, `"ACCESS_DENIED"`);
 * - the message: the `message` (else the `title`) of the first service
 *   error that has one, else `errorMessage`, `errorReason`, `reason` or
 *   `error`;
 * - a refusal without either: `"success": false` or `"hasError": true`.
 *
 * Both strings are fit to go into a message a person reads: valid UTF-8,
 * every control character escaped, at most 80 characters (longer text is
 * cut with "…"). Strings that are empty or not UTF-8 are ignored.
 *
 * Auth methods compare codes with [method@ICloud.Response.has_service_error]
 * rather than with the code returned here, which is escaped.
 *
 * Returns: %TRUE if the body reports a service error in any of these
 *   shapes (@code and @message may still be %NULL, for a bare
 *   `"success": false`)
 */
gboolean
icloud_response_get_service_error (ICloudResponse  *self,
                                   char           **code,
                                   char           **message)
{
  g_auto(ServiceError) found = { 0 };
  gboolean reported;

  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), FALSE);

  reported = read_service_error (self, &found);
  if (code != NULL)
    *code = g_steal_pointer (&found.code);
  if (message != NULL)
    *message = g_steal_pointer (&found.message);
  return reported;
}

/* Equal as strings, or as the same decimal number ("-21669", -21669). */
static gboolean
same_code (const char *code,
           gpointer    user_data)
{
  const char *wanted = user_data;
  gint64 a, b;

  if (g_str_equal (code, wanted))
    return TRUE;
  return g_ascii_string_to_signed (code, 10, G_MININT64, G_MAXINT64, &a, NULL) &&
         g_ascii_string_to_signed (wanted, 10, G_MININT64, G_MAXINT64, &b, NULL) &&
         a == b;
}

/**
 * icloud_response_has_service_error:
 * @self: a response
 * @code: an error code of Apple's, such as `"-21669"`
 *
 * Tells whether Apple's body names the error @code anywhere: in any
 * element of `serviceErrors` or `service_errors`, or as `errorCode` or
 * `serverErrorCode`, sent as a number or as a string (`-21669` and
 * `"-21669"` are the same code). See
 * [method@ICloud.Response.get_service_error] for the shapes.
 *
 * Returns: %TRUE if the body names @code
 */
gboolean
icloud_response_has_service_error (ICloudResponse *self,
                                   const char     *code)
{
  JsonNode *json;

  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), FALSE);
  g_return_val_if_fail (code != NULL, FALSE);

  json = icloud_response_get_json (self);
  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    return FALSE;
  return foreach_code (json_node_get_object (json), same_code, (gpointer) code);
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
 * or `"hasError": true` is an error too.
 *
 * Apple's error code is read by [method@ICloud.Response.get_service_error].
 * For `domainToUse`, the message names the region that says the domain is
 * its own ([method@ICloud.Region.handles_domain]), among the regions
 * loaded; without one, it asks the user to choose the region. Auth methods handle the statuses they give a meaning to
 * (a 401 at `signin/complete`, a 409 asking for a second factor) before
 * calling this.
 *
 * Returns: %TRUE if the response is a success
 */
gboolean
icloud_response_check (ICloudResponse  *self,
                       GError         **error)
{
  g_auto(ServiceError) found = { 0 };
  const char *code;
  JsonNode *json;

  g_return_val_if_fail (ICLOUD_IS_RESPONSE (self), FALSE);

  json = icloud_response_get_json (self);
  read_service_error (self, &found);
  code = found.code;

  if (json != NULL && JSON_NODE_HOLDS_OBJECT (json))
    {
      const char *domain = icloud_json_object_get_string (json_node_get_object (json), "domainToUse");
      if (domain != NULL)
        {
          /* The region that says this domain is its own names itself
           * (protocol §9: "iCloud.com.cn" is china-mainland's). */
          g_autofree char *region = icloud_plugins_dup_region_for_domain (domain);
          g_autofree char *shown = icloud_text_escape (domain, -1, ICLOUD_TEXT_MAX_QUOTED);

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

  if (found.refused)
    {
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_PROTOCOL,
                   "Apple refused the request%s%s", code ? ": error " : "", code ? code : "");
      return FALSE;
    }

  return TRUE;
}
