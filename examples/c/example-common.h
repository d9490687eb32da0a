/* example-common.h: what every C example shares, and that an application
 * would not need: the fake iCloud server the examples sign in to, started
 * in this process (tests/harness, ICloudMockServer), a private state
 * directory, and a check that fails the example.
 *
 * With Apple, an application sets neither the endpoint nor the soup-session
 * these helpers provide: the default region's hosts are Apple's.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <icloud-glib/icloud-glib.h>

#include "icloud-mock-server.h"

G_BEGIN_DECLS

typedef struct {
  ICloudMockServer *server;    /* the fake iCloud server */
  ICloudEndpoint   *endpoint;  /* its base URI, for icloud_endpoint_new_for_base_uri () */
  SoupSession      *soup;      /* routed mode only: reaches Apple's host names on the fake server */
  char             *state_dir; /* $XDG_STATE_HOME of this process, removed at the end */
} ExampleServer;

/* Starts the fake server on one origin (http://127.0.0.1:PORT) with the
 * accounts of $ICLOUD_MOCK_ACCOUNTS (data/accounts.json), and points
 * $XDG_STATE_HOME at a fresh directory so that the default session
 * directory, $XDG_STATE_HOME/icloud-glib, is private to this run. */
void example_server_start        (ExampleServer *ex);

/* The same in routed mode: TLS with the test certificate
 * ($ICLOUD_EXAMPLE_CERT, $ICLOUD_EXAMPLE_KEY) and Apple's host names, for the
 * China mainland example. ex->soup connects every host name to the fake
 * server and trusts only the test certificate: nothing leaves the machine. */
void example_server_start_routed (ExampleServer *ex);

void example_server_stop         (ExampleServer *ex);

/* Runs @loop until g_main_loop_quit (), failing the example after 30 s. */
void example_run                 (GMainLoop     *loop);

/* The example fails (exit status 1) when a check does not hold. */
#define check(expr) \
  G_STMT_START { \
    if (!(expr)) \
      { \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
        exit (EXIT_FAILURE); \
      } \
  } G_STMT_END

#define check_no_error(error) \
  G_STMT_START { \
    if ((error) != NULL) \
      { \
        fprintf (stderr, "%s:%d: unexpected error: %s (%s, %d)\n", __FILE__, __LINE__, \
                 (error)->message, g_quark_to_string ((error)->domain), (error)->code); \
        exit (EXIT_FAILURE); \
      } \
  } G_STMT_END

G_END_DECLS
