// Proves the e2e harness itself: a real OpenBao dev server and real Envoys start, are reachable on
// loopback only, and stop without leaving processes behind.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { envoyConfigFor, passthroughEnvoyConfig, startEnvoy } from "../support/envoy.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import {
  createToken,
  enableAppRole,
  kvGet,
  kvPut,
  sealVault,
  startOpenBao,
  unseal,
  type OpenBao,
} from "../support/openbao.js";
import { canConnect, freePort } from "../support/ports.js";
import { runningProcesses } from "../support/processes.js";
import { repoRoot } from "../support/tools.js";


describe("OpenBao dev server", () => {
  let bao: OpenBao;
  beforeAll(async () => {
    bao = await startOpenBao();
  });
  afterAll(() => bao?.stop());

  it("stores a KV v2 secret that a plain HTTP read returns", async () => {
    const version = await kvPut(bao.address, bao.rootToken, "secret", "scopegate/tenants/acme", {
      client_id: "cid",
      client_secret: "csecret",
    });
    expect(version).toBe(1);
    const res = await fetch(`${bao.address}/v1/secret/data/scopegate/tenants/acme`, {
      headers: { "x-vault-token": bao.rootToken },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: { data: unknown; metadata: { version: number } } };
    expect(body.data.data).toEqual({ client_id: "cid", client_secret: "csecret" });
    expect(await kvGet(bao.address, bao.rootToken, "secret", "scopegate/tenants/missing")).toBeUndefined();
  });

  it("AppRole login gets a token that reads tenants and nothing else", async () => {
    await kvPut(bao.address, bao.rootToken, "secret", "other/thing", { x: 1 });
    const { roleId, secretId } = await enableAppRole(bao.address, bao.rootToken);
    const login = await fetch(`${bao.address}/v1/auth/approle/login`, {
      method: "POST",
      body: JSON.stringify({ role_id: roleId, secret_id: secretId }),
    });
    expect(login.status).toBe(200);
    const token = ((await login.json()) as { auth: { client_token: string } }).auth.client_token;
    expect(await kvGet(bao.address, token, "secret", "scopegate/tenants/acme")).toMatchObject({ client_id: "cid" });
    await expect(kvGet(bao.address, token, "secret", "other/thing")).rejects.toThrow(/HTTP 403/);
  });

  it("createToken honours the policy list", async () => {
    const token = await createToken(bao.address, bao.rootToken, { policies: ["default"], ttl: "1m", renewable: false });
    await expect(kvGet(bao.address, token, "secret", "scopegate/tenants/acme")).rejects.toThrow(/HTTP 403/);
  });

  it("seals and unseals", async () => {
    await sealVault(bao.address, bao.rootToken);
    const sealed = await fetch(`${bao.address}/v1/sys/health`);
    expect(sealed.status).toBe(503);
    await expect(kvGet(bao.address, bao.rootToken, "secret", "scopegate/tenants/acme")).rejects.toThrow(/HTTP 503/);
    await unseal(bao.address, bao.unsealKey);
    expect(await kvGet(bao.address, bao.rootToken, "secret", "scopegate/tenants/acme")).toMatchObject({
      client_id: "cid",
    });
  });
});

describe("Envoy", () => {
  let standin: GenesysStandin;
  let token: string;
  let dir: string;
  beforeAll(async () => {
    standin = await startGenesysStandin();
    standin.addClient({ clientId: "c", clientSecret: "s", divisions: ["d1"] });
    const res = await fetch(standin.tokenUrl, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from("c:s").toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    token = ((await res.json()) as { access_token: string }).access_token;
    dir = await mkdtemp(join(tmpdir(), "scopegate-harness-"));
  });
  afterAll(async () => {
    await standin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("passthrough config routes a request to the stand-in", async () => {
    const upstream = { host: "127.0.0.1", port: Number(new URL(standin.url).port) };
    const envoy = await startEnvoy({ configYaml: passthroughEnvoyConfig({ upstream }), concurrency: 1 });
    try {
      const res = await fetch(`${envoy.url}/api/v2/flows?divisionId=d1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ ok: true, clientId: "c", query: "divisionId=d1" });
      const got = standin.received.at(-1)!;
      expect(got.path).toBe("/api/v2/flows");
      expect(got.headers.map((h) => h.toLowerCase())).toContain("x-envoy-expected-rq-timeout-ms");
      expect(await envoy.stats("^cluster\\.app\\.upstream_rq_200$")).toMatch(/cluster\.app\.upstream_rq_200: 1/);
    } finally {
      await envoy.stop();
    }
    expect(await canConnect("127.0.0.1", envoy.port)).toBe(false);
    expect(envoy.process.exitInfo()).toBeDefined();
  });

  it("envoyConfigFor rewrites ports, authz (tcp and unix socket), upstreams and timeout; fails closed without authz", async () => {
    const upstream = { host: "127.0.0.1", port: Number(new URL(standin.url).port) };
    const deadPort = await freePort();
    const tcpYaml = envoyConfigFor({
      template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
      authz: { tcp: `127.0.0.1:${deadPort}` },
      upstreams: { "mypurecloud.com": upstream },
      upstreamTls: "plaintext",
      timeoutMs: 250,
    });
    const parsed = YAML.parse(tcpYaml) as any;
    expect(parsed.admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 0 });
    expect(parsed.static_resources.listeners[0].address.socket_address).toEqual({
      address: "127.0.0.1",
      port_value: 0,
    });
    const httpFilters = parsed.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters;
    expect(httpFilters[0].typed_config.grpc_service.timeout).toBe("0.25s");
    const udsYaml = envoyConfigFor({
      template: join(repoRoot, "deploy/envoy/envoy-sidecar.yaml"),
      authz: { unixSocket: join(dir, "absent.sock") },
      upstreams: { "mypurecloud.com": upstream },
      upstreamTls: "plaintext",
    });

    // Two at once: hot restart is off, so concurrent Envoys must not collide.
    const [tcp, uds] = await Promise.all([
      startEnvoy({ configYaml: tcpYaml, concurrency: 1 }),
      startEnvoy({ configYaml: udsYaml, concurrency: 1 }),
    ]);
    try {
      const before = standin.received.length;
      for (const envoy of [tcp, uds]) {
        const res = await fetch(`${envoy.url}/api/v2/flows`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(503); // status_on_error: the authz cluster is unreachable
      }
      expect(standin.received.length).toBe(before);
      expect(await tcp.stats("ext_authz")).toMatch(/ext_authz\.error: 1/);
    } finally {
      await Promise.all([tcp.stop(), uds.stop()]);
    }
  });

  it("leaves no child process running", () => {
    expect(runningProcesses()).toEqual([]);
  });
});
