/**
 * Every way a check can end in a denial, as a closed set of codes, and the one table that maps each
 * code to its HTTP status, log level and retryability. Branch on codes, never on messages.
 */
export const DENY_REASONS = {
  check_caller_not_allowed: { status: 403, retryable: false, level: "warn", message: "this client may not call Check (its TLS client certificate is not in listen.tls.allowedClients)" },
  malformed_request: { status: 400, retryable: false, level: "warn", message: "the check request has no HTTP attributes" },
  tenant_missing: { status: 400, retryable: false, level: "info", message: "the tenant header is missing or empty" },
  tenant_ambiguous: { status: 400, retryable: false, level: "warn", message: "the tenant header was sent more than once" },
  tenant_invalid: { status: 400, retryable: false, level: "warn", message: "the tenant id does not match the allowed pattern" },
  // Answered as caller_not_allowed in callers.mode mesh, so a caller cannot tell an unknown tenant from one
  // it may not act for (tenant ids are not enumerable); the log line keeps tenant_unknown.
  tenant_unknown: { status: 403, retryable: false, level: "info", message: "no such tenant", meshAnswer: "caller_not_allowed" },
  caller_not_allowed: { status: 403, retryable: false, level: "warn", message: "this caller may not act for the tenant" },
  division_forbidden: { status: 403, retryable: false, level: "warn", message: "the requested division is not one of the tenant's divisions" },
  division_malformed: { status: 400, retryable: false, level: "warn", message: "the division query parameter is malformed" },
  upstream_mismatch: { status: 403, retryable: false, level: "warn", message: "the request's host is not the tenant's Genesys Cloud API host" },
  path_malformed: { status: 400, retryable: false, level: "warn", message: "the path has ';' parameters, an encoded separator or a dot segment" },
  // Gateway login (POST [/<prefix>]/oauth/token, answered by scopegate itself: src/authz/gateway-login.ts). Their
  // answers follow RFC 6749 §5.2: {"error": <oauthError>, "error_description": <message>}.
  login_disabled: { status: 404, retryable: false, level: "info", message: "gateway login is not enabled on this gateway (gatewayTokens is not configured)" },
  login_refused: { status: 401, retryable: false, level: "warn", message: "this caller may not log in as that client id (the client id names the tenant; the caller's identity must be bound to it)", oauthError: "invalid_client", wwwAuthenticate: "Basic" },
  login_malformed: { status: 400, retryable: false, level: "warn", message: "the login body must be a form with exactly one grant_type", oauthError: "invalid_request" },
  login_grant_unsupported: { status: 400, retryable: false, level: "info", message: "only grant_type=client_credentials is supported", oauthError: "unsupported_grant_type" },
  // A bearer token of scopegate's own (sgw1.…) that is not valid for this caller: the app logs in again.
  gateway_token_invalid: { status: 401, retryable: false, level: "info", message: "the gateway token is expired, malformed, from a retired key or was issued to another caller; log in again", wwwAuthenticate: 'Bearer error="invalid_token"' },
  route_forbidden: { status: 403, retryable: false, level: "info", message: "this route is not allowed through scopegate" },
  // The tenant's request budget (config budgets; src/budget): answered before the request reaches Genesys Cloud,
  // whose own limit per token is 300 requests a minute by default. Retry-After: the seconds left in the window.
  budget_exhausted: { status: 429, retryable: true, level: "info", message: "the tenant's request budget for this window is spent" },
  caller_share_exhausted: { status: 429, retryable: true, level: "info", message: "this caller's share of the tenant's request budget for this window is spent" },
  credentials_missing: { status: 503, retryable: true, level: "error", message: "the tenant's client credentials are not in the secret store" },
  secrets_unavailable: { status: 503, retryable: true, level: "error", message: "the secret store could not be read" },
  token_rejected: { status: 503, retryable: true, level: "error", message: "the token endpoint rejected the tenant's client credentials" },
  token_rate_limited: { status: 503, retryable: true, level: "warn", message: "the token endpoint is rate limiting this client" },
  token_unavailable: { status: 503, retryable: true, level: "error", message: "the token endpoint could not issue a token" },
  deadline_exceeded: { status: 503, retryable: true, level: "warn", message: "the check did not finish within Envoy's deadline" },
  shutting_down: { status: 503, retryable: true, level: "info", message: "scopegate is shutting down" },
  internal_error: { status: 500, retryable: true, level: "error", message: "internal error" },
} as const satisfies Record<
  string,
  {
    status: 400 | 401 | 403 | 404 | 429 | 500 | 503;
    retryable: boolean;
    level: "info" | "warn" | "error";
    message: string;
    meshAnswer?: string;
    /** The body is RFC 6749 §5.2's {error, error_description} with this error code. */
    oauthError?: string;
    /** A WWW-Authenticate challenge sent with the answer (RFC 6749 §5.2, RFC 6750 §3). */
    wwwAuthenticate?: string;
  }
>;

export type DenyReason = keyof typeof DENY_REASONS;

/**
 * The denial a caller is answered with: the reason itself, or in callers.mode mesh the reason's `meshAnswer`
 * from the table (same status, body and x-scopegate-reason as that reason). The log line and metrics keep the
 * real reason.
 */
export function answeredAs(denial: Denial, mode: "mesh" | "local"): Denial {
  if (mode !== "mesh") return denial;
  const spec = DENY_REASONS[denial.reason];
  return "meshAnswer" in spec ? deny(spec.meshAnswer) : denial;
}

export const DENY_REASON_CODES = Object.keys(DENY_REASONS) as DenyReason[];

/** A denial as a value. retryAfterSeconds overrides the default hint for retryable reasons. */
export interface Denial {
  readonly kind: "deny";
  readonly reason: DenyReason;
  readonly retryAfterSeconds?: number;
}

/** One frozen denial per reason: a denial without a Retry-After of its own allocates nothing. */
const PLAIN = Object.freeze(Object.fromEntries(DENY_REASON_CODES.map((reason) => [reason, Object.freeze({ kind: "deny", reason })]))) as {
  readonly [R in DenyReason]: Denial;
};

export function deny(reason: DenyReason, retryAfterSeconds?: number): Denial {
  return retryAfterSeconds === undefined ? PLAIN[reason] : { kind: "deny", reason, retryAfterSeconds };
}

export function isDenial(v: unknown): v is Denial {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "deny";
}

/** Default Retry-After for retryable denials: short, so callers come back once a cache fills. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;
