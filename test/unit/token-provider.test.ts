import { describe, expect, it, vi } from "vitest";
import { isTokenSourceError } from "../../src/tokens/token-source-errors.js";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import { AccessKey, ClientCredentials } from "../../src/secrets/credentials.js";
import type { SecretReadResult, SecretStore } from "../../src/secrets/secret-store.js";
import type { Tenant } from "../../src/tenants/tenant.js";
import type { TokenRequest, TokenResult } from "../../src/profiles/index.js";
import { GENESYS_CLOUD } from "../../src/profiles/genesys/profile.js";
import type { TokenEndpoint } from "../../src/tokens/token-endpoint.js";
import { TokenEntry, TokenProvider } from "../../src/tokens/token-provider.js";

const tenant: Tenant = { id: "acme", divisions: ["d"], environment: "example.com", profile: GENESYS_CLOUD, apiHost: "api.example.com", tokenUrl: "https://login.example.com/oauth/token", credentialsKey: "acme", allowedPrincipals: [], allowedNamespaces: [], source: "config" };

/** A small fake token endpoint: answers from a queue of scripted results, then mints tokens. */
class FakeEndpoint implements TokenEndpoint {
  calls = 0;
  secretsSeen: string[] = [];
  urls: string[] = [];
  script: TokenResult[] = [];
  gate: Promise<void> = Promise.resolve();
  /** Runs after a request is recorded, before it is answered (e.g. to rotate the secret in the store). */
  onCall: (() => void) | undefined;
  async requestToken(req: TokenRequest): Promise<TokenResult> {
    this.calls++;
    this.urls.push(req.url.href);
    this.secretsSeen.push(req.headers["authorization"]!);
    this.onCall?.();
    await this.gate;
    return this.script.shift() ?? { kind: "token", token: { authorization: `Bearer t${this.calls}`, expiresInSeconds: 3600 } };
  }
}

class MemoryStore implements SecretStore {
  secret = "s1";
  clientId = "c";
  /** The API user's access key id (a NICE CXone record), when set. */
  accessKeyId: string | undefined = undefined;
  gone = false;
  reads = 0;
  async read(): Promise<SecretReadResult> {
    this.reads++;
    if (this.gone) return { kind: "not_found" };
    const credentials = new ClientCredentials(this.clientId, this.secret);
    const accessKey = this.accessKeyId === undefined ? {} : { accessKey: new AccessKey(this.accessKeyId, "key secret") };
    return { kind: "found", record: { credentials, ...accessKey } };
  }
}

function setup(secretTtlMs = 3_600_000, maxStaleMs = 0) {
  let now = 1_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const endpoint = new FakeEndpoint();
  const store = new MemoryStore();
  const secrets = new CachedSecretStore(store, { ttlMs: secretTtlMs, negativeTtlMs: 1000, maxStaleMs, max: 100, loadTimeoutMs: 1000, now: clock.now });
  const refreshes = { count: 0 };
  const tokens = new TokenProvider({
    endpoint,
    secrets,
    skewSeconds: 60,
    refreshAt: 0.8,
    max: 100,
    requestTimeoutMs: 1000,
    rejectedBackoffSeconds: 30,
    now: clock.now,
    random: () => 0,
    onRefresh: () => refreshes.count++,
  });
  return { clock, endpoint, store, secrets, tokens, refreshes };
}

