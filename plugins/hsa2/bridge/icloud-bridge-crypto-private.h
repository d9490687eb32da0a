/* icloud-bridge-crypto-private.h: the cryptography of the HSA2 trusted-device
 * bridge (protocol/hsa2-bridge.md §d): the password derivation, the prover
 * built on SPAKE2+, the step-4 payload, the final AES-256-GCM payload and
 * the ECDSA key of the web-push connection message.
 *
 * Which library does what: docs/bridge-crypto.md. All functions are
 * synchronous and thread-safe (no global state beyond libgcrypt's one-time
 * initialisation); scrypt takes ~50 ms and 16 MiB: call
 * icloud_bridge_prover_new () from a worker thread.
 *
 * Errors are G_IO_ERROR_INVALID_DATA (malformed input from the peer) or
 * G_IO_ERROR_FAILED (libgcrypt unusable). A wrong code is not an error.
 * No function logs a secret.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "icloud-spake2p-private.h"

G_BEGIN_DECLS

/* §d.2–d.5 */
#define ICLOUD_BRIDGE_CONTEXT           "SPAKE2Web"
#define ICLOUD_BRIDGE_ID_PROVER         "com.apple.security.webprover"
#define ICLOUD_BRIDGE_ID_VERIFIER       "com.apple.security.webverifier"
#define ICLOUD_BRIDGE_SCRYPT_N          16384
#define ICLOUD_BRIDGE_SCRYPT_R          8     /* libgcrypt's scrypt: always 8 */
#define ICLOUD_BRIDGE_SCRYPT_P          1
#define ICLOUD_BRIDGE_GCM_VERSION       0x00
#define ICLOUD_BRIDGE_GCM_IV_LEN        12
#define ICLOUD_BRIDGE_GCM_TAG_LEN       16
/* The data of the final bridge/step POST: base64 ("done"). */
#define ICLOUD_BRIDGE_DONE_DATA         "ZG9uZQ=="
/* Longest code, salt and encryptedCode taken (far above what Apple sends). */
#define ICLOUD_BRIDGE_MAX_CODE_LEN      256
#define ICLOUD_BRIDGE_MAX_SALT_LEN      1024
#define ICLOUD_BRIDGE_MAX_PAYLOAD_LEN   8192

extern const ICloudSpake2pSuite icloud_bridge_spake2p_suite;

/* libgcrypt, checked (>= 1.10) once per process. FALSE with
 * G_IO_ERROR_FAILED when it is unusable. Called by every function here. */
gboolean  icloud_bridge_gcrypt_init    (GError      **error);

/* ---- primitives (nettle) ---- */
void      icloud_bridge_hmac_sha256    (const guint8 *key,
                                        gsize         key_len,
                                        const guint8 *data,
                                        gsize         data_len,
                                        guint8        out[32]);
/* HKDF-SHA256 (RFC 5869) with an empty salt (≡ 32 zero bytes). */
void      icloud_bridge_hkdf_sha256    (const guint8 *ikm,
                                        gsize         ikm_len,
                                        const char   *info,
                                        guint8       *out,
                                        gsize         out_len);

/* ---- §d.2: w0 || w1 = scrypt (UTF-8 code, salt, 16384, 8, 1, 64) ---- */
gboolean  icloud_bridge_derive_w0_w1   (const char   *code,
                                        const guint8 *salt,
                                        gsize         salt_len,
                                        guint8        w0[ICLOUD_P256_SCALAR_LEN],
                                        guint8        w1[ICLOUD_P256_SCALAR_LEN],
                                        GError      **error);

/* ---- §d.6: verifierKey and proverKey from K_shared ---- */
void      icloud_bridge_derive_bridge_keys (const guint8 K_shared[ICLOUD_SPAKE2P_KEY_LEN],
                                            guint8       verifier_key[32],
                                            guint8       prover_key[32]);

/* ---- §d.4: P2 data = b64 (b64 (shareV) "_" b64 (confirmV)) ---- */
gboolean  icloud_bridge_parse_step4_data  (const char   *data,
                                           GBytes      **share_v,
                                           GBytes      **confirm_v,
                                           GError      **error);
char     *icloud_bridge_encode_step4_data (const guint8 *share_v,
                                           gsize         share_v_len,
                                           const guint8  confirm_v[32]);

/* ---- §d.7: encryptedCode = b64 (00 || IV || tag || ciphertext) ---- */
/* The plaintext (UTF-8, NUL-free; a secret: free it with
 * icloud_crypto_free_secret ()), or NULL with G_IO_ERROR_INVALID_DATA. */
