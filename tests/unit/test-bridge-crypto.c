/* test-bridge-crypto.c: known-answer and negative tests of the HSA2 bridge's
 * cryptography and wire formats (plugins/hsa2/bridge/).
 *
 * Every vector of data/bridge-vectors.json (a copy of
 * protocol/bridge-vectors.json: public reference data computed with
 * pyicloud's prover, see its "comment") is run, each intermediate value
 * compared: rfc9383_core_crosscheck, every prover_vectors entry, every
 * wire_vectors entry.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "icloud-crypto-private.h"
#include "icloud-spake2p-private.h"
#include "icloud-bridge-crypto-private.h"
#include "icloud-bridge-wire-private.h"
#include "icloud-bridge-push-private.h"

static JsonObject *vectors;

/* ---- helpers ---- */

static GBytes *
hex_to_bytes (const char *hex)
{
  gsize len = strlen (hex);
  guint8 *out;

  g_assert_cmpuint (len % 2, ==, 0);
  out = g_malloc (len / 2 + 1);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      g_assert_cmpint (hi, >=, 0);
      g_assert_cmpint (lo, >=, 0);
      out[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (out, len / 2);
}

static char *
to_hex (const guint8 *data,
        gsize         len)
{
  GString *s = g_string_sized_new (2 * len);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02x", data[i]);
  return g_string_free (s, FALSE);
}

static void
assert_hex (const guint8 *data,
            gsize         len,
            const char   *expected)
{
  g_autofree char *hex = to_hex (data, len);

  g_assert_cmpstr (hex, ==, expected);
}

static void
assert_bytes_hex (GBytes     *bytes,
                  const char *expected)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  assert_hex (data, len, expected);
}

static const char *
str_at (JsonObject *object,
        const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonObject *o = object;

  for (guint i = 0; parts[i + 1] != NULL; i++)
    {
      g_assert_true (json_object_has_member (o, parts[i]));
      o = json_object_get_object_member (o, parts[i]);
    }
  g_assert_true (json_object_has_member (o, parts[g_strv_length (parts) - 1]));
  return json_object_get_string_member (o, parts[g_strv_length (parts) - 1]);
}

static GBytes *
bytes_at (JsonObject *object,
          const char *path)
{
  return hex_to_bytes (str_at (object, path));
}

static const guint8 *
data_of (GBytes *bytes,
         gsize   expected_len)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  if (expected_len != 0)
    g_assert_cmpuint (len, ==, expected_len);
  return data;
}

/* ---- RFC 9383 Appendix C, first P-256 vector ---- */

static void
test_rfc9383 (void)
{
  JsonObject *v = json_object_get_object_member (vectors, "rfc9383_core_crosscheck");
  ICloudSpake2pSuite suite = {
    str_at (v, "context"), str_at (v, "idProver"), str_at (v, "idVerifier"),
  };
  g_autoptr(GBytes) w0 = bytes_at (v, "w0_hex");
  g_autoptr(GBytes) w1 = bytes_at (v, "w1_hex");
  g_autoptr(GBytes) x = bytes_at (v, "x_hex");
  g_autoptr(GBytes) share_v = bytes_at (v, "shareV_hex");
  g_autoptr(ICloudSpake2p) prover = NULL;
  g_autoptr(GError) error = NULL;
  ICloudSpake2pKeys keys;

  prover = icloud_spake2p_new_prover (&suite, data_of (w0, 32), data_of (w1, 32),
                                      data_of (x, 32), &error);
  g_assert_no_error (error);
  assert_hex (icloud_spake2p_get_share (prover), 65, str_at (v, "expected_shareP_hex"));
  g_assert_true (icloud_spake2p_set_peer_share (prover, data_of (share_v, 65), 65, &error));
  g_assert_no_error (error);

  /* RFC 9383 writes w0 on 32 bytes; this w0 has no leading zero, so both
   * encodings agree. */
  icloud_spake2p_derive_keys (prover, ICLOUD_SPAKE2P_W0_FIXED, &keys);
  assert_hex (keys.K_main, 32, str_at (v, "expected_K_main_hex"));
  assert_hex (keys.K_confirmP, 32, str_at (v, "expected_K_confirmP_hex"));
  assert_hex (keys.K_confirmV, 32, str_at (v, "expected_K_confirmV_hex"));
  assert_hex (keys.confirmP, 32, str_at (v, "expected_confirmP_hex"));
  assert_hex (keys.confirmV, 32, str_at (v, "expected_confirmV_hex"));
  assert_hex (keys.K_shared, 32, str_at (v, "expected_K_shared_hex"));
  icloud_spake2p_derive_keys (prover, ICLOUD_SPAKE2P_W0_MINIMAL, &keys);
  assert_hex (keys.K_main, 32, str_at (v, "expected_K_main_hex"));
  icloud_spake2p_keys_wipe (&keys);
}

/* ---- the prover vectors ---- */

/* TT rebuilt from its parts: LE64 (len) || part, in order. */
static char *
transcript_from_parts (JsonArray *parts)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < json_array_get_length (parts); i++)
    {
      const char *part = json_array_get_string_element (parts, i);
      guint64 len = strlen (part) / 2;

      for (guint b = 0; b < 8; b++)
        g_string_append_printf (s, "%02x", (guint) ((len >> (8 * b)) & 0xff));
      g_string_append (s, part);
    }
  return g_string_free (s, FALSE);
}

static void
check_keys (const ICloudSpake2pKeys *keys,
            JsonObject              *v)
{
  assert_hex (keys->K_main, 32, str_at (v, "K_main_sha256_transcript_hex"));
  assert_hex (keys->K_confirmP, 32, str_at (v, "K_confirmP_hex"));
  assert_hex (keys->K_confirmV, 32, str_at (v, "K_confirmV_hex"));
  {
    g_autofree char *both = g_strconcat (str_at (v, "K_confirmP_hex"),
                                         str_at (v, "K_confirmV_hex"), NULL);
    g_assert_cmpstr (both, ==, str_at (v, "confirmation_keys_hex"));
  }
  assert_hex (keys->K_shared, 32, str_at (v, "K_shared_hex"));
  assert_hex (keys->K_shared, 32, str_at (v, "process_message2_result.key"));
  assert_hex (keys->confirmP, 32, str_at (v, "client_confirmation_confirmP_hex"));
  assert_hex (keys->confirmV, 32, str_at (v, "server_confirmation_confirmV_hex"));
}

