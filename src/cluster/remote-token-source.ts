/**
 * A worker's TokenSource: tokens come from the primary over IPC and are kept in a local, bounded cache, so a
 * cached check never leaves the worker. The primary is asked
 * - on a local miss (or once the local token has expired): the check waits for the answer, bounded by its signal;
 *   concurrent misses for one tenant share one question;
 * - once the local token is past its refresh point: in the background, while the current token keeps being
 *   served; at most once per `retryMs` while the primary still answers with the same token (its own background
 *   refresh is under way).
 * Errors are not cached here: the primary already remembers rate limits, and a miss asks again.
 * A local token is served only for the tenant definition it was asked for: after a config reload (or a
 * re-read store record) the tenant object differs, so the primary is asked again, and it decides whether the
 * token still fits (TokenProvider checks endpoint, record and client) or mints another.
 */
import { LRUCache } from "lru-cache";
import type { Tenant } from "../tenants/tenant.js";
import { TokenEntry, type TokenLookup, type TokenSource } from "../tokens/token-provider.js";
import { TOKEN_SOURCE_ERRORS, type TokenSourceError } from "../tokens/token-source-errors.js";
import { raceSignal } from "../util/abort.js";
import { errorFromAnswer, message, type ClusterMessage, type TokenAnswer, type TokenAsk } from "./protocol.js";

/** How a worker talks to its primary: process.send / process.on("message") in production, a fake in tests. */
export interface PrimaryChannel {
  send(m: ClusterMessage): void;
}

export interface RemoteTokenSourceOptions {
  readonly channel: PrimaryChannel;
  /** Local cache bound: tokens.maxTenants. */
  readonly max: number;
  /** How long the primary may take to answer (it may need a secret read and a token request). */
  readonly askTimeoutMs: number;
  readonly retryMs?: number;
  readonly now?: () => number;
}

interface Local {
  readonly entry: TokenEntry;
  /** The tenant definition the primary was asked for (objects are replaced on reload and on a re-read record). */
  tenant: Tenant;
  /** No background question before this time. */
  nextAskAt: number;
}

export class RemoteTokenSource implements TokenSource {
  readonly #cache: LRUCache<string, Local>;
  /** Keyed by the tenant definition: after a reload, a question for the new one never shares an old answer. */
  readonly #inflight = new Map<Tenant, Promise<TokenAnswer>>();
  readonly #pending = new Map<number, (a: TokenAnswer) => void>();
  readonly #now: () => number;
  readonly #retryMs: number;
  #nextId = 1;
  /** Per evicted tenant: answers to questions asked before the eviction (ids below this) are not stored. */
  readonly #evictedBefore = new Map<string, number>();

  constructor(private readonly opts: RemoteTokenSourceOptions) {
    this.#now = opts.now ?? Date.now;
    this.#retryMs = opts.retryMs ?? 1000;
    this.#cache = new LRUCache<string, Local>({ max: opts.max });
  }

  peek(tenant: Tenant): TokenEntry | undefined {
    const now = this.#now();
    const local = this.#cache.get(tenant.id);
    if (!local || now >= local.entry.expiresAtMs || local.tenant !== tenant) return undefined;
    if (now >= local.entry.refreshAtMs && now >= local.nextAskAt) {
      local.nextAskAt = now + this.#retryMs;
      void this.#ask(tenant);
    }
    return local.entry;
  }

  async get(tenant: Tenant, signal: AbortSignal): Promise<TokenLookup | TokenSourceError> {
    const hit = this.peek(tenant);
    if (hit) return { entry: hit, cache: "hit" };
    const local = this.#cache.get(tenant.id);
    if (local && this.#now() >= local.entry.expiresAtMs) this.#cache.delete(tenant.id); // expired: never served
    try {
      const answer = await raceSignal(this.#ask(tenant), signal);
      if (answer.kind === "error") return errorFromAnswer(answer);
      const fresh = this.#cache.get(tenant.id);
      return fresh && fresh.entry.authorization === answer.token.authorization ? { entry: fresh.entry, cache: "miss" } : TOKEN_SOURCE_ERRORS.unavailable;
    } catch {
      return signal.aborted ? TOKEN_SOURCE_ERRORS.deadline : TOKEN_SOURCE_ERRORS.unavailable;
    }
  }

  /** Feed every message from the primary here; answers nobody waits for any more are dropped. */
  handle(m: ClusterMessage): void {
    if (m.type !== "token.reply") return;
    const resolve = this.#pending.get(m.id);
    if (!resolve) return;
    this.#pending.delete(m.id);
    resolve(m.answer);
  }

  /**
   * The primary evicted the tenant (operator, admin socket): drop the local token, and ignore answers to
   * questions already on their way (they may carry the evicted token). True if a token was cached here.
   */
  evict(tenantId: string): boolean {
    if (this.#evictedBefore.size >= this.opts.max) this.#evictedBefore.clear(); // bounded; a stale mark only costs an ask
    this.#evictedBefore.set(tenantId, this.#nextId);
    return this.#cache.delete(tenantId);
  }

  get size(): number {
    return this.#cache.size;
  }

  /** One question per tenant at a time; the answer lands in the cache whoever still waits for it. */
  #ask(tenant: Tenant): Promise<TokenAnswer> {
    const tenantId = tenant.id;
    const running = this.#inflight.get(tenant);
    if (running) return running;
    const id = this.#nextId++;
    const asked = new Promise<TokenAnswer>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ kind: "error", code: "unavailable" });
      }, this.opts.askTimeoutMs + 1000);
      timer.unref();
      this.#pending.set(id, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
      try {
        this.opts.channel.send(message<TokenAsk>({ type: "token.ask", id, tenantId, budgetMs: this.opts.askTimeoutMs }));
      } catch {
        // The primary is gone (IPC closed): fail closed; the worker is about to be shut down anyway.
        this.#pending.delete(id);
        clearTimeout(timer);
        resolve({ kind: "error", code: "unavailable" });
      }
    })
      .then((answer) => {
        const evicted = (this.#evictedBefore.get(tenantId) ?? 0) > id;
        if (evicted) return { kind: "error", code: "unavailable" } as const;
        if (answer.kind === "token") this.#store(tenant, answer.token);
        return answer;
      })
      .finally(() => this.#inflight.delete(tenant));
    this.#inflight.set(tenant, asked);
    return asked;
  }

  #store(tenant: Tenant, t: { authorization: string; expiresAtMs: number; refreshAtMs: number }): void {
    const now = this.#now();
    if (now >= t.expiresAtMs) return;
    const current = this.#cache.get(tenant.id);
    if (current && current.entry.authorization === t.authorization) {
      // The same token: keep our entry (and its encoded responses), now for this definition. If it was due for
      // a refresh, the primary has not refreshed yet: ask again later.
      current.tenant = tenant;
      if (now >= current.entry.refreshAtMs) current.nextAskAt = now + this.#retryMs;
      return;
    }
    this.#cache.set(tenant.id, { entry: new TokenEntry(t.authorization, t.expiresAtMs, t.refreshAtMs), nextAskAt: 0, tenant });
  }
}
