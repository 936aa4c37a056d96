/**
 * Per-tenant client-credentials tokens, cached and bounded (lru-cache):
 * - TTL from the data: expires_in minus a skew, so an expired token is never served;
 * - concurrent misses for one tenant share one token request (lru-cache fetch), which is not aborted
 *   when one waiting caller's deadline passes;
 * - a background refresh starts, jittered, once `refreshAt` of the usable lifetime has passed, so the hot
 *   path never waits; a failed refresh keeps the current token until it really expires;
 * - tokens.maxAgeSeconds, when set, caps how long a token is served; evict() drops a tenant's token at once;
 * - invalid_client drops the cached credentials and retries once with a fresh read (secret rotation);
 * - 429 pauses token requests for that tenant until Retry-After has passed;
 * - a token is served only for what minted it: if the tenant's token endpoint or secret record changed (config
 *   reload), or the record now names another OAuth client or another grant subject (a NICE CXone API user's
 *   access key id) or is gone, the token is not served and a new one is minted. The token is the scope: a client fixed in config or in the store must not keep the old grants
 *   for the rest of a token's lifetime (Genesys tokens live up to 24 h).
 */
import { LRUCache } from "lru-cache";
import { inspect } from "node:util";
import type { CachedSecretStore } from "../secrets/cached-secret-store.js";
import type { TenantRecord } from "../secrets/secret-store.js";
import type { Tenant } from "../tenants/tenant.js";
import { raceSignal } from "../util/abort.js";
import { backoffDelay, sleepUnlessAborted } from "../util/backoff.js";
import type { SharedToken, SharedTokenStore } from "./shared-tokens.js";
import type { TokenEndpoint } from "./token-endpoint.js";
import { TOKEN_SOURCE_ERRORS, tokenSourceError, type TokenSourceError } from "./token-source-errors.js";

const MAX_ENCODED_PER_TOKEN = 16;

/** What a token was minted with. Holds references to strings the tenant and its secret record already hold. */
export interface TokenOrigin {
  readonly tokenUrl: string;
  readonly credentialsKey: string;
  readonly clientId: string;
  /**
   * Who the grant is for beyond the client, when the record names someone: the API user's access key id of a
   * password grant (NICE CXone). Undefined for client credentials, where the client is the subject.
   */
  readonly subject: string | undefined;
}

/** The grant's subject in a secret record (TokenOrigin.subject). */
function grantSubject(record: TenantRecord): string | undefined {
  return record.accessKey?.id;
}

