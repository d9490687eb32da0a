/* icloud-spake2p.c: SPAKE2+ (RFC 9383) on P-256, on libgcrypt's EC API.
 *
 * Why libgcrypt and not nettle: nettle 3.8 has no public point addition,
 * negation or decoding; libgcrypt has gcry_mpi_ec_add/mul/decode_point and
 * the on-curve check, so no curve formula is written here. Subtraction
 * (gcry_mpi_ec_sub aborts for Weierstrass curves in 1.10) is an addition of
 * (n − w0)·N: the negation happens on the scalar, in secure memory.
 *
 * Side channels: every secret scalar (w0, w1, x or y, n − w0) is a secure
 * MPI (created from a gcry_malloc_secure buffer), and libgcrypt multiplies
 * by a secure scalar with its constant-time double-and-add-always ladder
 * (mpi/ec.c, _gcry_mpi_ec_mul_point). Secure memory is wiped when freed.
 * Affine coordinates of secret points are read into secure MPIs; their
 * byte encodings live in the object and are wiped on free. Point addition
 * itself (Jacobian, libgcrypt's) has data-dependent branches only for the
 * doubling and identity cases, which need the points to collide.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-spake2p-private.h"
#include "icloud-bridge-crypto-private.h"
#include "icloud-crypto-private.h"

#include <string.h>

#include <gio/gio.h>
#include <gcrypt.h>
#include <nettle/sha2.h>

/* RFC 9383 §4 (from RFC 9382): M and N for P-256, uncompressed. */
static const guint8 spake2p_M[ICLOUD_P256_POINT_LEN] = {
  0x04,
  0x88, 0x6e, 0x2f, 0x97, 0xac, 0xe4, 0x6e, 0x55, 0xba, 0x9d, 0xd7, 0x24, 0x25, 0x79, 0xf2, 0x99,
  0x3b, 0x64, 0xe1, 0x6e, 0xf3, 0xdc, 0xab, 0x95, 0xaf, 0xd4, 0x97, 0x33, 0x3d, 0x8f, 0xa1, 0x2f,
  0x5f, 0xf3, 0x55, 0x16, 0x3e, 0x43, 0xce, 0x22, 0x4e, 0x0b, 0x0e, 0x65, 0xff, 0x02, 0xac, 0x8e,
  0x5c, 0x7b, 0xe0, 0x94, 0x19, 0xc7, 0x85, 0xe0, 0xca, 0x54, 0x7d, 0x55, 0xa1, 0x2e, 0x2d, 0x20,
};
static const guint8 spake2p_N[ICLOUD_P256_POINT_LEN] = {
  0x04,
  0xd8, 0xbb, 0xd6, 0xc6, 0x39, 0xc6, 0x29, 0x37, 0xb0, 0x4d, 0x99, 0x7f, 0x38, 0xc3, 0x77, 0x07,
  0x19, 0xc6, 0x29, 0xd7, 0x01, 0x4d, 0x49, 0xa2, 0x4b, 0x4f, 0x98, 0xba, 0xa1, 0x29, 0x2b, 0x49,
  0x07, 0xd6, 0x0a, 0xa6, 0xbf, 0xad, 0xe4, 0x50, 0x08, 0xa6, 0x36, 0x33, 0x7f, 0x51, 0x68, 0xc6,
  0x4d, 0x9b, 0xd3, 0x60, 0x34, 0x80, 0x8c, 0xd5, 0x64, 0x49, 0x0b, 0x1e, 0x65, 0x6e, 0xdb, 0xe7,
};

