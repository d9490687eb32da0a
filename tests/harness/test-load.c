/* test-load.c: many accounts at once in one process, one account in two
 * processes at once, and what one account may see of another
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <icloud-glib/icloud-glib.h>

#include "test-names.h"
#include "test-utils.h"

#define N_ACCOUNTS           500
#define N_ACCOUNTS_VALGRIND  50
#define SHARED_ID            "shared@example.com"
#define SHARED_PASSWORD      "shared password 0xC0FFEE"
#define SIGNIN_INIT          "/appleauth/auth/signin/init"
#define SIGNIN_COMPLETE      "/appleauth/auth/signin/complete"
#define VALIDATE             "/setup/ws/1/validate"
/* How long the fake server holds back the winner's answer in
 * /load/two-processes-one-account: the loser must be told sooner. */
#define SLOW_MS              1500

static const char *test_argv0;

static gboolean
under_valgrind (void)
{
  return g_strcmp0 (g_getenv ("ICLOUD_TEST_VALGRIND"), "1") == 0;
}

static gboolean
under_asan (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
  return TRUE;
# else
  return FALSE;
# endif
#else
  return FALSE;
#endif
}

static char *
load_apple_id (guint i)
{
  return g_strdup_printf ("load-%03u@example.com", i);
}

static char *
load_password (guint i)
{
  return g_strdup_printf ("load password %03u %08x", i, g_str_hash (&i) ^ (i * 2654435761u));
}

/* n generated accounts, alternating s2k and s2k_fo, plus the fixed ones the
 * other tests and the warm-up use. */
static char *
accounts_json (guint n)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  g_autoptr(JsonGenerator) generator = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;
  static const char * const fixed[][2] = {
    { "warmup@example.com", "warm-up password" },
    { SHARED_ID, SHARED_PASSWORD },
    { "alice-iso@example.com", "alice's password" },
    { "bob-iso@example.com", "bob's password" },
  };

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "accounts");
  json_builder_begin_array (builder);
  for (guint i = 0; i < n + G_N_ELEMENTS (fixed); i++)
    {
      g_autofree char *apple_id = NULL;
      g_autofree char *password = NULL;

      if (i < n)
        {
          apple_id = load_apple_id (i);
          password = load_password (i);
        }
      else
        {
          apple_id = g_strdup (fixed[i - n][0]);
          password = g_strdup (fixed[i - n][1]);
        }
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "apple_id");
      json_builder_add_string_value (builder, apple_id);
      json_builder_set_member_name (builder, "password");
      json_builder_add_string_value (builder, password);
      json_builder_set_member_name (builder, "protocol");
      json_builder_add_string_value (builder, i % 2 == 0 ? "s2k" : "s2k_fo");
      json_builder_set_member_name (builder, "iterations");
      json_builder_add_int_value (builder, 1000);
      json_builder_set_member_name (builder, "factor");
      json_builder_add_string_value (builder, "none");
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* ------------------------------------------------------------------------ */
/* Fixture */

/* /load/500-accounts measures this process's fds and memory, so its fake
 * server runs as a program of its own ($ICLOUD_MOCK_SERVER) and is asked
 * over its control API (`/_mock/`); the other tests run one in process. */
typedef struct {
  TestFixture       base;         /* base.server: in process */
  GSubprocess      *process;      /* or as a program */
  GDataInputStream *process_out;
  char             *base_uri;
  guint             n;
} Fixture;

static gboolean
is_child (void)
{
  return g_getenv ("ICLOUD_LOAD_CHILD") != NULL;
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;

  fixture->n = GPOINTER_TO_UINT (user_data);
  json = accounts_json (fixture->n);
  test_fixture_load (&fixture->base, json);
  g_assert_cmpuint (icloud_mock_server_get_n_accounts (fixture->base.server), ==, fixture->n + 4);
  test_fixture_start (&fixture->base, "icloud-load");
  fixture->base_uri = g_strdup (icloud_mock_server_get_base_uri (fixture->base.server));
}

static void
fixture_setup_process (Fixture       *fixture,
                       gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *json = NULL;
  g_autofree char *accounts = g_build_filename (g_get_user_runtime_dir (), "load-accounts.json", NULL);
  const char *tool = g_getenv ("ICLOUD_MOCK_SERVER");

  g_assert_nonnull (tool);
  fixture->n = GPOINTER_TO_UINT (user_data);
  json = accounts_json (fixture->n);
  g_assert_cmpint (g_mkdir_with_parents (g_get_user_runtime_dir (), 0700), ==, 0);
  g_file_set_contents (accounts, json, -1, &error);
  g_assert_no_error (error);

  /* It stops when its standard input closes (at teardown, or when this
   * process dies). */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  fixture->process = g_subprocess_launcher_spawn (launcher, &error, tool,
                                                  "--accounts", accounts, "--exit-on-eof", NULL);
  g_assert_no_error (error);
  fixture->process_out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (fixture->process));
  while (fixture->base_uri == NULL)
    {
      g_autofree char *line = g_data_input_stream_read_line_utf8 (fixture->process_out, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "ICLOUD_MOCK_BASE_URI="))
        fixture->base_uri = g_strdup (line + strlen ("ICLOUD_MOCK_BASE_URI="));
    }

  fixture->base.endpoint = icloud_endpoint_new_for_base_uri (fixture->base_uri, &error);
  g_assert_no_error (error);

  fixture->base.dir = g_build_filename (g_get_user_state_dir (), "icloud-load", NULL);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  test_fixture_teardown (&fixture->base, user_data);
  if (fixture->process != NULL)
    {
      g_autoptr(GError) error = NULL;

      g_output_stream_close (g_subprocess_get_stdin_pipe (fixture->process), NULL, NULL);
      g_subprocess_wait (fixture->process, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_subprocess_get_successful (fixture->process));
    }
  g_clear_object (&fixture->process_out);
  g_clear_object (&fixture->process);
  g_free (fixture->base_uri);
}

