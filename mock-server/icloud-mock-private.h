/* icloud-mock-private.h: the fake iCloud server's internal state, shared by
 * icloud-mock-server.c (object, thread, log, faults, control API),
 * icloud-mock-account.c (fixtures) and icloud-mock-apple.c (Apple's paths).
 *
 * Locking: every field below marked (lock) is only touched with
 * ICloudMockServer.lock held. Request handlers run in the server thread and
 * take the lock for the whole request; public API calls take it too.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "icloud-mock-server.h"
#include "icloud-srp-private.h"

G_BEGIN_DECLS

#define MOCK_AUTH_PREFIX  "/appleauth/auth"
#define MOCK_SETUP_PREFIX "/setup/ws/1"

/* ---- accounts (icloud-mock-account.c) ---- */

typedef enum {
  MOCK_FACTOR_NONE,
  MOCK_FACTOR_HSA2,
  MOCK_FACTOR_HSA,
} MockFactor;

typedef enum {
  MOCK_REPAIR_NO,
  MOCK_REPAIR_YES,
  MOCK_REPAIR_AUTO,
} MockRepair;

typedef struct {
  gint64  id;
  char   *number;      /* "+1 (•••) •••-••58" */
  char   *push_mode;   /* "sms" / "voice" */
} MockPhone;

typedef struct {
  char     *code;      /* the last code sent to this target */
  guint     sent;      /* how many codes were sent to it */
  gboolean  used;      /* the last code was accepted already */
} MockCode;

typedef struct {
  char              *apple_id;      /* as written in the fixture */
  char              *key;           /* lower-case, the table key */
  char              *password;      /* wiped on free */
  ICloudSrpProtocol  protocol;
  guint              iterations;
  GBytes            *salt;
  GBytes            *verifier;      /* computed on the first signin/init */
  MockFactor         factor;
  GPtrArray         *phones;        /* MockPhone */
  JsonArray         *devices;       /* 2SA device objects, as Apple lists them */
  gboolean           china;
  gboolean           locked;
  gboolean           throttled;
  gboolean           malformed;
  gboolean           legacy_password;
  gboolean           options_bridge; /* "options_shape": "bridge" */
  /* the HSA2 bridge (hsa2-bridge.md §g.1; icloud-mock-bridge.c) */
  gboolean           bridge;              /* "bridge": true */
  gboolean           bridge_session_uuid; /* "bridge_protocol": "sessionUUID" */
  gboolean           bridge_legacy;       /* "txnid_suffix": "_W" */
  gboolean           bridge_push_down;    /* "bridge_push_service": "down" */
  guint              bridge_final_step;   /* "final_next_step": 6 (default) or 4 */
  char              *apns_topic;          /* "apns_topic" */
  char              *ws_host;             /* "ws_host" */
  gint64             source_app_id;       /* "source_app_id" */
  MockRepair         repair;
  GStrv              security_keys;
  char              *first_name;
  char              *last_name;
  char              *dsid;
  GHashTable        *trust_tokens;  /* set of valid trust tokens */
  GHashTable        *codes;         /* target ("" = push) → MockCode */
} MockAccount;

void          mock_account_free          (MockAccount *account);
/* Parses an accounts document; returns MockAccount* (owned by the array). */
GPtrArray    *mock_accounts_parse        (const char  *json,
                                          gssize       length,
                                          GError     **error);
/* Computes and caches the SRP verifier (slow: PBKDF2). */
GBytes       *mock_account_get_verifier  (MockAccount *account);
MockPhone    *mock_account_find_phone    (MockAccount *account,
                                          gint64       id);
JsonObject   *mock_account_find_device   (MockAccount *account,
                                          const char  *device_id);
JsonObject   *mock_phone_to_json         (const MockPhone *phone);

/* ---- sign-in state ---- */

/* One IDMSA sign-in (X-Apple-ID-Session-Id); refcounted, shared by every
 * token and cookie issued for it. */
typedef struct {
  char     *account_key;
  char     *id;               /* X-Apple-ID-Session-Id */
  char     *scnt;
  char     *auth_attributes;
  gboolean  valid;            /* FALSE after logout / expire_sessions */
  gboolean  verified;         /* second factor done, or none needed */
  gboolean  code_verified;    /* a code was accepted: 2sv/trust allowed */
  gboolean  trusted;          /* trusted browser */
  gboolean  repair_pending;
} MockAuthSession;

MockAuthSession *mock_auth_session_ref   (MockAuthSession *session);
void             mock_auth_session_unref (MockAuthSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MockAuthSession, mock_auth_session_unref)

