/* icloud-bench: concurrent sign-ins, memory per session and main-loop stalls
 * of libicloud-glib against the standalone fake iCloud server, against the
 * bare cost of the cryptography (the floor) and against Python (pyicloud
 * 1.0.0's threads, and a pure-Python SRP client on python3-srp).
 *
 *   icloud-bench signin  --accounts N [--iterations 20000] [--json FILE]
 *   icloud-bench restore --accounts N [--json FILE]
 *   icloud-bench floor   [--iterations 20000] [--json FILE]
 *   icloud-bench layer   --accounts N [--repeat K] [--max-ratio R] [--json FILE]
 *   icloud-bench all     [--sizes 1,10,100,1000] [--json FILE] [--plot FILE]
 *
 * `icloud-bench --help` says it all; docs/benchmarks.md has a run.
 *
 * What is measured, in the bench process only (the fake server is another
 * process; its CPU is not counted):
 *   wall time       from the first sign-in started to the last one done;
 *   CPU per login   user+sys time of the process (getrusage) over the run,
 *                   minus the CPU of the bench's own control thread (which
 *                   reads the 2FA codes from the fake server), / N;
 *   peak RSS        VmHWM of the process;
 *   RSS per session (VmRSS once all are signed in and idle, after
 *                   malloc_trim, − VmRSS before the first session) / N;
 *   longest stall   the largest gap between two dispatches of a 1 ms
 *                   timeout source on the main loop during the run.
 *
 * Never prints a password, token, cookie, SRP value or code.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/utsname.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-crypto-private.h"
#include "icloud-srp-private.h"

#define DEFAULT_ITERATIONS 20000
#define DEFAULT_SIZES      "1,10,100,1000"
#define ACCOUNT_DOMAIN     "bench.example.com"
#define IDLE_SETTLE_MS     200

/* ------------------------------------------------------------------ */
/* options */

static char    *opt_base_uri;
static char    *opt_mock_server;
static char    *opt_prefix;
static char    *opt_cookie_dir;
static char    *opt_json;
static char    *opt_plot;
static char    *opt_sizes;
static char    *opt_factor;
static char    *opt_python;
static char    *opt_python_script;
static char    *opt_plot_script;
static gint     opt_accounts = 10;
static gint     opt_iterations = DEFAULT_ITERATIONS;
static gint     opt_floor_reps;
static gint     opt_py_workers;
static gint     opt_max_conns = -1;
static gint     opt_window;
static gint     opt_compare_window;
static gdouble  opt_floor_ms;
static gdouble  opt_max_ratio;
static gint     opt_repeat = 1;
static gboolean opt_no_python;
static gboolean opt_no_warm;
static gboolean opt_quiet;
static gboolean opt_self_check;

static GOptionEntry entries[] = {
  { "accounts", 'n', 0, G_OPTION_ARG_INT, &opt_accounts,
    "signin/restore: how many accounts at once (default 10)", "N" },
  { "sizes", 0, 0, G_OPTION_ARG_STRING, &opt_sizes,
    "all: the values of N (default " DEFAULT_SIZES ")", "N,N,…" },
  { "iterations", 'i', 0, G_OPTION_ARG_INT, &opt_iterations,
    "PBKDF2 iterations of the accounts and of the floor (default 20000, as Apple)", "N" },
  { "factor", 0, 0, G_OPTION_ARG_STRING, &opt_factor,
    "auto (2FA when the hsa2 plugin is installed), hsa2 or none (default auto)", "F" },
  { "json", 'j', 0, G_OPTION_ARG_FILENAME, &opt_json,
    "Write the results as JSON to FILE (- for standard output)", "FILE" },
  { "plot", 0, 0, G_OPTION_ARG_FILENAME, &opt_plot,
    "all: draw the plot to FILE (.svg or .png) with bench/icloud-bench-plot.sh", "FILE" },
  { "base-uri", 0, 0, G_OPTION_ARG_STRING, &opt_base_uri,
    "Use this running fake server instead of starting one", "URI" },
  { "mock-server", 0, 0, G_OPTION_ARG_FILENAME, &opt_mock_server,
    "The icloud-mock-server program (default: $ICLOUD_MOCK_SERVER, else the build tree's)", "PATH" },
  { "prefix", 0, 0, G_OPTION_ARG_STRING, &opt_prefix,
    "Use the accounts PREFIX-0…PREFIX-(N-1)@" ACCOUNT_DOMAIN ", already on the server", "PREFIX" },
  { "cookie-directory", 0, 0, G_OPTION_ARG_FILENAME, &opt_cookie_dir,
    "signin: where to save the sessions; restore: where they were saved", "DIR" },
  { "floor-ms", 0, 0, G_OPTION_ARG_DOUBLE, &opt_floor_ms,
    "Use this floor (CPU ms per login) instead of measuring it", "MS" },
  { "floor-reps", 0, 0, G_OPTION_ARG_INT, &opt_floor_reps,
    "Repetitions of the floor (default: about 1.5 s of CPU)", "N" },
  { "no-warm", 0, 0, G_OPTION_ARG_NONE, &opt_no_warm,
    "Do not make the fake server compute its verifiers before the clock starts", NULL },
  { "no-python", 0, 0, G_OPTION_ARG_NONE, &opt_no_python,
    "all: skip the Python comparison", NULL },
  { "python", 0, 0, G_OPTION_ARG_FILENAME, &opt_python,
    "The Python interpreter (default /usr/bin/python3)", "PATH" },
  { "python-script", 0, 0, G_OPTION_ARG_FILENAME, &opt_python_script,
    "bench/icloud-bench-py.py (default: the source tree's)", "PATH" },
  { "max-conns", 0, 0, G_OPTION_ARG_INT, &opt_max_conns,
    "Connections to the fake server at once through a SoupSession of the bench's own "
    "(default 0: the library's own shared SoupSession and request gate)", "N" },
  { "window", 0, 0, G_OPTION_ARG_INT, &opt_window,
    "signin/restore: at most N logins in flight (default 0: all N at once)", "N" },
  { "compare-window", 0, 0, G_OPTION_ARG_INT, &opt_compare_window,
    "all: at the largest N, also run signin with --window N (admission control, "
    "as the library could do it)", "N" },
  { "py-workers", 0, 0, G_OPTION_ARG_INT, &opt_py_workers,
    "Python thread pool size (default: --max-conns, or 16 with the library's defaults)", "N" },
  { "plot-script", 0, 0, G_OPTION_ARG_FILENAME, &opt_plot_script,
    "bench/icloud-bench-plot.sh (default: the source tree's)", "PATH" },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &opt_quiet, "No progress on standard error", NULL },
  { "repeat", 0, 0, G_OPTION_ARG_INT, &opt_repeat,
    "layer: run both K times, alternately, and compare the least CPU per login of each "
    "(default 1)", "K" },
  { "max-ratio", 0, 0, G_OPTION_ARG_DOUBLE, &opt_max_ratio,
    "layer: fail when the CPU per login through icloud_glib is more than R times the C "
    "library's (default: no limit)", "R" },
  { "self-check", 0, 0, G_OPTION_ARG_NONE, &opt_self_check,
    "signin/restore: fail unless every login succeeded and the report has every field "
    "(the test suite's smoke test)", NULL },
  { NULL }
};

static const char *description =
  "Modes:\n"
  "  signin   N accounts sign in at once on one main loop: SRP at the accounts'\n"
  "           iterations, then (2FA accounts, hsa2 plugin installed) request a\n"
  "           code, read it from the fake server, validate it and trust the\n"
  "           session. Reports wall time, logins/s, CPU per login (and of it\n"
  "           the main thread's), peak RSS, RSS per idle signed-in session,\n"
  "           the longest main-loop stall and CPU per login / floor.\n"
  "  restore  the same N accounts restored from their saved sessions (validate\n"
  "           only, no password); same metrics. Without --cookie-directory it\n"
  "           first runs `signin` in a child process to save them.\n"
  "  floor    the bare CPU cost of one login's cryptography: PBKDF2-HMAC-SHA256\n"
  "           at --iterations, g^a and the S computation of the client.\n"
  "  layer    the same N sign-ins through the C library (signin) and through\n"
  "           the Python package icloud_glib (asyncio.gather in one asyncio loop,\n"
  "           /usr/bin/python3), each in a process of its own against one fake\n"
  "           server; reports both and the ratio of their CPU per login\n"
  "           (--repeat: the least of K alternate runs of each; --max-ratio:\n"
  "           fail above it).\n"
  "  all      floor, then for each N of --sizes: signin, restore, icloud_glib\n"
  "           (Python, asyncio), pyicloud 1.0.0 (threads, legacy plain-password\n"
  "           sign-in), pyicloud restore, and a pure-Python SRP client\n"
  "           (threads); each in a process of its own, all against one fake\n"
  "           server. Writes one JSON document, prints a table, and draws the\n"
  "           plot with --plot.\n"
  "\n"
  "Without --base-uri, the fake server (icloud-mock-server) is started on\n"
  "127.0.0.1 and stopped at the end; the bench adds its accounts through\n"
  "POST /_mock/accounts and, unless --no-warm, makes the server compute each\n"
  "account's SRP verifier before the clock starts (Apple stores verifiers; the\n"
  "fake server derives them at first use).\n"
  "\n"
  "Example (the run of docs/benchmarks.md):\n"
  "  icloud-bench all --json bench.json --plot bench.svg\n";

/* ------------------------------------------------------------------ */
/* /proc and rusage */

static gint64
proc_status_kib (const char *field)
{
  g_autofree char *contents = NULL;
  gsize len = strlen (field);
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &contents, NULL, NULL))
    return -1;
  for (line = contents; line != NULL && *line != '\0'; )
    {
      const char *nl = strchr (line, '\n');

      if (strncmp (line, field, len) == 0 && line[len] == ':')
        return g_ascii_strtoll (line + len + 1, NULL, 10);
      line = nl ? nl + 1 : NULL;
    }
  return -1;
}

