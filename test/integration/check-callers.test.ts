/**
 * Only Envoy can call Check (issue 11). Each case tries it: a process under another uid, a TLS client without
 * a certificate, with one from another CA, with one whose SAN is not allow-listed. Each refused caller gets no
 * token and the Genesys stand-in sees no token request; the allowed ones get their answer.
 * Tests run as root, which file permissions do not stop, so the other callers are child processes spawned
 * with { uid, gid } (nobody = 65534).
 */
import * as grpc from "@grpc/grpc-js";
import { execFile, spawn } from "node:child_process";
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import YAML from "yaml";
import { startApp, type App } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import { CheckRequest, CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { createLogger } from "../../src/observability/logger.js";
import { CHECK_METHOD_PATH } from "../../src/server/check-service.js";
import { makePki, type TestPki } from "../support/certs.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { LogCapture } from "../support/log-capture.js";
import { repoRoot } from "../support/tools.js";
import { checkRequest } from "../support/check-requests.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";
import { writeFileSecret } from "../support/file-secrets.js";

const run = promisify(execFile);
const NOBODY = 65534;
const ENVOY_GID = 65533;

let dir: string;
let standin: GenesysStandin;
const apps: App[] = [];

const acme = () => checkRequest({ headers: { "x-tenant-id": "acme" } });

async function start(listen: Record<string, unknown>, logs = new LogCapture(), extra: Record<string, unknown> = {}): Promise<App> {
  const config = parseConfig({
    listen,
    http: { listen: null },
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    ...standinEnvironments(standin.tokenUrl),
    tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV }],
    reload: { watch: false },
    logging: { level: "info" },
    ...extra,
  });
  const app = await startApp({ config, logger: createLogger("info", logs), env: {}, defaultMetrics: false });
  apps.push(app);
  await app.ready;
  return app;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-callers-"));
  // Traversable by everyone: what stops another uid must be the socket's own mode, not this directory.
  await chmod(dir, 0o755);
  standin = await startGenesysStandin();
  standin.addClient({ clientId: "acme-client", clientSecret: "acme-CALLERS-secret", divisions: ["d"] });
  await writeFileSecret(join(dir, "secrets"), "acme", "acme-client", "acme-CALLERS-secret");
});
afterAll(async () => {
  for (const app of apps) await app.stop(500);
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  // Every app starts with an empty token cache; the count tells which caller made scopegate mint.
  for (const app of apps) app.evict("acme");
  standin.reset();
});

function authorizationOf(res: CheckResponse): string | undefined {
  if (res.httpResponse?.$case !== "okResponse") return undefined;
  return res.httpResponse.value.headers.find((h) => h.header?.key.toLowerCase() === "authorization")?.header?.value;
}

function denialOf(res: CheckResponse): string | undefined {
  return res.httpResponse?.$case === "deniedResponse" ? (JSON.parse(res.httpResponse.value.body) as { error: string }).error : undefined;
}

/** Check from a separate process running as uid/gid. */
function checkAs(uid: number, gid: number, target: string, req: CheckRequest): Promise<{ error?: string; details?: string; response?: CheckResponse }> {
  const child = spawn(process.execPath, [join(repoRoot, "test/support/check-client-child.mjs"), repoRoot, target, Buffer.from(CheckRequest.encode(req).finish()).toString("base64")], {
    uid,
    gid,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`client exited ${code}: ${err}`));
      const r = JSON.parse(out) as { error?: string; details?: string; responseB64?: string };
      resolve(r.responseB64 ? { response: CheckResponse.decode(Buffer.from(r.responseB64, "base64")) } : { error: r.error!, details: r.details! });
    });
  });
}

describe("Check on the unix socket", () => {
  it("refuses another uid at the socket (mode 0600): no answer, no token request", async () => {
    const socket = join(dir, "owner-only.sock");
    await start({ unixSocket: socket });
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    const r = await checkAs(NOBODY, NOBODY, `unix:${socket}`, acme());
    expect(r.response).toBeUndefined();
    expect(r.error).toBe("UNAVAILABLE");
    expect(r.details).toMatch(/EACCES/);
    expect(standin.tokenRequests).toBe(0);
  });

  it("with socketGid: Envoy's group can get its answer, another group cannot", async () => {
    const socket = join(dir, "envoy-group.sock");
    await start({ unixSocket: socket, socketGid: ENVOY_GID });
    const st = await stat(socket);
    expect({ mode: st.mode & 0o777, gid: st.gid }).toEqual({ mode: 0o660, gid: ENVOY_GID });

    const other = await checkAs(NOBODY, NOBODY, `unix:${socket}`, acme());
    expect(other.error).toBe("UNAVAILABLE");
    expect(other.details).toMatch(/EACCES/);
    expect(standin.tokenRequests).toBe(0);

    const envoy = await checkAs(NOBODY, ENVOY_GID, `unix:${socket}`, acme());
    expect(envoy.error).toBeUndefined();
    expect(authorizationOf(envoy.response!)).toMatch(/^Bearer /);
    expect(standin.tokenRequests).toBe(1);
  });
});