/* ------------------------------------------------------------------------ */
/* What the fake server saw */

/* GET /_mock/@what of the fake server program, with a SoupSession of the
 * test's own that is gone (connections and all) when this returns. */
static JsonNode *
control_get (Fixture    *fixture,
             const char *what)
{
  g_autoptr(SoupSession) soup = soup_session_new ();
  g_autofree char *uri = g_strconcat (fixture->base_uri, "/_mock/", what, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new ("GET", uri);
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;

  body = soup_session_send_and_read (soup, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_OK);
  return json_from_string (g_bytes_get_data (body, NULL), &error);
}

static guint
isolation_violations (Fixture *fixture)
{
  g_autoptr(JsonNode) node = NULL;

  if (fixture->base.server != NULL)
    return icloud_mock_server_get_isolation_violations (fixture->base.server);
  node = control_get (fixture, "isolation-violations");
  return json_object_get_int_member (json_node_get_object (node), "count");
}

/* The request log: an array of {method, path, apple_id, status, ...}. */
static JsonNode *
request_log (Fixture *fixture)
{
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *log = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *requests;

  if (fixture->base.server != NULL)
    {
      log = icloud_mock_server_dup_request_log (fixture->base.server);
      requests = json_from_string (log, &error);
      g_assert_no_error (error);
      return requests;
    }
  node = control_get (fixture, "requests");
  requests = json_object_dup_member (json_node_get_object (node), "requests");
  g_assert_nonnull (requests);
  return requests;
}

/* "apple_id path" → how many requests */
static GHashTable *
request_counts (Fixture *fixture)
{
  g_autoptr(JsonNode) log = request_log (fixture);
  GHashTable *counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  JsonArray *entries = json_node_get_array (log);

  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);
      const char *apple_id = json_object_get_string_member_with_default (entry, "apple_id", NULL);
      char *keys[2];

      keys[0] = g_strdup_printf ("%s %s", apple_id ? apple_id : "-",
                                 json_object_get_string_member (entry, "path"));
      keys[1] = g_strdup_printf ("* %s", json_object_get_string_member (entry, "path"));
      for (guint k = 0; k < 2; k++)
        g_hash_table_insert (counts, keys[k],
                             GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, keys[k])) + 1));
    }
  return counts;
}

/* @apple_id NULL: of every account */
static guint
count_in (GHashTable *counts,
          const char *apple_id,
          const char *path)
{
  g_autofree char *key = g_strdup_printf ("%s %s", apple_id ? apple_id : "*", path);

  return GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));
}

/* ------------------------------------------------------------------------ */
/* Process figures */

typedef struct {
  guint  n;
  char  *kinds;    /* what they are, e.g. "socket x2, pipe:[1234] x1" */
} FdCensus;

static void
fd_census_clear (FdCensus *census)
{
  g_clear_pointer (&census->kinds, g_free);
}

/* Counts the open fds of this process, but the one that lists them; says
 * what they are by kind (socket, anon_inode:[eventfd], a file by its
 * name), for the messages. */
static void
fd_census (FdCensus *census)
{
  g_autoptr(GHashTable) kinds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  g_autofree char *listing = g_strdup_printf ("/proc/%d/fd", (int) getpid ());
  g_autoptr(GString) text = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key, value;
  const char *name;

  memset (census, 0, sizeof *census);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *link = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (link, NULL);
      char *kind;

      if (target == NULL || g_str_equal (target, listing))
        continue;
      census->n++;
      if (g_str_has_prefix (target, "socket:"))
        kind = g_strdup ("socket");
      else if (g_str_has_prefix (target, "/"))
        kind = g_path_get_basename (target);
      else
        kind = g_strdup (target);
      g_hash_table_insert (kinds, kind,
                           GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (kinds, kind)) + 1));
    }

  g_hash_table_iter_init (&iter, kinds);
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_string_append_printf (text, "%s%s x%u", text->len > 0 ? ", " : "",
                            (const char *) key, GPOINTER_TO_UINT (value));
  census->kinds = g_string_free (g_steal_pointer (&text), FALSE);
}

