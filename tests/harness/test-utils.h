/* test-utils.h: what every harness test needs, defined once (libsoup's
 * tests/test-utils.c is the model): the fake iCloud server in this process,
 * an endpoint for its base URI and a session directory; sessions made
 * against them; the default main context run until an async result
 * arrives.
 *
 * A test file with nothing more in its fixture uses TestFixture as its
 * fixture; one with more embeds a TestFixture and passes its address.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <icloud-glib/icloud-glib.h>

#include "icloud-mock-server.h"

G_BEGIN_DECLS

typedef struct {
  ICloudMockServer *server;     /* the fake server, in this process */
  ICloudEndpoint   *endpoint;   /* for its base URI */
  char             *dir;        /* the sessions' cookie directory (not created) */
} TestFixture;

/* The SRP step every password sign-in starts with. */
#define TEST_PATH_SRP_INIT "/appleauth/auth/signin/init"

void           test_fixture_load     (TestFixture   *fixture,
                                      const char    *accounts_json);
void           test_fixture_start    (TestFixture   *fixture,
                                      const char    *dir_name);
void           test_fixture_setup    (TestFixture   *fixture,
                                      const char    *accounts_json,
                                      const char    *dir_name);
void           test_fixture_teardown (TestFixture   *fixture,
                                      gconstpointer  user_data);

ICloudSession *test_session_new_full (TestFixture   *fixture,
                                      const char    *apple_id,
                                      const char    *password,
                                      GError       **error,
                                      const char    *first_property_name,
                                      ...);
ICloudSession *test_session_new      (TestFixture   *fixture,
                                      const char    *apple_id,
                                      const char    *password,
                                      GError       **error);
ICloudSession *test_session_new_async (TestFixture  *fixture,
                                      const char    *apple_id,
                                      const char    *password,
                                      GError       **error);
guint          test_count_requests   (TestFixture   *fixture,
                                      const char    *apple_id,
                                      const char    *path);
guint          test_count_srp        (TestFixture   *fixture,
                                      const char    *apple_id);

void           test_async_ready      (GObject       *source,
                                      GAsyncResult  *result,
                                      gpointer       user_data);
GAsyncResult  *test_wait_result      (GAsyncResult **result);

gboolean       test_contains_word    (const char    *text,
                                      const char    *word);

G_END_DECLS
