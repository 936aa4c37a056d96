// Multi-worker mode's token channel, in-process: a worker's RemoteTokenSource against a TokenBroker over a fake
// IPC channel. Outcomes asserted: what each check got, and how many questions reached the primary.
import { describe, expect, it } from "vitest";
import { deny } from "../../src/authz/deny-reasons.js";
import { denialOf } from "../../src/authz/layer-errors.js";
import { RemoteTokenSource, TokenBroker } from "../../src/cluster/index.js";
import { errorFromAnswer, type ClusterMessage, type TokenAnswer } from "../../src/cluster/protocol.js";
import { REGISTRY_ERRORS, type RegistryError } from "../../src/tenants/registry.js";
import type { Tenant } from "../../src/tenants/tenant.js";
import { TokenEntry, type TokenLookup } from "../../src/tokens/token-provider.js";
import { isTokenSourceError, TOKEN_SOURCE_ERRORS, tokenSourceError, type TokenSourceError } from "../../src/tokens/token-source-errors.js";

// RemoteTokenSource and TokenBroker read a tenant's id; the worker also notes which definition (object) it
// asked for, so one object stands for the tenant as the registry would hand it out.
const tenant = (id: string): Tenant => ({ id }) as Tenant;
const ACME = tenant("acme");
const signal = (): AbortSignal => AbortSignal.timeout(5_000);

/** The primary end of the channel: questions are queued until the test answers them. */
class FakePrimary {
  readonly asked: { id: number; tenantId: string }[] = [];
  source!: RemoteTokenSource;
  send(m: ClusterMessage): void {
    if (m.type === "token.ask") this.asked.push({ id: m.id, tenantId: m.tenantId });
  }
  answer(i: number, answer: TokenAnswer): void {
    this.source.handle({ tag: "scopegate.cluster", type: "token.reply", id: this.asked[i]!.id, answer });
  }
}