static void
test_prover_vector (gconstpointer user_data)
{
  JsonObject *v = (JsonObject *) user_data;
  const char *name = str_at (v, "name");
  const char *code = str_at (v, "inputs.code");
  g_autoptr(GBytes) salt = bytes_at (v, "inputs.salt_hex");
  g_autoptr(GBytes) x = bytes_at (v, "inputs.client_scalar_x_hex");
  g_autoptr(GBytes) y = bytes_at (v, "inputs.server_scalar_y_hex");
  g_autoptr(GBytes) y_received = bytes_at (v, "server_share_Y_as_received_hex");
  g_autoptr(GBytes) confirm_v = bytes_at (v, "server_confirmation_confirmV_hex");
  g_autoptr(GBytes) salt_b64 = NULL;
  g_autoptr(GBytes) tt = NULL;
  g_autoptr(GBytes) inner = NULL;
  g_autoptr(ICloudBridgeProver) prover = NULL;
  g_autoptr(ICloudSpake2p) verifier = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *step2 = NULL;
  g_autofree char *step4 = NULL;
  g_autofree char *p2_data = NULL;
  g_autofree char *expected_tt = NULL;
  const gboolean compressed = g_bytes_get_size (y_received) == 33;
  ICloudSpake2p *spake;
  ICloudSpake2pKeys verifier_keys;
  guint8 w0[32], w1[32], L[65];
  gsize salt_len;
  const guint8 *salt_data = g_bytes_get_data (salt, &salt_len);

  g_test_message ("vector %s", name);

  /* §d.1: the salt as the push carries it; the code's UTF-8 */
  salt_b64 = icloud_bridge_base64_decode_strict (str_at (v, "inputs.salt_b64"), 1024, &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (salt_b64, salt));
  assert_hex ((const guint8 *) code, strlen (code), str_at (v, "inputs.code_utf8_hex"));

  /* §d.2: scrypt, w0, w1 (not reduced; they are all below n here) */
  g_assert_true (icloud_bridge_derive_w0_w1 (code, salt_data, salt_len, w0, w1, &error));
  g_assert_no_error (error);
  {
    g_autofree char *w0_hex = to_hex (w0, 32);
    g_autofree char *w1_hex = to_hex (w1, 32);
    g_autofree char *both = g_strconcat (w0_hex, w1_hex, NULL);

    g_assert_cmpstr (both, ==, str_at (v, "scrypt.output_hex"));
    g_assert_cmpstr (w0_hex, ==, str_at (v, "w0_hex"));
    g_assert_cmpstr (w1_hex, ==, str_at (v, "w1_hex"));
    g_assert_cmpstr (str_at (v, "w0_mod_n_hex"), ==, w0_hex);
    g_assert_cmpstr (str_at (v, "w1_mod_n_hex"), ==, w1_hex);
  }

  /* §d.2: X and the B2 data */
  prover = icloud_bridge_prover_new (code, salt_data, salt_len, data_of (x, 32), &error);
  g_assert_no_error (error);
  spake = icloud_bridge_prover_get_spake2p (prover);
  assert_hex (icloud_spake2p_get_share (spake), 65, str_at (v, "client_share_X_hex"));
  step2 = icloud_bridge_prover_get_step2_data (prover);
  g_assert_cmpstr (step2, ==, str_at (v, "wire.step2_request.data"));
  g_assert_cmpuint (strlen (step2), ==, 88);

  /* §d.3.3: the verifier's L and Y */
  g_assert_true (icloud_spake2p_compute_L (w1, L, &error));
  g_assert_no_error (error);
  assert_hex (L, 65, str_at (v, "server_verifier_point_L_hex"));
  verifier = icloud_spake2p_new_verifier (&icloud_bridge_spake2p_suite, w0, L,
                                          data_of (y, 32), &error);
  g_assert_no_error (error);
  assert_hex (icloud_spake2p_get_share (verifier), 65, str_at (v, "server_share_Y_generated_hex"));

  /* §d.4: the P2 data, as the verifier would write it */
  p2_data = icloud_bridge_encode_step4_data (g_bytes_get_data (y_received, NULL),
                                             g_bytes_get_size (y_received),
                                             data_of (confirm_v, 32));
  g_assert_cmpstr (p2_data, ==, str_at (v, "wire.step4_push_data"));
  inner = icloud_bridge_base64_decode_strict (p2_data, 4096, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (inner, NULL), g_bytes_get_size (inner),
                   str_at (v, "wire.step4_push_data_inner_text"),
                   strlen (str_at (v, "wire.step4_push_data_inner_text")));

  /* §d.3, §d.5: the prover's step */
  g_assert_cmpint (icloud_bridge_prover_process_step4 (prover, p2_data, &step4, &error), ==,
                   ICLOUD_BRIDGE_STEP4_OK);
  g_assert_no_error (error);
  g_assert_cmpstr (step4, ==, str_at (v, "wire.step4_request.data"));
  g_assert_cmpint (icloud_bridge_prover_get_w0_encoding (prover), ==, ICLOUD_SPAKE2P_W0_MINIMAL);
  assert_hex (icloud_spake2p_get_point (spake, ICLOUD_SPAKE2P_POINT_PEER_SHARE), 65,
              str_at (v, "server_share_Y_generated_hex"));
  assert_hex (icloud_spake2p_get_point (spake, ICLOUD_SPAKE2P_POINT_A), 65,
              str_at (v, "client_Y_minus_w0N_hex"));
  assert_hex (icloud_spake2p_get_point (spake, ICLOUD_SPAKE2P_POINT_Z), 65,
              str_at (v, "shared_point_Z_hex"));
  assert_hex (icloud_spake2p_get_point (spake, ICLOUD_SPAKE2P_POINT_V), 65,
              str_at (v, "shared_point_V_hex"));

  tt = icloud_spake2p_get_transcript (spake, ICLOUD_SPAKE2P_W0_MINIMAL);
  assert_bytes_hex (tt, str_at (v, "transcript_hex"));
  g_assert_cmpint (g_bytes_get_size (tt), ==,
                   json_object_get_int_member (v, "transcript_len"));
  expected_tt = transcript_from_parts (json_object_get_array_member (v, "transcript_parts_hex"));
  g_assert_cmpstr (expected_tt, ==, str_at (v, "transcript_hex"));
  g_assert_cmpint (json_object_get_int_member (v, "w0_transcript_encoding_len"), ==,
                   strlen (str_at (v, "w0_transcript_encoding_hex")) / 2);
  g_assert_true (g_str_has_suffix (str_at (v, "transcript_hex"),
                                   str_at (v, "w0_transcript_encoding_hex")));

  check_keys (icloud_bridge_prover_get_keys (prover), v);
  assert_hex (icloud_bridge_prover_get_verifier_key (prover), 32, str_at (v, "verifier_key_hex"));
  assert_hex (icloud_bridge_prover_get_prover_key (prover), 32, str_at (v, "prover_key_hex"));
  g_assert_true (json_object_get_boolean_member (
                   json_object_get_object_member (v, "process_message2_result"), "isVerified"));

  /* The verifier's view of the same exchange */
  g_assert_true (icloud_spake2p_set_peer_share (verifier, icloud_spake2p_get_share (spake), 65,
                                                &error));
  g_assert_no_error (error);
  icloud_spake2p_derive_keys (verifier, ICLOUD_SPAKE2P_W0_MINIMAL, &verifier_keys);
  assert_hex (verifier_keys.K_shared, 32, str_at (v, "K_shared_hex"));
  assert_hex (verifier_keys.confirmV, 32, str_at (v, "server_confirmation_confirmV_hex"));
  assert_hex (icloud_spake2p_get_point (verifier, ICLOUD_SPAKE2P_POINT_Z), 65,
              str_at (v, "shared_point_Z_hex"));
  assert_hex (icloud_spake2p_get_point (verifier, ICLOUD_SPAKE2P_POINT_V), 65,
              str_at (v, "shared_point_V_hex"));
  if (!compressed)
    assert_hex (verifier_keys.confirmP, 32, str_at (v, "client_confirmation_confirmP_hex"));
  else
    /* §d.5: the prover MACs the 33 bytes it got, the verifier its 65. */
    g_assert_false (icloud_spake2p_confirmation_equal (verifier_keys.confirmP,
                                                       icloud_bridge_prover_get_keys (prover)->confirmP,
                                                       32));
  icloud_spake2p_keys_wipe (&verifier_keys);

  /* §d.7 */
  if (json_object_has_member (v, "aes_gcm"))
    {
      JsonObject *gcm = json_object_get_object_member (v, "aes_gcm");
      g_autoptr(GBytes) iv = bytes_at (gcm, "iv_hex");
      g_autoptr(GBytes) payload = NULL;
      g_autofree char *encrypted = NULL;
      g_auto(ICloudSecret) decrypted = NULL;
      g_autofree char *expected_payload = NULL;

      g_assert_cmpstr (str_at (gcm, "key"), ==, "verifier_key");
      g_assert_cmpstr (str_at (gcm, "aad_hex"), ==, "00");
      encrypted = icloud_bridge_encrypt_code (icloud_bridge_prover_get_verifier_key (prover),
                                              data_of (iv, 12), str_at (gcm, "plaintext"));
      g_assert_cmpstr (encrypted, ==, str_at (gcm, "encryptedCode_b64"));
      g_assert_cmpstr (encrypted, ==, str_at (v, "wire.final_push_encryptedCode"));
      payload = icloud_bridge_base64_decode_strict (encrypted, 4096, &error);
      g_assert_no_error (error);
      assert_bytes_hex (payload, str_at (gcm, "payload_hex"));
      expected_payload = g_strconcat ("00", str_at (gcm, "iv_hex"), str_at (gcm, "tag_hex"),
                                      str_at (gcm, "ciphertext_hex"), NULL);
      g_assert_cmpstr (expected_payload, ==, str_at (gcm, "payload_hex"));

      decrypted = icloud_bridge_prover_decrypt_code (prover, str_at (v, "wire.final_push_encryptedCode"),
                                                     &error);
      g_assert_no_error (error);
      g_assert_cmpstr (decrypted, ==, str_at (gcm, "plaintext"));
      g_assert_cmpstr (decrypted, ==, str_at (v, "wire.code_validate_request.code"));
      assert_hex ((const guint8 *) decrypted, strlen (decrypted), str_at (gcm, "plaintext_hex"));
      g_assert_cmpstr (str_at (v, "wire.completion_request_after_nextStep_6.data"), ==,
                       ICLOUD_BRIDGE_DONE_DATA);
    }

  /* The B2/B4 requests share the push token and session of the wire vectors. */
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                     json_object_get_object_member (v, "wire"), "step2_request"), "nextStep"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (
                     json_object_get_object_member (v, "wire"), "step4_request"), "nextStep"), ==, 4);

  /* §h item 1: a peer that writes w0 on 32 bytes */
  if (json_object_has_member (v, "variant_if_peer_used_fixed_32_byte_w0"))
    {
      JsonObject *fixed = json_object_get_object_member (v, "variant_if_peer_used_fixed_32_byte_w0");
      g_autoptr(GBytes) fixed_confirm_v = bytes_at (fixed, "server_confirmation_confirmV_hex");
      g_autoptr(GBytes) fixed_tt = icloud_spake2p_get_transcript (spake, ICLOUD_SPAKE2P_W0_FIXED);
      g_autoptr(ICloudBridgeProver) second = NULL;
      g_autofree char *fixed_p2 = NULL;
      g_autofree char *fixed_step4 = NULL;
      g_autofree char *expected_step4 = NULL;
      ICloudSpake2pKeys keys;
      guint8 verifier_key[32], prover_key[32];

      g_assert_cmpint (json_object_get_int_member (v, "w0_transcript_encoding_len"), ==, 31);
      assert_bytes_hex (fixed_tt, str_at (fixed, "transcript_hex"));
      g_assert_true (g_str_has_suffix (str_at (fixed, "transcript_hex"),
                                       str_at (fixed, "w0_transcript_encoding_hex")));
      icloud_spake2p_derive_keys (spake, ICLOUD_SPAKE2P_W0_FIXED, &keys);
      assert_hex (keys.K_main, 32, str_at (fixed, "K_main_hex"));
      assert_hex (keys.confirmP, 32, str_at (fixed, "client_confirmation_confirmP_hex"));
      assert_hex (keys.confirmV, 32, str_at (fixed, "server_confirmation_confirmV_hex"));
      assert_hex (keys.K_shared, 32, str_at (fixed, "K_shared_hex"));
      icloud_bridge_derive_bridge_keys (keys.K_shared, verifier_key, prover_key);
      assert_hex (verifier_key, 32, str_at (fixed, "verifier_key_hex"));
      icloud_spake2p_keys_wipe (&keys);

      /* The prover accepts such a peer, and says so. */
      second = icloud_bridge_prover_new (code, salt_data, salt_len, data_of (x, 32), &error);
      g_assert_no_error (error);
      fixed_p2 = icloud_bridge_encode_step4_data (g_bytes_get_data (y_received, NULL),
                                                  g_bytes_get_size (y_received),
                                                  data_of (fixed_confirm_v, 32));
      g_assert_cmpint (icloud_bridge_prover_process_step4 (second, fixed_p2, &fixed_step4, &error), ==,
                       ICLOUD_BRIDGE_STEP4_OK);
      g_assert_no_error (error);
      g_assert_cmpint (icloud_bridge_prover_get_w0_encoding (second), ==, ICLOUD_SPAKE2P_W0_FIXED);
      {
        g_autoptr(GBytes) cp = bytes_at (fixed, "client_confirmation_confirmP_hex");

        expected_step4 = g_base64_encode (data_of (cp, 32), 32);
      }
      g_assert_cmpstr (fixed_step4, ==, expected_step4);
      assert_hex (icloud_bridge_prover_get_verifier_key (second), 32, str_at (fixed, "verifier_key_hex"));
    }

  icloud_crypto_wipe (w0, sizeof w0);
  icloud_crypto_wipe (w1, sizeof w1);
}

