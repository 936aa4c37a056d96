// `--pin` for the through-Envoy phase: the authz server under test gets a core of its own and everything else the
// harness runs (itself, and the Envoys and load generators it starts, which inherit its affinity) shares the
// other — so the server's CPU per request is measured without the load generator and Envoy's workers scheduled
// onto its core between two of its checks. Same for every server in the rotation; undone when the phase ends.
import { execFileSync } from "node:child_process";
import os from "node:os";
import { childPids } from "./child.js";

/** Why pinning cannot be done here, or undefined. */
export function pinningUnavailable(): string | undefined {
  if (os.availableParallelism() < 2) return "fewer than 2 cores";
  try {
    execFileSync("taskset", ["--version"], { stdio: "ignore" });
  } catch {
    return "taskset (util-linux) is not on the PATH";
  }
  return undefined;
}

/** Sets the CPU affinity of every thread of `pid` and of its direct children (`cpus`: a taskset list, e.g. "1"). */
export function pinTree(pid: number, cpus: string): void {
  for (const p of [pid, ...childPids(pid)]) execFileSync("taskset", ["-a", "-p", "-c", cpus, String(p)], { stdio: "ignore" });
}

/**
 * Runs `fn` with the authz servers `serverPids` on the last core and this process on the others; afterwards every
 * one of them may run anywhere again. Processes `fn` starts inherit this process's affinity.
 */
export async function withPinnedServers<T>(serverPids: readonly number[], fn: () => Promise<T>): Promise<{ result: T; layout: string }> {
  const cores = os.availableParallelism();
  const all = `0-${cores - 1}`;
  const serverCore = String(cores - 1);
  const rest = cores === 2 ? "0" : `0-${cores - 2}`;
  pinTree(process.pid, rest);
  for (const pid of serverPids) pinTree(pid, serverCore);
  try {
    return { result: await fn(), layout: `authz servers on CPU ${serverCore}; the harness, the Envoys and the load generator on CPU ${rest}` };
  } finally {
    pinTree(process.pid, all);
    for (const pid of serverPids) {
      try {
        pinTree(pid, all);
      } catch {
        // a server that has exited needs no affinity
      }
    }
  }
}
