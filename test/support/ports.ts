// Loopback port helpers for tests: never a fixed port, every wait bounded.
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * A port that was free on 127.0.0.1 a moment ago (bind :0, read, close).
 * Prefer binding port 0 directly where the server allows it; this is for processes (Envoy, OpenBao)
 * that need the number on their command line or config.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("freePort: no TCP address"));
        return;
      }
      server.close((err) => (err ? reject(err) : resolve(address.port)));
    });
  });
}

/** Resolves once `predicate` returns true (sync or async); rejects after `timeoutMs`. Polls every `intervalMs`. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs: number,
  opts: { intervalMs?: number; what?: string } = {},
): Promise<void> {
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
  const what = opts.what ?? "condition";
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
  throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms${cause}`);
}

/** True if a TCP connection to host:port succeeds within `timeoutMs`. */
export function canConnect(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Resolves once something accepts TCP connections on host:port; rejects after `timeoutMs`. */
export async function waitForTcp(host: string, port: number, timeoutMs: number): Promise<void> {
  await waitFor(() => canConnect(host, port, Math.min(500, timeoutMs)), timeoutMs, {
    what: `TCP ${host}:${port} accepting`,
  });
}

/** True if 127.0.0.1:port can be bound right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
