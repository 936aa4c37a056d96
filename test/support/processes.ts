// Child processes for tests (Envoy, OpenBao): output kept in memory for error messages, and a registry
// that kills whatever is still running when the test process exits, so a failed test never leaves one behind.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** Bytes of each stream kept (the tail); enough for a startup error, bounded for chatty processes. */
const KEEP_BYTES = 256 * 1024;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (e.g. ENOENT). */
  error?: Error;
}

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves (never rejects) when the process has exited or failed to start. */
  readonly exited: Promise<ExitInfo>;
  /** Undefined while running. */
  exitInfo(): ExitInfo | undefined;
  stdout(): string;
  stderr(): string;
  /** Last lines of stdout+stderr and the exit status, for error messages. */
  describe(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves after exit. Safe to call twice. */
  stop(graceMs?: number): Promise<ExitInfo>;
}

/** Running processes, each with the temp folder it owns (removed once it has exited). */
const running = new Map<ManagedProcess, string | undefined>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const killAll = (): void => {
    for (const [p, dir] of running) {
      p.child.kill("SIGKILL");
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  };
  // 'exit' handlers must be synchronous: SIGKILL is the one thing that surely happens in time.
  process.on("exit", killAll);
  // A signal ends node without 'exit'; kill the children, then let the signal do what it would have done.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > KEEP_BYTES && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
    }
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * Starts `command` with stdout/stderr captured (tail kept in memory). `ownedDir` is a temp folder that belongs
 * to this process: removed once it has exited, or synchronously if the test process exits first.
 */
export function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: Pick<SpawnOptions, "cwd" | "env"> & { ownedDir?: string } = {},
): ManagedProcess {
  installExitHook();
  const { ownedDir, ...spawnOptions } = options;
  const child = spawn(command, args, { ...spawnOptions, stdio: ["ignore", "pipe", "pipe"] });
  const out = new TailBuffer();
  const err = new TailBuffer();
  child.stdout?.on("data", (c: Buffer) => out.push(c));
  child.stderr?.on("data", (c: Buffer) => err.push(c));

  let info: ExitInfo | undefined;
  const ended = new Promise<ExitInfo>((resolve) => {
    child.once("error", (error) => {
      // 'error' without a pid means it never started (no 'exit' will follow).
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  // Bookkeeping first, so that whoever awaits `exited` sees the process gone and its folder removed.
  const exited = ended.then(async (result) => {
    info = result;
    running.delete(managed);
    if (ownedDir !== undefined) await rm(ownedDir, { recursive: true, force: true });
    return result;
  });

  const managed: ManagedProcess = {
    name,
    child,
    exited,
    exitInfo: () => info,
    stdout: () => out.toString(),
    stderr: () => err.toString(),
    describe() {
      const status = info
        ? info.error
          ? `failed to start: ${info.error.message}`
          : `exited code=${info.code} signal=${info.signal}`
        : `running (pid ${child.pid})`;
      const tail = (s: string) => s.split("\n").slice(-40).join("\n");
      return `${name} ${status}\n--- stdout (tail) ---\n${tail(out.toString())}\n--- stderr (tail) ---\n${tail(err.toString())}`;
    },
    async stop(graceMs = 5_000) {
      if (!info) {
        child.kill("SIGTERM");
        const timedOut = await Promise.race([ended.then(() => false), sleep(graceMs).then(() => true)]);
        if (timedOut) child.kill("SIGKILL");
      }
      return exited;
    },
  };
  running.set(managed, ownedDir);
  return managed;
}

/** Resolves with the first match of `pattern` in the process's stdout+stderr; rejects on exit or timeout. */
export async function waitForOutput(p: ManagedProcess, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = (p.stdout() + "\n" + p.stderr()).match(pattern);
    if (match) return match;
    if (p.exitInfo()) throw new Error(`waiting for ${pattern} in output:\n${p.describe()}`);
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}:\n${p.describe()}`);
    await sleep(25);
  }
}

/** Processes started by this module that have not exited yet (for leak checks in tests). */
export function runningProcesses(): readonly ManagedProcess[] {
  return [...running.keys()];
}
