/**
 * CachedSecretStore: a bounded cache in front of any SecretStore.
 * - found records live `ttlMs`; not-found answers live `negativeTtlMs` (a flood of unknown ids costs one read each per window);
 * - concurrent reads of one key share a single load (lru-cache fetch), which is not aborted when one caller leaves;
 * - when the store is unavailable, a record that went stale less than `maxStaleMs` ago is still served.
 */
import { LRUCache } from "lru-cache";
import { raceSignal } from "../util/abort.js";
import type { SecretReadResult, SecretStore } from "./secret-store.js";

interface Entry {
  readonly result: Extract<SecretReadResult, { kind: "found" | "not_found" }>;
  readonly loadedAt: number;
}

class StoreUnavailable extends Error {}

export interface CachedSecretStoreOptions {
  readonly ttlMs: number;
  readonly negativeTtlMs: number;
  readonly maxStaleMs: number;
  readonly max: number;
  readonly loadTimeoutMs: number;
  readonly now?: () => number;
  readonly onLoad?: (outcome: SecretReadResult["kind"], durationMs: number) => void;
}

export class CachedSecretStore implements SecretStore {
  readonly #cache: LRUCache<string, Entry>;
  readonly #now: () => number;
  /** Reads that reached the underlying store, for tests and metrics. */
  loads = 0;

  constructor(
    private readonly inner: SecretStore,
    private readonly opts: CachedSecretStoreOptions,
  ) {
    this.#now = opts.now ?? Date.now;
    this.#cache = new LRUCache<string, Entry>({
      max: opts.max,
      ttl: opts.ttlMs,
      perf: { now: this.#now },
      ttlResolution: 0, // ask the clock every time: an expired entry is never served, and injected clocks work
      allowStale: false,
      // A stale record must survive get() so it can be served while the store is down (bounded by maxStaleMs).
      noDeleteOnStaleGet: true,
      noDeleteOnFetchRejection: true,
      allowStaleOnFetchRejection: true,
      fetchMethod: async (key, _stale, { signal, options }) => {
        this.loads++;
        const timeout = AbortSignal.timeout(this.opts.loadTimeoutMs);
        const started = performance.now();
        const result = await this.inner.read(key, AbortSignal.any([signal, timeout]));
        this.opts.onLoad?.(result.kind, performance.now() - started);
        if (result.kind === "unavailable") throw new StoreUnavailable(result.detail);
        if (result.kind === "not_found") options.ttl = this.opts.negativeTtlMs;
        return { result, loadedAt: this.#now() };
      },
    });
  }

  /** Synchronous look-up of a fresh entry: the hot path never awaits when this answers. */
  peek(key: string): SecretReadResult | undefined {
    return this.#cache.get(key)?.result;
  }

  async read(key: string, signal: AbortSignal): Promise<SecretReadResult> {
    try {
      const entry = await raceSignal(this.#cache.fetch(key), signal);
      if (!entry) return { kind: "unavailable", detail: "no result" };
      const age = this.#now() - entry.loadedAt;
      const limit = (entry.result.kind === "found" ? this.opts.ttlMs : this.opts.negativeTtlMs) + this.opts.maxStaleMs;
      if (age > limit) return { kind: "unavailable", detail: "stale beyond limit" };
      return entry.result;
    } catch (err) {
      return { kind: "unavailable", detail: err instanceof StoreUnavailable ? err.message : "aborted" };
    }
  }

  /** Drop a key so the next read goes to the store (e.g. the token endpoint said invalid_client). */
  invalidate(key: string): void {
    this.#cache.delete(key);
  }
}
