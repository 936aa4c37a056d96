/**
 * The messages between the cluster primary and its workers (node:cluster IPC, JSON). Pure: building and
 * recognising messages, and turning a token answer into plain data and back.
 *
 * Tokens cross the IPC channel (a socketpair between a parent and its own child, never a network): the primary
 * alone mints them, so each tenant still costs one token request however many workers serve it.
 */
import type { Registry } from "prom-client";
import type { Config } from "../config/index.js";
import { tokenSourceError, type TokenSourceError, type TokenSourceErrorCode } from "../tokens/token-source-errors.js";

const TAG = "scopegate.cluster";

/** Primary -> worker, once after fork: what to serve. */
export interface StartMessage {
  readonly tag: typeof TAG;
  readonly type: "start";
  readonly config: Config;
  readonly configPath: string | undefined;
  /** 1-based, stable across restarts of the same slot: for log lines. */
  readonly slot: number;
  /** Whether this worker binds the configured unix socket too (see configs.ts). */
  readonly unixSocket: boolean;
  /** Whether to collect prom-client's default process metrics (labelled `worker`: the slot). */
  readonly processMetrics: boolean;
}

/** Worker -> primary: the worker's gRPC server is listening. */
export interface ListeningMessage {
  readonly tag: typeof TAG;
  readonly type: "listening";
}

/**
 * Primary -> worker: the primary's secret store has answered, so the worker's gRPC health may say SERVING (as a
 * single process does once its own store answers). Workers read no secrets themselves.
 */
export interface ReadyMessage {
  readonly tag: typeof TAG;
  readonly type: "ready";
}

/** Worker -> primary: a token for this tenant, please (local miss, or past its refresh point). */
export interface TokenAsk {
  readonly tag: typeof TAG;
  readonly type: "token.ask";
  readonly id: number;
  readonly tenantId: string;
  /** How long the worker's caller still waits; the primary stops waiting after that too. */
  readonly budgetMs: number;
}

/** A token as data: TokenEntry's fields (whose toJSON redacts the token, on purpose, so it is not used here). */
export interface TokenData {
  readonly authorization: string;
  readonly expiresAtMs: number;
  readonly refreshAtMs: number;
}

/**
 * The primary's answer: a token, or why there is none in the token source's own codes (the worker's
 * RemoteTokenSource returns them as they are; its authorizer maps them to deny reasons like any other).
 */
export type TokenAnswer =
  | { readonly kind: "token"; readonly token: TokenData }
  | { readonly kind: "error"; readonly code: TokenSourceErrorCode; readonly retryAfterSeconds?: number };

/** Primary -> worker. */
export interface TokenReply {
  readonly tag: typeof TAG;
  readonly type: "token.reply";
  readonly id: number;
  readonly answer: TokenAnswer;
}

/** Primary -> worker: stop serving within graceMs, then exit. */
export interface ShutdownMessage {
  readonly tag: typeof TAG;
  readonly type: "shutdown";
  readonly graceMs: number;
}

/** Primary -> worker: the config file changed and is valid; apply it (the primary watches, workers follow). */
export interface ConfigMessage {
  readonly tag: typeof TAG;
  readonly type: "config";
  readonly config: Config;
}

/** Primary -> worker: an operator evicted this tenant (admin socket); drop the local copy of its token. */
export interface EvictMessage {
  readonly tag: typeof TAG;
  readonly type: "evict";
  readonly tenantId: string;
}

/** Primary -> worker: your metrics, please (a scrape of the primary's /metrics). */
export interface MetricsAsk {
  readonly tag: typeof TAG;
  readonly type: "metrics.ask";
  readonly id: number;
}

/** One registry's metric families, as prom-client's getMetricsAsJSON() returns them. */
export type MetricFamilies = Awaited<ReturnType<Registry["getMetricsAsJSON"]>>;
type Family = MetricFamilies[number];
type WireFamily = Omit<Family, "values"> & { readonly values: (Omit<Family["values"][number], "value"> & { readonly value: number | string })[] };

/** One process's metrics as data, ready for prom-client's AggregatorRegistry.aggregate(). */
export interface ProcessMetrics {
  /** The app's registry: summed over processes (each metric's `aggregator` says how). */
  readonly app: MetricFamilies;
  /** prom-client's default process metrics, labelled with the process's `worker`: kept per process. */
  readonly process: MetricFamilies;
}

/** ProcessMetrics as they cross the channel (see toWire). */
export interface WireMetrics {
  readonly app: readonly WireFamily[];
  readonly process: readonly WireFamily[];
}

/** Worker -> primary. */
export interface MetricsReply {
  readonly tag: typeof TAG;
  readonly type: "metrics.reply";
  readonly id: number;
  readonly metrics: WireMetrics;
}

export type ClusterMessage =
  | StartMessage
  | ListeningMessage
  | ReadyMessage
  | TokenAsk
  | TokenReply
  | ShutdownMessage
  | ConfigMessage
  | MetricsAsk
  | MetricsReply
  | EvictMessage;

type Body<M> = M extends ClusterMessage ? Omit<M, "tag"> : never;

export function message<M extends ClusterMessage>(body: Body<M>): M {
  return { tag: TAG, ...body } as M;
}

/** Messages on the channel that are not ours (e.g. prom-client's cluster metrics) are ignored. */
export function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === "object" && m !== null && (m as { tag?: unknown }).tag === TAG && typeof (m as { type?: unknown }).type === "string";
}

export function answerFromError(e: TokenSourceError): TokenAnswer {
  return e.retryAfterSeconds === undefined ? { kind: "error", code: e.code } : { kind: "error", code: e.code, retryAfterSeconds: e.retryAfterSeconds };
}

/** The token source's error an answer carries (its frozen constant when there is no Retry-After). */
export function errorFromAnswer(a: Extract<TokenAnswer, { kind: "error" }>): TokenSourceError {
  return tokenSourceError(a.code, a.retryAfterSeconds);
}

/**
 * node:cluster's IPC is JSON, which turns NaN and ±Infinity into null (a gauge may hold them, e.g. an event loop
 * lag statistic with no samples yet). They travel as strings and come back as numbers.
 */
export function toWire(m: ProcessMetrics): WireMetrics {
  const encode = (families: MetricFamilies): WireFamily[] =>
    families.map((f) => ({ ...f, values: f.values.map((v) => (Number.isFinite(v.value) ? v : { ...v, value: String(v.value) })) }));
  return { app: encode(m.app), process: encode(m.process) };
}

export function fromWire(m: WireMetrics): ProcessMetrics {
  const decode = (families: readonly WireFamily[]): MetricFamilies =>
    families.map((f) => ({ ...f, values: f.values.map((v) => ({ ...v, value: Number(v.value) })) }));
  return { app: decode(m.app), process: decode(m.process) };
}
