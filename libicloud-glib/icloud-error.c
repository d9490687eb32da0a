/* icloud-error.c: the libicloud-glib error domain
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include "icloud-error.h"

/**
 * icloud_error_quark:
 *
 * Gets the error domain of libicloud-glib, [const@ICloud.ERROR].
 *
 * Errors in this domain carry a code from the [error@ICloud.Error]
 * enumeration. The quark's string is `icloud-error-quark`.
 *
 * Returns: the error quark
 */
G_DEFINE_QUARK (icloud-error-quark, icloud_error)
