/* icloud-endpoint-private.h
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-glib/icloud-endpoint.h"

G_BEGIN_DECLS

/* The URI of a WebSocket to one of Apple's other hosts (the web-push
 * service), @path starting with `/`: `wss://HOST/PATH`; for an endpoint made
 * by icloud_endpoint_new_for_base_uri () on a loopback host (the fake
 * server's one-origin mode), that origin instead (`ws://` for `http://`,
 * `wss://` for `https://`), as the other Apple roots map into the base. NULL
 * with G_IO_ERROR_INVALID_ARGUMENT for a host that is not a bare host name
 * (or `host:port`). */
char *icloud_endpoint_dup_websocket_uri (ICloudEndpoint  *self,
                                         const char      *host,
                                         const char      *path,
                                         GError         **error);

G_END_DECLS
