/* icloud-auth.c: sign in to iCloud from the command line
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every operation runs with its _async variant on the default main context,
 * so that SIGINT (through g_unix_signal_add()) cancels whatever is in flight.
 * Terminal prompts run outside the main loop with their own signal handling,
 * so that echo is restored whatever happens.
 *
 * No password, token, cookie or verification code is ever printed: messages
 * are the library's (which never carry secrets) or our own.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <glib.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-text-private.h"

#define PROGRAM_NAME "icloud-auth"

/* Longest password or code line accepted. */
#define SECRET_MAX 1024
/* Wrong codes accepted in one interactive sign-in. */
#define CODE_ATTEMPTS 3

/**
 * ICloudAuthExit:
 *
 * The exit statuses of icloud-auth, one per cause the user can act on.
 * Keep exit_statuses[] (help text, JSON error nicks) in sync.
 */
typedef enum {
  ICLOUD_AUTH_EXIT_OK = 0,
  ICLOUD_AUTH_EXIT_FAILURE = 1,
  ICLOUD_AUTH_EXIT_USAGE = 2,
  ICLOUD_AUTH_EXIT_FAILED_LOGIN = 3,
  ICLOUD_AUTH_EXIT_CHALLENGE_PENDING = 4,
  ICLOUD_AUTH_EXIT_INVALID_CODE = 5,
  ICLOUD_AUTH_EXIT_ACCOUNT_LOCKED = 6,
  ICLOUD_AUTH_EXIT_REPAIR_REQUIRED = 7,
  ICLOUD_AUTH_EXIT_THROTTLED = 8,
  ICLOUD_AUTH_EXIT_SIGNED_OUT = 9,
  ICLOUD_AUTH_EXIT_SECURITY_KEY_REQUIRED = 10,
  ICLOUD_AUTH_EXIT_WRONG_REGION = 11,
  ICLOUD_AUTH_EXIT_PROTOCOL = 12,
  ICLOUD_AUTH_EXIT_STORAGE = 13,
  ICLOUD_AUTH_EXIT_NO_PLUGIN = 14,
  ICLOUD_AUTH_EXIT_SERVICE_NOT_ACTIVATED = 15,
  ICLOUD_AUTH_EXIT_NETWORK = 16,
  ICLOUD_AUTH_EXIT_NOT_AUTHENTICATED = 17,
  ICLOUD_AUTH_EXIT_INTERRUPTED = 130,
} ICloudAuthExit;

static const struct {
  ICloudAuthExit status;
  const char *nick;
  const char *description;
} exit_statuses[] = {
  { ICLOUD_AUTH_EXIT_OK, "ok", "success" },
  { ICLOUD_AUTH_EXIT_FAILURE, "failed", "other failure" },
  { ICLOUD_AUTH_EXIT_USAGE, "usage", "usage error" },
  { ICLOUD_AUTH_EXIT_FAILED_LOGIN, "failed-login", "wrong Apple ID or password" },
  { ICLOUD_AUTH_EXIT_CHALLENGE_PENDING, "challenge-pending",
    "second factor pending (state saved; finish with request-code and verify)" },
  { ICLOUD_AUTH_EXIT_INVALID_CODE, "invalid-code", "wrong verification code" },
  { ICLOUD_AUTH_EXIT_ACCOUNT_LOCKED, "account-locked", "account locked by Apple" },
  { ICLOUD_AUTH_EXIT_REPAIR_REQUIRED, "repair-required",
    "account needs repair or new terms accepted on icloud.com" },
  { ICLOUD_AUTH_EXIT_THROTTLED, "throttled", "throttled by Apple (retry later)" },
  { ICLOUD_AUTH_EXIT_SIGNED_OUT, "signed-out", "not signed in (a password is needed)" },
  { ICLOUD_AUTH_EXIT_SECURITY_KEY_REQUIRED, "security-key-required",
    "the account needs a security key" },
  { ICLOUD_AUTH_EXIT_WRONG_REGION, "wrong-region", "the account belongs to another region" },
  { ICLOUD_AUTH_EXIT_PROTOCOL, "protocol",
    "unexpected server response, or not supported" },
  { ICLOUD_AUTH_EXIT_STORAGE, "storage",
    "session directory unusable, or account in use by another process" },
  { ICLOUD_AUTH_EXIT_NO_PLUGIN, "no-plugin", "no plugin for an auth method or region" },
  { ICLOUD_AUTH_EXIT_SERVICE_NOT_ACTIVATED, "service-not-activated",
    "iCloud is not set up for this account" },
  { ICLOUD_AUTH_EXIT_NETWORK, "network", "network or TLS error" },
  { ICLOUD_AUTH_EXIT_NOT_AUTHENTICATED, "not-authenticated",
    "command not possible in the current sign-in state" },
  { ICLOUD_AUTH_EXIT_INTERRUPTED, "interrupted", "interrupted" },
};

static const char *
exit_status_nick (ICloudAuthExit status)
{
  for (gsize i = 0; i < G_N_ELEMENTS (exit_statuses); i++)
    if (exit_statuses[i].status == status)
      return exit_statuses[i].nick;
  return "failed";
}

/* Options */
static char *opt_apple_id;
static char *opt_region;
static gboolean opt_china_mainland;
static char *opt_endpoint_base;
static char *opt_cookie_directory;
static gboolean opt_password_stdin;
static char *opt_password_file;
static gboolean opt_force_refresh;
static gboolean opt_json;
static char *opt_sms;
static char *opt_device;
static gboolean opt_list;
static gboolean opt_keep_trusted;
static gboolean opt_all_sessions;
static gboolean opt_keyring;
static gboolean opt_version;

static const GOptionEntry entries[] = {
  { "apple-id", 'u', 0, G_OPTION_ARG_STRING, &opt_apple_id,
    "Apple ID to sign in with (default: $ICLOUD_APPLE_ID)", "ID" },
  { "region", 0, 0, G_OPTION_ARG_STRING, &opt_region,
    "Region: global (default), china-mainland, or one a plugin provides", "NAME" },
  { "china-mainland", 0, 0, G_OPTION_ARG_NONE, &opt_china_mainland,
    "Same as --region=china-mainland", NULL },
  { "endpoint-base", 0, 0, G_OPTION_ARG_STRING, &opt_endpoint_base,
    "Talk to a server serving Apple's paths on one origin (tests, demos)", "URL" },
  { "cookie-directory", 0, 0, G_OPTION_ARG_FILENAME, &opt_cookie_directory,
    "Where the session is kept (default: $XDG_STATE_HOME/icloud-glib)", "DIR" },
  { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &opt_password_stdin,
    "Read the password from the first line of standard input", NULL },
  { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_password_file,
    "Read the password from the first line of FILE", "FILE" },
  { "force-refresh", 0, 0, G_OPTION_ARG_NONE, &opt_force_refresh,
    "login: sign in again without checking the saved web session first", NULL },
  { "json", 0, 0, G_OPTION_ARG_NONE, &opt_json,
    "Print one JSON object (status, login, lists)", NULL },
  { "sms", 0, 0, G_OPTION_ARG_STRING, &opt_sms,
    "request-code: send the code by SMS to this trusted phone id", "PHONE_ID" },
  { "device", 0, 0, G_OPTION_ARG_STRING, &opt_device,
    "send-code, verify: the trusted device id (two-step verification)", "DEVICE_ID" },
  { "list", 0, 0, G_OPTION_ARG_NONE, &opt_list,
    "request-code: list the trusted phones instead of sending a code", NULL },
  { "keep-trusted", 0, 0, G_OPTION_ARG_NONE, &opt_keep_trusted,
    "logout: keep this machine trusted (no code needed next time)", NULL },
  { "all-sessions", 0, 0, G_OPTION_ARG_NONE, &opt_all_sessions,
    "logout: sign out every web session of the account", NULL },
  { "keyring", 0, 0, G_OPTION_ARG_NONE, &opt_keyring,
    "Keep the session in the keyring, as GNOME apps using the keyring store do "
    "(default: $ICLOUD_SECRET_STORE, else the session file)", NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, &opt_version,
    "Print the version and exit", NULL },
  { NULL }
};

typedef struct {
  GCancellable *cancellable;
  GAsyncResult *result;        /* just delivered, owned */
  GAsyncResult *last;          /* returned by cli_wait(), owned */
  guint sigint_id;
  guint sigterm_id;
  guint signals;
  gboolean interactive;        /* stdin and stdout are terminals */
  ICloudSecretStore secret_store;
  const char *apple_id;
  const char *region;
  ICloudEndpoint *endpoint;
  char password[SECRET_MAX];
  gboolean have_password;
} Cli;

