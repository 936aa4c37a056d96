/**
 * The fleet's Redis connection (config fleet.redis), for every feature replicas share through Redis (the token
 * store, the request budget). Built once by the composition root; nothing here at import time.
 *
 * - Commands never wait for Redis longer than commandTimeoutMs, and none queue while it is down
 *   (enableOfflineQueue false, maxRetriesPerRequest 0): a caller gets an error at once and falls back.
 * - The connection is retried forever with jittered exponential backoff (50 ms doubling to 2 s), so a Redis that
 *   comes back is used again without a restart.
 * - up/down is what /readyz and the metrics report: up once the connection is ready (ioredis "ready": the
 *   server answered, https://redis.io/docs/latest/commands/info/ loading check), down on close/end/error.
 * - A separate connection for SUBSCRIBE (a subscribed RESP2 connection accepts no other commands,
 *   https://redis.io/docs/latest/develop/interact/pubsub/), resubscribed automatically after a reconnect.
 *
 * The password is read from a file at start (fail fast) and never logged; log lines name the state only.
 */
import { readFile } from "node:fs/promises";
import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import type { FleetRedisConfig } from "../config/index.js";
import { backoffDelay } from "../util/backoff.js";

export interface FleetRedisLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface FleetRedis {
  /** The command connection. */
  readonly client: Redis;
  /** The pub/sub connection (created on first use, closed by close()). */
  subscriber(): Redis;
  /** Every key and channel scopegate uses starts with this (config fleet.redis.keyPrefix). */
  readonly keyPrefix: string;
  /** The command connection is ready. */
  isUp(): boolean;
  /** Called on every change of isUp(); returns the unsubscribe. */
  onChange(listener: (up: boolean) => void): () => void;
  /** The code of the last connection error (ECONNREFUSED, ETIMEDOUT, …), never a message that could hold a secret. */
  lastError(): string | undefined;
  /** Resolves true once connected, or false after `ms` (Redis down is a state, not an error). */
  whenUp(ms: number): Promise<boolean>;
  close(): Promise<void>;
}

export class FleetRedisConfigError extends Error {}

const RECONNECT_BACKOFF = { baseMs: 50, capMs: 2000 };

/** ioredis options from the config (pure apart from what the caller read from files). */
export function redisOptions(config: FleetRedisConfig, files: { password?: string; ca?: string }, name: string): RedisOptions {
  const url = new URL(config.url);
  const tls: ConnectionOptions | undefined =
    url.protocol === "rediss:"
      ? { servername: config.tls?.serverName ?? url.hostname, ...(files.ca === undefined ? {} : { ca: files.ca }) }
      : undefined;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: url.port === "" ? 6379 : Number(url.port),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(files.password === undefined ? {} : { password: files.password }),
    ...(tls === undefined ? {} : { tls }),
    connectionName: name,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Jittered so a fleet does not reconnect in lockstep after a Redis restart.
    retryStrategy: (times) => Math.max(RECONNECT_BACKOFF.baseMs, backoffDelay(Math.min(times, 10), RECONNECT_BACKOFF)),
    lazyConnect: false,
  };
}

async function readFiles(config: FleetRedisConfig): Promise<{ password?: string; ca?: string }> {
  const read = async (path: string, what: string): Promise<string> => {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      throw new FleetRedisConfigError(`fleet.redis.${what} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
  };
  const out: { password?: string; ca?: string } = {};
  if (config.passwordFile !== undefined) out.password = (await read(config.passwordFile, "passwordFile")).replace(/\r?\n$/, "");
  if (config.tls?.caFile !== undefined) out.ca = await read(config.tls.caFile, "tls.caFile");
  return out;
}

/**
 * Connects in the background: resolves at once (Redis being down at start is a state, not a failure); throws only
 * when a configured file cannot be read.
 */
export async function connectFleetRedis(config: FleetRedisConfig, deps: { logger: FleetRedisLogger; name?: string }): Promise<FleetRedis> {
  const options = redisOptions(config, await readFiles(config), deps.name ?? "scopegate");
  const client = new Redis(options);
  const listeners = new Set<(up: boolean) => void>();
  let up = false;
  let lastError: string | undefined;
  const set = (next: boolean): void => {
    if (next === up) return;
    up = next;
    if (next) deps.logger.info({ redis: "up" }, "fleet redis connected");
    else deps.logger.warn({ redis: "down", error: lastError }, "fleet redis unreachable; falling back to local");
    for (const l of listeners) l(next);
  };
  client.on("ready", () => set(true));
  client.on("close", () => set(false));
  client.on("end", () => set(false));
  // An error event without a listener would crash the process; the state change is what matters.
  client.on("error", (err: NodeJS.ErrnoException) => {
    lastError = err.code ?? err.name;
  });
  let sub: Redis | undefined;
  return {
    client,
    keyPrefix: config.keyPrefix,
    subscriber() {
      if (sub === undefined) {
        // autoResubscribe off: ioredis's own resubscription after a reconnect sends SUBSCRIBE without handling its
        // promise, so a connection lost again before the answer is an unhandled rejection, which ends the process.
        // RedisTokenStore subscribes on every "ready" itself, and handles the answer.
        sub = client.duplicate({ connectionName: `${options.connectionName}-sub`, enableOfflineQueue: true, commandTimeout: undefined, autoResubscribe: false });
        sub.on("error", () => undefined);
      }
      return sub;
    },
    isUp: () => up,
    lastError: () => lastError,
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    whenUp(ms) {
      if (up) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (value: boolean): void => {
          clearTimeout(timer);
          listeners.delete(onUp);
          resolve(value);
        };
        const onUp = (now: boolean): void => void (now && done(true));
        const timer = setTimeout(() => done(false), ms);
        timer.unref();
        listeners.add(onUp);
      });
    },
    async close() {
      listeners.clear();
      // QUIT lets the server close cleanly; a Redis that does not answer gets no more than a moment.
      const quit = Promise.allSettled([client.quit(), sub?.quit()]);
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 500).unref())]);
      client.disconnect();
      sub?.disconnect();
    },
  };
}
