// Egress through the shipped Envoy configs (deploy/envoy/envoy-sidecar.yaml and envoy-gateway.yaml), with only
// their addresses and CA bundle pointed at the test: two stand-in Genesys Cloud regions over TLS, each with a
// certificate for its own api.<env> from a test CA, on their own loopback addresses. What reaches each region
// (SNI, Host, token, protocol) is read at the stand-ins.
import http2 from "node:http2";
import https from "node:https";
import net from "node:net";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeMeshPki, type MeshPki } from "../support/certs.js";
import { clusterNameFor } from "../../src/egress/envoy-config.js";
import { waitForAccessLog } from "../support/envoy.js";
import { waitFor } from "../support/ports.js";
import { startGenesysStandin, type GenesysStandin, type ReceivedRequest } from "../support/genesys-standin.js";
import { rawHeader, send, startStack, type Stack } from "../support/stack.js";

const COM = { env: "mypurecloud.com", ip: "127.0.0.2" };
const DE = { env: "mypurecloud.de", ip: "127.0.0.3", http2: true };

let stack: Stack;
const com = (): GenesysStandin => stack.standins.get(COM.env)!;
const de = (): GenesysStandin => stack.standins.get(DE.env)!;
const last = (s: GenesysStandin): ReceivedRequest => s.received[s.received.length - 1]!;
const total = (): number => com().received.length + de().received.length;

beforeAll(async () => {
  stack = await startStack({
    regions: [COM, DE],
    tenants: [
      { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-secret", via: "config", environment: COM.env },
      { id: "globex", divisions: ["div-globex"], clientId: "globex-client", clientSecret: "globex-secret", via: "vault", environment: DE.env },
    ],
  });
}, 120_000);
afterAll(async () => stack?.stop());

describe("the sidecar egress config sends each tenant to its own region", () => {
  it("acme reaches api.mypurecloud.com over TLS with that SNI and Host, and its own token", async () => {
    const res = await send(stack.envoy, "/api/v2/routing/queues", { "x-tenant-id": "acme", authorization: "Bearer placeholder" });
    expect(res.status).toBe(200);
    const r = last(com());
    expect(r).toMatchObject({ sni: "api.mypurecloud.com", host: "api.mypurecloud.com", tokenClientId: "acme-client", status: 200, httpVersion: "1.1" });
    expect(rawHeader(r.headers, "authorization")).toHaveLength(1);
    expect(rawHeader(r.headers, "x-scopegate-upstream")).toEqual([]);
    expect(rawHeader(r.headers, "x-tenant-id")).toEqual([]);
  });

  it("globex reaches api.mypurecloud.de, over HTTP/2 since that region offers it", async () => {
    const before = com().received.length;
    const res = await send(stack.envoy, "/api/v2/scripts", { "x-tenant-id": "globex" });
    expect(res.status).toBe(200);
    expect(last(de())).toMatchObject({ sni: "api.mypurecloud.de", host: "api.mypurecloud.de", tokenClientId: "globex-client", httpVersion: "2.0" });
    expect(new URLSearchParams(last(de()).query).get("divisionIds")).toBe("div-globex");
    expect(com().received.length).toBe(before);
  });

  it.each([
    ["Host", { host: "api.mypurecloud.de" }],
    ["X-Forwarded-Host", { "x-forwarded-host": "api.mypurecloud.de" }],
    ["the routing header itself", { "x-scopegate-upstream": "mypurecloud.de" }],
  ])("a caller that sets %s still reaches its own tenant's region", async (_what, extra) => {
    const before = de().received.length;
    const atCom = com().received.length;
    const res = await send(stack.envoy, "/api/v2/flows", { "x-tenant-id": "acme", ...extra });
    expect(res.status).toBe(200);
    expect(com().received.length).toBe(atCom + 1);
    expect(last(com())).toMatchObject({ sni: "api.mypurecloud.com", host: "api.mypurecloud.com", tokenClientId: "acme-client" });
    expect(rawHeader(last(com()).headers, "x-forwarded-host")).toEqual([]);
    expect(de().received.length).toBe(before);
  });

  it("an HTTP/2 caller's :authority does not choose the region", async () => {
    const before = de().received.length;
    const atCom = com().received.length;
    const status = await new Promise<number>((resolve, reject) => {
      const session = http2.connect(stack.envoy.url);
      session.on("error", reject);
      const req = session.request({ ":method": "GET", ":path": "/api/v2/flows", ":authority": "api.mypurecloud.de", "x-tenant-id": "acme" });
      req.on("response", (h) => resolve(Number(h[":status"])));
      req.on("error", reject);
      req.on("close", () => session.close());
      req.resume();
      req.end();
    });
    expect(status).toBe(200);
    expect(com().received.length).toBe(atCom + 1);
    expect(last(com())).toMatchObject({ host: "api.mypurecloud.com", tokenClientId: "acme-client" });
    expect(de().received.length).toBe(before);
  });

  it("an absolute-form request line naming another host does not choose the region", async () => {
    const before = de().received.length;
    const atCom = com().received.length;
    const head = await rawRequest(
      stack.envoy.port,
      "GET http://api.mypurecloud.de/api/v2/flows HTTP/1.1\r\nHost: api.mypurecloud.de\r\nx-tenant-id: acme\r\nConnection: close\r\n\r\n",
    );
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(com().received.length).toBe(atCom + 1);
    expect(last(com())).toMatchObject({ host: "api.mypurecloud.com", tokenClientId: "acme-client" });
    expect(de().received.length).toBe(before);
  });

  it("a routing header without a tenant is denied and reaches no region", async () => {
    const before = total();
    const res = await send(stack.envoy, "/api/v2/flows", { "x-scopegate-upstream": "mypurecloud.de" });
    expect(res.status).toBe(400);
    expect(res.headers.get("x-scopegate-reason")).toBe("tenant_missing");
    expect(total()).toBe(before);
  });

  it("an allowed request outside /api/v2/ ends at Envoy (404), not at a region", async () => {
    const before = total();
    const res = await send(stack.envoy, "/oauth/authorize", { "x-tenant-id": "acme" });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: "not_routed" });
    expect(total()).toBe(before);
  });
});