/* Running async operations */

static gboolean
on_signal (gpointer user_data)
{
  Cli *cli = user_data;

  if (cli->signals++ > 0)
    _exit (ICLOUD_AUTH_EXIT_INTERRUPTED);
  g_cancellable_cancel (cli->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
on_async_done (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Cli *cli = user_data;

  g_set_object (&cli->result, result);
}

/* Runs the default main context until the operation just started calls
 * back; returns its result (owned by @cli until the next call). */
static GAsyncResult *
cli_wait (Cli *cli)
{
  while (cli->result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&cli->last);
  cli->last = g_steal_pointer (&cli->result);
  return cli->last;
}

/* Terminal prompts */

static volatile sig_atomic_t prompt_signal;
static int prompt_fd = -1;
static struct termios prompt_saved_termios;
static volatile sig_atomic_t prompt_restore_termios;

static void
prompt_signal_handler (int signo)
{
  prompt_signal = signo;
  if (prompt_restore_termios)
    tcsetattr (prompt_fd, TCSAFLUSH, &prompt_saved_termios);
}

static gboolean
fd_ready_cb (gint         fd,
             GIOCondition condition,
             gpointer     user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context until @fd can be read or a signal came: a
 * session's connections (the trusted-device bridge's WebSocket, its pings)
 * are served while the user types. */
static void
wait_readable (int fd)
{
  gboolean ready = FALSE;
  GSource *source = g_unix_fd_source_new (fd, G_IO_IN | G_IO_HUP | G_IO_ERR);

  g_source_set_callback (source, G_SOURCE_FUNC (fd_ready_cb), &ready, NULL);
  g_source_attach (source, NULL);
  while (!ready && prompt_signal == 0)
    g_main_context_iteration (NULL, TRUE);
  g_source_destroy (source);
  g_source_unref (source);
}

typedef enum {
  PROMPT_OK,
  PROMPT_EOF,
  PROMPT_INTERRUPTED,
  PROMPT_ERROR,
} PromptResult;

/* Reads one line from the controlling terminal into @buf (NUL-terminated,
 * newline stripped). With @echo FALSE, echo is off while reading and is
 * restored on every path, SIGINT included. */
static PromptResult
prompt_line (const char *prompt,
             gboolean    echo,
             char       *buf,
             gsize       size)
{
  struct sigaction sa, old_int, old_term, old_hup;
  PromptResult ret = PROMPT_OK;
  gsize len = 0;
  int fd;

  g_assert (size > 1);
  buf[0] = '\0';

  fd = open ("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    return PROMPT_ERROR;

  prompt_fd = fd;
  prompt_signal = 0;
  prompt_restore_termios = FALSE;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = prompt_signal_handler;
  sigemptyset (&sa.sa_mask);
  sa.sa_flags = 0;             /* no SA_RESTART: read() must return EINTR */
  sigaction (SIGINT, &sa, &old_int);
  sigaction (SIGTERM, &sa, &old_term);
  sigaction (SIGHUP, &sa, &old_hup);

  if (!echo && tcgetattr (fd, &prompt_saved_termios) == 0)
    {
      struct termios t = prompt_saved_termios;

      t.c_lflag &= ~(tcflag_t) ECHO;
      t.c_lflag |= ECHONL;
      prompt_restore_termios = TRUE;
      if (tcsetattr (fd, TCSAFLUSH, &t) != 0)
        prompt_restore_termios = FALSE;
    }

  if (write (fd, prompt, strlen (prompt)) < 0)
    ret = PROMPT_ERROR;

  while (ret == PROMPT_OK)
    {
      char c;
      ssize_t n;

      if (prompt_signal != 0)
        {
          ret = PROMPT_INTERRUPTED;
          break;
        }

      wait_readable (fd);
      if (prompt_signal != 0)
        continue;
      n = read (fd, &c, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        ret = PROMPT_ERROR;
      else if (n == 0)
        ret = len > 0 ? PROMPT_OK : PROMPT_EOF;
      else if (c == '\n')
        break;
      else if (c == '\0')
        {
          /* A C string would end here: refuse rather than cut. */
          ret = PROMPT_ERROR;
          break;
        }
      else if (len + 1 < size)
        buf[len++] = c;
      c = '\0';
      if (n == 0)
        break;
    }

  if (len > 0 && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';

  if (prompt_restore_termios)
    {
      tcsetattr (fd, TCSAFLUSH, &prompt_saved_termios);
      prompt_restore_termios = FALSE;
    }
  if (ret == PROMPT_INTERRUPTED && write (fd, "\n", 1) < 0)
    ret = PROMPT_INTERRUPTED;

  sigaction (SIGINT, &old_int, NULL);
  sigaction (SIGTERM, &old_term, NULL);
  sigaction (SIGHUP, &old_hup, NULL);
  close (fd);
  prompt_fd = -1;

  if (ret != PROMPT_OK)
    explicit_bzero (buf, size);
  return ret;
}

/* Reads the first line of @fd without buffering beyond it. */
static gboolean
read_secret_line (int     fd,
                  char   *buf,
                  gsize   size,
                  GError **error)
{
  gsize len = 0;

  for (;;)
    {
      char c;
      ssize_t n = read (fd, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved_errno = errno;

          explicit_bzero (buf, size);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved_errno),
                       "Cannot read the password: %s", g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0 || c == '\n')
        break;
      if (c == '\0')
        {
          /* A C string would end here and sign in with a shorter
           * password than the one given. */
          explicit_bzero (buf, size);
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "The password contains a NUL byte");
          return FALSE;
        }
      if (len + 1 >= size)
        {
          explicit_bzero (buf, size);
          c = '\0';
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "The password is too long");
          return FALSE;
        }
      buf[len++] = c;
      c = '\0';
    }

  if (len > 0 && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';

  if (len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The password is empty");
      return FALSE;
    }
  return TRUE;
}

static void
cli_wipe_password (Cli *cli)
{
  explicit_bzero (cli->password, sizeof cli->password);
  cli->have_password = FALSE;
}

/* Error reporting */

static ICloudAuthExit
exit_status_for_error (const GError *error)
{
  if (error == NULL)
    return ICLOUD_AUTH_EXIT_OK;

  if (error->domain == ICLOUD_ERROR)
    {
      switch ((ICloudError) error->code)
        {
        case ICLOUD_ERROR_FAILED_LOGIN:
          return ICLOUD_AUTH_EXIT_FAILED_LOGIN;
        case ICLOUD_ERROR_INVALID_CODE:
          return ICLOUD_AUTH_EXIT_INVALID_CODE;
        case ICLOUD_ERROR_TWO_FACTOR_REQUIRED:
        case ICLOUD_ERROR_TWO_STEP_REQUIRED:
          return ICLOUD_AUTH_EXIT_CHALLENGE_PENDING;
        case ICLOUD_ERROR_SECURITY_KEY_REQUIRED:
          return ICLOUD_AUTH_EXIT_SECURITY_KEY_REQUIRED;
        case ICLOUD_ERROR_ACCOUNT_LOCKED:
          return ICLOUD_AUTH_EXIT_ACCOUNT_LOCKED;
        case ICLOUD_ERROR_REPAIR_REQUIRED:
          return ICLOUD_AUTH_EXIT_REPAIR_REQUIRED;
        case ICLOUD_ERROR_THROTTLED:
          return ICLOUD_AUTH_EXIT_THROTTLED;
        case ICLOUD_ERROR_AUTH_REQUIRED:
          return ICLOUD_AUTH_EXIT_SIGNED_OUT;
        case ICLOUD_ERROR_SERVICE_NOT_ACTIVATED:
          return ICLOUD_AUTH_EXIT_SERVICE_NOT_ACTIVATED;
        case ICLOUD_ERROR_WRONG_REGION:
          return ICLOUD_AUTH_EXIT_WRONG_REGION;
        case ICLOUD_ERROR_NOT_AUTHENTICATED:
          return ICLOUD_AUTH_EXIT_NOT_AUTHENTICATED;
        case ICLOUD_ERROR_PROTOCOL:
          return ICLOUD_AUTH_EXIT_PROTOCOL;
        case ICLOUD_ERROR_NO_PLUGIN:
          return ICLOUD_AUTH_EXIT_NO_PLUGIN;
        case ICLOUD_ERROR_STORAGE:
          return ICLOUD_AUTH_EXIT_STORAGE;
        case ICLOUD_ERROR_CLOSED:
        default:
          return ICLOUD_AUTH_EXIT_FAILURE;
        }
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return ICLOUD_AUTH_EXIT_INTERRUPTED;
  /* An Apple ID (or other input) the library cannot use. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    return ICLOUD_AUTH_EXIT_USAGE;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
    return ICLOUD_AUTH_EXIT_PROTOCOL;
  if (error->domain == G_IO_ERROR ||
      error->domain == G_RESOLVER_ERROR ||
      error->domain == G_TLS_ERROR)
    return ICLOUD_AUTH_EXIT_NETWORK;
  if (error->domain == g_quark_try_string ("soup-session-error-quark"))
    return ICLOUD_AUTH_EXIT_PROTOCOL;

  return ICLOUD_AUTH_EXIT_FAILURE;
}

/* The states a saved session can be in, as `status` names them. */
static const char *
state_nick (ICloudAuthState state)
{
  switch (state)
    {
    case ICLOUD_AUTH_STATE_AUTHENTICATED:
      return "authenticated";
    case ICLOUD_AUTH_STATE_NEEDS_2FA:
      return "needs-2fa";
    case ICLOUD_AUTH_STATE_NEEDS_2SA:
      return "needs-2sa";
    case ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY:
      return "needs-security-key";
    case ICLOUD_AUTH_STATE_CLOSED:
    case ICLOUD_AUTH_STATE_SIGNED_OUT:
    default:
      return "signed-out";
    }
}

static ICloudAuthExit
exit_status_for_state (ICloudAuthState state)
{
  switch (state)
    {
    case ICLOUD_AUTH_STATE_AUTHENTICATED:
      return ICLOUD_AUTH_EXIT_OK;
    case ICLOUD_AUTH_STATE_NEEDS_2FA:
    case ICLOUD_AUTH_STATE_NEEDS_2SA:
    case ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY:
      return ICLOUD_AUTH_EXIT_CHALLENGE_PENDING;
    case ICLOUD_AUTH_STATE_CLOSED:
    case ICLOUD_AUTH_STATE_SIGNED_OUT:
    default:
      return ICLOUD_AUTH_EXIT_SIGNED_OUT;
    }
}

/* A sign-in without a password found nothing usable on disk. */
static gboolean
error_is_signed_out (const GError *error)
{
  return g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_AUTH_REQUIRED) ||
         g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_FAILED_LOGIN);
}

static void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = NULL;

  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, FALSE);
  text = json_generator_to_data (gen, NULL);
  g_print ("%s\n", text);
}

static const char *
nonnull (const char *s)
{
  return s != NULL ? s : "";
}

#define SHOWN_MAX 200
#define SHOWN_MESSAGE_MAX 1000

/* Text from the server (names, numbers, regions) as it may be shown on a
 * terminal: control characters escaped, at most SHOWN_MAX characters. The
 * copies live as long as the process, which is short. */

/* An error message (the library's own, which may quote the server) on one
 * line. */
static const char *
shown_message (const char *message)
{
  g_autofree char *escaped = icloud_text_escape (message, -1, SHOWN_MESSAGE_MAX);

  return g_intern_string (escaped);
}

static const char *
shown (const char *s)
{
  g_autofree char *escaped = NULL;

  if (s == NULL)
    return "";
  escaped = icloud_text_escape (s, -1, SHOWN_MAX);
  return g_intern_string (escaped);
}

/* Prints @error as "icloud-auth: message" (and a JSON object with --json)
 * and returns the exit status for it. */
static ICloudAuthExit
report_error (Cli           *cli,
              ICloudSession *session,
              const GError  *error)
{
  ICloudAuthExit status = exit_status_for_error (error);
  guint retry_after = 0;

  if (session != NULL && status == ICLOUD_AUTH_EXIT_THROTTLED)
    retry_after = icloud_session_get_retry_after (session);

  if (status == ICLOUD_AUTH_EXIT_INTERRUPTED)
    g_printerr ("%s: interrupted\n", PROGRAM_NAME);
  else
    g_printerr ("%s: %s\n", PROGRAM_NAME, shown_message (error->message));
  if (retry_after > 0 && strstr (error->message, "retry after") == NULL)
    g_printerr ("%s: retry after %u s\n", PROGRAM_NAME, retry_after);

  if (opt_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "state");
      json_builder_add_string_value (b, "error");
      json_builder_set_member_name (b, "apple_id");
      json_builder_add_string_value (b, cli->apple_id);
      json_builder_set_member_name (b, "trusted");
      json_builder_add_boolean_value (b, FALSE);
      json_builder_set_member_name (b, "region");
      json_builder_add_string_value (b, cli->region);
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, exit_status_nick (status));
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, error->message);
      json_builder_set_member_name (b, "exit_status");
      json_builder_add_int_value (b, status);
      if (retry_after > 0)
        {
          json_builder_set_member_name (b, "retry_after");
          json_builder_add_int_value (b, retry_after);
        }
      json_builder_end_object (b);
      print_json (b);
    }

  return status;
}

