/**
 * The one configuration schema: types, defaults and cross-field rules in one place.
 * Secrets never live here, only references to them (file paths, env var names, Vault paths).
 */
import { z } from "zod";
import { DEFAULT_PROFILE, ENVIRONMENT_NAME, PROFILE_IDS, PROFILES } from "../profiles/index.js";
import { defaultEnvironmentEntries, isAcceptableTokenUrl } from "./environments.js";
import { fleetSchema } from "./fleet.js";

/** The tenant header when the config names none (config tenantHeader); the shipped Envoy files are rendered for it. */
export const DEFAULT_TENANT_HEADER = "x-tenant-id";

/** Defaults for the Check and admin unix sockets (an emptyDir shared by Envoy and scopegate in the sidecar layout). */
export const DEFAULT_CHECK_SOCKET = "/run/scopegate/authz.sock";
export const DEFAULT_ADMIN_SOCKET = "/run/scopegate/admin.sock";

const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:9191");

const regexSource = z.string().refine((s) => {
  try {
    new RegExp(s, "u");
    return true;
  } catch {
    return false;
  }
}, "not a valid regular expression");

/** Where a secret value comes from: a file (mounted Secret, Vault Agent) or an env var. Never the value itself. */
const secretRef = z
  .object({ file: z.string().min(1).optional(), env: z.string().min(1).optional() })
  .strict()
  .refine((r) => (r.file === undefined) !== (r.env === undefined), "set exactly one of file or env");

const vaultAuth = z.discriminatedUnion("method", [
  z.object({ method: z.literal("token"), token: secretRef }).strict(),
  z
    .object({
      method: z.literal("kubernetes"),
      role: z.string().min(1),
      mountPath: z.string().min(1).default("kubernetes"),
      jwtFile: z.string().min(1).default("/var/run/secrets/kubernetes.io/serviceaccount/token"),
    })
    .strict(),
  z
    .object({
      method: z.literal("approle"),
      roleId: z.string().min(1),
      secretId: secretRef,
      mountPath: z.string().min(1).default("approle"),
    })
    .strict(),
]);

const vaultBackend = z
  .object({
    address: z.url(),
    namespace: z.string().optional(),
    kvMount: z.string().min(1).default("secret"),
    /** Tenant records live at <kvMount>/data/<tenantPrefix>/<tenantId> (KV v2). */
    tenantPrefix: z.string().min(1).default("scopegate/tenants"),
    auth: vaultAuth,
    caFile: z.string().optional(),
    requestTimeoutMs: z.number().int().positive().default(2000),
  })
  .strict();

const fileBackend = z
  .object({
    /** <directory>/<tenantId>/client_id and .../client_secret, as a Kubernetes Secret volume lays them out. */
    directory: z.string().min(1),
  })
  .strict();

/** A tenant's own request budget, where it differs from the `budgets` defaults. */
const tenantBudget = z
  .object({
    requestsPerWindow: z.number().int().positive().max(1_000_000_000).optional(),
    callerShare: z.number().gt(0).max(1).optional(),
  })
  .strict();

const tenant = z
  .object({
    id: z.string().min(1),
    divisions: z.array(z.string().min(1)).min(1),
    /**
     * Genesys Cloud environment, e.g. mypurecloud.de: one of `environments` (by default every Genesys Cloud region).
     * Tokens are minted at that environment's token URL and Envoy sends the tenant's requests to api.<environment>.
     */
    environment: z.string().regex(ENVIRONMENT_NAME, "expected a host suffix such as mypurecloud.de"),
    /**
     * The identity-provider profile (src/profiles): how tokens are requested and which route rules apply.
     * Must be the profile of `environment`. Default genesys-cloud.
     */
    profile: z.enum(PROFILE_IDS).optional(),
    /** Secret-store key of the credentials; defaults to the tenant id. */
    credentialsKey: z.string().min(1).optional(),
    /**
     * Callers allowed to act for this tenant: mTLS principals (SPIFFE ids) exactly, or a prefix ending in
     * "/*" (one more path segment). Empty, together with allowedNamespaces: in callers.mode local the local
     * caller; in mode mesh not allowed (check-config fails).
     */
    allowedPrincipals: z.array(z.string().min(1)).default([]),
    /** Kubernetes namespaces whose workloads may act for this tenant (from spiffe://<td>/ns/<ns>/sa/<sa>). */
    allowedNamespaces: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)).default([]),
    /** This tenant's request budget where it differs from `budgets` (which must be set for any budget to apply). */
    budget: tenantBudget.optional(),
  })
  .strict();

