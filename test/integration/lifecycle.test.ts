/**
 * scopegate as operators run it: `node dist/main.js serve --config <file>` in its own process, with the
 * file secret store (a Kubernetes Secret volume layout) and the config mounted the way a ConfigMap is
 * (a symlink into a `..data` directory swapped atomically). Readiness, gRPC health, metrics, reload,
 * and graceful SIGTERM with a check in flight.
 */
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { checkClient, type CheckClient } from "../support/grpc-clients.js";
import { freePort, waitFor } from "../support/ports.js";
import { spawnManaged, type ManagedProcess } from "../support/processes.js";
import { repoRoot } from "../support/tools.js";
import { checkRequest } from "../support/check-requests.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";

let dir: string;
let standin: GenesysStandin;
let proc: ManagedProcess;
let client: CheckClient;
let grpcPort: number;
let httpPort: number;
let healthPort: number;
let generation = 0;

function configDoc(tenants: { id: string; divisions: string[]; credentialsKey?: string }[], extra: Record<string, unknown> = {}) {
  return {
    listen: { tcp: `127.0.0.1:${grpcPort}`, unixSocket: join(dir, "authz.sock"), healthTcp: `127.0.0.1:${healthPort}` },
    http: { listen: `127.0.0.1:${httpPort}` },
    admin: { socket: join(dir, "admin.sock") },
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    ...standinEnvironments(standin.tokenUrl),
    tenants: tenants.map((t) => ({ ...t, environment: TEST_ENV })),
    reload: { pollIntervalMs: 200 },
    shutdown: { graceMs: 5000 },
    logging: { level: "info" },
    ...extra,
  };
}

/** Kubernetes' atomic ConfigMap update: write a new timestamped dir, swap the `..data` symlink. */
async function publishConfig(text: string): Promise<void> {
  const mount = join(dir, "config");
  const ts = join(mount, `..${++generation}`);
  await mkdir(ts, { recursive: true });
  await writeFile(join(ts, "config.yaml"), text);
  await symlink(`..${generation}`, join(mount, "..data_tmp"));
  await rename(join(mount, "..data_tmp"), join(mount, "..data"));
}

async function writeSecret(tenant: string, clientId: string, secret: string): Promise<void> {
  const d = join(dir, "secrets", tenant);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, "client_id"), clientId);
  await writeFile(join(d, "client_secret"), secret);
}

