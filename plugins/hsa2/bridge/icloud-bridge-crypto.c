/* icloud-bridge-crypto.c: the HSA2 bridge's cryptography (hsa2-bridge.md §d).
 *
 *   scrypt ........................ libgcrypt (gcry_kdf_derive, GCRY_KDF_SCRYPT)
 *   P-256 points (SPAKE2+) ........ libgcrypt (icloud-spake2p.c)
 *   SHA-256, HMAC, HKDF ........... nettle
 *   AES-256-GCM ................... nettle (gcm_aes256_*)
 *   ECDSA P-256 (connection key) .. nettle/hogweed (ecdsa_sign, ecdsa_verify)
 *
 * Nothing here is written from a specification of a primitive: only the
 * glue (transcript, base64 layouts, DER of two integers).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "icloud-bridge-crypto-private.h"
#include "icloud-crypto-private.h"

#include <string.h>

#include <gio/gio.h>
#include <gcrypt.h>
#include <gmp.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#include <nettle/gcm.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <nettle/sha2.h>

const ICloudSpake2pSuite icloud_bridge_spake2p_suite = {
  ICLOUD_BRIDGE_CONTEXT,
  ICLOUD_BRIDGE_ID_PROVER,
  ICLOUD_BRIDGE_ID_VERIFIER,
};

gboolean
icloud_bridge_gcrypt_init (GError **error)
{
  static gsize once = 0;
  static gboolean usable = FALSE;

  /* A library does not configure libgcrypt for the application (secure
   * memory size, FIPS mode): it only checks the version, which also runs
   * libgcrypt's own one-time initialisation. */
  if (g_once_init_enter (&once))
    {
      usable = gcry_check_version ("1.10.0") != NULL;
      g_once_init_leave (&once, 1);
    }
  if (!usable)
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                         "libgcrypt 1.10 or newer is needed for the trusted-device bridge");
  return usable;
}

/* ---- primitives ---- */

void
icloud_bridge_hmac_sha256 (const guint8 *key,
                           gsize         key_len,
                           const guint8 *data,
                           gsize         data_len,
                           guint8        out[32])
{
  struct hmac_sha256_ctx ctx;

  hmac_sha256_set_key (&ctx, key_len, key);
  hmac_sha256_update (&ctx, data_len, data);
  hmac_sha256_digest (&ctx, SHA256_DIGEST_SIZE, out);
  icloud_crypto_wipe (&ctx, sizeof ctx);
}

void
icloud_bridge_hkdf_sha256 (const guint8 *ikm,
                           gsize         ikm_len,
                           const char   *info,
                           guint8       *out,
                           gsize         out_len)
{
  static const guint8 zero_salt[SHA256_DIGEST_SIZE] = { 0 };
  struct hmac_sha256_ctx ctx;
  guint8 prk[SHA256_DIGEST_SIZE];

  hmac_sha256_set_key (&ctx, sizeof zero_salt, zero_salt);
  hkdf_extract (&ctx,
                (nettle_hash_update_func *) hmac_sha256_update,
                (nettle_hash_digest_func *) hmac_sha256_digest,
                SHA256_DIGEST_SIZE, ikm_len, ikm, prk);
  hmac_sha256_set_key (&ctx, sizeof prk, prk);
  hkdf_expand (&ctx,
               (nettle_hash_update_func *) hmac_sha256_update,
               (nettle_hash_digest_func *) hmac_sha256_digest,
               SHA256_DIGEST_SIZE, strlen (info), (const guint8 *) info,
               out_len, out);
  icloud_crypto_wipe (prk, sizeof prk);
  icloud_crypto_wipe (&ctx, sizeof ctx);
}

/* ---- §d.2 ---- */