const never = new AbortController().signal;
const outage = (): TokenResult => ({ kind: "error", error: { code: "unavailable", httpStatus: 503 } });

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("TokenProvider serves a token only for what minted it", () => {
  it("mints again when a reload gives the tenant another token endpoint or secret record", async () => {
    const { endpoint, tokens } = setup();
    await tokens.get(tenant, never);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1");
    const moved: Tenant = { ...tenant, tokenUrl: "https://login.other.example.com/oauth/token" };
    expect(tokens.peek(moved)).toBeUndefined();
    const lookup = await tokens.get(moved, never);
    expect(isTokenSourceError(lookup) ? lookup.code : lookup.entry.authorization).toBe("Bearer t2");
    expect(endpoint.urls).toEqual([tenant.tokenUrl, moved.tokenUrl]);
    const rekeyed: Tenant = { ...moved, credentialsKey: "acme-v2" };
    expect(tokens.peek(rekeyed)).toBeUndefined();
    await tokens.get(rekeyed, never);
    expect(endpoint.calls).toBe(3);
    expect(tokens.peek(rekeyed)?.authorization).toBe("Bearer t3");
  });

  it("mints again once the secret cache sees another OAuth client in the record", async () => {
    const { clock, endpoint, store, tokens } = setup(60_000, 3_600_000);
    await tokens.get(tenant, never);
    store.clientId = "c-fixed";
    clock.advance(61_000); // the cached record is stale now: the next look revalidates it in the background
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1"); // still the record it knows
    await settle();
    expect(store.reads).toBe(2);
    expect(tokens.peek(tenant)).toBeUndefined(); // the record names another client
    const lookup = await tokens.get(tenant, never);
    expect(isTokenSourceError(lookup) ? lookup.code : lookup.entry.authorization).toBe("Bearer t2");
    expect(endpoint.secretsSeen[1]).toBe(new ClientCredentials("c-fixed", "s1").basicAuthorization());
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t2");
  });

  it("mints again once the secret cache sees another API user's access key under the same OAuth client", async () => {
    const { clock, endpoint, store, tokens } = setup(60_000, 3_600_000);
    store.accessKeyId = "AK-1";
    await tokens.get(tenant, never);
    store.accessKeyId = "AK-2"; // the record moved to another API user; same application (client id)
    clock.advance(61_000);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1"); // still the record it knows
    await settle();
    expect(store.reads).toBe(2);
    expect(tokens.peek(tenant)).toBeUndefined(); // minted for AK-1, the record now names AK-2
    const lookup = await tokens.get(tenant, never);
    expect(isTokenSourceError(lookup) ? lookup.code : lookup.entry.origin?.subject).toBe("AK-2");
    expect(endpoint.calls).toBe(2);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t2");
    // A record that drops the access key is another subject too.
    store.accessKeyId = undefined;
    clock.advance(61_000);
    tokens.peek(tenant);
    await settle();
    expect(tokens.peek(tenant)).toBeUndefined();
  });

  it("stops serving when the record is removed from the store", async () => {
    const { clock, store, tokens } = setup(60_000, 3_600_000);
    await tokens.get(tenant, never);
    store.gone = true;
    clock.advance(61_000);
    tokens.peek(tenant);
    await settle();
    expect(tokens.peek(tenant)).toBeUndefined();
    const lookup = await tokens.get(tenant, never);
    expect(isTokenSourceError(lookup) ? lookup.code : "served").toBe("credentials_missing");
  });

  it("keeps serving while the store cannot be reached (nothing newer is known)", async () => {
    const { clock, endpoint, store, tokens } = setup(60_000, 3_600_000);
    await tokens.get(tenant, never);
    store.read = async () => ({ kind: "unavailable", detail: "sealed" });
    clock.advance(61_000);
    for (let i = 0; i < 3; i++) {
      expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1");
      await settle();
    }
    expect(endpoint.calls).toBe(1);
  });
});

