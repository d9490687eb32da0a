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
} MockFaultKind;

typedef struct {
  char          *path;       /* NULL = any non-/_mock/ path */
  MockFaultKind  kind;
  guint          count;
  guint          retry_after;
  guint          delay_ms;
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
void  mock_invalidate_account   (ICloudMockServer *self,
                                 const char       *account_key);
MockAccount *mock_lookup_account (ICloudMockServer *self,
                                  const char       *apple_id);

G_END_DECLS