static ICloudAuthExit
usage_error (const char *format,
             ...) G_GNUC_PRINTF (1, 2);

static ICloudAuthExit
usage_error (const char *format,
             ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s: %s\nTry “%s --help” for more information.\n",
              PROGRAM_NAME, msg, PROGRAM_NAME);
  return ICLOUD_AUTH_EXIT_USAGE;
}

/* Sessions */

static ICloudSession *
cli_new_session (Cli      *cli,
                 gboolean  with_password)
{
  const char *names[6];
  GValue values[6] = { G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT,
                       G_VALUE_INIT, G_VALUE_INIT, G_VALUE_INIT };
  guint n = 0;
  GObject *object;

  names[n] = "apple-id";
  g_value_init (&values[n], G_TYPE_STRING);
  g_value_set_static_string (&values[n], cli->apple_id);
  n++;

  if (with_password && cli->have_password)
    {
      /* Static: GObject makes no copy of its own that nobody would wipe. */
      names[n] = "password";
      g_value_init (&values[n], G_TYPE_STRING);
      g_value_set_static_string (&values[n], cli->password);
      n++;
    }

  names[n] = "region";
  g_value_init (&values[n], G_TYPE_STRING);
  g_value_set_static_string (&values[n], cli->region);
  n++;

  if (cli->endpoint != NULL)
    {
      names[n] = "endpoint";
      g_value_init (&values[n], ICLOUD_TYPE_ENDPOINT);
      g_value_set_object (&values[n], cli->endpoint);
      n++;
    }

  if (opt_cookie_directory != NULL)
    {
      names[n] = "cookie-directory";
      g_value_init (&values[n], G_TYPE_STRING);
      g_value_set_static_string (&values[n], opt_cookie_directory);
      n++;
    }

  names[n] = "secret-store";
  g_value_init (&values[n], ICLOUD_TYPE_SECRET_STORE);
  g_value_set_enum (&values[n], cli->secret_store);
  n++;

  object = g_object_new_with_properties (ICLOUD_TYPE_SESSION, n, names, values);

  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);

  return ICLOUD_SESSION (object);
}

/* Creates a session and signs it in (GAsyncInitable: validate the saved
 * session, then the stored token, then the password if any). On failure the
 * uninitialized session is still returned in @out_session so that its
 * retry-after can be read; it must not be used otherwise. */
static gboolean
cli_sign_in (Cli            *cli,
             gboolean        with_password,
             gboolean        force_refresh,
             ICloudSession **out_session,
             GError        **error)
{
  g_autoptr(ICloudSession) session = cli_new_session (cli, with_password);
  gboolean ok;

  if (force_refresh)
    {
      icloud_session_authenticate_async (session, TRUE, cli->cancellable,
                                         on_async_done, cli);
      ok = icloud_session_authenticate_finish (session, cli_wait (cli), error);
    }
  else
    {
      g_async_initable_init_async (G_ASYNC_INITABLE (session), G_PRIORITY_DEFAULT,
                                   cli->cancellable, on_async_done, cli);
      ok = g_async_initable_init_finish (G_ASYNC_INITABLE (session),
                                         cli_wait (cli), error);
    }

  *out_session = g_steal_pointer (&session);
  return ok;
}