export class TokenEntry {
  // Responses encoded for this token, keyed by the query plan: most checks do no protobuf work. Bounded.
  // Most tenants' checks share one plan, so the first response lives in two fields and a Map exists only from
  // the second on: an empty Map's table costs ~0.5 KB, which was a quarter of a cached tenant's heap.
  #key0: string | undefined;
  #bytes0: Buffer | undefined;
  #more: Map<string, Buffer> | undefined;
  constructor(
    /** "Bearer <access_token>" */
    readonly authorization: string,
    readonly expiresAtMs: number,
    readonly refreshAtMs: number,
    /** Unknown (undefined) for a token received from elsewhere (a cluster worker's copy of the primary's). */
    readonly origin?: TokenOrigin,
    /** When the token endpoint issued it (by this process or, through the fleet store, another replica). */
    readonly mintedAtMs: number = 0,
  ) {}
  encoded(key: string): Buffer | undefined {
    return key === this.#key0 ? this.#bytes0 : this.#more?.get(key);
  }
  remember(key: string, bytes: Buffer): void {
    if (this.#key0 === undefined) {
      this.#key0 = key;
      this.#bytes0 = bytes;
      return;
    }
    if (key === this.#key0) return;
    this.#more ??= new Map();
    if (this.#more.size < MAX_ENCODED_PER_TOKEN - 1) this.#more.set(key, bytes);
  }
  toJSON(): Record<string, unknown> {
    return { authorization: "[redacted]", expiresAtMs: this.expiresAtMs };
  }
  [inspect.custom](): string {
    return `TokenEntry { authorization: [redacted], expiresAtMs: ${this.expiresAtMs} }`;
  }
}

class TokenFailure extends Error {
  constructor(readonly error: TokenSourceError) {
    super(error.code);
  }
}

export interface TokenProviderOptions {
  readonly endpoint: TokenEndpoint;
  readonly secrets: CachedSecretStore;
  readonly skewSeconds: number;
  readonly refreshAt: number;
  readonly max: number;
  readonly requestTimeoutMs: number;
  /** After invalid_client with a freshly read secret, no token request for this long. */
  readonly rejectedBackoffSeconds: number;
  /** Serve no token longer than this after it was minted, whatever its expires_in (config tokens.maxAgeSeconds). */
  readonly maxAgeSeconds?: number;
  /**
   * Replicas' shared store (config fleet.tokens): a local miss or refresh goes through it, so one token per
   * tenant is minted for the whole fleet. Unset: this process mints its own.
   */
  readonly shared?: SharedTokenStore;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly onTokenRequest?: (tenantId: string, outcome: string, durationMs: number) => void;
  readonly onRefresh?: () => void;
}

export type TokenLookup = { readonly entry: TokenEntry; readonly cache: "hit" | "miss" };

/** What the Authorizer needs from a token provider: a local cache (TokenProvider) or a remote one (workers). */
export interface TokenSource {
  /** Synchronous cache hit (may start a background refresh); undefined when the caller must get(). */
  peek(tenant: Tenant): TokenEntry | undefined;
  get(tenant: Tenant, signal: AbortSignal): Promise<TokenLookup | TokenSourceError>;
}

/** A token load may try this many times, each attempt bounded by requestTimeoutMs. */
const LOAD_BUDGET_ATTEMPTS = 3;
const TOKEN_BACKOFF = { baseMs: 100, capMs: 1000 };
/** A failed background refresh is retried after about this long (jittered ±50%). */
const REFRESH_RETRY_MS = 5000;

export class TokenProvider implements TokenSource {
  readonly #cache: LRUCache<string, TokenEntry, Tenant>;
  /** Tenants whose token requests are paused (429 Retry-After, or a rejected client): until when. */
  readonly #pausedUntil = new Map<string, { until: number; reason: "rate_limited" | "rejected" }>();
  /** After a failed background refresh, the next one waits until then. */
  readonly #refreshRetryAt = new Map<string, number>();
  readonly #now: () => number;
  readonly #random: () => number;

  constructor(private readonly opts: TokenProviderOptions) {
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#cache = new LRUCache<string, TokenEntry, Tenant>({
      max: opts.max,
      ttl: 1, // replaced per entry from expires_in
      perf: { now: this.#now },
      ttlResolution: 0, // ask the clock every time: an expired entry is never served, and injected clocks work
      allowStale: false,
      noDeleteOnFetchRejection: true,
      fetchMethod: (_key, stale, { options, context }) => {
        if (stale !== undefined) {
          // One call per refresh actually started, however many checks found it due.
          this.opts.onRefresh?.();
        }
        return this.#load(context, options, stale);
      },
    });
  }

  /** Synchronous hit; schedules a background refresh when one is due. */
  peek(tenant: Tenant): TokenEntry | undefined {
    const entry = this.#cache.get(tenant.id);
    if (!entry) return undefined;
    const now = this.#now();
    if (now >= entry.expiresAtMs) return undefined; // belt and braces: never serve an expired token
    if (!this.#mintedFor(entry, tenant)) return undefined;
    if (now >= entry.refreshAtMs && !this.#paused(tenant.id)) this.#refreshInBackground(tenant);
    return entry;
  }

  /**
   * Whether the cached token was minted for what the tenant is now: the same token endpoint and secret record
   * (config), and the same OAuth client and grant subject (access key id) in that record as far as the secret
   * cache knows. Looking at the cached
   * record also keeps it revalidated in the background (stale-while-revalidate), so a client changed in the
   * store is noticed within the secret cache's TTL. A record not cached at the moment tells nothing new (the
   * store may be down): the token stays.
   */
  #mintedFor(entry: TokenEntry, tenant: Tenant): boolean {
    const origin = entry.origin;
    if (origin === undefined) return true;
    if (origin.tokenUrl !== tenant.tokenUrl || origin.credentialsKey !== tenant.credentialsKey) return false;
    const secret = this.opts.secrets.peek(tenant.credentialsKey);
    if (secret === undefined || secret.kind === "unavailable") return true;
    return (
      secret.kind === "found" &&
      secret.record.credentials.clientId === origin.clientId &&
      grantSubject(secret.record) === origin.subject
    );
  }

  async get(tenant: Tenant, signal: AbortSignal): Promise<TokenLookup | TokenSourceError> {
    const hit = this.peek(tenant);
    if (hit) return { entry: hit, cache: "hit" };
    const paused = this.#paused(tenant.id);
    if (paused) return tokenSourceError(paused.reason, paused.seconds);
    // A cached token minted for what the tenant no longer is must be replaced, not returned by fetch().
    const cached = this.#cache.get(tenant.id);
    let forceRefresh = cached !== undefined && !this.#mintedFor(cached, tenant);
    // fetch() joins a load already in flight for this tenant id, which may have started for the definition a
    // reload has since replaced (another token URL, secret record or OAuth client), or been abandoned by
    // evict(). A check receives only a token minted for the definition it resolved: otherwise it starts one
    // fresh load (or joins one started since), and if that is not right either, it is denied rather than
    // handed another client's token.
    for (let attempt = 0; attempt < 2; attempt++) {
      let entry: TokenEntry | undefined;
      try {
        entry = await raceSignal(this.#cache.fetch(tenant.id, { context: tenant, forceRefresh }), signal);
      } catch (err) {
        if (err instanceof TokenFailure) return err.error;
        if (signal.aborted) return TOKEN_SOURCE_ERRORS.deadline;
        entry = undefined; // the load was abandoned (evict deletes the entry and aborts it)
      }
      if (entry !== undefined && this.#mintedFor(entry, tenant)) return { entry, cache: "miss" };
      forceRefresh = true;
    }
    return TOKEN_SOURCE_ERRORS.unavailable;
  }

  /**
   * Forget the tenant's token (and with it every response encoded for it) and any pause on its token
   * requests, so the next check mints a new one: for an operator who knows the token was revoked. A load in
   * flight is abandoned: lru-cache aborts it on delete, its result is not kept, and checks waiting on it
   * start a fresh one (get). True if a token was cached.
   */
  evict(tenantId: string): boolean {
    this.#pausedUntil.delete(tenantId);
    this.#refreshRetryAt.delete(tenantId);
    return this.#cache.delete(tenantId);
  }

  #refreshInBackground(tenant: Tenant): void {
    const notBefore = this.#refreshRetryAt.get(tenant.id);
    if (notBefore !== undefined && this.#now() < notBefore) return;
    // fetch() with forceRefresh shares an in-flight refresh; get() keeps returning the current entry meanwhile.
    this.#cache.fetch(tenant.id, { context: tenant, forceRefresh: true }).then(
      () => this.#refreshRetryAt.delete(tenant.id),
      () => {
        // Keep serving the current token until it expires, and do not retry on every check meanwhile.
        this.#refreshRetryAt.set(tenant.id, this.#now() + REFRESH_RETRY_MS * (0.5 + this.#random()));
      },
    );
  }

  #paused(tenantId: string): { reason: "rate_limited" | "rejected"; seconds: number } | undefined {
    const p = this.#pausedUntil.get(tenantId);
    if (p === undefined) return undefined;
    const left = p.until - this.#now();
    if (left <= 0) {
      this.#pausedUntil.delete(tenantId);
      return undefined;
    }
    return { reason: p.reason, seconds: Math.ceil(left / 1000) };
  }

  async #load(tenant: Tenant, options: { ttl?: number }, have: TokenEntry | undefined): Promise<TokenEntry> {
    const shared = this.opts.shared;
    if (shared === undefined) return this.#mint(tenant, options);
    // The fleet needs the origin the token must have: the current secret record (cached; read if it is not).
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(), this.opts.requestTimeoutMs).unref();
    const secret = await this.opts.secrets.read(tenant.credentialsKey, budget.signal).finally(() => clearTimeout(timer));
    if (secret.kind !== "found") return this.#mint(tenant, options); // the mint reports what is wrong
    const entry = await shared.obtain({
      tenantId: tenant.id,
      origin: originOf(tenant, secret.record),
      have,
      mint: () => this.#mint(tenant, options),
      adopt: (token) => this.#entryFromShared(token, originOf(tenant, secret.record)),
      pauseOf: (err) => (err instanceof TokenFailure && err.error.code === "rate_limited" ? err.error.retryAfterSeconds : undefined),
      paused: (seconds) => {
        this.#pausedUntil.set(tenant.id, { until: this.#now() + seconds * 1000, reason: "rate_limited" });
        return new TokenFailure(tokenSourceError("rate_limited", seconds));
      },
    });
    options.ttl = Math.max(1, entry.expiresAtMs - this.#now());
    return entry;
  }

  async #mint(tenant: Tenant, options: { ttl?: number }): Promise<TokenEntry> {
    // The load has its own budget and no caller's signal: callers stop waiting, the load goes on. The timer is
    // cleared when the load ends: an AbortSignal.timeout would keep its timer (and what the signal reaches)
    // for the whole budget after every mint, ~2 KB per tenant for 9 s after a burst of first requests.
    const budget = new AbortController();
    const timer = setTimeout(() => budget.abort(), this.opts.requestTimeoutMs * LOAD_BUDGET_ATTEMPTS).unref();
    try {
      return await this.#attempts(tenant, options, budget.signal);
    } finally {
      clearTimeout(timer);
    }
  }

