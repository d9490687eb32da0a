/* icloud-srp.c: Apple's SRP-6a, client and (fake) server side.
 *
 * Group: RFC 5054 2048-bit prime, g = 2, SHA-256 (pysrp 1.0.22 with
 * rfc5054_enable() and no_username_in_x(), see apple-web-auth.md §3):
 *
 *   k  = H(min(N) || PAD(g))
 *   x  = H(salt || H(":" || p))          salt raw, inner digest 32 bytes
 *   u  = H(PAD(A) || PAD(B))
 *   S  = (B - k·g^x)^(a + u·x) mod N     (client)
 *      = (A·v^u)^b mod N                 (server)
 *   K  = H(min(S))
 *   M1 = H((H(min N) XOR H(PAD g)) || H(I) || salt || min(A) || min(B) || K)
 *   M2 = H(min(A) || M1 || K)
 *
 * Secrets: every exponentiation goes through mpz_powm_sec().  Byte buffers
 * holding secrets are wiped with explicit_bzero(); mpz_t secrets are wiped
 * through mpz_wipe_clear() (all allocated limbs, not only the used ones).
 * This is best effort: GMP's own temporaries (mpz_powm_sec scratch space,
 * reallocations inside mpz_mul) are freed by GMP without wiping, and we do
 * not install process-wide GMP memory functions from a library.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-srp-private.h"
#include "icloud-crypto-private.h"

#include <string.h>

#include <gio/gio.h>
#include <gmp.h>
#include <nettle/sha2.h>

#define SRP_LEN 256 /* bytes in N */
#define H_LEN ICLOUD_SHA256_SIZE

static const char srp_N_hex[] =
  "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050"
  "A37329CBB4A099ED8193E0757767A13DD52312AB4B03310DCD7F48A9DA04FD50"
  "E8083969EDB767B0CF6095179A163AB3661A05FBD5FAAAE82918A9962F0B93B8"
  "55F97993EC975EEAA80D740ADBF4FF747359D041D5C33EA71D281E446B14773B"
  "CA97B43A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748"
  "544523B524B0D57D5EA77A2775D2ECFA032CFBDBF52FB3786160279004E57AE6"
  "AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35F8E9DBFBB6"
  "94B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73";

typedef struct {
  mpz_t  N;
  mpz_t  g;
  mpz_t  k;
  guint8 g_pad[SRP_LEN];
  guint8 HNxorg[H_LEN];
} SrpGroup;

static SrpGroup srp_group;

/* ---- helpers ---- */

static gsize
mpz_byte_len (const mpz_t z)
{
  if (mpz_sgn (z) == 0)
    return 0;
  return (mpz_sizeinbase (z, 2) + 7) / 8;
}

/* Minimal big-endian into @out (room for SRP_LEN bytes); returns the length.
 * @z must be in [0, N). */
static gsize
mpz_to_min (const mpz_t z,
            guint8      out[SRP_LEN])
{
  gsize len = mpz_byte_len (z);
  size_t count = 0;

  g_assert (len <= SRP_LEN);
  if (len > 0)
    mpz_export (out, &count, 1, 1, 1, 0, z);
  g_assert (count == len);
  return len;
}

/* Big-endian, left-padded with zeros to SRP_LEN bytes. */
static void
mpz_to_pad (const mpz_t z,
            guint8      out[SRP_LEN])
{
  gsize len = mpz_byte_len (z);
  size_t count = 0;

  g_assert (len <= SRP_LEN);
  memset (out, 0, SRP_LEN - len);
  if (len > 0)
    mpz_export (out + SRP_LEN - len, &count, 1, 1, 1, 0, z);
  g_assert (count == len);
}

static void
mpz_from_bytes (mpz_t         z,
                const guint8 *data,
                gsize         len)
{
  if (len == 0)
    mpz_set_ui (z, 0);
  else
    mpz_import (z, len, 1, 1, 1, 0, data);
}

/* Overwrites every allocated limb of @z with zeros, then clears it.  Uses
 * the documented struct field _mp_alloc to reach the whole allocation
 * (mpz_limbs_modify() with that count never reallocates). */