/* One SRP handshake between signin/init and signin/complete. */
typedef struct {
  char            *account_key;  /* NULL for an unknown account */
  char            *identity;     /* accountName as sent to init */
  ICloudSrpServer *srp;
  GBytes          *salt;
  GBytes          *A;
  char            *scnt;
  char            *session_id;
  char            *auth_attributes;
} MockHandshake;

void mock_handshake_free (MockHandshake *hs);

typedef enum {
  MOCK_FAULT_503,
  MOCK_FAULT_429,
  MOCK_FAULT_421,
  MOCK_FAULT_450,
  MOCK_FAULT_500,
  MOCK_FAULT_ACCESS_DENIED,
  MOCK_FAULT_MALFORMED,
  MOCK_FAULT_TRUNCATED,
  MOCK_FAULT_WRONG_CONTENT_TYPE,
  MOCK_FAULT_MISSING_FIELDS,
  MOCK_FAULT_OVERSIZE,
  MOCK_FAULT_DROP,
  MOCK_FAULT_SLOW,
  MOCK_FAULT_REDIRECT,
  MOCK_FAULT_DEEP_JSON,
  MOCK_FAULT_HOSTILE_TEXT,
  MOCK_FAULT_REPLY,          /* a canned status and JSON body */
  /* The push service's WebSocket: never taken by an HTTP request, only by
   * the bridge at the stage each names (mock_take_push_fault ()). */
  MOCK_FAULT_WS_INVALID_NONCE,
  MOCK_FAULT_WS_CLOSE_AT_TOKEN,
  MOCK_FAULT_WS_CLOSE_AT_SUBSCRIBE,
  MOCK_FAULT_WS_CLOSE_AT_PROMPT,
  MOCK_FAULT_WS_CLOSE_AT_STEP4,
  MOCK_FAULT_WS_CLOSE_AT_FINAL,
  MOCK_FAULT_WS_SILENT,
  MOCK_FAULT_WS_PING,
  MOCK_FAULT_WS_NOISY,
  MOCK_FAULT_WS_OTHER_TOPIC,
  MOCK_FAULT_WS_ERROR_PUSH,
} MockFaultKind;

#define MOCK_FAULT_IS_PUSH(kind) ((kind) >= MOCK_FAULT_WS_INVALID_NONCE)

typedef struct {
  char          *path;       /* NULL = any non-/_mock/ path */
  MockFaultKind  kind;
  guint          count;
  guint          retry_after;
  guint          delay_ms;
  guint          status;     /* MOCK_FAULT_REPLY */
  char          *body;       /* MOCK_FAULT_REPLY */
} MockFault;

typedef struct {
  char     *method;
  char     *path;
  char     *query;
  char     *host;
  char     *apple_id;
  guint     status;
  GStrv     cookies;      /* names only */
} MockLogEntry;

struct _ICloudMockServer
{
  GObject       parent_instance;

  GMutex        lock;

  /* thread */
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *server;          /* server thread only */
  GCond         started_cond;
  gboolean      started;         /* (lock) */
  GError       *start_error;     /* (lock) */
  char         *base_uri;        /* set before start() returns */
  guint         port;            /* wanted before start, actual after */

  /* state (lock) */
  gboolean      china;           /* the origin is China mainland's */

  /* routed TLS mode (set before start; read-only while running) */
  gboolean         routed;
  GTlsCertificate *tls_certificate;
  char            *tls_certificate_file;  /* trusted by clients' databases */
  GHashTable   *accounts;        /* key → MockAccount */
  GHashTable   *handshakes;      /* c → MockHandshake */
  GHashTable   *auth_sessions;   /* id → MockAuthSession */
  GHashTable   *session_tokens;  /* X-Apple-Session-Token → MockAuthSession */
  GHashTable   *web_tokens;      /* X-APPLE-WEBAUTH-TOKEN → MockAuthSession */
  GHashTable   *ds_tokens;       /* X-APPLE-DS-WEB-SESSION-TOKEN → MockAuthSession */
  GHashTable   *aasp_tokens;     /* aasp → MockAuthSession */
  GPtrArray    *log;             /* MockLogEntry */
  GPtrArray    *faults;          /* MockFault */
  char         *redirect_target; /* the "redirect" fault's Location */
  guint         isolation_violations;
  guint         handshake_counter;

  /* the HSA2 bridge: push connections and flows (lock) */
  struct _MockBridge *bridge;
};

/* ---- one request (icloud-mock-apple.c) ---- */

