/**
 * The fleet token store's Lua scripts (EVALSHA; each runs atomically, https://redis.io/docs/latest/develop/interact/programmability/eval-intro/)
 * and their replies read into values (pure). Key names: token-keys.ts.
 *
 * obtain:  paused (a 429 less than Retry-After ago) -> paused; a token newer than the caller's -> found; else no
 *          lease held -> take it (INCR fence, SET lock PX lease) -> locked with the fencing token; else -> held,
 *          with the lease's remaining ms.
 * write:   accepted only if the caller's fencing token is still the latest (no one took over after its lease
 *          ran out, no eviction since): stores the sealed token with PX to its expiry, frees the lease, publishes.
 * release: frees the lease if it is still the caller's (a failed mint), publishes so that waiters look again;
 *          after a 429, first records the pause (PX Retry-After) so that no replica asks before it has passed.
 * offer:   after a Redis outage, a token this replica holds: dropped if the tenant was evicted since it was minted,
 *          the fleet's if Redis has another one (converge on it), else stored as the fleet's (publish-if-absent).
 *          Tokens are told apart by their id (token-envelope.ts tokenId), not by minting time: two replicas can
 *          mint in the same millisecond.
 * evict:   deletes every token, lease and pause of the tenant, bumps their fences (an in-flight mint cannot write),
 *          records when, and publishes.
 */

export const OBTAIN = `
local pause = redis.call('PTTL', KEYS[5])
if pause > 0 then return {3, pause} end
local m = redis.call('HGET', KEYS[1], 'm')
if m and tonumber(m) > tonumber(ARGV[1]) then
  local vx = redis.call('HMGET', KEYS[1], 'v', 'x')
  return {1, vx[1], m, vx[2]}
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, redis.call('PTTL', KEYS[2])}
end
local f = redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('SET', KEYS[2], f, 'PX', ARGV[2])
redis.call('SADD', KEYS[4], ARGV[3])
if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[4], ARGV[4]) end
return {2, f}
`;

export const WRITE = `
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'm', ARGV[3], 'x', ARGV[4], 'i', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
`;

export const RELEASE = `
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[4]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
`;

export const OFFER = `
local ev = redis.call('GET', KEYS[3])
if ev and tonumber(ev) >= tonumber(ARGV[2]) then return {-1} end
local m = redis.call('HGET', KEYS[1], 'm')
if m then
  local vxi = redis.call('HMGET', KEYS[1], 'v', 'x', 'i')
  if vxi[3] == ARGV[9] then return {0} end
  return {1, vxi[1], m, vxi[2]}
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'm', ARGV[2], 'x', ARGV[3], 'i', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[5])
if redis.call('PTTL', KEYS[4]) < tonumber(ARGV[6]) then redis.call('PEXPIRE', KEYS[4], ARGV[6]) end
redis.call('PUBLISH', ARGV[7], ARGV[8])
return {2}
`;

export const EVICT = `
local origins = redis.call('SMEMBERS', KEYS[1])
for _, o in ipairs(origins) do
  redis.call('DEL', ARGV[1] .. 'tok:' .. ARGV[2] .. ':' .. o, ARGV[1] .. 'lock:' .. ARGV[2] .. ':' .. o, ARGV[1] .. 'pause:' .. ARGV[2] .. ':' .. o)
  local fence = ARGV[1] .. 'fence:' .. ARGV[2] .. ':' .. o
  redis.call('INCR', fence)
  redis.call('PEXPIRE', fence, ARGV[4])
end
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return #origins
`;

/** A token as stored: sealed value and the clear fields bound to it. */
export interface StoredToken {
  readonly sealed: string;
  readonly mintedAtMs: number;
  readonly expiresAtMs: number;
}

export type ObtainReply =
  | { readonly kind: "found"; readonly stored: StoredToken }
  | { readonly kind: "locked"; readonly fence: string }
  | { readonly kind: "held"; readonly leaseLeftMs: number }
  | { readonly kind: "paused"; readonly leftMs: number };

export type OfferReply =
  | { readonly kind: "evicted" }
  | { readonly kind: "same" }
  | { readonly kind: "theirs"; readonly stored: StoredToken }
  | { readonly kind: "stored" };

export class ScriptReplyError extends Error {}

function stored(value: unknown, m: unknown, x: unknown): StoredToken {
  const mintedAtMs = Number(m);
  const expiresAtMs = Number(x);
  if (typeof value !== "string" || !Number.isSafeInteger(mintedAtMs) || !Number.isSafeInteger(expiresAtMs)) throw new ScriptReplyError("malformed token entry");
  return { sealed: value, mintedAtMs, expiresAtMs };
}

export function readObtainReply(reply: unknown): ObtainReply {
  if (!Array.isArray(reply)) throw new ScriptReplyError("obtain: not an array");
  switch (Number(reply[0])) {
    case 1:
      return { kind: "found", stored: stored(reply[1], reply[2], reply[3]) };
    case 2:
      return { kind: "locked", fence: String(reply[1]) };
    case 0:
      return { kind: "held", leaseLeftMs: Math.max(0, Number(reply[1]) || 0) };
    case 3:
      return { kind: "paused", leftMs: Math.max(1, Number(reply[1]) || 1) };
    default:
      throw new ScriptReplyError("obtain: unknown reply");
  }
}

export function readOfferReply(reply: unknown): OfferReply {
  if (!Array.isArray(reply)) throw new ScriptReplyError("offer: not an array");
  switch (Number(reply[0])) {
    case -1:
      return { kind: "evicted" };
    case 0:
      return { kind: "same" };
    case 1:
      return { kind: "theirs", stored: stored(reply[1], reply[2], reply[3]) };
    case 2:
      return { kind: "stored" };
    default:
      throw new ScriptReplyError("offer: unknown reply");
  }
}

/** Pub/sub notices on the channel (token-keys.ts channelOf). Tenant ids, digests and times only; never a token. */
export type FleetNotice =
  | { readonly type: "minted"; readonly replica: string; readonly tenantId: string; readonly origin: string; readonly mintedAtMs: number }
  | { readonly type: "released"; readonly replica: string; readonly tenantId: string; readonly origin: string }
  | { readonly type: "evicted"; readonly replica: string; readonly tenantId: string };

export function encodeNotice(n: FleetNotice): string {
  return JSON.stringify(n);
}

/** A notice, or undefined for anything else on the channel (it is ignored, never trusted further). */
export function decodeNotice(text: string): FleetNotice | undefined {
  if (text.length > 4096) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o["replica"] !== "string" || typeof o["tenantId"] !== "string") return undefined;
  const base = { replica: o["replica"], tenantId: o["tenantId"] };
  if (o["type"] === "evicted") return { type: "evicted", ...base };
  if (typeof o["origin"] !== "string") return undefined;
  if (o["type"] === "released") return { type: "released", ...base, origin: o["origin"] };
  if (o["type"] === "minted" && typeof o["mintedAtMs"] === "number") return { type: "minted", ...base, origin: o["origin"], mintedAtMs: o["mintedAtMs"] };
  return undefined;
}