/* ---- wire vectors ---- */

static void
test_wire_connection_message (void)
{
  JsonObject *w = json_object_get_object_member (vectors, "wire_vectors");
  JsonObject *c = json_object_get_object_member (w, "connection_message");
  g_autoptr(GBytes) d = bytes_at (c, "private_key_hex");
  g_autoptr(GBytes) random8 = bytes_at (c, "nonce_random8_hex");
  g_autoptr(GBytes) der = bytes_at (c, "signature_der_hex");
  g_autoptr(GBytes) field3 = bytes_at (c, "field3_hex");
  g_autoptr(GBytes) encoded = NULL;
  g_autoptr(GBytes) fresh = NULL;
  g_autoptr(GBytes) signature = NULL;
  g_autoptr(ICloudBridgeKey) key = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  guint8 nonce[ICLOUD_BRIDGE_NONCE_LEN], pub[65];
  gint64 timestamp = json_object_get_int_member (c, "timestamp_ms");

  key = icloud_bridge_key_new_from_private (data_of (d, 32), &error);
  g_assert_no_error (error);
  icloud_bridge_key_get_public (key, pub);
  assert_hex (pub, 65, str_at (c, "public_key_x962_hex"));

  icloud_bridge_build_nonce ((guint64) timestamp, data_of (random8, 8), nonce);
  assert_hex (nonce, sizeof nonce, str_at (c, "nonce_hex"));

  /* The vector's signature verifies; the field is 01 03 || DER. */
  g_assert_true (icloud_bridge_verify_signature (pub, nonce, sizeof nonce,
                                                 data_of (der, 0), g_bytes_get_size (der)));
  g_assert_cmpmem (data_of (field3, 0) + 2, g_bytes_get_size (field3) - 2,
                   data_of (der, 0), g_bytes_get_size (der));
  g_assert_cmpmem (data_of (field3, 0), 2, "\x01\x03", 2);

  encoded = icloud_bridge_encode_connection_message (pub, nonce, data_of (der, 0),
                                                     g_bytes_get_size (der));
  assert_bytes_hex (encoded, str_at (c, "encoded_hex"));
  url = icloud_bridge_websocket_url ("websocket.push.apple.com", encoded);
  g_assert_cmpstr (url, ==, str_at (c, "websocket_url"));

  /* A fresh signature (random k) is different and verifies too. */
  signature = icloud_bridge_key_sign (key, nonce, sizeof nonce);
  g_assert_cmpuint (g_bytes_get_size (signature), >=, 8);
  g_assert_cmpuint (g_bytes_get_size (signature), <=, 72);
  g_assert_true (icloud_bridge_verify_signature (pub, nonce, sizeof nonce,
                                                 data_of (signature, 0),
                                                 g_bytes_get_size (signature)));
  g_assert_false (g_bytes_equal (signature, der));
  /* …over these bytes only */
  nonce[16] ^= 1;
  g_assert_false (icloud_bridge_verify_signature (pub, nonce, sizeof nonce,
                                                  data_of (signature, 0),
                                                  g_bytes_get_size (signature)));

  /* The whole message from a key: parses back, signature verifies. */
  fresh = icloud_bridge_connection_message_new (key, (guint64) timestamp, data_of (random8, 8));
  {
    ICloudPbReader outer, inner;
    ICloudPbField f, g;
    guint seen = 0;

    icloud_pb_reader_init (&outer, data_of (fresh, 0), g_bytes_get_size (fresh));
    g_assert_true (icloud_pb_reader_next (&outer, &f, &error));
    g_assert_cmpuint (f.number, ==, 1);
    icloud_pb_reader_init (&inner, f.bytes, f.len);
    while (icloud_pb_reader_next (&inner, &g, &error))
      {
        seen |= 1u << g.number;
        if (g.number == 1)
          g_assert_cmpmem (g.bytes, g.len, pub, 65);
        else if (g.number == 2)
          assert_hex (g.bytes, g.len, str_at (c, "nonce_hex"));
        else if (g.number == 3)
          {
            guint8 n2[ICLOUD_BRIDGE_NONCE_LEN];

            icloud_bridge_build_nonce ((guint64) timestamp, data_of (random8, 8), n2);
            g_assert_cmpmem (g.bytes, 2, "\x01\x03", 2);
            g_assert_true (icloud_bridge_verify_signature (pub, n2, sizeof n2,
                                                           g.bytes + 2, g.len - 2));
          }
        else if (g.number == 5)
          assert_hex (g.bytes, g.len, "0880a305");
      }
    g_assert_no_error (error);
    g_assert_cmpuint (seen, ==, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 5));
    g_assert_false (icloud_pb_reader_next (&outer, &f, &error));
    g_assert_no_error (error);
  }
}