/* Bytes the heap hands out right now (malloc'ed and not freed, in every
 * arena, mmapped chunks included): unlike the RSS, it does not depend on
 * what glibc keeps for later. */
static guint64
heap_in_use (void)
{
  struct mallinfo2 info = mallinfo2 ();

  return info.uordblks + info.hblkhd;
}

static guint
count_threads (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/task", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static guint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10);
}

/* Runs the default main context for @ms milliseconds. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (2 * G_TIME_SPAN_MILLISECOND);
    }
}

/* Runs the default main context until at most @target fds are open or
 * @timeout_ms passed. */
static void
settle_fds (guint     target,
            guint     timeout_ms,
            FdCensus *census)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * G_TIME_SPAN_MILLISECOND;

  for (;;)
    {
      fd_census (census);
      if (census->n <= target || g_get_monotonic_time () >= end)
        return;
      fd_census_clear (census);
      run_for (10);
    }
}

/* ------------------------------------------------------------------------ */
/* Many sign-ins at once on the default main context */

typedef struct _Round Round;

typedef struct {
  Round         *round;
  ICloudSession *session;
  GError        *error;
} Slot;

struct _Round {
  Slot  *slots;
  guint  n;
  guint  done;
};

static void
round_init (Round *round,
            guint  n)
{
  round->slots = g_new0 (Slot, n);
  round->n = n;
  round->done = 0;
  for (guint i = 0; i < n; i++)
    round->slots[i].round = round;
}

static void
round_clear (Round *round)
{
  for (guint i = 0; i < round->n; i++)
    {
      g_clear_object (&round->slots[i].session);
      g_clear_error (&round->slots[i].error);
    }
  g_clear_pointer (&round->slots, g_free);
}

static void
new_ready (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Slot *slot = user_data;
  GObject *object;

  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &slot->error);
  slot->session = object != NULL ? ICLOUD_SESSION (object) : NULL;
  slot->round->done++;
}

static void
close_ready (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Slot *slot = user_data;

  icloud_session_close_finish (ICLOUD_SESSION (source), result, &slot->error);
  slot->round->done++;
}

static void
start_sign_in (Fixture    *fixture,
               Slot       *slot,
               const char *apple_id,
               const char *password)
{
  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              new_ready, slot,
                              "apple-id", apple_id,
                              "password", password,
                              "endpoint", fixture->base.endpoint,
                              "cookie-directory", fixture->base.dir,
                              NULL);
}

static void
wait_round (Round *round)
{
  while (round->done < round->n)
    g_main_context_iteration (NULL, TRUE);
}

/* Closes every session of @round (all at once) and drops them. */
static void
close_round (Round *round)
{
  round->done = 0;
  for (guint i = 0; i < round->n; i++)
    {
      g_assert_nonnull (round->slots[i].session);
      icloud_session_close_async (round->slots[i].session, NULL, close_ready, &round->slots[i]);
    }
  wait_round (round);
  for (guint i = 0; i < round->n; i++)
    {
      g_assert_no_error (round->slots[i].error);
      g_assert_cmpint (icloud_session_get_state (round->slots[i].session), ==, ICLOUD_AUTH_STATE_CLOSED);
    }
  round_clear (round);
}

typedef struct {
  gint64 last;
  gint64 max_gap;
  guint  ticks;
} Ticker;

static gboolean
tick (gpointer user_data)
{
  Ticker *ticker = user_data;
  gint64 now = g_get_monotonic_time ();

  if (ticker->last != 0)
    ticker->max_gap = MAX (ticker->max_gap, now - ticker->last);
  ticker->last = now;
  ticker->ticks++;
  return G_SOURCE_CONTINUE;
}

/* Says which requests the server saw from @apple_id (the log holds cookie
 * names, never values). */
static void
report_failure (Fixture      *fixture,
                const char   *apple_id,
                const GError *error)
{
  g_autoptr(JsonNode) log = request_log (fixture);
  JsonArray *entries = json_node_get_array (log);

  g_test_message ("%s failed: %s (%s %d)", apple_id, error->message,
                  g_quark_to_string (error->domain), error->code);
  for (guint i = 0; i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = json_array_get_object_element (entries, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (entry, "apple_id", NULL), apple_id) == 0 ||
          json_object_get_int_member_with_default (entry, "status", 200) == 0)
        g_test_message ("  server saw: %s %s -> %" G_GINT64_FORMAT " (%s)",
                        json_object_get_string_member (entry, "method"),
                        json_object_get_string_member (entry, "path"),
                        json_object_get_int_member (entry, "status"),
                        json_object_get_string_member_with_default (entry, "apple_id", "no account"));
    }
}

/* Signs in the first @n load accounts at once, with their passwords or
 * (@password FALSE) from the saved sessions only. */
/* Figures for docs/reliability.md (test-faults reads them). */
static JsonObject *load_stats;

static void
stat_int (const char *what,
          const char *figure,
          gint64      value)
{
  g_autofree char *key = g_strdup_printf ("%s: %s", what, figure);

  if (load_stats == NULL)
    load_stats = json_object_new ();
  json_object_set_int_member (load_stats, key, value);
}

