/**
 * The "mint through the fleet" seam: a store that replicas share (src/fleet/token-store.ts, on Redis) and that the
 * TokenProvider's load step goes through on a local miss or refresh. The provider keeps its local cache in front:
 * a cached tenant never reaches the store. The store either hands back a token another replica minted for the
 * same origin, or lets this replica mint (`mint`, with the provider's own retries and budget) and shares it.
 * When the store cannot answer it mints locally: a check never fails because the store is away. A 429 from the
 * token endpoint pauses the tenant's token requests fleet-wide for its Retry-After (Genesys counts per client).
 */
import type { TokenEntry, TokenOrigin } from "./token-provider.js";

/** A token as replicas share it: minted at, served until (expires_in minus the skew, capped by maxAgeSeconds). */
export interface SharedToken {
  readonly authorization: string;
  readonly mintedAtMs: number;
  readonly expiresAtMs: number;
}

export interface SharedTokenRequest {
  readonly tenantId: string;
  /** What the token must have been minted with (the current secret record and token URL). */
  readonly origin: TokenOrigin;
  /** The token this process holds (a refresh): only a newer one is adopted, else one is minted for the fleet. */
  readonly have: TokenEntry | undefined;
  /** Mints a token here (secret read, token request, retries); rejects as the provider's load would. */
  mint(): Promise<TokenEntry>;
  /** A local entry for a token another replica minted (the provider picks its refresh point). */
  adopt(token: SharedToken): TokenEntry;
  /** Seconds the token endpoint asked to pause for (429 Retry-After), when `mint` failed that way; else undefined. */
  pauseOf(err: unknown): number | undefined;
  /** What to throw when another replica was answered 429: the provider pauses too and answers rate_limited. */
  paused(seconds: number): Error;
}

export interface SharedTokenStore {
  /** The tenant's token: shared, or minted here (and shared if the store is reachable). */
  obtain(req: SharedTokenRequest): Promise<TokenEntry>;
}