static void
test_wire_client_messages (void)
{
  JsonObject *w = json_object_get_object_member (vectors, "wire_vectors");
  const char *topic = str_at (w, "topic");
  g_autoptr(GBytes) filter = icloud_bridge_encode_web_filter (topic);
  g_autoptr(GBytes) ack = NULL;
  guint8 hash[ICLOUD_BRIDGE_TOPIC_HASH_LEN];

  assert_bytes_hex (filter, str_at (w, "web_filter_message_hex"));
  icloud_bridge_topic_hash (topic, hash);
  assert_hex (hash, sizeof hash, str_at (w, "topic_sha1_hex"));
  ack = icloud_bridge_encode_ack (hash, sizeof hash, 2300);
  assert_bytes_hex (ack, str_at (w, "ack_message_for_id_2300_hex"));
  g_assert_cmpstr (str_at (w, "bridge_done_data_b64"), ==, ICLOUD_BRIDGE_DONE_DATA);
  {
    g_autofree char *done = g_base64_encode ((const guchar *) "done", 4);

    g_assert_cmpstr (done, ==, ICLOUD_BRIDGE_DONE_DATA);
  }

  /* RFC 6455 handshake example: libsoup computes and checks this itself;
   * the vector is checked here so that it is not left unread. */
  {
    g_autofree char *joined = g_strconcat (str_at (w, "websocket_handshake_example.Sec-WebSocket-Key"),
                                           "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", NULL);
    g_autoptr(GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
    guint8 digest[20];
    gsize digest_len = sizeof digest;
    g_autofree char *accept = NULL;

    g_checksum_update (sha1, (const guchar *) joined, strlen (joined));
    g_checksum_get_digest (sha1, digest, &digest_len);
    accept = g_base64_encode (digest, digest_len);
    g_assert_cmpstr (accept, ==, str_at (w, "websocket_handshake_example.Sec-WebSocket-Accept"));
  }
}

static void
test_wire_server_messages (void)
{
  JsonObject *w = json_object_get_object_member (vectors, "wire_vectors");
  const char *topic = str_at (w, "topic");
  g_autoptr(GError) error = NULL;

  /* connection OK */
  {
    g_autoptr(GBytes) bytes = bytes_at (w, "server_connection_response_hex");
    g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);
    g_autoptr(GBytes) again = NULL;
    g_autofree char *ptkn = NULL;

    g_assert_no_error (error);
    g_assert_true (msg->has_connection && msg->has_status && !msg->has_server_time);
    g_assert_false (msg->has_push || msg->has_subscription || msg->has_server_ack);
    g_assert_cmpuint (msg->status, ==, 0);
    ptkn = icloud_bridge_push_token_to_hex (msg->token, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (ptkn, ==, str_at (w, "server_connection_response_push_token_hex"));
    g_assert_cmpstr (ptkn, ==, str_at (w, "ptkn_for_step_posts"));
    again = icloud_bridge_encode_connection_response (msg->token, 0, FALSE, 0);
    g_assert_true (g_bytes_equal (again, bytes));
  }

  /* INVALID_NONCE: the retry uses server time × 1000 */
  {
    g_autoptr(GBytes) bytes = bytes_at (w, "server_connection_response_invalid_nonce_hex");
    g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);
    g_autoptr(GBytes) again = NULL;

    g_assert_no_error (error);
    g_assert_true (msg->has_connection && msg->has_status && msg->has_server_time);
    g_assert_null (msg->token);
    g_assert_cmpuint (msg->status, ==, 2);
    g_assert_cmpuint (msg->server_time * 1000, ==,
                      (guint64) json_object_get_int_member (w, "server_connection_response_invalid_nonce_retry_timestamp_ms"));
    again = icloud_bridge_encode_connection_response (NULL, 2, TRUE, msg->server_time);
    g_assert_true (g_bytes_equal (again, bytes));
  }

  /* a push, its payload, its ack */
  {
    g_autoptr(GBytes) bytes = bytes_at (w, "server_push_message_hex");
    g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);
    g_autoptr(ICloudBridgePush) push = NULL;
    g_autoptr(GBytes) again = NULL;
    g_autoptr(GBytes) ack = NULL;
    JsonObject *expected = json_object_get_object_member (w, "server_push_message_json");
    const guint8 *payload;
    gsize payload_len;

    g_assert_no_error (error);
    g_assert_true (msg->has_push && msg->has_push_id);
    g_assert_cmpuint (msg->push_id, ==, 2300);
    assert_bytes_hex (msg->push_topic, str_at (w, "topic_sha1_hex"));
    g_assert_true (icloud_bridge_topic_matches (data_of (msg->push_topic, 0),
                                                g_bytes_get_size (msg->push_topic), topic));
    g_assert_false (icloud_bridge_topic_matches (data_of (msg->push_topic, 0),
                                                 g_bytes_get_size (msg->push_topic), "com.apple.other"));
    ack = icloud_bridge_encode_ack (data_of (msg->push_topic, 0),
                                    g_bytes_get_size (msg->push_topic), msg->push_id);
    assert_bytes_hex (ack, str_at (w, "ack_message_for_id_2300_hex"));

    payload = g_bytes_get_data (msg->push_payload, &payload_len);
    push = icloud_bridge_push_parse (payload, payload_len, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (push->flowid, ==, str_at (expected, "flowid"));
    g_assert_null (push->session_uuid);
    g_assert_cmpstr (icloud_bridge_push_get_id (push), ==, "FLOW-1");
    g_assert_cmpstr (push->next_step, ==, str_at (expected, "nextStep"));
    g_assert_cmpstr (push->txnid, ==, str_at (expected, "txnid"));
    g_assert_cmpstr (push->salt, ==, str_at (expected, "salt"));
    g_assert_cmpstr (push->idmsdata, ==, str_at (expected, "idmsdata"));
    g_assert_nonnull (push->akdata);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (push->akdata));
    g_assert_cmpfloat (json_object_get_double_member (json_node_get_object (push->akdata), "lat"),
                       ==, 49.52);
    g_assert_false (icloud_bridge_push_is_legacy (push));
    g_assert_false (icloud_bridge_push_is_error (push));
    again = icloud_bridge_encode_push (data_of (msg->push_topic, 0),
                                       g_bytes_get_size (msg->push_topic), 2300,
                                       payload, payload_len);
    g_assert_true (g_bytes_equal (again, bytes));
  }

  /* channel subscription response */
  {
    g_autoptr(GBytes) bytes = bytes_at (w, "server_channel_subscription_response_hex");
    g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);
    g_autoptr(GBytes) again = NULL;

    g_assert_no_error (error);
    g_assert_true (msg->has_subscription && msg->has_subscription_status);
    g_assert_cmpuint (msg->subscription_status, ==, 0);
    g_assert_cmpuint (msg->subscription_id, ==, 1);
    g_assert_cmpuint (msg->subscription_topics->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (msg->subscription_topics, 0), ==, topic);
    again = icloud_bridge_encode_subscription_response (topic, "channel-id", 1, 0);
    g_assert_true (g_bytes_equal (again, bytes));
  }
}