char     *icloud_bridge_decrypt_code   (const guint8  verifier_key[32],
                                        const char   *encrypted_code,
                                        GError      **error);
/* The fake server's side. @iv: 12 bytes, or NULL for a random one. */
char     *icloud_bridge_encrypt_code   (const guint8  verifier_key[32],
                                        const guint8 *iv,
                                        const char   *plaintext);

/* ---- strict base64 (RFC 4648, standard alphabet, '=' padding) ---- */
GBytes   *icloud_bridge_base64_decode_strict (const char *text,
                                              gsize       max_len,
                                              GError    **error);

/* ---- the prover of §c.7 / §d ---- */
typedef enum {
  ICLOUD_BRIDGE_STEP4_ERROR,       /* malformed payload or point: error set */
  ICLOUD_BRIDGE_STEP4_WRONG_CODE,  /* confirmV does not match: no error */
  ICLOUD_BRIDGE_STEP4_OK,
} ICloudBridgeStep4Result;

typedef struct _ICloudBridgeProver ICloudBridgeProver;

/* Runs scrypt (slow), draws x (or takes @x, 32 bytes, for tests) and
 * computes the share. @code: the typed code, UTF-8, as typed. */
ICloudBridgeProver *icloud_bridge_prover_new        (const char         *code,
                                                     const guint8       *salt,
                                                     gsize               salt_len,
                                                     const guint8       *x,
                                                     GError            **error);
/* B2 `data`: b64 (shareP), newly allocated. */
char               *icloud_bridge_prover_get_step2_data (ICloudBridgeProver *self);
/* P2 `data` in; on OK, @step4_data = B4 `data` (b64 (confirmP)).
 * Both w0 encodings of §h item 1 are tried, always both (the time does not
 * depend on w0); the one that matches is kept. */
ICloudBridgeStep4Result icloud_bridge_prover_process_step4 (ICloudBridgeProver *self,
                                                            const char         *p2_data,
                                                            char              **step4_data,
                                                            GError            **error);
/* After OK: P3 `encryptedCode` → the code to post to bridge/code/validate
 * (free it with icloud_crypto_free_secret ()). */
char               *icloud_bridge_prover_decrypt_code (ICloudBridgeProver *self,
                                                       const char         *encrypted_code,
                                                       GError            **error);
/* For tests, after OK: the keys kept, the encoding that matched, the
 * bridge keys, the SPAKE2+ state. */
const ICloudSpake2pKeys *icloud_bridge_prover_get_keys (ICloudBridgeProver *self);
ICloudSpake2pW0Encoding  icloud_bridge_prover_get_w0_encoding (ICloudBridgeProver *self);
const guint8       *icloud_bridge_prover_get_verifier_key (ICloudBridgeProver *self);
const guint8       *icloud_bridge_prover_get_prover_key   (ICloudBridgeProver *self);
ICloudSpake2p      *icloud_bridge_prover_get_spake2p      (ICloudBridgeProver *self);
void                icloud_bridge_prover_free       (ICloudBridgeProver *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudBridgeProver, icloud_bridge_prover_free)

/* ---- §c.3 / §d.8: the connection key, ECDSA P-256 / SHA-256 ---- */
typedef struct _ICloudBridgeKey ICloudBridgeKey;

ICloudBridgeKey *icloud_bridge_key_new              (void);
/* For tests: the private scalar, 32 bytes in [1, n−1]. */
ICloudBridgeKey *icloud_bridge_key_new_from_private (const guint8     d[ICLOUD_P256_SCALAR_LEN],
                                                     GError         **error);
void             icloud_bridge_key_get_public       (ICloudBridgeKey *self,
                                                     guint8           out[ICLOUD_P256_POINT_LEN]);
/* DER SEQUENCE { INTEGER r, INTEGER s } of SHA-256 (@data). */
GBytes          *icloud_bridge_key_sign             (ICloudBridgeKey *self,
                                                     const guint8    *data,
                                                     gsize            len);
void             icloud_bridge_key_free             (ICloudBridgeKey *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudBridgeKey, icloud_bridge_key_free)
/* The fake server's check; FALSE for any malformed input. */
gboolean         icloud_bridge_verify_signature     (const guint8     public_key[ICLOUD_P256_POINT_LEN],
                                                     const guint8    *data,
                                                     gsize            len,
                                                     const guint8    *der,
                                                     gsize            der_len);

G_END_DECLS