static void
cli_close_session (Cli           *cli,
                   ICloudSession *session)
{
  g_autoptr(GError) error = NULL;

  if (session == NULL ||
      icloud_session_get_state (session) == ICLOUD_AUTH_STATE_CLOSED)
    return;

  icloud_session_close_async (session, cli->cancellable, on_async_done, cli);
  if (!icloud_session_close_finish (session, cli_wait (cli), &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_printerr ("%s: warning: %s\n", PROGRAM_NAME, shown_message (error->message));
}

/* Signs in without a password, for commands that continue a saved session.
 * Returns NULL, having reported why, when that is not possible. */
static ICloudSession *
cli_open_saved (Cli            *cli,
                ICloudAuthExit *status)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;

  if (cli_sign_in (cli, FALSE, FALSE, &session, &error))
    return g_steal_pointer (&session);

  if (error_is_signed_out (error))
    {
      g_printerr ("%s: %s is not signed in; run “%s login” first\n",
                  PROGRAM_NAME, cli->apple_id, PROGRAM_NAME);
      *status = ICLOUD_AUTH_EXIT_SIGNED_OUT;
    }
  else
    *status = report_error (cli, session, error);
  return NULL;
}

/* The route of the last code requested, as --json says it. */
static const char *
code_delivery_nick (ICloudCodeDelivery delivery)
{
  switch (delivery)
    {
    case ICLOUD_CODE_DELIVERY_BRIDGE:
      return "bridge";
    case ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE:
      return "trusted-device";
    case ICLOUD_CODE_DELIVERY_SMS:
      return "sms";
    case ICLOUD_CODE_DELIVERY_NONE:
    default:
      return "none";
    }
}

static void
add_state_members (JsonBuilder   *b,
                   Cli           *cli,
                   ICloudSession *session,
                   const char    *state)
{
  const char *account_name = NULL;
  const char *region = cli->region;
  gboolean trusted = FALSE;

  if (session != NULL)
    {
      account_name = icloud_session_get_account_name (session);
      trusted = icloud_session_get_is_trusted_session (session);
      if (icloud_session_get_region (session) != NULL)
        region = icloud_session_get_region (session);
    }

  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, state);
  json_builder_set_member_name (b, "apple_id");
  json_builder_add_string_value (b, cli->apple_id);
  json_builder_set_member_name (b, "trusted");
  json_builder_add_boolean_value (b, trusted);
  json_builder_set_member_name (b, "region");
  json_builder_add_string_value (b, region);
  if (account_name != NULL && *account_name != '\0')
    {
      json_builder_set_member_name (b, "account_name");
      json_builder_add_string_value (b, account_name);
    }
  if (session != NULL && icloud_session_get_code_delivery (session) != ICLOUD_CODE_DELIVERY_NONE)
    {
      json_builder_set_member_name (b, "code_delivery");
      json_builder_add_string_value (b, code_delivery_nick (icloud_session_get_code_delivery (session)));
    }
}

static void
print_state_json (Cli           *cli,
                  ICloudSession *session,
                  const char    *state)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_state_members (b, cli, session, state);
  json_builder_end_object (b);
  print_json (b);
}

static void
print_challenge_hint (Cli             *cli,
                      ICloudAuthState  state)
{
  /* With --json, stdout holds only the JSON object. */
  void (*out) (const char *, ...) = opt_json ? g_printerr : g_print;

  switch (state)
    {
    case ICLOUD_AUTH_STATE_NEEDS_2FA:
      out ("Two-factor authentication is needed for %s.\n"
           "Run “%s request-code” (or “%s request-code --list”, then "
           "“%s request-code --sms PHONE_ID”), then “%s verify CODE”.\n",
           cli->apple_id, PROGRAM_NAME, PROGRAM_NAME, PROGRAM_NAME, PROGRAM_NAME);
      break;
    case ICLOUD_AUTH_STATE_NEEDS_2SA:
      out ("Two-step verification is needed for %s.\n"
           "Run “%s devices”, then “%s send-code --device DEVICE_ID”, then "
           "“%s verify --device DEVICE_ID CODE”.\n",
           cli->apple_id, PROGRAM_NAME, PROGRAM_NAME, PROGRAM_NAME);
      break;
    case ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY:
      out ("%s is protected by a security key, which %s cannot use yet.\n",
           cli->apple_id, PROGRAM_NAME);
      break;
    case ICLOUD_AUTH_STATE_SIGNED_OUT:
    case ICLOUD_AUTH_STATE_AUTHENTICATED:
    case ICLOUD_AUTH_STATE_CLOSED:
    default:
      break;
    }
}

static void
print_signed_in (Cli           *cli,
                 ICloudSession *session)
{
  const char *name = icloud_session_get_account_name (session);

  if (opt_json)
    print_state_json (cli, session, "authenticated");
  else if (name != NULL && *name != '\0' && g_strcmp0 (name, cli->apple_id) != 0)
    g_print ("Signed in as %s (%s)\n", shown (name), cli->apple_id);
  else
    g_print ("Signed in as %s\n", cli->apple_id);
}

/* After a valid code: make the session trusted, so that the next sign-in
 * needs no code. A failure here does not undo the sign-in. */
static void
cli_trust (Cli           *cli,
           ICloudSession *session)
{
  g_autoptr(GError) error = NULL;

  if (icloud_session_get_is_trusted_session (session) ||
      icloud_session_get_state (session) != ICLOUD_AUTH_STATE_AUTHENTICATED)
    return;

  icloud_session_trust_session_async (session, cli->cancellable, on_async_done, cli);
  if (!icloud_session_trust_session_finish (session, cli_wait (cli), &error))
    g_printerr ("%s: warning: this session could not be made trusted: %s\n",
                PROGRAM_NAME, shown_message (error->message));
}

static GListModel *
cli_get_phones (Cli            *cli,
                ICloudSession  *session,
                GError        **error)
{
  icloud_session_get_trusted_phone_numbers_async (session, cli->cancellable,
                                                  on_async_done, cli);
  return icloud_session_get_trusted_phone_numbers_finish (session, cli_wait (cli),
                                                          error);
}

static GListModel *
cli_get_devices (Cli            *cli,
                 ICloudSession  *session,
                 GError        **error)
{
  icloud_session_get_trusted_devices_async (session, cli->cancellable,
                                            on_async_done, cli);
  return icloud_session_get_trusted_devices_finish (session, cli_wait (cli), error);
}

static ICloudTrustedPhone *
find_phone (GListModel *phones,
            const char *id)
{
  guint n = g_list_model_get_n_items (phones);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (phones, i);

      if (g_strcmp0 (icloud_trusted_phone_get_id (phone), id) == 0)
        return g_steal_pointer (&phone);
    }
  return NULL;
}

static ICloudTrustedDevice *
find_device (GListModel *devices,
             const char *id)
{
  guint n = g_list_model_get_n_items (devices);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedDevice) device = g_list_model_get_item (devices, i);

      if (g_strcmp0 (icloud_trusted_device_get_id (device), id) == 0)
        return g_steal_pointer (&device);
    }
  return NULL;
}

static void
print_phones (GListModel *phones)
{
  guint n = g_list_model_get_n_items (phones);

  if (opt_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "phones");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (phones, i);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_string_value (b, nonnull (icloud_trusted_phone_get_id (phone)));
          json_builder_set_member_name (b, "number");
          json_builder_add_string_value (b, nonnull (icloud_trusted_phone_get_obfuscated_number (phone)));
          json_builder_set_member_name (b, "push_mode");
          json_builder_add_string_value (b, nonnull (icloud_trusted_phone_get_push_mode (phone)));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      print_json (b);
      return;
    }

  if (n == 0)
    g_print ("No trusted phone numbers.\n");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedPhone) phone = g_list_model_get_item (phones, i);

      g_print ("%-6s %-20s %s\n",
               shown (icloud_trusted_phone_get_id (phone)),
               shown (icloud_trusted_phone_get_obfuscated_number (phone)),
               shown (icloud_trusted_phone_get_push_mode (phone)));
    }
}

static void
print_devices (GListModel *devices)
{
  guint n = g_list_model_get_n_items (devices);

  if (opt_json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "devices");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(ICloudTrustedDevice) device = g_list_model_get_item (devices, i);

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_string_value (b, nonnull (icloud_trusted_device_get_id (device)));
          json_builder_set_member_name (b, "type");
          json_builder_add_string_value (b, nonnull (icloud_trusted_device_get_device_type (device)));
          json_builder_set_member_name (b, "phone_number");
          json_builder_add_string_value (b, nonnull (icloud_trusted_device_get_phone_number (device)));
          json_builder_set_member_name (b, "area_code");
          json_builder_add_string_value (b, nonnull (icloud_trusted_device_get_area_code (device)));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      print_json (b);
      return;
    }

  if (n == 0)
    g_print ("No trusted devices.\n");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(ICloudTrustedDevice) device = g_list_model_get_item (devices, i);
      const char *number = icloud_trusted_device_get_phone_number (device);

      g_print ("%-6s %-16s %s%s%s\n",
               shown (icloud_trusted_device_get_id (device)),
               shown (icloud_trusted_device_get_device_type (device)),
               shown (icloud_trusted_device_get_area_code (device)),
               number != NULL && *number != '\0' ? " " : "",
               shown (number));
    }
}

