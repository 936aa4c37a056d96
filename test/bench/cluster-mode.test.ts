// Multi-worker mode as a process: `node dist/main.js serve --workers 2` with the file secret store and the
// Genesys stand-in. Checks over several connections reach both workers, and each tenant
// still costs exactly one token request; SIGTERM stops primary and workers.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { checkRequestFor, encodeCheckRequest, requestSpecs } from "../../scripts/bench/check-requests.js";
import { childPids, startChild, type Child } from "../../scripts/bench/child.js";
import { CheckClient } from "../../scripts/bench/grpc-client.js";
import { startGenesysStandin, type GenesysStandin } from "../support/genesys-standin.js";
import { freePort, waitFor } from "../support/ports.js";
import { repoRoot } from "../support/tools.js";

const TENANTS = ["acme", "globex", "initech", "umbrella", "hooli"];
let dir: string;
let standin: GenesysStandin;
let cluster: Child;
let tcp: string;
let httpPort: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "scopegate-cluster-"));
  standin = await startGenesysStandin();
  for (const id of TENANTS) {
    standin.addClient({ clientId: `${id}-client`, clientSecret: `${id}-SECRET`, divisions: [`div-${id}`] });
    await mkdir(join(dir, "secrets", id), { recursive: true });
    await writeFile(join(dir, "secrets", id, "client_id"), `${id}-client`);
    await writeFile(join(dir, "secrets", id, "client_secret"), `${id}-SECRET`);
  }
  tcp = `127.0.0.1:${await freePort()}`;
  httpPort = await freePort();
  const config = {
    listen: { tcp, unixSocket: join(dir, "authz.sock") },
    http: { listen: `127.0.0.1:${httpPort}` },
    secrets: { backend: "file", file: { directory: join(dir, "secrets") } },
    tenants: TENANTS.map((id) => ({ id, divisions: [`div-${id}`], tokenUrl: standin.tokenUrl })),
    reload: { watch: false },
    logging: { level: "info" },
  };
  await writeFile(join(dir, "config.yaml"), YAML.stringify(config));
  cluster = startChild("cluster", process.execPath, [join(repoRoot, "dist/main.js"), "serve", "--config", join(dir, "config.yaml"), "--workers", "2"], {
    cwd: repoRoot,
    stdout: "capture",
  });
  await waitFor(() => /scopegate cluster serving/.test(cluster.stdout()) || !cluster.isRunning(), 30_000, { what: "cluster serving" });
  if (!cluster.isRunning()) throw new Error(`cluster exited:\n${cluster.stderr()}`);
});

afterAll(async () => {
  await cluster?.stop(5_000);
  await standin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("multi-worker mode", () => {
  it("serves checks from both workers over TCP and mints one token per tenant", async () => {
    expect(childPids(cluster.pid)).toHaveLength(2);
    const requests = requestSpecs(TENANTS, 40).map((s, i) => encodeCheckRequest(checkRequestFor(s, i)));
    // Four connections, handed to the workers round-robin by the primary.
    const clients = Array.from({ length: 4 }, () => new CheckClient(tcp));
    try {
      const answers = await Promise.all(clients.flatMap((c) => requests.map((r) => c.check(r))));
      expect(answers.filter((a) => !a.allowed).map((a) => a.reason)).toEqual([]);
    } finally {
      for (const c of clients) c.close();
    }
    expect(standin.tokenRequests).toBe(TENANTS.length);
    for (const id of TENANTS) expect(standin.tokenRequestsFor(`${id}-client`)).toBe(1);
    const workers = new Set(
      cluster
        .stdout()
        .split("\n")
        .filter((l) => l.includes('"msg":"check"'))
        .map((l) => (JSON.parse(l) as { worker?: number }).worker),
    );
    expect([...workers].sort()).toEqual([1, 2]);
  });

  it("serves the unix socket (from worker 1) and /readyz from the primary", async () => {
    const client = new CheckClient(`unix://${join(dir, "authz.sock")}`);
    try {
      const [request] = requestSpecs(["acme"], 1).map((s, i) => encodeCheckRequest(checkRequestFor(s, i)));
      expect((await client.check(request!)).allowed).toBe(true);
    } finally {
      client.close();
    }
    await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, 10_000, { what: "/readyz 200" });
  });

  it("stops primary and workers on SIGTERM", async () => {
    const workers = childPids(cluster.pid);
    await cluster.stop(15_000);
    expect(await cluster.exited).toEqual({ code: 0, signal: null });
    for (const pid of workers) expect(() => process.kill(pid, 0)).toThrow();
  });
});
