/**
 * The core data path through a real Envoy (deploy/envoy templates), a real OpenBao dev server, scopegate
 * and the Genesys stand-in as upstream. Assertions are about what upstream received.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForAccessLog } from "../support/envoy.js";
import { waitFor } from "../support/ports.js";
import { rawHeader, send, startStack, type Stack } from "../support/stack.js";

const ACME = { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-SECRET-1", via: "config" } as const;
const GLOBEX = { id: "globex", divisions: ["div-globex-1", "div-globex-2"], clientId: "globex-client", clientSecret: "globex-SECRET-2", via: "vault" } as const;

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ tenants: [{ ...ACME, divisions: [...ACME.divisions] }, { ...GLOBEX, divisions: [...GLOBEX.divisions] }] });
});
afterAll(async () => {
  await stack?.stop();
});

function lastReceived() {
  const r = stack.standin.received.at(-1);
  if (!r) throw new Error("upstream received nothing");
  return r;
}

describe("allowed requests", () => {
  it("replace the caller's Authorization with exactly one tenant token, set divisionId, drop the tenant header", async () => {
    const before = stack.standin.received.length;
    const res = await send(stack.envoy, "/api/v2/routing/queues?pageSize=5", {
      "x-tenant-id": "acme",
      authorization: "Bearer caller-own-token",
    });
    expect(res.status).toBe(200);
    expect(stack.standin.received.length).toBe(before + 1);
    const r = lastReceived();
    const auth = rawHeader(r.headers, "authorization");
    expect(auth).toHaveLength(1);
    expect(auth[0]).not.toContain("caller-own-token");
    expect(r.tokenClientId).toBe("acme-client");
    expect(rawHeader(r.headers, "x-tenant-id")).toEqual([]);
    const q = new URLSearchParams(r.query);
    expect(q.getAll("divisionId")).toEqual(["div-acme"]);
    expect(q.get("pageSize")).toBe("5");
  });

  it("send exactly one divisionId when the caller repeated it in several spellings", async () => {
    const res = await send(stack.envoy, "/api/v2/routing/queues?divisionId=div-acme&DIVISIONID=div-acme&divisionId=div-acme", {
      "x-tenant-id": "acme",
    });
    expect(res.status).toBe(200);
    const q = new URLSearchParams(lastReceived().query);
    expect([...q.keys()].filter((k) => k.toLowerCase().startsWith("division"))).toEqual(["divisionId"]);
    expect(q.getAll("divisionId")).toEqual(["div-acme"]);
  });

  it("use the route's own parameter name (divisionIds) and all of a tenant's divisions", async () => {
    const res = await send(stack.envoy, "/api/v2/scripts", { "x-tenant-id": "globex" });
    expect(res.status).toBe(200);
    const r = lastReceived();
    expect(r.tokenClientId).toBe("globex-client");
    const q = new URLSearchParams(r.query);
    expect(q.getAll("divisionIds")).toEqual(["div-globex-1,div-globex-2"]);
    expect(q.has("divisionId")).toBe(false);
  });

  it("add no division parameter where the API takes none, and strip a caller's", async () => {
    const res = await send(stack.envoy, "/api/v2/users?divisionId=div-other&pageSize=1", { "x-tenant-id": "acme" });
    expect(res.status).toBe(200);
    const q = new URLSearchParams(lastReceived().query);
    expect(q.has("divisionId")).toBe(false);
    expect(q.get("pageSize")).toBe("1");
  });

  it("work with Check over TCP too", async () => {
    const tcp = await stack.startEnvoy("tcp");
    const res = await send(tcp, "/api/v2/flows", { "x-tenant-id": "acme" });
    expect(res.status).toBe(200);
    expect(lastReceived().tokenClientId).toBe("acme-client");
    expect(new URLSearchParams(lastReceived().query).getAll("divisionId")).toEqual(["div-acme"]);
  });
});

describe("denied requests never reach upstream", () => {
  it.each([
    [{}, 400, "tenant_missing"],
    [{ "x-tenant-id": "" }, 400, "tenant_missing"],
    [{ "x-tenant-id": "Not Valid!" }, 400, "tenant_invalid"],
    [{ "x-tenant-id": "../secret" }, 400, "tenant_invalid"],
    [{ "x-tenant-id": "nobody" }, 403, "tenant_unknown"],
  ] as const)("%j -> %i %s", async (headers, status, reason) => {
    const before = stack.standin.received.length;
    const res = await send(stack.envoy, "/api/v2/routing/queues", { ...headers });
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toEqual({ error: reason, message: expect.any(String) });
    expect(res.headers.get("x-scopegate-reason")).toBe(reason);
    expect(stack.standin.received.length).toBe(before);
  });

  it("a repeated tenant header is ambiguous", async () => {
    const before = stack.standin.received.length;
    const h = new Headers();
    h.append("x-tenant-id", "acme");
    h.append("x-tenant-id", "globex");
    const res = await fetch(`${stack.envoy.url}/api/v2/flows`, { headers: h });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-scopegate-reason")).toBe("tenant_ambiguous");
    expect(stack.standin.received.length).toBe(before);
  });

  it("a division outside the tenant's set is denied, not rewritten", async () => {
    const before = stack.standin.received.length;
    const res = await send(stack.envoy, "/api/v2/routing/queues?divisionId=div-globex-1", { "x-tenant-id": "acme" });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error).toBe("division_forbidden");
    expect(stack.standin.received.length).toBe(before);
  });

  it("deny bodies and headers carry no token or secret", async () => {
    const res = await send(stack.envoy, "/api/v2/routing/queues?divisionId=x", { "x-tenant-id": "acme", authorization: "Bearer caller" });
    const all = `${res.body} ${[...res.headers].join(" ")}`;
    for (const token of stack.standin.issuedTokens.keys()) expect(all).not.toContain(token);
    expect(all).not.toContain("SECRET");
  });
});

describe("isolation and caching", () => {
  it("two tenants interleaved never see each other's token or divisions", async () => {
    const before = stack.standin.received.length;
    const jobs = Array.from({ length: 200 }, (_, i) => {
      const tenant = i % 2 === 0 ? "acme" : "globex";
      return send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": tenant }).then((r) => ({ tenant, status: r.status }));
    });
    const results = await Promise.all(jobs);
    expect(results.every((r) => r.status === 200)).toBe(true);
    const got = stack.standin.received.slice(before);
    expect(got).toHaveLength(200);
    const byClient = { "acme-client": ["div-acme"], "globex-client": ["div-globex-1", "div-globex-2"] } as Record<string, string[]>;
    let mismatches = 0;
    for (const r of got) {
      const divisions = new URLSearchParams(r.query).getAll("divisionId").flatMap((v) => v.split(","));
      if (!r.tokenClientId || divisions.join() !== byClient[r.tokenClientId]!.join()) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(got.filter((r) => r.tokenClientId === "acme-client")).toHaveLength(100);
    expect(stack.standin.receivedMismatches()).toBe(0);
  });

  it("N concurrent first requests for a tenant cause exactly one token request", async () => {
    await stack.addTenant({ id: "initech", divisions: ["div-initech"], clientId: "initech-client", clientSecret: "initech-SECRET-3", via: "vault" });
    expect(stack.standin.tokenRequestsFor("initech-client")).toBe(0);
    const results = await Promise.all(
      Array.from({ length: 40 }, () => send(stack.envoy, "/api/v2/flows", { "x-tenant-id": "initech" })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(40).fill(200));
    expect(stack.standin.tokenRequestsFor("initech-client")).toBe(1);
  });

  it("a tenant written into Vault is served without restart; cached tokens make no further token requests", async () => {
    const before = stack.standin.tokenRequests;
    for (let i = 0; i < 20; i++) {
      expect((await send(stack.envoy, "/api/v2/flows", { "x-tenant-id": "globex" })).status).toBe(200);
    }
    expect(stack.standin.tokenRequests).toBe(before);
  });
});

describe("logs", () => {
  it("a denial is scopegate's line; an allow is Envoy's access-log line, naming the tenant; no secrets in either", async () => {
    expect((await send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "acme" })).status).toBe(200);
    // Envoy (edge, use_remote_address) generates x-request-id; the same id reaches upstream and the access log.
    const requestId = rawHeader(lastReceived().headers, "x-request-id")[0]!;
    expect(requestId).toBeTruthy();
    expect(await waitForAccessLog(stack.envoy, requestId)).toMatchObject({ status: 200, scopegate_decision: "allow", tenant: "acme", divisions: "div-acme" });
    const denied = `deny-${randomUUID()}`;
    expect((await send(stack.envoy, "/api/v2/routing/queues?divisionId=div-globex-1", { "x-tenant-id": "acme", "x-request-id": denied })).status).toBe(403);
    await waitFor(() => stack.logs.records().some((r) => r["requestId"] === denied), 5_000, { what: "the denial's line" });
    const line = stack.logs.records().find((r) => r["requestId"] === denied);
    expect(line).toMatchObject({ msg: "check", tenant: "acme", decision: "deny", reason: "division_forbidden" });
    expect(typeof line?.["durationMs"]).toBe("number");
    // logging.decisions' default: the allow (logged before the denial) has no line of scopegate's.
    expect(stack.logs.records().filter((r) => r["requestId"] === requestId)).toEqual([]);
    for (const token of stack.standin.issuedTokens.keys()) expect(stack.envoy.process.stdout()).not.toContain(token);
    const text = stack.logs.text;
    for (const token of stack.standin.issuedTokens.keys()) expect(text).not.toContain(token);
    expect(text).not.toMatch(/SECRET-\d/);
    expect(text).not.toContain(stack.bao.rootToken);
  });
});