gboolean
icloud_bridge_derive_w0_w1 (const char   *code,
                            const guint8 *salt,
                            gsize         salt_len,
                            guint8        w0[ICLOUD_P256_SCALAR_LEN],
                            guint8        w1[ICLOUD_P256_SCALAR_LEN],
                            GError      **error)
{
  guint8 *out;
  gsize code_len;
  gcry_error_t err;

  g_return_val_if_fail (code != NULL, FALSE);
  g_return_val_if_fail (w0 != NULL && w1 != NULL, FALSE);

  code_len = strlen (code);
  if (code_len == 0 || code_len > ICLOUD_BRIDGE_MAX_CODE_LEN ||
      !g_utf8_validate (code, code_len, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The code is empty, too long or not UTF-8");
      return FALSE;
    }
  if (salt == NULL || salt_len == 0 || salt_len > ICLOUD_BRIDGE_MAX_SALT_LEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The bridge salt is empty or too long");
      return FALSE;
    }
  if (!icloud_bridge_gcrypt_init (error))
    return FALSE;

  /* r is libgcrypt's fixed 8; "iterations" is p. */
  out = gcry_xmalloc_secure (2 * ICLOUD_P256_SCALAR_LEN);
  err = gcry_kdf_derive (code, code_len, GCRY_KDF_SCRYPT, ICLOUD_BRIDGE_SCRYPT_N,
                         salt, salt_len, ICLOUD_BRIDGE_SCRYPT_P,
                         2 * ICLOUD_P256_SCALAR_LEN, out);
  if (err == 0)
    {
      memcpy (w0, out, ICLOUD_P256_SCALAR_LEN);
      memcpy (w1, out + ICLOUD_P256_SCALAR_LEN, ICLOUD_P256_SCALAR_LEN);
    }
  gcry_free (out);
  if (err != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "scrypt failed: %s", gcry_strerror (err));
      return FALSE;
    }
  return TRUE;
}

/* ---- §d.6 ---- */

void
icloud_bridge_derive_bridge_keys (const guint8 K_shared[ICLOUD_SPAKE2P_KEY_LEN],
                                  guint8       verifier_key[32],
                                  guint8       prover_key[32])
{
  icloud_bridge_hkdf_sha256 (K_shared, ICLOUD_SPAKE2P_KEY_LEN, "webVerifier",
                             verifier_key, 32);
  icloud_bridge_hkdf_sha256 (K_shared, ICLOUD_SPAKE2P_KEY_LEN, "webProver",
                             prover_key, 32);
}

/* ---- strict base64 ---- */

static gboolean
is_b64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/';
}

static GBytes *
base64_decode_strict_len (const char *text,
                          gsize       len,
                          gsize       max_len,
                          const char *what,
                          GError    **error)
{
  gsize pad = 0;
  gsize decoded_len;
  guchar *decoded;
  gsize out_len = 0;
  char *copy;

  if (len % 4 != 0)
    goto bad;
  if (len > 0 && text[len - 1] == '=')
    pad++;
  if (len > 1 && text[len - 2] == '=')
    pad++;
  for (gsize i = 0; i < len - pad; i++)
    if (!is_b64_char (text[i]))
      goto bad;
  decoded_len = len / 4 * 3 - pad;
  if (decoded_len > max_len)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "The %s is too long", what);
      return NULL;
    }

  copy = g_strndup (text, len);
  decoded = g_base64_decode (copy, &out_len);
  g_free (copy);
  g_assert (out_len == decoded_len);
  return g_bytes_new_take (decoded, out_len);

bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
               "The %s is not base64", what);
  return NULL;
}

GBytes *
icloud_bridge_base64_decode_strict (const char *text,
                                    gsize       max_len,
                                    GError    **error)
{
  g_return_val_if_fail (text != NULL, NULL);
  return base64_decode_strict_len (text, strlen (text), max_len, "value", error);
}

/* ---- §d.4 ---- */

gboolean
icloud_bridge_parse_step4_data (const char  *data,
                                GBytes     **share_v,
                                GBytes     **confirm_v,
                                GError     **error)
{
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(GBytes) share = NULL;
  g_autoptr(GBytes) confirm = NULL;
  const char *text, *sep;
  gsize len;

  g_return_val_if_fail (data != NULL, FALSE);

  inner = base64_decode_strict_len (data, strlen (data), ICLOUD_BRIDGE_MAX_PAYLOAD_LEN,
                                    "step-4 payload", error);
  if (inner == NULL)
    return FALSE;
  text = g_bytes_get_data (inner, &len);
  sep = len > 0 ? memchr (text, '_', len) : NULL;
  if (sep == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The step-4 payload has no '_'");
      return FALSE;
    }
  share = base64_decode_strict_len (text, sep - text, ICLOUD_P256_POINT_LEN,
                                    "step-4 share", error);
  if (share == NULL)
    return FALSE;
  confirm = base64_decode_strict_len (sep + 1, len - (sep + 1 - text), 64,
                                      "step-4 confirmation", error);
  if (confirm == NULL)
    return FALSE;

  if (share_v != NULL)
    *share_v = g_steal_pointer (&share);
  if (confirm_v != NULL)
    *confirm_v = g_steal_pointer (&confirm);
  return TRUE;
}

