/**
 * The arithmetic of a per-tenant request budget, as pure functions. Genesys Cloud counts a client-credentials
 * token's requests per minute (organisation limit `client.credentials.token.rate.per.minute`, 300 by default:
 * https://developer.genesys.cloud/organization/organization/limits#platform-api, docs/genesys-facts.md), so the
 * budget is a fixed window aligned to the epoch (whole minutes for a 60 s window) and a count per window.
 *
 * A replica does not ask the store for every request: it leases a chunk of the tenant's window and spends it
 * locally. `grant` is the one rule every store applies when it hands out a lease (the local store in TypeScript,
 * the Redis store in its Lua script, which mirrors it line for line): a lease never takes more than what is left
 * of the tenant's budget (and of the caller's share), so the sum of all leases in a window, over every replica,
 * never exceeds the budget however they interleave.
 */

/** The window a time falls in: its index since the epoch and when it ends (ms). */
export interface Window {
  readonly index: number;
  readonly endsAtMs: number;
}

export function windowOf(nowMs: number, windowMs: number): Window {
  const index = Math.floor(nowMs / windowMs);
  return { index, endsAtMs: (index + 1) * windowMs };
}

/** Retry-After (RFC 9110 §10.2.3, integer seconds) for a request refused until the window ends: at least 1. */
export function retryAfterSeconds(nowMs: number, endsAtMs: number): number {
  return Math.max(1, Math.ceil((endsAtMs - nowMs) / 1000));
}

/**
 * The most one caller identity may spend of a tenant's budget per window: `share` (0 < share ≤ 1) of it, at least
 * one request. share 1: no caller limit of its own (undefined).
 */
export function callerLimitOf(limit: number, share: number): number | undefined {
  return share >= 1 ? undefined : Math.max(1, Math.floor(limit * share));
}

/** What a store knows of one window when a lease is asked for. */
export interface LeaseState {
  /** The tenant's budget per window, and what every lease of this window has taken of it so far. */
  readonly limit: number;
  readonly used: number;
  /** The caller's share (requests per window) and what its leases took, when the caller has a share of its own. */
  readonly callerLimit?: number | undefined;
  readonly callerUsed?: number | undefined;
  /** The largest lease a replica asks for ahead of demand (budgets.lease.maxChunk); 0 only reports a debt. */
  readonly want: number;
  /**
   * Checks waiting for this lease right now (at least 1 unless reporting): they get what they need even past the
   * chunk and the divisor, since it is spent at once and strands nothing.
   */
  readonly need: number;
  /**
   * A lease takes at most 1/divisor of what is left (at least one request): leases shrink as the window fills, so
   * near the end the budget is not stranded in another replica's unspent chunk.
   */
  readonly divisor: number;
}

/** A lease: how many requests the replica may now spend, or 0 and which limit is spent. */
export type Grant = { readonly granted: number; readonly limitedBy?: undefined } | { readonly granted: 0; readonly limitedBy: "tenant" | "caller" };
// (granted 0 without limitedBy: a report of debt, want 0.)

export function grant(s: LeaseState): Grant {
  if (s.want <= 0 && s.need <= 0) return { granted: 0 };
  const tenantLeft = s.limit - s.used;
  const callerLeft = s.callerLimit === undefined ? Number.POSITIVE_INFINITY : s.callerLimit - (s.callerUsed ?? 0);
  if (tenantLeft <= 0) return { granted: 0, limitedBy: "tenant" };
  if (callerLeft <= 0) return { granted: 0, limitedBy: "caller" };
  const left = Math.min(tenantLeft, callerLeft);
  const ahead = Math.min(Math.floor(s.want), Math.max(1, Math.ceil(left / s.divisor)));
  const granted = Math.min(left, Math.max(1, Math.floor(s.need), ahead));
  return { granted };
}