struct _ICloudSpake2p
{
  gboolean                  is_prover;
  const ICloudSpake2pSuite *suite;
  gcry_ctx_t                ec;
  gcry_mpi_t                n;          /* the group order (public) */
  gcry_mpi_t                w0;         /* mod n, secure */
  gcry_mpi_t                w1;         /* mod n, secure (prover only) */
  gcry_mpi_t                eph;        /* x or y, secure */
  gcry_mpi_point_t          L;          /* verifier only */
  guint8                    w0_raw[ICLOUD_P256_SCALAR_LEN];  /* as derived, for TT */
  guint8                    share[ICLOUD_P256_POINT_LEN];
  guint8                    peer[ICLOUD_P256_POINT_LEN];     /* re-encoded */
  guint8                    peer_raw[ICLOUD_P256_POINT_LEN]; /* as received */
  gsize                     peer_raw_len;
  guint8                    A[ICLOUD_P256_POINT_LEN];
  guint8                    Z[ICLOUD_P256_POINT_LEN];
  guint8                    V[ICLOUD_P256_POINT_LEN];
  gboolean                  have_peer;
};

/* ---- libgcrypt helpers ---- */

/* A secure MPI of a big-endian byte string (scanned from secure memory,
 * so libgcrypt allocates the MPI there too). */
static gcry_mpi_t
scalar_from_bytes (const guint8 *bytes,
                   gsize         len)
{
  guint8 *sec = gcry_xmalloc_secure (len);
  gcry_mpi_t a = NULL;
  gcry_error_t err;

  memcpy (sec, bytes, len);
  err = gcry_mpi_scan (&a, GCRYMPI_FMT_USG, sec, len, NULL);
  gcry_free (sec);   /* secure memory: wiped by libgcrypt */
  g_assert (err == 0);
  return a;
}

/* @bytes mod n, secure. */
static gcry_mpi_t
scalar_mod_n (const guint8 *bytes,
              gsize         len,
              gcry_mpi_t    n)
{
  gcry_mpi_t raw = scalar_from_bytes (bytes, len);
  gcry_mpi_t r = gcry_mpi_snew (256);

  gcry_mpi_mod (r, raw, n);
  gcry_mpi_release (raw);
  return r;
}

/* A scalar in [1, n−1]: @given (32 bytes), or drawn at random. */
static gcry_mpi_t
ephemeral_scalar (const guint8 *given,
                  gcry_mpi_t    n,
                  GError      **error)
{
  gcry_mpi_t k;

  if (given != NULL)
    {
      k = scalar_from_bytes (given, ICLOUD_P256_SCALAR_LEN);
      if (gcry_mpi_cmp_ui (k, 0) == 0 || gcry_mpi_cmp (k, n) >= 0)
        {
          gcry_mpi_release (k);
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "SPAKE2+ scalar out of range");
          return NULL;
        }
      return k;
    }

  /* Rejection sampling: n > 2^256 − 2^224, a redraw is rare. */
  for (;;)
    {
      guint8 buf[ICLOUD_P256_SCALAR_LEN];

      icloud_crypto_random (buf, sizeof buf);
      k = scalar_from_bytes (buf, sizeof buf);
      icloud_crypto_wipe (buf, sizeof buf);
      if (gcry_mpi_cmp_ui (k, 0) != 0 && gcry_mpi_cmp (k, n) < 0)
        return k;
      gcry_mpi_release (k);
    }
}

/* Big-endian, left-padded to @len bytes. @a < 2^(8·len). */
static void
mpi_to_fixed (gcry_mpi_t a,
              guint8    *out,
              gsize      len)
{
  guint8 *sec = gcry_xmalloc_secure (len);
  size_t written = 0;
  gcry_error_t err;

  err = gcry_mpi_print (GCRYMPI_FMT_USG, sec, len, &written, a);
  g_assert (err == 0 && written <= len);
  memset (out, 0, len - written);
  memcpy (out + len - written, sec, written);
  gcry_free (sec);
}

/* SEC1 uncompressed; FALSE for the identity. */
static gboolean
point_encode (gcry_mpi_point_t p,
              gcry_ctx_t       ec,
              guint8           out[ICLOUD_P256_POINT_LEN])
{
  gcry_mpi_t x = gcry_mpi_snew (256);
  gcry_mpi_t y = gcry_mpi_snew (256);
  gboolean ok = gcry_mpi_ec_get_affine (x, y, p, ec) == 0;

  if (ok)
    {
      out[0] = 0x04;
      mpi_to_fixed (x, out + 1, ICLOUD_P256_SCALAR_LEN);
      mpi_to_fixed (y, out + 1 + ICLOUD_P256_SCALAR_LEN, ICLOUD_P256_SCALAR_LEN);
    }
  gcry_mpi_release (x);
  gcry_mpi_release (y);
  return ok;
}