static void
write_load_stats (void)
{
  g_autoptr(JsonNode) root = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;
  g_autofree char *dir = g_build_filename (g_test_get_dir (G_TEST_BUILT), "harness", NULL);
  g_autofree char *path = g_build_filename (dir, "load-stats.json", NULL);

  if (load_stats == NULL)
    return;
  json_node_take_object (root, g_steal_pointer (&load_stats));
  text = json_to_string (root, TRUE);
  g_mkdir_with_parents (dir, 0755);
  g_file_set_contents (path, text, -1, NULL);
}

static void
sign_in_all (Fixture    *fixture,
             Round      *round,
             guint       n,
             gboolean    password,
             const char *what)
{
  Ticker ticker = { 0, };
  gint64 start, started, total;
  guint id;

  round_init (round, n);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *apple_id = load_apple_id (i);
      g_autofree char *pw = password ? load_password (i) : NULL;

      start_sign_in (fixture, &round->slots[i], apple_id, pw);
    }
  started = g_get_monotonic_time () - start;

  /* The main loop from here on: PBKDF2 and the modexp run in worker
   * threads, so it never stalls for long however many sign-ins are in
   * flight. */
  ticker.last = g_get_monotonic_time ();
  id = g_timeout_add (10, tick, &ticker);
  wait_round (round);
  total = g_get_monotonic_time () - start;
  g_source_remove (id);

  g_test_message ("%s: %u sign-ins in %" G_GINT64_FORMAT " ms (starting them took %" G_GINT64_FORMAT
                  " ms); %u ticks of 10 ms, longest main-loop gap %" G_GINT64_FORMAT " ms",
                  what, n, total / 1000, started / 1000, ticker.ticks, ticker.max_gap / 1000);
  stat_int (what, "accounts signed in concurrently", n);
  stat_int (what, "wall time (ms)", total / 1000);
  stat_int (what, "longest main-loop gap (ms)", ticker.max_gap / 1000);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *apple_id = load_apple_id (i);

      if (round->slots[i].error != NULL)
        report_failure (fixture, apple_id, round->slots[i].error);
      g_assert_no_error (round->slots[i].error);
      g_assert_nonnull (round->slots[i].session);
      g_assert_cmpint (icloud_session_get_state (round->slots[i].session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
      g_assert_cmpstr (icloud_session_get_apple_id (round->slots[i].session), ==, apple_id);
    }

  /* Valgrind runs one thread at a time (and 20-50 times slower): a
   * worker's PBKDF2 holds the main thread up there whatever the design. */
  if (!under_valgrind ())
    g_assert_cmpint (ticker.max_gap, <, 500 * G_TIME_SPAN_MILLISECOND);
}

