// The "mint through the fleet" seam of TokenProvider with a small in-memory SharedTokenStore (the Redis one is
// tested against a real redis-server in test/integration/fleet-token-store.test.ts): what the provider asks the
// store, when, and what it does with the answer.
import { describe, expect, it } from "vitest";
import { GENESYS_CLOUD } from "../../src/profiles/genesys/profile.js";
import type { TokenRequest, TokenResult } from "../../src/profiles/index.js";
import { CachedSecretStore } from "../../src/secrets/cached-secret-store.js";
import { ClientCredentials } from "../../src/secrets/credentials.js";
import type { SecretReadResult, SecretStore } from "../../src/secrets/secret-store.js";
import type { Tenant } from "../../src/tenants/tenant.js";
import type { SharedToken, SharedTokenRequest, SharedTokenStore } from "../../src/tokens/shared-tokens.js";
import type { TokenEndpoint } from "../../src/tokens/token-endpoint.js";
import { TokenProvider, type TokenEntry } from "../../src/tokens/token-provider.js";
import { isTokenSourceError } from "../../src/tokens/token-source-errors.js";

const tenant: Tenant = { id: "acme", divisions: ["d"], environment: "example.com", profile: GENESYS_CLOUD, apiHost: "api.example.com", tokenUrl: "https://login.example.com/oauth/token", credentialsKey: "acme", allowedPrincipals: [], allowedNamespaces: [], source: "config" };
const never = new AbortController().signal;

class Endpoint implements TokenEndpoint {
  calls = 0;
  next: TokenResult | undefined;
  async requestToken(_r: TokenRequest): Promise<TokenResult> {
    this.calls++;
    const r = this.next ?? { kind: "token", token: { authorization: `Bearer local-${this.calls}`, expiresInSeconds: 3600 } };
    this.next = undefined;
    return r;
  }
}

class Secrets implements SecretStore {
  clientId = "acme-client";
  async read(): Promise<SecretReadResult> {
    return { kind: "found", record: { credentials: new ClientCredentials(this.clientId, "s") } };
  }
}

/** Answers from `shared` when set (another replica's token), else mints through the provider. Records every ask. */
class MemoryFleet implements SharedTokenStore {
  asks: { origin: SharedTokenRequest["origin"]; have: TokenEntry | undefined }[] = [];
  shared: SharedToken | undefined;
  async obtain(req: SharedTokenRequest): Promise<TokenEntry> {
    this.asks.push({ origin: req.origin, have: req.have });
    if (this.shared && (req.have === undefined || this.shared.mintedAtMs > req.have.mintedAtMs)) return req.adopt(this.shared);
    return req.mint();
  }
}

function setup() {
  let now = 1_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const endpoint = new Endpoint();
  const secrets = new Secrets();
  const fleet = new MemoryFleet();
  const cache = new CachedSecretStore(secrets, { ttlMs: 3_600_000, negativeTtlMs: 1000, maxStaleMs: 0, max: 100, loadTimeoutMs: 1000, now: clock.now });
  const tokens = new TokenProvider({
    endpoint,
    secrets: cache,
    skewSeconds: 60,
    refreshAt: 0.8,
    max: 100,
    requestTimeoutMs: 1000,
    rejectedBackoffSeconds: 30,
    now: clock.now,
    random: () => 0,
    shared: fleet,
  });
  return { clock, endpoint, secrets, cache, fleet, tokens };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("TokenProvider minting through a shared store", () => {
  it("asks the store on a miss, with the origin the token must have, and never for a cached tenant", async () => {
    const { fleet, tokens, endpoint } = setup();
    fleet.shared = { authorization: "Bearer from-the-fleet", mintedAtMs: 999_000, expiresAtMs: 999_000 + 3_540_000 };
    const got = await tokens.get(tenant, never);
    expect("entry" in got && got.entry.authorization).toBe("Bearer from-the-fleet");
    expect(fleet.asks).toEqual([{ origin: { tokenUrl: tenant.tokenUrl, credentialsKey: "acme", clientId: "acme-client", subject: undefined }, have: undefined }]);
    expect(endpoint.calls).toBe(0);
    for (let i = 0; i < 50; i++) expect(tokens.peek(tenant)?.authorization).toBe("Bearer from-the-fleet");
    await tokens.get(tenant, never);
    expect(fleet.asks).toHaveLength(1);
  });

  it("serves an adopted token until the minter's expiry, refreshing at its own point of that lifetime", async () => {
    const { fleet, tokens, clock } = setup();
    const mintedAtMs = clock.now() - 1_000_000; // minted 1000 s ago elsewhere
    fleet.shared = { authorization: "Bearer old-ish", mintedAtMs, expiresAtMs: mintedAtMs + 3_540_000 };
    const got = await tokens.get(tenant, never);
    const entry = "entry" in got ? got.entry : undefined;
    expect(entry?.expiresAtMs).toBe(mintedAtMs + 3_540_000);
    expect(entry?.refreshAtMs).toBe(mintedAtMs + 3_540_000 * 0.8);
    expect(entry?.mintedAtMs).toBe(mintedAtMs);
  });

  it("a refresh asks with the token it holds, and adopts a newer one instead of minting", async () => {
    const { fleet, tokens, clock, endpoint } = setup();
    await tokens.get(tenant, never); // minted here (the store had none)
    expect(endpoint.calls).toBe(1);
    const held = tokens.peek(tenant)!;
    fleet.shared = { authorization: "Bearer refreshed-elsewhere", mintedAtMs: clock.now() + 2_800_000, expiresAtMs: clock.now() + 2_800_000 + 3_540_000 };
    clock.advance(2_900_000); // past the refresh point
    expect(tokens.peek(tenant)?.authorization).toBe(held.authorization); // still served while the refresh runs
    await settle();
    await settle();
    expect(fleet.asks.at(-1)?.have).toBe(held);
    expect(tokens.peek(tenant)?.authorization).toBe("Bearer refreshed-elsewhere");
    expect(endpoint.calls).toBe(1);
  });

  it("a rotated client asks under the new origin, never adopting the old client's token", async () => {
    const { fleet, tokens, secrets, cache } = setup();
    await tokens.get(tenant, never);
    secrets.clientId = "acme-client-v2";
    cache.evict("acme"); // what scopegate evict does (token and record); otherwise within secrets.cacheTtlSeconds
    tokens.evict(tenant.id);
    await tokens.get(tenant, never);
    expect(fleet.asks.map((a) => a.origin.clientId)).toEqual(["acme-client", "acme-client-v2"]);
  });

  it("a mint that fails through the store is the provider's error (here 429: paused, answered rate_limited)", async () => {
    const { endpoint, tokens } = setup();
    endpoint.next = { kind: "error", error: { code: "rate_limited", httpStatus: 429, retryAfterSeconds: 7 } };
    const got = await tokens.get(tenant, never);
    expect(isTokenSourceError(got) && got.code).toBe("rate_limited");
    const again = await tokens.get(tenant, never);
    expect(isTokenSourceError(again) && again.code).toBe("rate_limited");
    expect(endpoint.calls).toBe(1);
  });
});