/* 65 bytes 04||X||Y or 33 bytes 02/03||X, on the curve; NULL otherwise. */
static gcry_mpi_point_t
point_decode (const guint8 *bytes,
              gsize         len,
              gcry_ctx_t    ec,
              GError      **error)
{
  gcry_mpi_point_t p;
  gcry_mpi_t value;
  gcry_error_t err;

  if (!((len == ICLOUD_P256_POINT_LEN && bytes[0] == 0x04) ||
        (len == 1 + ICLOUD_P256_SCALAR_LEN && (bytes[0] == 0x02 || bytes[0] == 0x03))))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Not a SEC1 P-256 point encoding (%" G_GSIZE_FORMAT " bytes)", len);
      return NULL;
    }

  value = gcry_mpi_set_opaque_copy (NULL, bytes, len * 8);
  p = gcry_mpi_point_new (0);
  err = gcry_mpi_ec_decode_point (p, value, ec);
  gcry_mpi_release (value);
  if (err != 0 || !gcry_mpi_ec_curve_point (p, ec))
    {
      gcry_mpi_point_release (p);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The point is not on the P-256 curve");
      return NULL;
    }
  return p;
}

/* r = a·P + b·Q (b may be NULL: r = a·P). */
static gcry_mpi_point_t
mul_add (gcry_mpi_t       a,
         gcry_mpi_point_t P,
         gcry_mpi_t       b,
         gcry_mpi_point_t Q,
         gcry_ctx_t       ec)
{
  gcry_mpi_point_t r = gcry_mpi_point_new (0);

  gcry_mpi_ec_mul (r, a, P, ec);
  if (b != NULL)
    {
      gcry_mpi_point_t t = gcry_mpi_point_new (0);
      gcry_mpi_point_t sum = gcry_mpi_point_new (0);

      gcry_mpi_ec_mul (t, b, Q, ec);
      gcry_mpi_ec_add (sum, r, t, ec);
      gcry_mpi_point_release (t);
      gcry_mpi_point_release (r);
      r = sum;
    }
  return r;
}

static gcry_mpi_point_t
constant_point (const guint8 bytes[ICLOUD_P256_POINT_LEN],
                gcry_ctx_t   ec)
{
  gcry_mpi_point_t p = point_decode (bytes, ICLOUD_P256_POINT_LEN, ec, NULL);

  g_assert (p != NULL);
  return p;
}

static ICloudSpake2p *
spake2p_new (const ICloudSpake2pSuite *suite,
             gboolean                  is_prover,
             const guint8              w0[ICLOUD_P256_SCALAR_LEN],
             GError                  **error)
{
  ICloudSpake2p *self;
  gcry_ctx_t ec = NULL;

  if (!icloud_bridge_gcrypt_init (error))
    return NULL;
  if (gcry_mpi_ec_new (&ec, NULL, "NIST P-256") != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "libgcrypt does not know the P-256 curve");
      return NULL;
    }

  self = g_new0 (ICloudSpake2p, 1);
  self->suite = suite;
  self->is_prover = is_prover;
  self->ec = ec;
  self->n = gcry_mpi_ec_get_mpi ("n", ec, 1);
  self->w0 = scalar_mod_n (w0, ICLOUD_P256_SCALAR_LEN, self->n);
  memcpy (self->w0_raw, w0, ICLOUD_P256_SCALAR_LEN);
  return self;
}

/* share = eph·G + w0·base (base: M for the prover, N for the verifier) */
static gboolean
compute_share (ICloudSpake2p *self,
               const guint8   base_bytes[ICLOUD_P256_POINT_LEN],
               GError       **error)
{
  gcry_mpi_point_t G = gcry_mpi_ec_get_point ("g", self->ec, 1);
  gcry_mpi_point_t base = constant_point (base_bytes, self->ec);
  gcry_mpi_point_t share = mul_add (self->eph, G, self->w0, base, self->ec);
  gboolean ok = point_encode (share, self->ec, self->share);

  gcry_mpi_point_release (share);
  gcry_mpi_point_release (base);
  gcry_mpi_point_release (G);
  if (!ok)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         "SPAKE2+ share is the identity");
  return ok;
}

