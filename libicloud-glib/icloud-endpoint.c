/* icloud-endpoint.c: the three roots a session talks to
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <gio/gio.h>

#include "icloud-endpoint.h"
#include "icloud-endpoint-private.h"

/**
 * ICloudEndpoint:
 *
 * The three roots an [class@ICloud.Session] talks to.
 *
 * - the *auth* root, Apple's sign-in service (`idmsa`): SRP, the second
 *   factor, trusting the browser;
 * - the *setup* root: `accountLogin`, `validate`, two-step (2SA) devices and
 *   codes, `logout`;
 * - the *home* root: the site the web session belongs to, sent as `Origin`
 *   and `Referer`.
 *
 * The global (non-China mainland) endpoint is:
 *
 * | root  | URI                                  |
 * | ----- | ------------------------------------ |
 * | auth  | `https://idmsa.apple.com/appleauth/auth` |
 * | setup | `https://setup.icloud.com/setup/ws/1`    |
 * | home  | `https://www.icloud.com`                 |
 *
 * A session normally derives its endpoint from its
 * [property@ICloud.Session:region]. An endpoint given as
 * [property@ICloud.Session:endpoint] overrides the region: it is how a
 * program talks to a server other than Apple's, such as the library's fake
 * iCloud server. [ctor@ICloud.Endpoint.new_for_base_uri] covers a server that
 * serves Apple's paths on a single origin.
 *
 * Each URI must be absolute and use `https`. Plain `http` is accepted only for
 * a loopback host (`localhost`, an address in `127.0.0.0/8`, or `::1`), so that
 * tests and demos can use a local server without TLS while nothing can send
 * credentials in clear text over a network. Trailing slashes are removed.
 *
 * An endpoint is immutable. Create it with [ctor@ICloud.Endpoint.new] or
 * [ctor@ICloud.Endpoint.new_for_base_uri], which check the URIs; properties
 * set through [ctor@GObject.Object.new] are stored without those checks.
 */

struct _ICloudEndpoint
{
  GObject parent_instance;

  char *auth_uri;
  char *setup_uri;
  char *home_uri;
};

G_DEFINE_FINAL_TYPE (ICloudEndpoint, icloud_endpoint, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_AUTH_URI,
  PROP_SETUP_URI,
  PROP_HOME_URI,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* A copy of @uri without its trailing slashes. */
static char *
strip_trailing_slashes (const char *uri)
{
  gsize len;

  if (uri == NULL)
    return NULL;

  len = strlen (uri);
  while (len > 0 && uri[len - 1] == '/')
    len--;

  return g_strndup (uri, len);
}

static gboolean
host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = NULL;
  g_autofree char *bare = NULL;
  gsize len;

  if (host == NULL || *host == '\0')
    return FALSE;

  if (g_ascii_strcasecmp (host, "localhost") == 0 ||
      g_ascii_strcasecmp (host, "localhost.") == 0)
    return TRUE;

  /* GUri gives IPv6 literals without brackets, but be lenient. */
  len = strlen (host);
  if (host[0] == '[' && len > 2 && host[len - 1] == ']')
    bare = g_strndup (host + 1, len - 2);
  else
    bare = g_strdup (host);

  address = g_inet_address_new_from_string (bare);

  return address != NULL && g_inet_address_get_is_loopback (address);
}

/* Checks one root URI; @what names it in error messages. The message never
 * contains the URI itself, which could carry userinfo or a query. */
static gboolean
check_uri (const char  *uri,
           const char  *what,
           GError     **error)
{
  g_autoptr(GUri) parsed = NULL;
  const char *scheme;
  const char *host;

  parsed = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);
  if (parsed == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The %s URI is not a valid absolute URI", what);
      return FALSE;
    }

  scheme = g_uri_get_scheme (parsed);
  host = g_uri_get_host (parsed);

  if (host == NULL || *host == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The %s URI has no host", what);
      return FALSE;
    }

  if (g_uri_get_query (parsed) != NULL || g_uri_get_fragment (parsed) != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The %s URI must not have a query or a fragment", what);
      return FALSE;
    }

  if (g_ascii_strcasecmp (scheme, "https") == 0)
    return TRUE;

  if (g_ascii_strcasecmp (scheme, "http") == 0)
    {
      if (host_is_loopback (host))
        return TRUE;

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "Plain http:// is only allowed for loopback hosts, not %s "
                   "(%s URI); use https://", host, what);
      return FALSE;
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "The %s URI uses the unsupported scheme “%s”; use https://",
               what, scheme);
  return FALSE;
}

static void
icloud_endpoint_finalize (GObject *object)
{
  ICloudEndpoint *self = (ICloudEndpoint *) object;

  g_clear_pointer (&self->auth_uri, g_free);
  g_clear_pointer (&self->setup_uri, g_free);
  g_clear_pointer (&self->home_uri, g_free);

  G_OBJECT_CLASS (icloud_endpoint_parent_class)->finalize (object);
}