static void
warm_up (Fixture *fixture)
{
  Round round;

  /* Once with the password, once from the saved session: every code path
   * of the rounds below has run once, so one-time allocations (GTypes,
   * plugins, the GIO modules, the thread pool) are in the baseline. */
  for (guint pass = 0; pass < 2; pass++)
    {
      round_init (&round, 1);
      start_sign_in (fixture, &round.slots[0], "warmup@example.com",
                     pass == 0 ? "warm-up password" : NULL);
      wait_round (&round);
      g_assert_no_error (round.slots[0].error);
      g_assert_cmpint (icloud_session_get_state (round.slots[0].session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
      close_round (&round);
    }
}

typedef struct {
  guint   fds;
  guint64 rss_kib;
  guint64 heap;
} Figures;

static void
check_baseline (const Figures *before,
                const char    *what)
{
  FdCensus after;
  guint64 rss_after, heap_after;

  /* The shared SoupSession goes away with the last session, and with it
   * its connections; give the main loop a moment for the last of it. */
  settle_fds (before->fds, under_valgrind () ? 30000 : 5000, &after);
  malloc_trim (0);
  rss_after = rss_kib ();
  heap_after = heap_in_use ();

  g_test_message ("%s: %u threads", what, count_threads ());
  g_test_message ("%s: fds %u -> %u (%s); heap in use %" G_GUINT64_FORMAT " KiB -> %" G_GUINT64_FORMAT
                  " KiB (%+" G_GINT64_FORMAT " KiB); RSS %" G_GUINT64_FORMAT " KiB -> %" G_GUINT64_FORMAT
                  " KiB (%+" G_GINT64_FORMAT " KiB)",
                  what, before->fds, after.n, after.kinds,
                  before->heap / 1024, heap_after / 1024,
                  ((gint64) heap_after - (gint64) before->heap) / 1024,
                  before->rss_kib, rss_after, (gint64) rss_after - (gint64) before->rss_kib);
  stat_int (what, "file descriptors before", before->fds);
  stat_int (what, "file descriptors after close", after.n);
  stat_int (what, "heap in use after close, above the baseline (KiB)",
            ((gint64) heap_after - (gint64) before->heap) / 1024);

  /* No slack, none needed: the fake server is another process, and every
   * fd the sign-ins opened here (sockets, lock files, the directory,
   * temporary files, wake-ups of contexts) is closed again. */
  g_assert_cmpuint (after.n, <=, before->fds);
  fd_census_clear (&after);

  /* Valgrind and AddressSanitizer replace malloc () (ASan keeps freed
   * memory in quarantine, and its RSS is its own): there, the leak checks
   * are the measure. */
  if (under_valgrind () || under_asan ())
    return;

  /* What is still allocated: nothing of the sessions should be. */
  g_assert_cmpuint (heap_after, <=, before->heap + 1024 * 1024);
  /* And the memory went back to the system, too, but for what glibc
   * keeps after malloc_trim (). */
  g_assert_cmpuint (rss_after, <=, before->rss_kib + 8 * 1024);
}

static void
test_500_accounts (Fixture       *fixture,
                   gconstpointer  user_data)
{
  Round round;
  FdCensus baseline;
  Figures before;
  guint n = fixture->n;
  g_autoptr(GHashTable) counts = NULL;
  GDir *dir;
  const char *name;
  guint n_files = 0;

  if (under_valgrind ())
    g_test_message ("under valgrind: %u accounts instead of %u", n, N_ACCOUNTS);

  warm_up (fixture);
  run_for (100);
  malloc_trim (0);
  fd_census (&baseline);
  before.fds = baseline.n;
  before.rss_kib = rss_kib ();
  before.heap = heap_in_use ();
  g_test_message ("baseline: %u threads", count_threads ());
  g_test_message ("baseline: %u fds (%s); heap in use %" G_GUINT64_FORMAT " KiB; RSS %" G_GUINT64_FORMAT " KiB",
                  baseline.n, baseline.kinds, before.heap / 1024, before.rss_kib);
  fd_census_clear (&baseline);

  /* Round 1: every account signs in with its password, all at once. */
  sign_in_all (fixture, &round, n, TRUE, "with passwords");
  g_assert_cmpuint (isolation_violations (fixture), ==, 0);
  counts = request_counts (fixture);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *apple_id = load_apple_id (i);

      g_assert_cmpuint (count_in (counts, apple_id, SIGNIN_INIT), ==, 1);
      g_assert_cmpuint (count_in (counts, apple_id, SIGNIN_COMPLETE), ==, 1);
    }
  /* and the warm-up's */
  g_assert_cmpuint (count_in (counts, NULL, SIGNIN_INIT), ==, n + 1);

  /* One file per account in the one directory. */
  dir = g_dir_open (fixture->base.dir, 0, NULL);
  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_assert_null (strstr (name, ".corrupt-"));
      if (g_str_has_prefix (name, "load") && g_str_has_suffix (name, ".session.json"))
        n_files++;
    }
  g_dir_close (dir);
  g_assert_cmpuint (n_files, ==, n);

  close_round (&round);
  check_baseline (&before, "after round 1");

  /* Round 2: from the saved sessions only, still all at once. */
  sign_in_all (fixture, &round, n, FALSE, "from saved sessions");
  g_assert_cmpuint (isolation_violations (fixture), ==, 0);
  g_clear_pointer (&counts, g_hash_table_unref);
  counts = request_counts (fixture);
  g_assert_cmpuint (count_in (counts, NULL, SIGNIN_INIT), ==, n + 1);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *apple_id = load_apple_id (i);

      g_assert_cmpuint (count_in (counts, apple_id, VALIDATE), ==, 1);
    }
  g_clear_pointer (&counts, g_hash_table_unref);
  close_round (&round);
  check_baseline (&before, "after round 2");
  stat_int ("both rounds", "isolation violations", isolation_violations (fixture));
  write_load_stats ();
}

/* ------------------------------------------------------------------------ */
/* One account, two processes */

static char *
shared_file (const char *dir)
{
  return test_account_file (dir, SHARED_ID, ".session.json");
}

/* The file is whole JSON (when there is one yet, unless @must_exist), and
 * nothing was ever set aside as corrupt. */
static void
assert_file_intact (const char *dir,
                    gboolean    must_exist)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = shared_file (dir);
  g_autoptr(GDir) d = NULL;
  const char *name;
  JsonObject *object;

  if (must_exist || g_file_test (path, G_FILE_TEST_EXISTS))
    {
      json_parser_load_from_file (parser, path, &error);
      g_assert_no_error (error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
      object = json_node_get_object (json_parser_get_root (parser));
      g_assert_cmpstr (json_object_get_string_member_with_default (object, "apple_id", NULL), ==, SHARED_ID);
    }

  d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (d)) != NULL)
    g_assert_null (strstr (name, ".corrupt-"));
}

typedef enum {
  OUTCOME_OK,
  OUTCOME_IN_USE,
} Outcome;

