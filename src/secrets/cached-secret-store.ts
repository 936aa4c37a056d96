/**
 * CachedSecretStore: a bounded cache in front of any SecretStore.
 * - found records live `ttlMs`; not-found answers live `negativeTtlMs` (a flood of unknown ids costs one read each per window);
 * - concurrent reads of one key share a single load (lru-cache fetch), which is not aborted when one caller leaves;
 * - when the store is unavailable, a record that went stale less than `maxStaleMs` ago is still served;
 * - the synchronous `peek` serves a stale record at once and refreshes it in the background
 *   (stale-while-revalidate), waiting a jittered pause after a failed refresh before the next one.
 */
import { LRUCache } from "lru-cache";
import { raceSignal } from "../util/abort.js";
import type { SecretReadResult, SecretStore } from "./secret-store.js";

interface Entry {
  readonly result: Extract<SecretReadResult, { kind: "found" | "not_found" }>;
  readonly loadedAt: number;
}

class StoreUnavailable extends Error {}

/** After a failed background revalidation, the next one waits about this long (jittered). */
const REVALIDATE_RETRY_MS = 2000;

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
  readonly #retryAt = new Map<string, number>();

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
        // lru-cache's signal or the load timeout; the timer is cleared when the read ends (an AbortSignal.timeout
        // would outlive every read by the whole timeout, holding what its signal reaches).
        const load = new AbortController();
        const abort = (): void => load.abort();
        const timer = setTimeout(abort, this.opts.loadTimeoutMs).unref();
        signal.addEventListener("abort", abort, { once: true });
        if (signal.aborted) abort();
        const started = performance.now();
        let result: SecretReadResult;
        try {
          result = await this.inner.read(key, load.signal);
        } finally {
          clearTimeout(timer);
          signal.removeEventListener("abort", abort);
        }
        this.opts.onLoad?.(result.kind, performance.now() - started);
        if (result.kind === "unavailable") throw new StoreUnavailable(result.detail);
        if (result.kind === "not_found") options.ttl = this.opts.negativeTtlMs;
        return { result, loadedAt: this.#now() };
      },
    });
  }

  /**
   * Synchronous look-up: the hot path never awaits when this answers. A stale entry (within maxStale) is
   * returned too, and a background refresh started, so a slow or down store does not slow checks.
   */
  peek(key: string): SecretReadResult | undefined {
    const entry = this.#cache.get(key, { allowStale: true });
    if (!entry) return undefined;
    if (this.#cache.getRemainingTTL(key) > 0) return entry.result;
    // A stale "not found" is not served: a tenant just written to the store must not wait for a revalidation.
    if (entry.result.kind !== "found") return undefined;
    const age = this.#now() - entry.loadedAt;
    if (age > this.#limitFor(entry)) return undefined;
    this.#revalidate(key);
    return entry.result;
  }

  /**
   * `fresh`: go to the store even if the cached record has not expired (e.g. the token endpoint rejected it).
   * If the store cannot answer, the cached record is still returned (within maxStale): nothing is dropped.
   */
  async read(key: string, signal: AbortSignal, opts: { fresh?: boolean } = {}): Promise<SecretReadResult> {
    try {
      const entry = await raceSignal(this.#cache.fetch(key, opts.fresh ? { forceRefresh: true } : {}), signal);
      if (!entry) return { kind: "unavailable", detail: "no result" };
      if (this.#now() - entry.loadedAt > this.#limitFor(entry)) return { kind: "unavailable", detail: "stale beyond limit" };
      return entry.result;
    } catch (err) {
      return { kind: "unavailable", detail: err instanceof StoreUnavailable ? err.message : "aborted" };
    }
  }

  /** Forget one key's record (operator eviction): the next read goes to the store. True if one was cached. */
  evict(key: string): boolean {
    this.#retryAt.delete(key);
    return this.#cache.delete(key);
  }

  #limitFor(entry: Entry): number {
    return (entry.result.kind === "found" ? this.opts.ttlMs : this.opts.negativeTtlMs) + this.opts.maxStaleMs;
  }

  #revalidate(key: string): void {
    const notBefore = this.#retryAt.get(key);
    if (notBefore !== undefined && this.#now() < notBefore) return;
    if (this.#retryAt.size >= this.opts.max) this.#retryAt.clear(); // bounded like the cache itself
    this.#retryAt.set(key, this.#now() + REVALIDATE_RETRY_MS * (0.5 + Math.random()));
    // On failure fetch() resolves with the stale value (allowStaleOnFetchRejection): only a fresh entry ends the pause.
    const done = (): void => {
      if (this.#cache.getRemainingTTL(key) > 0) this.#retryAt.delete(key);
    };
    this.#cache.fetch(key).then(done, done);
  }

}
