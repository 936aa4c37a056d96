// The "mint through the fleet" seam against a real redis-server: three in-process replicas, each a TokenProvider
// with its own Redis connections and RedisTokenStore, minting at one counting token endpoint. Asserts what the
// endpoint was asked and which token each replica serves; Redis is killed and restarted for real.
import { randomBytes } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectFleetRedis, type FleetRedis } from "../../src/fleet/redis.js";
import { RedisTokenStore, type FleetTokenResult } from "../../src/fleet/token-store.js";
import { fleetTokenKeys } from "../../src/fleet/token-keys.js";
import { GENESYS_CLOUD } from "../../src/profiles/genesys/profile.js";
import type { TokenRequest, TokenResult } from "../../src/profiles/index.js";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import { ClientCredentials } from "../../src/secrets/credentials.js";
import type { SecretReadResult, SecretStore } from "../../src/secrets/secret-store.js";
import type { Tenant } from "../../src/tenants/tenant.js";
import type { TokenEndpoint } from "../../src/tokens/token-endpoint.js";
import { TokenProvider } from "../../src/tokens/token-provider.js";
import type { Keyring } from "../../src/util/keyring-file.js";
import { waitFor } from "../support/ports.js";
import { startRedis, type TestRedis } from "../support/redis.js";

const tenantOf = (id: string): Tenant => ({ id, divisions: ["d"], environment: "example.com", profile: GENESYS_CLOUD, apiHost: "api.example.com", tokenUrl: "https://login.example.com/oauth/token", credentialsKey: id, allowedPrincipals: [], allowedNamespaces: [], source: "config" });
const never = new AbortController().signal;

/** One token endpoint for the whole fleet: counts requests; `hold` keeps answers back until released. */
class CountingEndpoint implements TokenEndpoint {
  calls = 0;
  expiresInSeconds = 3600;
  #held: (() => void)[] = [];
  holding = false;
  callTimes: number[] = [];
  /** Answers given before minting tokens (e.g. a 429). */
  script: TokenResult[] = [];
  async requestToken(_req: TokenRequest): Promise<TokenResult> {
    const n = ++this.calls;
    this.callTimes.push(Date.now());
    if (this.holding) await new Promise<void>((r) => this.#held.push(r));
    const scripted = this.script.shift();
    if (scripted) return scripted;
    return { kind: "token", token: { authorization: `Bearer fleet-${n}-${randomBytes(4).toString("hex")}`, expiresInSeconds: this.expiresInSeconds } };
  }
  release(): void {
    this.holding = false;
    for (const r of this.#held.splice(0)) r();
  }
}

class Secrets implements SecretStore {
  clientIds = new Map<string, string>();
  async read(key: string): Promise<SecretReadResult> {
    return { kind: "found", record: { credentials: new ClientCredentials(this.clientIds.get(key) ?? `${key}-client`, "s") } };
  }
}

interface Replica {
  tokens: TokenProvider;
  store: RedisTokenStore;
  redis: FleetRedis;
  secrets: Secrets;
  results: FleetTokenResult[];
  events: string[];
  evicted: string[];
}

const keyring: Keyring = { current: "k1", keys: new Map([["k1", randomBytes(32)]]) };
let redis: TestRedis;
let endpoint: CountingEndpoint;
let replicas: Replica[] = [];
let prefix = "";

async function replica(opts: { lockLeaseMs?: number; skewSeconds?: number; refreshAt?: number } = {}): Promise<Replica> {
  const fleetRedis = await connectFleetRedis({ url: redis.url, keyPrefix: prefix, connectTimeoutMs: 500, commandTimeoutMs: 1000 }, { logger: { info: () => undefined, warn: () => undefined } });
  const results: FleetTokenResult[] = [];
  const events: string[] = [];
  const evicted: string[] = [];
  const store = new RedisTokenStore({
    redis: fleetRedis,
    keyring: () => keyring,
    lockLeaseMs: opts.lockLeaseMs ?? 5000,
    pollIntervalMs: 50,
    commandTimeoutMs: 1000,
    onResult: (r) => results.push(r),
    onEvent: (e) => events.push(e),
  });
  const secrets = new Secrets();
  const tokens = new TokenProvider({
    endpoint,
    secrets: new CachedSecretStore(secrets, { ttlMs: 100, negativeTtlMs: 100, maxStaleMs: 60_000, max: 1000, loadTimeoutMs: 1000 }),
    skewSeconds: opts.skewSeconds ?? 60,
    refreshAt: opts.refreshAt ?? 0.8,
    max: 1000,
    requestTimeoutMs: 1000,
    rejectedBackoffSeconds: 30,
    shared: store,
  });
  store.start({
    cachedEntry: (id) => tokens.cachedEntry(id),
    cachedEntries: () => tokens.cachedEntries(),
    replaceShared: (id, cur, t) => tokens.replaceShared(id, cur, t),
    dropToken: (id) => void tokens.evict(id),
    evictLocal: (id) => {
      evicted.push(id);
      tokens.evict(id);
    },
  });
  const r = { tokens, store, redis: fleetRedis, secrets, results, events, evicted };
  replicas.push(r);
  await waitFor(() => fleetRedis.isUp(), 5000, { what: "replica connected" });
  return r;
}

async function tokenOf(r: Replica, tenant: Tenant): Promise<string> {
  const got = await r.tokens.get(tenant, never);
  if (!("entry" in got)) throw new Error(`no token: ${JSON.stringify(got)}`);
  return got.entry.authorization;
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const r of replicas) {
    r.store.close();
    await r.redis.close();
  }
  replicas = [];
  endpoint?.release();
});

