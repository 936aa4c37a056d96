/**
 * Why a token source (the local TokenProvider, or a cluster worker's RemoteTokenSource) has no token for a
 * tenant, as values of this layer. The authorizer maps them to deny reasons (src/authz/layer-errors.ts); the
 * cluster primary sends them to its workers as they are. Codes without a Retry-After are frozen constants, so
 * returning one allocates nothing.
 */
const error = <C extends string>(code: C) => Object.freeze({ kind: "token_source", code }) as { readonly kind: "token_source"; readonly code: C };

export const TOKEN_SOURCE_ERRORS = {
  /** The tenant's secret record holds no client credentials. */
  credentials_missing: error("credentials_missing"),
  /** The secret store could not be read. */
  store_unavailable: error("store_unavailable"),
  /** The token endpoint rejected the client (invalid_client), even with a freshly read secret. */
  rejected: error("rejected"),
  /** The token endpoint answered 429; token requests for the tenant are paused for retryAfterSeconds. */
  rate_limited: error("rate_limited"),
  /** The token endpoint failed (5xx, timeout, a bad answer), or no token fitting the tenant came back. */
  unavailable: error("unavailable"),
  /** The caller's signal was aborted (its deadline passed) before a token came. */
  deadline: error("deadline"),
  /** A source that resolves the tenant id itself (the cluster primary) has no such tenant. */
  tenant_unknown: error("tenant_unknown"),
  /** A source that failed unexpectedly (the cluster primary's answer to a question that threw). */
  internal: error("internal"),
} as const;

export type TokenSourceErrorCode = keyof typeof TOKEN_SOURCE_ERRORS;

export interface TokenSourceError {
  readonly kind: "token_source";
  readonly code: TokenSourceErrorCode;
  /** How long token requests for the tenant are paused (rate_limited, rejected). */
  readonly retryAfterSeconds?: number;
}

/** The code's constant, or (with a pause to report) a new value carrying it. */
export function tokenSourceError(code: TokenSourceErrorCode, retryAfterSeconds?: number): TokenSourceError {
  return retryAfterSeconds === undefined ? TOKEN_SOURCE_ERRORS[code] : { kind: "token_source", code, retryAfterSeconds };
}

export function isTokenSourceError(v: object): v is TokenSourceError {
  return (v as { kind?: unknown }).kind === "token_source";
}