static gdouble
process_cpu_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static gdouble
clock_s (clockid_t id)
{
  struct timespec ts;

  if (clock_gettime (id, &ts) != 0)
    return 0;
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static gint64
rss_settled_kib (void)
{
  malloc_trim (0);
  return proc_status_kib ("VmRSS");
}

static void
progress (const char *format, ...) G_GNUC_PRINTF (1, 2);

static void
progress (const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  if (opt_quiet)
    return;
  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("icloud-bench: %s\n", text);
}

/* ------------------------------------------------------------------ */
/* accounts */

static char *
account_id (const char *prefix,
            guint       i)
{
  return g_strdup_printf ("%s-%u@" ACCOUNT_DOMAIN, prefix, i);
}

/* Fake accounts of the fake server; bench/icloud-bench-py.py derives the
 * same. Never printed. */
static char *
account_password (const char *prefix,
                  guint       i)
{
  return g_strdup_printf ("bench password %s %u", prefix, i);
}

static char *
accounts_json (const char *prefix,
               guint       first,
               guint       n,
               guint       iterations,
               gboolean    hsa2)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "accounts");
  json_builder_begin_array (b);
  for (guint i = first; i < first + n; i++)
    {
      g_autofree char *id = account_id (prefix, i);
      g_autofree char *password = account_password (prefix, i);
      g_autofree char *salt_b64 = NULL;
      g_autofree char *dsid = g_strdup_printf ("%u", 900000000u + i);
      guint8 salt[16];

      /* A leading zero byte would trip pysrp ≤ 1.0.21 (the Python side). */
      do
        icloud_crypto_random (salt, sizeof salt);
      while (salt[0] == 0);
      salt_b64 = g_base64_encode (salt, sizeof salt);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "apple_id");
      json_builder_add_string_value (b, id);
      json_builder_set_member_name (b, "password");
      json_builder_add_string_value (b, password);
      json_builder_set_member_name (b, "protocol");
      json_builder_add_string_value (b, "s2k");
      json_builder_set_member_name (b, "iterations");
      json_builder_add_int_value (b, iterations);
      json_builder_set_member_name (b, "salt");
      json_builder_add_string_value (b, salt_b64);
      json_builder_set_member_name (b, "factor");
      json_builder_add_string_value (b, hsa2 ? "hsa2" : "none");
      /* Lets pyicloud 1.0.0's plain-password sign-in in; SRP is unchanged. */
      json_builder_set_member_name (b, "legacy_password");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_set_member_name (b, "first_name");
      json_builder_add_string_value (b, "Bench");
      json_builder_set_member_name (b, "last_name");
      json_builder_add_string_value (b, "Account");
      json_builder_set_member_name (b, "dsid");
      json_builder_add_string_value (b, dsid);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ------------------------------------------------------------------ */
/* the control client: the fake server's /_mock/ API (and the warm-up),
 * in a thread of its own so that its CPU can be told apart from the
 * library's and it never runs on the measured main loop */

typedef struct {
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupSession  *soup;
  clockid_t     cpu_clock;
  gboolean      cpu_clock_ok;
  GMutex        lock;
  GCond         cond;
  gboolean      ready;
} Control;

static Control control;

typedef struct {
  char   *method;
  char   *uri;
  GBytes *body;
  GTask  *task;
} ControlJob;

static void
control_job_free (ControlJob *job)
{
  g_free (job->method);
  g_free (job->uri);
  g_clear_pointer (&job->body, g_bytes_unref);
  g_clear_object (&job->task);
  g_free (job);
}

static gpointer
control_thread (gpointer data)
{
  g_main_context_push_thread_default (control.context);
  /* Few connections: reading codes is not what is measured. */
  control.soup = soup_session_new_with_options ("max-conns", 2,
                                                "max-conns-per-host", 2,
                                                "timeout", 300,
                                                NULL);
  g_mutex_lock (&control.lock);
  control.cpu_clock_ok = pthread_getcpuclockid (pthread_self (), &control.cpu_clock) == 0;
  control.ready = TRUE;
  g_cond_signal (&control.cond);
  g_mutex_unlock (&control.lock);

  g_main_loop_run (control.loop);

  g_clear_object (&control.soup);
  while (g_main_context_pending (control.context))
    g_main_context_iteration (control.context, FALSE);
  g_main_context_pop_thread_default (control.context);
  return NULL;
}

static void
control_start (void)
{
  g_mutex_init (&control.lock);
  g_cond_init (&control.cond);
  control.context = g_main_context_new ();
  control.loop = g_main_loop_new (control.context, FALSE);
  control.thread = g_thread_new ("bench-control", control_thread, NULL);
  g_mutex_lock (&control.lock);
  while (!control.ready)
    g_cond_wait (&control.cond, &control.lock);
  g_mutex_unlock (&control.lock);
}

static gboolean
control_quit_cb (gpointer data)
{
  g_main_loop_quit (control.loop);
  return G_SOURCE_REMOVE;
}

static void
control_stop (void)
{
  if (control.thread == NULL)
    return;
  g_main_context_invoke (control.context, control_quit_cb, NULL);
  g_thread_join (control.thread);
  control.thread = NULL;
  g_main_loop_unref (control.loop);
  g_main_context_unref (control.context);
}

/* The CPU time of the control thread so far. */
static gdouble
control_cpu_s (void)
{
  return control.cpu_clock_ok ? clock_s (control.cpu_clock) : 0;
}

static void
control_sent_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  ControlJob *job = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = NULL;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  guint status;

  bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), result, &error);
  status = msg ? soup_message_get_status (msg) : 0;
  if (bytes == NULL)
    g_task_return_error (job->task, g_steal_pointer (&error));
  else if (status < 200 || status >= 300)
    g_task_return_new_error (job->task, G_IO_ERROR, G_IO_ERROR_FAILED,
                             "%s %s: HTTP %u", job->method,
                             strchr (job->uri + strlen ("http://"), '/'), status);
  else
    g_task_return_pointer (job->task, g_steal_pointer (&bytes), (GDestroyNotify) g_bytes_unref);
  control_job_free (job);
}

static gboolean
control_send_cb (gpointer data)
{
  ControlJob *job = data;
  g_autoptr(SoupMessage) msg = soup_message_new (job->method, job->uri);

  if (msg == NULL)
    {
      g_task_return_new_error (job->task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "bad URI");
      control_job_free (job);
      return G_SOURCE_REMOVE;
    }
  if (job->body != NULL)
    soup_message_set_request_body_from_bytes (msg, "application/json", job->body);
  soup_session_send_and_read_async (control.soup, msg, G_PRIORITY_DEFAULT, NULL,
                                    control_sent_cb, job);
  return G_SOURCE_REMOVE;
}

/* @callback runs in the thread-default context of the caller. */
static void
control_request_async (const char          *method,
                       const char          *uri,
                       GBytes              *body,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  ControlJob *job = g_new0 (ControlJob, 1);

  job->method = g_strdup (method);
  job->uri = g_strdup (uri);
  job->body = body ? g_bytes_ref (body) : NULL;
  job->task = g_task_new (NULL, NULL, callback, user_data);
  g_main_context_invoke (control.context, control_send_cb, job);
}

static GBytes *
control_request_finish (GAsyncResult  *result,
                        GError       **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

typedef struct {
  GBytes  *bytes;
  GError  *error;
  gboolean done;
} SyncReply;

static void
sync_reply_cb (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  SyncReply *reply = user_data;

  reply->bytes = control_request_finish (result, &reply->error);
  reply->done = TRUE;
}

static GBytes *
control_request (const char  *method,
                 const char  *uri,
                 GBytes      *body,
                 GError     **error)
{
  SyncReply reply = { 0 };

  control_request_async (method, uri, body, sync_reply_cb, &reply);
  while (!reply.done)
    g_main_context_iteration (NULL, TRUE);
  if (reply.error != NULL)
    g_propagate_error (error, reply.error);
  return reply.bytes;
}

static JsonNode *
parse_json_bytes (GBytes  *bytes,
                  GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();

  if (!json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL),
                                   g_bytes_get_size (bytes), error))
    return NULL;
  return json_node_ref (json_parser_get_root (parser));
}

static gint64
control_count_requests (const char *base_uri,
                        const char *apple_id)
{
  g_autofree char *escaped = g_uri_escape_string (apple_id, NULL, FALSE);
  g_autofree char *uri = g_strdup_printf ("%s/_mock/requests?apple_id=%s", base_uri, escaped);
  g_autoptr(GBytes) bytes = control_request ("GET", uri, NULL, NULL);
  g_autoptr(JsonNode) node = bytes ? parse_json_bytes (bytes, NULL) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return -1;
  return json_object_get_int_member_with_default (json_node_get_object (node), "count", -1);
}

static void
control_clear_requests (const char *base_uri)
{
  g_autofree char *uri = g_strdup_printf ("%s/_mock/requests/clear", base_uri);
  g_autoptr(GBytes) bytes = control_request ("POST", uri, NULL, NULL);
}

/* Adds the accounts; with @warm, asks the server for one signin/init per
 * account so that it derives and keeps each verifier now. */