char *
icloud_bridge_encode_step4_data (const guint8 *share_v,
                                 gsize         share_v_len,
                                 const guint8  confirm_v[32])
{
  g_autofree char *share = g_base64_encode (share_v, share_v_len);
  g_autofree char *confirm = g_base64_encode (confirm_v, 32);
  g_autofree char *inner = g_strconcat (share, "_", confirm, NULL);

  return g_base64_encode ((const guchar *) inner, strlen (inner));
}

/* ---- §d.7 ---- */

#define GCM_HEADER_LEN (1 + ICLOUD_BRIDGE_GCM_IV_LEN + ICLOUD_BRIDGE_GCM_TAG_LEN)

char *
icloud_bridge_decrypt_code (const guint8  verifier_key[32],
                            const char   *encrypted_code,
                            GError      **error)
{
  g_autoptr(GBytes) payload = NULL;
  struct gcm_aes256_ctx ctx;
  guint8 tag[GCM_DIGEST_SIZE];
  const guint8 *data;
  gsize len, text_len;
  guint8 *plain;
  gboolean tag_ok;
  char *code;

  g_return_val_if_fail (verifier_key != NULL && encrypted_code != NULL, NULL);

  payload = icloud_bridge_base64_decode_strict (encrypted_code, ICLOUD_BRIDGE_MAX_PAYLOAD_LEN,
                                                error);
  if (payload == NULL)
    return NULL;
  data = g_bytes_get_data (payload, &len);
  if (len < GCM_HEADER_LEN)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "The encrypted code is too short");
      return NULL;
    }
  if (data[0] != ICLOUD_BRIDGE_GCM_VERSION)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Unknown encrypted code version %u", data[0]);
      return NULL;
    }

  text_len = len - GCM_HEADER_LEN;
  plain = g_malloc (text_len + 1);
  gcm_aes256_set_key (&ctx, verifier_key);
  gcm_aes256_set_iv (&ctx, ICLOUD_BRIDGE_GCM_IV_LEN, data + 1);
  gcm_aes256_update (&ctx, 1, data);   /* AAD: the version byte */
  gcm_aes256_decrypt (&ctx, text_len, plain, data + GCM_HEADER_LEN);
  gcm_aes256_digest (&ctx, sizeof tag, tag);
  icloud_crypto_wipe (&ctx, sizeof ctx);
  tag_ok = icloud_crypto_equal (tag, data + 1 + ICLOUD_BRIDGE_GCM_IV_LEN, sizeof tag);
  plain[text_len] = '\0';

  if (!tag_ok || memchr (plain, '\0', text_len) != NULL ||
      !g_utf8_validate ((const char *) plain, text_len, NULL))
    {
      icloud_crypto_wipe (plain, text_len);
      g_free (plain);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           tag_ok ? "The decrypted code is not UTF-8 text"
                                  : "The encrypted code does not authenticate");
      return NULL;
    }
  code = (char *) plain;
  return code;
}

char *
icloud_bridge_encrypt_code (const guint8  verifier_key[32],
                            const guint8 *iv,
                            const char   *plaintext)
{
  struct gcm_aes256_ctx ctx;
  gsize text_len = strlen (plaintext);
  gsize len = GCM_HEADER_LEN + text_len;
  guint8 *payload = g_malloc (len);
  char *b64;

  payload[0] = ICLOUD_BRIDGE_GCM_VERSION;
  if (iv != NULL)
    memcpy (payload + 1, iv, ICLOUD_BRIDGE_GCM_IV_LEN);
  else
    icloud_crypto_random (payload + 1, ICLOUD_BRIDGE_GCM_IV_LEN);
  gcm_aes256_set_key (&ctx, verifier_key);
  gcm_aes256_set_iv (&ctx, ICLOUD_BRIDGE_GCM_IV_LEN, payload + 1);
  gcm_aes256_update (&ctx, 1, payload);
  gcm_aes256_encrypt (&ctx, text_len, payload + GCM_HEADER_LEN, (const guint8 *) plaintext);
  gcm_aes256_digest (&ctx, ICLOUD_BRIDGE_GCM_TAG_LEN, payload + 1 + ICLOUD_BRIDGE_GCM_IV_LEN);
  icloud_crypto_wipe (&ctx, sizeof ctx);
  b64 = g_base64_encode (payload, len);
  g_free (payload);
  return b64;
}