const http = async (path: string) => {
  const res = await fetch(`http://127.0.0.1:${httpPort}${path}`);
  return { status: res.status, text: await res.text() };
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-life-"));
  standin = await startGenesysStandin();
  grpcPort = await freePort();
  httpPort = await freePort();
  healthPort = await freePort();
  standin.addClient({ clientId: "acme-client", clientSecret: "acme-FILE-SECRET", divisions: ["div-acme"] });
  await writeSecret("acme", "acme-client", "acme-FILE-SECRET");
  await mkdir(join(dir, "config"), { recursive: true });
  await publishConfig(YAML.stringify(configDoc([{ id: "acme", divisions: ["div-acme"] }])));
  await symlink("..data/config.yaml", join(dir, "config", "config.yaml"));
  proc = spawnManaged("scopegate", process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", join(dir, "config", "config.yaml")], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  await waitFor(async () => (await http("/readyz").catch(() => ({ status: 0 }))).status === 200, 15_000, { what: "scopegate /readyz" });
  client = checkClient(`127.0.0.1:${grpcPort}`);
});
afterAll(async () => {
  client?.close();
  await proc?.stop();
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const allowed = (r: { status?: { code: number } }) => r.status?.code === 0;

describe("a scopegate process", () => {
  it("is ready, and reports SERVING over grpc.health.v1 on TCP and the unix socket", async () => {
    expect((await http("/healthz")).status).toBe(200);
    expect(await client.health()).toBe("SERVING");
    expect(await client.health("envoy.service.auth.v3.Authorization")).toBe("SERVING");
    const uds = checkClient(`unix:${join(dir, "authz.sock")}`);
    expect(await uds.health()).toBe("SERVING");
    expect(allowed(await uds.check(checkRequest({ headers: { "x-tenant-id": "acme" } })))).toBe(true);
    uds.close();
    // The probe listener answers health but has no Check service.
    const probe = checkClient(`127.0.0.1:${healthPort}`);
    expect(await probe.health()).toBe("SERVING");
    await expect(probe.check(checkRequest({ headers: { "x-tenant-id": "acme" } }))).rejects.toMatchObject({ code: 12 });
    probe.close();
  });

  it("exports metrics by decision and reason, without tenant labels by default and without secrets", async () => {
    await client.check(checkRequest({ headers: { "x-tenant-id": "acme" } }));
    await client.check(checkRequest({ headers: { "x-tenant-id": "nope" } }));
    const { text } = await http("/metrics");
    expect(text).toMatch(/scopegate_checks_total\{decision="allow",reason=""\} \d+/);
    expect(text).toMatch(/scopegate_checks_total\{decision="deny",reason="tenant_unknown"\} 1/);
    expect(text).toMatch(/scopegate_token_requests_total\{outcome="ok"\} 1/);
    expect(text).toMatch(/scopegate_check_duration_seconds_bucket/);
    expect(text).not.toContain("acme-FILE-SECRET");
    for (const token of standin.issuedTokens.keys()) expect(text).not.toContain(token);
    expect(text).not.toMatch(/tenant="/);
  });

  it("applies a valid config change without a restart (ConfigMap symlink swap)", async () => {
    await writeSecret("globex", "globex-client", "globex-FILE-SECRET");
    standin.addClient({ clientId: "globex-client", clientSecret: "globex-FILE-SECRET", divisions: ["div-globex"] });
    const req = checkRequest({ headers: { "x-tenant-id": "globex" } });
    expect(allowed(await client.check(req))).toBe(false);
    await publishConfig(YAML.stringify(configDoc([{ id: "acme", divisions: ["div-acme"] }, { id: "globex", divisions: ["div-globex"] }])));
    await waitFor(async () => allowed(await client.check(req)), 10_000, { what: "globex served after reload" });
    expect((await http("/metrics")).text).toMatch(/scopegate_config_reloads_total\{result="ok"\} 1/);
  });

  it("after a reload points a tenant at another secret record, never serves the token the old one minted", async () => {
    const acme = checkRequest({ headers: { "x-tenant-id": "acme" } });
    const clientOf = (res: Awaited<ReturnType<CheckClient["check"]>>): string | undefined => {
      if (res.httpResponse?.$case !== "okResponse") return undefined;
      const bearer = res.httpResponse.value.headers.find((h) => h.header?.key === "authorization")?.header?.value.slice("Bearer ".length);
      return bearer === undefined ? undefined : standin.issuedTokens.get(bearer)?.clientId;
    };
    expect(clientOf(await client.check(acme))).toBe("acme-client");
    // The operator moves acme to a new OAuth client (a new record); its old token is still valid at Genesys.
    standin.addClient({ clientId: "acme-client-2", clientSecret: "acme-SECOND-SECRET", divisions: ["div-acme"] });
    await writeSecret("acme-v2", "acme-client-2", "acme-SECOND-SECRET");
    await publishConfig(
      YAML.stringify(configDoc([{ id: "acme", divisions: ["div-acme"], credentialsKey: "acme-v2" }, { id: "globex", divisions: ["div-globex"] }])),
    );
    await waitFor(async () => clientOf(await client.check(acme)) === "acme-client-2", 10_000, { what: "acme served with the new client's token" });
    expect(standin.tokenRequestsFor("acme-client-2")).toBe(1);
    for (let i = 0; i < 5; i++) expect(clientOf(await client.check(acme))).toBe("acme-client-2");
  });

  it("keeps the last good config when a change is invalid, and says so", async () => {
    await publishConfig("tenants: [ { id: 'Bad Id', divisions: [] } ]\nsecrets: { backend: file }\n");
    await waitFor(async () => (await http("/metrics")).text.includes('scopegate_config_reloads_total{result="invalid"} 1'), 10_000, {
      what: "invalid reload reported",
    });
    expect(allowed(await client.check(checkRequest({ headers: { "x-tenant-id": "globex" } })))).toBe(true);
    const ready = await http("/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ status: "ready", configReload: "rejected" });
    expect((await http("/metrics")).text).toMatch(/scopegate_config_last_reload_valid 0/);
    // Log lines are buffered for up to LOG_FLUSH_MS (src/observability/logger.ts).
    await waitFor(() => /config reload rejected/.test(proc.stdout()), 2_000, { what: "the rejection logged" });
  });

  it("on SIGTERM finishes the check in flight, refuses new ones, and exits within the grace period", async () => {
    await writeSecret("slowco", "slow-client", "slow-FILE-SECRET");
    standin.addClient({ clientId: "slow-client", clientSecret: "slow-FILE-SECRET", divisions: ["div-slow"] });
    await publishConfig(
      YAML.stringify(configDoc([{ id: "acme", divisions: ["div-acme"] }, { id: "slowco", divisions: ["div-slow"] }])),
    );
    await waitFor(async () => (await client.check(checkRequest({ headers: { "x-tenant-id": "slowco" } }))).status?.code !== 7, 10_000, {
      what: "slowco configured",
    }).catch(() => undefined);
    // A fresh tenant whose token takes 1.5 s to mint: the check is in flight when SIGTERM arrives.
    await writeSecret("slowco2", "slow-client", "slow-FILE-SECRET");
    await publishConfig(
      YAML.stringify(configDoc([{ id: "acme", divisions: ["div-acme"] }, { id: "slowco2", divisions: ["div-slow"] }])),
    );
    await waitFor(async () => (await client.check(checkRequest({ headers: { "x-tenant-id": "nobody-at-all" } }))).status?.code === 7, 5000);
    await new Promise((r) => setTimeout(r, 500));
    standin.setDelayMs(1500);
    const inFlight = client.check(checkRequest({ headers: { "x-tenant-id": "slowco2" } }), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    proc.child.kill("SIGTERM");
    const exit = await proc.exited;
    const res = await inFlight;
    expect(allowed(res)).toBe(true);
    expect(exit.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000 + 1000);
  });
});
