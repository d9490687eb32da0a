/* icloud-crypto-private.h: the one seam through which the library does
 * cryptography (nettle for hashes and PBKDF2, getrandom for secrets).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICLOUD_SHA256_SIZE 32

void      icloud_crypto_sha256          (const guint8 *data,
                                         gsize         len,
                                         guint8        out[ICLOUD_SHA256_SIZE]);
void      icloud_crypto_pbkdf2_sha256   (const guint8 *key,
                                         gsize         key_len,
                                         const guint8 *salt,
                                         gsize         salt_len,
                                         guint         iterations,
                                         guint8       *out,
                                         gsize         out_len);
/* Fills @buf from getrandom(); never fails short (retries on EINTR). */
void      icloud_crypto_random          (guint8       *buf,
                                         gsize         len);
/* A random token of @n_bytes as unpadded URL-safe base64 (newly allocated). */
char     *icloud_crypto_random_token    (gsize         n_bytes);
/* Constant-time comparisons (the time depends on the lengths only).
 * icloud_crypto_str_equal: two NULLs are equal, NULL and non-NULL are not. */
gboolean  icloud_crypto_equal           (const guint8 *a,
                                         const guint8 *b,
                                         gsize         len);
gboolean  icloud_crypto_str_equal       (const char   *a,
                                         const char   *b);
/* explicit_bzero (NULL or 0 bytes is fine). */
void      icloud_crypto_wipe            (gpointer      buf,
                                         gsize         len);
/* Wipes a NUL-terminated string, then frees it (NULL is fine). */
void      icloud_crypto_free_secret     (char         *secret);

/* g_auto(ICloudSecret) s = g_strdup (password); wiped and freed on scope exit. */
typedef char *ICloudSecret;
G_DEFINE_AUTO_CLEANUP_FREE_FUNC (ICloudSecret, icloud_crypto_free_secret, NULL)

G_END_DECLS
