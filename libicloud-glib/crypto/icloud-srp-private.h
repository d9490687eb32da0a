/* icloud-srp-private.h: Apple's SRP-6a (RFC 5054 2048-bit group, g = 2,
 * SHA-256, PAD() in k and u, no username in x), client and server side.
 * Byte strings are big-endian; "minimal" means no leading zero bytes.
 * All functions are thread-safe (the maths runs in worker threads).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  ICLOUD_SRP_S2K,
  ICLOUD_SRP_S2K_FO,
} ICloudSrpProtocol;

/* "s2k" / "s2k_fo"; anything else → FALSE. */
gboolean  icloud_srp_protocol_from_string (const char        *name,
                                           ICloudSrpProtocol *out);

/* p = PBKDF2-HMAC-SHA256(SHA256(password) [or its lower-case hex for
 * s2k_fo], salt, iterations, 32) */
void      icloud_srp_derive_password      (ICloudSrpProtocol  protocol,
                                           const char        *password,
                                           const guint8      *salt,
                                           gsize              salt_len,
                                           guint              iterations,
                                           guint8             p[32]);

/* ---- client ---- */
typedef struct _ICloudSrpClient ICloudSrpClient;

/* Draws a random 256-byte a (redrawn until A has a non-zero top byte). */
ICloudSrpClient *icloud_srp_client_new        (void);
/* For known-answer tests: a given as bytes. */
ICloudSrpClient *icloud_srp_client_new_with_a (const guint8    *a,
                                               gsize            a_len);
/* A, minimal big-endian (the wire value before base64). */
GBytes          *icloud_srp_client_get_A      (ICloudSrpClient *client);
/* Computes u, x, S, K, M1, M2. FALSE (error G_IO_ERROR_INVALID_DATA) when
 * B % N == 0 or u == 0. The salt is hashed exactly as received. */
gboolean         icloud_srp_client_process    (ICloudSrpClient *client,
                                               const char      *identity,
                                               const guint8     p[32],
                                               const guint8    *salt,
                                               gsize            salt_len,
                                               const guint8    *B,
                                               gsize            B_len,
                                               GError         **error);
const guint8    *icloud_srp_client_get_M1     (ICloudSrpClient *client); /* 32 bytes */
const guint8    *icloud_srp_client_get_M2     (ICloudSrpClient *client); /* 32 bytes */
const guint8    *icloud_srp_client_get_K      (ICloudSrpClient *client); /* 32 bytes */
/* Intermediates for tests, minimal big-endian (u and x: as the 32-byte hash). */
GBytes          *icloud_srp_client_get_x      (ICloudSrpClient *client);
GBytes          *icloud_srp_client_get_u      (ICloudSrpClient *client);
GBytes          *icloud_srp_client_get_S      (ICloudSrpClient *client);
/* Wipes every secret, then frees. */
void             icloud_srp_client_free       (ICloudSrpClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudSrpClient, icloud_srp_client_free)

/* ---- server (the fake iCloud server) ---- */
/* v = g^x mod N, minimal big-endian. */
GBytes          *icloud_srp_compute_verifier  (const guint8    *salt,
                                               gsize            salt_len,
                                               const guint8     p[32]);

typedef struct _ICloudSrpServer ICloudSrpServer;

/* b given (tests) or NULL for a random 256-byte b. */
ICloudSrpServer *icloud_srp_server_new        (const guint8    *v,
                                               gsize            v_len,
                                               const guint8    *b,
                                               gsize            b_len);
/* B = (k·v + g^b) mod N, minimal big-endian. */
GBytes          *icloud_srp_server_get_B      (ICloudSrpServer *server);
/* Checks the client's M1 (constant time). On success fills M2 and returns
 * TRUE; a wrong proof returns FALSE without error; a bad A (A % N == 0)
 * returns FALSE with G_IO_ERROR_INVALID_DATA. */
gboolean         icloud_srp_server_verify     (ICloudSrpServer *server,
                                               const char      *identity,
                                               const guint8    *salt,
                                               gsize            salt_len,
                                               const guint8    *A,
                                               gsize            A_len,
                                               const guint8     M1[32],
                                               guint8           M2_out[32],
                                               GError         **error);
void             icloud_srp_server_free       (ICloudSrpServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (ICloudSrpServer, icloud_srp_server_free)

G_END_DECLS
