/**
 * Entry point of a cluster worker process (node:cluster runs this file; startCluster points setupPrimary's
 * `exec` here). The worker's composition root, as main.ts is the primary's: the only place here that touches
 * process.env, signals and IPC.
 */
import "../runtime/v8-flags.js"; // first: V8 settings before any other module runs
import { bufferedStdout } from "../observability/logger.js";
import { runWorker } from "./worker.js";
import type { ClusterMessage } from "./protocol.js";

if (!process.send) {
  process.stderr.write("worker-main: not started by node:cluster (no IPC channel)\n");
  process.exit(2);
}

const out = bufferedStdout();
process.on("exit", () => {
  try {
    out.flushSync();
  } catch {
    // not open yet: nothing buffered to lose
  }
});

runWorker({
  env: process.env,
  logDestination: out,
  send: (m: ClusterMessage) => {
    if (process.connected) process.send!(m);
    else throw new Error("IPC channel closed");
  },
  onMessage: (listener) => process.on("message", listener),
  onPrimaryGone: (listener) => process.on("disconnect", listener),
  onSignal: (listener) => {
    process.on("SIGTERM", () => listener("SIGTERM"));
    process.on("SIGINT", () => listener("SIGINT"));
  },
  exit: (code) => process.exit(code),
}).catch((err: unknown) => {
  process.stderr.write(`scopegate worker: ${(err as Error)?.message ?? String(err)}\n`);
  process.exit(1);
});
