/* icloud-crypto.c: the crypto seam (nettle, getrandom, explicit_bzero).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-crypto-private.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include <nettle/memops.h>
#include <nettle/pbkdf2.h>
#include <nettle/sha2.h>

void
icloud_crypto_sha256 (const guint8 *data,
                      gsize         len,
                      guint8        out[ICLOUD_SHA256_SIZE])
{
  struct sha256_ctx ctx;

  g_return_if_fail (data != NULL || len == 0);
  g_return_if_fail (out != NULL);

  sha256_init (&ctx);
  sha256_update (&ctx, len, data);
  sha256_digest (&ctx, ICLOUD_SHA256_SIZE, out);
  explicit_bzero (&ctx, sizeof ctx);
}

void
icloud_crypto_pbkdf2_sha256 (const guint8 *key,
                             gsize         key_len,
                             const guint8 *salt,
                             gsize         salt_len,
                             guint         iterations,
                             guint8       *out,
                             gsize         out_len)
{
  g_return_if_fail (key != NULL || key_len == 0);
  g_return_if_fail (salt != NULL || salt_len == 0);
  g_return_if_fail (iterations > 0);
  g_return_if_fail (out != NULL || out_len == 0);

  /* nettle keeps its HMAC state on its own stack; nothing to wipe here. */
  pbkdf2_hmac_sha256 (key_len, key, iterations, salt_len, salt, out_len, out);
}

void
icloud_crypto_random (guint8 *buf,
                      gsize   len)
{
  gsize done = 0;

  g_return_if_fail (buf != NULL || len == 0);

  while (done < len)
    {
      ssize_t n = getrandom (buf + done, len - done, 0);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          /* No usable entropy source: there is no safe way to go on. */
          g_error ("getrandom() failed: %s", g_strerror (errno));
        }
      done += (gsize) n;
    }
}

char *
icloud_crypto_random_token (gsize n_bytes)
{
  guint8 *raw;
  char *token;
  char *in, *out;

  g_return_val_if_fail (n_bytes > 0, NULL);

  raw = g_malloc (n_bytes);
  icloud_crypto_random (raw, n_bytes);
  token = g_base64_encode (raw, n_bytes);
  icloud_crypto_wipe (raw, n_bytes);
  g_free (raw);

  /* URL-safe alphabet, no padding; done in place. */
  for (in = out = token; *in != '\0'; in++)
    {
      if (*in == '=')
        continue;
      if (*in == '+')
        *out++ = '-';
      else if (*in == '/')
        *out++ = '_';
      else
        *out++ = *in;
    }
  *out = '\0';

  return token;
}

gboolean
icloud_crypto_equal (const guint8 *a,
                     const guint8 *b,
                     gsize         len)
{
  if (len == 0)
    return TRUE;

  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  return memeql_sec (a, b, len) != 0;
}

gboolean
icloud_crypto_str_equal (const char *a,
                         const char *b)
{
  gsize a_len, b_len;

  if (a == NULL || b == NULL)
    return a == b;

  /* Lengths are not secret; the contents are compared in constant time. */
  a_len = strlen (a);
  b_len = strlen (b);
  if (a_len != b_len)
    return FALSE;

  return icloud_crypto_equal ((const guint8 *) a, (const guint8 *) b, a_len);
}

void
icloud_crypto_wipe (gpointer buf,
                    gsize    len)
{
  if (buf == NULL || len == 0)
    return;

  explicit_bzero (buf, len);
}

void
icloud_crypto_free_secret (char *secret)
{
  if (secret == NULL)
    return;

  explicit_bzero (secret, strlen (secret));
  g_free (secret);
}