static gboolean
create_accounts (const char  *base_uri,
                 const char  *prefix,
                 guint        n,
                 guint        iterations,
                 gboolean     hsa2,
                 gboolean     warm,
                 gdouble     *warm_s,
                 GError     **error)
{
  g_autofree char *uri = g_strdup_printf ("%s/_mock/accounts", base_uri);
  g_autofree char *init_uri = g_strdup_printf ("%s/appleauth/auth/signin/init", base_uri);
  char *json = accounts_json (prefix, 0, n, iterations, hsa2);
  gsize json_len = strlen (json);
  g_autoptr(GBytes) body = g_bytes_new_take (json, json_len);
  g_autoptr(GBytes) reply = NULL;
  SyncReply *replies;
  gint64 start;
  gboolean ok = TRUE;

  reply = control_request ("POST", uri, body, error);
  if (reply == NULL)
    return FALSE;

  *warm_s = 0;
  if (!warm)
    return TRUE;

  start = g_get_monotonic_time ();
  replies = g_new0 (SyncReply, n);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *id = account_id (prefix, i);
      g_autofree char *init = g_strdup_printf ("{\"a\":\"Ag==\",\"accountName\":\"%s\","
                                               "\"protocols\":[\"s2k\",\"s2k_fo\"]}", id);
      g_autoptr(GBytes) init_body = g_bytes_new (init, strlen (init));

      control_request_async ("POST", init_uri, init_body, sync_reply_cb, &replies[i]);
    }
  for (guint i = 0; i < n; i++)
    {
      while (!replies[i].done)
        g_main_context_iteration (NULL, TRUE);
      if (replies[i].error != NULL && ok)
        {
          g_propagate_error (error, g_steal_pointer (&replies[i].error));
          ok = FALSE;
        }
      g_clear_error (&replies[i].error);
      g_clear_pointer (&replies[i].bytes, g_bytes_unref);
    }
  g_free (replies);
  *warm_s = (g_get_monotonic_time () - start) / 1e6;
  return ok;
}

/* ------------------------------------------------------------------ */
/* the fake server */

static GSubprocess *mock_process;

static char *
default_mock_server (void)
{
  const char *env = g_getenv ("ICLOUD_MOCK_SERVER");

  if (opt_mock_server != NULL)
    return g_strdup (opt_mock_server);
  if (env != NULL && *env != '\0')
    return g_strdup (env);
  return g_strdup (ICLOUD_BENCH_MOCK_SERVER);
}

static char *
start_mock_server (GError **error)
{
  g_autofree char *program = default_mock_server ();
  g_autofree char *accounts_file = NULL;
  g_autoptr(GDataInputStream) lines = NULL;
  g_autofree char *line = NULL;
  int fd;

  /* The server wants a file; the bench adds its accounts later. */
  fd = g_file_open_tmp ("icloud-bench-accounts-XXXXXX.json", &accounts_file, error);
  if (fd < 0)
    return NULL;
  close (fd);
  if (!g_file_set_contents (accounts_file, "{\"accounts\":[]}", -1, error))
    return NULL;

  mock_process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDIN_PIPE,
                                   error, program, "--accounts", accounts_file,
                                   "--exit-on-eof", NULL);
  if (mock_process == NULL)
    {
      g_unlink (accounts_file);
      return NULL;
    }
  lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (mock_process));
  line = g_data_input_stream_read_line_utf8 (lines, NULL, NULL, error);
  g_unlink (accounts_file);
  if (line == NULL || !g_str_has_prefix (line, "ICLOUD_MOCK_BASE_URI="))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s did not start", program);
      return NULL;
    }
  return g_strdup (line + strlen ("ICLOUD_MOCK_BASE_URI="));
}

static void
stop_mock_server (void)
{
  if (mock_process == NULL)
    return;
  g_subprocess_send_signal (mock_process, SIGTERM);
  g_subprocess_wait (mock_process, NULL, NULL);
  g_clear_object (&mock_process);
}

/* ------------------------------------------------------------------ */
/* the floor: one login's cryptography, on one thread */

typedef struct {
  guint   reps;
  gdouble cpu_ms;       /* per login */
  gdouble pbkdf2_ms;
  gdouble client_new_ms; /* a and g^a */
  gdouble process_ms;    /* u, x, g^x, S, K, M1, M2 */
  guint   long_a_reps;
  gdouble long_a_modexp_ms; /* g^a + S with a 2048-bit a (before issue 7) */
} Floor;

static void
measure_floor (guint  iterations,
               guint  reps,
               Floor *floor)
{
  const char *password = "floor password";
  const char *identity = "floor@" ACCOUNT_DOMAIN;
  guint8 salt[16];
  guint8 p[32];
  g_autoptr(GBytes) v = NULL;
  g_autoptr(ICloudSrpServer) server = NULL;
  g_autoptr(GBytes) B = NULL;
  gdouble t_pbkdf2 = 0, t_new = 0, t_process = 0;
  gdouble t0, t1;
  guint done = 0;
  gdouble budget = reps ? G_MAXDOUBLE : 1.5;

  icloud_crypto_random (salt, sizeof salt);
  icloud_srp_derive_password (ICLOUD_SRP_S2K, password, salt, sizeof salt, iterations, p);
  v = icloud_srp_compute_verifier (salt, sizeof salt, p);
  server = icloud_srp_server_new (g_bytes_get_data (v, NULL), g_bytes_get_size (v), NULL, 0);
  B = icloud_srp_server_get_B (server);

  while ((reps == 0 || done < reps) &&
         (reps != 0 || done < 10 || t_pbkdf2 + t_new + t_process < budget))
    {
      g_autoptr(ICloudSrpClient) client = NULL;
      g_autoptr(GBytes) A = NULL;
      g_autoptr(GError) error = NULL;
      guint8 pp[32];
      gsize B_len;
      const guint8 *B_data = g_bytes_get_data (B, &B_len);

      t0 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      icloud_srp_derive_password (ICLOUD_SRP_S2K, password, salt, sizeof salt, iterations, pp);
      t1 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      t_pbkdf2 += t1 - t0;

      t0 = t1;
      client = icloud_srp_client_new ();
      A = icloud_srp_client_get_A (client);
      t1 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      t_new += t1 - t0;

      t0 = t1;
      if (!icloud_srp_client_process (client, identity, pp, salt, sizeof salt,
                                      B_data, B_len, &error))
        g_error ("floor: the SRP maths failed: %s", error->message);
      t1 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      t_process += t1 - t0;
      icloud_crypto_wipe (pp, sizeof pp);
      done++;
    }
  floor->reps = done;
  floor->pbkdf2_ms = t_pbkdf2 * 1e3 / done;
  floor->client_new_ms = t_new * 1e3 / done;
  floor->process_ms = t_process * 1e3 / done;
  floor->cpu_ms = floor->pbkdf2_ms + floor->client_new_ms + floor->process_ms;

  /* For the record: what the library's former 2048-bit client secret cost
   * (g^a and S only). The floor above uses icloud_srp_client_new (), the
   * secret the library really draws (256 bits since issue 7). */
  t_new = t_process = 0;
  for (guint r = 0; r < MAX (done / 4, 5u); r++)
    {
      g_autoptr(ICloudSrpClient) client = NULL;
      g_autoptr(GBytes) A = NULL;
      g_autoptr(GError) error = NULL;
      guint8 a[256];
      gsize B_len;
      const guint8 *B_data = g_bytes_get_data (B, &B_len);

      icloud_crypto_random (a, sizeof a);
      a[0] |= 0x80;
      t0 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      client = icloud_srp_client_new_with_a (a, sizeof a);
      A = icloud_srp_client_get_A (client);
      t1 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      t_new += t1 - t0;
      t0 = t1;
      if (!icloud_srp_client_process (client, identity, p, salt, sizeof salt,
                                      B_data, B_len, &error))
        g_error ("floor: the SRP maths failed: %s", error->message);
      t1 = clock_s (CLOCK_THREAD_CPUTIME_ID);
      t_process += t1 - t0;
      icloud_crypto_wipe (a, sizeof a);
      floor->long_a_reps = r + 1;
    }
  floor->long_a_modexp_ms = (t_new + t_process) * 1e3 / floor->long_a_reps;
  icloud_crypto_wipe (p, sizeof p);
}

static void
floor_to_json (JsonBuilder *b,
               const Floor *floor,
               guint        iterations)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "iterations");
  json_builder_add_int_value (b, iterations);
  json_builder_set_member_name (b, "reps");
  json_builder_add_int_value (b, floor->reps);
  json_builder_set_member_name (b, "cpu_per_login_ms");
  json_builder_add_double_value (b, floor->cpu_ms);
  json_builder_set_member_name (b, "pbkdf2_ms");
  json_builder_add_double_value (b, floor->pbkdf2_ms);
  json_builder_set_member_name (b, "client_new_ms");
  json_builder_add_double_value (b, floor->client_new_ms);
  json_builder_set_member_name (b, "process_ms");
  json_builder_add_double_value (b, floor->process_ms);
  json_builder_set_member_name (b, "long_a_modexp_ms");
  json_builder_add_double_value (b, floor->long_a_modexp_ms);
  json_builder_end_object (b);
}

/* ------------------------------------------------------------------ */
/* the stall probe: a 1 ms timeout on the measured main loop */

typedef struct {
  GSource *source;
  gint64   last;
  gdouble  last_cpu;
  gdouble  max_gap_cpu;  /* main-thread CPU (s) spent within one gap */
  gint64   max_gap;
  gint64   max_gap_rest;      /* the same, without the first gap (the start burst) */
  gdouble  max_gap_rest_cpu;
  guint    over_10ms;
  guint    ticks;
  gint64   threads_max;
} Probe;

