/**
 * Issue 14: three `node dist/main.js serve` replicas share one token per tenant through a real redis-server.
 * - 1,000 concurrent cold first requests over 100 tenants, spread over the three: exactly 100 token requests;
 * - a value read straight from Redis is not a token the (stand-in) API accepts;
 * - Redis killed mid-run: 0 failed checks for cached tenants, local minting for new ones, /readyz and metrics say so;
 * - Redis back (same port, empty): the replicas converge on one token per tenant without a restart or a token request;
 * - `scopegate evict` on one replica: every replica serves a new token within the stated bound (1 s), minted once.
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
const TENANTS = 100;
const REPLICAS = 3;
const id = (i: number): string => `t${String(i).padStart(3, "0")}`;

interface Replica {
  proc: ManagedProcess;
  clients: CheckClient[];
  admin: string;
  httpPort: number;
}

let dir: string;
let redis: TestRedis;
let standin: GenesysStandin;
const replicas: Replica[] = [];

function authorizationOf(res: CheckResponse): string {
  if (res.httpResponse?.$case !== "okResponse") throw new Error(`not allowed: ${JSON.stringify(res.httpResponse?.value)}`);
  const h = res.httpResponse.value.headers.find((x) => x.header?.key.toLowerCase() === "authorization")?.header?.value;
  if (!h) throw new Error("no Authorization header");
  return h;
}

/** A check for the tenant on replica r (round-robin over its connections); resolves to the Authorization it got. */
let turn = 0;
function check(r: number, tenant: string, deadlineMs = 20_000): Promise<string> {
  const rep = replicas[r]!;
  return rep.clients[turn++ % rep.clients.length]!.check(checkRequest({ headers: { "x-tenant-id": tenant } }), deadlineMs).then(authorizationOf);
}

async function serve(n: number): Promise<Replica> {
  const socket = join(dir, `r${n}.sock`);
  const admin = join(dir, `r${n}-admin.sock`);
  const configFile = join(dir, `r${n}.yaml`);
  await writeFile(
    configFile,
    YAML.stringify({
      listen: { unixSocket: socket },
      admin: { socket: admin },
      http: { listen: "127.0.0.1:0" },
      secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
      ...standinEnvironments(standin.tokenUrl),
      tenants: Array.from({ length: TENANTS + 10 }, (_, i) => ({ id: id(i), divisions: [`d${i}`], environment: TEST_ENV })),
      // A loaded 2-core CI machine: a command may take a while; past the budget a replica would mint on its own.
      fleet: { redis: { url: redis.url, commandTimeoutMs: 3000, connectTimeoutMs: 1000 }, tokens: { keysFile: join(dir, "fleet-keys.json"), lockLeaseMs: 10_000 } },
      reload: { watch: false },
      logging: { level: "info", decisions: "denials" },
    }),
  );
  const proc = spawnManaged(`replica-${n}`, process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", configFile], { cwd: repoRoot });
  const [, port] = await waitForOutput(proc, /"httpPort":(\d+)/, 30_000);
  await waitForOutput(proc, /admin socket listening/, 30_000);
  await waitForOutput(proc, /fleet redis connected/, 10_000);
  return { proc, admin, httpPort: Number(port), clients: [0, 1, 2].map(() => checkClient(`unix:${socket}`)) };
}

async function http(r: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${replicas[r]!.httpPort}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(name));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-fleet-"));
  [redis, standin] = await Promise.all([startRedis(), startGenesysStandin()]);
  for (let i = 0; i < TENANTS + 10; i++) {
    standin.addClient({ clientId: `${id(i)}-client`, clientSecret: `${id(i)}-FLEET-secret`, divisions: [`d${i}`] });
    await writeFileSecret(join(dir, "secrets"), id(i), `${id(i)}-client`, `${id(i)}-FLEET-secret`);
  }
  await writeFile(join(dir, "fleet-keys.json"), JSON.stringify({ current: "k1", keys: { k1: randomBytes(32).toString("base64") } }), { mode: 0o600 });
  for (let n = 0; n < REPLICAS; n++) replicas.push(await serve(n));
}, 120_000);