static void
mpz_wipe_clear (mpz_t z)
{
  mp_size_t alloc = z->_mp_alloc;

  if (alloc > 0)
    {
      mp_limb_t *limbs = mpz_limbs_modify (z, alloc);
      explicit_bzero (limbs, (gsize) alloc * sizeof (mp_limb_t));
      mpz_limbs_finish (z, 0);
    }
  mpz_clear (z);
}

/* r = base^exp mod N, exponent treated as secret.  mpz_powm_sec() needs
 * exp > 0, so exp == 0 is special-cased (it only happens for absurd inputs). */
static void
powm_secret (mpz_t       r,
             const mpz_t base,
             const mpz_t exp)
{
  if (mpz_sgn (exp) == 0)
    mpz_set_ui (r, 1);
  else
    mpz_powm_sec (r, base, exp, srp_group.N);
}

static void
hash_update_mpz_min (struct sha256_ctx *ctx,
                     const mpz_t        z)
{
  guint8 buf[SRP_LEN];
  gsize len = mpz_to_min (z, buf);

  sha256_update (ctx, len, buf);
  explicit_bzero (buf, sizeof buf);
}

static void
hash_update_mpz_pad (struct sha256_ctx *ctx,
                     const mpz_t        z)
{
  guint8 buf[SRP_LEN];

  mpz_to_pad (z, buf);
  sha256_update (ctx, SRP_LEN, buf);
  explicit_bzero (buf, sizeof buf);
}

static void
hash_finish (struct sha256_ctx *ctx,
             guint8             out[H_LEN])
{
  sha256_digest (ctx, H_LEN, out);
  explicit_bzero (ctx, sizeof *ctx);
}

static gboolean
is_all_zero (const guint8 *buf,
             gsize         len)
{
  guint8 acc = 0;

  for (gsize i = 0; i < len; i++)
    acc |= buf[i];
  return acc == 0;
}

static void
wipe_free_block (gpointer data)
{
  gsize *block = data;

  explicit_bzero (block + 1, *block);
  g_free (block);
}

/* A GBytes whose memory is wiped when it is freed. */
static GBytes *
secret_bytes_new (const guint8 *data,
                  gsize         len)
{
  gsize *block = g_malloc (sizeof (gsize) + MAX (len, 1));

  *block = len;
  if (len > 0)
    memcpy (block + 1, data, len);
  return g_bytes_new_with_free_func (block + 1, len, wipe_free_block, block);
}

static GBytes *
mpz_to_secret_bytes (const mpz_t z)
{
  guint8 buf[SRP_LEN];
  gsize len = mpz_to_min (z, buf);
  GBytes *bytes = secret_bytes_new (buf, len);

  explicit_bzero (buf, sizeof buf);
  return bytes;
}

static const SrpGroup *
srp_group_get (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      struct sha256_ctx ctx;
      guint8 N_min[SRP_LEN];
      guint8 hN[H_LEN], hg[H_LEN], k_bytes[H_LEN];
      int rc;

      mpz_init (srp_group.N);
      mpz_init_set_ui (srp_group.g, 2);
      mpz_init (srp_group.k);
      rc = mpz_set_str (srp_group.N, srp_N_hex, 16);
      g_assert (rc == 0);

      mpz_to_min (srp_group.N, N_min);
      mpz_to_pad (srp_group.g, srp_group.g_pad);

      /* k = H(min(N) || PAD(g)) */
      sha256_init (&ctx);
      sha256_update (&ctx, SRP_LEN, N_min);
      sha256_update (&ctx, SRP_LEN, srp_group.g_pad);
      hash_finish (&ctx, k_bytes);
      mpz_from_bytes (srp_group.k, k_bytes, H_LEN);

      /* H(min N) XOR H(PAD g) */
      icloud_crypto_sha256 (N_min, SRP_LEN, hN);
      icloud_crypto_sha256 (srp_group.g_pad, SRP_LEN, hg);
      for (gsize i = 0; i < H_LEN; i++)
        srp_group.HNxorg[i] = hN[i] ^ hg[i];

      g_once_init_leave (&initialized, 1);
    }

  return &srp_group;
}

