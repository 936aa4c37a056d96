// The V8 heap of a process started with --inspect=127.0.0.1:0, through the inspector protocol (CDP over a
// WebSocket): a full GC on demand and the heap in use after it. Tells live data (what the cached tenants really
// hold) apart from garbage V8 has not collected yet, which RSS alone cannot.
import { setTimeout as sleep } from "node:timers/promises";
import type { Child } from "./child.js";

export interface HeapProbe {
  /** Full, synchronous GC (HeapProfiler.collectGarbage), then the heap in use and reserved (Runtime.getHeapUsage). */
  collect(): Promise<{ usedBytes: number; totalBytes: number }>;
  close(): void;
}

/** Node prints "Debugger listening on ws://127.0.0.1:PORT/UUID" on stderr once --inspect has bound its port. */
export async function connectHeapProbe(child: Child, timeoutMs = 10_000): Promise<HeapProbe> {
  const deadline = Date.now() + timeoutMs;
  let url: string | undefined;
  while (!url) {
    url = /Debugger listening on (ws:\/\/\S+)/.exec(child.stderr())?.[1];
    if (!url && Date.now() > deadline) throw new Error(`no inspector URL from ${child.name}:\n${child.stderr()}`);
    if (!url) await sleep(20);
  }
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve(), { once: true });
    ws.addEventListener("error", () => reject(new Error(`inspector WebSocket ${url} failed`)), { once: true });
  });
  let nextId = 0;
  const pending = new Map<number, (result: Record<string, unknown>) => void>();
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: Record<string, unknown> };
    if (m.id !== undefined) pending.get(m.id)?.(m.result ?? {});
  });
  const call = (method: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      const timer = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), 60_000);
      pending.set(id, (r) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(r);
      });
      ws.send(JSON.stringify({ id, method }));
    });
  return {
    async collect() {
      await call("HeapProfiler.collectGarbage");
      const usage = await call("Runtime.getHeapUsage");
      return { usedBytes: Number(usage["usedSize"]), totalBytes: Number(usage["totalSize"]) };
    },
    close: () => ws.close(),
  };
}