afterAll(async () => {
  for (const r of replicas) for (const c of r.clients) c.close();
  await Promise.all(replicas.map((r) => r.proc.stop(5000)));
  await Promise.all([redis?.stop(), standin?.close()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("a fleet of three scopegate processes sharing tokens through Redis", () => {
  const first = new Map<string, string>();

  it("1,000 concurrent cold first requests over 100 tenants: exactly 100 token requests, one token per tenant", async () => {
    const seen = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => {
        const tenant = id(i % TENANTS);
        return check((i * 7 + Math.floor(i / TENANTS)) % REPLICAS, tenant).then((a) => [tenant, a] as const);
      }),
    );
    expect(standin.tokenRequests).toBe(TENANTS);
    for (const [tenant, a] of seen) {
      expect(first.get(tenant) ?? a).toBe(a);
      first.set(tenant, a);
    }
    expect(first.size).toBe(TENANTS);
    // Every replica saw every tenant (so each has it cached for what follows).
    for (let r = 0; r < REPLICAS; r++) for (let i = 0; i < TENANTS; i++) expect(await check(r, id(i))).toBe(first.get(id(i)));
    expect(standin.tokenRequests).toBe(TENANTS);
  });

  it("a value read straight from Redis is not a usable token", async () => {
    const keys = redis.cli("--scan", "--pattern", "scopegate:tok:*").trim().split("\n").filter(Boolean);
    expect(keys.length).toBe(TENANTS);
    const raw = redis.cli("HGET", keys[0]!, "v").trim();
    expect(raw).toMatch(/^v1\.k1\./);
    const dump = redis.cli("--scan", "--pattern", "scopegate:*");
    for (const a of first.values()) {
      expect(raw).not.toContain(a.slice("Bearer ".length));
      expect(dump).not.toContain(a.slice("Bearer ".length));
    }
    expect(dump).not.toMatch(/t0\d\d|client|secret/);
    // What the API says to it, next to what it says to the real token.
    const api = (bearer: string) => fetch(`${standin.url}/api/v2/users/me`, { headers: { authorization: `Bearer ${bearer}` } }).then((r) => r.status);
    expect(await api(raw)).toBe(401);
    expect(await api(first.get(id(0))!.slice("Bearer ".length))).toBe(200);
  });

  it("Redis killed mid-run: 0 failed checks for cached tenants, local minting meanwhile, said in /readyz and metrics", async () => {
    const before = standin.tokenRequests;
    let stop = false;
    let served = 0;
    const failures: string[] = [];
    // Cached tenants, all the time, on every replica, while Redis dies.
    const load = Promise.all(
      [0, 1, 2].map(async (r) => {
        for (let i = 0; !stop && i < 100_000; i++) {
          const tenant = id((i * 13 + r) % TENANTS);
          try {
            expect(await check(r, tenant, 5000)).toBe(first.get(tenant));
            served++;
          } catch (err) {
            failures.push(`${tenant}@${r}: ${(err as Error).message}`);
          }
        }
      }),
    );
    await waitFor(() => served > 300, 20_000, { what: "checks flowing" });
    await redis.kill();
    for (let r = 0; r < REPLICAS; r++) {
      await waitFor(async () => JSON.parse((await http(r, "/readyz")).body).fleet?.redis === "down", 10_000, { what: `replica ${r} says redis down` });
    }
    const atKill = served;
    // New tenants while Redis is away: each replica mints its own (local fallback), no check fails.
    const cold = Array.from({ length: 10 }, (_, i) => id(TENANTS + i));
    const during = await Promise.all(cold.map((t) => Promise.all([0, 1, 2].map((r) => check(r, t)))));
    await waitFor(() => served > atKill + 300, 20_000, { what: "checks flowing without Redis" });
    stop = true;
    await load;
    expect(failures).toEqual([]);
    expect(standin.tokenRequests - before).toBe(cold.length * REPLICAS);
    for (const perReplica of during) expect(new Set(perReplica).size).toBe(REPLICAS);

    const ready = await http(1, "/readyz");
    expect(ready.status).toBe(200); // still serving: a replica without Redis mints locally
    expect(JSON.parse(ready.body)).toMatchObject({ status: "ready", fleet: { redis: "down", tokens: "local", notices: "down" } });
    const metrics = (await http(1, "/metrics")).body;
    expect(metric(metrics, "scopegate_fleet_redis_up")).toBe(0);
    expect(metric(metrics, 'scopegate_fleet_tokens_total{result="fallback"}')).toBe(cold.length);
    for (const a of [...first.values(), ...during.flat()]) expect(metrics).not.toContain(a.slice("Bearer ".length));
  });

  it("Redis back (empty, same port): the replicas converge on one token per tenant without restart or token request", async () => {
    const before = standin.tokenRequests;
    await redis.restart();
    const all = Array.from({ length: TENANTS + 10 }, (_, i) => id(i));
    await waitFor(
      async () => {
        for (const t of all) {
          const tokens = await Promise.all([0, 1, 2].map((r) => check(r, t)));
          if (new Set(tokens).size !== 1) return false;
        }
        return true;
      },
      20_000,
      { what: "every tenant served with one token by all three replicas", intervalMs: 200 },
    );
    expect(standin.tokenRequests).toBe(before);
    for (let i = 0; i < TENANTS; i++) expect(await check(i % REPLICAS, id(i))).toBe(first.get(id(i))); // the pre-outage tokens stayed
    expect(redis.cli("--scan", "--pattern", "scopegate:tok:*").trim().split("\n").length).toBe(TENANTS + 10);
    // Both connections back (commands and notices) before the eviction below, whose bound is for connected replicas.
    for (let r = 0; r < REPLICAS; r++) {
      await waitFor(async () => JSON.parse((await http(r, "/readyz")).body).fleet?.notices === "subscribed", 10_000, { what: `replica ${r} subscribed again` });
      expect(JSON.parse((await http(r, "/readyz")).body).fleet).toEqual({ redis: "up", tokens: "shared", notices: "subscribed" });
    }
  });

  it("scopegate evict on one replica is seen by all within 1 s; the fleet mints one new token", async () => {
    const tenant = id(7);
    const old = first.get(tenant)!;
    const before = standin.tokenRequests;
    const { stdout } = await run(process.execPath, [join(repoRoot, "dist/main.js"), "evict", tenant, "--admin-socket", replicas[0]!.admin], { timeout: 20_000 });
    // The bound runs from the admin socket's answer (Redis has deleted the token and published by then).
    const started = Date.now();
    expect(JSON.parse(stdout)).toEqual({ tenant, evicted: true, fleet: "evicted" });
    await waitFor(async () => (await Promise.all([1, 2].map((r) => check(r, tenant)))).every((a) => a !== old), 1000, { what: "replicas 1 and 2 dropped the token", intervalMs: 20 });
    const seenWithinMs = Date.now() - started;
    const after = await Promise.all([0, 1, 2].map((r) => check(r, tenant)));
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(old);
    expect(standin.tokenRequests - before).toBe(1);
    expect(seenWithinMs).toBeLessThan(1000);
    const [line] = await waitForOutput(replicas[1]!.proc, /^.*tenant evicted by an operator on another replica.*$/m, 5000);
    expect(JSON.parse(line)).toMatchObject({ tenant, level: 40 });
  });

  it("logs no token and no secret", async () => {
    await new Promise((r) => setTimeout(r, 300)); // buffered log lines
    for (const r of replicas) {
      const out = r.proc.stdout() + r.proc.stderr();
      expect(out).not.toMatch(/FLEET-secret/);
      for (const a of first.values()) expect(out).not.toContain(a.slice("Bearer ".length));
    }
  });
});
