/* test-utils.c: the harness tests' shared fixture and helpers (see
 * test-utils.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-utils.h"

#include <string.h>
#include <gobject/gvaluecollector.h>

/**
 * test_fixture_load:
 * @accounts_json: (nullable): accounts as JSON, or %NULL for the fixture
 *   file ($ICLOUD_MOCK_ACCOUNTS, data/accounts.json)
 *
 * Makes the fake server if there is none yet and adds the accounts. Call
 * it more than once to add more; then set what must be set before the
 * start (e.g. icloud_mock_server_set_routed()) and call
 * test_fixture_start().
 */
void
test_fixture_load (TestFixture *fixture,
                   const char  *accounts_json)
{
  g_autoptr(GError) error = NULL;

  if (fixture->server == NULL)
    fixture->server = icloud_mock_server_new ();
  if (accounts_json != NULL)
    {
      icloud_mock_server_load_accounts_from_data (fixture->server, accounts_json, -1, &error);
    }
  else
    {
      const char *path = g_getenv ("ICLOUD_MOCK_ACCOUNTS");

      g_assert_nonnull (path);
      icloud_mock_server_load_accounts (fixture->server, path, &error);
    }
  g_assert_no_error (error);
}

/**
 * test_fixture_start:
 * @dir_name: (nullable): the session directory's name under
 *   g_get_user_state_dir() (the test's isolated dir), or %NULL to leave
 *   @fixture->dir to the caller
 *
 * Starts the fake server and makes the endpoint for its base URI.
 */
void
test_fixture_start (TestFixture *fixture,
                    const char  *dir_name)
{
  g_autoptr(GError) error = NULL;

  icloud_mock_server_start (fixture->server, &error);
  g_assert_no_error (error);
  fixture->endpoint = icloud_endpoint_new_for_base_uri (icloud_mock_server_get_base_uri (fixture->server),
                                                        &error);
  g_assert_no_error (error);
  if (dir_name != NULL)
    fixture->dir = g_build_filename (g_get_user_state_dir (), dir_name, NULL);
}

/**
 * test_fixture_setup:
 *
 * test_fixture_load() then test_fixture_start().
 */
void
test_fixture_setup (TestFixture *fixture,
                    const char  *accounts_json,
                    const char  *dir_name)
{
  test_fixture_load (fixture, accounts_json);
  test_fixture_start (fixture, dir_name);
}

/**
 * test_fixture_teardown:
 *
 * Stops the fake server (if any) and frees the fixture's members; the
 * shape of a g_test_add() teardown.
 */
void
test_fixture_teardown (TestFixture   *fixture,
                       gconstpointer  user_data)
{
  if (fixture->server != NULL)
    icloud_mock_server_stop (fixture->server);
  g_clear_object (&fixture->server);
  g_clear_object (&fixture->endpoint);
  g_clear_pointer (&fixture->dir, g_free);
}

/**
 * test_session_new_full:
 * @password: (nullable):
 * @first_property_name: (nullable): more properties of the session, as in
 *   g_object_new(), %NULL-terminated
 *
 * A session for @apple_id against the fixture's endpoint and directory,
 * made and initialised blocking (g_initable_init()). %NULL with @error
 * when it fails.
 */
ICloudSession *
test_session_new_full (TestFixture  *fixture,
                       const char   *apple_id,
                       const char   *password,
                       GError      **error,
                       const char   *first_property_name,
                       ...)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
  g_autoptr(GTypeClass) klass = g_type_class_ref (ICLOUD_TYPE_SESSION);
  g_autoptr(ICloudSession) session = NULL;
  const char *name;
  va_list args;

  g_array_set_clear_func (values, (GDestroyNotify) g_value_unset);
#define ADD_VALUE(prop, type, setter, value) G_STMT_START { \
    GValue v = G_VALUE_INIT; \
    g_value_init (&v, type); \
    setter (&v, value); \
    g_ptr_array_add (names, (gpointer) prop); \
    g_array_append_val (values, v); \
  } G_STMT_END
  ADD_VALUE ("apple-id", G_TYPE_STRING, g_value_set_string, apple_id);
  ADD_VALUE ("password", G_TYPE_STRING, g_value_set_string, password);
  ADD_VALUE ("endpoint", ICLOUD_TYPE_ENDPOINT, g_value_set_object, fixture->endpoint);
  ADD_VALUE ("cookie-directory", G_TYPE_STRING, g_value_set_string, fixture->dir);