/* ---- negative tests ---- */

static const char *basic_code = "123456";
static const guint8 basic_salt[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* A real exchange with random scalars: right code → the verifier's
 * confirmation checks; wrong code → it does not, with no error. */
static void
test_wrong_code (void)
{
  g_autoptr(GError) error = NULL;
  guint8 w0[32], w1[32], L[65];
  ICloudSpake2pKeys keys;

  g_assert_true (icloud_bridge_derive_w0_w1 (basic_code, basic_salt, sizeof basic_salt,
                                             w0, w1, &error));
  g_assert_true (icloud_spake2p_compute_L (w1, L, &error));

  for (guint round = 0; round < 2; round++)
    {
      const char *typed = round == 0 ? basic_code : "123457";
      g_autoptr(ICloudBridgeProver) prover = NULL;
      g_autoptr(ICloudSpake2p) verifier = NULL;
      g_autoptr(GBytes) share_p = NULL;
      g_autofree char *step2 = NULL;
      g_autofree char *p2 = NULL;
      g_autofree char *step4 = NULL;
      ICloudBridgeStep4Result result;

      prover = icloud_bridge_prover_new (typed, basic_salt, sizeof basic_salt, NULL, &error);
      g_assert_no_error (error);
      verifier = icloud_spake2p_new_verifier (&icloud_bridge_spake2p_suite, w0, L, NULL, &error);
      g_assert_no_error (error);

      step2 = icloud_bridge_prover_get_step2_data (prover);
      share_p = icloud_bridge_base64_decode_strict (step2, 65, &error);
      g_assert_no_error (error);
      g_assert_true (icloud_spake2p_set_peer_share (verifier, data_of (share_p, 65), 65, &error));
      icloud_spake2p_derive_keys (verifier, ICLOUD_SPAKE2P_W0_MINIMAL, &keys);
      p2 = icloud_bridge_encode_step4_data (icloud_spake2p_get_share (verifier), 65, keys.confirmV);

      result = icloud_bridge_prover_process_step4 (prover, p2, &step4, &error);
      g_assert_no_error (error);
      if (round == 0)
        {
          g_autoptr(GBytes) confirm_p = NULL;
          g_auto(ICloudSecret) code = NULL;
          g_autofree char *encrypted = NULL;
          guint8 verifier_key[32], prover_key[32];

          g_assert_cmpint (result, ==, ICLOUD_BRIDGE_STEP4_OK);
          confirm_p = icloud_bridge_base64_decode_strict (step4, 32, &error);
          g_assert_no_error (error);
          g_assert_true (icloud_spake2p_confirmation_equal (keys.confirmP, data_of (confirm_p, 32), 32));
          icloud_bridge_derive_bridge_keys (keys.K_shared, verifier_key, prover_key);
          encrypted = icloud_bridge_encrypt_code (verifier_key, NULL, "validation-code");
          code = icloud_bridge_prover_decrypt_code (prover, encrypted, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (code, ==, "validation-code");
        }
      else
        {
          g_assert_cmpint (result, ==, ICLOUD_BRIDGE_STEP4_WRONG_CODE);
          g_assert_null (step4);
        }
      icloud_spake2p_keys_wipe (&keys);
    }

  /* The comparison itself: equal, one bit off, wrong length. */
  {
    guint8 a[32], b[32];

    icloud_crypto_random (a, sizeof a);
    memcpy (b, a, sizeof b);
    g_assert_true (icloud_spake2p_confirmation_equal (a, b, 32));
    b[31] ^= 0x80;
    g_assert_false (icloud_spake2p_confirmation_equal (a, b, 32));
    g_assert_false (icloud_spake2p_confirmation_equal (a, a, 31));
    g_assert_false (icloud_spake2p_confirmation_equal (a, NULL, 0));
  }
}

/* A confirmation of the right length but wrong, through the P2 data. */
static void
test_wrong_confirmation (void)
{
  JsonObject *v = json_array_get_object_element (json_object_get_array_member (vectors, "prover_vectors"), 0);
  g_autoptr(GBytes) x = bytes_at (v, "inputs.client_scalar_x_hex");
  g_autoptr(GBytes) y = bytes_at (v, "server_share_Y_as_received_hex");
  g_autoptr(GBytes) confirm_v = bytes_at (v, "server_confirmation_confirmV_hex");
  g_autoptr(GError) error = NULL;
  guint8 bad[32];

  memcpy (bad, data_of (confirm_v, 32), 32);
  bad[0] ^= 1;
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(ICloudBridgeProver) prover =
        icloud_bridge_prover_new (basic_code, basic_salt, sizeof basic_salt, data_of (x, 32), &error);
      g_autofree char *p2 = icloud_bridge_encode_step4_data (data_of (y, 65), 65, bad);
      g_autofree char *step4 = NULL;

      g_assert_no_error (error);
      if (i == 1)
        {
          /* 31 bytes: wrong length is a wrong code, as in pyicloud */
          g_autofree char *share = g_base64_encode (data_of (y, 65), 65);
          g_autofree char *confirm = g_base64_encode (bad, 31);
          g_autofree char *inner = g_strconcat (share, "_", confirm, NULL);

          g_free (p2);
          p2 = g_base64_encode ((const guchar *) inner, strlen (inner));
        }
      g_assert_cmpint (icloud_bridge_prover_process_step4 (prover, p2, &step4, &error), ==,
                       ICLOUD_BRIDGE_STEP4_WRONG_CODE);
      g_assert_no_error (error);
      g_assert_null (step4);
    }
}

static void
expect_bad_share (const guint8 *share,
                  gsize         len)
{
  JsonObject *v = json_array_get_object_element (json_object_get_array_member (vectors, "prover_vectors"), 0);
  g_autoptr(GBytes) x = bytes_at (v, "inputs.client_scalar_x_hex");
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudBridgeProver) prover =
    icloud_bridge_prover_new (basic_code, basic_salt, sizeof basic_salt, data_of (x, 32), &error);
  guint8 confirm[32] = { 0 };
  g_autofree char *p2 = NULL;
  g_autofree char *step4 = NULL;

  g_assert_no_error (error);
  if (len > 0)
    p2 = icloud_bridge_encode_step4_data (share, len, confirm);
  else
    {
      /* an empty share: "_" then the confirmation */
      g_autofree char *c = g_base64_encode (confirm, 32);
      g_autofree char *inner = g_strconcat ("_", c, NULL);

      p2 = g_base64_encode ((const guchar *) inner, strlen (inner));
    }
  g_assert_cmpint (icloud_bridge_prover_process_step4 (prover, p2, &step4, &error), ==,
                   ICLOUD_BRIDGE_STEP4_ERROR);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (step4);
}