/* x = H(salt || H(":" || p)), as the 32-byte hash. */
static void
compute_x (const guint8 *salt,
           gsize         salt_len,
           const guint8  p[32],
           guint8        x_out[H_LEN])
{
  struct sha256_ctx ctx;
  guint8 inner[H_LEN];

  sha256_init (&ctx);
  sha256_update (&ctx, 1, (const guint8 *) ":");
  sha256_update (&ctx, 32, p);
  hash_finish (&ctx, inner);

  sha256_init (&ctx);
  if (salt_len > 0)
    sha256_update (&ctx, salt_len, salt);
  sha256_update (&ctx, H_LEN, inner);
  hash_finish (&ctx, x_out);

  explicit_bzero (inner, sizeof inner);
}

/* u = H(PAD(A) || PAD(B)) */
static void
compute_u (const mpz_t A,
           const mpz_t B,
           guint8      u_out[H_LEN])
{
  struct sha256_ctx ctx;

  sha256_init (&ctx);
  hash_update_mpz_pad (&ctx, A);
  hash_update_mpz_pad (&ctx, B);
  hash_finish (&ctx, u_out);
}

/* K = H(min(S)) */
static void
compute_K (const mpz_t S,
           guint8      K_out[H_LEN])
{
  struct sha256_ctx ctx;

  sha256_init (&ctx);
  hash_update_mpz_min (&ctx, S);
  hash_finish (&ctx, K_out);
}

/* M1 = H(HNxorg || H(I) || salt || min(A) || min(B) || K) */
static void
compute_M1 (const char   *identity,
            const guint8 *salt,
            gsize         salt_len,
            const mpz_t   A,
            const mpz_t   B,
            const guint8  K[H_LEN],
            guint8        M1_out[H_LEN])
{
  struct sha256_ctx ctx;
  guint8 hI[H_LEN];

  icloud_crypto_sha256 ((const guint8 *) identity, strlen (identity), hI);

  sha256_init (&ctx);
  sha256_update (&ctx, H_LEN, srp_group.HNxorg);
  sha256_update (&ctx, H_LEN, hI);
  if (salt_len > 0)
    sha256_update (&ctx, salt_len, salt);
  hash_update_mpz_min (&ctx, A);
  hash_update_mpz_min (&ctx, B);
  sha256_update (&ctx, H_LEN, K);
  hash_finish (&ctx, M1_out);
}

/* M2 = H(min(A) || M1 || K) */
static void
compute_M2 (const mpz_t  A,
            const guint8 M1[H_LEN],
            const guint8 K[H_LEN],
            guint8       M2_out[H_LEN])
{
  struct sha256_ctx ctx;

  sha256_init (&ctx);
  hash_update_mpz_min (&ctx, A);
  sha256_update (&ctx, H_LEN, M1);
  sha256_update (&ctx, H_LEN, K);
  hash_finish (&ctx, M2_out);
}

/* Imports a public value from the peer; it must satisfy 0 < X < N. */
static gboolean
import_public (mpz_t         z,
               const guint8 *data,
               gsize         len,
               const char   *what,
               GError      **error)
{
  mpz_from_bytes (z, data, len);

  if (mpz_cmp (z, srp_group.N) >= 0)
    {
      /* An honest peer reduces mod N; a larger value has no PAD() form. */
      mpz_t r;
      gboolean zero;

      mpz_init (r);
      mpz_mod (r, z, srp_group.N);
      zero = mpz_sgn (r) == 0;
      mpz_clear (r);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   zero ? "SRP safety check failed: %s is 0 mod N"
                        : "SRP safety check failed: %s is out of range",
                   what);
      return FALSE;
    }

  if (mpz_sgn (z) == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "SRP safety check failed: %s is 0 mod N", what);
      return FALSE;
    }

  return TRUE;
}

/* ---- protocol and derivation ---- */