static gboolean
probe_tick (gpointer data)
{
  Probe *probe = data;
  gint64 now = g_get_monotonic_time ();
  gdouble cpu = clock_s (CLOCK_THREAD_CPUTIME_ID);

  if (probe->last != 0)
    {
      gint64 gap = now - probe->last;

      probe->max_gap = MAX (probe->max_gap, gap);
      probe->max_gap_cpu = MAX (probe->max_gap_cpu, cpu - probe->last_cpu);
      if (probe->ticks > 0)
        {
          probe->max_gap_rest = MAX (probe->max_gap_rest, gap);
          probe->max_gap_rest_cpu = MAX (probe->max_gap_rest_cpu, cpu - probe->last_cpu);
        }
      if (gap > 10000)
        probe->over_10ms++;
    }
  probe->last = now;
  probe->last_cpu = cpu;
  /* Threads, every ~100 ms: a cheap read of /proc. */
  if (probe->ticks++ % 100 == 0)
    probe->threads_max = MAX (probe->threads_max, proc_status_kib ("Threads"));
  return G_SOURCE_CONTINUE;
}

static void
probe_start (Probe *probe)
{
  memset (probe, 0, sizeof *probe);
  probe->source = g_timeout_source_new (1);
  g_source_set_callback (probe->source, probe_tick, probe, NULL);
  g_source_set_name (probe->source, "[icloud-bench] stall probe");
  g_source_attach (probe->source, NULL);
  probe->last = g_get_monotonic_time ();
  probe->last_cpu = clock_s (CLOCK_THREAD_CPUTIME_ID);
}

static void
probe_stop (Probe *probe)
{
  probe_tick (probe);
  g_source_destroy (probe->source);
  g_clear_pointer (&probe->source, g_source_unref);
}

/* ------------------------------------------------------------------ */
/* signin and restore: N sessions at once on the main loop */

typedef struct _Run Run;

typedef struct {
  Run           *run;
  guint          index;
  char          *apple_id;
  ICloudSession *session;
  gboolean       ok;
} Login;

struct _Run {
  const char *base_uri;
  const char *cookie_dir;
  gboolean    restore;
  gboolean    hsa2;
  guint       n;
  guint       pending;
  guint       failed;
  guint       two_factor;     /* logins that went through 2FA + trust */
  gdouble     control_cpu;    /* CPU of the control thread for the codes */
  char       *first_error;
  Login      *logins;
  /* --window: at most this many logins in flight (0: all at once) */
  guint       window;
  guint       next;
  const char *prefix;
  ICloudEndpoint *endpoint;
  SoupSession    *soup;
};

static void start_login (Run *run);

static void
login_done (Login  *login,
            GError *error)
{
  Run *run = login->run;

  if (error != NULL)
    {
      run->failed++;
      if (run->first_error == NULL)
        run->first_error = g_strdup_printf ("%s: %s", login->apple_id, error->message);
      g_error_free (error);
    }
  else
    login->ok = TRUE;
  run->pending--;
  if (run->next < run->n)
    start_login (run);
}

static void
trust_cb (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Login *login = user_data;
  GError *error = NULL;

  icloud_session_trust_session_finish (ICLOUD_SESSION (source), result, &error);
  login_done (login, error);
}

static void
validate_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Login *login = user_data;
  GError *error = NULL;

  if (!icloud_session_validate_2fa_code_finish (ICLOUD_SESSION (source), result, &error))
    {
      login_done (login, error);
      return;
    }
  login->run->two_factor++;
  /* validate_2fa_code trusts the session already; trust it if it did not. */
  if (!icloud_session_get_is_trusted_session (login->session))
    {
      icloud_session_trust_session_async (login->session, NULL, trust_cb, login);
      return;
    }
  if (icloud_session_get_state (login->session) != ICLOUD_AUTH_STATE_AUTHENTICATED)
    {
      login_done (login, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                      "not authenticated after the code"));
      return;
    }
  login_done (login, NULL);
}

static void
code_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  Login *login = user_data;
  GError *error = NULL;
  g_autoptr(GBytes) bytes = control_request_finish (result, &error);
  g_autoptr(JsonNode) node = NULL;
  const char *code = NULL;

  if (bytes != NULL)
    node = parse_json_bytes (bytes, &error);
  if (node != NULL && JSON_NODE_HOLDS_OBJECT (node))
    code = json_object_get_string_member_with_default (json_node_get_object (node), "code", NULL);
  if (code == NULL)
    {
      login_done (login, error ? error : g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                                      "the fake server sent no code"));
      return;
    }
  icloud_session_validate_2fa_code_async (login->session, code, NULL, validate_cb, login);
}

static void
request_code_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Login *login = user_data;
  GError *error = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *uri = NULL;

  if (!icloud_session_request_2fa_code_finish (ICLOUD_SESSION (source), result, &error))
    {
      login_done (login, error);
      return;
    }
  /* The user reads the code on a trusted device; we ask the fake server. */
  escaped = g_uri_escape_string (login->apple_id, NULL, FALSE);
  uri = g_strdup_printf ("%s/_mock/code?apple_id=%s", login->run->base_uri, escaped);
  control_request_async ("GET", uri, NULL, code_cb, login);
}

static void
session_ready_cb (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  Login *login = user_data;
  GError *error = NULL;
  GObject *object;

  object = g_async_initable_new_finish (G_ASYNC_INITABLE (source), result, &error);
  if (object == NULL)
    {
      login_done (login, error);
      return;
    }
  login->session = ICLOUD_SESSION (object);

  switch (icloud_session_get_state (login->session))
    {
    case ICLOUD_AUTH_STATE_AUTHENTICATED:
      login_done (login, NULL);
      break;
    case ICLOUD_AUTH_STATE_NEEDS_2FA:
      if (login->run->restore)
        {
          login_done (login, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                          "the restored session asks for 2FA again"));
          break;
        }
      icloud_session_request_2fa_code_async (login->session, NULL, NULL,
                                             request_code_cb, login);
      break;
    default:
      login_done (login, g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED,
                                      "unexpected state %d after sign-in",
                                      icloud_session_get_state (login->session)));
      break;
    }
}

static void
start_login (Run *run)
{
  Login *login = &run->logins[run->next];
  g_autofree char *password = run->restore ? NULL : account_password (run->prefix, run->next);

  run->next++;
  g_async_initable_new_async (ICLOUD_TYPE_SESSION, G_PRIORITY_DEFAULT, NULL,
                              session_ready_cb, login,
                              "apple-id", login->apple_id,
                              "password", password,
                              "endpoint", run->endpoint,
                              "cookie-directory", run->cookie_dir,
                              "soup-session", run->soup,
                              NULL);
  if (password != NULL)
    icloud_crypto_wipe (password, strlen (password));
}

typedef struct {
  guint    n;
  guint    ok;
  guint    two_factor;
  gdouble  wall_s;
  gdouble  cpu_s;
  gdouble  control_cpu_s;
  gdouble  main_cpu_s;            /* CPU of the main thread (the main loop's) */
  gint64   rss_before_kib;
  gint64   rss_after_kib;
  gint64   heap_before;
  gint64   heap_after;
  gint64   peak_rss_kib;
  gint64   threads_max;
  gdouble  max_stall_ms;
  gdouble  max_stall_cpu_ms;
  gdouble  start_burst_ms;        /* starting the N logins, before the loop runs */
  gdouble  start_burst_cpu_ms;
  gdouble  max_stall_after_start_ms;
  gdouble  max_stall_after_start_cpu_ms;
  guint    stalls_over_10ms;
  gint64   requests_first;
  char    *first_error;
} Result;

static gboolean
quit_after_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_logins (const char *base_uri,
            const char *prefix,
            const char *cookie_dir,
            guint       n,
            gboolean    restore,
            gboolean    hsa2,
            gint        max_conns,
            Result     *res)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudEndpoint) endpoint = icloud_endpoint_new_for_base_uri (base_uri, &error);
  Run run = { 0 };
  Probe probe;
  gdouble cpu0, ctl0, start_cpu0, main_cpu0;
  gint64 t0, t1;
  gboolean settled = FALSE;
  g_autofree char *first_id = NULL;
  g_autoptr(SoupSession) soup = NULL;

  if (endpoint == NULL)
    g_error ("bad base URI: %s", error->message);

  memset (res, 0, sizeof *res);
  run.base_uri = base_uri;
  run.cookie_dir = cookie_dir;
  run.restore = restore;
  run.hsa2 = hsa2;
  run.n = n;
  run.pending = n;
  run.logins = g_new0 (Login, n);
  for (guint i = 0; i < n; i++)
    {
      run.logins[i].run = &run;
      run.logins[i].index = i;
      run.logins[i].apple_id = account_id (prefix, i);
    }
  first_id = g_strdup (run.logins[0].apple_id);
  control_clear_requests (base_uri);

  if (max_conns > 0)
    soup = soup_session_new_with_options ("timeout", 60,
                                          "max-conns", MAX (max_conns, 256),
                                          "max-conns-per-host", max_conns,
                                          NULL);

  res->rss_before_kib = rss_settled_kib ();
  res->heap_before = mallinfo2 ().uordblks;
  cpu0 = process_cpu_s ();
  ctl0 = control_cpu_s ();
  probe_start (&probe);
  t0 = g_get_monotonic_time ();

  run.prefix = prefix;
  run.endpoint = endpoint;
  run.soup = soup;
  run.window = opt_window > 0 ? MIN ((guint) opt_window, n) : n;
  start_cpu0 = clock_s (CLOCK_THREAD_CPUTIME_ID);
  main_cpu0 = start_cpu0;
  while (run.next < run.window)
    start_login (&run);
  res->start_burst_ms = (g_get_monotonic_time () - t0) / 1e3;
  res->start_burst_cpu_ms = (clock_s (CLOCK_THREAD_CPUTIME_ID) - start_cpu0) * 1e3;

  while (run.pending > 0)
    g_main_context_iteration (NULL, TRUE);

  t1 = g_get_monotonic_time ();
  res->main_cpu_s = clock_s (CLOCK_THREAD_CPUTIME_ID) - main_cpu0;
  probe_stop (&probe);
  res->cpu_s = process_cpu_s () - cpu0;
  res->control_cpu_s = control_cpu_s () - ctl0;

  /* Idle: let the last replies and connections settle, then measure. */
  g_timeout_add (IDLE_SETTLE_MS, quit_after_cb, &settled);
  while (!settled)
    g_main_context_iteration (NULL, TRUE);
  res->rss_after_kib = rss_settled_kib ();
  res->heap_after = mallinfo2 ().uordblks;
  res->peak_rss_kib = proc_status_kib ("VmHWM");

  res->n = n;
  res->ok = n - run.failed;
  res->two_factor = run.two_factor;
  res->wall_s = (t1 - t0) / 1e6;
  res->max_stall_ms = probe.max_gap / 1e3;
  res->max_stall_cpu_ms = probe.max_gap_cpu * 1e3;
  res->max_stall_after_start_ms = probe.max_gap_rest / 1e3;
  res->max_stall_after_start_cpu_ms = probe.max_gap_rest_cpu * 1e3;
  res->stalls_over_10ms = probe.over_10ms;
  res->threads_max = probe.threads_max;
  res->first_error = run.first_error;
  res->requests_first = control_count_requests (base_uri, first_id);

  for (guint i = 0; i < n; i++)
    {
      g_clear_object (&run.logins[i].session);
      g_free (run.logins[i].apple_id);
    }
  g_free (run.logins);
}