ICloudSpake2p *
icloud_spake2p_new_prover (const ICloudSpake2pSuite *suite,
                           const guint8              w0[ICLOUD_P256_SCALAR_LEN],
                           const guint8              w1[ICLOUD_P256_SCALAR_LEN],
                           const guint8             *x,
                           GError                  **error)
{
  g_autoptr(ICloudSpake2p) self = NULL;

  g_return_val_if_fail (suite != NULL && w0 != NULL && w1 != NULL, NULL);

  self = spake2p_new (suite, TRUE, w0, error);
  if (self == NULL)
    return NULL;
  self->w1 = scalar_mod_n (w1, ICLOUD_P256_SCALAR_LEN, self->n);
  self->eph = ephemeral_scalar (x, self->n, error);
  if (self->eph == NULL || !compute_share (self, spake2p_M, error))
    return NULL;
  return g_steal_pointer (&self);
}

ICloudSpake2p *
icloud_spake2p_new_verifier (const ICloudSpake2pSuite *suite,
                             const guint8              w0[ICLOUD_P256_SCALAR_LEN],
                             const guint8              L[ICLOUD_P256_POINT_LEN],
                             const guint8             *y,
                             GError                  **error)
{
  g_autoptr(ICloudSpake2p) self = NULL;

  g_return_val_if_fail (suite != NULL && w0 != NULL && L != NULL, NULL);

  self = spake2p_new (suite, FALSE, w0, error);
  if (self == NULL)
    return NULL;
  self->L = point_decode (L, ICLOUD_P256_POINT_LEN, self->ec, error);
  if (self->L == NULL)
    return NULL;
  self->eph = ephemeral_scalar (y, self->n, error);
  if (self->eph == NULL || !compute_share (self, spake2p_N, error))
    return NULL;
  return g_steal_pointer (&self);
}

gboolean
icloud_spake2p_compute_L (const guint8  w1[ICLOUD_P256_SCALAR_LEN],
                          guint8        L[ICLOUD_P256_POINT_LEN],
                          GError      **error)
{
  gcry_ctx_t ec = NULL;
  gcry_mpi_t n, k;
  gcry_mpi_point_t G, P;
  gboolean ok;

  if (!icloud_bridge_gcrypt_init (error))
    return FALSE;
  if (gcry_mpi_ec_new (&ec, NULL, "NIST P-256") != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "libgcrypt does not know the P-256 curve");
      return FALSE;
    }
  n = gcry_mpi_ec_get_mpi ("n", ec, 1);
  k = scalar_mod_n (w1, ICLOUD_P256_SCALAR_LEN, n);
  G = gcry_mpi_ec_get_point ("g", ec, 1);
  P = mul_add (k, G, NULL, NULL, ec);
  ok = point_encode (P, ec, L);
  gcry_mpi_point_release (P);
  gcry_mpi_point_release (G);
  gcry_mpi_release (k);
  gcry_mpi_release (n);
  gcry_ctx_release (ec);
  if (!ok)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                         "w1 is a multiple of the group order");
  return ok;
}

const guint8 *
icloud_spake2p_get_share (ICloudSpake2p *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->share;
}