static void
test_bad_share (void)
{
  JsonObject *v = json_array_get_object_element (json_object_get_array_member (vectors, "prover_vectors"), 0);
  g_autoptr(GBytes) y = bytes_at (v, "server_share_Y_as_received_hex");
  guint8 share[65];
  guint8 identity[1] = { 0x00 };

  /* the identity (SEC1: one zero byte), and (0, 0) */
  expect_bad_share (identity, 1);
  memset (share, 0, sizeof share);
  share[0] = 0x04;
  expect_bad_share (share, 65);
  expect_bad_share (share, 0);

  /* off the curve: Y with its last bit flipped */
  memcpy (share, data_of (y, 65), 65);
  share[64] ^= 1;
  expect_bad_share (share, 65);
  /* a coordinate ≥ p */
  memset (share + 1, 0xff, 64);
  expect_bad_share (share, 65);
  /* bad prefix; truncated; compressed with x ≥ p */
  memcpy (share, data_of (y, 65), 65);
  share[0] = 0x05;
  expect_bad_share (share, 65);
  share[0] = 0x04;
  expect_bad_share (share, 64);
  memset (share, 0xff, 33);
  share[0] = 0x02;
  expect_bad_share (share, 33);
}

static void
test_scalars (void)
{
  g_autoptr(GError) error = NULL;
  guint8 w[32] = { 1 };
  guint8 zero[32] = { 0 };
  guint8 n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
  };
  guint8 L[65];
  ICloudSpake2p *p;

  /* x must be in [1, n−1] */
  p = icloud_spake2p_new_prover (&icloud_bridge_spake2p_suite, w, w, zero, &error);
  g_assert_null (p);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  p = icloud_spake2p_new_prover (&icloud_bridge_spake2p_suite, w, w, n, &error);
  g_assert_null (p);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  /* w1 = n: L would be the identity */
  g_assert_false (icloud_spake2p_compute_L (n, L, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  /* ECDSA keys likewise */
  g_assert_null (icloud_bridge_key_new_from_private (zero, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);

  /* §d.2: w0 is not reduced. w0 = 5 and w0 = n + 5 give the same share
   * (the multiplications reduce), but the transcript keeps w0's bytes. */
  {
    static const char N_hex[] =
      "04d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"
      "07d60aa6bfade45008a636337f5168c64d9bd36034808cd564490b1e656edbe7";
    g_autoptr(GBytes) N = hex_to_bytes (N_hex);
    guint8 five[32] = { [31] = 5 };
    guint8 n_plus_5[32];
    guint8 x[32] = { [31] = 9 };
    g_autoptr(ICloudSpake2p) a = NULL;
    g_autoptr(ICloudSpake2p) b = NULL;
    g_autoptr(GBytes) tt_a = NULL;
    g_autoptr(GBytes) tt_b = NULL;
    gsize len_a, len_b;
    const guint8 *data_a, *data_b;

    memcpy (n_plus_5, n, 32);
    n_plus_5[31] += 5;   /* 0x51 + 5: no carry */
    a = icloud_spake2p_new_prover (&icloud_bridge_spake2p_suite, five, w, x, &error);
    g_assert_no_error (error);
    b = icloud_spake2p_new_prover (&icloud_bridge_spake2p_suite, n_plus_5, w, x, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (icloud_spake2p_get_share (a), 65, icloud_spake2p_get_share (b), 65);
    g_assert_true (icloud_spake2p_set_peer_share (a, data_of (N, 65), 65, &error));
    g_assert_true (icloud_spake2p_set_peer_share (b, data_of (N, 65), 65, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (icloud_spake2p_get_point (a, ICLOUD_SPAKE2P_POINT_Z), 65,
                     icloud_spake2p_get_point (b, ICLOUD_SPAKE2P_POINT_Z), 65);
    tt_a = icloud_spake2p_get_transcript (a, ICLOUD_SPAKE2P_W0_MINIMAL);
    tt_b = icloud_spake2p_get_transcript (b, ICLOUD_SPAKE2P_W0_MINIMAL);
    data_a = g_bytes_get_data (tt_a, &len_a);
    data_b = g_bytes_get_data (tt_b, &len_b);
    g_assert_cmpuint (len_a + 31, ==, len_b);   /* 1 byte against 32 */
    g_assert_cmpmem (data_a, len_a - 9, data_b, len_a - 9);
    g_assert_cmpmem (data_b + len_b - 32, 32, n_plus_5, 32);
    g_assert_cmpuint (data_a[len_a - 1], ==, 5);
  }

  /* code and salt checks */
  {
    guint8 w0[32], w1[32];

    g_assert_false (icloud_bridge_derive_w0_w1 ("", basic_salt, sizeof basic_salt, w0, w1, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
    g_assert_false (icloud_bridge_derive_w0_w1 ("\xff\xfe", basic_salt, sizeof basic_salt, w0, w1, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
    g_assert_false (icloud_bridge_derive_w0_w1 (basic_code, basic_salt, 0, w0, w1, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
  }
}

/* A peer share that makes A = Y − w0·N the identity (Y = N, w0 = 1):
 * refused, and no Z or V is kept. */
static void
test_identity_A (void)
{
  static const guint8 one[32] = { [31] = 1 };
  static const guint8 x[32] = { [31] = 7 };
  static const char N_hex[] =
    "04d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"
    "07d60aa6bfade45008a636337f5168c64d9bd36034808cd564490b1e656edbe7";
  g_autoptr(GBytes) N = hex_to_bytes (N_hex);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudSpake2p) prover =
    icloud_spake2p_new_prover (&icloud_bridge_spake2p_suite, one, one, x, &error);

  g_assert_no_error (error);
  g_assert_false (icloud_spake2p_set_peer_share (prover, data_of (N, 65), 65, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_assert_null (icloud_spake2p_get_point (prover, ICLOUD_SPAKE2P_POINT_Z));
}

static void
test_step4_data (void)
{
  g_autoptr(GError) error = NULL;
  static const char *bad[] = {
    "",                 /* no '_' */
    "not base64!",
    "QUFB",             /* "AAA": no '_' */
    "QUJD_RA==",        /* '_' in the outer text */
    "QUFBQV8=",         /* "AAAA_": empty confirmation is fine syntactically → see below */
    "QUFBX0FBQQ==",     /* "AA_AAA" inner halves not base64 (length) */
    "QUE9QV9BQUFB",     /* "AA=A_AAAA": '=' inside */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GBytes) share = NULL;
      g_autoptr(GBytes) confirm = NULL;
      gboolean ok = icloud_bridge_parse_step4_data (bad[i], &share, &confirm, &error);

      if (i == 4)
        {
          /* "AAAA" decodes to 3 bytes, "" to 0: parsed, refused later */
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (g_bytes_get_size (share), ==, 3);
          g_assert_cmpuint (g_bytes_get_size (confirm), ==, 0);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_assert_null (share);
      g_clear_error (&error);
    }
}

static void
test_gcm_refusals (void)
{
  JsonObject *v = json_array_get_object_element (json_object_get_array_member (vectors, "prover_vectors"), 0);
  g_autoptr(GBytes) key = bytes_at (v, "verifier_key_hex");
  g_autoptr(GBytes) payload = bytes_at (v, "aes_gcm.payload_hex");
  g_autoptr(GError) error = NULL;
  guint8 buf[256];
  gsize len = g_bytes_get_size (payload);
  g_auto(ICloudSecret) ok = NULL;

  g_assert_cmpuint (len, <=, sizeof buf);
  ok = icloud_bridge_decrypt_code (data_of (key, 32), str_at (v, "aes_gcm.encryptedCode_b64"), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ok, ==, "654321");

  for (guint c = 0; c < 7; c++)
    {
      g_autofree char *b64 = NULL;
      g_autofree char *code = NULL;
      gsize n = len;

      memcpy (buf, data_of (payload, 0), len);
      switch (c)
        {
        case 0: buf[0] = 1; break;                 /* unknown version */
        case 1: buf[5] ^= 1; break;                /* IV */
        case 2: buf[20] ^= 1; break;               /* tag */
        case 3: buf[len - 1] ^= 1; break;          /* ciphertext */
        case 4: n = 28; break;                     /* shorter than the header */
        case 5: n = len - 1; break;                /* truncated ciphertext */
        case 6: break;                             /* wrong key below */
        default: break;
        }
      b64 = g_base64_encode (buf, n);
      if (c == 6)
        {
          guint8 other[32];

          memcpy (other, data_of (key, 32), 32);
          other[0] ^= 1;
          code = icloud_bridge_decrypt_code (other, b64, &error);
        }
      else
        code = icloud_bridge_decrypt_code (data_of (key, 32), b64, &error);
      g_assert_null (code);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
      g_clear_error (&error);
    }

  /* not base64; a plaintext that is not UTF-8 */
  g_assert_null (icloud_bridge_decrypt_code (data_of (key, 32), "AAAA*AAA", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  {
    g_autofree char *bad = icloud_bridge_encrypt_code (data_of (key, 32), NULL, "\xc3\x28");

    g_assert_null (icloud_bridge_decrypt_code (data_of (key, 32), bad, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    g_clear_error (&error);
  }
}

static void
expect_pb_error (const char *hex,
                 const char *message_part)
{
  g_autoptr(GBytes) bytes = hex_to_bytes (hex);
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);

  g_test_message ("refused: %s", hex);
  g_assert_null (msg);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  if (strstr (error->message, message_part) == NULL)
    g_test_message ("%s: %s", hex, error->message);
  g_assert_nonnull (strstr (error->message, message_part));
}

static void
test_protobuf_refusals (void)
{
  g_autoptr(GError) error = NULL;

  expect_pb_error ("0a", "truncated varint");                 /* key, no length */
  expect_pb_error ("0a05", "beyond the end");                 /* length > rest */
  expect_pb_error ("0a0510", "beyond the end");
  expect_pb_error ("0aff", "truncated varint");
  expect_pb_error ("0affffffffffffffffff7f", "over 64 bits");  /* 10 bytes, too big */
  expect_pb_error ("0affffffffffffffffffff01", "longer than 10"); /* 11 bytes */
  expect_pb_error ("0affffffffffffffffff01", "beyond the end");   /* 2^64−1 */
  expect_pb_error ("0d00000000", "wire type");                /* field 1, type 5 */
  expect_pb_error ("09", "wire type");                        /* type 1 */
  expect_pb_error ("00", "field number");                     /* field 0 */
  expect_pb_error ("0a020a05", "beyond the end");             /* inner: len 5 */
  expect_pb_error ("0a0110", "truncated varint");             /* inner varint missing */
  expect_pb_error ("0a010a", "truncated varint");             /* inner length missing */
  expect_pb_error ("0a020a", "beyond the end");
  expect_pb_error ("0a03120100", "wrong type");               /* status as bytes */
  expect_pb_error ("0a020801", "wrong type");                 /* token as varint */
  expect_pb_error ("1000", "wrong type");                     /* push as varint */
  expect_pb_error ("1203080100", "wrong type");               /* push topic as varint */
  expect_pb_error ("1a040a020801", "wrong type");
  expect_pb_error ("0a020aff", "truncated varint");

  /* unknown fields and empty messages are fine */
  {
    g_autoptr(GBytes) bytes = hex_to_bytes ("2001" "2a00" "3203616263" "0a00");
    g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);

    g_assert_no_error (error);
    g_assert_true (msg->has_connection);
    g_assert_false (msg->has_status);
  }
  {
    g_autoptr(GBytes) bytes = g_bytes_new (NULL, 0);
    g_autoptr(ICloudBridgeServerMessage) msg = icloud_bridge_server_message_parse (bytes, &error);

    g_assert_no_error (error);
    g_assert_false (msg->has_connection || msg->has_push);
  }
  /* The varint writer and reader agree at the edges. */
  {
    static const guint64 values[] = { 0, 1, 127, 128, 300, G_MAXUINT32, G_MAXUINT64 };

    for (guint i = 0; i < G_N_ELEMENTS (values); i++)
      {
        GByteArray *out = g_byte_array_new ();
        ICloudPbReader r;
        ICloudPbField f;

        icloud_pb_write_varint_field (out, 536870911, values[i]);
        icloud_pb_reader_init (&r, out->data, out->len);
        g_assert_true (icloud_pb_reader_next (&r, &f, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (f.number, ==, 536870911);
        g_assert_cmpuint (f.varint, ==, values[i]);
        g_assert_false (icloud_pb_reader_next (&r, &f, &error));
        g_assert_no_error (error);
        g_byte_array_unref (out);
      }
  }
  /* push tokens: strict base64 only */
  g_assert_null (icloud_bridge_push_token_to_hex ("AQID*A==", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_null (icloud_bridge_push_token_to_hex ("AQI", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_null (icloud_bridge_push_token_to_hex ("", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
}

static void
expect_push_error (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(ICloudBridgePush) push = icloud_bridge_push_parse ((const guint8 *) json, strlen (json), &error);

  g_assert_null (push);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

static void
test_push_json (void)
{
  g_autoptr(GError) error = NULL;

  /* pyicloud's test: JSON wrapped in binary noise */
  {
    static const char json[] = "{\"sessionUUID\":\"S0\",\"nextStep\":4,\"data\":\"x}{\\\"\",\"ec\":0,\"txnid\":\"1_2_W\"}";
    GByteArray *noisy = g_byte_array_new ();
    g_autoptr(ICloudBridgePush) push = NULL;

    g_byte_array_append (noisy, (const guint8 *) "\x12\xa8\x07\x00", 4);
    g_byte_array_append (noisy, (const guint8 *) json, strlen (json));
    g_byte_array_append (noisy, (const guint8 *) "\x18\x00\x01", 3);
    push = icloud_bridge_push_parse (noisy->data, noisy->len, &error);
    g_byte_array_unref (noisy);
    g_assert_no_error (error);
    g_assert_cmpstr (icloud_bridge_push_get_id (push), ==, "S0");
    g_assert_cmpstr (push->next_step, ==, "4");
    g_assert_cmpstr (push->data, ==, "x}{\"");
    g_assert_true (push->has_ec);
    g_assert_false (icloud_bridge_push_is_error (push));
    g_assert_true (icloud_bridge_push_is_legacy (push));
  }
  /* a '{' that never closes, then the real object */
  {
    static const char text[] = "{\"  {\"sessionUUID\":\"S1\",\"ec\":7}";
    g_autoptr(ICloudBridgePush) push = icloud_bridge_push_parse ((const guint8 *) text, strlen (text), &error);

    g_assert_no_error (error);
    g_assert_cmpstr (push->session_uuid, ==, "S1");
    g_assert_true (icloud_bridge_push_is_error (push));
  }
  /* akdata is echoed as its own text: white space out, digits kept
   * (json-glib would print 49.520000000000003), inside noise too */
  {
    static const char text[] = "\x12\xa8{\"flowid\":\"F\", \"a\": {\"akdata\": 1},\n"
                               " \"akdata\" : { \"lat\" : 49.52, \"s\": \"a b}\\\"\" } }\x18";
    static const char text2[] = "{\"flowid\":\"F\",\"akdata\":\"as is\"}";
    static const char text3[] = "{\"flowid\":\"F\",\"akd\\u0061ta\":[1, 2]}";
    /* json-glib keeps the last of a repeated name, the echo too */
    static const char text4[] = "{\"flowid\":\"F\",\"akdata\":1,\"akdata\": [ 2 ]}";
    static const char text5[] = "{\"flowid\":\"F\",\"akdata\":1,\"akd\\u0061ta\":{\"a\": 2}}";
    g_autoptr(ICloudBridgePush) push = icloud_bridge_push_parse ((const guint8 *) text, strlen (text), &error);
    g_autoptr(ICloudBridgePush) push2 = icloud_bridge_push_parse ((const guint8 *) text2, strlen (text2), &error);
    g_autoptr(ICloudBridgePush) push3 = icloud_bridge_push_parse ((const guint8 *) text3, strlen (text3), &error);
    g_autoptr(ICloudBridgePush) push4 = icloud_bridge_push_parse ((const guint8 *) text4, strlen (text4), &error);
    g_autoptr(ICloudBridgePush) push5 = icloud_bridge_push_parse ((const guint8 *) text5, strlen (text5), &error);

    g_assert_no_error (error);
    g_assert_cmpstr (push->akdata_text, ==, "{\"lat\":49.52,\"s\":\"a b}\\\"\"}");
    g_assert_cmpstr (push2->akdata_text, ==, "as is");
    g_assert_cmpstr (push3->akdata_text, ==, "[1,2]");
    g_assert_cmpstr (push4->akdata_text, ==, "[2]");
    g_assert_cmpstr (push5->akdata_text, ==, "{\"a\":2}");
  }
  /* sessionUUID wins over flowid */
  {
    static const char text[] = "{\"flowid\":\"F\",\"sessionUUID\":\"S\"}";
    g_autoptr(ICloudBridgePush) push = icloud_bridge_push_parse ((const guint8 *) text, strlen (text), &error);

    g_assert_no_error (error);
    g_assert_cmpstr (icloud_bridge_push_get_id (push), ==, "S");
  }

  expect_push_error ("");
  expect_push_error ("not json");
  expect_push_error ("[1,2]");
  expect_push_error ("{}");                                   /* no id */
  expect_push_error ("{\"flowid\":\"  \"}");                  /* blank */
  expect_push_error ("{\"flowid\":7}");                       /* wrong type */
  expect_push_error ("{\"flowid\":\"F\",\"salt\":[]}");
  expect_push_error ("{\"flowid\":\"F\",\"nextStep\":true}");
  expect_push_error ("{\"flowid\":\"F\",\"nextStep\":2.5}");
  expect_push_error ("{\"flowid\":\"F\",\"ec\":\"7\"}");
  expect_push_error ("{\"flowid\":\"F\",\"data\":\"\"}");
  expect_push_error ("{\"flowid\":\"\\ud800x\"}");            /* lone surrogate */
  {
    /* nesting beyond 64 levels is refused before json-glib sees it */
    GString *deep = g_string_new ("{\"flowid\":\"F\",\"akdata\":");
    for (guint i = 0; i < 100; i++)
      g_string_append_c (deep, '[');
    for (guint i = 0; i < 100; i++)
      g_string_append_c (deep, ']');
    g_string_append_c (deep, '}');
    expect_push_error (deep->str);
    g_string_free (deep, TRUE);
  }
  {
    /* over the size limit */
    gsize n = ICLOUD_BRIDGE_PUSH_MAX_LEN + 1;
    g_autofree char *big = g_malloc (n + 1);

    memset (big, ' ', n);
    memcpy (big, "{\"flowid\":\"F\"}", 14);
    big[n] = '\0';
    expect_push_error (big);
  }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  JsonArray *provers;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  path = g_test_build_filename (G_TEST_DIST, "data", "bridge-vectors.json", NULL);
  json_parser_load_from_file (parser, path, &error);
  g_assert_no_error (error);
  vectors = json_node_get_object (json_parser_get_root (parser));

  g_test_add_func ("/bridge/rfc9383-core", test_rfc9383);
  provers = json_object_get_array_member (vectors, "prover_vectors");
  for (guint i = 0; i < json_array_get_length (provers); i++)
    {
      JsonObject *v = json_array_get_object_element (provers, i);
      g_autofree char *name = g_strdup_printf ("/bridge/prover/%s",
                                               json_object_get_string_member (v, "name"));

      g_test_add_data_func (name, v, test_prover_vector);
    }
  g_test_add_func ("/bridge/wire/connection-message", test_wire_connection_message);
  g_test_add_func ("/bridge/wire/client-messages", test_wire_client_messages);
  g_test_add_func ("/bridge/wire/server-messages", test_wire_server_messages);
  g_test_add_func ("/bridge/refuse/wrong-code", test_wrong_code);
  g_test_add_func ("/bridge/refuse/wrong-confirmation", test_wrong_confirmation);
  g_test_add_func ("/bridge/refuse/bad-share", test_bad_share);
  g_test_add_func ("/bridge/refuse/identity-A", test_identity_A);
  g_test_add_func ("/bridge/refuse/scalars", test_scalars);
  g_test_add_func ("/bridge/refuse/step4-data", test_step4_data);
  g_test_add_func ("/bridge/refuse/gcm", test_gcm_refusals);
  g_test_add_func ("/bridge/refuse/protobuf", test_protobuf_refusals);
  g_test_add_func ("/bridge/refuse/push-json", test_push_json);

  return g_test_run ();
}