/* One sign-in of the shared account on the default main context. */
static Outcome
attempt_sign_in (ICloudEndpoint *endpoint,
                 const char     *dir,
                 gint64         *elapsed)
{
  Round round;
  gint64 start = g_get_monotonic_time ();
  Outcome outcome;

  round_init (&round, 1);
  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              new_ready, &round.slots[0],
                              "apple-id", SHARED_ID,
                              "password", SHARED_PASSWORD,
                              "endpoint", endpoint,
                              "cookie-directory", dir,
                              NULL);
  wait_round (&round);
  *elapsed = g_get_monotonic_time () - start;

  if (round.slots[0].error == NULL)
    {
      g_assert_cmpint (icloud_session_get_state (round.slots[0].session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
      outcome = OUTCOME_OK;
      close_round (&round);
    }
  else
    {
      /* The only way to fail here: the other process has the account,
       * said in so many words. */
      g_assert_error (round.slots[0].error, ICLOUD_ERROR, ICLOUD_ERROR_STORAGE);
      g_assert_nonnull (strstr (round.slots[0].error->message, "in use by another process"));
      g_assert_nonnull (strstr (round.slots[0].error->message, SHARED_ID));
      g_assert_null (strstr (round.slots[0].error->message, SHARED_PASSWORD));
      outcome = OUTCOME_IN_USE;
      round_clear (&round);
    }
  return outcome;
}

/* @n_attempts sign-ins of the shared account one after the other, the
 * outcomes noted in @report. */
static void
run_attempts (ICloudEndpoint *endpoint,
              const char     *dir,
              guint           n_attempts,
              gboolean        file_exists,
              const char     *who,
              GString        *report)
{
  for (guint i = 0; i < n_attempts; i++)
    {
      gint64 elapsed = 0;
      Outcome outcome = attempt_sign_in (endpoint, dir, &elapsed);

      g_string_append_printf (report, "RESULT %s %u %s %" G_GINT64_FORMAT "\n", who, i,
                              outcome == OUTCOME_OK ? "ok" : "in-use", elapsed / 1000);
      /* Whoever reads the file, whenever: it is whole (written to a
       * temporary file and renamed over). */
      assert_file_intact (dir, file_exists);
      /* a little apart, so that the next ones meet in various phases */
      run_for (g_random_int_range (5, 200));
    }
}

/* /load/child, in the child process of /load/two-processes-one-account */
static void
run_child (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) endpoint = NULL;
  g_autoptr(GString) report = g_string_new (NULL);
  const char *dir = g_getenv ("TEST_DIR");
  guint n_attempts = (guint) g_ascii_strtoull (g_getenv ("TEST_ATTEMPTS"), NULL, 10);

  endpoint = icloud_endpoint_new_for_base_uri (g_getenv ("TEST_BASE_URI"), &error);
  g_assert_no_error (error);

  g_file_set_contents (g_getenv ("TEST_READY"), "ready", -1, &error);
  g_assert_no_error (error);
  run_attempts (endpoint, dir, n_attempts, g_getenv ("TEST_FILE_EXISTS") != NULL, "child", report);

  g_print ("%s", report->str);
}

typedef struct {
  char     *stdout_buf;
  GError   *error;
  gboolean  done;
} ChildResult;

static void
communicate_ready (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  ChildResult *child = user_data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result,
                                        &child->stdout_buf, NULL, &child->error);
  child->done = TRUE;
}

typedef struct {
  guint ok;
  guint in_use;
  guint parent_ok;
  guint child_ok;
} Tally;

static void
tally_line (Tally      *tally,
            const char *line,
            guint       slow_ms)
{
  g_auto(GStrv) fields = g_strsplit (line, " ", -1);
  gboolean ok;
  guint64 ms;

  g_assert_cmpuint (g_strv_length (fields), ==, 5);
  g_assert_cmpstr (fields[0], ==, "RESULT");
  ok = g_str_equal (fields[3], "ok");
  g_assert_true (ok || g_str_equal (fields[3], "in-use"));
  ms = g_ascii_strtoull (fields[4], NULL, 10);
  if (ok)
    {
      tally->ok++;
      if (g_str_equal (fields[1], "parent"))
        tally->parent_ok++;
      else
        tally->child_ok++;
    }
  else
    {
      tally->in_use++;
      /* Fails fast: without waiting for the lock. */
      if (slow_ms > 0)
        g_assert_cmpuint (ms, <, slow_ms);
    }
}

/* Runs @n_attempts sign-ins of the shared account here and as many in a
 * child process at the same time. Both start within a millisecond or so of
 * each other: the child writes the ready file and starts, this process
 * starts as soon as it sees the file. */