/* ---- the prover ---- */

struct _ICloudBridgeProver
{
  ICloudSpake2p          *spake;
  ICloudSpake2pKeys       keys;
  ICloudSpake2pW0Encoding encoding;
  guint8                  verifier_key[32];
  guint8                  prover_key[32];
  gboolean                confirmed;
};

ICloudBridgeProver *
icloud_bridge_prover_new (const char   *code,
                          const guint8 *salt,
                          gsize         salt_len,
                          const guint8 *x,
                          GError      **error)
{
  ICloudBridgeProver *self;
  ICloudSpake2p *spake;
  guint8 w0[ICLOUD_P256_SCALAR_LEN], w1[ICLOUD_P256_SCALAR_LEN];

  g_return_val_if_fail (code != NULL, NULL);

  if (!icloud_bridge_derive_w0_w1 (code, salt, salt_len, w0, w1, error))
    return NULL;
  spake = icloud_spake2p_new_prover (&icloud_bridge_spake2p_suite, w0, w1, x, error);
  icloud_crypto_wipe (w0, sizeof w0);
  icloud_crypto_wipe (w1, sizeof w1);
  if (spake == NULL)
    return NULL;

  self = g_new0 (ICloudBridgeProver, 1);
  self->spake = spake;
  return self;
}

char *
icloud_bridge_prover_get_step2_data (ICloudBridgeProver *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_base64_encode (icloud_spake2p_get_share (self->spake), ICLOUD_P256_POINT_LEN);
}

ICloudBridgeStep4Result
icloud_bridge_prover_process_step4 (ICloudBridgeProver *self,
                                    const char         *p2_data,
                                    char              **step4_data,
                                    GError            **error)
{
  g_autoptr(GBytes) share_v = NULL;
  g_autoptr(GBytes) confirm_v = NULL;
  ICloudSpake2pKeys minimal, fixed;
  const guint8 *share, *confirm;
  gsize share_len, confirm_len;
  gboolean minimal_ok, fixed_ok;

  g_return_val_if_fail (self != NULL, ICLOUD_BRIDGE_STEP4_ERROR);
  g_return_val_if_fail (p2_data != NULL, ICLOUD_BRIDGE_STEP4_ERROR);
  g_return_val_if_fail (!self->confirmed, ICLOUD_BRIDGE_STEP4_ERROR);

  if (!icloud_bridge_parse_step4_data (p2_data, &share_v, &confirm_v, error))
    return ICLOUD_BRIDGE_STEP4_ERROR;
  share = g_bytes_get_data (share_v, &share_len);
  confirm = g_bytes_get_data (confirm_v, &confirm_len);
  if (!icloud_spake2p_set_peer_share (self->spake, share, share_len, error))
    return ICLOUD_BRIDGE_STEP4_ERROR;

  /* §h item 1: pyicloud writes w0 minimal, RFC 9383 32 bytes; they differ
   * once in 256 codes. Both are computed and checked every time. */
  icloud_spake2p_derive_keys (self->spake, ICLOUD_SPAKE2P_W0_MINIMAL, &minimal);
  icloud_spake2p_derive_keys (self->spake, ICLOUD_SPAKE2P_W0_FIXED, &fixed);
  minimal_ok = icloud_spake2p_confirmation_equal (minimal.confirmV, confirm, confirm_len);
  fixed_ok = icloud_spake2p_confirmation_equal (fixed.confirmV, confirm, confirm_len);

  if (minimal_ok || fixed_ok)
    {
      self->encoding = minimal_ok ? ICLOUD_SPAKE2P_W0_MINIMAL : ICLOUD_SPAKE2P_W0_FIXED;
      self->keys = minimal_ok ? minimal : fixed;
      self->confirmed = TRUE;
      icloud_bridge_derive_bridge_keys (self->keys.K_shared, self->verifier_key,
                                        self->prover_key);
      if (step4_data != NULL)
        *step4_data = g_base64_encode (self->keys.confirmP, sizeof self->keys.confirmP);
    }
  icloud_spake2p_keys_wipe (&minimal);
  icloud_spake2p_keys_wipe (&fixed);

  return self->confirmed ? ICLOUD_BRIDGE_STEP4_OK : ICLOUD_BRIDGE_STEP4_WRONG_CODE;
}

