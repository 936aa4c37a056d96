/**
 * node:http2's table of a connection's open streams is replaced every N streams (src/server/stream-table-renewal.ts):
 * on real node:http2 and grpc-js connections, with streams overlapping, every stream still completes and leaves
 * the table it ends in; the shipped config renews the Check listener's tables; a Node whose sessions lack the
 * table is reported once and nothing else happens.
 */
import * as grpc from "@grpc/grpc-js";
import { channel, subscribe, unsubscribe } from "node:diagnostics_channel";
import { mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startApp } from "../../src/app.js";
import { parseConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { CHECK_METHOD_PATH } from "../../src/server/check-service.js";
import { renewStreamTables, streamTableOf, type StreamTableRenewal } from "../../src/server/stream-table-renewal.js";

const CREATED = "http2.server.stream.created";
let renewal: StreamTableRenewal | undefined;
afterEach(() => {
  renewal?.stop();
  renewal = undefined;
});

/** The server-side sessions streams arrive on, and every distinct table object seen at a stream's creation. */
function watchSessions(): { sessions: Set<http2.Http2Session>; tables: Set<unknown>; stop(): void } {
  const sessions = new Set<http2.Http2Session>();
  const tables = new Set<unknown>();
  const onStream = (m: unknown): void => {
    const session = (m as { stream: http2.ServerHttp2Stream }).stream.session!;
    sessions.add(session);
    tables.add(streamTableOf(session)?.streams);
  };
  subscribe(CREATED, onStream);
  return { sessions, tables, stop: () => unsubscribe(CREATED, onStream) };
}

async function plainHttp2Server(delayMs: number): Promise<{ server: http2.Http2Server; port: number; held: http2.ServerHttp2Stream[] }> {
  const server = http2.createServer();
  const held: http2.ServerHttp2Stream[] = [];
  server.on("stream", (stream, headers) => {
    if (headers[":path"] === "/hold") return void held.push(stream); // answered never: open until the session ends
    setTimeout(() => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200 });
      stream.end("ok");
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, held };
}

function get(client: http2.ClientHttp2Session, path = "/"): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = client.request({ ":path": path });
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

describe("renewStreamTables on node:http2", () => {
  it("replaces a session's table every N streams while streams overlap; every stream completes and none is left in the table", async () => {
    const watch = watchSessions();
    renewal = renewStreamTables({ every: 8, onUnavailable: (r) => expect.fail(r) });
    const { server, port, held } = await plainHttp2Server(3);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      // 20 rounds of 5 concurrent streams: 100 streams, each renewal with streams of the round still open.
      for (let round = 0; round < 20; round++) expect(await Promise.all(Array.from({ length: 5 }, () => get(client)))).toEqual(Array(5).fill("ok"));
      expect(watch.sessions.size).toBe(1);
      const [session] = watch.sessions;
      expect(renewal.renewed).toBe(Math.floor(100 / 8));
      expect(watch.tables.size).toBe(Math.floor(100 / 8) + 1);
      await new Promise((r) => setImmediate(r));
      expect(streamTableOf(session!)!.streams.size).toBe(0);
      // A stream open across renewals moves to each new table: destroying the session (which ends the streams in
      // its table) ends it too, instead of leaving it hanging.
      const hold = get(client, "/hold").catch((e: Error) => e);
      for (let i = 0; i < 16; i++) await get(client);
      expect(renewal.renewed).toBe(Math.floor(117 / 8));
      expect(held).toHaveLength(1);
      expect([...streamTableOf(session!)!.streams.values()]).toEqual(held);
      session!.destroy();
      expect(held[0]!.destroyed).toBe(true);
      await hold;
    } finally {
      watch.stop();
      client.destroy();
      await new Promise((r) => server.close(r));
    }
  });

  it("tells once when a session has no streams table, and leaves it alone", () => {
    const reasons: string[] = [];
    renewal = renewStreamTables({ every: 1, onUnavailable: (r) => reasons.push(r) });
    const odd = [{}, { [Symbol("state")]: null }, { [Symbol("state")]: { streams: [] } }, { [Symbol("state")]: { streams: new Set() } }];
    for (const session of odd) for (let i = 0; i < 3; i++) channel(CREATED).publish({ stream: { session } });
    channel(CREATED).publish({ stream: {} });
    channel(CREATED).publish(undefined);
    expect(reasons).toEqual([expect.stringMatching(/^node v\d+.*no streams Map/)]);
    expect(renewal.renewed).toBe(0);
  });

  it("stops replacing tables after stop()", async () => {
    renewal = renewStreamTables({ every: 1, onUnavailable: (r) => expect.fail(r) });
    const { server, port } = await plainHttp2Server(0);
    const client = http2.connect(`http://127.0.0.1:${port}`);
    try {
      await get(client);
      expect(renewal.renewed).toBe(1);
      renewal.stop();
      await get(client);
      expect(renewal.renewed).toBe(1);
    } finally {
      client.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("the Check listener as configured", () => {
  async function checksThrough(renewStreamTableEvery: number | undefined): Promise<number> {
    const dir = await mkdtemp(join(tmpdir(), "scopegate-renewal-"));
    const watch = watchSessions();
    const listen = { tcp: "127.0.0.1:0", unixSocket: null, ...(renewStreamTableEvery === undefined ? {} : { renewStreamTableEvery }) };
    const app = await startApp({
      config: parseConfig({
        secrets: { backend: "file", file: { directory: dir } },
        tenants: [{ id: "acme", divisions: ["d"], environment: "mypurecloud.de" }],
        listen, http: { listen: null },
        admin: { socket: null },
        reload: { watch: false },
        logging: { level: "silent" },
      }),
      logger: createLogger("silent"),
      env: {},
      defaultMetrics: false,
    });
    const client = new grpc.Client(`127.0.0.1:${app.server.tcpPort}`, grpc.credentials.createInsecure());
    try {
      // 150 Checks (denied: no tenant header) on one connection, three at a time.
      for (let i = 0; i < 50; i++)
        await Promise.all(
          Array.from(
            { length: 3 },
            () =>
              new Promise<void>((resolve, reject) =>
                client.makeUnaryRequest(CHECK_METHOD_PATH, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), { deadline: Date.now() + 3000 }, (err) => (err ? reject(err) : resolve())),
              ),
          ),
        );
      expect(watch.sessions.size).toBe(1);
      return watch.tables.size;
    } finally {
      watch.stop();
      client.close();
      await app.stop(200);
      await rm(dir, { recursive: true, force: true });
    }
  }

  it("renews every 64 streams by default and never with renewStreamTableEvery: 0", async () => {
    expect(await checksThrough(undefined)).toBe(Math.floor(150 / 64) + 1);
    expect(await checksThrough(0)).toBe(1);
  });
});
