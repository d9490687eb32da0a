/* fuzz-common.h: what every fuzz target shares
 *
 * Each target defines LLVMFuzzerTestOneInput () and is linked either with
 * libFuzzer (-fsanitize=fuzzer, clang, -Dfuzzing=true) or with
 * fuzz-replay.c, which runs the seed corpus and the regression inputs once
 * as an ordinary test (any compiler).
 *
 * A critical or a warning is a bug found (a g_return_if_fail () hit by
 * hostile input): both abort, so libFuzzer reports them as crashes.
 * Properties a target checks use FUZZ_CHECK, which aborts too (g_assert ()
 * is not used: it can be compiled out).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <glib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_CHECK(expr)                                                   \
  G_STMT_START {                                                           \
    if (G_UNLIKELY (!(expr)))                                              \
      {                                                                    \
        fprintf (stderr, "%s:%d: fuzz check failed: %s\n",                 \
                 __FILE__, __LINE__, #expr);                               \
        abort ();                                                          \
      }                                                                    \
  } G_STMT_END

/* Bugs found by the fuzzers in code owned elsewhere, reported and not
 * fixed yet. While one is open (1), its check only says so on stderr (once
 * per process) instead of aborting, so that the short runs stay green and
 * keep looking for other crashes; the regression inputs of the bug are
 * replayed all the same (they must not crash). Set it to 0 when the bug is
 * fixed: the check is then enforced, by the replay of regressions/ too.
 *
 * UTF8_STRINGS: json-glib 1.6 decodes a lone surrogate escape ("\ud800x")
 * into bytes that are not UTF-8 (ED A0 80). Strings of Apple's answers and
 * of the files read are then passed on unchecked: icloud-account-info.c
 * (dsid, name: icloud_store_set () criticals on the dsid), icloud-response.c
 * (domainToUse and the service error code go into GError messages),
 * icloud-pyicloud-import.c (session values: icloud_store_set () criticals,
 * the key is lost), icloud-store.c (a session file with such a string
 * loads, is saved as invalid UTF-8, and the next load sets it aside: the
 * session is lost). Fixed: each of them now refuses such strings, and the
 * regressions/ inputs hold them to it (the flag is 0). */
#ifndef FUZZ_OPEN_BUG_UTF8_STRINGS
#define FUZZ_OPEN_BUG_UTF8_STRINGS 0
#endif

#define FUZZ_CHECK_UNLESS_OPEN(bug, expr)                                  \
  G_STMT_START {                                                           \
    if (G_UNLIKELY (!(expr)))                                              \
      {                                                                    \
        static gboolean said = FALSE;                                      \
        if (!(bug))                                                        \
          {                                                                \
            fprintf (stderr, "%s:%d: fuzz check failed: %s\n",             \
                     __FILE__, __LINE__, #expr);                           \
            abort ();                                                      \
          }                                                                \
        if (!said)                                                         \
          fprintf (stderr, "%s:%d: known open bug (%s), not enforced: %s\n", \
                   __FILE__, __LINE__, #bug, #expr);                       \
        said = TRUE;                                                       \
      }                                                                    \
  } G_STMT_END

static inline void
fuzz_init_once (void)
{
  static gboolean done = FALSE;

  if (done)
    return;
  done = TRUE;
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  /* No debug output: the targets run millions of times. */
  g_unsetenv ("G_MESSAGES_DEBUG");
}

/* The input as GBytes; libFuzzer's buffer is only valid for the call. */
static inline GBytes *
fuzz_bytes (const uint8_t *data,
            size_t         size)
{
  return g_bytes_new (data, size);
}
