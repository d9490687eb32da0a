/* test-store-thread.c: the session's disk I/O is off the main thread, and
 * an operation writes its session file at most once (issue 11).
 *
 * The whole binary runs with ICLOUD_STORE_ASSERT_OFF_MAIN=1 (set in main (),
 * before any thread): any blocking store I/O on the thread that owns the
 * default main context aborts the process. The tests hold the default
 * context (g_main_context_acquire) for their whole run, so that the code
 * they call directly is checked as well as what the main loop dispatches.
 * /store-thread/check-armed shows the check is really on in this binary.
 *
 * Writes are counted with inotify on the session directory: every write of
 * the file store ends with a rename() onto `<name>.session.json`
 * (IN_MOVED_TO), a logout without keeping anything with an unlink()
 * (IN_DELETE). The kernel queues the event when the call returns, before
 * the operation's callback runs, so reading the queue then is exact.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/inotify.h>
#include <glib/gstdio.h>
#include <icloud-glib/icloud-glib.h>

#include "test-names.h"
#include "test-utils.h"

#define ID_2FA       "2fa@example.com"
#define PASSWORD_2FA "two factor"   /* data/accounts.json */
#define ID_BRIDGE       "bridge-prompt@example.com"
#define PASSWORD_BRIDGE "bridge prompt"

typedef struct {
  TestFixture base;
  const char *apple_id;    /* the test's data, or ID_2FA */
  char       *file_name;   /* of the session file, in base.dir */
  int         inotify_fd;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autofree char *path = NULL;

  test_fixture_setup (&fixture->base, NULL, "sessions");
  g_assert_cmpint (g_mkdir_with_parents (fixture->base.dir, 0700), ==, 0);
  fixture->apple_id = user_data != NULL ? user_data : ID_2FA;
  path = test_account_file (fixture->base.dir, fixture->apple_id, ".session.json");
  fixture->file_name = g_path_get_basename (path);

  fixture->inotify_fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
  g_assert_cmpint (fixture->inotify_fd, >=, 0);
  g_assert_cmpint (inotify_add_watch (fixture->inotify_fd, fixture->base.dir,
                                      IN_MOVED_TO | IN_DELETE), >=, 0);

  /* From here on, this thread owns the default main context. */
  g_assert_true (g_main_context_acquire (NULL));
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  g_main_context_release (NULL);
  close (fixture->inotify_fd);
  test_fixture_teardown (&fixture->base, user_data);
  g_free (fixture->file_name);
}

/* The writes (renames onto the session file) and removals of the session
 * file since the last call. */
