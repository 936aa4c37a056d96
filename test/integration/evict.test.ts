/**
 * `scopegate evict <tenant>` (issue 11): an operator drops a tenant's cached token without a restart, through
 * the admin socket of a running `dist/main.js serve`, one process or a cluster whose workers keep local copies.
 * The next check mints exactly one new token; the admin socket is 0600 and refuses another uid.
 */
import { execFile } from "node:child_process";
import { chmod, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { checkClient, type CheckClient } from "../support/grpc-clients.js";
import { spawnManaged, waitForOutput, type ManagedProcess } from "../support/processes.js";
import { repoRoot } from "../support/tools.js";
import { checkRequest } from "../support/check-requests.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";
import { writeFileSecret } from "../support/file-secrets.js";

const run = promisify(execFile);
const NOBODY = 65534;
let dir: string;
let standin: GenesysStandin;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-evict-"));
  await chmod(dir, 0o755); // what stops another uid must be the admin socket's own mode
  standin = await startGenesysStandin();
  standin.addClient({ clientId: "acme-client", clientSecret: "acme-EVICT-secret", divisions: ["d"] });
  await writeFileSecret(join(dir, "secrets"), "acme", "acme-client", "acme-EVICT-secret");
});
afterAll(async () => {
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function evict(socket: string, tenant: string, as?: { uid: number; gid: number }): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot, "dist/main.js"), "evict", tenant, "--admin-socket", socket], { timeout: 20_000, ...as });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

function authorizationOf(res: CheckResponse): string {
  if (res.httpResponse?.$case !== "okResponse") throw new Error(`not allowed: ${JSON.stringify(res.httpResponse)}`);
  const h = res.httpResponse.value.headers.find((x) => x.header?.key.toLowerCase() === "authorization")?.header?.value;
  if (!h) throw new Error("no Authorization header");
  return h;
}

async function serve(name: string, workers: number): Promise<{ proc: ManagedProcess; socket: string; admin: string }> {
  const socket = join(dir, `${name}.sock`);
  const admin = join(dir, `${name}-admin.sock`);
  const configFile = join(dir, `${name}.yaml`);
  await writeFile(
    configFile,
    YAML.stringify({
      listen: { unixSocket: socket },
      admin: { socket: admin },
      http: { listen: null },
      secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
      ...standinEnvironments(standin.tokenUrl),
      tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV }],
      reload: { watch: false },
      logging: { level: "info" },
    }),
  );
  const proc = spawnManaged(name, process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", configFile, "--workers", String(workers)], { cwd: repoRoot });
  await waitForOutput(proc, /admin socket listening/, 30_000);
  return { proc, socket, admin };
}

describe.each([
  { name: "one process", workers: 1 },
  // Workers keep local copies of the primary's tokens (remote-token-source.ts): the eviction must reach them.
  { name: "a cluster of 2 workers", workers: 2 },
])("scopegate evict, $name", ({ name, workers }) => {
  let server: Awaited<ReturnType<typeof serve>>;
  const clients: CheckClient[] = [];

  beforeAll(async () => {
    standin.reset();
    server = await serve(`sg-${workers}`, workers);
    // Separate connections: node:cluster hands them to the workers in turn, so every worker serves some.
    for (let i = 0; i < 2 * workers; i++) clients.push(checkClient(`unix:${server.socket}`));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await server?.proc.stop(5_000);
  });

  it("drops the tenant's token: the next checks carry one newly minted token", async () => {
    const acme = () => checkRequest({ headers: { "x-tenant-id": "acme" } });
    const before = new Set<string>();
    for (const c of clients) before.add(authorizationOf(await c.check(acme())));
    expect(before.size).toBe(1);
    expect(standin.tokenRequests).toBe(1);

    const r = await evict(server.admin, "acme");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(r.stdout)).toEqual({ tenant: "acme", evicted: true });

    const after = new Set<string>();
    for (const c of clients) after.add(authorizationOf(await c.check(acme())));
    expect(after.size).toBe(1);
    expect(before.has([...after][0]!)).toBe(false);
    expect(standin.tokenRequests).toBe(2);

    // Log lines are buffered (logger.ts bufferedStdout): wait for it rather than read at once.
    const [line] = await waitForOutput(server.proc, /^.*tenant evicted by operator.*$/m, 10_000);
    expect(JSON.parse(line)).toMatchObject({ tenant: "acme", evicted: true, level: 40 });
    expect(server.proc.stdout()).not.toContain("acme-EVICT-secret");
    for (const t of [...before, ...after]) expect(server.proc.stdout()).not.toContain(t.slice("Bearer ".length));
  });

  it("drops the cached secret record too: after a rotation the next check mints with the new secret at the first try", async () => {
    const acme = () => checkRequest({ headers: { "x-tenant-id": "acme" } });
    authorizationOf(await clients[0]!.check(acme())); // token and record cached
    const secret = `acme-EVICT-secret-${workers}`;
    standin.rotateSecret("acme-client", secret);
    await writeFile(join(dir, "secrets", "acme", "client_secret"), secret);
    standin.reset();
    expect(JSON.parse((await evict(server.admin, "acme")).stdout)).toEqual({ tenant: "acme", evicted: true });
    authorizationOf(await clients[0]!.check(acme()));
    // With the old record still cached the first request would be invalid_client, then a re-read and a second.
    expect(standin.tokenRequests).toBe(1);
  });

  it("answers evicted: false when nothing was cached, 400 for a malformed id", async () => {
    expect(JSON.parse((await evict(server.admin, "nobody-cached")).stdout)).toEqual({ tenant: "nobody-cached", evicted: false });
    const bad = await evict(server.admin, "../Bad Id");
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr)).toEqual({ error: "tenant_invalid" });
  });

  it("keeps the admin socket to scopegate's own uid (0600)", async () => {
    expect((await stat(server.admin)).mode & 0o777).toBe(0o600);
    const requests = standin.tokenRequests;
    const r = await evict(server.admin, "acme", { uid: NOBODY, gid: NOBODY });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/EACCES/);
    // Not evicted: the cached token is still served, no new token request.
    authorizationOf(await clients[0]!.check(checkRequest({ headers: { "x-tenant-id": "acme" } })));
    expect(standin.tokenRequests).toBe(requests);
  });
});