gboolean
icloud_srp_protocol_from_string (const char        *name,
                                 ICloudSrpProtocol *out)
{
  ICloudSrpProtocol protocol;

  if (g_strcmp0 (name, "s2k") == 0)
    protocol = ICLOUD_SRP_S2K;
  else if (g_strcmp0 (name, "s2k_fo") == 0)
    protocol = ICLOUD_SRP_S2K_FO;
  else
    return FALSE;

  if (out != NULL)
    *out = protocol;
  return TRUE;
}

void
icloud_srp_derive_password (ICloudSrpProtocol  protocol,
                            const char        *password,
                            const guint8      *salt,
                            gsize              salt_len,
                            guint              iterations,
                            guint8             p[32])
{
  static const char hexdigits[] = "0123456789abcdef";
  guint8 d[H_LEN];
  char hex[2 * H_LEN];

  g_return_if_fail (password != NULL);
  g_return_if_fail (salt != NULL || salt_len == 0);
  g_return_if_fail (iterations > 0);
  g_return_if_fail (p != NULL);

  icloud_crypto_sha256 ((const guint8 *) password, strlen (password), d);

  switch (protocol)
    {
    case ICLOUD_SRP_S2K_FO:
      for (gsize i = 0; i < H_LEN; i++)
        {
          hex[2 * i] = hexdigits[d[i] >> 4];
          hex[2 * i + 1] = hexdigits[d[i] & 0xf];
        }
      icloud_crypto_pbkdf2_sha256 ((const guint8 *) hex, sizeof hex,
                                   salt, salt_len, iterations, p, 32);
      break;

    case ICLOUD_SRP_S2K:
    default:
      icloud_crypto_pbkdf2_sha256 (d, sizeof d, salt, salt_len,
                                   iterations, p, 32);
      break;
    }

  explicit_bzero (d, sizeof d);
  explicit_bzero (hex, sizeof hex);
}

/* ---- client ---- */

struct _ICloudSrpClient {
  mpz_t    a;
  mpz_t    A;
  guint8   A_min[SRP_LEN];
  gsize    A_len;

  gboolean processed;
  guint8   x[H_LEN];
  guint8   u[H_LEN];
  guint8   S_min[SRP_LEN];
  gsize    S_len;
  guint8   K[H_LEN];
  guint8   M1[H_LEN];
  guint8   M2[H_LEN];
};

static ICloudSrpClient *
client_alloc (void)
{
  ICloudSrpClient *client = g_new0 (ICloudSrpClient, 1);

  srp_group_get ();
  mpz_init (client->a);
  mpz_init (client->A);
  return client;
}

/* A = g^a mod N */
static void
client_set_a (ICloudSrpClient *client,
              const guint8    *a,
              gsize            a_len)
{
  mpz_from_bytes (client->a, a, a_len);
  powm_secret (client->A, srp_group.g, client->a);
  client->A_len = mpz_to_min (client->A, client->A_min);
}

ICloudSrpClient *
icloud_srp_client_new (void)
{
  ICloudSrpClient *client = client_alloc ();
  /* A 256-bit secret, as RFC 5054 recommends at least and pysrp's OpenSSL
   * backend draws: the 2048-bit group gives no more security for a longer
   * one, and each exponentiation with it costs a quarter of a 2048-bit
   * one. */
  guint8 a[32];

  /* Redraw until A has a non-zero top byte: what Apple does with a short A
   * is unverified (apple-web-auth.md §3.3). */
  do
    {
      icloud_crypto_random (a, sizeof a);
      client_set_a (client, a, sizeof a);
    }
  while (client->A_len != SRP_LEN);

  explicit_bzero (a, sizeof a);
  return client;
}

ICloudSrpClient *
icloud_srp_client_new_with_a (const guint8 *a,
                              gsize         a_len)
{
  ICloudSrpClient *client;

  g_return_val_if_fail (a != NULL && a_len > 0, NULL);

  client = client_alloc ();
  client_set_a (client, a, a_len);
  return client;
}

GBytes *
icloud_srp_client_get_A (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);

  return g_bytes_new (client->A_min, client->A_len);
}

