/**
 * Plain HTTP for people and Prometheus: /healthz (alive), /readyz (ready to serve checks), /metrics.
 * Bound to loopback by default. Bodies carry states and codes only.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

/** What /metrics serves: a prom-client Registry, or the cluster primary's aggregate (src/cluster/cluster-metrics.ts). */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface Readiness {
  /** undefined when ready; otherwise why not. */
  notReadyReason(): string | undefined;
  /** Extra detail for /readyz (e.g. a rejected config reload). */
  detail(): Record<string, unknown>;
}

export interface RunningHttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(opts: { listen: string; registry: MetricsSource; readiness: Readiness; isShuttingDown: () => boolean }): Promise<RunningHttpServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "GET" && req.method !== "HEAD") return json(405, { error: "method_not_allowed" });
    switch (path) {
      case "/healthz":
        return json(200, { status: "ok" });
      case "/readyz": {
        const reason = opts.isShuttingDown() ? "shutting_down" : opts.readiness.notReadyReason();
        return json(reason ? 503 : 200, { status: reason ? "not_ready" : "ready", ...(reason ? { reason } : {}), ...opts.readiness.detail() });
      }
      case "/metrics":
        opts.registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": opts.registry.contentType });
            res.end(text);
          },
          () => json(500, { error: "metrics_failed" }),
        );
        return;
      default:
        return json(404, { error: "not_found" });
    }
  });
  const { host, port } = splitHostPort(opts.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(hostPort.slice(i + 1)) };
}
