/**
 * The operator's admin endpoint: HTTP on a unix socket only (never TCP), file mode 0600 so that only
 * scopegate's own uid can connect: an operator reaches it with `kubectl exec <pod> -c scopegate -- … evict`.
 *
 *   POST /tenants/<id>/evict  -> 200 {"tenant": "<id>", "evicted": true|false[, "fleet": "evicted"|"unreachable"]}
 *       drops the tenant's cached token, the answers encoded for it and its cached secret record; the next check
 *       mints a new token (e.g. after a caller revoked the shared one with DELETE /api/v2/tokens/me). With a fleet
 *       token store (config fleet.tokens) the token is also deleted from Redis and every replica drops its copy;
 *       "fleet": "unreachable" says Redis could not be told (this replica only).
 *       A malformed id -> 400 {"error": "tenant_invalid"}.
 *
 * Bodies carry ids and codes only, never a token or a secret.
 */
import { chmod, mkdir, rm } from "node:fs/promises";
import http from "node:http";
import { dirname } from "node:path";
import type { Logger } from "pino";

export interface AdminOptions {
  readonly socket: string;
  /** The configured tenant id pattern, anchored (tenant-id.ts compileTenantIdPattern). */
  readonly tenantIdPattern: RegExp;
  /** evicted: something was cached here for the tenant; fleet: how far the eviction reached, with a fleet store. */
  evict(tenantId: string): Promise<EvictResult>;
  readonly logger: Logger;
}

export interface EvictResult {
  readonly evicted: boolean;
  readonly fleet?: "evicted" | "unreachable";
}

export interface RunningAdminServer {
  readonly socket: string;
  close(): Promise<void>;
}

const EVICT_PATH = /^\/tenants\/([^/]*)\/evict$/;
const MAX_TENANT_ID_LENGTH = 256;

export async function startAdminServer(opts: AdminOptions): Promise<RunningAdminServer> {
  const server = http.createServer((req, res) => {
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const m = EVICT_PATH.exec((req.url ?? "/").split("?")[0]!);
    if (!m) return json(404, { error: "not_found" });
    if (req.method !== "POST") return json(405, { error: "method_not_allowed" });
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return json(400, { error: "tenant_invalid" });
    }
    if (id.length === 0 || id.length > MAX_TENANT_ID_LENGTH || !opts.tenantIdPattern.test(id)) return json(400, { error: "tenant_invalid" });
    opts.evict(id).then(
      (result) => {
        opts.logger.warn({ tenant: id, ...result }, "tenant evicted by operator (admin socket)");
        json(200, { tenant: id, ...result });
      },
      () => json(500, { error: "internal_error" }),
    );
  });
  await mkdir(dirname(opts.socket), { recursive: true, mode: 0o700 });
  await rm(opts.socket, { force: true }); // a stale socket from a previous run
  // Created srw------- (umask 0177): never connectable by another uid, not even for a moment (see grpc-server.ts).
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.socket, () => resolve());
    });
  } finally {
    process.umask(umask);
  }
  await chmod(opts.socket, 0o600);
  return {
    socket: opts.socket,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The CLI side (`scopegate evict <tenant>`): POST to the admin socket, the answer's status and JSON body. */
export function requestEviction(socket: string, tenantId: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, method: "POST", path: `/tenants/${encodeURIComponent(tenantId)}/evict`, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < 64 * 1024) body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer from ${socket} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}