describe("the shipped config's access log is the record of every allowed request", () => {
  it("names the tenant whose token went on it and the divisions scopegate set, never the token", async () => {
    const requestId = `audit-${randomUUID()}`;
    const res = await send(stack.envoy, "/api/v2/scripts", { "x-tenant-id": "globex", "x-request-id": requestId });
    expect(res.status).toBe(200);
    const sent = new URLSearchParams(last(de()).query).get("divisionIds");
    expect(sent).toBe("div-globex");
    const line = await waitForAccessLog(stack.envoy, requestId);
    expect(line).toMatchObject({ status: 200, scopegate_decision: "allow", tenant: "globex", divisions: sent, upstream_cluster: clusterNameFor(DE.env) });
    // Envoy's own time waiting for the check (ext_authz_duration, milliseconds).
    expect(typeof line.ext_authz_ms).toBe("number");
    // The bearer the region received is nowhere in the log.
    const bearer = rawHeader(last(de()).headers, "authorization")[0]!;
    expect(bearer).toMatch(/^Bearer \S+/);
    expect(stack.envoy.process.stdout()).not.toContain(bearer.slice("Bearer ".length));
  });

  it("a denial has scopegate's reason and no tenant record; scopegate's own log keeps denials only", async () => {
    const allowed = `audit-${randomUUID()}`;
    expect((await send(stack.envoy, "/api/v2/flows", { "x-tenant-id": "acme", "x-request-id": allowed })).status).toBe(200);
    const requestId = `audit-${randomUUID()}`;
    const res = await send(stack.envoy, "/api/v2/flows", { "x-tenant-id": "initech", "x-request-id": requestId });
    expect(res.status).toBe(403);
    const line = await waitForAccessLog(stack.envoy, requestId);
    expect(line).toMatchObject({ status: 403, response_flags: "UAEX", scopegate_reason: "tenant_unknown", scopegate_decision: null, tenant: null, upstream_cluster: null });
    // logging.decisions' default: the denial is in scopegate's log, the allow before it (already in the access
    // log, above) is not — lines are written in order, so once the denial's is there the allow's would be too.
    const mine = (id: string) => stack.logs.records().filter((l) => l.requestId === id);
    await waitFor(() => mine(requestId).length > 0, 5_000, { what: "the denial in scopegate's log" });
    expect(mine(requestId)).toMatchObject([{ decision: "deny", reason: "tenant_unknown", tenant: "initech" }]);
    expect(mine(allowed)).toEqual([]);
    expect((await waitForAccessLog(stack.envoy, allowed)).tenant).toBe("acme");
  });
});