char *
icloud_bridge_prover_decrypt_code (ICloudBridgeProver *self,
                                   const char         *encrypted_code,
                                   GError            **error)
{
  g_return_val_if_fail (self != NULL && self->confirmed, NULL);
  return icloud_bridge_decrypt_code (self->verifier_key, encrypted_code, error);
}

const ICloudSpake2pKeys *
icloud_bridge_prover_get_keys (ICloudBridgeProver *self)
{
  g_return_val_if_fail (self != NULL && self->confirmed, NULL);
  return &self->keys;
}

ICloudSpake2pW0Encoding
icloud_bridge_prover_get_w0_encoding (ICloudBridgeProver *self)
{
  g_return_val_if_fail (self != NULL, ICLOUD_SPAKE2P_W0_MINIMAL);
  return self->encoding;
}

const guint8 *
icloud_bridge_prover_get_verifier_key (ICloudBridgeProver *self)
{
  g_return_val_if_fail (self != NULL && self->confirmed, NULL);
  return self->verifier_key;
}

const guint8 *
icloud_bridge_prover_get_prover_key (ICloudBridgeProver *self)
{
  g_return_val_if_fail (self != NULL && self->confirmed, NULL);
  return self->prover_key;
}

ICloudSpake2p *
icloud_bridge_prover_get_spake2p (ICloudBridgeProver *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->spake;
}

void
icloud_bridge_prover_free (ICloudBridgeProver *self)
{
  if (self == NULL)
    return;
  icloud_spake2p_free (self->spake);
  icloud_crypto_wipe (self, sizeof *self);
  g_free (self);
}

/* ---- §c.3 / §d.8: ECDSA ---- */

struct _ICloudBridgeKey
{
  struct ecc_point  pub;
  struct ecc_scalar key;
};

static void
nettle_random (void   *ctx,
               size_t  len,
               uint8_t *dst)
{
  icloud_crypto_random (dst, len);
}

static void
mpz_to_fixed (const mpz_t z,
              guint8     *out,
              gsize       len)
{
  gsize n = (mpz_sizeinbase (z, 2) + 7) / 8;
  size_t count = 0;

  g_assert (n <= len);
  memset (out, 0, len);
  if (mpz_sgn (z) != 0)
    mpz_export (out + len - n, &count, 1, 1, 1, 0, z);
}

static ICloudBridgeKey *
bridge_key_alloc (void)
{
  ICloudBridgeKey *self = g_new0 (ICloudBridgeKey, 1);
  const struct ecc_curve *curve = nettle_get_secp_256r1 ();

  ecc_point_init (&self->pub, curve);
  ecc_scalar_init (&self->key, curve);
  return self;
}

ICloudBridgeKey *
icloud_bridge_key_new (void)
{
  ICloudBridgeKey *self = bridge_key_alloc ();

  ecdsa_generate_keypair (&self->pub, &self->key, NULL, nettle_random);
  return self;
}

ICloudBridgeKey *
icloud_bridge_key_new_from_private (const guint8  d[ICLOUD_P256_SCALAR_LEN],
                                    GError      **error)
{
  ICloudBridgeKey *self = bridge_key_alloc ();
  mpz_t z;
  int ok;

  mpz_init (z);
  mpz_import (z, ICLOUD_P256_SCALAR_LEN, 1, 1, 1, 0, d);
  ok = ecc_scalar_set (&self->key, z);
  mpz_set_ui (z, 0);
  mpz_clear (z);
  if (!ok)
    {
      icloud_bridge_key_free (self);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "ECDSA private key out of range");
      return NULL;
    }
  ecc_point_mul_g (&self->pub, &self->key);
  return self;
}

void
icloud_bridge_key_get_public (ICloudBridgeKey *self,
                              guint8           out[ICLOUD_P256_POINT_LEN])
{
  mpz_t x, y;

  mpz_inits (x, y, NULL);
  ecc_point_get (&self->pub, x, y);
  out[0] = 0x04;
  mpz_to_fixed (x, out + 1, ICLOUD_P256_SCALAR_LEN);
  mpz_to_fixed (y, out + 1 + ICLOUD_P256_SCALAR_LEN, ICLOUD_P256_SCALAR_LEN);
  mpz_clears (x, y, NULL);
}

