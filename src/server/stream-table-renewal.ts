/**
 * Keeps node:http2's per-session table of open streams young, so that a long-lived HTTP/2 connection (Envoy keeps
 * one per worker for hours) does not drag every request's objects into the old generation.
 *
 * Why: node:http2 keeps a session's open streams in a JS Map, one set and one delete per request. V8 rehashes a
 * Map's backing table every few inserts when entries come and go, allocates the new table in the generation of
 * the one it replaces, and leaves the replaced ("obsolete") table linked to the new one with its entries still in
 * it (V8 src/objects/ordered-hash-table.cc, OrderedHashTable::Rehash). Once a session's table is in the old
 * generation — a mark-compact while the connection is open promotes it — every later table is allocated there
 * too, and every obsolete table holds the streams that were open when it was replaced. A scavenge cannot tell
 * dead old objects from live ones, so those streams and everything they reach (the gRPC call, its buffers, the
 * answer) survive and are promoted. With two or three streams open at a time (checks waiting for Vault or the
 * token endpoint do that) plain node:http2 promotes ~700 B per request this way, and with this renewal ~10
 * (scripts/bench/stream-table.mjs; scripts/bench/map-churn.mjs shows the Map behaviour alone; the same nepotism
 * in Java: netty/netty#791).
 *
 * What: every `every`th stream a session opens, its table is replaced by a new Map with the same entries. A new
 * Map starts in the young generation, so a chain of old tables ends there. The table lives in node's internal
 * session state (a symbol-keyed field, not public API): it is found by shape, and where it is not found (another
 * Node version) nothing is replaced and `onUnavailable` is told once.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { Http2Session, ServerHttp2Stream } from "node:http2";

/** The diagnostics channel node:http2 publishes every new server-side stream on (nodejs/node#58390; Node 24 has it). */
const STREAM_CREATED = "http2.server.stream.created";

/** The part of node's internal session state this module touches. */
interface StreamTableHolder {
  streams: Map<number, unknown>;
}

export interface StreamTableRenewal {
  /** Tables replaced since start (all sessions). */
  readonly renewed: number;
  stop(): void;
}

/**
 * Subscribes to node:http2's stream-created channel (every HTTP/2 server in the process: the Check listeners and
 * the health listener; replacing another server's table is harmless) until stop().
 */
export function renewStreamTables(opts: { every: number; onUnavailable: (reason: string) => void }): StreamTableRenewal {
  const sessions = new WeakMap<Http2Session, { holder: StreamTableHolder | undefined; opened: number }>();
  let renewed = 0;
  let told = false;
  const onStream = (message: unknown): void => {
    const session = (message as { stream?: ServerHttp2Stream } | undefined)?.stream?.session;
    if (!session) return;
    let s = sessions.get(session);
    if (!s) {
      s = { holder: streamTableOf(session), opened: 0 };
      sessions.set(session, s);
      if (!s.holder && !told) {
        told = true;
        opts.onUnavailable(`node ${process.version}: no streams Map in the http2 session's state`);
      }
    }
    if (!s.holder || ++s.opened % opts.every !== 0) return;
    s.holder.streams = renewedTable(s.holder.streams);
    renewed++;
  };
  subscribe(STREAM_CREATED, onStream);
  return {
    get renewed() {
      return renewed;
    },
    stop: () => void unsubscribe(STREAM_CREATED, onStream),
  };
}

/** node's state object of a session, if it still has the shape this module relies on. */
export function streamTableOf(session: Http2Session): StreamTableHolder | undefined {
  const key = Object.getOwnPropertySymbols(session).find((k) => k.description === "state");
  const state: unknown = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  if (typeof state !== "object" || state === null || !("streams" in state)) return undefined;
  return isJsMap((state as { streams: unknown }).streams) ? (state as StreamTableHolder) : undefined;
}

/** A real JS Map (node's SafeMap subclass included, whose prototype chain does not reach Object.prototype). */
function isJsMap(value: unknown): value is Map<number, unknown> {
  try {
    Map.prototype.has.call(value, 0); // throws unless `value` is a Map underneath
    return typeof (value as { constructor?: unknown }).constructor === "function";
  } catch {
    return false;
  }
}

/** A new Map of the same class (node uses a subclass) with the same entries in the same order. */
function renewedTable(old: Map<number, unknown>): Map<number, unknown> {
  const Table = old.constructor as new () => Map<number, unknown>;
  const next = new Table();
  old.forEach((stream, id) => next.set(id, stream));
  return next;
}