gboolean
icloud_spake2p_set_peer_share (ICloudSpake2p *self,
                               const guint8  *share,
                               gsize          share_len,
                               GError       **error)
{
  gcry_mpi_point_t peer, base, A, Z, V;
  gcry_mpi_t neg_w0;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (!self->have_peer, FALSE);
  g_return_val_if_fail (share != NULL || share_len == 0, FALSE);

  peer = point_decode (share, share_len, self->ec, error);
  if (peer == NULL)
    return FALSE;

  /* A = peer − w0·(N or M) = peer + (n − w0)·(N or M) */
  neg_w0 = gcry_mpi_snew (256);
  gcry_mpi_sub (neg_w0, self->n, self->w0);
  base = constant_point (self->is_prover ? spake2p_N : spake2p_M, self->ec);
  A = gcry_mpi_point_new (0);
  {
    gcry_mpi_point_t t = gcry_mpi_point_new (0);

    gcry_mpi_ec_mul (t, neg_w0, base, self->ec);
    gcry_mpi_ec_add (A, peer, t, self->ec);
    gcry_mpi_point_release (t);
  }
  gcry_mpi_release (neg_w0);
  gcry_mpi_point_release (base);

  /* Z = eph·A; V = w1·A (prover) or eph·L (verifier) */
  Z = mul_add (self->eph, A, NULL, NULL, self->ec);
  V = self->is_prover ? mul_add (self->w1, A, NULL, NULL, self->ec)
                      : mul_add (self->eph, self->L, NULL, NULL, self->ec);

  ok = point_encode (peer, self->ec, self->peer) &&
       point_encode (A, self->ec, self->A) &&
       point_encode (Z, self->ec, self->Z) &&
       point_encode (V, self->ec, self->V);
  gcry_mpi_point_release (peer);
  gcry_mpi_point_release (A);
  gcry_mpi_point_release (Z);
  gcry_mpi_point_release (V);
  if (!ok)
    {
      icloud_crypto_wipe (self->A, sizeof self->A);
      icloud_crypto_wipe (self->Z, sizeof self->Z);
      icloud_crypto_wipe (self->V, sizeof self->V);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The SPAKE2+ peer share gives the identity");
      return FALSE;
    }

  memcpy (self->peer_raw, share, share_len);
  self->peer_raw_len = share_len;
  self->have_peer = TRUE;
  return TRUE;
}

/* ---- transcript and keys ---- */

static void
tt_append (GByteArray   *tt,
           const guint8 *data,
           gsize         len)
{
  guint8 prefix[8];

  for (guint i = 0; i < 8; i++)
    prefix[i] = (guint8) (((guint64) len >> (8 * i)) & 0xff);
  g_byte_array_append (tt, prefix, sizeof prefix);
  if (len > 0)
    g_byte_array_append (tt, data, len);
}

static void
tt_append_str (GByteArray *tt,
               const char *s)
{
  tt_append (tt, (const guint8 *) s, strlen (s));
}

static void
wipe_free_array (gpointer data)
{
  GByteArray *array = data;

  icloud_crypto_wipe (array->data, array->len);
  g_byte_array_unref (array);
}

GBytes *
icloud_spake2p_get_transcript (ICloudSpake2p          *self,
                               ICloudSpake2pW0Encoding encoding)
{
  GByteArray *tt;
  const guint8 *X, *Y;
  gsize skip = 0;

  g_return_val_if_fail (self != NULL && self->have_peer, NULL);

  /* Room for the usual 569 bytes: no reallocation leaves a copy behind. */
  tt = g_byte_array_sized_new (1024);
  X = self->is_prover ? self->share : self->peer;
  Y = self->is_prover ? self->peer : self->share;
  tt_append_str (tt, self->suite->context);
  tt_append_str (tt, self->suite->id_prover);
  tt_append_str (tt, self->suite->id_verifier);
  tt_append (tt, spake2p_M, ICLOUD_P256_POINT_LEN);
  tt_append (tt, spake2p_N, ICLOUD_P256_POINT_LEN);
  tt_append (tt, X, ICLOUD_P256_POINT_LEN);
  tt_append (tt, Y, ICLOUD_P256_POINT_LEN);
  tt_append (tt, self->Z, ICLOUD_P256_POINT_LEN);
  tt_append (tt, self->V, ICLOUD_P256_POINT_LEN);
  if (encoding == ICLOUD_SPAKE2P_W0_MINIMAL)
    while (skip < ICLOUD_P256_SCALAR_LEN && self->w0_raw[skip] == 0)
      skip++;
  tt_append (tt, self->w0_raw + skip, ICLOUD_P256_SCALAR_LEN - skip);

  return g_bytes_new_with_free_func (tt->data, tt->len, wipe_free_array, tt);
}