/* DER INTEGER of a non-negative value below 2^256. */
static void
der_append_integer (GByteArray  *der,
                    const mpz_t  z)
{
  guint8 buf[1 + ICLOUD_P256_SCALAR_LEN];
  gsize start = 0;
  guint8 header[2] = { 0x02, 0 };

  mpz_to_fixed (z, buf + 1, ICLOUD_P256_SCALAR_LEN);
  buf[0] = 0;
  /* Minimal: drop leading zeros, but keep one if the next byte has its top
   * bit set (the value is positive). */
  while (start < sizeof buf - 1 && buf[start] == 0 && (buf[start + 1] & 0x80) == 0)
    start++;
  header[1] = (guint8) (sizeof buf - start);
  g_byte_array_append (der, header, 2);
  g_byte_array_append (der, buf + start, sizeof buf - start);
}

GBytes *
icloud_bridge_key_sign (ICloudBridgeKey *self,
                        const guint8    *data,
                        gsize            len)
{
  struct dsa_signature sig;
  guint8 digest[SHA256_DIGEST_SIZE];
  GByteArray *der = g_byte_array_new ();
  guint8 seq[2] = { 0x30, 0 };

  icloud_crypto_sha256 (data, len, digest);
  dsa_signature_init (&sig);
  ecdsa_sign (&self->key, NULL, nettle_random, sizeof digest, digest, &sig);

  g_byte_array_append (der, seq, 2);
  der_append_integer (der, sig.r);
  der_append_integer (der, sig.s);
  der->data[1] = (guint8) (der->len - 2);   /* at most 70 */
  dsa_signature_clear (&sig);
  return g_byte_array_free_to_bytes (der);
}

/* Reads one DER INTEGER (positive, minimal, ≤ 33 bytes) at *pos. */
static gboolean
der_read_integer (const guint8 *der,
                  gsize         len,
                  gsize        *pos,
                  mpz_t         out)
{
  gsize n;

  if (*pos + 2 > len || der[*pos] != 0x02)
    return FALSE;
  n = der[*pos + 1];
  *pos += 2;
  if (n == 0 || n > 1 + ICLOUD_P256_SCALAR_LEN || *pos + n > len)
    return FALSE;
  if ((der[*pos] & 0x80) != 0)                          /* negative */
    return FALSE;
  if (n > 1 && der[*pos] == 0 && (der[*pos + 1] & 0x80) == 0)  /* not minimal */
    return FALSE;
  mpz_import (out, n, 1, 1, 1, 0, der + *pos);
  *pos += n;
  return TRUE;
}

gboolean
icloud_bridge_verify_signature (const guint8  public_key[ICLOUD_P256_POINT_LEN],
                                const guint8 *data,
                                gsize         len,
                                const guint8 *der,
                                gsize         der_len)
{
  const struct ecc_curve *curve = nettle_get_secp_256r1 ();
  struct ecc_point pub;
  struct dsa_signature sig;
  guint8 digest[SHA256_DIGEST_SIZE];
  gsize pos = 2;
  gboolean ok = FALSE;
  mpz_t x, y;

  if (public_key[0] != 0x04 || der == NULL || der_len < 2 || der_len > 2 + 127 ||
      der[0] != 0x30 || der[1] != der_len - 2)
    return FALSE;

  ecc_point_init (&pub, curve);
  dsa_signature_init (&sig);
  mpz_inits (x, y, NULL);
  mpz_import (x, ICLOUD_P256_SCALAR_LEN, 1, 1, 1, 0, public_key + 1);
  mpz_import (y, ICLOUD_P256_SCALAR_LEN, 1, 1, 1, 0, public_key + 1 + ICLOUD_P256_SCALAR_LEN);
  if (ecc_point_set (&pub, x, y) &&
      der_read_integer (der, der_len, &pos, sig.r) &&
      der_read_integer (der, der_len, &pos, sig.s) &&
      pos == der_len)
    {
      icloud_crypto_sha256 (data, len, digest);
      ok = ecdsa_verify (&pub, sizeof digest, digest, &sig) != 0;
    }
  mpz_clears (x, y, NULL);
  dsa_signature_clear (&sig);
  ecc_point_clear (&pub);
  return ok;
}

void
icloud_bridge_key_free (ICloudBridgeKey *self)
{
  if (self == NULL)
    return;
  /* nettle frees the scalar's limbs without wiping them. */
  icloud_crypto_wipe (self->key.p, ecc_size (nettle_get_secp_256r1 ()) * sizeof (mp_limb_t));
  ecc_scalar_clear (&self->key);
  ecc_point_clear (&self->pub);
  g_free (self);
}
