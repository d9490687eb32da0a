/* icloud-plugin-loader.c: extension points and the modules behind them
 *
 * Plugins are GIO modules (libicloud-<name>.so) loaded from the directories
 * of ICLOUD_PLUGIN_PATH (ignored in setuid programs), then from the
 * installed plugin directory; never from GIO's own module directory.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <sys/auxv.h>
#include <gio/gio.h>

#include "icloud-error.h"
#include "icloud-plugin-loader-private.h"
#include "icloud-global-region-private.h"

void
icloud_plugins_ensure_extension_points (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      GIOExtensionPoint *ep;

      ep = g_io_extension_point_register (ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME);
      g_io_extension_point_set_required_type (ep, ICLOUD_TYPE_AUTH_METHOD);
      ep = g_io_extension_point_register (ICLOUD_REGION_EXTENSION_POINT_NAME);
      g_io_extension_point_set_required_type (ep, ICLOUD_TYPE_REGION);

      g_once_init_leave (&once, 1);
    }
}

/* The built-in region, registered once. */
static void
ensure_builtin_regions (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      icloud_region_register (ICLOUD_TYPE_GLOBAL_REGION, "global", 0);
      g_once_init_leave (&once, 1);
    }
}

static char **
get_search_dirs (void)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const char *env = NULL;

  /* Like GIO_MODULE_DIR, the override is not honoured in setuid programs. */
  if (getauxval (AT_SECURE) == 0)
    env = g_getenv ("ICLOUD_PLUGIN_PATH");

  if (env != NULL && *env != '\0')
    {
      g_auto(GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; dirs[i] != NULL; i++)
        if (*dirs[i] != '\0')
          g_strv_builder_add (builder, dirs[i]);
    }
  g_strv_builder_add (builder, ICLOUD_PLUGINDIR);

  return g_strv_builder_end (builder);
}

char *
icloud_plugins_dup_search_path (void)
{
  g_auto(GStrv) dirs = get_search_dirs ();
  return g_strjoinv (G_SEARCHPATH_SEPARATOR_S, dirs);
}

void
icloud_plugins_ensure_loaded (void)
{
  static gsize once = 0;

  if (g_once_init_enter (&once))
    {
      g_auto(GStrv) dirs = NULL;
      GIOModuleScope *scope;

      icloud_plugins_ensure_extension_points ();
      ensure_builtin_regions ();

      /* A module found twice (build tree and installed) is loaded once. */
      scope = g_io_module_scope_new (G_IO_MODULE_SCOPE_BLOCK_DUPLICATES);
      dirs = get_search_dirs ();
      for (guint i = 0; dirs[i] != NULL; i++)
        {
          GList *modules;

          if (!g_file_test (dirs[i], G_FILE_TEST_IS_DIR))
            continue;
          g_debug ("Loading plugins from %s", dirs[i]);
          /* Modules stay loaded for the life of the process. */
          modules = g_io_modules_load_all_in_directory_with_scope (dirs[i], scope);
          g_list_free (modules);
        }
      g_io_module_scope_free (scope);

      g_once_init_leave (&once, 1);
    }
}

static GType
lookup_type (const char  *extension_point,
             const char  *what,
             const char  *name,
             GError     **error)
{
  GIOExtensionPoint *ep;
  GIOExtension *extension;

  icloud_plugins_ensure_loaded ();

  ep = g_io_extension_point_lookup (extension_point);
  extension = g_io_extension_point_get_extension_by_name (ep, name);
  if (extension == NULL)
    {
      g_autofree char *path = icloud_plugins_dup_search_path ();
      g_set_error (error, ICLOUD_ERROR, ICLOUD_ERROR_NO_PLUGIN,
                   "No plugin provides the %s “%s” (searched %s)",
                   what, name, path);
      return G_TYPE_INVALID;
    }

  return g_io_extension_get_type (extension);
}

ICloudAuthMethod *
icloud_plugins_create_auth_method (const char  *name,
                                   GError     **error)
{
  GType type = lookup_type (ICLOUD_AUTH_METHOD_EXTENSION_POINT_NAME,
                            "auth method", name, error);

  if (type == G_TYPE_INVALID)
    return NULL;
  return g_object_new (type, NULL);
}

ICloudRegion *
icloud_plugins_create_region (const char  *name,
                              GError     **error)
{
  GType type = lookup_type (ICLOUD_REGION_EXTENSION_POINT_NAME,
                            "region", name, error);

  if (type == G_TYPE_INVALID)
    return NULL;
  return g_object_new (type, NULL);
}

char *
icloud_plugins_dup_region_for_domain (const char *domain)
{
  GIOExtensionPoint *ep;

  g_return_val_if_fail (domain != NULL, NULL);

  icloud_plugins_ensure_extension_points ();
  ensure_builtin_regions ();

  /* In the extension point's order: by priority, highest first. */
  ep = g_io_extension_point_lookup (ICLOUD_REGION_EXTENSION_POINT_NAME);
  for (GList *l = g_io_extension_point_get_extensions (ep); l != NULL; l = l->next)
    {
      GIOExtension *extension = l->data;
      GType type = g_io_extension_get_type (extension);
      g_autoptr(ICloudRegion) region = NULL;

      if (G_TYPE_IS_ABSTRACT (type))
        continue;
      region = g_object_new (type, NULL);
      if (icloud_region_handles_domain (region, domain))
        return g_strdup (g_io_extension_get_name (extension));
    }
  return NULL;
}
