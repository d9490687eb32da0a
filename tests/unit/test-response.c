/* test-response.c: Apple's error vocabulary as ICloudResponse reads it, and
 * the regions that own Apple's domainToUse names (issue 11)
 *
 * Every shape of service error Apple uses (protocol §4.1, §9) is read by
 * icloud_response_get_service_error () and has_service_error (), and
 * icloud_response_check () maps it. The region a domainToUse names comes
 * from the regions registered in the process: this program links the
 * library statically and loads no plugin, so "iCloud.com.cn" names no
 * region here, while a region registered by the test names itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <glib.h>
#include <libsoup/soup.h>

#include "icloud-glib/icloud-error.h"
#include "icloud-glib/icloud-region.h"
#include "icloud-response-private.h"

static ICloudResponse *
response_new (guint       status,
              const char *body)
{
  g_autoptr(GBytes) bytes = g_bytes_new (body, strlen (body));

  return icloud_response_new (status, NULL, bytes);
}

/* One shape: what the reader gives, and what check makes of it. */
typedef struct {
  const char *name;
  guint       status;
  const char *body;
  gboolean    reported;
  const char *code;       /* as get_service_error shows it */
  const char *message;
  const char *has;        /* a code has_service_error finds, or NULL */
  int         error;      /* -1: check succeeds */
  const char *in_error;   /* a part of check's message, or NULL */
} Shape;

static const Shape shapes[] = {
  { "serviceErrors-string-code", 400,
    "{\"serviceErrors\":[{\"code\":\"-20101\",\"message\":\"Enter the password.\"}]}",
    TRUE, "-20101", "Enter the password.", "-20101",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400, error -20101)" },
  { "service_errors-title-hasError", 400,
    "{\"service_errors\":[{\"code\":\"-21669\",\"title\":\"Incorrect Verification Code\"}],"
    "\"hasError\":true}",
    TRUE, "-21669", "Incorrect Verification Code", "-21669",
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400, error -21669)" },
  { "service-error-message-before-title", 400,
    "{\"service_errors\":[{\"code\":\"-22421\",\"title\":\"Invalid Phone Number\","
    "\"message\":\"Enter a valid phone number.\"}],\"hasError\":true}",
    TRUE, "-22421", "Enter a valid phone number.", "-22421",
    ICLOUD_ERROR_PROTOCOL, "error -22421" },
  { "serviceErrors-numeric-code", 403,
    "{\"serviceErrors\":[{\"code\":-20209}]}",
    TRUE, "-20209", NULL, "-20209",
    ICLOUD_ERROR_ACCOUNT_LOCKED, NULL },
  { "later-element", 400,
    "{\"serviceErrors\":[{\"message\":\"first, without a code\"},{\"code\":-21669}]}",
    TRUE, "-21669", "first, without a code", "-21669",
    ICLOUD_ERROR_PROTOCOL, "error -21669" },
  { "errorCode-number-success-false", 200,
    "{\"success\":false,\"errorCode\":-21669,\"errorMessage\":\"Incorrect verification code.\"}",
    TRUE, "-21669", "Incorrect verification code.", "-21669",
    ICLOUD_ERROR_PROTOCOL, "Apple refused the request: error -21669" },
  { "errorCode-string", 403,
    "{\"errorCode\":\"ACCESS_DENIED\",\"reason\":\"Access denied\"}",
    TRUE, "ACCESS_DENIED", "Access denied", "ACCESS_DENIED",
    ICLOUD_ERROR_THROTTLED, NULL },
  { "serverErrorCode-errorReason", 500,
    "{\"serverErrorCode\":\"ZONE_NOT_FOUND\",\"errorReason\":\"Zone not found\"}",
    TRUE, "ZONE_NOT_FOUND", "Zone not found", "ZONE_NOT_FOUND",
    ICLOUD_ERROR_SERVICE_NOT_ACTIVATED, NULL },
  { "success-false-error", 200,
    "{\"success\":false,\"error\":\"Missing apple_id field\"}",
    TRUE, NULL, "Missing apple_id field", NULL,
    ICLOUD_ERROR_PROTOCOL, "Apple refused the request" },
  { "hasError-alone", 200,
    "{\"hasError\":true}",
    TRUE, NULL, NULL, NULL,
    ICLOUD_ERROR_PROTOCOL, "Apple refused the request" },
  /* A code alone does not make a 2xx a failure: only Apple's flags do. */
  { "2xx-code-without-flag", 200,
    "{\"errorCode\":-1,\"dsInfo\":{}}",
    TRUE, "-1", NULL, "-1",
    -1, NULL },
  { "success", 200,
    "{\"success\":true,\"hasError\":false}",
    FALSE, NULL, NULL, NULL,
    -1, NULL },
  { "not-json", 503,
    "<html>Service Temporarily Unavailable</html>",
    FALSE, NULL, NULL, NULL,
    ICLOUD_ERROR_THROTTLED, NULL },
  { "empty-and-odd-values", 400,
    "{\"serviceErrors\":[{\"code\":\"\",\"message\":\"\"},{\"code\":1.5},{\"code\":true}],"
    "\"errorCode\":null,\"errorMessage\":42}",
    FALSE, NULL, NULL, NULL,
    ICLOUD_ERROR_PROTOCOL, "(HTTP 400)" },
  /* Server text reaches a terminal: escaped. */
  { "hostile-text", 400,
    "{\"serviceErrors\":[{\"code\":\"\\u001b[31m-20101\\n\",\"message\":\"a\\u202eb\\u0007\"}]}",
    TRUE, "\\x1b[31m-20101\\n", "a\\u202eb\\x07", NULL,
    ICLOUD_ERROR_PROTOCOL, "error \\x1b[31m-20101\\n)" },
};

