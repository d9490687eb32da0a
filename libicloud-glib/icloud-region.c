/* icloud-region.c: base class of region plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-region.h"
#include "icloud-plugin-loader-private.h"

/**
 * ICloudRegion:
 *
 * A region gives the [class@ICloud.Endpoint] a session talks to. The
 * library has `global` built in; `china-mainland` and any other region come
 * from plugins, GIO modules implementing the
 * [const@ICloud.REGION_EXTENSION_POINT_NAME] extension point.
 *
 * A region also owns the names Apple gives it: when Apple answers that an
 * account belongs elsewhere (`{"domainToUse": "iCloud.com.cn"}`), the
 * session's error names the region whose
 * [vfunc@ICloud.Region.handles_domain] says the domain is its own
 * (`global` says so of `iCloud.com`).
 */
G_DEFINE_ABSTRACT_TYPE (ICloudRegion, icloud_region, G_TYPE_OBJECT)

static gboolean
icloud_region_real_handles_domain (ICloudRegion *self,
                                   const char   *domain)
{
  return FALSE;
}

static void
icloud_region_class_init (ICloudRegionClass *klass)
{
  klass->handles_domain = icloud_region_real_handles_domain;
}

static void
icloud_region_init (ICloudRegion *self)
{
}

/**
 * icloud_region_register:
 * @type: a subtype of [class@ICloud.Region]
 * @name: the region's name, as given to [property@ICloud.Session:region]
 * @priority: the extension's priority
 *
 * Makes a region known to every session of the process. Plugin modules call
 * it from `g_io_module_load()`; bindings can call it for a class written in
 * their language.
 */
void
icloud_region_register (GType       type,
                        const char *name,
                        gint        priority)
{
  g_return_if_fail (g_type_is_a (type, ICLOUD_TYPE_REGION));
  g_return_if_fail (name != NULL);

  icloud_plugins_ensure_extension_points ();
  g_io_extension_point_implement (ICLOUD_REGION_EXTENSION_POINT_NAME,
                                  type, name, priority);
}

/**
 * icloud_region_create_endpoint:
 * @self: a region
 *
 * Asks the region for the endpoint of its hosts
 * ([vfunc@ICloud.Region.create_endpoint]). A session without an
 * [property@ICloud.Session:endpoint] calls it when it starts.
 *
 * Returns: (transfer full): a new endpoint for the region
 */
ICloudEndpoint *
icloud_region_create_endpoint (ICloudRegion *self)
{
  g_return_val_if_fail (ICLOUD_IS_REGION (self), NULL);
  g_return_val_if_fail (ICLOUD_REGION_GET_CLASS (self)->create_endpoint != NULL, NULL);

  return ICLOUD_REGION_GET_CLASS (self)->create_endpoint (self);
}

/**
 * icloud_region_handles_domain:
 * @self: a region
 * @domain: a value of Apple's `domainToUse`, such as `"iCloud.com.cn"`
 *
 * Asks the region whether Apple's @domain means it
 * ([vfunc@ICloud.Region.handles_domain]). When Apple answers that an
 * account must sign in through another domain,
 * [method@ICloud.Response.check] asks every loaded region, and the
 * %ICLOUD_ERROR_WRONG_REGION message names the first that says yes.
 * Compare without regard to ASCII case: Apple writes `iCloud.com.cn`.
 *
 * @domain comes from the server: it is valid UTF-8, but nothing more is
 * known of it.
 *
 * Returns: %TRUE if @domain is this region's
 */
gboolean
icloud_region_handles_domain (ICloudRegion *self,
                              const char   *domain)
{
  g_return_val_if_fail (ICLOUD_IS_REGION (self), FALSE);
  g_return_val_if_fail (domain != NULL, FALSE);

  if (ICLOUD_REGION_GET_CLASS (self)->handles_domain == NULL)
    return FALSE;
  return ICLOUD_REGION_GET_CLASS (self)->handles_domain (self, domain);
}