function fresh(): void {
  endpoint = new CountingEndpoint();
  prefix = `t${randomBytes(3).toString("hex")}:`;
}

describe("fleet token store (three replicas, real Redis)", () => {
  it("mints one token per tenant for the whole fleet, however many concurrent first requests each replica gets", async () => {
    fresh();
    const fleet = await Promise.all([replica(), replica(), replica()]);
    const tenants = Array.from({ length: 10 }, (_, i) => tenantOf(`t${i}`));
    const seen = await Promise.all(fleet.flatMap((r) => tenants.flatMap((t) => Array.from({ length: 5 }, () => tokenOf(r, t).then((a) => [t.id, a] as const)))));
    expect(endpoint.calls).toBe(10);
    const perTenant = new Map<string, Set<string>>();
    for (const [id, a] of seen) perTenant.set(id, (perTenant.get(id) ?? new Set()).add(a));
    for (const set of perTenant.values()) expect(set.size).toBe(1);
    const all = fleet.flatMap((r) => r.results);
    expect(all.filter((x) => x === "minted")).toHaveLength(10);
    expect(all.filter((x) => x === "fallback")).toHaveLength(0);
    expect(all.filter((x) => x === "hit" || x === "adopted")).toHaveLength(20);

    // A value read straight from Redis is not a usable token: sealed, the bearer nowhere in it.
    const k = fleetTokenKeys(prefix, "t0", { tokenUrl: tenants[0]!.tokenUrl, credentialsKey: "t0", clientId: "t0-client", subject: undefined });
    const raw = redis.cli("HGET", k.token, "v").trim();
    const bearer = [...perTenant.get("t0")!][0]!;
    expect(raw).toMatch(/^v1\.k1\./);
    expect(raw).not.toContain(bearer.slice("Bearer ".length));
    expect(redis.cli("--scan", "--pattern", `${prefix}*`)).not.toMatch(/t0-client|example\.com|Bearer/);
  });

  it("a replica whose minter crashed takes over once the lease has run out; the late write is refused by the fence", async () => {
    fresh();
    const [a, b] = await Promise.all([replica({ lockLeaseMs: 400 }), replica({ lockLeaseMs: 400 })]);
    const t = tenantOf("crashy");
    endpoint.holding = true; // a's token request hangs: as good as a crashed minter for the lease
    const aToken = tokenOf(a, t);
    await waitFor(() => endpoint.calls === 1, 2000, { what: "a minting" });
    const bPromise = tokenOf(b, t);
    await waitFor(() => endpoint.calls === 2, 3000, { what: "b took over" });
    // Not before a's lease ran out: a took it just before its token request, b minted no earlier than 400 ms later.
    expect(endpoint.callTimes[1]! - endpoint.callTimes[0]!).toBeGreaterThanOrEqual(380);
    endpoint.release();
    const [fromA, fromB] = await Promise.all([aToken, bPromise]);
    // a's write came after b took the lease: refused; a then looked again and took b's token.
    expect(a.events).toContain("fence_rejected");
    expect(fromA).toBe(fromB);
    expect(endpoint.calls).toBe(2);
  });

  it("refreshes once for the fleet: the others adopt the token the first replica refreshed", async () => {
    fresh();
    endpoint.expiresInSeconds = 4;
    const fleet = await Promise.all([0, 1, 2].map(() => replica({ skewSeconds: 0, refreshAt: 0.5 })));
    const t = tenantOf("refreshing");
    const first = await Promise.all(fleet.map((r) => tokenOf(r, t)));
    expect(new Set(first).size).toBe(1);
    expect(endpoint.calls).toBe(1);
    await new Promise((r) => setTimeout(r, 2100)); // past every replica's (jittered) refresh point
    for (const r of fleet) r.tokens.peek(t); // each sees its refresh due and starts one in the background
    await waitFor(() => fleet.every((r) => r.tokens.peek(t)?.authorization !== first[0]), 3000, { what: "all refreshed" });
    const after = new Set(fleet.map((r) => r.tokens.peek(t)!.authorization));
    expect(after.size).toBe(1);
    expect(endpoint.calls).toBe(2);
  });

  it("Redis killed: cached tenants keep being served, new ones are minted locally; back: the replicas converge", async () => {
    fresh();
    const fleet = await Promise.all([replica(), replica(), replica()]);
    const cached = tenantOf("cached");
    const before = await Promise.all(fleet.map((r) => tokenOf(r, cached)));
    expect(new Set(before).size).toBe(1);

    await redis.kill();
    await waitFor(() => fleet.every((r) => !r.redis.isUp()), 5000, { what: "replicas see Redis down" });
    for (const r of fleet) expect(r.tokens.peek(cached)?.authorization).toBe(before[0]); // no Redis on the hot path
    const cold = tenantOf("cold-during-outage");
    const during = await Promise.all(fleet.map((r) => tokenOf(r, cold)));
    expect(new Set(during).size).toBe(3); // each replica minted its own
    expect(endpoint.calls).toBe(4);
    expect(fleet.flatMap((r) => r.results).filter((x) => x === "fallback")).toHaveLength(3);

    await redis.restart(); // empty: no persistence
    await waitFor(
      () => fleet.every((r) => r.redis.isUp()) && new Set(fleet.map((r) => r.tokens.peek(cold)?.authorization)).size === 1,
      10_000,
      { what: "converged on one token for the cold tenant" },
    );
    expect(new Set(fleet.map((r) => r.tokens.peek(cached)?.authorization))).toEqual(new Set([before[0]]));
    expect(endpoint.calls).toBe(4); // converging mints nothing
    // The fleet's token is in Redis again: a new replica adopts it rather than minting.
    const late = await replica();
    expect(await tokenOf(late, cold)).toBe(fleet[0]!.tokens.peek(cold)!.authorization);
    expect(endpoint.calls).toBe(4);
  });

  it("evicts fleet-wide: every replica drops its copy at once, and the fleet mints one new token", async () => {
    fresh();
    const fleet = await Promise.all([replica(), replica(), replica()]);
    const t = tenantOf("evictee");
    const before = await Promise.all(fleet.map((r) => tokenOf(r, t)));
    const started = Date.now();
    expect(await fleet[0]!.store.evict(t.id)).toBe("evicted");
    fleet[0]!.tokens.evict(t.id);
    await waitFor(() => fleet.every((r) => r.tokens.peek(t) === undefined), 1000, { what: "every replica dropped it" });
    const boundMs = Date.now() - started;
    expect(boundMs).toBeLessThan(1000);
    expect(fleet[1]!.evicted).toEqual([t.id]);
    const after = await Promise.all(fleet.map((r) => tokenOf(r, t)));
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(before[0]);
    expect(endpoint.calls).toBe(2);
  });

  it("a replica that missed the eviction notice (subscription down) drops its copy when it resubscribes", async () => {
    fresh();
    const fleet = await Promise.all([replica(), replica(), replica()]);
    await waitFor(() => fleet.every((r) => r.store.subscribed), 5000, { what: "subscribed" });
    const t = tenantOf("missed-notice");
    await Promise.all(fleet.map((r) => tokenOf(r, t)));
    // Cut every subscriber connection and evict before they are back (reconnects wait >= 50 ms).
    redis.cli("CLIENT", "KILL", "TYPE", "pubsub");
    expect(await fleet[0]!.store.evict(t.id)).toBe("evicted");
    fleet[0]!.tokens.evict(t.id);
    await waitFor(() => fleet.every((r) => r.tokens.peek(t) === undefined), 5000, { what: "every replica dropped it after resubscribing" });
    expect(fleet[1]!.evicted).toEqual([]); // no notice reached them...
    expect(fleet[1]!.events).toContain("converge_dropped"); // ...they re-validated on reconnect
    expect(fleet[2]!.events).toContain("converge_dropped");
  });

  it("connections killed again and again as they come back: no unhandled rejection, and every replica ends subscribed", async () => {
    fresh();
    const fleet = await Promise.all([replica(), replica()]);
    await waitFor(() => fleet.every((r) => r.store.subscribed), 5000, { what: "subscribed" });
    // A rejection nobody handles would end a scopegate process (node's default); here it is counted.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const admin = await connectFleetRedis({ url: redis.url, keyPrefix: prefix, connectTimeoutMs: 500, commandTimeoutMs: 1000 }, { logger: { info: () => undefined, warn: () => undefined }, name: "test-admin" });
    try {
      await waitFor(() => admin.isUp(), 5000, { what: "admin connected" });
      // Kill the replicas' connections (normal ones, which a reconnecting subscriber is until its SUBSCRIBE is
      // answered, and subscribed ones) every few milliseconds for 3 s, so kills land between a reconnect and the
      // answer to its first command.
      const until = Date.now() + 3000;
      for (let i = 0; Date.now() < until; i++) {
        await admin.client.call("CLIENT", "KILL", "TYPE", i % 2 === 0 ? "normal" : "pubsub", "SKIPME", "yes").catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1 + (i % 7)));
      }
      await waitFor(() => fleet.every((r) => r.store.subscribed && r.redis.isUp()), 10_000, { what: "every replica back and subscribed" });
      await new Promise((r) => setTimeout(r, 300)); // a late rejection still surfaces
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await admin.close();
    }
    expect(unhandled.map(String)).toEqual([]);
  });

  it("a 429 pauses the tenant's token requests fleet-wide until Retry-After, then one replica mints for all", async () => {
    fresh();
    const fleet = await Promise.all([replica(), replica(), replica()]);
    const t = tenantOf("limited");
    endpoint.script.push({ kind: "error", error: { code: "rate_limited", httpStatus: 429, retryAfterSeconds: 1 } });
    const first = await fleet[0]!.tokens.get(t, never);
    expect("code" in first && first.code).toBe("rate_limited");
    // The other replicas do not ask the token endpoint while the pause lasts: they answer rate_limited too.
    for (const r of fleet.slice(1)) {
      const got = await r.tokens.get(t, never);
      expect("code" in got && got).toMatchObject({ code: "rate_limited", retryAfterSeconds: 1 });
      expect(r.events).toContain("paused_by_peer");
    }
    expect(endpoint.calls).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    const after = await Promise.all(fleet.map((r) => tokenOf(r, t)));
    expect(new Set(after).size).toBe(1);
    expect(endpoint.calls).toBe(2);
  });

  it("never hands out a token minted for another OAuth client: a rotated client is another key", async () => {
    fresh();
    const [a, b] = await Promise.all([replica(), replica()]);
    const t = tenantOf("rotating");
    const old = await tokenOf(a, t);
    b.secrets.clientIds.set("rotating", "rotating-client-v2");
    const rotated = await tokenOf(b, t);
    expect(rotated).not.toBe(old);
    expect(endpoint.calls).toBe(2);
  });
});