static void
add_member_double (JsonBuilder *b,
                   const char  *name,
                   gdouble      value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
add_member_int (JsonBuilder *b,
                const char  *name,
                gint64       value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_member_string (JsonBuilder *b,
                   const char  *name,
                   const char  *value)
{
  json_builder_set_member_name (b, name);
  if (value != NULL)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static JsonNode *
result_to_json (const Result *res,
                const char   *mode,
                const char   *prefix,
                gboolean      hsa2,
                guint         iterations,
                gdouble       floor_ms)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  gdouble cpu_login_ms = (res->cpu_s - res->control_cpu_s) * 1e3 / res->n;

  json_builder_begin_object (b);
  add_member_string (b, "mode", mode);
  add_member_string (b, "client", "libicloud-glib");
  add_member_int (b, "accounts", res->n);
  add_member_string (b, "prefix", prefix);
  add_member_int (b, "ok", res->ok);
  add_member_int (b, "failed", res->n - res->ok);
  add_member_string (b, "first_error", res->first_error);
  add_member_int (b, "iterations", iterations);
  add_member_string (b, "factor", hsa2 ? "hsa2" : "none");
  add_member_int (b, "two_factor_logins", res->two_factor);
  add_member_int (b, "requests_per_login", res->requests_first);
  add_member_int (b, "max_conns", opt_max_conns);
  add_member_int (b, "window", opt_window);
  add_member_double (b, "wall_s", res->wall_s);
  add_member_double (b, "logins_per_s", res->n / res->wall_s);
  add_member_double (b, "cpu_s", res->cpu_s - res->control_cpu_s);
  add_member_double (b, "bench_control_cpu_s", res->control_cpu_s);
  add_member_double (b, "cpu_per_login_ms", cpu_login_ms);
  add_member_double (b, "main_thread_cpu_per_login_ms", res->main_cpu_s * 1e3 / res->n);
  add_member_double (b, "floor_ms", floor_ms);
  add_member_double (b, "floor_ratio", cpu_login_ms / floor_ms);
  add_member_int (b, "rss_before_kib", res->rss_before_kib);
  add_member_int (b, "rss_after_kib", res->rss_after_kib);
  add_member_double (b, "rss_per_session_kib",
                     (gdouble) (res->rss_after_kib - res->rss_before_kib) / res->n);
  /* malloc'd bytes in use (all arenas), after − before, / N */
  add_member_double (b, "heap_per_session_kib",
                     (gdouble) (res->heap_after - res->heap_before) / 1024.0 / res->n);
  add_member_int (b, "peak_rss_kib", res->peak_rss_kib);
  add_member_int (b, "threads_max", res->threads_max);
  add_member_double (b, "max_stall_ms", res->max_stall_ms);
  add_member_double (b, "max_stall_cpu_ms", res->max_stall_cpu_ms);
  add_member_double (b, "start_burst_ms", res->start_burst_ms);
  add_member_double (b, "start_burst_cpu_ms", res->start_burst_cpu_ms);
  add_member_double (b, "max_stall_after_start_ms", res->max_stall_after_start_ms);
  add_member_double (b, "max_stall_after_start_cpu_ms", res->max_stall_after_start_cpu_ms);
  add_member_int (b, "stalls_over_10ms", res->stalls_over_10ms);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ------------------------------------------------------------------ */
/* helpers of the modes */

static gboolean
hsa2_plugin_installed (void)
{
  const char *path = g_getenv ("ICLOUD_PLUGIN_PATH");
  g_auto(GStrv) dirs = g_strsplit (path ? path : "", ":", -1);
  g_autofree char *installed = g_build_filename (ICLOUD_PLUGINDIR, "libicloud-hsa2.so", NULL);

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autofree char *file = NULL;

      if (*dirs[i] == '\0')
        continue;
      file = g_build_filename (dirs[i], "libicloud-hsa2.so", NULL);
      if (g_file_test (file, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return g_file_test (installed, G_FILE_TEST_EXISTS);
}

/* The factor of the accounts: 2FA when asked, or (auto) when the hsa2
 * plugin is installed. FALSE with @error on a bad --factor. */
static gboolean
want_hsa2_checked (gboolean  *hsa2,
                   GError   **error)
{
  gboolean value;

  if (opt_factor == NULL || g_str_equal (opt_factor, "auto"))
    value = hsa2_plugin_installed ();
  else if (g_str_equal (opt_factor, "hsa2"))
    value = TRUE;
  else if (g_str_equal (opt_factor, "none"))
    value = FALSE;
  else
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--factor must be auto, hsa2 or none");
      return FALSE;
    }
  if (hsa2 != NULL)
    *hsa2 = value;
  return TRUE;
}

static char *
new_prefix (void)
{
  guint8 r[4];

  icloud_crypto_random (r, sizeof r);
  return g_strdup_printf ("b%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
}

static void
remove_flat_directory (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *file = g_build_filename (path, name, NULL);

      g_unlink (file);
    }
  g_rmdir (path);
}

static gboolean
write_json (JsonNode    *node,
            const char  *file,
            GError     **error)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_root (gen, node);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);
  if (file == NULL)
    return TRUE;
  if (g_str_equal (file, "-"))
    {
      g_print ("%s\n", text);
      return TRUE;
    }
  {
    g_autofree char *line = g_strconcat (text, "\n", NULL);
    return g_file_set_contents (file, line, -1, error);
  }
}

static JsonNode *
run_child (const char * const *argv,
           GError            **error)
{
  g_autoptr(GSubprocess) child = NULL;
  g_autofree char *out = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();

  child = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, error);
  if (child == NULL)
    return NULL;
  if (!g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, error))
    return NULL;
  if (!g_subprocess_get_successful (child))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s failed (status %d)",
                   argv[0], argv[1], g_subprocess_get_status (child));
      return NULL;
    }
  if (!json_parser_load_from_data (parser, out, -1, error))
    return NULL;
  return json_node_ref (json_parser_get_root (parser));
}

static char *
self_exe (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

  return exe ? g_steal_pointer (&exe) : g_strdup ("icloud-bench");
}

static JsonNode *
run_self (const char  *mode,
          const char  *base_uri,
          const char  *prefix,
          guint        n,
          const char  *cookie_dir,
          gdouble      floor_ms,
          gboolean     hsa2,
          gint         window,
          GError     **error)
{
  g_autofree char *exe = self_exe ();
  g_autofree char *n_text = g_strdup_printf ("%u", n);
  g_autofree char *iter_text = g_strdup_printf ("%d", opt_iterations);
  g_autofree char *floor_text = g_strdup_printf ("%.6f", floor_ms);
  g_autofree char *conns_text = g_strdup_printf ("%d", opt_max_conns);
  g_autofree char *window_text = g_strdup_printf ("%d", window);
  const char *argv[] = {
    exe, mode, "--max-conns", conns_text, "--base-uri", base_uri, "--prefix", prefix,
    "--accounts", n_text, "--iterations", iter_text, "--cookie-directory", cookie_dir,
    "--floor-ms", floor_text, "--factor", hsa2 ? "hsa2" : "none", "--json", "-",
    "--window", window_text, "--quiet", NULL
  };

  return run_child (argv, error);
}

static const char *
python_program (void)
{
  return opt_python ? opt_python : "/usr/bin/python3";
}

static const char *
python_script (void)
{
  return opt_python_script ? opt_python_script : ICLOUD_BENCH_SRCDIR "/icloud-bench-py.py";
}

static JsonNode *
run_python (const char  *client,
            const char  *mode,
            const char  *base_uri,
            const char  *prefix,
            guint        n,
            const char  *cookie_dir,
            gdouble      floor_ms,
            gboolean     hsa2,
            GError     **error)
{
  g_autofree char *n_text = g_strdup_printf ("%u", n);
  g_autofree char *floor_text = g_strdup_printf ("%.6f", floor_ms);
  g_autofree char *workers = g_strdup_printf ("%d", opt_py_workers > 0 ? opt_py_workers
                                                                     : opt_max_conns > 0 ? opt_max_conns : 16);
  const char *argv[] = {
    python_program (), python_script (), "--client", client, "--mode", mode,
    "--base-uri", base_uri, "--prefix", prefix, "--accounts", n_text,
    "--cookie-directory", cookie_dir, "--floor-ms", floor_text,
    "--factor", hsa2 ? "hsa2" : "none", "--workers", workers, NULL
  };

  return run_child (argv, error);
}

/* The icloud_glib clients need the build tree's package, typelib and
 * library, unless the environment already says where they are. */