/* Keeps only the digits and letters of a code typed or passed by the user
 * ("123 456" and "123-456" are common). */
static void
normalize_code (char *code)
{
  char *out = code;

  for (const char *in = code; *in != '\0'; in++)
    if (g_ascii_isalnum (*in))
      *out++ = *in;
  *out = '\0';
}

/* Asks for a code on the terminal and checks it, up to CODE_ATTEMPTS times.
 * @device is NULL for two-factor authentication. */
static ICloudAuthExit
interactive_validate (Cli                 *cli,
                      ICloudSession       *session,
                      ICloudTrustedDevice *device)
{
  for (guint attempt = 1; ; attempt++)
    {
      g_autoptr(GError) error = NULL;
      char code[64];
      PromptResult r;
      gboolean ok;

      r = prompt_line ("Verification code: ", TRUE, code, sizeof code);
      if (r == PROMPT_INTERRUPTED)
        return ICLOUD_AUTH_EXIT_INTERRUPTED;
      if (r != PROMPT_OK)
        {
          g_printerr ("%s: no code entered\n", PROGRAM_NAME);
          return ICLOUD_AUTH_EXIT_CHALLENGE_PENDING;
        }
      normalize_code (code);
      if (code[0] == '\0')
        {
          attempt--;
          continue;
        }

      if (device == NULL)
        {
          icloud_session_validate_2fa_code_async (session, code, cli->cancellable,
                                                  on_async_done, cli);
          explicit_bzero (code, sizeof code);
          ok = icloud_session_validate_2fa_code_finish (session, cli_wait (cli), &error);
        }
      else
        {
          icloud_session_validate_verification_code_async (session, device, code,
                                                           cli->cancellable,
                                                           on_async_done, cli);
          explicit_bzero (code, sizeof code);
          ok = icloud_session_validate_verification_code_finish (session,
                                                                 cli_wait (cli),
                                                                 &error);
        }

      if (ok)
        return ICLOUD_AUTH_EXIT_OK;
      if (!g_error_matches (error, ICLOUD_ERROR, ICLOUD_ERROR_INVALID_CODE) ||
          attempt >= CODE_ATTEMPTS)
        return report_error (cli, session, error);
      g_printerr ("%s: %s; try again\n", PROGRAM_NAME, shown_message (error->message));
    }
}

