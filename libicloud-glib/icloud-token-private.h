/* icloud-token-private.h: session tokens as the results of auth methods
 *
 * For the library and the plugins of this tree. A method's task returns the
 * token Apple sent with its answer as a string ("" when the answer had
 * none); the `_finish` virtual methods hand it over through
 * icloud_token_task_finish ().
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>
#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define ICLOUD_SESSION_TOKEN_HEADER "X-Apple-Session-Token"

static inline void
icloud_token_free (gpointer token)
{
  if (token != NULL)
    {
      explicit_bzero (token, strlen (token));
      g_free (token);
    }
}

/* Returns the session token of @headers (or "" when there is none) from
 * @task. */
static inline void
icloud_token_task_return (GTask      *task,
                          const char *token)
{
  g_task_return_pointer (task, g_strdup (token != NULL ? token : ""), icloud_token_free);
}

static inline gboolean
icloud_token_task_finish (GTask    *task,
                          char    **session_token,
                          GError  **error)
{
  char *token = g_task_propagate_pointer (task, error);

  if (session_token != NULL)
    *session_token = NULL;
  if (token == NULL)
    return FALSE;
  if (*token != '\0' && session_token != NULL)
    *session_token = token;
  else
    icloud_token_free (token);
  return TRUE;
}

/* The `_finish` of a method that returns a session token (sign_in,
 * validate_code, trust): the task's source
 * tag checked, the session token handed over. */
static inline gboolean
icloud_token_method_finish (gpointer   method,
                            GAsyncResult *result,
                            gpointer   source_tag,
                            char     **session_token,
                            GError   **error)
{
  g_return_val_if_fail (g_task_is_valid (result, method), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, FALSE);
  return icloud_token_task_finish (G_TASK (result), session_token, error);
}

G_END_DECLS