describe("the socket's directory", () => {
  it("is created when missing, 0710 with socketGid whatever the umask, so Envoy's group reaches the socket and no one else", async () => {
    const nested = join(dir, "created", "for-envoy");
    const socket = join(nested, "authz.sock");
    const umask = process.umask(0o077); // main.ts runs serve under this one
    try {
      await start({ unixSocket: socket, socketGid: ENVOY_GID });
    } finally {
      process.umask(umask);
    }
    for (const d of [join(dir, "created"), nested]) {
      const st = await stat(d);
      expect({ mode: st.mode & 0o777, gid: st.gid }).toEqual({ mode: 0o710, gid: ENVOY_GID });
    }
    const envoy = await checkAs(NOBODY, ENVOY_GID, `unix:${socket}`, acme());
    expect(authorizationOf(envoy.response!)).toMatch(/^Bearer /);
    expect(standin.tokenRequests).toBe(1);
    const other = await checkAs(NOBODY, NOBODY, `unix:${socket}`, acme());
    expect(other.error).toBe("UNAVAILABLE");
    expect(standin.tokenRequests).toBe(1);
  });
});

describe("Check on TCP with TLS, a client CA and allowedClients", () => {
  let pki: TestPki;
  let otherCa: TestPki;
  let port: number;
  const logs = new LogCapture();

  beforeAll(async () => {
    pki = makePki(await mkdtemp(join(dir, "pki-")));
    otherCa = makePki(await mkdtemp(join(dir, "pki-other-")));
    const app = await start(
      {
        tcp: "127.0.0.1:0",
        unixSocket: null,
        tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.caFile, allowedClients: ["spiffe://cluster.local/ns/mesh/sa/envoy", "gw.example.internal"] },
      },
      logs,
      // Mesh mode starts only because this listener is authenticated (and the tenant is bound, as mesh mode requires).
      { callers: { mode: "mesh", principalTenants: {} }, tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV, allowedNamespaces: ["mesh"] }] },
    );
    port = app.server.tcpPort!;
  });

  const call = (creds: grpc.ChannelCredentials, req: CheckRequest = acme()): Promise<CheckResponse> =>
    new Promise((resolve, reject) => {
      const client = new grpc.Client(`localhost:${port}`, creds);
      client.makeUnaryRequest(
        CHECK_METHOD_PATH,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(CheckRequest.encode(req).finish()),
        { deadline: Date.now() + 5000 },
        (err, res) => {
          client.close();
          if (err) reject(err);
          else resolve(CheckResponse.decode(res!));
        },
      );
    });
  const withCert = (ca: TestPki, cert: { cert: string; key: string }) => grpc.credentials.createSsl(pki.read(pki.caFile), ca.read(cert.key), ca.read(cert.cert));
  // A principal the caller writes itself: it must not matter (mesh mode would accept it for a tenant without a binding).
  const forged = () => checkRequest({ headers: { "x-tenant-id": "acme" }, principal: "spiffe://cluster.local/ns/mesh/sa/envoy" });

  it("refuses a client without a certificate at the handshake", async () => {
    await expect(call(grpc.credentials.createSsl(pki.read(pki.caFile)), forged())).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(standin.tokenRequests).toBe(0);
  });

  it("refuses a certificate from another CA, even with an allow-listed SAN", async () => {
    await expect(call(withCert(otherCa, { cert: otherCa.clientCert, key: otherCa.clientKey }), forged())).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    expect(standin.tokenRequests).toBe(0);
  });

  it("denies a valid certificate whose SAN is not allow-listed (check_caller_not_allowed, a warn line), no token", async () => {
    const app = pki.issueClient("app-pod", "URI:spiffe://cluster.local/ns/acme/sa/app,DNS:app.acme.svc");
    for (let i = 0; i < 2; i++) {
      const res = await call(withCert(pki, app), forged());
      expect(denialOf(res)).toBe("check_caller_not_allowed");
      expect(authorizationOf(res)).toBeUndefined();
    }
    expect(standin.tokenRequests).toBe(0);
    const refused = logs.records().filter((r) => r["msg"] === "Check caller refused: TLS client certificate not in listen.tls.allowedClients");
    // Once per certificate (the verdict is cached), naming its identities; every call has its decision line.
    expect(refused.map((r) => r["sans"])).toEqual([["spiffe://cluster.local/ns/acme/sa/app", "app.acme.svc"]]);
    expect(refused[0]!["level"]).toBe(40);
    expect(logs.records().filter((r) => r["msg"] === "check" && r["reason"] === "check_caller_not_allowed")).toHaveLength(2);
  });

  it("answers an allow-listed URI SAN (SPIFFE id) or DNS SAN", async () => {
    const spiffe = await call(withCert(pki, { cert: pki.clientCert, key: pki.clientKey }), forged());
    expect(authorizationOf(spiffe)).toMatch(/^Bearer /);
    const gw = pki.issueClient("gateway", "DNS:gw.example.internal");
    const dns = await call(withCert(pki, gw), forged());
    expect(authorizationOf(dns)).toBe(authorizationOf(spiffe));
    expect(standin.tokenRequests).toBe(1);
  });
});

