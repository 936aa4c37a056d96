// The seed scenario (issue 12): an ETL worker per client company, each in its own namespace, each logging in as its
// own tenant through ONE shared egress gateway (the shipped deploy/envoy/envoy-gateway.yaml: mutual TLS, scopegate
// in callers.mode mesh), none holding a Genesys secret. Each worker is an unmodified app on an official SDK; it
// reaches the gateway through the shipped per-workload forwarder (deploy/envoy/envoy-forwarder.yaml) that presents
// its namespace's client certificate (what an Istio sidecar does in a mesh). Two regions over TLS; what reaches
// each is read at the stand-ins.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeMeshPki } from "../support/certs.js";
import type { Envoy } from "../support/envoy.js";
import { startForwarder } from "../support/forwarder.js";
import { runSdkApp, type SdkLanguage } from "../support/sdk-apps.js";
import { send, startStack, type Stack } from "../support/stack.js";

const COM = { env: "mypurecloud.com", ip: "127.0.0.2" };
const DE = { env: "mypurecloud.de", ip: "127.0.0.3", http2: true };

/** One client company each: its tenant, region, namespace and the SDK its ETL worker is written with. */
const COMPANIES = [
  { tenant: "acme", env: COM.env, clientId: "acme-client", language: "python" },
  { tenant: "globex", env: DE.env, clientId: "globex-client", language: "javascript" },
  { tenant: "initech", env: COM.env, clientId: "initech-client", language: "javascript" },
  { tenant: "umbrella", env: DE.env, clientId: "umbrella-client", language: "python" },
] as const;
const identityOf = (ns: string): string => `spiffe://cluster.local/ns/${ns}/sa/etl`;

let stack: Stack;
let keysDir: string;
const forwarders = new Map<string, Envoy>();

beforeAll(async () => {
  keysDir = await mkdtemp(join(tmpdir(), "scopegate-seed-keys-"));
  const keysFile = join(keysDir, "keys.json");
  await writeFile(keysFile, JSON.stringify({ current: "k1", keys: { k1: randomBytes(32).toString("base64") } }));
  stack = await startStack({
    regions: [COM, DE],
    tenants: COMPANIES.map((c) => ({
      id: c.tenant,
      divisions: [`div-${c.tenant}`],
      clientId: c.clientId,
      clientSecret: `${c.tenant}-GENESYS-secret`,
      via: "config" as const,
      environment: c.env,
      allowedNamespaces: [c.tenant],
    })),
    config: { callers: { mode: "mesh", localIdentity: undefined }, listen: { tcp: null }, gatewayTokens: { keysFile } },
  });
  const mesh = makeMeshPki(stack.dir, COMPANIES.map((c) => identityOf(c.tenant)));
  const gateway = await stack.startEnvoy("uds", undefined, {
    layout: "gateway",
    downstreamTls: { certFile: mesh.serverCert, keyFile: mesh.serverKey, clientCaFile: mesh.caFile },
  });
  for (const c of COMPANIES) {
    const { cert, key } = mesh.client(identityOf(c.tenant));
    const certFile = join(stack.dir, `${c.tenant}-workload.crt`);
    const keyFile = join(stack.dir, `${c.tenant}-workload.key`);
    await writeFile(certFile, cert);
    await writeFile(keyFile, key);
    forwarders.set(c.tenant, await startForwarder({ gateway: { host: "127.0.0.1", port: gateway.port }, gatewayName: "localhost", certFile, keyFile, caFile: mesh.caFile }));
  }
}, 180_000);
afterAll(async () => {
  for (const f of forwarders.values()) await f.stop();
  await stack?.stop();
  if (keysDir) await rm(keysDir, { recursive: true, force: true });
});

describe("seed scenario: one ETL worker per client company through one shared gateway", () => {
  it("each worker logs in as its own tenant with no Genesys secret, and its calls reach its region with its tenant's token", async () => {
    for (const c of COMPANIES) {
      const region = stack.standins.get(c.env)!;
      const before = region.received.length;
      const tokensBefore = region.tokenRequestsFor(c.clientId);
      // The worker's only credential is its identity (the forwarder's client certificate); the secret is a dummy.
      const out = await runSdkApp(c.language as SdkLanguage, { port: forwarders.get(c.tenant)!.port, login: c.tenant, secret: "no-genesys-secret-here", division: `div-${c.tenant}` });
      expect(out.login, c.tenant).toBe("ok");
      expect(out.calls.map((x) => x.status), c.tenant).toEqual([200, 200, 200, 200]);
      const got = region.received.slice(before);
      expect(got).toHaveLength(4);
      for (const r of got) expect(r).toMatchObject({ tokenClientId: c.clientId, host: `api.${c.env}` });
      expect(out.heldToken).toMatch(/^sgw1\./);
      expect(region.issuedTokens.has(out.heldToken!)).toBe(false);
      expect(region.tokenRequestsFor(c.clientId)).toBeLessThanOrEqual(tokensBefore + 1);
    }
    // Nothing reached a region with another company's token.
    for (const s of stack.standins.values()) expect(s.receivedMismatches()).toBe(0);
  }, 120_000);

  it("a worker cannot log in as another company (401), and a token replayed from another namespace is refused (401)", async () => {
    const basic = (id: string) => `Basic ${Buffer.from(`${id}:x`).toString("base64")}`;
    const login = async (via: string, as: string) =>
      fetch(`${forwarders.get(via)!.url}/oauth/token`, {
        method: "POST",
        headers: { authorization: basic(as), "content-type": "application/x-www-form-urlencoded" },
        body: "grant_type=client_credentials",
        signal: AbortSignal.timeout(10_000),
      });
    const refused = await login("acme", "globex");
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "invalid_client" });
    const own = (await (await login("acme", "acme")).json()) as { access_token: string };
    const total = () => [...stack.standins.values()].reduce((n, s) => n + s.received.length, 0);
    const before = total();
    const replayed = await send(forwarders.get("globex")!, "/api/v2/routing/queues", { authorization: `Bearer ${own.access_token}` });
    expect(replayed.status).toBe(401);
    expect(replayed.headers.get("x-scopegate-reason")).toBe("gateway_token_invalid");
    expect(total()).toBe(before);
    expect((await send(forwarders.get("acme")!, "/api/v2/routing/queues", { authorization: `Bearer ${own.access_token}` })).status).toBe(200);
  });
});
