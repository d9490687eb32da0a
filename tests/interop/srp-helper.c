/* srp-helper.c: the library's SRP-6a maths (the crypto seam shared by the
 * srp plugin and the fake server), driven from test-srp-crosscheck.py.
 *
 * Reads one JSON object on stdin, prints one on stdout. Byte strings are
 * standard base64, secrets (a, b) hex. Test inputs only: this program
 * prints SRP values, which the library itself never does.
 *
 *   {"mode": "client", "identity", "password", "protocol", "iterations",
 *    "salt", "a", "B"}
 *     → {"A", "M1", "M2"}                     (the srp plugin's side)
 *   {"mode": "server", "identity", "password", "protocol", "iterations",
 *    "salt", "b", "A", "M1"}
 *     → {"B", "accepted", "M2"}               (the fake server's side)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "icloud-srp-private.h"

static JsonObject *input;

static const char *
get (const char *name)
{
  const char *value = json_object_get_string_member_with_default (input, name, NULL);

  if (value == NULL)
    {
      g_printerr ("srp-helper: missing “%s”\n", name);
      exit (2);
    }
  return value;
}

static GBytes *
get_b64 (const char *name)
{
  gsize len = 0;
  guchar *data = g_base64_decode (get (name), &len);

  return g_bytes_new_take (data, len);
}

static GBytes *
get_hex (const char *name)
{
  const char *hex = get (name);
  gsize len = strlen (hex) / 2;
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        {
          g_printerr ("srp-helper: “%s” is not hex\n", name);
          exit (2);
        }
      data[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (data, len);
}

static void
set_b64 (JsonObject   *out,
         const char   *name,
         const guint8 *data,
         gsize         len)
{
  g_autofree char *b64 = g_base64_encode (data, len);

  json_object_set_string_member (out, name, b64);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GString) in = g_string_new (NULL);
  char buf[4096];
  size_t n;
  g_autoptr(JsonObject) out = json_object_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autoptr(GBytes) salt = NULL;
  g_autofree char *text = NULL;
  ICloudSrpProtocol protocol;
  guint8 p[32];
  gsize salt_len;
  const guint8 *salt_data;

  while ((n = fread (buf, 1, sizeof buf, stdin)) > 0)
    g_string_append_len (in, buf, n);
  if (!json_parser_load_from_data (parser, in->str, in->len, &error) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_printerr ("srp-helper: bad input: %s\n", error ? error->message : "not an object");
      return 2;
    }
  input = json_node_get_object (json_parser_get_root (parser));

  if (!icloud_srp_protocol_from_string (get ("protocol"), &protocol))
    {
      g_printerr ("srp-helper: unknown protocol\n");
      return 2;
    }
  salt = get_b64 ("salt");
  salt_data = g_bytes_get_data (salt, &salt_len);
  icloud_srp_derive_password (protocol, get ("password"), salt_data, salt_len,
                              (guint) json_object_get_int_member (input, "iterations"), p);

  if (g_str_equal (get ("mode"), "client"))
    {
      g_autoptr(GBytes) a = get_hex ("a");
      g_autoptr(GBytes) B = get_b64 ("B");
      g_autoptr(GBytes) A = NULL;
      g_autoptr(ICloudSrpClient) client = NULL;

      client = icloud_srp_client_new_with_a (g_bytes_get_data (a, NULL), g_bytes_get_size (a));
      A = icloud_srp_client_get_A (client);
      if (!icloud_srp_client_process (client, get ("identity"), p, salt_data, salt_len,
                                      g_bytes_get_data (B, NULL), g_bytes_get_size (B), &error))
        {
          g_printerr ("srp-helper: %s\n", error->message);
          return 1;
        }
      set_b64 (out, "A", g_bytes_get_data (A, NULL), g_bytes_get_size (A));
      set_b64 (out, "M1", icloud_srp_client_get_M1 (client), 32);
      set_b64 (out, "M2", icloud_srp_client_get_M2 (client), 32);
    }
  else if (g_str_equal (get ("mode"), "server"))
    {
      g_autoptr(GBytes) b = get_hex ("b");
      g_autoptr(GBytes) A = get_b64 ("A");
      g_autoptr(GBytes) M1 = get_b64 ("M1");
      g_autoptr(GBytes) v = icloud_srp_compute_verifier (salt_data, salt_len, p);
      g_autoptr(GBytes) B = NULL;
      g_autoptr(ICloudSrpServer) server = NULL;
      guint8 M2[32] = { 0 };
      gboolean accepted = FALSE;

      server = icloud_srp_server_new (g_bytes_get_data (v, NULL), g_bytes_get_size (v),
                                      g_bytes_get_data (b, NULL), g_bytes_get_size (b));
      B = icloud_srp_server_get_B (server);
      if (g_bytes_get_size (M1) == 32)
        accepted = icloud_srp_server_verify (server, get ("identity"), salt_data, salt_len,
                                             g_bytes_get_data (A, NULL), g_bytes_get_size (A),
                                             g_bytes_get_data (M1, NULL), M2, &error);
      if (error != NULL)
        {
          g_printerr ("srp-helper: %s\n", error->message);
          return 1;
        }
      set_b64 (out, "B", g_bytes_get_data (B, NULL), g_bytes_get_size (B));
      json_object_set_boolean_member (out, "accepted", accepted);
      if (accepted)
        set_b64 (out, "M2", M2, sizeof M2);
    }
  else
    {
      g_printerr ("srp-helper: mode must be client or server\n");
      return 2;
    }

  root = json_node_init_object (json_node_alloc (), out);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  return 0;
}
