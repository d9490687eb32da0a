/* icloud-plugin-loader-private.h: finds and loads plugin modules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "icloud-auth-method.h"
#include "icloud-region.h"

G_BEGIN_DECLS

/* Registers the extension points (idempotent, thread-safe). */
void              icloud_plugins_ensure_extension_points (void);
/* Registers the extension points and the built-in global region, then loads
 * every module of ICLOUD_PLUGIN_PATH and of the plugin directory, once. */
void              icloud_plugins_ensure_loaded           (void);
/* The directories searched, in order, joined with ":". */
char             *icloud_plugins_dup_search_path         (void);

ICloudAuthMethod *icloud_plugins_create_auth_method      (const char  *name,
                                                          GError     **error);
ICloudRegion     *icloud_plugins_create_region           (const char  *name,
                                                          GError     **error);

/* The name of the region whose handles_domain vfunc claims Apple's
 * `domainToUse` value @domain, or NULL. Asks the built-in region and the
 * regions registered by now (a session loads the plugins as soon as it
 * needs a region or an auth method). Never loads a module itself: a
 * process that links the library statically (the fuzz targets, the unit
 * tests) must not load modules that link it dynamically. */
char             *icloud_plugins_dup_region_for_domain   (const char  *domain);

G_END_DECLS