gboolean
icloud_srp_client_process (ICloudSrpClient *client,
                           const char      *identity,
                           const guint8     p[32],
                           const guint8    *salt,
                           gsize            salt_len,
                           const guint8    *B_bytes,
                           gsize            B_len,
                           GError         **error)
{
  mpz_t B, x, u, gx, base, exp, S;
  gboolean ok = FALSE;

  g_return_val_if_fail (client != NULL, FALSE);
  g_return_val_if_fail (identity != NULL, FALSE);
  g_return_val_if_fail (p != NULL, FALSE);
  g_return_val_if_fail (salt != NULL || salt_len == 0, FALSE);
  g_return_val_if_fail (B_bytes != NULL || B_len == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  client->processed = FALSE;

  mpz_inits (B, x, u, gx, base, exp, S, NULL);

  if (!import_public (B, B_bytes, B_len, "B", error))
    goto out;

  compute_u (client->A, B, client->u);
  if (is_all_zero (client->u, H_LEN))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "SRP safety check failed: u is 0");
      goto out;
    }
  mpz_from_bytes (u, client->u, H_LEN);

  compute_x (salt, salt_len, p, client->x);
  mpz_from_bytes (x, client->x, H_LEN);

  /* base = (B - k·g^x) mod N, in [0, N) */
  powm_secret (gx, srp_group.g, x);
  mpz_mul (base, srp_group.k, gx);
  mpz_sub (base, B, base);
  mpz_mod (base, base, srp_group.N);

  /* exp = a + u·x */
  mpz_mul (exp, u, x);
  mpz_add (exp, exp, client->a);

  powm_secret (S, base, exp);
  client->S_len = mpz_to_min (S, client->S_min);

  compute_K (S, client->K);
  compute_M1 (identity, salt, salt_len, client->A, B, client->K, client->M1);
  compute_M2 (client->A, client->M1, client->K, client->M2);

  client->processed = TRUE;
  ok = TRUE;

out:
  mpz_clear (B);
  mpz_clear (u);
  mpz_wipe_clear (x);
  mpz_wipe_clear (gx);
  mpz_wipe_clear (base);
  mpz_wipe_clear (exp);
  mpz_wipe_clear (S);
  return ok;
}

const guint8 *
icloud_srp_client_get_M1 (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL && client->processed, NULL);
  return client->M1;
}

const guint8 *
icloud_srp_client_get_M2 (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL && client->processed, NULL);
  return client->M2;
}

const guint8 *
icloud_srp_client_get_K (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL && client->processed, NULL);
  return client->K;
}

GBytes *
icloud_srp_client_get_x (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL && client->processed, NULL);
  return secret_bytes_new (client->x, H_LEN);
}

GBytes *
icloud_srp_client_get_u (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL && client->processed, NULL);
  return g_bytes_new (client->u, H_LEN);
}

GBytes *
icloud_srp_client_get_S (ICloudSrpClient *client)
{
  g_return_val_if_fail (client != NULL && client->processed, NULL);
  return secret_bytes_new (client->S_min, client->S_len);
}

void
icloud_srp_client_free (ICloudSrpClient *client)
{
  if (client == NULL)
    return;

  mpz_wipe_clear (client->a);
  mpz_clear (client->A);
  explicit_bzero (client, sizeof *client);
  g_free (client);
}

/* ---- server ---- */

GBytes *
icloud_srp_compute_verifier (const guint8 *salt,
                             gsize         salt_len,
                             const guint8  p[32])
{
  guint8 x_bytes[H_LEN];
  mpz_t x, v;
  GBytes *bytes;

  g_return_val_if_fail (salt != NULL || salt_len == 0, NULL);
  g_return_val_if_fail (p != NULL, NULL);

  srp_group_get ();
  mpz_inits (x, v, NULL);

  compute_x (salt, salt_len, p, x_bytes);
  mpz_from_bytes (x, x_bytes, H_LEN);
  powm_secret (v, srp_group.g, x);
  bytes = mpz_to_secret_bytes (v);

  explicit_bzero (x_bytes, sizeof x_bytes);
  mpz_wipe_clear (x);
  mpz_wipe_clear (v);
  return bytes;
}