static void
icloud_endpoint_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  ICloudEndpoint *self = ICLOUD_ENDPOINT (object);

  switch (prop_id)
    {
    case PROP_AUTH_URI:
      g_value_set_string (value, self->auth_uri);
      break;

    case PROP_SETUP_URI:
      g_value_set_string (value, self->setup_uri);
      break;

    case PROP_HOME_URI:
      g_value_set_string (value, self->home_uri);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_endpoint_set_property (GObject      *object,
                              guint         prop_id,
                              const GValue *value,
                              GParamSpec   *pspec)
{
  ICloudEndpoint *self = ICLOUD_ENDPOINT (object);

  switch (prop_id)
    {
    case PROP_AUTH_URI:
      g_free (self->auth_uri);
      self->auth_uri = strip_trailing_slashes (g_value_get_string (value));
      break;

    case PROP_SETUP_URI:
      g_free (self->setup_uri);
      self->setup_uri = strip_trailing_slashes (g_value_get_string (value));
      break;

    case PROP_HOME_URI:
      g_free (self->home_uri);
      self->home_uri = strip_trailing_slashes (g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
icloud_endpoint_class_init (ICloudEndpointClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = icloud_endpoint_finalize;
  object_class->get_property = icloud_endpoint_get_property;
  object_class->set_property = icloud_endpoint_set_property;

  /**
   * ICloudEndpoint:auth-uri: (getter get_auth_uri)
   *
   * The root of Apple's sign-in service, without a trailing slash, for
   * example `https://idmsa.apple.com/appleauth/auth`.
   */
  properties[PROP_AUTH_URI] =
    g_param_spec_string ("auth-uri", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudEndpoint:setup-uri: (getter get_setup_uri)
   *
   * The root of the setup service, without a trailing slash, for example
   * `https://setup.icloud.com/setup/ws/1`.
   */
  properties[PROP_SETUP_URI] =
    g_param_spec_string ("setup-uri", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * ICloudEndpoint:home-uri: (getter get_home_uri)
   *
   * The home page of the web session, without a trailing slash, for
   * example `https://www.icloud.com`.
   */
  properties[PROP_HOME_URI] =
    g_param_spec_string ("home-uri", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
icloud_endpoint_init (ICloudEndpoint *self)
{
}

/**
 * icloud_endpoint_new:
 * @auth_uri: the root of the sign-in service
 * @setup_uri: the root of the setup service
 * @home_uri: the home page of the web session
 * @error: return location for a [struct@GLib.Error]
 *
 * Creates an endpoint from three root URIs.
 *
 * Each URI must be absolute, have a host and no query or fragment, and use
 * `https`; `http` is accepted only when the host is a loopback host
 * (`localhost`, an address in `127.0.0.0/8`, or `::1`). Trailing slashes are
 * removed.
 *
 * A URI that cannot be parsed fails with %G_IO_ERROR_INVALID_ARGUMENT; plain
 * `http` to another host, or another scheme, fails with
 * %G_IO_ERROR_NOT_SUPPORTED.
 *
 * Returns: (transfer full): a new endpoint, or %NULL on error
 */
ICloudEndpoint *
icloud_endpoint_new (const char  *auth_uri,
                     const char  *setup_uri,
                     const char  *home_uri,
                     GError     **error)
{
  g_return_val_if_fail (auth_uri != NULL, NULL);
  g_return_val_if_fail (setup_uri != NULL, NULL);
  g_return_val_if_fail (home_uri != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_uri (auth_uri, "auth", error) ||
      !check_uri (setup_uri, "setup", error) ||
      !check_uri (home_uri, "home", error))
    return NULL;

  return g_object_new (ICLOUD_TYPE_ENDPOINT,
                       "auth-uri", auth_uri,
                       "setup-uri", setup_uri,
                       "home-uri", home_uri,
                       NULL);
}

/**
 * icloud_endpoint_new_for_base_uri:
 * @base_uri: the origin (and optional path prefix) of a server that serves
 *   Apple's paths, for example `http://127.0.0.1:8080`
 * @error: return location for a [struct@GLib.Error]
 *
 * Creates an endpoint for a server that serves all of Apple's paths on one
 * origin, such as the library's fake iCloud server:
 *
 * - auth: @base_uri + `/appleauth/auth`
 * - setup: @base_uri + `/setup/ws/1`
 * - home: @base_uri
 *
 * Trailing slashes of @base_uri are ignored. The URIs are checked as by
 * [ctor@ICloud.Endpoint.new], with the same errors.
 *
 * Returns: (transfer full): a new endpoint, or %NULL on error
 */
ICloudEndpoint *
icloud_endpoint_new_for_base_uri (const char  *base_uri,
                                  GError     **error)
{
  g_autofree char *base = NULL;
  g_autofree char *auth_uri = NULL;
  g_autofree char *setup_uri = NULL;

  g_return_val_if_fail (base_uri != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Check the base first, so that errors are about what the caller gave. */
  if (!check_uri (base_uri, "base", error))
    return NULL;

  base = strip_trailing_slashes (base_uri);
  auth_uri = g_strconcat (base, "/appleauth/auth", NULL);
  setup_uri = g_strconcat (base, "/setup/ws/1", NULL);

  return icloud_endpoint_new (auth_uri, setup_uri, base, error);
}

/**
 * icloud_endpoint_get_auth_uri: (get-property auth-uri)
 * @self: an endpoint
 *
 * Gets the root of the sign-in service.
 *
 * Returns: (transfer none) (nullable): the auth root, without a trailing
 *   slash; %NULL only for an endpoint made with [ctor@GObject.Object.new]
 *   without this property
 */
const char *
icloud_endpoint_get_auth_uri (ICloudEndpoint *self)
{
  g_return_val_if_fail (ICLOUD_IS_ENDPOINT (self), NULL);

  return self->auth_uri;
}

/**
 * icloud_endpoint_get_setup_uri: (get-property setup-uri)
 * @self: an endpoint
 *
 * Gets the root of the setup service.
 *
 * Returns: (transfer none) (nullable): the setup root, without a trailing
 *   slash; %NULL only for an endpoint made with [ctor@GObject.Object.new]
 *   without this property
 */
const char *
icloud_endpoint_get_setup_uri (ICloudEndpoint *self)
{
  g_return_val_if_fail (ICLOUD_IS_ENDPOINT (self), NULL);

  return self->setup_uri;
}

/**
 * icloud_endpoint_get_home_uri: (get-property home-uri)
 * @self: an endpoint
 *
 * Gets the home page of the web session, sent as `Origin` and `Referer`.
 *
 * Returns: (transfer none) (nullable): the home URI, without a trailing
 *   slash; %NULL only for an endpoint made with [ctor@GObject.Object.new]
 *   without this property
 */
const char *
icloud_endpoint_get_home_uri (ICloudEndpoint *self)
{
  g_return_val_if_fail (ICLOUD_IS_ENDPOINT (self), NULL);

  return self->home_uri;
}

/**
 * icloud_endpoint_equal:
 * @a: an endpoint
 * @b: another endpoint
 *
 * Checks whether two endpoints have the same three roots. The URIs are
 * compared as strings, after the removal of trailing slashes.
 *
 * Returns: %TRUE if @a and @b name the same roots
 */
gboolean
icloud_endpoint_equal (ICloudEndpoint *a,
                       ICloudEndpoint *b)
{
  g_return_val_if_fail (ICLOUD_IS_ENDPOINT (a), FALSE);
  g_return_val_if_fail (ICLOUD_IS_ENDPOINT (b), FALSE);

  if (a == b)
    return TRUE;

  return g_strcmp0 (a->auth_uri, b->auth_uri) == 0 &&
         g_strcmp0 (a->setup_uri, b->setup_uri) == 0 &&
         g_strcmp0 (a->home_uri, b->home_uri) == 0;
}

/* The origin (scheme://host[:port]) of a loopback base-URI endpoint, the
 * fake server's one-origin mode: its auth and setup roots are the home root
 * plus Apple's paths (see icloud_endpoint_new_for_base_uri ()). NULL for any
 * other endpoint. */
static char *
loopback_base_origin (ICloudEndpoint *self)
{
  g_autofree char *auth_uri = NULL;
  g_autofree char *setup_uri = NULL;
  g_autoptr(GUri) home = NULL;

  if (self->home_uri == NULL)
    return NULL;
  auth_uri = g_strconcat (self->home_uri, "/appleauth/auth", NULL);
  setup_uri = g_strconcat (self->home_uri, "/setup/ws/1", NULL);
  if (g_strcmp0 (auth_uri, self->auth_uri) != 0 || g_strcmp0 (setup_uri, self->setup_uri) != 0)
    return NULL;

  home = g_uri_parse (self->home_uri, G_URI_FLAGS_NONE, NULL);
  if (home == NULL || !host_is_loopback (g_uri_get_host (home)) ||
      (g_uri_get_path (home) != NULL && *g_uri_get_path (home) != '\0'))
    return NULL;

  return g_uri_join (G_URI_FLAGS_NONE,
                     g_ascii_strcasecmp (g_uri_get_scheme (home), "http") == 0 ? "ws" : "wss",
                     NULL, g_uri_get_host (home), g_uri_get_port (home), "", NULL, NULL);
}

char *
icloud_endpoint_dup_websocket_uri (ICloudEndpoint  *self,
                                   const char      *host,
                                   const char      *path,
                                   GError         **error)
{
  g_autofree char *origin = NULL;

  g_return_val_if_fail (ICLOUD_IS_ENDPOINT (self), NULL);
  g_return_val_if_fail (host != NULL && path != NULL && path[0] == '/', NULL);

  if (*host == '\0' || strpbrk (host, "/?#@ \t\r\n\\") != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "A WebSocket host must be a bare host name");
      return NULL;
    }

  origin = loopback_base_origin (self);
  if (origin != NULL)
    return g_strconcat (origin, path, NULL);

  /* Apple's hosts: always TLS, never plain ws:// */
  return g_strconcat ("wss://", host, path, NULL);
}