static void
prepend_env (const char *name,
             const char *value)
{
  const char *old = g_getenv (name);
  g_autofree char *both = old && *old ? g_strconcat (value, ":", old, NULL) : g_strdup (value);

  g_setenv (name, both, TRUE);
}

static JsonNode *
machine_json (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *cpuinfo = NULL;
  g_autofree char *os = NULL;
  g_autofree char *model = NULL;
  g_autofree char *meminfo = NULL;
  gint64 mem_kib = -1;
  struct utsname un;

  if (g_file_get_contents ("/proc/cpuinfo", &cpuinfo, NULL, NULL))
    {
      const char *m = strstr (cpuinfo, "model name");
      if (m != NULL && (m = strchr (m, ':')) != NULL)
        {
          const char *end = strchr (m, '\n');
          model = g_strstrip (g_strndup (m + 1, end ? (gsize) (end - m - 1) : strlen (m + 1)));
        }
    }
  if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL))
    {
      const char *m = strstr (meminfo, "MemTotal:");
      if (m != NULL)
        mem_kib = g_ascii_strtoll (m + strlen ("MemTotal:"), NULL, 10);
    }
  if (g_file_get_contents ("/etc/os-release", &cpuinfo, NULL, NULL))
    {
      const char *m = strstr (cpuinfo, "PRETTY_NAME=");
      if (m != NULL)
        {
          const char *end = strchr (m, '\n');
          m += strlen ("PRETTY_NAME=");
          os = g_strndup (m, end ? (gsize) (end - m) : strlen (m));
          g_strdelimit (os, "\"", ' ');
          g_strstrip (os);
        }
    }
  uname (&un);

  json_builder_begin_object (b);
  add_member_int (b, "nproc", g_get_num_processors ());
  add_member_string (b, "cpu_model", model);
  add_member_int (b, "mem_total_kib", mem_kib);
  add_member_string (b, "os", os);
  {
    g_autofree char *kernel = g_strdup_printf ("%s %s %s", un.sysname, un.release, un.machine);
    add_member_string (b, "kernel", kernel);
  }
  {
    g_autofree char *v = g_strdup_printf ("%u.%u.%u", glib_major_version,
                                          glib_minor_version, glib_micro_version);
    add_member_string (b, "glib", v);
    g_free (v);
    v = g_strdup_printf ("%u.%u.%u", soup_get_major_version (),
                         soup_get_minor_version (), soup_get_micro_version ());
    add_member_string (b, "libsoup", v);
  }
  add_member_string (b, "libicloud_glib", PACKAGE_VERSION);
  {
    g_autofree char *load = NULL;
    if (g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
      add_member_string (b, "loadavg_at_start", g_strstrip (load));
  }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gdouble
member_double (JsonNode   *node,
               const char *name)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return 0;
  return json_object_get_double_member_with_default (json_node_get_object (node), name, 0);
}

static gint64
member_int (JsonNode   *node,
            const char *name)
{
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return 0;
  return json_object_get_int_member_with_default (json_node_get_object (node), name, 0);
}

static gdouble
ratio (gdouble a,
       gdouble b)
{
  return b > 0 ? a / b : 0;
}

static void
print_row (FILE     *out,
           JsonNode *node)
{
  JsonObject *o;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return;
  o = json_node_get_object (node);
  fprintf (out, "%5" G_GINT64_FORMAT "  %-24s %-8s %5" G_GINT64_FORMAT "/%-5" G_GINT64_FORMAT
           " %8.2f %9.1f %9.2f %6.2f %10.1f %9.1f %9.1f %9.1f\n",
           member_int (node, "accounts"),
           json_object_get_string_member_with_default (o, "client", "?"),
           json_object_get_string_member_with_default (o, "mode", "?"),
           member_int (node, "ok"), member_int (node, "accounts"),
           member_double (node, "wall_s"),
           member_double (node, "logins_per_s"),
           member_double (node, "cpu_per_login_ms"),
           member_double (node, "floor_ratio"),
           member_double (node, "rss_per_session_kib"),
           member_int (node, "peak_rss_kib") / 1024.0,
           json_object_get_null_member (o, "max_stall_ms") ? -1.0
                                                             : member_double (node, "max_stall_ms"),
           json_object_has_member (o, "max_stall_cpu_ms") ? member_double (node, "max_stall_cpu_ms")
                                                          : -1.0);
}

static void
print_header (FILE *out)
{
  fprintf (out, "%5s  %-24s %-8s %11s %8s %9s %9s %6s %10s %9s %9s %9s\n",
           "N", "client", "mode", "ok", "wall s", "logins/s", "CPU ms", "×floor",
           "KiB/sess", "peak MiB", "stall ms", "(CPU ms)");
}

/* ------------------------------------------------------------------ */
/* the modes */

typedef struct {
  char    *base_uri;
  char    *prefix;
  gboolean hsa2;
  gdouble  warm_s;
} Setup;

static void
setup_clear (Setup *setup)
{
  g_clear_pointer (&setup->base_uri, g_free);
  g_clear_pointer (&setup->prefix, g_free);
}

/* The server and the accounts: given, or made here. */
static gboolean
setup_server (Setup   *setup,
              guint    n,
              GError **error)
{
  memset (setup, 0, sizeof *setup);
  if (!want_hsa2_checked (&setup->hsa2, error))
    return FALSE;
  if (opt_base_uri != NULL)
    setup->base_uri = g_strdup (opt_base_uri);
  else
    {
      progress ("starting the fake server");
      setup->base_uri = start_mock_server (error);
      if (setup->base_uri == NULL)
        return FALSE;
    }
  control_start ();
  if (opt_prefix != NULL)
    {
      setup->prefix = g_strdup (opt_prefix);
      return TRUE;
    }
  setup->prefix = new_prefix ();
  progress ("adding %u accounts (%d iterations, %s)%s", n, opt_iterations,
            setup->hsa2 ? "2FA" : "no 2FA",
            opt_no_warm ? "" : "; the server derives their verifiers");
  if (!create_accounts (setup->base_uri, setup->prefix, n, opt_iterations, setup->hsa2,
                        !opt_no_warm, &setup->warm_s, error))
    return FALSE;
  if (!opt_no_warm)
    progress ("server warm-up: %.1f s", setup->warm_s);
  return TRUE;
}

static gdouble get_floor (Floor *floor);

/* What the signin, restore and layer modes start with: the server, its
 * accounts and the floor. */
static gboolean
begin_mode (Setup   *setup,
            Floor   *floor,
            gdouble *floor_ms)
{
  g_autoptr(GError) error = NULL;

  if (!setup_server (setup, opt_accounts, &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      return FALSE;
    }
  *floor_ms = get_floor (floor);
  return TRUE;
}

static gdouble
get_floor (Floor *floor)
{
  memset (floor, 0, sizeof *floor);
  if (opt_floor_ms > 0)
    {
      floor->cpu_ms = opt_floor_ms;
      return opt_floor_ms;
    }
  progress ("measuring the floor (%d iterations)", opt_iterations);
  measure_floor (opt_iterations, opt_floor_reps, floor);
  progress ("floor: %.2f ms CPU per login (PBKDF2 %.2f, g^a %.2f, S %.2f; %u reps); "
            "with a 2048-bit secret a: %.2f",
            floor->cpu_ms, floor->pbkdf2_ms, floor->client_new_ms, floor->process_ms,
            floor->reps, floor->pbkdf2_ms + floor->long_a_modexp_ms);
  return floor->cpu_ms;
}

static int
mode_floor (void)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  Floor floor;

  get_floor (&floor);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "floor");
  floor_to_json (b, &floor, opt_iterations);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  if (!write_json (root, opt_json ? opt_json : "-", &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      return 1;
    }
  return 0;
}

/* The report, read back as a consumer would: every number is there (the
 * Python clients measure no main-loop stall). */
static gboolean
self_check (JsonNode *node,
            gboolean  with_stall)
{
  static const char * const numbers[] = {
    "wall_s", "logins_per_s", "cpu_per_login_ms", "floor_ms", "floor_ratio",
    "rss_per_session_kib", "peak_rss_kib", "max_stall_ms", "requests_per_login",
  };
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *o;

  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  if (!json_parser_load_from_data (parser, text, -1, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_printerr ("icloud-bench: self-check: the report is not a JSON object\n");
      return FALSE;
    }
  o = json_node_get_object (json_parser_get_root (parser));
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      JsonNode *m = json_object_get_member (o, numbers[i]);

      if (!with_stall && g_str_equal (numbers[i], "max_stall_ms"))
        continue;
      if (m == NULL || !JSON_NODE_HOLDS_VALUE (m) ||
          (json_node_get_value_type (m) != G_TYPE_DOUBLE &&
           json_node_get_value_type (m) != G_TYPE_INT64) ||
          json_node_get_double (m) < 0)
        {
          g_printerr ("icloud-bench: self-check: no valid “%s” in the report\n", numbers[i]);
          return FALSE;
        }
    }
  if (json_object_get_int_member_with_default (o, "ok", -1) !=
      json_object_get_int_member_with_default (o, "accounts", -2))
    {
      g_printerr ("icloud-bench: self-check: not every login succeeded\n");
      return FALSE;
    }
  return TRUE;
}