describe("TokenProvider and a reload during a token load (issue 11, finding 6)", () => {
  it("a check that joins a load started for the old definition gets a token minted for its own", async () => {
    const { endpoint, tokens } = setup();
    let open!: () => void;
    endpoint.gate = new Promise((r) => (open = r));
    const before = tokens.get(tenant, never); // resolved before the reload: old token endpoint
    const moved: Tenant = { ...tenant, tokenUrl: "https://login.other.example.com/oauth/token" };
    const after = tokens.get(moved, never); // resolved after it, while the old load is in flight
    open();
    const [a, b] = await Promise.all([before, after]);
    expect(isTokenSourceError(a) ? a.code : a.entry.authorization).toBe("Bearer t1");
    expect(isTokenSourceError(b) ? b.code : b.entry.authorization).toBe("Bearer t2");
    expect(endpoint.urls).toEqual([tenant.tokenUrl, moved.tokenUrl]);
    expect(isTokenSourceError(b) ? undefined : b.entry.origin?.tokenUrl).toBe(moved.tokenUrl);
  });

  it("the same holds when the record names another OAuth client by the time the load ends", async () => {
    const { endpoint, secrets, store, tokens } = setup();
    let open!: () => void;
    endpoint.gate = new Promise((r) => (open = r));
    const before = tokens.get(tenant, never); // reads client "c" and waits at the token endpoint
    await settle();
    store.clientId = "c-new";
    await secrets.read("acme", never, { fresh: true }); // the secret cache now knows the new client
    const after = tokens.get(tenant, never); // joins the load minting for "c"
    open();
    await before;
    const b = await after;
    expect(isTokenSourceError(b) ? b.code : b.entry.origin?.clientId).toBe("c-new");
    expect(endpoint.secretsSeen).toEqual([new ClientCredentials("c", "s1").basicAuthorization(), new ClientCredentials("c-new", "s1").basicAuthorization()]);
  });

  it("is denied, not handed another client's token, when the fresh load is not right either", async () => {
    const { endpoint, secrets, store, tokens } = setup();
    let open!: () => void;
    endpoint.gate = new Promise((r) => (open = r));
    const before = tokens.get(tenant, never);
    await settle();
    store.clientId = "c-2";
    await secrets.read("acme", never, { fresh: true });
    // While the fresh load (for c-2) is at the token endpoint, the client changes once more.
    endpoint.onCall = () => {
      endpoint.onCall = undefined;
      store.clientId = "c-3";
      void secrets.read("acme", never, { fresh: true });
    };
    const after = tokens.get(tenant, never);
    open();
    await before;
    expect(await after).toEqual({ kind: "token_source", code: "unavailable" });
    expect(endpoint.calls).toBe(2);
  });
});

describe("TokenProvider: tokens.maxAgeSeconds and evict (issue 11, finding 4)", () => {
  it("serves no token longer than maxAgeSeconds, whatever expires_in says", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const endpoint = new FakeEndpoint();
    const secrets = new CachedSecretStore(new MemoryStore(), { ttlMs: 3_600_000, negativeTtlMs: 1000, maxStaleMs: 0, max: 100, loadTimeoutMs: 1000, now: clock.now });
    const tokens = new TokenProvider({ endpoint, secrets, skewSeconds: 60, refreshAt: 0.8, max: 100, requestTimeoutMs: 1000, rejectedBackoffSeconds: 30, maxAgeSeconds: 600, now: clock.now, random: () => 0 });
    await tokens.get(tenant, never); // expires_in 3600
    now += 599_000;
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1");
    await settle(); // the refresh due at 80% of 600 s has run
    expect(tokens.peek(tenant)?.expiresAtMs).toBe(1_000_000 + 599_000 + 600_000);
  });

  it("without a refresh, a token past maxAgeSeconds is not served", async () => {
    let now = 1_000_000;
    const clock = { now: () => now };
    const endpoint = new FakeEndpoint();
    const secrets = new CachedSecretStore(new MemoryStore(), { ttlMs: 3_600_000, negativeTtlMs: 1000, maxStaleMs: 0, max: 100, loadTimeoutMs: 1000, now: clock.now });
    const tokens = new TokenProvider({ endpoint, secrets, skewSeconds: 60, refreshAt: 0.8, max: 100, requestTimeoutMs: 1000, rejectedBackoffSeconds: 30, maxAgeSeconds: 600, now: clock.now, random: () => 0 });
    await tokens.get(tenant, never);
    expect(tokens.peek(tenant)?.expiresAtMs).toBe(1_000_000 + 600_000);
    now += 600_000;
    expect(tokens.peek(tenant)).toBeUndefined();
  });

  it("evict drops the tenant's token and its encoded responses: the next check mints a new one", async () => {
    const { endpoint, tokens } = setup();
    await tokens.get(tenant, never);
    const first = tokens.peek(tenant)!;
    first.remember("plan", Buffer.from("encoded"));
    tokens.evict("acme");
    expect(tokens.peek(tenant)).toBeUndefined();
    const r = await tokens.get(tenant, never);
    expect(isTokenSourceError(r) ? r.code : r.entry.authorization).toBe("Bearer t2");
    expect(isTokenSourceError(r) ? "denied" : r.entry.encoded("plan")).toBeUndefined();
    expect(endpoint.calls).toBe(2);
  });

  it("evict lifts a pause (429 or rejected client) and leaves other tenants alone", async () => {
    const { endpoint, tokens } = setup();
    const other: Tenant = { ...tenant, id: "globex", credentialsKey: "globex" };
    await tokens.get(other, never);
    endpoint.script.push({ kind: "error", error: { code: "rate_limited", retryAfterSeconds: 300 } });
    expect(await tokens.get(tenant, never)).toMatchObject({ code: "rate_limited" });
    tokens.evict("acme");
    expect(isTokenSourceError(await tokens.get(tenant, never))).toBe(false);
    expect(tokens.peek(other)?.authorization).toBe("Bearer t1");
  });

  it("a load in flight when evict runs is not kept; its waiting checks get a freshly minted token", async () => {
    const { endpoint, tokens } = setup();
    let open!: () => void;
    endpoint.gate = new Promise((r) => (open = r));
    const waiting = tokens.get(tenant, never);
    await settle();
    tokens.evict("acme");
    open();
    const r = await waiting;
    expect(isTokenSourceError(r) ? r.code : r.entry.authorization).toBe("Bearer t2");
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t2");
  });
});

