// Gateway login through the shipped sidecar config (deploy/envoy/envoy-sidecar.yaml), real Envoy, scopegate,
// OpenBao and the Genesys stand-in: unmodified apps on the official SDKs log in with client credentials (client id =
// tenant id, any secret) and receive a gateway token; their API calls carry it, no tenant header, and reach the
// region with the tenant's real token. The app never holds the Genesys token.
import { randomBytes } from "node:crypto";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname } from "node:path";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApp, type App } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import { mintGatewayToken, type GatewayKeyring } from "../../src/gateway/gateway-token.js";
import { createLogger } from "../../src/observability/logger.js";
import { envoyConfigFor, startEnvoy, waitForAccessLog, type Envoy } from "../support/envoy.js";
import { waitFor } from "../support/ports.js";
import { runSdkApp, type SdkLanguage, ALL_CALLS_OK, SDK_APP_PATHS } from "../support/sdk-apps.js";
import { rawHeader, send, startStack, STACK_IDENTITY, STACK_NAMESPACE, type Stack } from "../support/stack.js";
import { repoRoot } from "../support/tools.js";
import { randomUUID } from "node:crypto";

const OTHER_IDENTITY = `spiffe://cluster.local/ns/${STACK_NAMESPACE}/sa/other`;

let stack: Stack;
let keysFile: string;
let ring: GatewayKeyring;
const newKey = (): Buffer => randomBytes(32);

async function writeKeys(current: string, keys: Record<string, Buffer>): Promise<void> {
  // Written aside and renamed, as a Secret volume swaps its files.
  const tmp = `${keysFile}.tmp`;
  await writeFile(tmp, JSON.stringify({ current, keys: Object.fromEntries(Object.entries(keys).map(([id, k]) => [id, k.toString("base64")])) }));
  await rename(tmp, keysFile);
}

const basic = (id: string, secret = "anything"): string => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