const routeRule = z
  .object({
    method: z.string().regex(/^[A-Z]+$/),
    /** Path template, e.g. /api/v2/users/{userId}/queues */
    path: z.string().startsWith("/"),
    /** Query parameter that carries the division filter on this route. */
    param: z.string().min(1),
  })
  .strict();

const environmentEntry = z
  .object({
    /** The identity-provider profile the environment belongs to (default genesys-cloud). */
    profile: z.enum(PROFILE_IDS).optional(),
    /**
     * Token endpoint of this environment; default the profile's (Genesys Cloud: https://login.<environment>/oauth/token,
     * NICE CXone: https://cxone.niceincontact.com/auth/token). Config file only.
     */
    tokenUrl: z.url().optional(),
    /**
     * The API host requests for this environment go to; default the profile's (Genesys Cloud: api.<environment>).
     * Required for NICE CXone (its API host is per business unit: docs/tenants.md).
     */
    apiHost: z.string().regex(ENVIRONMENT_NAME, "expected a lower-case host name with at least two labels").optional(),
  })
  .strict();

export const configSchema = z
  .object({
    /**
     * The environments tenants may live in: an allow-list. Default: every Genesys Cloud region
     * (src/profiles/genesys/regions.ts). Given, it replaces that list.
     */
    environments: z.record(z.string().regex(ENVIRONMENT_NAME, "expected a host suffix such as mypurecloud.de"), environmentEntry).optional(),
    /** Tests only: lets `environments.<env>.tokenUrl` be plain http to a loopback address. Never in production. */
    allowPlainHttpLoopbackForTesting: z.boolean().default(false),
    egress: z
      .object({
        /**
         * Set on every allow to the tenant's environment; the shipped Envoy egress configs remove any caller copy
         * before routing and re-match on it (clear_route_cache) to pick the environment's TLS cluster.
         */
        upstreamHeader: z.string().regex(/^[a-z0-9-]+$/, "header names are lower-case").default("x-scopegate-upstream"),
        /** Deny a request whose Host is not api.<tenant environment> (Istio egress gateway, which routes by host). */
        verifyHost: z.boolean().default(false),
      })
      .strict()
      .default({ upstreamHeader: "x-scopegate-upstream", verifyHost: false }),
    listen: z
      .object({
        /**
         * TCP Check listener; none unless configured. Whoever reaches a TCP Check port can ask for any tenant's
         * token (the caller's identity is a field of the request it writes), so a TCP listener needs
         * tls.clientCaFile + tls.allowedClients; without them scopegate warns at start and in /readyz.
         */
        tcp: hostPort.nullable().default(null),
        /** Unix socket for Check (the default): put it in a volume mounted only into Envoy and scopegate. */
        unixSocket: z.string().min(1).nullable().default(DEFAULT_CHECK_SOCKET),
        /**
         * File mode of the unix socket, octal string. Default 0660 with socketGid (Envoy's group may connect),
         * 0600 without (scopegate's uid only). "Other" bits are refused: connecting needs only write permission.
         */
        socketMode: z
          .string()
          .regex(/^0?[0-7]{3}$/)
          .refine((m) => (Number.parseInt(m, 8) & 0o007) === 0, "must not give others access (the last digit must be 0)")
          .optional(),
        /**
         * A second gRPC listener that serves only grpc.health.v1, for Kubernetes' native gRPC probes: the
         * kubelet always dials the pod IP, so this one may bind 0.0.0.0 while Check stays on the socket.
         */
        healthTcp: hostPort.nullable().default(null),
        /** Group id to own the unix socket (e.g. Envoy's group; the mode then defaults to 0660). */
        socketGid: z.number().int().nonnegative().optional(),
        /**
         * Every this many streams on an HTTP/2 connection, node:http2's table of the connection's open streams
         * is replaced by a new one, so that a long-lived Envoy connection does not promote every request's
         * objects into the old generation (src/server/stream-table-renewal.ts). 0 turns it off.
         */
        renewStreamTableEvery: z.number().int().nonnegative().default(64),
        /** TLS (mTLS with clientCaFile) on the TCP Check listener, for scopegate as a separate Service. */
        tls: z
          .object({
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            clientCaFile: z.string().min(1).optional(),
            /**
             * The Envoy identities that may call Check: a client certificate's URI SAN (SPIFFE id) or DNS SAN,
             * exactly, or a prefix ending in "/*" (one more path segment). Empty: any certificate from clientCaFile.
             */
            allowedClients: z.array(z.string().min(1)).default([]),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ tcp: null, unixSocket: DEFAULT_CHECK_SOCKET, healthTcp: null, renewStreamTableEvery: 64 }),
    /** The operator's admin endpoint (POST /tenants/<id>/evict): HTTP on a unix socket only, never TCP. */
    admin: z
      .object({
        /** Mode 0600: only scopegate's own uid (kubectl exec into its container) can connect. null disables it. */
        socket: z.string().min(1).nullable().default(DEFAULT_ADMIN_SOCKET),
      })
      .strict()
      .default({ socket: DEFAULT_ADMIN_SOCKET }),
    http: z
      .object({ listen: hostPort.nullable().default("127.0.0.1:9192") })
      .strict()
      .default({ listen: "127.0.0.1:9192" }),
    /**
     * Processes serving Check (node:cluster). 1 = one process. More share the TCP listener; the primary alone
     * reads secrets and mints tokens, so there is still one token request per tenant (src/cluster).
     */
    workers: z.number().int().min(1).max(256).default(1),
    tenantHeader: z
      .string()
      .regex(/^[a-z0-9-]+$/, "header names are lower-case as Envoy sends them")
      .default(DEFAULT_TENANT_HEADER),
    tenantIdPattern: regexSource.default("^[a-z0-9][a-z0-9._-]{0,62}$"),
    callers: z
      .object({
        /**
         * mesh: every check must carry an mTLS principal (Envoy's attributes.source.principal); a plain-text
         * hop is denied. local: scopegate sits beside one workload (unix socket/loopback) and a missing
         * principal is accepted. Either way the decision line records whether a principal was present.
         */
        mode: z.enum(["mesh", "local"]).default("local"),
        /** principal -> tenant: such a caller needs no tenant header (a header, if sent, must agree). */
        principalTenants: z.record(z.string().min(1), z.string().min(1)).default({}),
        /**
         * SPIFFE trust domain of the mesh: allowedNamespaces match only spiffe://<trustDomain>/ns/<ns>/sa/<sa>
         * (a principal of another trust domain names no namespace of ours).
         */
        trustDomain: z.string().regex(/^[a-z0-9._-]+$/, "a SPIFFE trust domain: lower-case letters, digits, '.', '_', '-'").default("cluster.local"),
        /**
         * mode local only: the identity of a check that carries no principal, for the binding rules (the pod
         * scopegate sits beside, e.g. spiffe://cluster.local/ns/acme/sa/etl). Unset: such a check matches no
         * allowedPrincipals / allowedNamespaces.
         */
        localIdentity: z.string().min(1).optional(),
      })
      .strict()
      .default({ mode: "local", principalTenants: {}, trustDomain: "cluster.local" }),
    stripTenantHeader: z.boolean().default(true),
    secrets: z
      .object({
        backend: z.enum(["vault", "file"]).default("file"),
        vault: vaultBackend.optional(),
        file: fileBackend.optional(),
        /** How long a credential read stays fresh before it is read again. */
        cacheTtlSeconds: z.number().int().positive().default(300),
        /** While the store is unavailable, keep using a record at most this long past its TTL. */
        maxStaleSeconds: z.number().int().nonnegative().default(3600),
      })
      .strict(),
    tenants: z.array(tenant).default([]),
    discovery: z
      .object({
        /** Serve tenants whose record (client_id, client_secret, divisions, environment|token_url, profile) is in the secret store. */
        fromSecretStore: z.boolean().default(false),
        /** Unknown tenant ids are remembered this long so a flood of bad ids cannot hammer the store. */
        negativeCacheSeconds: z.number().int().nonnegative().default(30),
        maxNegativeEntries: z.number().int().positive().default(10_000),
        /**
         * Caller binding of a discovered tenant whose record has neither allowed_principals nor
         * allowed_namespaces. Unset (or empty): such a tenant is bound to no one and every check for it is
         * denied caller_not_allowed, in either callers.mode.
         */
        defaultBinding: z
          .object({
            allowedPrincipals: z.array(z.string().min(1)).default([]),
            allowedNamespaces: z.array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)).default([]),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ fromSecretStore: false, negativeCacheSeconds: 30, maxNegativeEntries: 10_000 }),
    tokens: z
      .object({
        /** Subtracted from expires_in: a token is never served within this many seconds of its expiry. */
        skewSeconds: z.number().int().nonnegative().default(60),
        /** Start a background refresh once this fraction of the usable lifetime has passed. */
        refreshAt: z.number().gt(0).lt(1).default(0.8),
        maxTenants: z.number().int().positive().default(10_000),
        requestTimeoutMs: z.number().int().positive().default(3000),
        /** After the token endpoint rejects a freshly read secret (invalid_client), wait this long before asking again. */
        rejectedBackoffSeconds: z.number().int().positive().default(30),
        /**
         * Serve no token longer than this many seconds after it was minted, whatever expires_in says (a token
         * revoked upstream stops being served by then). Unset: until expires_in minus skewSeconds.
         */
        maxAgeSeconds: z.number().int().positive().optional(),
        caFile: z.string().optional(),
      })
      .strict()
      .default({ skewSeconds: 60, refreshAt: 0.8, maxTenants: 10_000, requestTimeoutMs: 3000, rejectedBackoffSeconds: 30 }),
    /**
     * The route table of the genesys-cloud profile (the default one). Other profiles use their own built-in rules
     * (NICE CXone: no division parameter and no denied routes yet, so every route passes in catalog mode).
     */
    routes: z
      .object({
        /** catalog: set the division on catalogued routes, pass others unchanged. allow-list: deny uncatalogued routes. */
        mode: z.enum(["catalog", "allow-list"]).default("catalog"),
        /** Replace the built-in Genesys catalog (src/profiles/genesys/catalog.ts) with these rules. */
        rules: z.array(routeRule).optional(),
        /** Extra rules added to the catalog. */
        extraRules: z.array(routeRule).default([]),
        /**
         * Routes denied outright, replacing the default list: the cross-division digests (e.g. GET
         * /api/v2/routing/queues/divisionviews/all) and credential/grant management (src/profiles/genesys/catalog.ts).
         * method "*" = every method; a path ending in "/**" covers everything under it.
         */
        denied: z
          .array(z.object({ method: z.string().regex(/^([A-Z]+|\*)$/), path: z.string().startsWith("/") }).strict())
          .optional(),
      })
      .strict()
      .default({ mode: "catalog", extraRules: [] }),
    metrics: z
      .object({
        /** Adds a tenant label to scopegate_checks_total; capped, further tenants count as "_other". */
        perTenantLabels: z.boolean().default(false),
        maxTenantLabels: z.number().int().positive().max(10_000).default(100),
        /**
         * How often the event-loop delay behind scopegate_nodejs_eventloop_lag_* is sampled. Each sample is a timer
         * wake-up even when the process is idle: prom-client's default of 10 ms cost ~1 % of a core idle on the
         * bench machine (docs/operations.md "Metrics"); stalls longer than this are what the metrics catch.
         */
        eventLoopResolutionMs: z.number().int().min(1).max(1000).default(100),
      })
      .strict()
      .default({ perTenantLabels: false, maxTenantLabels: 100, eventLoopResolutionMs: 100 }),
    /**
     * Gateway login (docs/security.md "Gateway login"): an SDK app's client-credentials login (POST
     * [/<prefix>]/oauth/token, client id = tenant id) is answered with a gateway token bound to the tenant and the
     * caller's identity, which API calls may then carry instead of a tenant header. Unset: logins are refused
     * (login_disabled) and no gateway token is accepted.
     */
    gatewayTokens: z
      .object({
        /**
         * JSON {"current": "<key id>", "keys": {"<key id>": "<base64 of 32 random bytes>", …}} (e.g. a mounted
         * Secret): mint with current, accept any listed. Re-read when it changes (every reload.pollIntervalMs).
         */
        keysFile: z.string().min(1),
        /** Longest life of a gateway token; never longer than what is left of the tenant's Genesys token. */
        ttlSeconds: z.number().int().min(60).max(86_400).default(3600),
      })
      .strict()
      .optional(),
    /**
     * The per-tenant request budget (docs/operations.md "Request budgets"): every API call scopegate would allow
     * spends one request of its tenant's budget for the current window, and a call past it is denied 429
     * (budget_exhausted, caller_share_exhausted) with Retry-After = the seconds left in the window. Genesys Cloud
     * allows a client-credentials token 300 requests a minute by default (docs/genesys-facts.md), hence the
     * defaults. Unset: no budget. Restart to change (tenants' own `budget` values follow reloads).
     */
    budgets: z
      .object({
        /** Requests per window per tenant; a tenant's own `budget.requestsPerWindow` (or record field) overrides it. */
        requestsPerWindow: z.number().int().positive().max(1_000_000_000).default(300),
        /** Window length; windows are aligned to the epoch (60: whole minutes, as Genesys Cloud counts). */
        windowSeconds: z.number().int().min(1).max(3600).default(60),
        /**
         * Fraction of a tenant's budget one caller identity (mTLS principal, or callers.localIdentity) may spend
         * per window, so one noisy workload cannot starve the tenant's others. 1: no limit per caller.
         */
        callerShare: z.number().gt(0).max(1).default(1),
        /**
         * local: this process's own counters (each replica enforces the whole budget). redis: leases from
         * fleet.redis, so the budget holds for every replica sharing that Redis.
         */
        store: z.enum(["local", "redis"]).default("local"),
        lease: z
          .object({
            /** The largest chunk of a window a replica leases at once (Redis: one round trip per chunk). */
            maxChunk: z.number().int().min(1).max(10_000).default(20),
            /** A lease takes at most 1/divisor of what is left of the window, so leases shrink as it fills. */
            divisor: z.number().int().min(1).max(1000).default(8),
          })
          .strict()
          .default({ maxChunk: 20, divisor: 8 }),
        /** store redis: a lease not answered within this is a Redis failure (the check then uses the fallback). */
        storeTimeoutMs: z.number().int().min(1).max(5000).default(100),
        /**
         * store redis, while Redis is unreachable: each replica enforces requestsPerWindow / fallbackReplicas on its
         * own (set it to the replica count to keep the fleet within the budget), and tries Redis again after
         * retryStoreAfterMs.
         */
        fallbackReplicas: z.number().int().min(1).max(10_000).default(1),
        retryStoreAfterMs: z.number().int().min(100).max(60_000).default(1000),
      })
      .strict()
      .optional(),
    /**
     * What replicas share through Redis (src/config/fleet.ts, docs/operations.md "Running a fleet"). Unset: each
     * process mints and caches its own tokens, as before.
     */
    fleet: fleetSchema.optional(),
    reload: z
      .object({
        /** Watch the config file (Kubernetes swaps ConfigMap files by symlink) and apply valid changes. */
        watch: z.boolean().default(true),
        pollIntervalMs: z.number().int().min(100).default(2000),
      })
      .strict()
      .default({ watch: true, pollIntervalMs: 2000 }),
    shutdown: z
      .object({
        /**
         * After SIGTERM, keep answering checks this long (health already NOT_SERVING) while Envoy drains,
         * then refuse new ones. 0 refuses at once.
         */
        drainMs: z.number().int().nonnegative().default(0),
        /** In-flight checks get this long to finish before the server closes. */
        graceMs: z.number().int().nonnegative().default(10_000),
      })
      .strict()
      .default({ drainMs: 0, graceMs: 10_000 }),
    logging: z
      .object({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
        /**
         * Denials only (the default): allows and logins are recorded in the proxy's access log, from the audit
         * record every answer carries (authz/audit.ts; the shipped Envoy configs log it). "all": one line per check.
         */
        decisions: z.enum(["all", "denials"]).default("denials"),
      })
      .strict()
      .default({ level: "info", decisions: "denials" }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.secrets.backend === "vault" && !c.secrets.vault) {
      ctx.addIssue({ code: "custom", path: ["secrets", "vault"], message: "required when secrets.backend is vault" });
    }
    if (c.secrets.backend === "file" && !c.secrets.file) {
      ctx.addIssue({ code: "custom", path: ["secrets", "file"], message: "required when secrets.backend is file" });
    }
    if (c.listen.tcp === null && c.listen.unixSocket === null) {
      ctx.addIssue({ code: "custom", path: ["listen"], message: "enable at least one of tcp or unixSocket" });
    }
    const profileOf = new Map(
      (c.environments ? Object.entries(c.environments) : defaultEnvironmentEntries()).map(([name, e]) => [name, e.profile ?? DEFAULT_PROFILE]),
    );
    const allowed = new Set(profileOf.keys());
    for (const [name, e] of Object.entries(c.environments ?? {})) {
      const profile = PROFILES[e.profile ?? DEFAULT_PROFILE];
      if (!profile.environmentPattern.test(name)) {
        ctx.addIssue({ code: "custom", path: ["environments", name], message: `not an environment name of profile ${profile.id}` });
      }
      if (e.apiHost === undefined && profile.apiHostFor(name) === undefined) {
        ctx.addIssue({ code: "custom", path: ["environments", name, "apiHost"], message: `required for profile ${profile.id} (its API host cannot be derived from the environment name)` });
      }
      if (e.tokenUrl !== undefined && !isAcceptableTokenUrl(e.tokenUrl, c.allowPlainHttpLoopbackForTesting)) {
        ctx.addIssue({
          code: "custom",
          path: ["environments", name, "tokenUrl"],
          message: c.allowPlainHttpLoopbackForTesting
            ? "must be https, or plain http to a loopback address"
            : "must be https (plain http to loopback needs allowPlainHttpLoopbackForTesting)",
        });
      }
    }
    if (c.listen.tls && c.listen.tls.allowedClients.length > 0 && !c.listen.tls.clientCaFile) {
      ctx.addIssue({ code: "custom", path: ["listen", "tls", "allowedClients"], message: "needs listen.tls.clientCaFile (client certificates to match)" });
    }
    if (c.callers.mode === "mesh") {
      for (const problem of unauthenticatedCheckListeners(c.listen)) {
        ctx.addIssue({ code: "custom", path: ["callers", "mode"], message: `mesh mode needs every Check listener authenticated: ${problem}` });
      }
    }
    if (c.admin.socket !== null && c.admin.socket === c.listen.unixSocket) {
      ctx.addIssue({ code: "custom", path: ["admin", "socket"], message: "must differ from listen.unixSocket" });
    }
    const idPattern = safeRegex(c.tenantIdPattern);
    const seen = new Set<string>();
    c.tenants.forEach((t, i) => {
      if (seen.has(t.id)) ctx.addIssue({ code: "custom", path: ["tenants", i, "id"], message: `duplicate tenant id ${t.id}` });
      seen.add(t.id);
      if (idPattern && !idPattern.test(t.id)) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "id"], message: "does not match tenantIdPattern" });
      }
      if (!allowed.has(t.environment)) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "environment"], message: `not one of the allowed environments (${[...allowed].slice(0, 4).join(", ")}, …)` });
      } else if (profileOf.get(t.environment) !== (t.profile ?? DEFAULT_PROFILE)) {
        ctx.addIssue({ code: "custom", path: ["tenants", i, "profile"], message: `environment ${t.environment} belongs to profile ${profileOf.get(t.environment)}, not ${t.profile ?? DEFAULT_PROFILE}` });
      }
    });
    const ids = new Set(c.tenants.map((t) => t.id));
    for (const [principal, tenantId] of Object.entries(c.callers.principalTenants)) {
      if (!ids.has(tenantId) && !c.discovery.fromSecretStore) {
        ctx.addIssue({ code: "custom", path: ["callers", "principalTenants", principal], message: `unknown tenant ${tenantId}` });
      }
    }
    if (c.callers.mode === "mesh") {
      // A shared scopegate must know who may act for each tenant: a tenant bound to no one would be open to all.
      const mapped = new Set(Object.values(c.callers.principalTenants));
      const unbound = c.tenants.filter((t) => t.allowedPrincipals.length === 0 && t.allowedNamespaces.length === 0 && !mapped.has(t.id));
      if (unbound.length > 0) {
        ctx.addIssue({
          code: "custom",
          path: ["tenants"],
          message: `callers.mode mesh needs a caller binding (allowedPrincipals, allowedNamespaces or callers.principalTenants) for every tenant; none for: ${unbound.map((t) => t.id).join(", ")}`,
        });
      }
    }
    if (c.callers.localIdentity !== undefined && c.callers.mode !== "local") {
      ctx.addIssue({ code: "custom", path: ["callers", "localIdentity"], message: "applies to callers.mode local only" });
    }
    if (c.fleet?.tokens && c.fleet.tokens.lockLeaseMs <= c.tokens.requestTimeoutMs) {
      ctx.addIssue({
        code: "custom",
        path: ["fleet", "tokens", "lockLeaseMs"],
        message: `must be longer than tokens.requestTimeoutMs (${c.tokens.requestTimeoutMs}): a lease must outlast a token request`,
      });
    }
    if (c.budgets?.store === "redis" && c.fleet === undefined) {
      ctx.addIssue({ code: "custom", path: ["budgets", "store"], message: "redis needs fleet.redis (the connection every replica shares)" });
    }
    if (c.tenants.length === 0 && !c.discovery.fromSecretStore) {
      ctx.addIssue({ code: "custom", path: ["tenants"], message: "no tenants: list some or enable discovery.fromSecretStore" });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type TenantConfig = Config["tenants"][number];
export type RouteRuleConfig = z.infer<typeof routeRule>;
export type VaultBackendConfig = z.infer<typeof vaultBackend>;
export type VaultAuthConfig = z.infer<typeof vaultAuth>;

type ListenConfig = Config["listen"];

/**
 * Who can reach Check through the configured listeners. A unix socket is limited by its file mode and group; a
 * TCP port only by TLS client certificates (clientCaFile) whose SAN is allow-listed (allowedClients).
 * - "unix-socket": no TCP Check listener;
 * - "allow-listed-tls": TCP with a client CA and an allow-list of Envoy identities;
 * - "any-client-certificate": TCP with a client CA and no allow-list (any certificate that CA signed);
 * - "unauthenticated-tcp": TCP without client certificates: anything that reaches the port can ask.
 */
export type CheckListenerAuth = "unix-socket" | "allow-listed-tls" | "any-client-certificate" | "unauthenticated-tcp";

export function checkListenerAuth(listen: ListenConfig): CheckListenerAuth {
  if (listen.tcp === null) return "unix-socket";
  if (!listen.tls?.clientCaFile) return "unauthenticated-tcp";
  return listen.tls.allowedClients.length > 0 ? "allow-listed-tls" : "any-client-certificate";
}

/** What is wrong for mesh mode (callers.mode: mesh), or nothing. */
export function unauthenticatedCheckListeners(listen: ListenConfig): string[] {
  switch (checkListenerAuth(listen)) {
    case "unauthenticated-tcp":
      return [`listen.tcp ${listen.tcp} accepts callers without a client certificate (set listen.tls.clientCaFile and listen.tls.allowedClients, or serve Check on listen.unixSocket only)`];
    case "any-client-certificate":
      return [`listen.tcp ${listen.tcp} accepts any certificate from listen.tls.clientCaFile (set listen.tls.allowedClients)`];
    default:
      return [];
  }
}

/** The unix socket's file mode: configured, else 0660 when a group is given (Envoy's), else 0600. */
export function socketModeOf(listen: Pick<ListenConfig, "socketMode" | "socketGid">): number {
  return Number.parseInt(listen.socketMode ?? (listen.socketGid !== undefined ? "0660" : "0600"), 8);
}

function safeRegex(source: string): RegExp | undefined {
  try {
    return new RegExp(source, "u");
  } catch {
    return undefined;
  }
}