describe("an unauthenticated TCP Check listener", () => {
  it("is announced loudly at start, in /readyz (still 200) and by a gauge", async () => {
    const logs = new LogCapture();
    const app = await start({ tcp: "127.0.0.1:0", unixSocket: null }, logs, { http: { listen: "127.0.0.1:0" } });
    const line = logs.records().find((r) => r["checkListener"] === "unauthenticated-tcp");
    expect(line?.["level"]).toBe(50);
    expect(line?.["msg"]).toMatch(/^UNAUTHENTICATED CHECK LISTENER: anything that can reach listen\.tcp can obtain any tenant's token/);
    const ready = await fetch(`http://127.0.0.1:${app.http!.port}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checkListener: "unauthenticated-tcp" });
    const metrics = await (await fetch(`http://127.0.0.1:${app.http!.port}/metrics`)).text();
    expect(metrics).toMatch(/^scopegate_check_listener_unauthenticated 1$/m);
  });

  it("is not reported for the unix socket alone", async () => {
    const logs = new LogCapture();
    const app = await start({ unixSocket: join(dir, "quiet.sock") }, logs, { http: { listen: "127.0.0.1:0" } });
    expect(logs.records().filter((r) => r["checkListener"] !== undefined)).toEqual([]);
    expect(await (await fetch(`http://127.0.0.1:${app.http!.port}/readyz`)).json()).toEqual({ status: "ready" });
    expect(await (await fetch(`http://127.0.0.1:${app.http!.port}/metrics`)).text()).toMatch(/^scopegate_check_listener_unauthenticated 0$/m);
  });
});

describe("scopegate serve and check-config with a TCP Check listener", () => {
  it("check-config accepts an unauthenticated one in local mode but warns on stderr", async () => {
    const configFile = join(dir, "local-tcp.yaml");
    await writeFile(
      configFile,
      YAML.stringify({
        listen: { tcp: "127.0.0.1:9191" },
        secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
        ...standinEnvironments(standin.tokenUrl),
        tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV }],
      }),
    );
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, "dist/main.js"), "check-config", configFile], { timeout: 20_000 });
    expect(stdout).toMatch(/: ok \(1 tenants/);
    expect(stderr).toMatch(/warning: Check listener unauthenticated-tcp: listen\.tcp 127\.0\.0\.1:9191 accepts callers without a client certificate/);
  });

  it("refuses to start in mesh mode with an unauthenticated TCP Check listener, naming the problem", async () => {
    const configFile = join(dir, "mesh.yaml");
    await writeFile(
      configFile,
      YAML.stringify({
        listen: { tcp: "127.0.0.1:0", unixSocket: null },
        admin: { socket: null },
        callers: { mode: "mesh" },
        secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
        ...standinEnvironments(standin.tokenUrl),
        tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV }],
      }),
    );
    const r = await run(process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", configFile], { timeout: 20_000 }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/callers\.mode: mesh mode needs every Check listener authenticated: listen\.tcp 127\.0\.0\.1:0 accepts callers without a client certificate/);
  });
});