async function login(
  envoy: Envoy,
  id: string,
  path = "/oauth/token",
  body = "grant_type=client_credentials",
  extra: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${envoy.url}${path}`, {
    method: "POST",
    headers: { authorization: basic(id), "content-type": "application/x-www-form-urlencoded", ...extra },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

beforeAll(async () => {
  const k1 = newKey();
  ring = { current: "k1", keys: new Map([["k1", k1]]) };
  // The keys file lives in its own folder, written before scopegate starts.
  keysFile = join(await mkdtemp(join(tmpdir(), "scopegate-keys-")), "gateway-keys.json");
  await writeKeys("k1", { k1 });
  stack = await startStack({
    tenants: [
      { id: "acme", divisions: ["div-acme-1", "div-acme-2"], clientId: "acme-client", clientSecret: "acme-GENESYS-secret", via: "config", allowedNamespaces: [STACK_NAMESPACE] },
      { id: "globex", divisions: ["div-globex"], clientId: "globex-client", clientSecret: "globex-GENESYS-secret", via: "config", allowedNamespaces: ["globex"] },
      { id: "brief", divisions: ["div-brief"], clientId: "brief-client", clientSecret: "brief-GENESYS-secret", via: "vault", expiresIn: 120 },
    ],
    config: { gatewayTokens: { keysFile, ttlSeconds: 3600 }, reload: { pollIntervalMs: 100 } },
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  if (keysFile) await rm(dirname(keysFile), { recursive: true, force: true });
});

describe.each(["python", "javascript"] as SdkLanguage[])("the %s SDK logs in through the sidecar gateway", (language) => {
  it("logs in as its tenant, then lists queues (with and without a division), scripts and users/me with the tenant's token", async () => {
    const region = stack.standin;
    const before = region.received.length;
    const out = await runSdkApp(language, { port: stack.envoy.port, login: "acme", secret: "anything", division: "div-acme-2" });
    expect(out.login).toBe("ok");
    expect(out.calls).toEqual(ALL_CALLS_OK);
    const got = region.received.slice(before);
    expect(got.map((r) => r.path)).toEqual(SDK_APP_PATHS);
    for (const r of got) {
      expect(r.tokenClientId).toBe("acme-client");
      expect(rawHeader(r.headers, "authorization")).toHaveLength(1);
      expect(rawHeader(r.headers, "authorization")[0]).not.toContain("sgw1.");
    }
    expect(new URLSearchParams(got[1]!.query).get("divisionId")).toBe("div-acme-2");
    // The SDK holds the gateway token, never the tenant's Genesys token.
    expect(out.heldToken).toMatch(/^sgw1\.k1\./);
    expect(region.issuedTokens.has(out.heldToken!)).toBe(false);
    for (const issued of region.issuedTokens.keys()) expect(out.heldToken).not.toContain(issued);
  });

  it("honours the SDK's login path prefix (path_params_login)", async () => {
    const out = await runSdkApp(language, { port: stack.envoy.port, login: "acme", secret: "anything", loginPrefix: "login" });
    expect(out.login).toBe("ok");
    expect(out.calls.every((c) => c.status === 200)).toBe(true);
    expect(out.heldToken).toMatch(/^sgw1\./);
  });

  it("an app bound to acme cannot log in as globex (401), and nothing reaches the region", async () => {
    const before = stack.standin.received.length;
    const tokenRequests = stack.standin.tokenRequestsFor("globex-client");
    const out = await runSdkApp(language, { port: stack.envoy.port, login: "globex", secret: "anything" });
    expect(out.login).toBe(401);
    expect(out.calls).toEqual([]);
    expect(stack.standin.received.length).toBe(before);
    expect(stack.standin.tokenRequestsFor("globex-client")).toBe(tokenRequests);
  });
});

describe("gateway login answers", () => {
  it("is an RFC 6749 token response: bearer, expires_in, no-store", async () => {
    // This login's line in Envoy's access log is found by its request id.
    const requestId = `login-${randomUUID()}`;
    const res = await login(stack.envoy, "acme", "/oauth/token", "grant_type=client_credentials", { "x-request-id": requestId });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: "bearer", expires_in: expect.any(Number) });
    expect(String(res.json.access_token)).toMatch(/^sgw1\.k1\.[A-Za-z0-9_-]+$/);
    expect(res.json.expires_in as number).toBeLessThanOrEqual(3600);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("pragma")).toBe("no-cache");
    // Envoy answered it itself: its access log shows the login with no upstream, for whom (scopegate's audit
    // record), and never the token.
    const token = String(res.json.access_token);
    const line = await waitForAccessLog(stack.envoy, requestId);
    expect(line).toMatchObject({ path: "/oauth/token", method: "POST", status: 200, upstream_cluster: null, upstream_host: null, response_flags: "UAEX" });
    expect(line).toMatchObject({ scopegate_decision: "login", tenant: "acme", divisions: null });
    expect(stack.envoy.process.stdout()).not.toContain(token.slice(-24));
  });

  it("expires_in never outlives the tenant's Genesys token", async () => {
    // brief's Genesys token lives 120 s, served until 60 s before its expiry.
    const res = await login(stack.envoy, "brief");
    expect(res.status).toBe(200);
    expect(res.json.expires_in as number).toBeGreaterThan(0);
    expect(res.json.expires_in as number).toBeLessThanOrEqual(60);
  });

  it("a login loop causes no token requests: the Genesys token stays one per tenant", async () => {
    await login(stack.envoy, "acme"); // the token is cached by now
    const before = stack.standin.tokenRequestsFor("acme-client");
    const tokens = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const res = await login(stack.envoy, "acme");
      expect(res.status).toBe(200);
      tokens.add(String(res.json.access_token));
    }
    expect(tokens.size).toBe(50);
    expect(stack.standin.tokenRequestsFor("acme-client")).toBe(before);
  });

  it("refuses a grant other than client_credentials (400 unsupported_grant_type): the form body reaches Check", async () => {
    const res = await login(stack.envoy, "acme", "/oauth/token", "grant_type=password&username=a&password=b");
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: "unsupported_grant_type" });
    expect(res.json.access_token).toBeUndefined();
  });

  it("refuses a client id that is no tenant like one the caller may not use (401 invalid_client, WWW-Authenticate: Basic)", async () => {
    for (const id of ["nobody", "globex", "Not A Tenant"]) {
      const res = await login(stack.envoy, id);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ error: "invalid_client", error_description: expect.any(String) });
      expect(res.headers.get("www-authenticate")).toBe("Basic");
    }
  });
});

describe("API calls carrying a gateway token", () => {
  const call = (token: string, headers: Record<string, string> = {}) => send(stack.envoy, "/api/v2/routing/queues", { authorization: `Bearer ${token}`, ...headers });

  it("need no tenant header; a tenant header naming another tenant is denied", async () => {
    const { json } = await login(stack.envoy, "acme");
    const token = String(json.access_token);
    expect((await call(token)).status).toBe(200);
    expect((await call(token, { "x-tenant-id": "acme" })).status).toBe(200);
    const other = await call(token, { "x-tenant-id": "globex" });
    expect(other.status).toBe(403);
    expect(other.headers.get("x-scopegate-reason")).toBe("caller_not_allowed");
  });

  it("an expired, tampered or forged token is refused with 401 and a Bearer challenge", async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = mintGatewayToken(ring, { tenant: "acme", identity: STACK_IDENTITY, iat: now - 100, exp: now - 1 });
    const forged = mintGatewayToken({ current: "k1", keys: new Map([["k1", newKey()]]) }, { tenant: "acme", identity: STACK_IDENTITY, iat: now, exp: now + 600 });
    const { json } = await login(stack.envoy, "acme");
    const good = String(json.access_token);
    const tampered = good.slice(0, -2) + (good.endsWith("A") ? "BB" : "AA");
    const before = stack.standin.received.length;
    for (const token of [expired, forged, tampered, "sgw1.k1.AAAA", "sgw1.nokey.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]) {
      const res = await call(token);
      expect(res.status).toBe(401);
      expect(res.headers.get("x-scopegate-reason")).toBe("gateway_token_invalid");
      expect(res.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    }
    expect(stack.standin.received.length).toBe(before);
    expect((await call(good)).status).toBe(200);
  });

  /** Another scopegate (own process state, same keys file) serving `identity` (callers.localIdentity), and its Envoy. */
  async function replica(identity: string): Promise<{ envoy: Envoy; stop(): Promise<void> }> {
    const socket = join(stack.dir, `replica-${randomBytes(4).toString("hex")}.sock`);
    const app: App = await startApp({
      config: parseConfig({
        ...stack.config,
        listen: { ...stack.config.listen, tcp: null, unixSocket: socket },
        admin: { socket: null },
        callers: { ...stack.config.callers, localIdentity: identity },
      }),
      logger: createLogger("info", stack.logs),
      env: { SCOPEGATE_TEST_VAULT_TOKEN: stack.bao.rootToken },
      defaultMetrics: false,
    });
    const envoy = await startEnvoy({
      configYaml: envoyConfigFor({
        template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
        authz: { unixSocket: socket },
        upstreams: { "mypurecloud.com": { host: "127.0.0.2", port: Number(new URL(stack.standin.url).port) } },
        upstreamTls: { caFile: stack.pki.caFile },
      }),
      concurrency: 1,
    }).catch(async (err: unknown) => {
      await app.stop(500);
      throw err;
    });
    return {
      envoy,
      async stop() {
        await envoy.stop();
        await app.stop(500);
      },
    };
  }

  it("a token is verified by another scopegate with the same keys file (a replica, a restart): no shared state", async () => {
    const { json } = await login(stack.envoy, "acme");
    const r = await replica(STACK_IDENTITY);
    try {
      const before = stack.standin.received.length;
      expect((await send(r.envoy, "/api/v2/routing/queues", { authorization: `Bearer ${String(json.access_token)}` })).status).toBe(200);
      expect(stack.standin.received.slice(before).map((x) => x.tokenClientId)).toEqual(["acme-client"]);
    } finally {
      await r.stop();
    }
  }, 60_000);

  it("a token replayed by another workload identity is refused (401); that workload can log in for itself", async () => {
    const { json } = await login(stack.envoy, "acme");
    const token = String(json.access_token);
    const other = await replica(OTHER_IDENTITY);
    const envoy = other.envoy;
    try {
      const before = stack.standin.received.length;
      const replayed = await send(envoy, "/api/v2/routing/queues", { authorization: `Bearer ${token}` });
      expect(replayed.status).toBe(401);
      expect(replayed.headers.get("x-scopegate-reason")).toBe("gateway_token_invalid");
      expect(stack.standin.received.length).toBe(before);
      // Its own login (same namespace, so bound to acme too) works, and its token is refused at the first workload.
      const own = await login(envoy, "acme");
      expect(own.status).toBe(200);
      expect((await send(envoy, "/api/v2/routing/queues", { authorization: `Bearer ${String(own.json.access_token)}` })).status).toBe(200);
      expect((await call(String(own.json.access_token))).status).toBe(401);
    } finally {
      await other.stop();
    }
  }, 60_000);

  it("a token whose key was rotated out is refused once the keys file changes; a new login works", async () => {
    const { json } = await login(stack.envoy, "acme");
    const old = String(json.access_token);
    expect((await call(old)).status).toBe(200);
    const k2 = newKey();
    // Rotation step 1: add k2 and make it current; tokens of k1 still work.
    await writeKeys("k2", { k1: ring.keys.get("k1")!, k2 });
    await waitFor(async () => String((await login(stack.envoy, "acme")).json.access_token).startsWith("sgw1.k2."), 10_000, { what: "k2 current" });
    expect((await call(old)).status).toBe(200);
    // Step 2: remove k1.
    await writeKeys("k2", { k2 });
    await waitFor(async () => (await call(old)).status === 401, 10_000, { what: "k1 retired" });
    const fresh = await login(stack.envoy, "acme");
    expect((await call(String(fresh.json.access_token))).status).toBe(200);
    // A bad keys file keeps the keys in use.
    await writeFile(keysFile, "{not json");
    await waitFor(() => stack.logs.records().some((r) => r["msg"] === "gateway token keys file rejected; keeping the keys in use"), 10_000, { what: "bad keys logged" });
    expect((await call(String(fresh.json.access_token))).status).toBe(200);
  }, 60_000);
});
