// Child processes of the benchmark (scopegate, the trivial server, load generators): each in its own process so
// that no two share an event loop. stdout is either discarded (a server logging one line per check must not make
// the harness drain a pipe during a measurement) or captured whole (a load generator's report).
// Whatever is still running when the harness exits is killed.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

const KEEP_BYTES = 64 * 1024;
const live = new Set<ChildProcess>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const c of live) c.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      for (const c of live) c.kill("SIGKILL");
      process.exit(130);
    });
  }
}

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Everything written to stdout when started with stdout: "capture"; else "". */
  stdout(): string;
  /** The tail of stderr. */
  stderr(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`. */
  stop(graceMs?: number, signal?: NodeJS.Signals): Promise<void>;
}

export function startChild(
  name: string,
  command: string,
  args: readonly string[],
  /** stdout `{ file }`: written straight to that file (e.g. --trace-gc output), not through the harness. */
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; stdout: "ignore" | "capture" | "tail" | { readonly file: string } },
): Child {
  hookExit();
  const fd = typeof opts.stdout === "object" ? openSync(opts.stdout.file, "w") : undefined;
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ["ignore", fd ?? (opts.stdout === "ignore" ? "ignore" : "pipe"), "pipe"],
  });
  if (fd !== undefined) closeSync(fd);
  live.add(child);
  const out: Buffer[] = [];
  let outBytes = 0;
  let err = "";
  child.stdout?.on("data", (c: Buffer) => {
    out.push(c);
    outBytes += c.length;
    if (opts.stdout === "tail") {
      while (outBytes > KEEP_BYTES && out.length > 1) outBytes -= out.shift()!.length;
    }
  });
  child.stderr?.on("data", (c: Buffer) => {
    err = (err + c.toString("utf8")).slice(-KEEP_BYTES);
  });
  let running = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (e) => {
      err += `\nspawn error: ${e.message}`;
      if (child.pid === undefined) {
        running = false;
        live.delete(child);
        resolve({ code: null, signal: null });
      }
    });
    child.once("exit", (code, signal) => {
      running = false;
      live.delete(child);
      resolve({ code, signal });
    });
  });
  // Wait for the pipes to drain too, so that stdout() is complete once `exited` resolves.
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const done = exited.then(async (r) => {
    await Promise.race([closed, sleep(2_000)]);
    return r;
  });
  return {
    name,
    pid: child.pid ?? -1,
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => err,
    exited: done,
    isRunning: () => running,
    async stop(graceMs = 5_000, signal: NodeJS.Signals = "SIGTERM") {
      if (running) {
        child.kill(signal);
        const late = await Promise.race([exited.then(() => false), sleep(graceMs).then(() => true)]);
        if (late) child.kill("SIGKILL");
      }
      await done;
    },
  };
}

/** Resolves with the first match of `pattern` on the child's stdout; rejects if it exits or time runs out. */
export async function waitForLine(c: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = c.stdout().match(pattern);
    if (m) return m;
    if (!c.isRunning()) throw new Error(`${c.name} exited before printing ${pattern}:\n${c.stderr()}`);
    if (Date.now() > deadline) throw new Error(`${c.name}: no ${pattern} within ${timeoutMs} ms:\n${c.stderr()}`);
    await sleep(20);
  }
}

/** Resident set size of one process in bytes (/proc/<pid>/status VmRSS), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  const status = procStatus(pid);
  return status === undefined ? undefined : statusBytes(status, "VmRSS");
}

/**
 * A process's RSS split by what backs it (/proc/<pid>/status RssAnon, RssFile, RssShmem; proc(5)): private memory
 * (the V8 heap, malloc) against pages mapped from files (node's executable and shared libraries: clean, shared with
 * every process mapping the same file, and reclaimable under memory pressure). Undefined once it is gone.
 */
export function rssPartsBytes(pid: number): { anon: number; file: number; shmem: number } | undefined {
  const status = procStatus(pid);
  if (status === undefined) return undefined;
  const anon = statusBytes(status, "RssAnon");
  const file = statusBytes(status, "RssFile");
  const shmem = statusBytes(status, "RssShmem");
  return anon === undefined || file === undefined || shmem === undefined ? undefined : { anon, file, shmem };
}

function procStatus(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
}

/** A "<field>:   <n> kB" line of /proc/<pid>/status, in bytes. */
function statusBytes(status: string, field: string): number | undefined {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Direct children of a process (/proc/<pid>/task/<tid>/children), e.g. the workers of a node:cluster primary. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** RSS of a process and its direct children. */
export function treeRssBytes(pid: number): number {
  return [pid, ...childPids(pid)].reduce((sum, p) => sum + (rssBytes(p) ?? 0), 0);
}

/** CPU time (user + system) a process has used so far, in milliseconds (/proc/<pid>/stat utime + stime). */
export function cpuMs(pid: number): number {
  try {
    return (statCpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8")) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** CPU time of a process and its direct children (a node:cluster primary and its workers). */
export function treeCpuMs(pid: number): number {
  return [pid, ...childPids(pid)].reduce((sum, p) => sum + cpuMs(p), 0);
}

/** utime + stime (fields 14 and 15) of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat text, in clock ticks. */
export function statCpuTicks(stat: string): number {
  // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** USER_HZ: 100 on every Linux architecture Node supports (sysconf(_SC_CLK_TCK)). */
export const CLOCK_TICKS_PER_SECOND = 100;
