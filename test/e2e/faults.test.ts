/**
 * Failure modes with the real components: OpenBao sealed, stopped and restarted; the token endpoint
 * failing, rate limiting, hanging; a secret rotated. Asserts which requests were served and which denied,
 * and that upstream never saw a request with a wrong or expired token.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kvPut, sealVault, startOpenBao, unseal } from "../support/openbao.js";
import { send, startStack, type Stack, STACK_ENV, STACK_NAMESPACE } from "../support/stack.js";

let stack: Stack;
const ACME = { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-S1", via: "config" as const };

beforeAll(async () => {
  stack = await startStack({
    tenants: [ACME],
    // Short cache lifetimes so the suite sees TTLs pass; generous envoy timeout for the hang case.
    config: { secrets: { cacheTtlSeconds: 1, maxStaleSeconds: 600 } },
    envoyTimeoutMs: 1500,
  });
});
afterAll(async () => {
  await stack?.stop();
});

const get = (tenant: string, path = "/api/v2/flows") => send(stack.envoy, path, { "x-tenant-id": tenant });

/** Upstream never accepted a request whose token was unknown, expired, or duplicated. */
function upstreamRejections(): number {
  return stack.standin.received.filter((r) => r.status !== 200).length;
}

describe("Vault outages", () => {
  it("sealed: cached tenants keep being served; tenants that need Vault get 503 + Retry-After; unseal recovers", async () => {
    expect((await get("acme")).status).toBe(200);
    // shorty's tokens live 3 s: it must keep refreshing while Vault is sealed, from the (stale) cached secret.
    await stack.addTenant({ id: "shorty", divisions: ["div-s"], clientId: "shorty-client", clientSecret: "shorty-S1", via: "vault", expiresIn: 3 });
    expect((await get("shorty")).status).toBe(200);
    await stack.addTenant({ id: "newco", divisions: ["div-newco"], clientId: "newco-client", clientSecret: "newco-S1", via: "vault" });
    await sealVault(stack.bao.address, stack.bao.rootToken);
    try {
      await new Promise((r) => setTimeout(r, 1200)); // let the 1 s secret TTL pass: served only as bounded-stale
      for (let i = 0; i < 5; i++) expect((await get("acme")).status).toBe(200);
      const until = Date.now() + 3500;
      while (Date.now() < until) {
        expect((await get("shorty")).status).toBe(200);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(stack.standin.tokenRequestsFor("shorty-client")).toBeGreaterThanOrEqual(2);
      const denied = await get("newco");
      expect(denied.status).toBe(503);
      expect(JSON.parse(denied.body).error).toBe("secrets_unavailable");
      expect(Number(denied.headers.get("retry-after"))).toBeGreaterThan(0);
    } finally {
      await unseal(stack.bao.address, stack.bao.unsealKey);
    }
    expect((await get("newco")).status).toBe(200);
    expect(upstreamRejections()).toBe(0);
  });

  it("stopped and restarted: cached tenants served throughout; recovery needs no scopegate restart", async () => {
    const { address, rootToken } = stack.bao;
    const port = Number(new URL(address).port);
    await stack.bao.stop();
    expect((await get("acme")).status).toBe(200);
    const down = await get("brandnew");
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body).error).toBe("secrets_unavailable");
    stack.bao = await startOpenBao({ port, rootToken });
    // A fresh dev server is empty: the operator re-seeds it (here: the same records).
    await stack.addTenant({ id: "brandnew", divisions: ["div-bn"], clientId: "bn-client", clientSecret: "bn-S1", via: "vault" });
    const until = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < until && (status = (await get("brandnew")).status) !== 200) await new Promise((r) => setTimeout(r, 200));
    expect(status).toBe(200);
    expect(upstreamRejections()).toBe(0);
  });
});

describe("token endpoint trouble", () => {
  it("a 500 is retried with backoff and the request is served", async () => {
    await stack.addTenant({ id: "t500", divisions: ["d500"], clientId: "c500", clientSecret: "s500", via: "vault" });
    stack.standin.failNext(1, 500);
    expect((await get("t500")).status).toBe(200);
    expect(stack.standin.tokenRequestsFor("c500")).toBe(2);
  });

  it("429 + Retry-After: denied with that Retry-After and no token request until it passes", async () => {
    await stack.addTenant({ id: "t429", divisions: ["d429"], clientId: "c429", clientSecret: "s429", via: "vault" });
    stack.standin.rateLimitNext(1, 2);
    const first = await get("t429");
    expect(first.status).toBe(503);
    expect(JSON.parse(first.body).error).toBe("token_rate_limited");
    expect(first.headers.get("retry-after")).toBe("2");
    for (let i = 0; i < 5; i++) expect((await get("t429")).status).toBe(503);
    expect(stack.standin.tokenRequestsFor("c429")).toBe(1);
    await new Promise((r) => setTimeout(r, 2100));
    expect((await get("t429")).status).toBe(200);
    expect(stack.standin.tokenRequestsFor("c429")).toBe(2);
  });

  it("a hanging token endpoint: the request fails closed within Envoy's timeout, nothing reaches upstream", async () => {
    await stack.addTenant({ id: "thang", divisions: ["dh"], clientId: "chang", clientSecret: "shang", via: "vault" });
    const before = stack.standin.received.length;
    stack.standin.hang(true);
    try {
      const started = Date.now();
      const res = await get("thang");
      expect(res.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      stack.standin.hang(false);
    }
    expect(stack.standin.received.length).toBe(before);
  });

  it("a rotated secret is picked up on invalid_client without a restart; the old token serves until then", async () => {
    await stack.addTenant({ id: "trot", divisions: ["drot"], clientId: "crot", clientSecret: "old-secret", via: "vault", expiresIn: 3 });
    expect((await get("trot")).status).toBe(200);
    // Rotate at the source and in Vault (scopegate still caches the old secret for up to its TTL).
    stack.standin.rotateSecret("crot", "new-secret");
    await kvPut(stack.bao.address, stack.bao.rootToken, "secret", "scopegate/tenants/trot", {
      client_id: "crot",
      client_secret: "new-secret",
      divisions: "drot",
      environment: STACK_ENV,
      allowed_namespaces: STACK_NAMESPACE,
    });
    const statuses: number[] = [];
    const until = Date.now() + 6000; // spans a full token lifetime (3 s), so a new token must be minted
    while (Date.now() < until) {
      statuses.push((await get("trot")).status);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    const calls = stack.standin.tokenCalls.filter((c) => c.clientId === "crot");
    expect(calls.filter((c) => c.status === 200).length).toBeGreaterThanOrEqual(2);
    expect(upstreamRejections()).toBe(0);
  });
});