static int
mode_signin_restore (gboolean restore)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *cookie_dir = NULL;
  gboolean own_dir = FALSE;
  Setup setup;
  Floor floor;
  Result res;
  gdouble floor_ms;
  int status = 0;

  if (opt_accounts < 1)
    {
      g_printerr ("icloud-bench: --accounts must be at least 1\n");
      return 2;
    }
  if (!begin_mode (&setup, &floor, &floor_ms))
    {
      status = 1;
      goto out;
    }

  if (opt_cookie_dir != NULL)
    cookie_dir = g_strdup (opt_cookie_dir);
  else
    {
      cookie_dir = g_dir_make_tmp ("icloud-bench-XXXXXX", &error);
      if (cookie_dir == NULL)
        {
          g_printerr ("icloud-bench: %s\n", error->message);
          status = 1;
          goto out;
        }
      own_dir = TRUE;
      if (restore)
        {
          g_autoptr(JsonNode) saved = NULL;

          progress ("signing %d accounts in (child process) to save their sessions", opt_accounts);
          saved = run_self ("signin", setup.base_uri, setup.prefix, opt_accounts,
                            cookie_dir, floor_ms, setup.hsa2, opt_window, &error);
          if (saved == NULL)
            {
              g_printerr ("icloud-bench: %s\n", error->message);
              status = 1;
              goto out;
            }
        }
    }

  progress ("%s: %d accounts at once", restore ? "restore" : "signin", opt_accounts);
  run_logins (setup.base_uri, setup.prefix, cookie_dir, opt_accounts, restore, setup.hsa2,
              opt_max_conns, &res);
  node = result_to_json (&res, restore ? "restore" : "signin", setup.prefix, setup.hsa2, opt_iterations, floor_ms);
  if (res.ok != res.n)
    {
      g_printerr ("icloud-bench: %u of %u failed; first: %s\n", res.n - res.ok, res.n,
                  res.first_error ? res.first_error : "?");
      status = 1;
    }
  g_free (res.first_error);
  if (!opt_quiet)
    {
      print_header (stderr);
      print_row (stderr, node);
    }
  if (!write_json (node, opt_json ? opt_json : "-", &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      status = 1;
    }
  if (opt_self_check && !self_check (node, TRUE))
    status = 1;

out:
  if (own_dir && cookie_dir != NULL)
    remove_flat_directory (cookie_dir);
  control_stop ();
  stop_mock_server ();
  setup_clear (&setup);
  return status;
}

static GArray *
parse_sizes (const char  *text,
             GError     **error)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);
  g_autoptr(GArray) sizes = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; parts[i] != NULL; i++)
    {
      guint64 n;

      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 100000, &n, error))
        return NULL;
      g_array_append_vals (sizes, &(guint) { (guint) n }, 1);
    }
  if (sizes->len == 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--sizes is empty");
      return NULL;
    }
  return g_steal_pointer (&sizes);
}

static void
add_comparison (JsonBuilder *b,
                const char  *name,
                JsonNode    *ours,
                JsonNode    *theirs)
{
  json_builder_set_member_name (b, name);
  if (ours == NULL || theirs == NULL)
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_object (b);
  /* > 1: we are better by that factor. */
  add_member_double (b, "wall_ratio", ratio (member_double (theirs, "wall_s"),
                                             member_double (ours, "wall_s")));
  add_member_double (b, "cpu_ratio", ratio (member_double (theirs, "cpu_per_login_ms"),
                                            member_double (ours, "cpu_per_login_ms")));
  add_member_double (b, "memory_ratio", ratio (member_double (theirs, "rss_per_session_kib"),
                                               member_double (ours, "rss_per_session_kib")));
  add_member_double (b, "peak_rss_ratio", ratio (member_double (theirs, "peak_rss_kib"),
                                                 member_double (ours, "peak_rss_kib")));
  json_builder_end_object (b);
}

/* One signin through the C library and one through icloud_glib, each in a
 * process of its own, with fresh session directories. */
static gboolean
run_layer_pair (const Setup  *setup,
                gdouble       floor_ms,
                guint         round,
                JsonNode    **c,
                JsonNode    **layer,
                GError      **error)
{
  g_autofree char *dir = g_dir_make_tmp ("icloud-bench-XXXXXX", error);
  g_autofree char *py_dir = dir ? g_dir_make_tmp ("icloud-bench-py-XXXXXX", error) : NULL;

  if (py_dir == NULL)
    return FALSE;
  progress ("N = %d, round %u: signin through the C library", opt_accounts, round);
  *c = run_self ("signin", setup->base_uri, setup->prefix, opt_accounts, dir, floor_ms,
                 setup->hsa2, opt_window, error);
  if (*c != NULL)
    {
      progress ("N = %d, round %u: signin through icloud_glib (Python, asyncio)", opt_accounts, round);
      *layer = run_python ("icloud-glib", "signin", setup->base_uri, setup->prefix, opt_accounts,
                           py_dir, floor_ms, setup->hsa2, error);
    }
  remove_flat_directory (dir);
  remove_flat_directory (py_dir);
  return *c != NULL && *layer != NULL;
}

/* Of the runs, the one with the least CPU per login (CPU time only grows
 * with noise: other processes, cache and hypervisor contention). */
static JsonNode *
least_cpu (GPtrArray *runs)
{
  JsonNode *best = NULL;

  for (guint i = 0; i < runs->len; i++)
    {
      JsonNode *run = g_ptr_array_index (runs, i);

      if (best == NULL || member_double (run, "cpu_per_login_ms") < member_double (best, "cpu_per_login_ms"))
        best = run;
    }
  return best;
}

static void
add_runs (JsonBuilder *b,
          const char  *name,
          GPtrArray   *runs)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (guint i = 0; i < runs->len; i++)
    json_builder_add_value (b, json_node_ref (g_ptr_array_index (runs, i)));
  json_builder_end_array (b);
}

/* The layer against the C library: the same N sign-ins, C then Python. */
static int
mode_layer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) c_runs = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr(GPtrArray) layer_runs = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  JsonNode *c, *layer;
  gdouble floor_ms, cpu_ratio = 0;
  Setup setup;
  Floor floor;
  int status = 0;

  if (opt_accounts < 1 || opt_repeat < 1)
    {
      g_printerr ("icloud-bench: --accounts and --repeat must be at least 1\n");
      return 2;
    }
  if (!begin_mode (&setup, &floor, &floor_ms))
    {
      status = 1;
      goto out;
    }

  for (gint round = 1; round <= opt_repeat; round++)
    {
      JsonNode *c_run = NULL, *layer_run = NULL;
      gboolean ok = run_layer_pair (&setup, floor_ms, round, &c_run, &layer_run, &error);

      if (c_run != NULL)
        g_ptr_array_add (c_runs, c_run);
      if (layer_run != NULL)
        g_ptr_array_add (layer_runs, layer_run);
      if (!ok)
        {
          g_printerr ("icloud-bench: %s\n", error->message);
          status = 1;
          goto out;
        }
    }
  c = least_cpu (c_runs);
  layer = least_cpu (layer_runs);

  cpu_ratio = ratio (member_double (layer, "cpu_per_login_ms"), member_double (c, "cpu_per_login_ms"));
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "machine");
  json_builder_add_value (b, machine_json ());
  add_member_int (b, "accounts", opt_accounts);
  add_member_int (b, "iterations", opt_iterations);
  add_member_int (b, "repeat", opt_repeat);
  add_runs (b, "c_runs", c_runs);
  add_runs (b, "icloud_glib_runs", layer_runs);
  /* Of the least CPU per login of each; > 1: the layer costs more by that factor. */
  add_member_double (b, "cpu_ratio", cpu_ratio);
  add_member_double (b, "wall_ratio", ratio (member_double (layer, "wall_s"), member_double (c, "wall_s")));
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  if (!opt_quiet)
    {
      print_header (stderr);
      for (guint i = 0; i < c_runs->len; i++)
        {
          print_row (stderr, g_ptr_array_index (c_runs, i));
          print_row (stderr, g_ptr_array_index (layer_runs, i));
        }
      g_printerr ("CPU per login through icloud_glib / C library (least of %d runs each): "
                  "%.2f / %.2f ms = %.3f\n", opt_repeat, member_double (layer, "cpu_per_login_ms"),
                  member_double (c, "cpu_per_login_ms"), cpu_ratio);
    }
  if (!write_json (root, opt_json ? opt_json : "-", &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      status = 1;
    }
  for (guint i = 0; opt_self_check && i < c_runs->len; i++)
    if (!self_check (g_ptr_array_index (c_runs, i), TRUE) ||
        !self_check (g_ptr_array_index (layer_runs, i), FALSE))
      status = 1;
  if (opt_max_ratio > 0 && cpu_ratio > opt_max_ratio)
    {
      g_printerr ("icloud-bench: CPU per login through icloud_glib is %.3f× the C library's, "
                  "more than %.2f×\n", cpu_ratio, opt_max_ratio);
      status = 1;
    }

out:
  control_stop ();
  stop_mock_server ();
  setup_clear (&setup);
  return status;
}

