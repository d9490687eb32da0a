/* icloud-china-mainland-region.c: the `china-mainland` region, Apple's
 * iCloud hosts for accounts of China mainland (protocol §1.1)
 *
 * | root  | URI                                      |
 * | ----- | ---------------------------------------- |
 * | auth  | `https://idmsa.apple.com/appleauth/auth` |
 * | setup | `https://setup.icloud.com.cn/setup/ws/1` |
 * | home  | `https://www.icloud.com.cn`              |
 *
 * The choice of the IDMSA host follows the newest pyicloud (timlaing/pyicloud
 * PR #285, commit bd836af): China mainland accounts sign in on the *global*
 * IDMSA host, as the browser at icloud.com.cn does, while setup and home are
 * on `.com.cn`. The older clients (pyicloud 1.x, icloudpd, pyicloud 2.x
 * before #285) used `https://idmsa.apple.com.cn/appleauth/auth`, which was
 * reported to answer "bad username or password" for accounts it should
 * accept. Should Apple ever require the `.com.cn` IDMSA host again, change
 * CHINA_MAINLAND_AUTH_URI below (or give the session an endpoint built with
 * icloud_endpoint_new()).
 *
 * The request layer derives `Origin`, `Referer` and
 * `X-Apple-OAuth-Redirect-URI` from the home URI, so they follow the region
 * (`https://www.icloud.com.cn`), as in pyicloud after #285.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>
#include <icloud-glib/icloud-plugin.h>

#define CHINA_MAINLAND_AUTH_URI  "https://idmsa.apple.com/appleauth/auth"
#define CHINA_MAINLAND_SETUP_URI "https://setup.icloud.com.cn/setup/ws/1"
#define CHINA_MAINLAND_HOME_URI  "https://www.icloud.com.cn"
/* Apple's domainToUse for these hosts (protocol §9). */
#define CHINA_MAINLAND_DOMAIN    "iCloud.com.cn"

#define ICLOUD_TYPE_CHINA_MAINLAND_REGION (icloud_china_mainland_region_get_type ())
G_DECLARE_FINAL_TYPE (ICloudChinaMainlandRegion, icloud_china_mainland_region,
                      ICLOUD, CHINA_MAINLAND_REGION, ICloudRegion)

struct _ICloudChinaMainlandRegion
{
  ICloudRegion parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (ICloudChinaMainlandRegion, icloud_china_mainland_region, ICLOUD_TYPE_REGION)

static ICloudEndpoint *
icloud_china_mainland_region_create_endpoint (ICloudRegion *region)
{
  /* Constant https URIs: this cannot fail. */
  return icloud_endpoint_new (CHINA_MAINLAND_AUTH_URI,
                              CHINA_MAINLAND_SETUP_URI,
                              CHINA_MAINLAND_HOME_URI,
                              NULL);
}

static gboolean
icloud_china_mainland_region_handles_domain (ICloudRegion *region,
                                             const char   *domain)
{
  return g_ascii_strcasecmp (domain, CHINA_MAINLAND_DOMAIN) == 0;
}

static void
icloud_china_mainland_region_class_init (ICloudChinaMainlandRegionClass *klass)
{
  ICLOUD_REGION_CLASS (klass)->create_endpoint = icloud_china_mainland_region_create_endpoint;
  ICLOUD_REGION_CLASS (klass)->handles_domain = icloud_china_mainland_region_handles_domain;
}

static void
icloud_china_mainland_region_class_finalize (ICloudChinaMainlandRegionClass *klass)
{
}

static void
icloud_china_mainland_region_init (ICloudChinaMainlandRegion *self)
{
}

/* GIO module entry points */

G_MODULE_EXPORT void
g_io_module_load (GIOModule *module)
{
  g_type_module_use (G_TYPE_MODULE (module));   /* never unloaded */
  icloud_china_mainland_region_register_type (G_TYPE_MODULE (module));
  icloud_region_register (ICLOUD_TYPE_CHINA_MAINLAND_REGION, "china-mainland", 10);
}

G_MODULE_EXPORT void
g_io_module_unload (GIOModule *module)
{
}

G_MODULE_EXPORT char **
g_io_module_query (void)
{
  char *eps[] = { (char *) ICLOUD_REGION_EXTENSION_POINT_NAME, NULL };
  return g_strdupv (eps);
}
