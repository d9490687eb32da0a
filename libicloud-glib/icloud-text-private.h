/* icloud-text-private.h: server text made safe to show
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How much of a server's text an error message quotes, in characters. */
#define ICLOUD_TEXT_MAX_QUOTED 80

/* A copy of @text (@len bytes, or -1 for NUL-terminated) fit to go into a
 * message a person reads on a terminal: every control or format character
 * (C0, DEL, C1, the bidirectional overrides) becomes a visible escape
 * ("\n", "\x1b", "\u202e"), every byte that is not UTF-8 becomes "\xNN",
 * and the copy stops after @max_chars characters with "…". Never NULL. */
char *icloud_text_escape (const char *text,
                          gssize      len,
                          guint       max_chars);

G_END_DECLS