typedef struct {
  ICloudMockServer  *self;
  SoupServerMessage *msg;
  const char        *method;
  const char        *path;
  GHashTable        *query;     /* may be NULL */
  GHashTable        *cookies;   /* name → value */
  JsonNode          *body;      /* parsed request body, or NULL */
  JsonObject        *body_obj;  /* body as an object, or NULL */
  char              *apple_id;  /* account the request was told to be for */
  gboolean           conflict;  /* tokens of two accounts in one request */
  /* where the request arrived (set by mock_apple_route ()) */
  gboolean           china;          /* the China mainland origin */
  const char        *cookie_domain;  /* Domain= of cookies set; NULL: host-only */
  char              *base_uri;       /* origin for the webservice URLs */
} MockRequest;

/* Called with the lock held. Fills r->apple_id and r->conflict. */
void  mock_request_identify     (MockRequest *r);
/* Routed mode: works out which of Apple's hosts the request reached (the
 * Host header) and fills r->china, r->cookie_domain and r->base_uri; answers
 * and returns FALSE when the path does not belong on that host (lock held).
 * In one-origin mode it only fills the fields from the server's region. */
gboolean mock_apple_route       (MockRequest *r);
/* Answers one of Apple's paths (lock held). */
void  mock_apple_handle         (MockRequest *r);

/* helpers */
void  mock_reply_text           (MockRequest *r,
                                 guint        status,
                                 const char  *content_type,
                                 const char  *text);
void  mock_reply_json           (MockRequest *r,
                                 guint        status,
                                 JsonNode    *node);   /* (transfer full) */
void  mock_reply_json_literal   (MockRequest *r,
                                 guint        status,
                                 const char  *json);
char *mock_random_code          (void);
/* A new random code for @target ("" = the trusted devices), counted. */
MockCode *mock_send_code        (MockAccount *account,
                                 const char  *target);
void  mock_reply_empty          (MockRequest *r,
                                 guint        status);
void  mock_add_session_headers  (MockRequest     *r,
                                 MockAuthSession *session);
MockAuthSession *mock_require_idmsa_session (MockRequest *r);
/* A right second-factor code: the session may be trusted; 204 with the
 * session token and grant code headers. */
void  mock_code_accepted        (MockRequest     *r,
                                 MockAuthSession *session);
const char *mock_request_header (MockRequest *r,
                                 const char  *name);
/* Whether @path is @prefix or below it. */
gboolean mock_path_in           (const char *path,
                                 const char *prefix);
void  mock_invalidate_account   (ICloudMockServer *self,
                                 const char       *account_key);
MockAccount *mock_lookup_account (ICloudMockServer *self,
                                  const char       *apple_id);

/* ---- faults (icloud-mock-server.c) ---- */

/* Takes one count of a push-service fault of @kind (lock held). */
gboolean mock_take_push_fault   (ICloudMockServer *self,
                                 MockFaultKind     kind);

/* ---- the HSA2 bridge (icloud-mock-bridge.c, hsa2-bridge.md §g) ---- */

#define MOCK_PUSH_PATH "/v2"

typedef struct _MockBridge MockBridge;

MockBridge *mock_bridge_new          (void);
void        mock_bridge_free         (MockBridge *bridge);
/* Server thread, lock not held: closes every push connection. */
void        mock_bridge_shutdown     (ICloudMockServer *self);
/* Server thread, before the server listens: the WebSocket handler. */
void        mock_bridge_add_handlers (ICloudMockServer *self,
                                      SoupServer       *server);
/* Boot data of GET AUTH (lock held): @direct is the HTML shape's
 * `direct`, @two_sv its `twoSV`; @flat the JSON shape's top level. */
void        mock_bridge_add_boot_data (MockRequest *r,
                                       MockAccount *account,
                                       JsonObject  *direct,
                                       JsonObject  *two_sv,
                                       JsonObject  *flat);
/* The account a push connection attempt is attributed to (lock held). */
void        mock_bridge_identify     (MockRequest *r);
/* GET /v2/<hex> before the upgrade: sets an error status, or leaves the
 * status 0 to let the upgrade happen (lock held). */
void        mock_bridge_handle_upgrade (MockRequest *r);
/* The IDMSA bridge endpoints (lock held). */
void        mock_bridge_handle_step  (MockRequest *r);
void        mock_bridge_handle_validate (MockRequest *r);
/* verify/trusteddevice/securitycode: whether @code is the device code of
 * a live `_S` bridge flow, which that endpoint refuses (lock held). */
gboolean    mock_bridge_refuses_code (ICloudMockServer *self,
                                      MockAccount      *account,
                                      const char       *code);
/* Ends the account's flow (its sessions ended) (lock held). */
void        mock_bridge_forget_account (ICloudMockServer *self,
                                        const char       *account_key);
guint       mock_bridge_count_open   (ICloudMockServer *self);
/* The /_mock/push statistics (lock held). */
JsonNode   *mock_bridge_stats_to_json (ICloudMockServer *self);

G_END_DECLS