function setup() {
  let now = 1_000_000;
  const primary = new FakePrimary();
  const source = new RemoteTokenSource({ channel: primary, max: 100, askTimeoutMs: 5_000, retryMs: 1_000, now: () => now });
  primary.source = source;
  const token = (n: number, lifeMs = 60_000): TokenAnswer => ({
    kind: "token",
    token: { authorization: `Bearer t${n}`, expiresAtMs: now + lifeMs, refreshAtMs: now + lifeMs / 2 },
  });
  return { primary, source, token, advance: (ms: number) => (now += ms) };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
const entryOf = (r: TokenLookup | TokenSourceError): TokenLookup => {
  if (isTokenSourceError(r)) throw new Error(`no token: ${r.code}`);
  return r;
};

describe("RemoteTokenSource (worker side)", () => {
  it("forgets a tenant's token when the primary evicts it, and asks again on the next check", async () => {
    const { primary, source, token } = setup();
    const first = source.get(ACME, signal());
    await settle();
    primary.answer(0, token(1));
    expect(entryOf(await first).entry.authorization).toBe("Bearer t1");
    expect(source.peek(ACME)?.authorization).toBe("Bearer t1");
    source.evict("acme");
    expect(source.peek(ACME)).toBeUndefined();
    const next = source.get(ACME, signal());
    await settle();
    expect(primary.asked).toHaveLength(2);
    primary.answer(1, token(2));
    expect(entryOf(await next)).toMatchObject({ cache: "miss", entry: { authorization: "Bearer t2" } });
  });

  it("concurrent misses for a tenant ask the primary once; later checks are local hits", async () => {
    const { primary, source, token } = setup();
    const waiting = [source.get(ACME, signal()), source.get(ACME, signal()), source.get(ACME, signal())];
    await settle();
    expect(primary.asked).toHaveLength(1);
    primary.answer(0, token(1));
    const got = (await Promise.all(waiting)).map(entryOf);
    expect(got.map((g) => [g.entry.authorization, g.cache])).toEqual([
      ["Bearer t1", "miss"],
      ["Bearer t1", "miss"],
      ["Bearer t1", "miss"],
    ]);
    const hit = entryOf(await source.get(ACME, signal()));
    expect(hit).toMatchObject({ cache: "hit", entry: { authorization: "Bearer t1" } });
    expect(primary.asked).toHaveLength(1);
  });

  it("past the refresh point: keeps serving, asks in the background at most once per retry interval", async () => {
    const { primary, source, token, advance } = setup();
    const first = source.get(ACME, signal());
    await settle();
    primary.answer(0, token(1));
    await first;
    advance(31_000); // past refreshAtMs (30 s), before expiry (60 s)
    expect(entryOf(await source.get(ACME, signal())).entry.authorization).toBe("Bearer t1");
    expect(entryOf(await source.get(ACME, signal())).entry.authorization).toBe("Bearer t1");
    expect(primary.asked).toHaveLength(2);
    primary.answer(1, token(1)); // the primary has not refreshed yet: same token
    await settle();
    await source.get(ACME, signal());
    expect(primary.asked).toHaveLength(2); // within retryMs
    advance(1_000);
    await source.get(ACME, signal());
    expect(primary.asked).toHaveLength(3);
    primary.answer(2, token(2));
    await settle();
    expect(entryOf(await source.get(ACME, signal())).entry.authorization).toBe("Bearer t2");
  });

  it("never serves an expired token: asks again and waits", async () => {
    const { primary, source, token, advance } = setup();
    const first = source.get(ACME, signal());
    await settle();
    primary.answer(0, token(1, 10_000));
    await first;
    advance(10_000);
    const again = source.get(ACME, signal());
    await settle();
    expect(primary.asked).toHaveLength(2);
    primary.answer(1, token(2));
    expect(entryOf(await again)).toMatchObject({ cache: "miss", entry: { authorization: "Bearer t2" } });
  });

  it("passes the primary's error on and does not cache it", async () => {
    const { primary, source, token } = setup();
    const denied = source.get(ACME, signal());
    await settle();
    primary.answer(0, { kind: "error", code: "rate_limited", retryAfterSeconds: 7 });
    expect(await denied).toEqual(tokenSourceError("rate_limited", 7));
    const retry = source.get(ACME, signal());
    await settle();
    expect(primary.asked).toHaveLength(2);
    primary.answer(1, token(1));
    expect(entryOf(await retry).entry.authorization).toBe("Bearer t1");
  });

  it("a caller whose deadline passes gets deadline; the late answer still fills the cache", async () => {
    const { primary, source, token } = setup();
    const controller = new AbortController();
    const waiting = source.get(ACME, controller.signal);
    await settle();
    controller.abort();
    expect(await waiting).toBe(TOKEN_SOURCE_ERRORS.deadline);
    primary.answer(0, token(1));
    await settle();
    expect(entryOf(await source.get(ACME, signal())).cache).toBe("hit");
    expect(primary.asked).toHaveLength(1);
  });

  it("fails closed when the IPC channel is gone", async () => {
    const source = new RemoteTokenSource({
      channel: {
        send() {
          throw new Error("IPC channel closed");
        },
      },
      max: 10,
      askTimeoutMs: 1_000,
    });
    expect(await source.get(ACME, signal())).toBe(TOKEN_SOURCE_ERRORS.unavailable);
  });
});

describe("RemoteTokenSource after a reload (a new tenant definition)", () => {
  it("does not serve the old definition's token locally: asks the primary, keeps the entry if the token is the same", async () => {
    const { primary, source, token } = setup();
    const first = source.get(ACME, signal());
    await settle();
    primary.answer(0, token(1));
    await first;
    const reloaded = tenant("acme");
    expect(source.peek(reloaded)).toBeUndefined();
    const same = source.get(reloaded, signal());
    await settle();
    expect(primary.asked).toHaveLength(2);
    primary.answer(1, token(1)); // the primary says the token still fits
    expect(entryOf(await same)).toMatchObject({ cache: "miss", entry: { authorization: "Bearer t1" } });
    expect(source.peek(reloaded)?.authorization).toBe("Bearer t1");
    const moved = tenant("acme");
    const other = source.get(moved, signal());
    await settle();
    primary.answer(2, token(2)); // the primary minted for the new definition
    expect(entryOf(await other).entry.authorization).toBe("Bearer t2");
    expect(source.peek(moved)?.authorization).toBe("Bearer t2");
    expect(primary.asked).toHaveLength(3);
  });
});

describe("TokenBroker (primary side)", () => {
  const entry = new TokenEntry("Bearer primary", 2_000_000, 1_500_000);
  const registry = {
    peek: (id: string): Tenant | RegistryError | undefined => (id === "acme" ? ACME : id === "ghost" ? REGISTRY_ERRORS.unknown : id === "dark" ? REGISTRY_ERRORS.store_unavailable : undefined),
    resolve: async (id: string): Promise<Tenant | RegistryError> => (id === "found-later" ? tenant(id) : REGISTRY_ERRORS.unknown),
  };

  it("answers with the primary's token, resolving the tenant itself", async () => {
    const asked: string[] = [];
    const broker = new TokenBroker({
      registry,
      tokens: { get: async (t) => (asked.push(t.id), { entry, cache: "hit" as const }) },
    });
    expect(await broker.answer({ tenantId: "acme", budgetMs: 1_000 })).toEqual({
      kind: "token",
      token: { authorization: "Bearer primary", expiresAtMs: 2_000_000, refreshAtMs: 1_500_000 },
    });
    expect(await broker.answer({ tenantId: "found-later", budgetMs: 1_000 })).toMatchObject({ kind: "token" });
    expect(asked).toEqual(["acme", "found-later"]);
  });

  it("passes errors through in the token source's codes: unknown tenant, token provider errors, failures", async () => {
    const broker = new TokenBroker({ registry, tokens: { get: async () => tokenSourceError("rejected", 30) } });
    expect(await broker.answer({ tenantId: "ghost", budgetMs: 1_000 })).toEqual({ kind: "error", code: "tenant_unknown" });
    expect(await broker.answer({ tenantId: "dark", budgetMs: 1_000 })).toEqual({ kind: "error", code: "store_unavailable" });
    expect(await broker.answer({ tenantId: "acme", budgetMs: 1_000 })).toEqual({ kind: "error", code: "rejected", retryAfterSeconds: 30 });
    const failing = new TokenBroker({
      registry,
      tokens: {
        get: async () => {
          throw new Error("boom");
        },
      },
    });
    expect(await failing.answer({ tenantId: "acme", budgetMs: 1_000 })).toEqual({ kind: "error", code: "internal" });
  });

  it("a worker's authorizer denies with the reasons a single process would give", () => {
    const reason = (answer: Extract<TokenAnswer, { kind: "error" }>, request: "api" | "login" = "api") => denialOf(errorFromAnswer(answer), request);
    expect(reason({ kind: "error", code: "tenant_unknown" })).toEqual(deny("tenant_unknown"));
    expect(reason({ kind: "error", code: "store_unavailable" })).toEqual(deny("secrets_unavailable"));
    expect(reason({ kind: "error", code: "rejected", retryAfterSeconds: 30 })).toEqual(deny("token_rejected", 30));
    expect(reason({ kind: "error", code: "rate_limited", retryAfterSeconds: 7 }, "login")).toEqual(deny("token_rate_limited", 7));
    expect(reason({ kind: "error", code: "internal" })).toEqual(deny("internal_error"));
  });
});