void
icloud_spake2p_derive_keys (ICloudSpake2p          *self,
                            ICloudSpake2pW0Encoding encoding,
                            ICloudSpake2pKeys      *keys)
{
  g_autoptr(GBytes) tt = NULL;
  guint8 confirmation[2 * ICLOUD_SPAKE2P_KEY_LEN];
  const guint8 *share_p, *share_v;
  gsize share_p_len, share_v_len;
  gsize tt_len;
  const guint8 *tt_data;

  g_return_if_fail (self != NULL && self->have_peer && keys != NULL);

  tt = icloud_spake2p_get_transcript (self, encoding);
  tt_data = g_bytes_get_data (tt, &tt_len);
  icloud_crypto_sha256 (tt_data, tt_len, keys->K_main);

  icloud_bridge_hkdf_sha256 (keys->K_main, sizeof keys->K_main, "ConfirmationKeys",
                             confirmation, sizeof confirmation);
  memcpy (keys->K_confirmP, confirmation, ICLOUD_SPAKE2P_KEY_LEN);
  memcpy (keys->K_confirmV, confirmation + ICLOUD_SPAKE2P_KEY_LEN, ICLOUD_SPAKE2P_KEY_LEN);
  icloud_crypto_wipe (confirmation, sizeof confirmation);
  icloud_bridge_hkdf_sha256 (keys->K_main, sizeof keys->K_main, "SharedKey",
                             keys->K_shared, sizeof keys->K_shared);

  /* Each side MACs the other's share as it went over the wire. */
  share_p = self->is_prover ? self->share : self->peer_raw;
  share_p_len = self->is_prover ? ICLOUD_P256_POINT_LEN : self->peer_raw_len;
  share_v = self->is_prover ? self->peer_raw : self->share;
  share_v_len = self->is_prover ? self->peer_raw_len : ICLOUD_P256_POINT_LEN;
  icloud_bridge_hmac_sha256 (keys->K_confirmP, ICLOUD_SPAKE2P_KEY_LEN,
                             share_v, share_v_len, keys->confirmP);
  icloud_bridge_hmac_sha256 (keys->K_confirmV, ICLOUD_SPAKE2P_KEY_LEN,
                             share_p, share_p_len, keys->confirmV);
}

gboolean
icloud_spake2p_confirmation_equal (const guint8  expected[ICLOUD_SPAKE2P_KEY_LEN],
                                   const guint8 *received,
                                   gsize         received_len)
{
  if (received == NULL || received_len != ICLOUD_SPAKE2P_KEY_LEN)
    return FALSE;
  return icloud_crypto_equal (expected, received, ICLOUD_SPAKE2P_KEY_LEN);
}

void
icloud_spake2p_keys_wipe (ICloudSpake2pKeys *keys)
{
  icloud_crypto_wipe (keys, sizeof *keys);
}

const guint8 *
icloud_spake2p_get_point (ICloudSpake2p     *self,
                          ICloudSpake2pPoint which)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (which == ICLOUD_SPAKE2P_POINT_SHARE)
    return self->share;
  if (!self->have_peer)
    return NULL;
  switch (which)
    {
    case ICLOUD_SPAKE2P_POINT_PEER_SHARE: return self->peer;
    case ICLOUD_SPAKE2P_POINT_A:          return self->A;
    case ICLOUD_SPAKE2P_POINT_Z:          return self->Z;
    case ICLOUD_SPAKE2P_POINT_V:          return self->V;
    case ICLOUD_SPAKE2P_POINT_SHARE:
    default:                              return self->share;
    }
}

void
icloud_spake2p_free (ICloudSpake2p *self)
{
  if (self == NULL)
    return;

  /* Secure MPIs are wiped by libgcrypt when released. */
  gcry_mpi_release (self->w0);
  gcry_mpi_release (self->w1);
  gcry_mpi_release (self->eph);
  gcry_mpi_release (self->n);
  gcry_mpi_point_release (self->L);
  gcry_ctx_release (self->ec);
  icloud_crypto_wipe (self, sizeof *self);
  g_free (self);
}
