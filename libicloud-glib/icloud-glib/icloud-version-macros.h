/* icloud-version-macros.h: export macros for libicloud-glib
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(ICLOUD_GLIB_INSIDE) && !defined(ICLOUD_GLIB_COMPILATION)
#error "Only <icloud-glib/icloud-glib.h> can be included directly."
#endif

#include <glib.h>

#ifndef _ICLOUD_EXTERN
# define _ICLOUD_EXTERN __attribute__((visibility ("default"))) extern
#endif

/**
 * ICLOUD_AVAILABLE_IN_ALL:
 *
 * Marks a symbol as exported by every version of the library.
 */
#define ICLOUD_AVAILABLE_IN_ALL _ICLOUD_EXTERN