static int
mode_all (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) sizes = parse_sizes (opt_sizes ? opt_sizes : DEFAULT_SIZES, &error);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr(GString) command = g_string_new (NULL);
  Setup setup;
  Floor floor;
  gdouble floor_ms;
  guint max_n = 0;
  gint64 start = g_get_monotonic_time ();
  int status = 0;
  FILE *out;

  memset (&setup, 0, sizeof setup);
  if (sizes == NULL)
    {
      g_printerr ("icloud-bench: --sizes: %s\n", error->message);
      return 2;
    }
  for (guint i = 0; i < sizes->len; i++)
    max_n = MAX (max_n, g_array_index (sizes, guint, i));
  for (int i = 0; i < argc; i++)
    {
      g_autofree char *quoted = g_shell_quote (argv[i]);
      g_string_append_printf (command, "%s%s", i ? " " : "",
                              strpbrk (argv[i], " '\"$\\") ? quoted : argv[i]);
    }

  if (!setup_server (&setup, max_n, &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      status = 1;
      goto out;
    }
  floor_ms = get_floor (&floor);

  json_builder_begin_object (b);
  add_member_string (b, "command", command->str);
  json_builder_set_member_name (b, "machine");
  json_builder_add_value (b, machine_json ());
  add_member_string (b, "factor", setup.hsa2 ? "hsa2" : "none");
  add_member_int (b, "iterations", opt_iterations);
  add_member_double (b, "server_warmup_s", setup.warm_s);
  json_builder_set_member_name (b, "floor");
  floor_to_json (b, &floor, opt_iterations);
  json_builder_set_member_name (b, "sizes");
  json_builder_begin_array (b);

  for (guint i = 0; i < sizes->len; i++)
    {
      guint n = g_array_index (sizes, guint, i);
      g_autofree char *dir = g_dir_make_tmp ("icloud-bench-XXXXXX", NULL);
      g_autofree char *py_dir = g_dir_make_tmp ("icloud-bench-py-XXXXXX", NULL);
      g_autoptr(JsonNode) signin = NULL;
      g_autoptr(JsonNode) restore = NULL;
      g_autoptr(JsonNode) py_srp = NULL;
      g_autoptr(JsonNode) py_legacy = NULL;
      g_autoptr(JsonNode) py_restore = NULL;
      g_autoptr(JsonNode) windowed = NULL;
      g_autoptr(JsonNode) layer = NULL;
      JsonNode *runs[7];

      if (dir == NULL || py_dir == NULL)
        g_error ("cannot make a temporary directory");

      progress ("N = %u: signin", n);
      signin = run_self ("signin", setup.base_uri, setup.prefix, n, dir, floor_ms, setup.hsa2,
                         opt_window, &error);
      if (signin == NULL)
        goto child_failed;
      progress ("N = %u: restore", n);
      restore = run_self ("restore", setup.base_uri, setup.prefix, n, dir, floor_ms, setup.hsa2,
                          opt_window, &error);
      if (restore == NULL)
        goto child_failed;
      if (opt_compare_window > 0 && n == max_n)
        {
          g_autofree char *dir2 = g_dir_make_tmp ("icloud-bench-XXXXXX", NULL);

          progress ("N = %u: signin, at most %d in flight", n, opt_compare_window);
          windowed = run_self ("signin", setup.base_uri, setup.prefix, n, dir2, floor_ms,
                               setup.hsa2, opt_compare_window, &error);
          remove_flat_directory (dir2);
          if (windowed == NULL)
            goto child_failed;
          json_object_set_string_member (json_node_get_object (windowed), "client",
                                         "libicloud-glib+window");
        }
      if (!opt_no_python)
        {
          g_autofree char *layer_dir = g_dir_make_tmp ("icloud-bench-layer-XXXXXX", NULL);

          progress ("N = %u: icloud_glib (Python, asyncio)", n);
          layer = run_python ("icloud-glib", "signin", setup.base_uri, setup.prefix, n,
                              layer_dir, floor_ms, setup.hsa2, &error);
          remove_flat_directory (layer_dir);
          if (layer == NULL)
            goto child_failed;
          progress ("N = %u: pyicloud 1.0.0 (legacy sign-in, threads)", n);
          py_legacy = run_python ("pyicloud", "signin", setup.base_uri, setup.prefix, n,
                                  py_dir, floor_ms, setup.hsa2, &error);
          if (py_legacy == NULL)
            goto child_failed;
          progress ("N = %u: pyicloud 1.0.0 restore", n);
          py_restore = run_python ("pyicloud", "restore", setup.base_uri, setup.prefix, n,
                                   py_dir, floor_ms, setup.hsa2, &error);
          if (py_restore == NULL)
            goto child_failed;
          progress ("N = %u: pure-Python SRP (python3-srp, threads)", n);
          py_srp = run_python ("python-srp", "signin", setup.base_uri, setup.prefix, n,
                               py_dir, floor_ms, setup.hsa2, &error);
          if (py_srp == NULL)
            goto child_failed;
        }

      json_builder_begin_object (b);
      add_member_int (b, "accounts", n);
      json_builder_set_member_name (b, "runs");
      json_builder_begin_array (b);
      runs[0] = signin;
      runs[1] = restore;
      runs[2] = layer;
      runs[3] = py_legacy;
      runs[4] = py_restore;
      runs[5] = py_srp;
      runs[6] = windowed;
      for (guint r = 0; r < G_N_ELEMENTS (runs); r++)
        if (runs[r] != NULL)
          {
            json_builder_add_value (b, json_node_ref (runs[r]));
            g_ptr_array_add (rows, json_node_ref (runs[r]));
          }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "ratios");
      json_builder_begin_object (b);
      add_comparison (b, "pyicloud_signin", signin, py_legacy);
      add_comparison (b, "pyicloud_restore", restore, py_restore);
      add_comparison (b, "python_srp_signin", signin, py_srp);
      /* < 1 here: what going through icloud_glib costs. */
      add_comparison (b, "icloud_glib_signin", signin, layer);
      json_builder_end_object (b);
      json_builder_end_object (b);

      remove_flat_directory (dir);
      remove_flat_directory (py_dir);
      continue;

    child_failed:
      g_printerr ("icloud-bench: N = %u: %s\n", n, error->message);
      g_clear_error (&error);
      remove_flat_directory (dir);
      remove_flat_directory (py_dir);
      status = 1;
    }

  json_builder_end_array (b);
  add_member_double (b, "total_s", (g_get_monotonic_time () - start) / 1e6);
  {
    g_autofree char *load = NULL;
    if (g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
      add_member_string (b, "loadavg_at_end", g_strstrip (load));
  }
  json_builder_end_object (b);
  root = json_builder_get_root (b);

  out = (opt_json != NULL && g_str_equal (opt_json, "-")) ? stderr : stdout;
  fprintf (out, "floor: %.2f ms CPU per login at %d iterations (PBKDF2 %.2f ms, g^a %.2f ms, S %.2f ms;"
           " %.2f ms with the former 2048-bit secret a)\n",
           floor.cpu_ms, opt_iterations, floor.pbkdf2_ms, floor.client_new_ms, floor.process_ms,
           floor.pbkdf2_ms + floor.long_a_modexp_ms);
  print_header (out);
  for (guint i = 0; i < rows->len; i++)
    print_row (out, g_ptr_array_index (rows, i));

  if (!write_json (root, opt_json, &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      status = 1;
      goto out;
    }
  if (opt_plot != NULL)
    {
      const char *script = opt_plot_script ? opt_plot_script
                                           : ICLOUD_BENCH_SRCDIR "/icloud-bench-plot.sh";
      g_autofree char *tmp_json = NULL;
      const char *json_file = opt_json;
      int fd = -1;

      if (json_file == NULL || g_str_equal (json_file, "-"))
        {
          fd = g_file_open_tmp ("icloud-bench-XXXXXX.json", &tmp_json, &error);
          if (fd < 0 || !write_json (root, tmp_json, &error))
            {
              g_printerr ("icloud-bench: %s\n", error->message);
              status = 1;
              goto out;
            }
          close (fd);
          json_file = tmp_json;
        }
      {
        const char *plot_argv[] = { "/bin/sh", script, json_file, opt_plot, NULL };
        g_autoptr(GSubprocess) plot = g_subprocess_newv (plot_argv, G_SUBPROCESS_FLAGS_NONE, &error);

        if (plot == NULL || !g_subprocess_wait_check (plot, NULL, &error))
          {
            g_printerr ("icloud-bench: plot: %s\n", error->message);
            status = 1;
          }
        else
          progress ("plot: %s", opt_plot);
      }
      if (tmp_json != NULL)
        g_unlink (tmp_json);
    }

out:
  control_stop ();
  stop_mock_server ();
  setup_clear (&setup);
  return status;
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) all_args = g_strdupv (argv);
  const char *mode;
  int status;

  setlocale (LC_ALL, "");
  /* The build tree's plugins, unless told otherwise. */
  g_setenv ("ICLOUD_PLUGIN_PATH", ICLOUD_BENCH_PLUGIN_PATH, FALSE);
  /* For the icloud_glib clients (bench/icloud-bench-py.py): after what the
   * environment gives, the build tree's package, typelib and library. */
  if (g_getenv ("ICLOUD_BENCH_NO_BUILD_TREE") == NULL)
    {
      prepend_env ("PYTHONPATH", ICLOUD_BENCH_PYTHONPATH);
      prepend_env ("GI_TYPELIB_PATH", ICLOUD_BENCH_TYPELIB_DIR);
      prepend_env ("LD_LIBRARY_PATH", ICLOUD_BENCH_LIBRARY_DIR);
    }

  context = g_option_context_new ("signin|restore|floor|layer|all - benchmark libicloud-glib");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context, description);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      return 2;
    }
  if (argc != 2)
    {
      g_printerr ("icloud-bench: name one mode: signin, restore, floor, layer or all (see --help)\n");
      return 2;
    }
  if (opt_max_conns < 0)
    opt_max_conns = 0;
  if (opt_iterations < 1)
    {
      g_printerr ("icloud-bench: --iterations must be at least 1\n");
      return 2;
    }
  if (!want_hsa2_checked (NULL, &error))
    {
      g_printerr ("icloud-bench: %s\n", error->message);
      return 2;
    }

  mode = argv[1];
  if (g_str_equal (mode, "floor"))
    status = mode_floor ();
  else if (g_str_equal (mode, "signin"))
    status = mode_signin_restore (FALSE);
  else if (g_str_equal (mode, "restore"))
    status = mode_signin_restore (TRUE);
  else if (g_str_equal (mode, "layer"))
    status = mode_layer ();
  else if (g_str_equal (mode, "all"))
    status = mode_all (g_strv_length (all_args), all_args);
  else
    {
      g_printerr ("icloud-bench: unknown mode “%s” (signin, restore, floor, layer or all)\n", mode);
      status = 2;
    }
  return status;
}