static ICloudAuthExit
interactive_2fa (Cli           *cli,
                 ICloudSession *session)
{
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autoptr(GError) error = NULL;

  g_printerr ("Two-factor authentication is needed for %s.\n", cli->apple_id);

  phones = cli_get_phones (cli, session, &error);
  if (phones == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return ICLOUD_AUTH_EXIT_INTERRUPTED;
      /* Not fatal: the push to trusted devices does not need the list. */
      g_printerr ("%s: warning: %s\n", PROGRAM_NAME, shown_message (error->message));
      g_clear_error (&error);
    }
  else if (g_list_model_get_n_items (phones) > 0)
    {
      g_printerr ("Trusted phone numbers:\n");
      for (guint i = 0; i < g_list_model_get_n_items (phones); i++)
        {
          g_autoptr(ICloudTrustedPhone) p = g_list_model_get_item (phones, i);

          g_printerr ("  %-6s %s\n", shown (icloud_trusted_phone_get_id (p)),
                      shown (icloud_trusted_phone_get_obfuscated_number (p)));
        }
    }

  while (phones != NULL && g_list_model_get_n_items (phones) > 0)
    {
      char answer[128];
      PromptResult r;

      r = prompt_line ("Send code to trusted devices [Enter] or choose a phone id: ",
                       TRUE, answer, sizeof answer);
      if (r == PROMPT_INTERRUPTED)
        return ICLOUD_AUTH_EXIT_INTERRUPTED;
      if (r != PROMPT_OK)
        return ICLOUD_AUTH_EXIT_CHALLENGE_PENDING;
      g_strstrip (answer);
      if (answer[0] == '\0')
        break;
      phone = find_phone (phones, answer);
      if (phone != NULL)
        break;
      g_printerr ("%s: no trusted phone with id “%s”\n", PROGRAM_NAME, answer);
    }

  icloud_session_request_2fa_code_async (session, phone, cli->cancellable,
                                         on_async_done, cli);
  if (!icloud_session_request_2fa_code_finish (session, cli_wait (cli), &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return ICLOUD_AUTH_EXIT_INTERRUPTED;
      /* A code may already be on screen: still ask for it. */
      g_printerr ("%s: warning: the code could not be requested: %s\n",
                  PROGRAM_NAME, shown_message (error->message));
    }
  else if (phone != NULL)
    g_printerr ("A code was sent by SMS to %s.\n",
                shown (icloud_trusted_phone_get_obfuscated_number (phone)));
  else
    switch (icloud_session_get_code_delivery (session))
      {
      case ICLOUD_CODE_DELIVERY_BRIDGE:
        /* The bridge's connection stays open while the code is typed
         * (prompt_line () runs the main context meanwhile). */
        g_printerr ("A prompt was sent to your trusted devices (trusted-device bridge); "
                    "enter the code shown there.\n");
        break;
      case ICLOUD_CODE_DELIVERY_SMS:
        g_printerr ("The trusted-device prompt could not be shown: a code was sent by SMS "
                    "to a trusted phone number.\n");
        break;
      case ICLOUD_CODE_DELIVERY_TRUSTED_DEVICE:
      case ICLOUD_CODE_DELIVERY_NONE:
      default:
        g_printerr ("A code was pushed to your trusted devices.\n");
        break;
      }

  return interactive_validate (cli, session, NULL);
}

static ICloudAuthExit
interactive_2sa (Cli           *cli,
                 ICloudSession *session)
{
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  guint n;

  g_printerr ("Two-step verification is needed for %s.\n", cli->apple_id);

  devices = cli_get_devices (cli, session, &error);
  if (devices == NULL)
    return report_error (cli, session, error);
  n = g_list_model_get_n_items (devices);
  if (n == 0)
    {
      g_printerr ("%s: the account has no trusted devices\n", PROGRAM_NAME);
      return ICLOUD_AUTH_EXIT_FAILURE;
    }

  if (opt_device != NULL)
    device = find_device (devices, opt_device);

  g_printerr ("Trusted devices:\n");
  for (guint i = 0; i < n && device == NULL; i++)
    {
      g_autoptr(ICloudTrustedDevice) d = g_list_model_get_item (devices, i);

      g_printerr ("  %-6s %s %s\n", shown (icloud_trusted_device_get_id (d)),
                  shown (icloud_trusted_device_get_device_type (d)),
                  shown (icloud_trusted_device_get_phone_number (d)));
    }

  while (device == NULL)
    {
      char answer[128];
      PromptResult r;

      r = prompt_line (n == 1 ? "Send code to this device [Enter] or choose a device id: "
                              : "Choose a device id: ",
                       TRUE, answer, sizeof answer);
      if (r == PROMPT_INTERRUPTED)
        return ICLOUD_AUTH_EXIT_INTERRUPTED;
      if (r != PROMPT_OK)
        return ICLOUD_AUTH_EXIT_CHALLENGE_PENDING;
      g_strstrip (answer);
      if (answer[0] == '\0' && n == 1)
        device = g_list_model_get_item (devices, 0);
      else if ((device = find_device (devices, answer)) == NULL)
        g_printerr ("%s: no trusted device with id “%s”\n", PROGRAM_NAME, answer);
    }

  icloud_session_send_verification_code_async (session, device, cli->cancellable,
                                               on_async_done, cli);
  if (!icloud_session_send_verification_code_finish (session, cli_wait (cli), &error))
    return report_error (cli, session, error);
  g_printerr ("A code was sent.\n");

  return interactive_validate (cli, session, device);
}

/* Commands */

static ICloudAuthExit
get_password (Cli *cli)
{
  g_autoptr(GError) error = NULL;

  if (cli->have_password)
    return ICLOUD_AUTH_EXIT_OK;

  if (opt_password_file != NULL)
    {
      int fd = open (opt_password_file, O_RDONLY | O_CLOEXEC);

      if (fd < 0)
        {
          int saved_errno = errno;

          g_printerr ("%s: cannot open the password file: %s\n",
                      PROGRAM_NAME, g_strerror (saved_errno));
          return ICLOUD_AUTH_EXIT_USAGE;
        }
      if (!read_secret_line (fd, cli->password, sizeof cli->password, &error))
        {
          close (fd);
          g_printerr ("%s: %s\n", PROGRAM_NAME, shown_message (error->message));
          return ICLOUD_AUTH_EXIT_USAGE;
        }
      close (fd);
    }
  else if (opt_password_stdin)
    {
      if (!read_secret_line (STDIN_FILENO, cli->password, sizeof cli->password, &error))
        {
          g_printerr ("%s: %s\n", PROGRAM_NAME, shown_message (error->message));
          return ICLOUD_AUTH_EXIT_USAGE;
        }
    }
  else if (isatty (STDIN_FILENO))
    {
      g_autofree char *prompt = g_strdup_printf ("Password for %s: ", cli->apple_id);

      switch (prompt_line (prompt, FALSE, cli->password, sizeof cli->password))
        {
        case PROMPT_OK:
          if (cli->password[0] != '\0')
            break;
          G_GNUC_FALLTHROUGH;
        case PROMPT_EOF:
          g_printerr ("%s: no password entered\n", PROGRAM_NAME);
          return ICLOUD_AUTH_EXIT_SIGNED_OUT;
        case PROMPT_INTERRUPTED:
          return ICLOUD_AUTH_EXIT_INTERRUPTED;
        case PROMPT_ERROR:
        default:
          g_printerr ("%s: cannot read the password from the terminal\n", PROGRAM_NAME);
          return ICLOUD_AUTH_EXIT_SIGNED_OUT;
        }
    }
  else
    {
      g_printerr ("%s: a password is needed to sign in %s: use --password-stdin "
                  "or --password-file\n", PROGRAM_NAME, cli->apple_id);
      return ICLOUD_AUTH_EXIT_SIGNED_OUT;
    }

  cli->have_password = TRUE;
  return ICLOUD_AUTH_EXIT_OK;
}

static ICloudAuthExit
cmd_login (Cli  *cli,
           int   argc,
           char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;
  ICloudAuthExit status;
  gboolean explicit_password = opt_password_stdin || opt_password_file != NULL;
  gboolean ok;
  ICloudAuthState state;

  if (argc > 1)
    return usage_error ("login takes no arguments");

  /* Without a password source, a saved session may be enough: try it
   * before prompting. With --force-refresh the password is asked for
   * first: the library signs an untrusted session in again with it. */
  if (explicit_password || opt_force_refresh)
    {
      status = get_password (cli);
      if (status != ICLOUD_AUTH_EXIT_OK)
        return status;
    }

  ok = cli_sign_in (cli, TRUE, opt_force_refresh, &session, &error);
  if (!ok && !cli->have_password && error_is_signed_out (error))
    {
      g_clear_error (&error);
      g_clear_object (&session);   /* releases the account lock */
      status = get_password (cli);
      if (status != ICLOUD_AUTH_EXIT_OK)
        return status;
      ok = cli_sign_in (cli, TRUE, FALSE, &session, &error);
    }
  cli_wipe_password (cli);

  if (!ok)
    return report_error (cli, session, error);

  state = icloud_session_get_state (session);
  if ((state == ICLOUD_AUTH_STATE_NEEDS_2FA || state == ICLOUD_AUTH_STATE_NEEDS_2SA) &&
      cli->interactive)
    {
      status = state == ICLOUD_AUTH_STATE_NEEDS_2FA
        ? interactive_2fa (cli, session)
        : interactive_2sa (cli, session);
      if (status != ICLOUD_AUTH_EXIT_OK)
        {
          cli_close_session (cli, session);
          return status;
        }
      cli_trust (cli, session);
      state = icloud_session_get_state (session);
    }

  if (state == ICLOUD_AUTH_STATE_AUTHENTICATED)
    {
      print_signed_in (cli, session);
      status = ICLOUD_AUTH_EXIT_OK;
    }
  else
    {
      if (opt_json)
        print_state_json (cli, session, state_nick (state));
      print_challenge_hint (cli, state);
      status = state == ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY
        ? ICLOUD_AUTH_EXIT_SECURITY_KEY_REQUIRED
        : exit_status_for_state (state);
    }

  cli_close_session (cli, session);
  return status;
}

static ICloudAuthExit
cmd_status (Cli  *cli,
            int   argc,
            char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;
  ICloudAuthState state;

  if (argc > 1)
    return usage_error ("status takes no arguments");

  /* Never a password, never SRP: only what is saved. */
  if (!cli_sign_in (cli, FALSE, FALSE, &session, &error))
    {
      if (!error_is_signed_out (error))
        return report_error (cli, session, error);

      if (opt_json)
        print_state_json (cli, NULL, "signed-out");
      else
        g_print ("Apple ID: %s\nState: signed-out\nRegion: %s\n",
                 cli->apple_id, cli->region);
      return ICLOUD_AUTH_EXIT_SIGNED_OUT;
    }

  state = icloud_session_get_state (session);
  if (opt_json)
    print_state_json (cli, session, state_nick (state));
  else
    {
      const char *name = icloud_session_get_account_name (session);

      g_print ("Apple ID: %s\n", cli->apple_id);
      g_print ("State: %s\n", state_nick (state));
      if (name != NULL && *name != '\0')
        g_print ("Account: %s\n", shown (name));
      g_print ("Trusted: %s\n",
               icloud_session_get_is_trusted_session (session) ? "yes" : "no");
      g_print ("Region: %s\n", shown (icloud_session_get_region (session)));
      print_challenge_hint (cli, state);
    }

  cli_close_session (cli, session);
  return exit_status_for_state (state);
}

static ICloudAuthExit
cmd_logout (Cli  *cli,
            int   argc,
            char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;
  gboolean signed_in;

  if (argc > 1)
    return usage_error ("logout takes no arguments");

  signed_in = cli_sign_in (cli, FALSE, FALSE, &session, &error);
  if (!signed_in)
    {
      ICloudAuthExit status = exit_status_for_error (error);

      /* Nothing to sign out from (or Apple cannot be reached): still let
       * the library forget what is saved locally. */
      if (status == ICLOUD_AUTH_EXIT_INTERRUPTED ||
          status == ICLOUD_AUTH_EXIT_STORAGE ||
          status == ICLOUD_AUTH_EXIT_NO_PLUGIN)
        return report_error (cli, session, error);
      if (!error_is_signed_out (error))
        g_printerr ("%s: warning: %s\n", PROGRAM_NAME, shown_message (error->message));
      g_clear_error (&error);
      g_clear_object (&session);
      session = cli_new_session (cli, FALSE);
    }

  icloud_session_logout_async (session, opt_keep_trusted, opt_all_sessions,
                               cli->cancellable, on_async_done, cli);
  if (!icloud_session_logout_finish (session, cli_wait (cli), &error))
    {
      ICloudAuthExit status = exit_status_for_error (error);

      if (signed_in ||
          !(status == ICLOUD_AUTH_EXIT_SIGNED_OUT ||
            status == ICLOUD_AUTH_EXIT_FAILED_LOGIN ||
            status == ICLOUD_AUTH_EXIT_NOT_AUTHENTICATED ||
            status == ICLOUD_AUTH_EXIT_NETWORK))
        return report_error (cli, session, error);
    }

  /* No close (): the session has nothing left to keep. */
  if (!opt_json)
    g_print ("Signed out %s%s\n", cli->apple_id,
             opt_keep_trusted ? " (this machine stays trusted)" : "");
  else
    print_state_json (cli, NULL, "signed-out");

  return ICLOUD_AUTH_EXIT_OK;
}

static ICloudAuthExit
wrong_state (Cli             *cli,
             ICloudSession   *session,
             const char      *command)
{
  ICloudAuthState state = icloud_session_get_state (session);

  if (state == ICLOUD_AUTH_STATE_AUTHENTICATED)
    g_printerr ("%s: %s: %s is already signed in: no verification is pending\n",
                PROGRAM_NAME, command, cli->apple_id);
  else if (state == ICLOUD_AUTH_STATE_NEEDS_2FA)
    g_printerr ("%s: %s: %s uses two-factor authentication: use “%s request-code” "
                "and “%s verify CODE”\n",
                PROGRAM_NAME, command, cli->apple_id, PROGRAM_NAME, PROGRAM_NAME);
  else if (state == ICLOUD_AUTH_STATE_NEEDS_2SA)
    g_printerr ("%s: %s: %s uses two-step verification: use “%s devices”, "
                "“%s send-code --device DEVICE_ID” and “%s verify --device DEVICE_ID CODE”\n",
                PROGRAM_NAME, command, cli->apple_id,
                PROGRAM_NAME, PROGRAM_NAME, PROGRAM_NAME);
  else if (state == ICLOUD_AUTH_STATE_NEEDS_SECURITY_KEY)
    {
      g_printerr ("%s: %s: %s needs a security key\n", PROGRAM_NAME, command,
                  cli->apple_id);
      return ICLOUD_AUTH_EXIT_SECURITY_KEY_REQUIRED;
    }
  else
    g_printerr ("%s: %s: %s is not signed in\n", PROGRAM_NAME, command, cli->apple_id);

  return ICLOUD_AUTH_EXIT_NOT_AUTHENTICATED;
}

static ICloudAuthExit
cmd_request_code (Cli  *cli,
                  int   argc,
                  char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) phones = NULL;
  g_autoptr(ICloudTrustedPhone) phone = NULL;
  g_autoptr(GError) error = NULL;
  ICloudAuthExit status = ICLOUD_AUTH_EXIT_OK;

  if (argc > 1)
    return usage_error ("request-code takes no arguments (use --sms PHONE_ID)");

  session = cli_open_saved (cli, &status);
  if (session == NULL)
    return status;

  if (icloud_session_get_state (session) != ICLOUD_AUTH_STATE_NEEDS_2FA)
    {
      status = wrong_state (cli, session, "request-code");
      goto out;
    }

  /* The trusted-device bridge lives in one process; “verify” runs in
   * another: Apple's push (or an SMS) instead. */
  icloud_session_set_trusted_device_bridge (session, FALSE);

  if (opt_list || opt_sms != NULL)
    {
      phones = cli_get_phones (cli, session, &error);
      if (phones == NULL)
        {
          status = report_error (cli, session, error);
          goto out;
        }
    }

  if (opt_list)
    {
      print_phones (phones);
      goto out;
    }

  if (opt_sms != NULL)
    {
      phone = find_phone (phones, opt_sms);
      if (phone == NULL)
        {
          g_printerr ("%s: no trusted phone with id “%s” (see “%s request-code --list”)\n",
                      PROGRAM_NAME, opt_sms, PROGRAM_NAME);
          status = ICLOUD_AUTH_EXIT_USAGE;
          goto out;
        }
    }

  icloud_session_request_2fa_code_async (session, phone, cli->cancellable,
                                         on_async_done, cli);
  if (!icloud_session_request_2fa_code_finish (session, cli_wait (cli), &error))
    {
      status = report_error (cli, session, error);
      goto out;
    }

  if (opt_json)
    print_state_json (cli, session, state_nick (icloud_session_get_state (session)));
  else if (phone != NULL)
    g_print ("A code was sent by SMS to %s. Run “%s verify CODE”.\n",
             shown (icloud_trusted_phone_get_obfuscated_number (phone)), PROGRAM_NAME);
  else
    g_print ("A code was pushed to your trusted devices (not through the trusted-device "
             "bridge: it cannot span two processes). Run “%s verify CODE”.\n",
             PROGRAM_NAME);

out:
  cli_close_session (cli, session);
  return status;
}

