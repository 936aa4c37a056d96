/**
 * Multi-worker mode next to the fleet store: the cluster primary is the process that mints, so it is the one that
 * goes through Redis. A cluster (`serve --workers 2`) and a single process share one token per tenant, and an
 * eviction on the single process reaches the cluster's workers too (primary -> workers over IPC).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import type { CheckResponse } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { checkRequest } from "../support/check-requests.js";
import { standinEnvironments, TEST_ENV } from "../support/environments.js";
import { writeFileSecret } from "../support/file-secrets.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { checkClient, type CheckClient } from "../support/grpc-clients.js";
import { waitFor } from "../support/ports.js";
import { spawnManaged, waitForOutput, type ManagedProcess } from "../support/processes.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import { repoRoot } from "../support/tools.js";

const run = promisify(execFile);
let dir: string;
let redis: TestRedis;
let standin: GenesysStandin;
const procs: ManagedProcess[] = [];
const clients: CheckClient[][] = [];

function authorizationOf(res: CheckResponse): string {
  if (res.httpResponse?.$case !== "okResponse") throw new Error(`not allowed: ${JSON.stringify(res.httpResponse?.value)}`);
  return res.httpResponse.value.headers.find((x) => x.header?.key.toLowerCase() === "authorization")!.header!.value;
}

async function serve(name: string, workers: number): Promise<void> {
  const socket = join(dir, `${name}.sock`);
  const configFile = join(dir, `${name}.yaml`);
  await writeFile(
    configFile,
    YAML.stringify({
      listen: { unixSocket: socket },
      admin: { socket: join(dir, `${name}-admin.sock`) },
      http: { listen: null },
      secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
      ...standinEnvironments(standin.tokenUrl),
      tenants: [{ id: "acme", divisions: ["d"], environment: TEST_ENV }],
      fleet: { redis: { url: redis.url, commandTimeoutMs: 3000 }, tokens: { keysFile: join(dir, "keys.json") } },
      reload: { watch: false },
    }),
  );
  const proc = spawnManaged(name, process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", configFile, "--workers", String(workers)], { cwd: repoRoot });
  procs.push(proc);
  await waitForOutput(proc, /admin socket listening/, 30_000);
  await waitForOutput(proc, /fleet redis connected/, 10_000);
  // Separate connections: node:cluster hands them to the workers in turn.
  clients.push([0, 1, 2, 3].map(() => checkClient(`unix:${socket}`)));
}

const check = async (p: number, c: number): Promise<string> => authorizationOf(await clients[p]![c]!.check(checkRequest({ headers: { "x-tenant-id": "acme" } }), 10_000));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-fleet-cluster-"));
  [redis, standin] = await Promise.all([startRedis(), startGenesysStandin()]);
  standin.addClient({ clientId: "acme-client", clientSecret: "acme-secret", divisions: ["d"] });
  await writeFileSecret(join(dir, "secrets"), "acme", "acme-client", "acme-secret");
  await writeFile(join(dir, "keys.json"), JSON.stringify({ current: "k", keys: { k: randomBytes(32).toString("base64") } }));
  await serve("cluster", 2);
  await serve("single", 1);
}, 90_000);

afterAll(async () => {
  for (const cs of clients) for (const c of cs) c.close();
  await Promise.all(procs.map((p) => p.stop(5000)));
  await Promise.all([redis?.stop(), standin?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a cluster and a single process in one fleet", () => {
  it("share one token: the cluster's primary mints through Redis, its workers get it over IPC", async () => {
    const tokens = new Set<string>();
    for (let c = 0; c < 4; c++) tokens.add(await check(0, c));
    for (let c = 0; c < 4; c++) tokens.add(await check(1, c));
    expect(tokens.size).toBe(1);
    expect(standin.tokenRequests).toBe(1);
  });

  it("an eviction on the single process reaches the cluster's workers", async () => {
    const old = await check(0, 0);
    const { stdout } = await run(process.execPath, [join(repoRoot, "dist/main.js"), "evict", "acme", "--admin-socket", join(dir, "single-admin.sock")], { timeout: 20_000 });
    expect(JSON.parse(stdout)).toMatchObject({ evicted: true, fleet: "evicted" });
    await waitFor(async () => (await Promise.all([0, 1, 2, 3].map((c) => check(0, c)))).every((a) => a !== old), 2000, { what: "every worker serves a new token", intervalMs: 20 });
    const after = new Set([...(await Promise.all([0, 1, 2, 3].map((c) => check(0, c)))), await check(1, 0)]);
    expect(after.size).toBe(1);
    expect(standin.tokenRequests).toBe(2);
  });
});
