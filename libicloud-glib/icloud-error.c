/* icloud-error.c: the libicloud-glib error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "icloud-error.h"
#include "icloud-error-private.h"

/* An extended error domain (GLib ≥ 2.68): a THROTTLED error carries the
 * server's retry-after, which outlives a session whose construction failed.
 * Registered by hand rather than with G_DEFINE_EXTENDED_ERROR so that the
 * quark keeps its conventional name. */
typedef struct {
  guint retry_after;
} ICloudErrorPrivate;

/* GLib keeps the private data just before the GError, aligned as GType
 * aligns structs (the layout G_DEFINE_EXTENDED_ERROR relies on). */
static ICloudErrorPrivate *
private_of (const GError *error)
{
  const gsize sa = 2 * sizeof (gsize);
  const gsize as = (sizeof (ICloudErrorPrivate) + (sa - 1)) & -sa;

  return (ICloudErrorPrivate *) (((guint8 *) error) - as);
}

static void
icloud_error_private_init (GError *error)
{
}

static void
icloud_error_private_copy (const GError *src,
                           GError       *dest)
{
  *private_of (dest) = *private_of (src);
}

static void
icloud_error_private_clear (GError *error)
{
}

/**
 * icloud_error_quark:
 *
 * Gets the error domain of libicloud-glib, `ICLOUD_ERROR`.
 *
 * Errors in this domain carry a code from the [error@ICloud.Error]
 * enumeration. The quark's string is `icloud-error-quark`.
 *
 * Returns: the error quark
 */
GQuark
icloud_error_quark (void)
{
  static gsize quark = 0;

  if (g_once_init_enter (&quark))
    {
      GQuark q = g_error_domain_register_static ("icloud-error-quark",
                                                 sizeof (ICloudErrorPrivate),
                                                 icloud_error_private_init,
                                                 icloud_error_private_copy,
                                                 icloud_error_private_clear);
      g_once_init_leave (&quark, q);
    }

  return (GQuark) quark;
}

static ICloudErrorPrivate *
get_private (const GError *error)
{
  if (error == NULL || error->domain != ICLOUD_ERROR)
    return NULL;
  return private_of (error);
}

/**
 * icloud_error_get_retry_after:
 * @error: an error
 *
 * For %ICLOUD_ERROR_THROTTLED, the number of seconds Apple asked to wait
 * before trying again (its `Retry-After`). Also available, for a session
 * that exists, as [property@ICloud.Session:retry-after].
 *
 * Returns: the seconds to wait, or 0 when Apple did not say or @error is not
 *   a throttling error
 */
guint
icloud_error_get_retry_after (const GError *error)
{
  ICloudErrorPrivate *priv = get_private (error);

  if (priv == NULL || error->code != ICLOUD_ERROR_THROTTLED)
    return 0;
  return priv->retry_after;
}

void
_icloud_error_set_retry_after (GError *error,
                               guint   retry_after)
{
  ICloudErrorPrivate *priv = get_private (error);

  if (priv != NULL)
    priv->retry_after = retry_after;
}