describe("TokenProvider", () => {
  it("makes exactly one token request for many concurrent misses", async () => {
    const { endpoint, tokens } = setup();
    let open!: () => void;
    endpoint.gate = new Promise((r) => (open = r));
    const pending = Array.from({ length: 50 }, () => tokens.get(tenant, never));
    open();
    const results = await Promise.all(pending);
    expect(endpoint.calls).toBe(1);
    expect(new Set(results.map((r) => (isTokenSourceError(r) ? "deny" : r.entry.authorization)))).toEqual(new Set(["Bearer t1"]));
  });

  it("serves from cache, refreshes in the background after refreshAt, and never serves past expiry", async () => {
    const { clock, endpoint, tokens } = setup();
    await tokens.get(tenant, never);
    // usable = 3600-60 = 3540 s; refresh at 80% = 2832 s
    clock.advance(2_000_000);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1");
    expect(endpoint.calls).toBe(1);
    clock.advance(900_000);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1"); // still served while refreshing
    await settle();
    expect(endpoint.calls).toBe(2);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t2");
  });

  it("keeps the current token when a refresh fails, until it expires", async () => {
    const { clock, endpoint, tokens } = setup();
    await tokens.get(tenant, never);
    endpoint.script.push(outage(), outage(), outage());
    clock.advance(2_900_000);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1");
    // The refresh runs in the background (its retries back off on real timers): wait, bounded, for all of it.
    await vi.waitFor(() => expect(endpoint.calls).toBe(4), { timeout: 5000, interval: 5 }); // 1 mint + 3 refresh attempts
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t1");
    clock.advance(700_000); // past 3540 s
    expect(tokens.peek(tenant)).toBeUndefined();
    endpoint.script.push(outage(), outage(), outage());
    expect(await tokens.get(tenant, never)).toEqual({ kind: "token_source", code: "unavailable" });
  });

  it("retries a 5xx with backoff inside the load budget", async () => {
    const { endpoint, tokens } = setup();
    endpoint.script.push({ kind: "error", error: { code: "unavailable", httpStatus: 502 } });
    const r = await tokens.get(tenant, never);
    expect(isTokenSourceError(r) ? r.code : r.entry.authorization).toBe("Bearer t2");
    expect(endpoint.calls).toBe(2);
  });

  it("re-reads the secret once on invalid_client (rotation) and asks again with the new one", async () => {
    const { endpoint, store, tokens } = setup();
    endpoint.script.push({ kind: "error", error: { code: "invalid_client", httpStatus: 401 } });
    // The secret is rotated in the store while the cached copy is still the old one.
    endpoint.onCall = () => {
      store.secret = "s2-rotated";
      endpoint.onCall = undefined;
    };
    const first = store.reads;
    const r = await tokens.get(tenant, never);
    expect(isTokenSourceError(r) ? r.code : r.entry.authorization).toBe("Bearer t2");
    expect(store.reads - first).toBe(2);
    expect(endpoint.secretsSeen).toEqual([
      new ClientCredentials("c", "s1").basicAuthorization(),
      new ClientCredentials("c", "s2-rotated").basicAuthorization(),
    ]);
  });

  it("gives up after the second invalid_client and backs off instead of asking on every check", async () => {
    const { clock, endpoint, tokens } = setup();
    endpoint.script.push({ kind: "error", error: { code: "invalid_client" } }, { kind: "error", error: { code: "invalid_client" } });
    expect(await tokens.get(tenant, never)).toEqual({ kind: "token_source", code: "rejected", retryAfterSeconds: 30 });
    expect(endpoint.calls).toBe(2);
    for (let i = 0; i < 10; i++) expect((await tokens.get(tenant, never)) as unknown).toMatchObject({ code: "rejected" });
    expect(endpoint.calls).toBe(2);
    clock.advance(31_000);
    expect(isTokenSourceError(await tokens.get(tenant, never))).toBe(false);
    expect(endpoint.calls).toBe(3);
  });

  it("counts one refresh per refresh started, and waits before retrying a failed one", async () => {
    const { clock, endpoint, tokens, refreshes } = setup();
    await tokens.get(tenant, never);
    endpoint.script.push(outage(), outage(), outage());
    clock.advance(2_900_000);
    for (let i = 0; i < 10; i++) tokens.peek(tenant);
    await vi.waitFor(() => expect(endpoint.calls).toBe(4), { timeout: 5000, interval: 5 });
    expect(refreshes.count).toBe(1);
    for (let i = 0; i < 10; i++) tokens.peek(tenant); // inside the retry wait: nothing sent
    await new Promise((r) => setTimeout(r, 20));
    expect(endpoint.calls).toBe(4);
    clock.advance(8000);
    tokens.peek(tenant);
    await vi.waitFor(() => expect(endpoint.calls).toBe(5), { timeout: 5000, interval: 5 });
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer t5");
  });

  it("pauses token requests for Retry-After seconds after a 429", async () => {
    const { clock, endpoint, tokens } = setup();
    endpoint.script.push({ kind: "error", error: { code: "rate_limited", retryAfterSeconds: 30 } });
    expect(await tokens.get(tenant, never)).toEqual({ kind: "token_source", code: "rate_limited", retryAfterSeconds: 30 });
    clock.advance(10_000);
    expect(await tokens.get(tenant, never)).toEqual({ kind: "token_source", code: "rate_limited", retryAfterSeconds: 20 });
    expect(endpoint.calls).toBe(1);
    clock.advance(21_000);
    expect(isTokenSourceError(await tokens.get(tenant, never))).toBe(false);
    expect(endpoint.calls).toBe(2);
  });

  it("a caller whose deadline passes gets deadline_exceeded while the shared load completes for others", async () => {
    const { endpoint, tokens } = setup();
    let open!: () => void;
    endpoint.gate = new Promise((r) => (open = r));
    const ac = new AbortController();
    const leaving = tokens.get(tenant, ac.signal);
    const staying = tokens.get(tenant, never);
    ac.abort();
    expect(await leaving).toEqual({ kind: "token_source", code: "deadline" });
    open();
    const r = await staying;
    expect(isTokenSourceError(r) ? r.code : r.entry.authorization).toBe("Bearer t1");
    expect(endpoint.calls).toBe(1);
  });
});

describe("TokenEntry encoded responses", () => {
  it("keeps the first response in place, later ones up to the bound, and never replaces one", () => {
    const e = new TokenEntry("Bearer t", Date.now() + 60_000, Date.now() + 30_000);
    const bytes = (n: number): Buffer => Buffer.from([n]);
    expect(e.encoded("a")).toBeUndefined();
    e.remember("a", bytes(1));
    e.remember("a", bytes(9));
    expect(e.encoded("a")).toEqual(bytes(1));
    for (let i = 0; i < 20; i++) e.remember(`k${i}`, bytes(i + 10));
    expect(e.encoded("a")).toEqual(bytes(1));
    expect(e.encoded("k0")).toEqual(bytes(10));
    expect(e.encoded("k14")).toEqual(bytes(24)); // 16 in all: "a" and k0..k14
    expect(e.encoded("k15")).toBeUndefined();
    expect(JSON.stringify(e)).not.toContain("Bearer t");
  });
});
