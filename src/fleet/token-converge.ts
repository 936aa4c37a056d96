/**
 * Keeping a replica's cached tokens in line with the fleet's (src/fleet/token-store.ts uses these):
 * - adoptNewer: another replica published a token minted later than ours for the same tenant and origin (its
 *   refresh): take it, so the fleet refreshes once;
 * - offerAll: after Redis or the subscription came back, offer every cached token (script OFFER): the fleet's is
 *   adopted if Redis has another, ours stored if it has none (publish-if-absent), ours dropped if the tenant was
 *   evicted after it was minted (an eviction whose notice we missed).
 */
import type { SharedToken } from "../tokens/shared-tokens.js";
import type { TokenEntry } from "../tokens/token-provider.js";
import type { Keyring } from "../util/keyring-file.js";
import type { FleetRedis } from "./redis.js";
import { openStored, S, sealShared, STATE_TTL_MS } from "./token-codec.js";
import { tokenId } from "./token-envelope.js";
import { fleetTokenKeys, originDigest, type FleetTokenKeys } from "./token-keys.js";
import { encodeNotice, readOfferReply, type StoredToken } from "./token-scripts.js";
import { runScript } from "./scripts-runner.js";

export type FleetTokenEvent =
  | "fence_rejected"
  | "write_failed"
  | "undecryptable"
  | "refresh_adopted"
  | "converge_published"
  | "converge_adopted"
  | "converge_dropped"
  | "evicted_by_peer"
  | "paused_by_peer";

/** What the store needs of this process's local cache (TokenProvider) and eviction (app/evict.ts). */
export interface LocalTokens {
  cachedEntry(tenantId: string): TokenEntry | undefined;
  cachedEntries(): Iterable<[string, TokenEntry]>;
  replaceShared(tenantId: string, current: TokenEntry, token: SharedToken): boolean;
  /** Drop the tenant's token only (a token the fleet evicted while this replica was away). */
  dropToken(tenantId: string): void;
  /** An operator's eviction on another replica: what `scopegate evict` does locally. */
  evictLocal(tenantId: string): void;
}

export interface ConvergeDeps {
  readonly redis: FleetRedis;
  readonly keyring: () => Keyring;
  readonly local: LocalTokens;
  readonly replica: string;
  readonly channel: string;
  readonly now: () => number;
  readonly stopped: () => boolean;
  readonly onEvent?: (event: FleetTokenEvent) => void;
}

/** Tokens offered to the fleet at once after an outage. */
const OFFER_BATCH = 50;

function open(d: ConvergeDeps, keys: FleetTokenKeys, stored: StoredToken): SharedToken | undefined {
  const token = openStored(d.keyring(), keys, stored);
  if (token === undefined) d.onEvent?.("undecryptable");
  return token;
}

/** Another replica minted (a refresh, or a token we missed): if we hold an older one of that origin, adopt. */
export async function adoptNewer(d: ConvergeDeps, tenantId: string, origin: string, mintedAtMs: number): Promise<void> {
  const current = d.local.cachedEntry(tenantId);
  if (current?.origin === undefined || current.mintedAtMs >= mintedAtMs || originDigest(current.origin) !== origin) return;
  const keys = fleetTokenKeys(d.redis.keyPrefix, tenantId, current.origin);
  try {
    const [v, m, x] = await d.redis.client.hmget(keys.token, "v", "m", "x");
    if (v == null || m == null || x == null) return;
    const token = open(d, keys, { sealed: v, mintedAtMs: Number(m), expiresAtMs: Number(x) });
    if (token !== undefined && token.mintedAtMs > current.mintedAtMs && d.local.replaceShared(tenantId, current, token)) d.onEvent?.("refresh_adopted");
  } catch {
    // Redis away: the next converge() settles it
  }
}

/** Offers every cached token to the fleet (OFFER), in batches, until done or Redis goes away again. */
export async function offerAll(d: ConvergeDeps): Promise<void> {
  const entries = [...d.local.cachedEntries()].filter(([, e]) => e.origin !== undefined && e.mintedAtMs > 0 && e.expiresAtMs > d.now());
  for (let i = 0; i < entries.length && d.redis.isUp() && !d.stopped(); i += OFFER_BATCH) {
    const results = await Promise.allSettled(entries.slice(i, i + OFFER_BATCH).map(([id, e]) => offer(d, id, e)));
    if (results.some((r) => r.status === "rejected")) return; // Redis went away again: the next "up" retries
  }
}

async function offer(d: ConvergeDeps, tenantId: string, entry: TokenEntry): Promise<void> {
  const keys = fleetTokenKeys(d.redis.keyPrefix, tenantId, entry.origin!);
  const shared: SharedToken = { authorization: entry.authorization, mintedAtMs: entry.mintedAtMs, expiresAtMs: entry.expiresAtMs };
  const notice = encodeNotice({ type: "minted", replica: d.replica, tenantId, origin: keys.origin, mintedAtMs: shared.mintedAtMs });
  const ttl = Math.max(1, shared.expiresAtMs - d.now());
  const reply = readOfferReply(
    await runScript(d.redis.client, S.offer, [keys.token, keys.fence, keys.evicted, keys.index], [sealShared(d.keyring(), keys, shared), shared.mintedAtMs, shared.expiresAtMs, ttl, keys.origin, STATE_TTL_MS, d.channel, notice, tokenId(d.keyring(), keys.token, shared.authorization)]),
  );
  if (reply.kind === "evicted") {
    if (d.local.cachedEntry(tenantId) === entry) d.local.dropToken(tenantId);
    d.onEvent?.("converge_dropped");
  } else if (reply.kind === "theirs") {
    const token = open(d, keys, reply.stored);
    if (token !== undefined && d.local.replaceShared(tenantId, entry, token)) d.onEvent?.("converge_adopted");
  } else if (reply.kind === "stored") {
    d.onEvent?.("converge_published");
  }
}