static void
take_events (Fixture *fixture,
             guint   *writes,
             guint   *removals)
{
  char buffer[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
  ssize_t len;

  *writes = *removals = 0;
  while ((len = read (fixture->inotify_fd, buffer, sizeof buffer)) > 0)
    {
      for (char *p = buffer; p < buffer + len; )
        {
          const struct inotify_event *event = (const struct inotify_event *) p;

          g_assert_false (event->mask & IN_Q_OVERFLOW);
          if (event->len > 0 && g_str_equal (event->name, fixture->file_name))
            {
              if (event->mask & IN_MOVED_TO)
                (*writes)++;
              if (event->mask & IN_DELETE)
                (*removals)++;
            }
          p += sizeof (struct inotify_event) + event->len;
        }
    }
  g_assert_cmpint (len, ==, -1);
  g_assert_cmpint (errno, ==, EAGAIN);
}

static void
assert_writes (Fixture *fixture,
               guint    writes,
               guint    removals)
{
  guint w, r;

  take_events (fixture, &w, &r);
  g_assert_cmpuint (w, ==, writes);
  g_assert_cmpuint (r, ==, removals);
}

static ICloudSession *
new_session_async (Fixture    *fixture,
                   const char *password)
{
  g_autoptr(GError) error = NULL;
  ICloudSession *session = test_session_new_async (&fixture->base, fixture->apple_id, password, &error);

  g_assert_no_error (error);
  g_assert_nonnull (session);
  return session;
}

static void
close_async (ICloudSession *session)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  icloud_session_close_async (session, NULL, test_async_ready, &result);
  /* Closed at once; the callback comes from the main loop, after the save. */
  g_assert_null (result);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_CLOSED);
  g_assert_true (icloud_session_close_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------------ */

static void
test_2fa_async (Fixture       *fixture,
                gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) restored = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;
  g_autofree char *path = g_build_filename (fixture->base.dir, fixture->file_name, NULL);

  /* Password: Apple asks for a code. One operation, one write. */
  session = new_session_async (fixture, PASSWORD_2FA);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  assert_writes (fixture, 1, 0);

  /* Ask for a code. While the operation runs (its load in the worker
   * included), the session is busy. */
  icloud_session_request_2fa_code_async (session, NULL, NULL, test_async_ready, &result);
  icloud_session_request_2fa_code_async (session, NULL, NULL, test_async_ready, &second);
  g_assert_false (icloud_session_request_2fa_code_finish (session, test_wait_result (&second), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
  g_clear_error (&error);
  g_assert_true (icloud_session_request_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpuint (icloud_mock_server_count_codes_sent (fixture->base.server, ID_2FA, NULL), ==, 1);
  /* Nothing the session keeps changed: no write at all. */
  assert_writes (fixture, 0, 0);

  /* The code: validate → trust → accountLogin, one operation, one write. */
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
  g_assert_nonnull (code);
  icloud_session_validate_2fa_code_async (session, code, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_validate_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_true (icloud_session_get_is_trusted_session (session));
  assert_writes (fixture, 1, 0);

  /* Closing a session with nothing new writes nothing. */
  close_async (session);
  assert_writes (fixture, 0, 0);

  /* A new session, no password: the saved trusted session. */
  restored = new_session_async (fixture, NULL);
  g_assert_cmpint (icloud_session_get_state (restored), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_true (icloud_session_get_is_trusted_session (restored));
  /* Apple's answer matches what was saved: nothing written. */
  assert_writes (fixture, 0, 0);

  /* Logout without keeping anything: the file is removed, nothing else. */
  icloud_session_logout_async (restored, FALSE, FALSE, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_logout_finish (restored, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (icloud_session_get_state (restored), ==, ICLOUD_AUTH_STATE_SIGNED_OUT);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  assert_writes (fixture, 0, 1);

  close_async (restored);
  assert_writes (fixture, 0, 0);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  /* A closed session fails at once, as before. */
  icloud_session_authenticate_async (restored, FALSE, NULL, test_async_ready, &result);
  g_assert_false (icloud_session_authenticate_finish (restored, test_wait_result (&result), &error));
  g_assert_error (error, ICLOUD_ERROR, ICLOUD_ERROR_CLOSED);
}

/* The trusted-device bridge: asking for the prompt writes nothing (the
 * bridge's state is in memory only), the code one write, off the main
 * thread. */
static void
test_bridge_async (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudSession) restored = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  session = new_session_async (fixture, PASSWORD_BRIDGE);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  assert_writes (fixture, 1, 0);

  icloud_session_request_2fa_code_async (session, NULL, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_request_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_cmpint (icloud_session_get_code_delivery (session), ==, ICLOUD_CODE_DELIVERY_BRIDGE);
  assert_writes (fixture, 0, 0);

  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_BRIDGE, NULL);
  g_assert_nonnull (code);
  icloud_session_validate_2fa_code_async (session, code, NULL, test_async_ready, &result);
  g_assert_true (icloud_session_validate_2fa_code_finish (session, test_wait_result (&result), &error));
  g_assert_no_error (error);
  g_clear_object (&result);
  g_assert_true (icloud_session_get_is_trusted_session (session));
  assert_writes (fixture, 1, 0);
  close_async (session);
  assert_writes (fixture, 0, 0);

  /* saved once, and used again without a code */
  restored = new_session_async (fixture, NULL);
  g_assert_cmpint (icloud_session_get_state (restored), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_true (icloud_session_get_is_trusted_session (restored));
  assert_writes (fixture, 0, 0);
  close_async (restored);
}

/* The blocking twins, called from the thread that owns the default main
 * context: they wait on a private context while the worker does the I/O,
 * so the check does not fire either. */
static void
test_blocking_twins (Fixture       *fixture,
                     gconstpointer  user_data)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *code = NULL;

  session = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                            "apple-id", ID_2FA,
                            "password", PASSWORD_2FA,
                            "endpoint", fixture->base.endpoint,
                            "cookie-directory", fixture->base.dir,
                            NULL);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (session), ==, ICLOUD_AUTH_STATE_NEEDS_2FA);
  assert_writes (fixture, 1, 0);

  g_assert_true (icloud_session_request_2fa_code (session, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_writes (fixture, 0, 0);
  code = icloud_mock_server_dup_last_code (fixture->base.server, ID_2FA, NULL);
  g_assert_true (icloud_session_validate_2fa_code (session, code, NULL, &error));
  g_assert_no_error (error);
  assert_writes (fixture, 1, 0);

  g_assert_true (icloud_session_logout (session, TRUE, FALSE, NULL, &error));
  g_assert_no_error (error);
  /* Keeping the trust: the file is rewritten without the session token. */
  assert_writes (fixture, 1, 0);
  g_assert_true (icloud_session_close (session, NULL, &error));
  g_assert_no_error (error);
  assert_writes (fixture, 0, 0);
}

/* The check is armed in this binary: the pyicloud import, blocking by
 * design (it is not made for code run by the main loop), aborts when
 * called on the thread that owns the default main context. */
static void
test_check_armed (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *pydir = g_build_filename (g_get_user_cache_dir (), "pyicloud", NULL);
      g_autofree char *file = g_build_filename (pydir, "2faexamplecom.session", NULL);
      g_autofree char *dir = g_build_filename (g_get_user_state_dir (), "sessions", NULL);
      g_autoptr(ICloudSession) session = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_cmpint (g_mkdir_with_parents (pydir, 0700), ==, 0);
      g_assert_true (g_file_set_contents (file, "{\"session_token\": \"t\", \"scnt\": \"s\"}", -1, NULL));
      session = g_object_new (ICLOUD_TYPE_SESSION, "apple-id", ID_2FA,
                              "cookie-directory", dir, NULL);
      g_assert_true (g_main_context_acquire (NULL));
      icloud_session_import_pyicloud (session, pydir, &error);
      g_main_context_release (NULL);
      /* Not reached. */
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*blocking session store I/O on the thread that runs the default main context*");
}

int
main (int   argc,
      char *argv[])
{
  /* Before any thread exists. */
  g_setenv ("ICLOUD_STORE_ASSERT_OFF_MAIN", "1", TRUE);
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add ("/store-thread/2fa/async", Fixture, NULL, fixture_setup, test_2fa_async, fixture_teardown);
  g_test_add ("/store-thread/2fa/blocking-twins", Fixture, NULL, fixture_setup, test_blocking_twins, fixture_teardown);
  g_test_add ("/store-thread/bridge/async", Fixture, ID_BRIDGE, fixture_setup, test_bridge_async, fixture_teardown);
  g_test_add_func ("/store-thread/check-armed", test_check_armed);

  return g_test_run ();
}
