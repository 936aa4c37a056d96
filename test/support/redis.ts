// A real redis-server (Debian package, scripts/install-tools.sh) for tests: loopback only, a free port, no
// persistence (--save '' --appendonly no), its own temp dir. stop/kill/restart on the same port let a test take
// Redis away and bring it back; every server is killed when the test process exits (processes.ts).
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "./ports.js";
import { spawnManaged, waitForOutput, type ManagedProcess } from "./processes.js";

export interface TestRedis {
  readonly host: "127.0.0.1";
  readonly port: number;
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  /** The running process (replaced by restart()). */
  process(): ManagedProcess;
  running(): boolean;
  /** SIGTERM and wait (Redis closes its clients). */
  stop(): Promise<void>;
  /** SIGKILL and wait: a crash, connections reset. */
  kill(): Promise<void>;
  /** A fresh, empty server on the same port (stopped first if running). */
  restart(): Promise<void>;
  /** redis-cli against this server; stdout. */
  cli(...args: string[]): string;
}

/** An executable on PATH (or the Debian location), with the fix if it is missing. */
export function systemTool(name: "redis-server" | "redis-cli"): string {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/usr/local/bin"];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  throw new Error(`${name} not found: run npm run tools as root (scripts/install-tools.sh installs Debian redis-server)`);
}

async function spawnRedis(port: number): Promise<ManagedProcess> {
  const dir = await mkdtemp(join(tmpdir(), "scopegate-redis-"));
  const proc = spawnManaged(
    "redis-server",
    systemTool("redis-server"),
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes", "--daemonize", "no", "--loglevel", "notice", "--databases", "1"],
    { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir }, ownedDir: dir },
  );
  try {
    await waitForOutput(proc, /Ready to accept connections/, 10_000);
  } catch (err) {
    await proc.stop(1000);
    throw err;
  }
  return proc;
}

export async function startRedis(opts: { port?: number } = {}): Promise<TestRedis> {
  let port = opts.port ?? (await freePort());
  let proc: ManagedProcess | undefined;
  // A port picked by freePort can be taken before redis binds it: retry on that race only.
  for (let attempt = 1; proc === undefined; attempt++) {
    try {
      proc = await spawnRedis(port);
    } catch (err) {
      if (attempt >= 3 || opts.port !== undefined || !/Address already in use/i.test(String(err))) throw err;
      port = await freePort();
    }
  }
  let current: ManagedProcess = proc;
  const redis: TestRedis = {
    host: "127.0.0.1",
    port,
    url: `redis://127.0.0.1:${port}`,
    process: () => current,
    running: () => current.exitInfo() === undefined,
    async stop() {
      await current.stop(5000);
    },
    async kill() {
      if (current.exitInfo() === undefined) current.child.kill("SIGKILL");
      await current.exited;
    },
    async restart() {
      await redis.stop();
      current = await spawnRedis(port);
    },
    cli(...args) {
      return execFileSync(systemTool("redis-cli"), ["-h", "127.0.0.1", "-p", String(port), ...args], { encoding: "utf8", timeout: 5000 });
    },
  };
  return redis;
}