static void
test_shape (gconstpointer data)
{
  const Shape *shape = data;
  g_autoptr(ICloudResponse) response = response_new (shape->status, shape->body);
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *message = NULL;
  gboolean ok;

  g_assert_cmpint (icloud_response_get_service_error (response, &code, &message), ==, shape->reported);
  g_assert_cmpstr (code, ==, shape->code);
  g_assert_cmpstr (message, ==, shape->message);
  g_assert_cmpint (icloud_response_get_service_error (response, NULL, NULL), ==, shape->reported);

  if (shape->has != NULL)
    g_assert_true (icloud_response_has_service_error (response, shape->has));
  g_assert_false (icloud_response_has_service_error (response, "-1234567"));

  ok = icloud_response_check (response, &error);
  if (shape->error < 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
      return;
    }
  g_assert_false (ok);
  g_assert_error (error, ICLOUD_ERROR, shape->error);
  if (shape->in_error != NULL && strstr (error->message, shape->in_error) == NULL)
    g_error ("“%s” does not say “%s”", error->message, shape->in_error);
}

/* A number and a string are the same code, wherever it is. */
static void
test_has_service_error (void)
{
  static const char * const bodies[] = {
    "{\"errorCode\":-21669}",
    "{\"errorCode\":\"-21669\"}",
    "{\"serverErrorCode\":-21669}",
    "{\"serviceErrors\":[{\"code\":\"-20000\"},{\"code\":-21669}]}",
    "{\"service_errors\":[{\"code\":\"-21669\"}],\"hasError\":true}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bodies); i++)
    {
      g_autoptr(ICloudResponse) response = response_new (400, bodies[i]);

      g_assert_true (icloud_response_has_service_error (response, "-21669"));
      g_assert_false (icloud_response_has_service_error (response, "-2166"));
      g_assert_false (icloud_response_has_service_error (response, "21669"));
    }
}

/* At most 80 characters of Apple's text, then "…". */
static void
test_capped (void)
{
  g_autoptr(GString) body = g_string_new ("{\"errorCode\":\"");
  g_autoptr(ICloudResponse) response = NULL;
  g_autofree char *code = NULL;
  g_autofree char *message = NULL;

  for (guint i = 0; i < 500; i++)
    g_string_append_c (body, 'A');
  g_string_append (body, "\",\"errorMessage\":\"");
  for (guint i = 0; i < 500; i++)
    g_string_append (body, "é");
  g_string_append (body, "\"}");
  response = response_new (400, body->str);

  g_assert_true (icloud_response_get_service_error (response, &code, &message));
  g_assert_cmpuint (g_utf8_strlen (code, -1), ==, 81);
  g_assert_true (g_str_has_suffix (code, "A…"));
  g_assert_cmpuint (g_utf8_strlen (message, -1), ==, 81);
  g_assert_true (g_str_has_suffix (message, "é…"));
}

/* ------------------------------------------------------------------------ */
/* Regions name themselves */

static void
assert_wrong_region (const char *domain,
                     const char *named)
{
  g_autofree char *body = g_strdup_printf ("{\"domainToUse\":\"%s\"}", domain);
  g_autoptr(ICloudResponse) response = response_new (302, body);
  g_autoptr(GError) error = NULL;

  g_assert_false (icloud_response_check (response, &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_WRONG_REGION);
  g_assert_nonnull (strstr (error->message, domain));
  if (named != NULL)
    {
      g_autofree char *quoted = g_strdup_printf ("use the region “%s”", named);
      g_assert_nonnull (strstr (error->message, quoted));
    }
  else
    {
      g_assert_null (strstr (error->message, "use the region"));
      g_assert_nonnull (strstr (error->message, "choose the region that serves it"));
    }
}

static void
test_global_region (void)
{
  assert_wrong_region ("iCloud.com", "global");
  assert_wrong_region ("ICLOUD.COM", "global");
}

/* No plugin is loaded in this program: nobody claims iCloud.com.cn, and
 * the message claims no region. */
static void
test_china_needs_its_plugin (void)
{
  assert_wrong_region ("iCloud.com.cn", NULL);
  assert_wrong_region ("example.org", NULL);
}

#define TEST_TYPE_REGION (test_region_get_type ())
G_DECLARE_FINAL_TYPE (TestRegion, test_region, TEST, REGION, ICloudRegion)

struct _TestRegion
{
  ICloudRegion parent_instance;
};

G_DEFINE_FINAL_TYPE (TestRegion, test_region, ICLOUD_TYPE_REGION)

static gboolean
test_region_handles_domain (ICloudRegion *region,
                            const char   *domain)
{
  return g_ascii_strcasecmp (domain, "iCloud.example") == 0;
}

static void
test_region_class_init (TestRegionClass *klass)
{
  ICLOUD_REGION_CLASS (klass)->handles_domain = test_region_handles_domain;
}

static void
test_region_init (TestRegion *self)
{
}

#define TEST_TYPE_MUTE_REGION (test_mute_region_get_type ())
G_DECLARE_FINAL_TYPE (TestMuteRegion, test_mute_region, TEST, MUTE_REGION, ICloudRegion)

struct _TestMuteRegion
{
  ICloudRegion parent_instance;
};

G_DEFINE_FINAL_TYPE (TestMuteRegion, test_mute_region, ICLOUD_TYPE_REGION)

static void
test_mute_region_class_init (TestMuteRegionClass *klass)
{
}

static void
test_mute_region_init (TestMuteRegion *self)
{
}

/* A region registered in the process names itself; one that does not
 * override handles_domain claims nothing. */
static void
test_registered_region (void)
{
  g_autoptr(ICloudRegion) mute = g_object_new (TEST_TYPE_MUTE_REGION, NULL);
  g_autoptr(ICloudRegion) region = g_object_new (TEST_TYPE_REGION, NULL);

  g_assert_false (icloud_region_handles_domain (mute, "iCloud.com"));
  g_assert_true (icloud_region_handles_domain (region, "icloud.EXAMPLE"));
  g_assert_false (icloud_region_handles_domain (region, "iCloud.com"));

  icloud_region_register (TEST_TYPE_MUTE_REGION, "test-mute", 50);
  icloud_region_register (TEST_TYPE_REGION, "test-example", 5);

  assert_wrong_region ("iCloud.example", "test-example");
  assert_wrong_region ("iCloud.com", "global");
  assert_wrong_region ("iCloud.com.cn", NULL);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (shapes); i++)
    {
      g_autofree char *path = g_strdup_printf ("/response/service-error/%s", shapes[i].name);
      g_test_add_data_func (path, &shapes[i], test_shape);
    }
  g_test_add_func ("/response/has-service-error", test_has_service_error);
  g_test_add_func ("/response/capped", test_capped);
  g_test_add_func ("/response/wrong-region/global", test_global_region);
  g_test_add_func ("/response/wrong-region/china-needs-its-plugin", test_china_needs_its_plugin);
  g_test_add_func ("/response/wrong-region/registered-region", test_registered_region);

  return g_test_run ();
}
