/**
 * Redis key names of the fleet token store (pure). Names carry no secret and no identifier in clear: the tenant
 * and the origin (token URL, secret record, OAuth client id, grant subject) appear only as SHA-256 digests.
 *
 *   <prefix>tok:{<tenant>}:<origin>     hash {v: sealed token, m: minted at (ms), x: served until (ms)}, PX to x
 *   <prefix>lock:{<tenant>}:<origin>    the minting lease: SET NX PX, value = the holder's fencing token
 *   <prefix>fence:{<tenant>}:<origin>   INCR counter of fencing tokens: a write is accepted only with the latest
 *   <prefix>pause:{<tenant>}:<origin>   the token endpoint answered 429: no replica asks again before it expires
 *   <prefix>idx:{<tenant>}              set of origin digests used for the tenant (eviction finds them here)
 *   <prefix>evicted:{<tenant>}          when the tenant was last evicted (ms): a token minted before is not republished
 *   <prefix>tokens                      pub/sub channel: minted, released, evicted notices
 *
 * The token key is bound to its origin: a rotated client (another client id), another token URL or grant subject
 * is another key, so a replica never gets a token minted for what the tenant no longer is. The {…} hash tag puts a
 * tenant's keys in one Redis Cluster slot (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#hash-tags),
 * which the Lua scripts need.
 */
import { createHash } from "node:crypto";
import type { TokenOrigin } from "../tokens/token-provider.js";

export interface FleetTokenKeys {
  /** "{<tenant digest>}" */
  readonly tenantTag: string;
  /** The origin digest. */
  readonly origin: string;
  readonly token: string;
  readonly lock: string;
  readonly fence: string;
  readonly pause: string;
  readonly index: string;
  readonly evicted: string;
}

const DIGEST_HEX = 32; // 128 bits: no collisions among any realistic number of tenants or clients

function digest(domain: string, parts: readonly string[]): string {
  const h = createHash("sha256").update(domain);
  for (const p of parts) h.update("\0").update(p, "utf8");
  return h.digest("hex").slice(0, DIGEST_HEX);
}

export function tenantDigest(tenantId: string): string {
  return digest("scopegate/fleet/tenant/v1", [tenantId]);
}

export function originDigest(origin: TokenOrigin): string {
  return digest("scopegate/fleet/origin/v1", [origin.tokenUrl, origin.credentialsKey, origin.clientId, origin.subject === undefined ? "\u0001none" : `=${origin.subject}`]);
}

export function tenantKeys(prefix: string, tenantId: string): { tenantTag: string; index: string; evicted: string } {
  const tenantTag = `{${tenantDigest(tenantId)}}`;
  return { tenantTag, index: `${prefix}idx:${tenantTag}`, evicted: `${prefix}evicted:${tenantTag}` };
}

export function fleetTokenKeys(prefix: string, tenantId: string, origin: TokenOrigin): FleetTokenKeys {
  const t = tenantKeys(prefix, tenantId);
  const o = originDigest(origin);
  return {
    ...t,
    origin: o,
    token: `${prefix}tok:${t.tenantTag}:${o}`,
    lock: `${prefix}lock:${t.tenantTag}:${o}`,
    fence: `${prefix}fence:${t.tenantTag}:${o}`,
    pause: `${prefix}pause:${t.tenantTag}:${o}`,
  };
}

export function channelOf(prefix: string): string {
  return `${prefix}tokens`;
}

export function sameOrigin(a: TokenOrigin | undefined, b: TokenOrigin): boolean {
  return a !== undefined && a.tokenUrl === b.tokenUrl && a.credentialsKey === b.credentialsKey && a.clientId === b.clientId && a.subject === b.subject;
}
