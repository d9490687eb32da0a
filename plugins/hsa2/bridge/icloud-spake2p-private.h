/* icloud-spake2p-private.h: SPAKE2+ (RFC 9383) on P-256 with SHA-256,
 * HKDF-SHA256 and HMAC-SHA256, both roles, with the context and the two
 * identities given by the caller (the HSA2 bridge's are in
 * icloud-bridge-crypto-private.h).
 *
 * Byte strings are big-endian; points are SEC1, 65 bytes uncompressed
 * (04 || X || Y) unless said otherwise. w0 and w1 are the 32-byte values
 * as derived (not reduced mod n: the scalar multiplications reduce them).
 *
 * Thread-safe: no global state (each object has its own libgcrypt curve
 * context); an object is used by one thread at a time. Every secret (w0,
 * w1, the ephemeral scalar, Z, V, the transcript, the keys) is held in
 * libgcrypt secure memory or wiped with explicit_bzero () when freed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICLOUD_P256_POINT_LEN   65
#define ICLOUD_P256_SCALAR_LEN  32
#define ICLOUD_SPAKE2P_KEY_LEN  32

typedef struct {
  const char *context;
  const char *id_prover;
  const char *id_verifier;
} ICloudSpake2pSuite;

/* How w0 ends the transcript: RFC 9383 writes 32 bytes; Apple's web prover
 * (as ported by pyicloud) writes it without leading zero bytes
 * (hsa2-bridge.md §d.5 and §h item 1). */
typedef enum {
  ICLOUD_SPAKE2P_W0_MINIMAL,
  ICLOUD_SPAKE2P_W0_FIXED,
} ICloudSpake2pW0Encoding;

typedef struct {
  guint8 K_main[ICLOUD_SPAKE2P_KEY_LEN];
  guint8 K_confirmP[ICLOUD_SPAKE2P_KEY_LEN];
  guint8 K_confirmV[ICLOUD_SPAKE2P_KEY_LEN];
  guint8 K_shared[ICLOUD_SPAKE2P_KEY_LEN];
  /* HMAC(K_confirmP, shareV as the verifier sent it) */
  guint8 confirmP[ICLOUD_SPAKE2P_KEY_LEN];
  /* HMAC(K_confirmV, shareP as the prover sent it) */
  guint8 confirmV[ICLOUD_SPAKE2P_KEY_LEN];
} ICloudSpake2pKeys;

typedef enum {
  ICLOUD_SPAKE2P_POINT_SHARE,       /* own share: X (prover) or Y (verifier) */
  ICLOUD_SPAKE2P_POINT_PEER_SHARE,  /* the peer's, re-encoded uncompressed */
  ICLOUD_SPAKE2P_POINT_A,           /* Y − w0·N (prover) or X − w0·M (verifier) */
  ICLOUD_SPAKE2P_POINT_Z,
  ICLOUD_SPAKE2P_POINT_V,
} ICloudSpake2pPoint;

typedef struct _ICloudSpake2p ICloudSpake2p;

/* The prover: X = x·G + w0·M. @x: 32 bytes in [1, n−1] (known-answer
 * tests), or NULL for a random one. FALSE only for a bad @x or a broken
 * libgcrypt (G_IO_ERROR_INVALID_DATA / G_IO_ERROR_FAILED). */
ICloudSpake2p *icloud_spake2p_new_prover   (const ICloudSpake2pSuite *suite,
                                            const guint8              w0[ICLOUD_P256_SCALAR_LEN],
                                            const guint8              w1[ICLOUD_P256_SCALAR_LEN],
                                            const guint8             *x,
                                            GError                  **error);
/* The verifier (the fake server's side): Y = y·G + w0·N, with the
 * registration record (w0, L = w1·G). @y like @x above. */
ICloudSpake2p *icloud_spake2p_new_verifier (const ICloudSpake2pSuite *suite,
                                            const guint8              w0[ICLOUD_P256_SCALAR_LEN],
                                            const guint8              L[ICLOUD_P256_POINT_LEN],
                                            const guint8             *y,
                                            GError                  **error);
/* L = w1·G (what the verifier stores). FALSE if w1 ≡ 0 mod n. */
gboolean       icloud_spake2p_compute_L    (const guint8              w1[ICLOUD_P256_SCALAR_LEN],
                                            guint8                    L[ICLOUD_P256_POINT_LEN],
                                            GError                  **error);

/* The own share, 65 bytes. */
const guint8  *icloud_spake2p_get_share    (ICloudSpake2p            *self);

/* Takes the peer's share, 65 bytes uncompressed or 33 compressed, and
 * computes Z and V. The share must be a point of P-256 (the identity has no
 * such encoding); an identity A, Z or V is refused too. Errors:
 * G_IO_ERROR_INVALID_DATA. May be called once. */
gboolean       icloud_spake2p_set_peer_share (ICloudSpake2p          *self,
                                              const guint8           *share,
                                              gsize                   share_len,
                                              GError                **error);

/* After set_peer_share: the transcript (a secret: wipe it) and the keys. */
GBytes        *icloud_spake2p_get_transcript (ICloudSpake2p          *self,
                                              ICloudSpake2pW0Encoding encoding);
void           icloud_spake2p_derive_keys    (ICloudSpake2p          *self,
                                              ICloudSpake2pW0Encoding encoding,
                                              ICloudSpake2pKeys      *keys);
/* Constant time (for 32-byte values); a length other than 32 is FALSE. */
gboolean       icloud_spake2p_confirmation_equal (const guint8        expected[ICLOUD_SPAKE2P_KEY_LEN],
                                                  const guint8       *received,
                                                  gsize               received_len);
void           icloud_spake2p_keys_wipe      (ICloudSpake2pKeys      *keys);

/* For tests: a point, 65 bytes, or NULL when not computed yet. */
const guint8  *icloud_spake2p_get_point      (ICloudSpake2p          *self,
                                              ICloudSpake2pPoint      which);

/* Wipes every secret, then frees (NULL is fine). */
void           icloud_spake2p_free           (ICloudSpake2p          *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudSpake2p, icloud_spake2p_free)

G_END_DECLS
