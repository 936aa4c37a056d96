// The scopegate under test, as operators run it: `node dist/main.js serve --config <file> [--workers <n>]` in a
// process of its own, on 127.0.0.1 and a unix socket. The config is generated here; the Vault token reaches it
// through an environment variable.
import { existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import YAML from "yaml";
import { freePort, waitFor, waitForTcp } from "../../test/support/ports.js";
import { repoRoot } from "../../test/support/tools.js";
import { childPids, startChild, treeRssBytes, type Child } from "./child.js";
import { BENCH_CALLER, BENCH_ENV, divisionOf, type World } from "./world.js";

export const VAULT_TOKEN_ENV = "SCOPEGATE_BENCH_VAULT_TOKEN";

export interface ScopegateOptions {
  readonly world: World;
  /** Folder for the config file, the socket and profiles. */
  readonly dir: string;
  readonly name: string;
  /** Tenants listed in the config (their Vault records hold credentials only); others are discovered. */
  readonly configuredTenants: readonly string[];
  readonly logLevel: "info" | "warn";
  /** logging.decisions: "all" logs allows too (default "denials", as shipped: allows are in Envoy's access log). */
  readonly logDecisions?: "all" | "denials";
  readonly maxTenants?: number;
  /** node --cpu-prof into this folder (written when the process exits). */
  readonly cpuProfDir?: string;
  /** Multi-worker mode (src/cluster) with this many workers. */
  readonly workers?: number;
  /** Another build to run instead of dist/ (A/B comparisons of a change). */
  readonly distDir?: string;
  /** Extra node flags, e.g. heap limits or --inspect=127.0.0.1:0. */
  readonly nodeFlags?: readonly string[];
  /** Write its stdout (decision lines, --trace-gc) to this file instead of discarding it. */
  readonly stdoutFile?: string;
  /** Extra environment variables (e.g. MALLOC_ARENA_MAX as the Dockerfile sets it); shown in the command. */
  readonly env?: Readonly<Record<string, string>>;
  /** listen.renewStreamTableEvery (default: the config's own default, as shipped). */
  readonly renewStreamTableEvery?: number;
  /** Top-level config blocks added to the generated config (e.g. fleet). */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
}

export interface Scopegate {
  readonly name: string;
  readonly child: Child;
  readonly tcpTarget: string;
  readonly udsTarget: string;
  readonly configFile: string;
  /** The generated config, as written. */
  readonly configYaml: string;
  /** The command line, for the report. */
  readonly command: string;
  /** RSS of the process and, in multi-worker mode, its workers. */
  rss(): number;
  stop(): Promise<void>;
}

export async function startScopegate(opts: ScopegateOptions): Promise<Scopegate> {
  const port = await freePort();
  const socketPath = join(opts.dir, `${opts.name}.sock`);
  const config = benchConfig(opts.world, {
    tcp: `127.0.0.1:${port}`,
    unixSocket: socketPath,
    configuredTenants: opts.configuredTenants,
    logLevel: opts.logLevel,
    maxTenants: opts.maxTenants ?? 10_000,
    ...(opts.logDecisions ? { logDecisions: opts.logDecisions } : {}),
    ...(opts.renewStreamTableEvery !== undefined ? { renewStreamTableEvery: opts.renewStreamTableEvery } : {}),
  });
  Object.assign(config, opts.extraConfig ?? {});
  const configYaml = YAML.stringify(config);
  const configFile = join(opts.dir, `${opts.name}.yaml`);
  await writeFile(configFile, configYaml);

  const nodeArgs = [...(opts.nodeFlags ?? []), ...(opts.cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfDir}`] : [])];
  const entry = [join(opts.distDir ?? join(repoRoot, "dist"), "main.js"), "serve", "--config", configFile];
  if (opts.workers) entry.push("--workers", String(opts.workers));
  const args = [...nodeArgs, ...entry];
  // One line per check at info level: discarded, so no pipe has to be drained during a measurement.
  const child = startChild(opts.name, process.execPath, args, {
    cwd: repoRoot,
    env: { ...opts.env, PATH: process.env.PATH ?? "/usr/bin:/bin", [VAULT_TOKEN_ENV]: opts.world.bao.rootToken },
    stdout: opts.stdoutFile ? { file: opts.stdoutFile } : "ignore",
  });
  try {
    await waitForTcp("127.0.0.1", port, 20_000);
    await waitFor(() => existsSync(socketPath), 10_000, { what: `${socketPath} bound` });
    if (opts.workers) {
      // Workers are forked once the primary is up; each binds the shared port when its app has started. The
      // primary's "cluster serving" line goes to stdout, which is discarded, so: all forked, then time to bind.
      await waitFor(() => childPids(child.pid).length === opts.workers, 20_000, { what: `${opts.workers} workers forked` });
      await sleep(3_000);
    }
  } catch (err) {
    await child.stop(1_000);
    throw new Error(`${opts.name} did not start: ${(err as Error).message}\n${child.stderr()}`);
  }
  const shown = args.map((a) => a.replace(repoRoot.replace(/\/?$/, "/"), "").replace(opts.dir, "$BENCH_DIR"));
  return {
    name: opts.name,
    child,
    tcpTarget: `127.0.0.1:${port}`,
    udsTarget: `unix://${socketPath}`,
    configFile,
    configYaml,
    command: `${Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v} `).join("")}node ${shown.join(" ")}`,
    rss: () => treeRssBytes(child.pid),
    // main.ts answers SIGTERM with a graceful stop and process.exit, which also writes a --cpu-prof profile.
    stop: () => child.stop(15_000),
  };
}

/** The config every benchmarked scopegate runs with (before parsing): Vault secrets, discovery on, no HTTP. */
export function benchConfig(
  world: World,
  o: {
    tcp: string;
    unixSocket?: string;
    configuredTenants: readonly string[];
    logLevel: string;
    maxTenants: number;
    logDecisions?: "all" | "denials";
    renewStreamTableEvery?: number;
  },
): Record<string, unknown> {
  return {
    listen: { tcp: o.tcp, unixSocket: o.unixSocket ?? null, ...(o.renewStreamTableEvery !== undefined ? { renewStreamTableEvery: o.renewStreamTableEvery } : {}) },
    http: { listen: null },
    admin: { socket: null },
    secrets: {
      backend: "vault",
      vault: { address: world.bao.address, auth: { method: "token", token: { env: VAULT_TOKEN_ENV } } },
    },
    environments: { [BENCH_ENV]: { tokenUrl: world.standin.tokenUrl } },
    allowPlainHttpLoopbackForTesting: true,
    tenants: o.configuredTenants.map((id) => ({ id, divisions: [divisionOf(id)], environment: BENCH_ENV })),
    // Discovered tenants are bound to the one workload the benchmark's callers stand for.
    discovery: { fromSecretStore: true, defaultBinding: { allowedNamespaces: [BENCH_CALLER.namespace] } },
    callers: { localIdentity: BENCH_CALLER.identity },
    tokens: { maxTenants: o.maxTenants },
    reload: { watch: false },
    logging: { level: o.logLevel, ...(o.logDecisions ? { decisions: o.logDecisions } : {}) },
  };
}
