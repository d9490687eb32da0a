/* fuzz-error-body.c: Apple's answers as the status mapping reads them
 * (protocol §4): icloud_response_new (), icloud_response_check (),
 * icloud_response_get_json () and the Retry-After header.
 *
 * Input: byte 0 picks the HTTP status, byte 1 the Retry-After header, the
 * rest is the body.
 *
 * Checks: no crash; a 2xx without `"success": false` and without a
 * service error that means a refusal is accepted; every failure is an
 * ICLOUD_ERROR with a message; THROTTLED carries the header's delay.
 * The service error reader (icloud_response_get_service_error (),
 * icloud_response_has_service_error ()): code and message are NULL or
 * UTF-8, hold no control or format character, and are bounded; a code
 * shown as sent is found again by has_service_error; a body that is not a
 * JSON object reports nothing; and a failed non-2xx check that names a
 * code names the reader's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>
#include <libsoup/soup.h>

#include "icloud-response-private.h"
#include "icloud-error.h"
#include "icloud-text-private.h"
#include "fuzz-common.h"

/* icloud_text_escape () keeps ICLOUD_TEXT_MAX_QUOTED characters, each
 * shown as at most "\u10ffff" (8 characters), then "…". */
#define MAX_SHOWN_CHARS (ICLOUD_TEXT_MAX_QUOTED * 8 + 1)

/* NULL, or UTF-8 fit for a terminal and bounded. */
static void
check_shown (const char *text)
{
  if (text == NULL)
    return;
  FUZZ_CHECK (g_utf8_validate (text, -1, NULL));
  FUZZ_CHECK (*text != '\0');
  FUZZ_CHECK (g_utf8_strlen (text, -1) <= MAX_SHOWN_CHARS);
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      GUnicodeType type = g_unichar_type (g_utf8_get_char (p));

      FUZZ_CHECK (type != G_UNICODE_CONTROL && type != G_UNICODE_FORMAT &&
                  type != G_UNICODE_LINE_SEPARATOR &&
                  type != G_UNICODE_PARAGRAPH_SEPARATOR &&
                  type != G_UNICODE_SURROGATE);
    }
}

/* The service error reader and its invariants; returns the code. */
static char *
check_service_error (ICloudResponse *response)
{
  g_autofree char *code = NULL;
  g_autofree char *message = NULL;
  g_autofree char *code_only = NULL;
  JsonNode *json = icloud_response_get_json (response);
  gboolean reported;

  reported = icloud_response_get_service_error (response, &code, &message);
  check_shown (code);
  check_shown (message);
  if (code != NULL || message != NULL)
    FUZZ_CHECK (reported);
  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    FUZZ_CHECK (!reported && code == NULL && message == NULL);

  /* The out arguments are optional, and the answer is the same. */
  FUZZ_CHECK (icloud_response_get_service_error (response, NULL, NULL) == reported);
  FUZZ_CHECK (icloud_response_get_service_error (response, &code_only, NULL) == reported);
  FUZZ_CHECK (g_strcmp0 (code_only, code) == 0);

  /* A code shown as sent (nothing escaped, nothing cut) is found again. */
  if (code != NULL && strchr (code, '\\') == NULL && strstr (code, "…") == NULL)
    FUZZ_CHECK (icloud_response_has_service_error (response, code));
  if (json == NULL || !JSON_NODE_HOLDS_OBJECT (json))
    FUZZ_CHECK (!icloud_response_has_service_error (response, "-21669"));

  return g_steal_pointer (&code);
}

/* The statuses the library gives a meaning to, then the others. */
static const guint statuses[] = {
  200, 204, 400, 401, 403, 404, 409, 412, 421, 429, 450, 500, 502, 503, 504, 302,
};

static const char * const retry_afters[] = {
  NULL,
  "120",
  "0",
  "-5",
  "99999999999999999999",
  "Wed, 21 Oct 2015 07:28:00 GMT",
  "Fri, 31 Dec 9999 23:59:59 GMT",
  "soon",
  "",
  " 30",
};

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(ICloudResponse) response = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  const char *retry_after = NULL;
  guint status = 200;
  gboolean ok;
  JsonNode *json;

  fuzz_init_once ();

  if (size > 0)
    {
      status = data[0] < G_N_ELEMENTS (statuses)
               ? statuses[data[0]]
               : 100 + (data[0] * 2u) % 500;   /* 100..599 */
      data++;
      size--;
    }
  if (size > 0)
    {
      retry_after = retry_afters[data[0] % G_N_ELEMENTS (retry_afters)];
      data++;
      size--;
    }

  headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  soup_message_headers_append (headers, "Content-Type", "application/json;charset=UTF-8");
  if (retry_after != NULL)
    soup_message_headers_append (headers, "Retry-After", retry_after);

  /* The body as Apple sent it, or none at all. */
  body = size > 0 ? fuzz_bytes (data, size) : NULL;
  response = icloud_response_new (status, headers, body);

  FUZZ_CHECK (icloud_response_get_status (response) == status);
  FUZZ_CHECK (icloud_response_get_body (response) != NULL);
  FUZZ_CHECK (g_bytes_get_size (icloud_response_get_body (response)) == size);

  json = icloud_response_get_json (response);
  FUZZ_CHECK (json == icloud_response_get_json (response));   /* parsed once */
  if (size == 0)
    FUZZ_CHECK (json == NULL);

  code = check_service_error (response);

  ok = icloud_response_check (response, &error);
  if (ok)
    {
      FUZZ_CHECK (error == NULL);
      FUZZ_CHECK (icloud_response_is_success (response));
    }
  else
    {
      FUZZ_CHECK (error != NULL && error->domain == ICLOUD_ERROR);
      FUZZ_CHECK (error->message != NULL && *error->message != '\0');
      FUZZ_CHECK_UNLESS_OPEN (FUZZ_OPEN_BUG_UTF8_STRINGS,
                              g_utf8_validate (error->message, -1, NULL));
      /* The code a PROTOCOL error names is the reader's. */
      if (error->code == ICLOUD_ERROR_PROTOCOL && code != NULL &&
          !icloud_response_is_success (response))
        {
          g_autofree char *named = g_strdup_printf ("error %s)", code);
          FUZZ_CHECK (g_str_has_suffix (error->message, named));
        }
      if (status == 503 || status == 429)
        FUZZ_CHECK (error->code == ICLOUD_ERROR_THROTTLED ||
                    error->code == ICLOUD_ERROR_WRONG_REGION);
      /* (A date is relative to now: only the plain seconds compare.) */
      if (error->code == ICLOUD_ERROR_THROTTLED &&
          (retry_after == NULL ||
           g_ascii_string_to_unsigned (retry_after, 10, 0, G_MAXUINT, NULL, NULL)))
        FUZZ_CHECK (icloud_error_get_retry_after (error) ==
                    icloud_response_get_retry_after (response));
    }

  /* Retry-After: delta-seconds as given; never a delay in the past. */
  {
    guint seconds = icloud_response_get_retry_after (response);
    guint64 value;

    if (retry_after == NULL)
      FUZZ_CHECK (seconds == 0);
    else if (g_ascii_string_to_unsigned (retry_after, 10, 0, G_MAXUINT, &value, NULL))
      FUZZ_CHECK (seconds == value);
  }

  (void) icloud_response_get_header (response, "Retry-After");
  (void) icloud_response_get_header (response, "X-Apple-Session-Token");

  return 0;
}