describe("a region presenting the wrong certificate gets nothing", () => {
  let impostors: GenesysStandin[] = [];
  afterAll(async () => {
    for (const i of impostors) await i.close();
  });

  it.each([
    ["a certificate for another region (right CA, wrong name)", () => stack.pki.serverFor(COM.env)],
    ["a certificate for the right name from an untrusted CA", () => stack.pki.untrustedFor(DE.env)],
  ])("%s: 503, and not one request reaches it", async (_what, certificate) => {
    const impostor = await startGenesysStandin({ host: "127.0.0.4", tls: certificate() });
    impostors.push(impostor);
    const envoy = await stack.startEnvoy("uds", undefined, {
      upstreams: { [DE.env]: { host: "127.0.0.4", port: Number(new URL(impostor.url).port) } },
    });
    const res = await send(envoy, "/api/v2/flows", { "x-tenant-id": "globex" });
    expect(res.status).toBe(503);
    expect(impostor.received).toHaveLength(0);
    expect(impostor.tokenRequests).toBe(0);
    expect(await envoy.stats("ssl\\.fail_verify")).toMatch(/cluster\.genesys_mypurecloud_de\.ssl\.fail_verify_(san|error): [1-9]/);
  });
});

describe("the shared gateway config: workloads over mutual TLS, scopegate in mesh mode", () => {
  const ACME_ETL = "spiffe://cluster.local/ns/acme/sa/etl";
  const GLOBEX_ETL = "spiffe://cluster.local/ns/globex/sa/etl";
  let gw: Stack;
  let mesh: MeshPki;
  let port: number;

  beforeAll(async () => {
    gw = await startStack({
      regions: [COM, DE],
      tenants: [
        { id: "acme", divisions: ["div-acme"], clientId: "acme-client", clientSecret: "acme-secret", via: "config", environment: COM.env, allowedNamespaces: ["acme"] },
        { id: "globex", divisions: ["div-globex"], clientId: "globex-client", clientSecret: "globex-secret", via: "config", environment: DE.env, allowedNamespaces: ["globex"] },
      ],
      config: { callers: { mode: "mesh", localIdentity: undefined }, listen: { tcp: null } },
    });
    mesh = makeMeshPki(gw.dir, [ACME_ETL, GLOBEX_ETL]);
    const envoy = await gw.startEnvoy("uds", undefined, {
      layout: "gateway",
      downstreamTls: { certFile: mesh.serverCert, keyFile: mesh.serverKey, clientCaFile: mesh.caFile },
    });
    port = envoy.port;
  }, 120_000);
  afterAll(async () => gw?.stop());

  const call = (client: { cert: Buffer; key: Buffer } | undefined, tenant: string): Promise<{ status: number; reason: string | undefined }> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: "127.0.0.1",
          port,
          path: "/api/v2/routing/queues",
          headers: { "x-tenant-id": tenant },
          ca: readFileSync(mesh.caFile),
          ...(client ?? {}),
          agent: false,
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, reason: res.headers["x-scopegate-reason"] as string | undefined }));
        },
      );
      req.on("error", reject);
      req.end();
    });

  it("a workload's certificate identity gets its own tenant, routed to its region", async () => {
    expect(await call(mesh.client(ACME_ETL), "acme")).toEqual({ status: 200, reason: undefined });
    expect(last(gw.standins.get(COM.env)!)).toMatchObject({ tokenClientId: "acme-client", host: "api.mypurecloud.com" });
    expect(await call(mesh.client(GLOBEX_ETL), "globex")).toEqual({ status: 200, reason: undefined });
    expect(last(gw.standins.get(DE.env)!)).toMatchObject({ tokenClientId: "globex-client", host: "api.mypurecloud.de" });
  });

  it("a workload claiming another namespace's tenant is denied", async () => {
    const before = gw.standins.get(DE.env)!.received.length;
    expect(await call(mesh.client(ACME_ETL), "globex")).toEqual({ status: 403, reason: "caller_not_allowed" });
    expect(gw.standins.get(DE.env)!.received.length).toBe(before);
  });

  it("no client certificate, or one from another CA, does not get past the handshake", async () => {
    await expect(call(undefined, "acme")).rejects.toThrow();
    await expect(call(mesh.rogueClient(ACME_ETL), "acme")).rejects.toThrow();
  });
});

/** Writes one raw HTTP/1.1 request and returns the status line and headers of the answer. */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => (got += d));
    socket.on("end", () => resolve(got));
    socket.on("error", reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error("timeout")));
  });
}