static Tally
run_two_processes (Fixture *fixture,
                   guint    n_attempts,
                   guint    slow_ms)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GString) report = g_string_new (NULL);
  g_autofree char *path = shared_file (fixture->base.dir);
  gboolean file_exists = g_file_test (path, G_FILE_TEST_EXISTS);
  g_autofree char *ready = g_build_filename (g_get_user_runtime_dir (), "load-child-ready", NULL);
  g_autofree char *attempts = g_strdup_printf ("%u", n_attempts);
  g_auto(GStrv) lines = NULL;
  ChildResult result = { NULL, };
  Tally tally = { 0, };
  gint64 deadline;

  g_assert_cmpint (g_mkdir_with_parents (g_get_user_runtime_dir (), 0700), ==, 0);
  g_unlink (ready);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_setenv (launcher, "ICLOUD_LOAD_CHILD", "1", TRUE);
  g_subprocess_launcher_setenv (launcher, "TEST_BASE_URI", fixture->base_uri, TRUE);
  g_subprocess_launcher_setenv (launcher, "TEST_DIR", fixture->base.dir, TRUE);
  g_subprocess_launcher_setenv (launcher, "TEST_READY", ready, TRUE);
  g_subprocess_launcher_setenv (launcher, "TEST_ATTEMPTS", attempts, TRUE);
  if (file_exists)
    g_subprocess_launcher_setenv (launcher, "TEST_FILE_EXISTS", "1", TRUE);
  /* (A test path of its own: its isolated directories, removed when it
   * ends, are not this test's.) */
  child = g_subprocess_launcher_spawn (launcher, &error, test_argv0, "-p", "/load/child", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (child, NULL, NULL, communicate_ready, &result);

  deadline = g_get_monotonic_time () + 60 * G_TIME_SPAN_SECOND;
  while (!g_file_test (ready, G_FILE_TEST_EXISTS))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_assert_false (result.done);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (200);
    }

  run_attempts (fixture->base.endpoint, fixture->base.dir, n_attempts, file_exists, "parent", report);

  while (!result.done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_no_error (result.error);
  g_assert_true (g_subprocess_get_if_exited (child));
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);

  g_string_append (report, result.stdout_buf);
  g_free (result.stdout_buf);
  g_test_message ("%s", report->str);

  lines = g_strsplit (report->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], "RESULT "))
      tally_line (&tally, lines[i], slow_ms);
  g_assert_cmpuint (tally.ok + tally.in_use, ==, 2 * n_attempts);

  g_unlink (ready);
  return tally;
}

static void
test_two_processes (Fixture       *fixture,
                    gconstpointer  user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSession) third = NULL;
  Tally tally;
  guint n_loop = 5;

  /* Once: the winner's proof is held back SLOW_MS by the server, so the
   * two overlap whoever wins; the loser hears at once. */
  icloud_mock_server_inject_fault_full (fixture->base.server, SIGNIN_COMPLETE,
                                        ICLOUD_MOCK_FAULT_SLOW, 1, 0, SLOW_MS);
  tally = run_two_processes (fixture, 1, SLOW_MS);
  g_test_message ("once: the %s won", tally.parent_ok ? "parent" : "child");
  g_assert_cmpuint (tally.ok, ==, 1);
  g_assert_cmpuint (tally.in_use, ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, SHARED_ID, SIGNIN_INIT), ==, 1);
  icloud_mock_server_clear_faults (fixture->base.server);
  assert_file_intact (fixture->base.dir, TRUE);

  /* A third session, without the password, signs in from the file. */
  third = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                          "apple-id", SHARED_ID,
                          "endpoint", fixture->base.endpoint,
                          "cookie-directory", fixture->base.dir,
                          NULL);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (third), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, SHARED_ID, SIGNIN_INIT), ==, 1);
  g_assert_true (icloud_session_close (third, NULL, &error));
  g_assert_no_error (error);

  /* In a loop: each process signs in again and again while the other
   * does, each validate held back a little so that they keep meeting. The
   * file parses after every attempt of either, and nothing is ever set
   * aside as corrupt. */
  icloud_mock_server_inject_fault_full (fixture->base.server, VALIDATE,
                                        ICLOUD_MOCK_FAULT_SLOW, 2 * n_loop, 0, 150);
  tally = run_two_processes (fixture, n_loop, 0);
  icloud_mock_server_clear_faults (fixture->base.server);
  g_test_message ("loop: %u sign-ins (%u here, %u in the child), %u told the account is in use",
                  tally.ok, tally.parent_ok, tally.child_ok, tally.in_use);
  g_assert_cmpuint (tally.ok, >=, 1);
  /* Both started together: the first ones met. */
  g_assert_cmpuint (tally.in_use, >=, 1);
  assert_file_intact (fixture->base.dir, TRUE);

  /* The saved session went through all that and still works; the password
   * was only ever proven once. */
  g_clear_object (&third);
  third = g_initable_new (ICLOUD_TYPE_SESSION, NULL, &error,
                          "apple-id", SHARED_ID,
                          "endpoint", fixture->base.endpoint,
                          "cookie-directory", fixture->base.dir,
                          NULL);
  g_assert_no_error (error);
  g_assert_cmpint (icloud_session_get_state (third), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, SHARED_ID, SIGNIN_INIT), ==, 1);
  g_assert_cmpuint (isolation_violations (fixture), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Two accounts, one directory */

/* Every cookie value and every stored value (tokens, scnt, ids) of the
 * session file at @path. */
static GPtrArray *
secrets_of (const char *path,
            const char *apple_id)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  GPtrArray *values = g_ptr_array_new_with_free_func (g_free);
  static const char * const own_keys[] = {
    "client_id", "session_token", "trust_token", "scnt", "session_id",
    "auth_attributes", "dsid",
  };
  JsonObject *root, *data;
  JsonArray *cookies;

  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "apple_id"), ==, apple_id);

  cookies = json_object_get_array_member (root, "cookies");
  for (guint i = 0; i < json_array_get_length (cookies); i++)
    {
      JsonObject *cookie = json_array_get_object_element (cookies, i);

      g_ptr_array_add (values, g_strdup_printf ("cookie %s=%s", json_object_get_string_member (cookie, "name"),
                                                json_object_get_string_member (cookie, "value")));
    }
  /* The web session lives in cookies: there are some. */
  g_assert_cmpuint (values->len, >=, 3);

  /* The tokens and identifiers the account was given (not the country,
   * nor the times of its sign-ins, which two accounts may share). */
  data = json_object_get_object_member (root, "data");
  for (guint i = 0; i < G_N_ELEMENTS (own_keys); i++)
    {
      const char *value = json_object_get_string_member_with_default (data, own_keys[i], NULL);

      if (value != NULL)
        g_ptr_array_add (values, g_strdup_printf ("data %s=%s", own_keys[i], value));
    }
  g_assert_nonnull (json_object_get_string_member_with_default (data, "session_token", NULL));
  return values;
}