static ICloudAuthExit
cmd_verify (Cli  *cli,
            int   argc,
            char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  ICloudAuthExit status = ICLOUD_AUTH_EXIT_OK;
  ICloudAuthState state;
  char code[64];
  gboolean ok;

  if (argc != 2)
    return usage_error ("verify takes one argument: the code");
  if (strlen (argv[1]) >= sizeof code)
    return usage_error ("the code is too long");
  g_strlcpy (code, argv[1], sizeof code);
  normalize_code (code);
  if (code[0] == '\0')
    return usage_error ("the code is empty");

  session = cli_open_saved (cli, &status);
  if (session == NULL)
    goto out;

  state = icloud_session_get_state (session);
  if (state == ICLOUD_AUTH_STATE_NEEDS_2FA)
    {
      /* The library remembers the route (push or SMS) the code came by. */
      icloud_session_validate_2fa_code_async (session, code, cli->cancellable,
                                              on_async_done, cli);
      explicit_bzero (code, sizeof code);
      ok = icloud_session_validate_2fa_code_finish (session, cli_wait (cli), &error);
    }
  else if (state == ICLOUD_AUTH_STATE_NEEDS_2SA)
    {
      g_autoptr(GListModel) devices = cli_get_devices (cli, session, &error);

      if (devices == NULL)
        {
          status = report_error (cli, session, error);
          goto out;
        }
      if (opt_device != NULL)
        device = find_device (devices, opt_device);
      else if (g_list_model_get_n_items (devices) == 1)
        device = g_list_model_get_item (devices, 0);
      if (device == NULL)
        {
          if (opt_device != NULL)
            g_printerr ("%s: no trusted device with id “%s” (see “%s devices”)\n",
                        PROGRAM_NAME, opt_device, PROGRAM_NAME);
          else
            g_printerr ("%s: two-step verification: say which device the code was "
                        "sent to with --device DEVICE_ID\n", PROGRAM_NAME);
          status = ICLOUD_AUTH_EXIT_USAGE;
          goto out;
        }
      icloud_session_validate_verification_code_async (session, device, code,
                                                       cli->cancellable,
                                                       on_async_done, cli);
      explicit_bzero (code, sizeof code);
      ok = icloud_session_validate_verification_code_finish (session, cli_wait (cli),
                                                             &error);
    }
  else
    {
      status = wrong_state (cli, session, "verify");
      goto out;
    }

  if (!ok)
    {
      status = report_error (cli, session, error);
      goto out;
    }

  cli_trust (cli, session);
  if (icloud_session_get_state (session) == ICLOUD_AUTH_STATE_AUTHENTICATED)
    print_signed_in (cli, session);
  else
    {
      state = icloud_session_get_state (session);
      if (opt_json)
        print_state_json (cli, session, state_nick (state));
      print_challenge_hint (cli, state);
      status = exit_status_for_state (state);
    }

out:
  explicit_bzero (code, sizeof code);
  cli_close_session (cli, session);
  return status;
}

static ICloudAuthExit
cmd_devices (Cli  *cli,
             int   argc,
             char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(GError) error = NULL;
  ICloudAuthExit status = ICLOUD_AUTH_EXIT_OK;

  if (argc > 1)
    return usage_error ("devices takes no arguments");

  session = cli_open_saved (cli, &status);
  if (session == NULL)
    return status;

  if (icloud_session_get_state (session) != ICLOUD_AUTH_STATE_NEEDS_2SA)
    status = wrong_state (cli, session, "devices");
  else if ((devices = cli_get_devices (cli, session, &error)) == NULL)
    status = report_error (cli, session, error);
  else
    print_devices (devices);

  cli_close_session (cli, session);
  return status;
}

static ICloudAuthExit
cmd_send_code (Cli  *cli,
               int   argc,
               char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GListModel) devices = NULL;
  g_autoptr(ICloudTrustedDevice) device = NULL;
  g_autoptr(GError) error = NULL;
  ICloudAuthExit status = ICLOUD_AUTH_EXIT_OK;

  if (argc > 1)
    return usage_error ("send-code takes no arguments (use --device DEVICE_ID)");
  if (opt_device == NULL)
    return usage_error ("send-code needs --device DEVICE_ID (see “%s devices”)",
                        PROGRAM_NAME);

  session = cli_open_saved (cli, &status);
  if (session == NULL)
    return status;

  if (icloud_session_get_state (session) != ICLOUD_AUTH_STATE_NEEDS_2SA)
    {
      status = wrong_state (cli, session, "send-code");
      goto out;
    }

  devices = cli_get_devices (cli, session, &error);
  if (devices == NULL)
    {
      status = report_error (cli, session, error);
      goto out;
    }
  device = find_device (devices, opt_device);
  if (device == NULL)
    {
      g_printerr ("%s: no trusted device with id “%s” (see “%s devices”)\n",
                  PROGRAM_NAME, opt_device, PROGRAM_NAME);
      status = ICLOUD_AUTH_EXIT_USAGE;
      goto out;
    }

  icloud_session_send_verification_code_async (session, device, cli->cancellable,
                                               on_async_done, cli);
  if (!icloud_session_send_verification_code_finish (session, cli_wait (cli), &error))
    {
      status = report_error (cli, session, error);
      goto out;
    }
  g_print ("A code was sent. Run “%s verify --device %s CODE”.\n",
           PROGRAM_NAME, opt_device);