  async #attempts(tenant: Tenant, options: { ttl?: number }, signal: AbortSignal): Promise<TokenEntry> {
    let rotated = false;
    for (let attempt = 0; attempt < LOAD_BUDGET_ATTEMPTS + 1; attempt++) {
      if (signal.aborted) break;
      const secret = await this.opts.secrets.read(tenant.credentialsKey, signal, { fresh: rotated });
      if (secret.kind === "not_found") throw new TokenFailure(TOKEN_SOURCE_ERRORS.credentials_missing);
      if (secret.kind === "unavailable") throw new TokenFailure(TOKEN_SOURCE_ERRORS.store_unavailable);
      const started = this.#now();
      // The tenant's profile builds the request for its grant and reads the answer (src/profiles).
      const request = tenant.profile.buildTokenRequest(tenant.tokenUrl, secret.record);
      if (request === undefined) throw new TokenFailure(TOKEN_SOURCE_ERRORS.credentials_missing);
      const result = await this.opts.endpoint.requestToken(request, tenant.profile.parseTokenResponse, signal);
      this.opts.onTokenRequest?.(tenant.id, result.kind === "token" ? "ok" : result.error.code, this.#now() - started);
      if (result.kind === "token") {
        const origin = originOf(tenant, secret.record);
        const entry = this.#entryFor(result.token.authorization, result.token.expiresInSeconds, origin);
        options.ttl = Math.max(1, entry.expiresAtMs - this.#now());
        return entry;
      }
      const err = result.error;
      if (err.code === "invalid_client" && !rotated) {
        // Maybe the secret was rotated in the store: read it again, once (the cached one stays if the store is down).
        rotated = true;
        continue;
      }
      if (err.code === "unavailable" && attempt < LOAD_BUDGET_ATTEMPTS - 1) {
        // 5xx or timeout: back off with jitter and try again while the budget lasts.
        if (await sleepUnlessAborted(backoffDelay(attempt, { ...TOKEN_BACKOFF, random: this.#random }), signal)) continue;
        break;
      }
      if (err.code === "rate_limited") {
        // Integer seconds (docs/genesys-facts.md); missing, 0 or an HTTP-date -> 1 s.
        const seconds = Math.max(1, err.retryAfterSeconds ?? 1);
        this.#pausedUntil.set(tenant.id, { until: this.#now() + seconds * 1000, reason: "rate_limited" });
        throw new TokenFailure(tokenSourceError("rate_limited", seconds));
      }
      if (err.code === "invalid_client") {
        // Rejected even with a freshly read secret: back off instead of asking again on every check.
        this.#pausedUntil.set(tenant.id, { until: this.#now() + this.opts.rejectedBackoffSeconds * 1000, reason: "rejected" });
        throw new TokenFailure(tokenSourceError("rejected", this.opts.rejectedBackoffSeconds));
      }
      throw new TokenFailure(TOKEN_SOURCE_ERRORS.unavailable);
    }
    throw new TokenFailure(rotated ? TOKEN_SOURCE_ERRORS.rejected : TOKEN_SOURCE_ERRORS.unavailable);
  }

  #entryFor(authorization: string, expiresInSeconds: number, origin: TokenOrigin): TokenEntry {
    const now = this.#now();
    const lifetimeMs = expiresInSeconds * 1000;
    // Never serve within `skew` of expiry; for very short lifetimes keep at least half of it usable.
    // tokens.maxAgeSeconds caps it further, whatever expires_in says (a revoked token stops being served then).
    const maxAgeMs = this.opts.maxAgeSeconds === undefined ? Infinity : this.opts.maxAgeSeconds * 1000;
    const usableMs = Math.min(Math.max(lifetimeMs - this.opts.skewSeconds * 1000, lifetimeMs / 2), maxAgeMs);
    // Jitter the refresh point by up to 10% of the usable lifetime so tenants minted together spread out.
    const refreshMs = usableMs * this.opts.refreshAt * (1 - 0.1 * this.#random());
    return new TokenEntry(authorization, now + usableMs, now + refreshMs, origin, now);
  }

  /** A token another replica minted: served until the same moment, refreshed at this process's own (jittered) point. */
  #entryFromShared(token: SharedToken, origin: TokenOrigin): TokenEntry {
    const usableMs = Math.max(0, token.expiresAtMs - token.mintedAtMs);
    const refreshAtMs = token.mintedAtMs + usableMs * this.opts.refreshAt * (1 - 0.1 * this.#random());
    return new TokenEntry(token.authorization, token.expiresAtMs, refreshAtMs, origin, token.mintedAtMs);
  }

  /** The tenant's cached token, if any, without touching its recency or starting a refresh. */
  cachedEntry(tenantId: string): TokenEntry | undefined {
    return this.#cache.peek(tenantId);
  }

  /** Tenants with a cached token, and the token (the fleet store re-validates them after a Redis outage). */
  *cachedEntries(): IterableIterator<[string, TokenEntry]> {
    for (const [id, entry] of this.#cache.entries()) yield [id, entry];
  }

  /**
   * Replace a cached tenant's token with one another replica minted for the same origin (the fleet store, when
   * replicas converge after a Redis outage). Only a token for the cached one's origin, and only while it is cached.
   */
  replaceShared(tenantId: string, current: TokenEntry, token: SharedToken): boolean {
    if (this.#cache.get(tenantId) !== current || current.origin === undefined) return false;
    const now = this.#now();
    if (token.expiresAtMs <= now) return false;
    const entry = this.#entryFromShared(token, current.origin);
    this.#cache.set(tenantId, entry, { ttl: Math.max(1, entry.expiresAtMs - now) });
    return true;
  }
}

function originOf(tenant: Tenant, record: TenantRecord): TokenOrigin {
  return {
    tokenUrl: tenant.tokenUrl,
    credentialsKey: tenant.credentialsKey,
    clientId: record.credentials.clientId,
    subject: grantSubject(record),
  };
}