#undef ADD_VALUE

  va_start (args, first_property_name);
  for (name = first_property_name; name != NULL; name = va_arg (args, const char *))
    {
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_CLASS (klass), name);
      GValue v = G_VALUE_INIT;
      g_autofree char *collect_error = NULL;

      g_assert_nonnull (pspec);
      G_VALUE_COLLECT_INIT (&v, pspec->value_type, args, 0, &collect_error);
      g_assert_null (collect_error);
      g_ptr_array_add (names, (gpointer) name);
      g_array_append_val (values, v);
    }
  va_end (args);

  session = (ICloudSession *) g_object_new_with_properties (ICLOUD_TYPE_SESSION, names->len,
                                                            (const char **) names->pdata,
                                                            (const GValue *) values->data);
  if (!g_initable_init (G_INITABLE (session), NULL, error))
    return NULL;
  return g_steal_pointer (&session);
}

/**
 * test_session_new:
 * @password: (nullable):
 *
 * test_session_new_full() without more properties.
 */
ICloudSession *
test_session_new (TestFixture  *fixture,
                  const char   *apple_id,
                  const char   *password,
                  GError      **error)
{
  return test_session_new_full (fixture, apple_id, password, error, NULL);
}

/**
 * test_session_new_async:
 * @password: (nullable):
 *
 * The same through g_async_initable_new_async(), running the default main
 * context until it ends.
 */
ICloudSession *
test_session_new_async (TestFixture  *fixture,
                        const char   *apple_id,
                        const char   *password,
                        GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GObject) source = NULL;

  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              test_async_ready, &result,
                              "apple-id", apple_id,
                              "password", password,
                              "endpoint", fixture->endpoint,
                              "cookie-directory", fixture->dir,
                              NULL);
  source = g_async_result_get_source_object (test_wait_result (&result));
  return (ICloudSession *) g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, error);
}

/**
 * test_count_requests:
 * @apple_id: (nullable):
 *
 * How many requests for @apple_id (any account: %NULL) the fake server
 * answered on @path.
 */
guint
test_count_requests (TestFixture *fixture,
                     const char  *apple_id,
                     const char  *path)
{
  return icloud_mock_server_count_requests (fixture->server, apple_id, path);
}

/**
 * test_count_srp:
 *
 * How many SRP sign-ins (`signin/init`) for @apple_id the fake server
 * answered.
 */
guint
test_count_srp (TestFixture *fixture,
                const char  *apple_id)
{
  return test_count_requests (fixture, apple_id, TEST_PATH_SRP_INIT);
}

/**
 * test_async_ready:
 * @user_data: a `GAsyncResult **`, %NULL until the result arrives
 *
 * A #GAsyncReadyCallback that keeps a reference to the result.
 */
void
test_async_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  GAsyncResult **out = user_data;

  g_assert_null (*out);
  *out = g_object_ref (result);
  g_main_context_wakeup (NULL);
}

/**
 * test_wait_result:
 * @result: where test_async_ready() puts the result
 *
 * Runs the default main context until the result is there.
 *
 * Returns: (transfer none): *@result
 */
GAsyncResult *
test_wait_result (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return *result;
}

/**
 * test_contains_word:
 *
 * Whether @word is in @text with no letter or digit on either side: a
 * six-digit code also occurs by chance inside a log's longer numbers
 * (times in milliseconds, ports, hex digests), which are not a leak.
 */
gboolean
test_contains_word (const char *text,
                    const char *word)
{
  gsize len = strlen (word);

  for (const char *p = strstr (text, word); p != NULL; p = strstr (p + 1, word))
    if ((p == text || !g_ascii_isalnum (p[-1])) && !g_ascii_isalnum (p[len]))
      return TRUE;
  return FALSE;
}