struct _ICloudSrpServer {
  mpz_t v;
  mpz_t b;
  mpz_t B;
};

ICloudSrpServer *
icloud_srp_server_new (const guint8 *v,
                       gsize         v_len,
                       const guint8 *b,
                       gsize         b_len)
{
  ICloudSrpServer *server;
  mpz_t gb;

  g_return_val_if_fail (v != NULL && v_len > 0, NULL);
  g_return_val_if_fail (b != NULL || b_len == 0, NULL);

  srp_group_get ();
  server = g_new0 (ICloudSrpServer, 1);
  mpz_inits (server->v, server->b, server->B, gb, NULL);

  mpz_from_bytes (server->v, v, v_len);
  mpz_mod (server->v, server->v, srp_group.N);

  if (b != NULL && b_len > 0)
    {
      mpz_from_bytes (server->b, b, b_len);
    }
  else
    {
      guint8 rnd[SRP_LEN];

      icloud_crypto_random (rnd, sizeof rnd);
      mpz_from_bytes (server->b, rnd, sizeof rnd);
      explicit_bzero (rnd, sizeof rnd);
    }

  /* B = (k·v + g^b) mod N */
  powm_secret (gb, srp_group.g, server->b);
  mpz_mul (server->B, srp_group.k, server->v);
  mpz_add (server->B, server->B, gb);
  mpz_mod (server->B, server->B, srp_group.N);

  mpz_wipe_clear (gb);
  return server;
}

GBytes *
icloud_srp_server_get_B (ICloudSrpServer *server)
{
  guint8 buf[SRP_LEN];
  gsize len;

  g_return_val_if_fail (server != NULL, NULL);

  len = mpz_to_min (server->B, buf);
  return g_bytes_new (buf, len);
}

gboolean
icloud_srp_server_verify (ICloudSrpServer *server,
                          const char      *identity,
                          const guint8    *salt,
                          gsize            salt_len,
                          const guint8    *A_bytes,
                          gsize            A_len,
                          const guint8     M1[32],
                          guint8           M2_out[32],
                          GError         **error)
{
  mpz_t A, u, vu, S;
  guint8 u_bytes[H_LEN];
  guint8 K[H_LEN], expected_M1[H_LEN];
  gboolean ok = FALSE;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (identity != NULL, FALSE);
  g_return_val_if_fail (salt != NULL || salt_len == 0, FALSE);
  g_return_val_if_fail (A_bytes != NULL || A_len == 0, FALSE);
  g_return_val_if_fail (M1 != NULL, FALSE);
  g_return_val_if_fail (M2_out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  mpz_inits (A, u, vu, S, NULL);

  if (!import_public (A, A_bytes, A_len, "A", error))
    goto out;

  compute_u (A, server->B, u_bytes);
  if (is_all_zero (u_bytes, H_LEN))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "SRP safety check failed: u is 0");
      goto out;
    }
  mpz_from_bytes (u, u_bytes, H_LEN);

  /* S = (A·v^u)^b mod N */
  powm_secret (vu, server->v, u);
  mpz_mul (vu, vu, A);
  mpz_mod (vu, vu, srp_group.N);
  powm_secret (S, vu, server->b);

  compute_K (S, K);
  compute_M1 (identity, salt, salt_len, A, server->B, K, expected_M1);

  if (icloud_crypto_equal (expected_M1, M1, H_LEN))
    {
      compute_M2 (A, expected_M1, K, M2_out);
      ok = TRUE;
    }

out:
  explicit_bzero (K, sizeof K);
  explicit_bzero (expected_M1, sizeof expected_M1);
  mpz_clear (A);
  mpz_clear (u);
  mpz_wipe_clear (vu);
  mpz_wipe_clear (S);
  return ok;
}

void
icloud_srp_server_free (ICloudSrpServer *server)
{
  if (server == NULL)
    return;

  mpz_wipe_clear (server->v);
  mpz_wipe_clear (server->b);
  mpz_clear (server->B);
  explicit_bzero (server, sizeof *server);
  g_free (server);
}