out:
  cli_close_session (cli, session);
  return status;
}

static ICloudAuthExit
cmd_import_pyicloud (Cli  *cli,
                     int   argc,
                     char **argv)
{
  g_autoptr(ICloudSession) session = NULL;
  g_autoptr(GError) error = NULL;

  if (argc != 2)
    return usage_error ("import-pyicloud takes one argument: pyicloud's cookie directory");

  /* A malformed file is PROTOCOL (12), an unreadable one STORAGE (13); the
   * saved session is then unchanged. */
  session = cli_new_session (cli, FALSE);
  if (!icloud_session_import_pyicloud (session, argv[1], &error))
    return report_error (cli, NULL, error);
  g_clear_object (&session);

  if (!opt_json)
    g_print ("Imported the pyicloud session of %s from %s\n", cli->apple_id, argv[1]);

  /* Then what status shows: the imported session checked with the server,
   * with no password and no SRP. */
  return cmd_status (cli, 1, argv);
}

static const struct {
  const char *name;
  ICloudAuthExit (*run) (Cli *cli, int argc, char **argv);
  const char *help;
} commands[] = {
  { "login", cmd_login, "Sign in (password, then the second factor)" },
  { "status", cmd_status, "Check the saved session with the server" },
  { "logout", cmd_logout, "Sign out and forget the saved session" },
  { "request-code", cmd_request_code,
    "Send a two-factor code to trusted devices or by SMS (--sms PHONE_ID); --list the phones" },
  { "verify", cmd_verify, "Check a code: verify [--device DEVICE_ID] CODE" },
  { "devices", cmd_devices, "List trusted devices (two-step verification)" },
  { "send-code", cmd_send_code, "Send a two-step code to --device DEVICE_ID" },
  { "import-pyicloud", cmd_import_pyicloud, "Import a pyicloud session: import-pyicloud DIR" },
};

static char *
build_summary (void)
{
  GString *s = g_string_new ("Commands:");

  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (s, "\n  %-16s %s", commands[i].name, commands[i].help);
  return g_string_free (s, FALSE);
}

static char *
build_description (void)
{
  GString *s = g_string_new ("Exit status:");

  for (gsize i = 0; i < G_N_ELEMENTS (exit_statuses); i++)
    g_string_append_printf (s, "\n  %3d  %s", exit_statuses[i].status,
                            exit_statuses[i].description);
  g_string_append (s,
                   "\n\nThe password is never taken from the command line. On a "
                   "terminal it is asked for\nwith echo off; otherwise use "
                   "--password-stdin or --password-file.\n"
                   "Not on a terminal, “login” stops at the second factor with "
                   "status 4; finish\nwith “request-code” and “verify CODE” "
                   "(or “send-code” and “verify --device”).");
  return g_string_free (s, FALSE);
}

/* --keyring, else $ICLOUD_SECRET_STORE (the nick of an ICloudSecretStore:
 * "file" or "keyring"), else the session file. FALSE for an unknown nick. */
static gboolean
choose_secret_store (ICloudSecretStore *out_store)
{
  g_autoptr(GEnumClass) klass = NULL;
  const char *env = g_getenv ("ICLOUD_SECRET_STORE");
  GEnumValue *value;

  *out_store = ICLOUD_SECRET_STORE_FILE;
  if (opt_keyring)
    {
      *out_store = ICLOUD_SECRET_STORE_KEYRING;
      return TRUE;
    }
  if (env == NULL || *env == '\0')
    return TRUE;

  klass = g_type_class_ref (ICLOUD_TYPE_SECRET_STORE);
  value = g_enum_get_value_by_nick (klass, env);
  if (value == NULL)
    return FALSE;
  *out_store = value->value;
  return TRUE;
}

static void
free_options (void)
{
  g_clear_pointer (&opt_apple_id, g_free);
  g_clear_pointer (&opt_region, g_free);
  g_clear_pointer (&opt_endpoint_base, g_free);
  g_clear_pointer (&opt_cookie_directory, g_free);
  g_clear_pointer (&opt_password_file, g_free);
  g_clear_pointer (&opt_sms, g_free);
  g_clear_pointer (&opt_device, g_free);
}

static int
run (int    argc,
     char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *description = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(ICloudEndpoint) endpoint = NULL;
  Cli cli = { 0 };
  ICloudAuthExit status;
  const char *command;

  context = g_option_context_new ("COMMAND [ARGS…] — sign in to iCloud");
  summary = build_summary ();
  description = build_description ();
  g_option_context_set_summary (context, summary);
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return usage_error ("%s", error->message);

  if (opt_version)
    {
      g_print ("%s %s\n", PROGRAM_NAME, PACKAGE_VERSION);
      return ICLOUD_AUTH_EXIT_OK;
    }

  if (!choose_secret_store (&cli.secret_store))
    return usage_error ("ICLOUD_SECRET_STORE must be “file” or “keyring”");

  if (argc < 2)
    return usage_error ("no command given");
  command = argv[1];

  if (opt_apple_id == NULL || *opt_apple_id == '\0')
    {
      const char *env = g_getenv ("ICLOUD_APPLE_ID");

      g_free (opt_apple_id);
      opt_apple_id = env != NULL && *env != '\0' ? g_strdup (env) : NULL;
    }
  if (opt_apple_id == NULL)
    return usage_error ("no Apple ID: use --apple-id ID or set ICLOUD_APPLE_ID");

  if (opt_china_mainland)
    {
      if (opt_region != NULL && g_strcmp0 (opt_region, "china-mainland") != 0)
        return usage_error ("--china-mainland and --region %s disagree", opt_region);
      g_free (opt_region);
      opt_region = g_strdup ("china-mainland");
    }

  if (opt_password_stdin && opt_password_file != NULL)
    return usage_error ("use either --password-stdin or --password-file, not both");

  if (opt_endpoint_base != NULL)
    {
      endpoint = icloud_endpoint_new_for_base_uri (opt_endpoint_base, &error);
      if (endpoint == NULL)
        return usage_error ("--endpoint-base: %s", error->message);
    }

  cancellable = g_cancellable_new ();
  cli.cancellable = cancellable;
  cli.apple_id = opt_apple_id;
  cli.region = opt_region != NULL ? opt_region : "global";
  cli.endpoint = endpoint;
  cli.interactive = isatty (STDIN_FILENO) && isatty (STDOUT_FILENO);
  cli.sigint_id = g_unix_signal_add (SIGINT, on_signal, &cli);
  cli.sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &cli);

  status = ICLOUD_AUTH_EXIT_USAGE;
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (commands[i].name, command))
      {
        status = commands[i].run (&cli, argc - 1, argv + 1);
        goto done;
      }
  usage_error ("unknown command “%s”", command);

done:
  cli_wipe_password (&cli);
  g_clear_object (&cli.result);
  g_clear_object (&cli.last);
  g_source_remove (cli.sigint_id);
  g_source_remove (cli.sigterm_id);
  return status;
}

/* Everything the program prints goes through here: whatever a server or
 * an environment variable put into a string, the terminal gets no control
 * character but the newlines and tabs of the program's own formats
 * (escaped as \uXXXX, which is also what JSON would say), and no byte that
 * is not UTF-8. */
static void
write_clean (FILE       *stream,
             const char *text)
{
  g_autoptr(GString) out = g_string_sized_new (strlen (text));
  const char *end = text + strlen (text);

  for (const char *p = text; p < end; )
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\uFFFD");
          p++;
          continue;
        }
      if (c != '\n' && c != '\t' &&
          (g_unichar_type (c) == G_UNICODE_CONTROL ||
           g_unichar_type (c) == G_UNICODE_FORMAT ||
           g_unichar_type (c) == G_UNICODE_LINE_SEPARATOR ||
           g_unichar_type (c) == G_UNICODE_PARAGRAPH_SEPARATOR))
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  fputs (out->str, stream);
  fflush (stream);
}

static void
print_clean (const char *text)
{
  write_clean (stdout, text);
}

static void
printerr_clean (const char *text)
{
  write_clean (stderr, text);
}

int
main (int    argc,
      char **argv)
{
  int status;

  setlocale (LC_ALL, "");
  g_set_prgname (PROGRAM_NAME);
  g_set_print_handler (print_clean);
  g_set_printerr_handler (printerr_clean);

  status = run (argc, argv);
  free_options ();
  return status;
}