static void
assert_none_in (GPtrArray  *values,
                const char *path)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  for (guint i = 0; i < values->len; i++)
    {
      const char *what = g_ptr_array_index (values, i);
      const char *value = strchr (what, '=') + 1;

      /* Too short to be anybody's secret (and it would match by chance). */
      if (strlen (value) < 8)
        continue;
      if (g_strstr_len (contents, len, value) != NULL)
        g_test_message ("the value of %.*s is in %s too", (int) (value - what - 1), what, path);
      g_assert_null (g_strstr_len (contents, len, value));
    }
}

static void
test_isolation_shared_directory (Fixture       *fixture,
                                 gconstpointer  user_data)
{
  static const char * const ids[] = { "alice-iso@example.com", "bob-iso@example.com" };
  static const char * const passwords[] = { "alice's password", "bob's password" };
  g_autofree char *path_a = test_account_file (fixture->base.dir, ids[0], ".session.json");
  g_autofree char *path_b = test_account_file (fixture->base.dir, ids[1], ".session.json");

  /* With passwords, then from the saved sessions (which sends the web
   * session cookies to validate): both times both at once. */
  for (guint pass = 0; pass < 2; pass++)
    {
      g_autoptr(GPtrArray) a = NULL;
      g_autoptr(GPtrArray) b = NULL;
      Round round;

      round_init (&round, 2);
      for (guint i = 0; i < 2; i++)
        start_sign_in (fixture, &round.slots[i], ids[i], pass == 0 ? passwords[i] : NULL);
      wait_round (&round);
      for (guint i = 0; i < 2; i++)
        {
          g_assert_no_error (round.slots[i].error);
          g_assert_cmpint (icloud_session_get_state (round.slots[i].session), ==, ICLOUD_AUTH_STATE_AUTHENTICATED);
          g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, ids[i], SIGNIN_INIT), ==, 1);
        }
      g_assert_cmpuint (isolation_violations (fixture), ==, 0);

      a = secrets_of (path_a, ids[0]);
      b = secrets_of (path_b, ids[1]);
      assert_none_in (a, path_b);
      assert_none_in (b, path_a);
      close_round (&round);
    }
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, ids[0], VALIDATE), ==, 1);
  g_assert_cmpuint (icloud_mock_server_count_requests (fixture->base.server, ids[1], VALIDATE), ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  guint n = under_valgrind () ? N_ACCOUNTS_VALGRIND : N_ACCOUNTS;

  /* GLib 2.74's slice allocator keeps the slabs it once used (about 13 KiB
   * an account after 500 sign-ins, measured; GLib 2.76 dropped it for
   * plain malloc ()), which would hide what the library itself keeps. It
   * reads G_SLICE before main (), hence once more from the start. (The
   * valgrind setup sets it already.) */
  if (getenv ("G_SLICE") == NULL)
    {
      setenv ("G_SLICE", "always-malloc", 1);
      execv ("/proc/self/exe", argv);
      g_error ("Cannot run %s again: %s", argv[0], g_strerror (errno));
    }

  test_argv0 = argv[0];
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  if (is_child ())
    {
      g_test_add_func ("/load/child", run_child);
      return g_test_run ();
    }

#define ADD(path, n, func) \
  g_test_add (path, Fixture, GUINT_TO_POINTER (n), fixture_setup, func, fixture_teardown)
  g_test_add ("/load/500-accounts", Fixture, GUINT_TO_POINTER (n),
              fixture_setup_process, test_500_accounts, fixture_teardown);
  ADD ("/load/two-processes-one-account", 0, test_two_processes);
  ADD ("/load/isolation-shared-directory", 0, test_isolation_shared_directory);
#undef ADD

  return g_test_run ();
}
