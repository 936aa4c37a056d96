/**
 * The fleet token store on Redis (config fleet.tokens): the SharedTokenStore the TokenProvider mints through on a
 * local miss or refresh. Cached tenants never get here; what does:
 *
 * 1. obtain (one script): a token for this tenant and origin newer than the one held here -> adopt it. Else take
 *    the minting lease (SET NX PX lockLeaseMs, fencing token from INCR) and mint; the write is accepted only while
 *    the fencing token is the latest (script WRITE), then published. Else another replica holds the lease: wait for
 *    its "minted"/"released" notice (pub/sub) or pollIntervalMs, and ask again; once a crashed holder's lease has
 *    run out, the next ask takes it over.
 * 2. Redis down, slow (commandTimeoutMs) or the wait past lease + a poll: mint locally, never fail the check.
 * 3. A replica that refreshes publishes; every replica holding an older token of that origin adopts the new one,
 *    so refresh-ahead happens once for the fleet (and a replica whose refresh comes due adopts it in step 1).
 * 4. When Redis comes back (or the subscription is re-established), every cached token is offered (script OFFER):
 *    the fleet's is adopted if there is one, ours published if not, dropped if the tenant was evicted since.
 * 5. evict(): deletes the tenant's tokens and leases, bumps fences, publishes; every replica drops its copy.
 *
 * Tokens are sealed (token-envelope.ts) with the Redis key as AAD; key names are digests (token-keys.ts). Nothing
 * here logs or counts a token, a secret or a client id.
 */
import { randomUUID } from "node:crypto";
import type { SharedToken, SharedTokenRequest, SharedTokenStore } from "../tokens/shared-tokens.js";
import type { TokenEntry } from "../tokens/token-provider.js";
import type { Keyring } from "../util/keyring-file.js";
import type { FleetRedis } from "./redis.js";
import { openStored, S, sealShared, STATE_TTL_MS } from "./token-codec.js";
import { adoptNewer, offerAll, type ConvergeDeps, type FleetTokenEvent, type LocalTokens } from "./token-converge.js";
import { tokenId } from "./token-envelope.js";
import { channelOf, fleetTokenKeys, sameOrigin, tenantKeys, type FleetTokenKeys } from "./token-keys.js";
import { decodeNotice, encodeNotice, readObtainReply, type FleetNotice, type StoredToken } from "./token-scripts.js";
import { runScript } from "./scripts-runner.js";

export type { FleetTokenEvent, LocalTokens } from "./token-converge.js";

export type FleetTokenResult = "hit" | "adopted" | "minted" | "fallback";

export interface FleetTokenStoreOptions {
  readonly redis: FleetRedis;
  readonly keyring: () => Keyring;
  readonly lockLeaseMs: number;
  readonly pollIntervalMs: number;
  readonly commandTimeoutMs: number;
  readonly now?: () => number;
  readonly onResult?: (result: FleetTokenResult) => void;
  readonly onEvent?: (event: FleetTokenEvent) => void;
}

/** A shared token with less left than this is replaced rather than adopted. */
const MIN_LEFT_MS = 1000;

export class RedisTokenStore implements SharedTokenStore {
  readonly replica = randomUUID();
  readonly #o: FleetTokenStoreOptions;
  readonly #now: () => number;
  readonly #channel: string;
  readonly #waiters = new Map<string, Set<() => void>>();
  #local: LocalTokens | undefined;
  #converging: Promise<void> | undefined;
  #convergeAgain = false;
  #closed = false;
  #subscribed = false;

  constructor(opts: FleetTokenStoreOptions) {
    this.#o = opts;
    this.#now = opts.now ?? Date.now;
    this.#channel = channelOf(opts.redis.keyPrefix);
  }

  /** Subscribes to the fleet's notices and converges whenever Redis (or the subscription) comes back. */
  start(local: LocalTokens): void {
    this.#local = local;
    const sub = this.#o.redis.subscriber();
    sub.on("message", (channel: string, text: string) => {
      if (channel !== this.#channel) return;
      const notice = decodeNotice(text);
      if (notice !== undefined && notice.replica !== this.replica) this.#onNotice(notice);
    });
    // Every (re)connection of the subscriber: subscribe (again: ioredis does not, see src/fleet/redis.ts), then
    // converge, since notices published while it was away were missed.
    const subscribe = (): void =>
      void sub.subscribe(this.#channel).then(
        () => {
          this.#subscribed = true;
          void this.converge();
        },
        () => undefined,
      );
    sub.on("ready", subscribe);
    sub.on("close", () => (this.#subscribed = false));
    subscribe();
    this.#o.redis.onChange((up) => up && void this.converge());
  }

  get up(): boolean {
    return this.#o.redis.isUp();
  }

  /** Notices (mints, evictions) are being received; false while the subscription is re-established. */
  get subscribed(): boolean {
    return this.#subscribed;
  }

  async obtain(req: SharedTokenRequest): Promise<TokenEntry> {
    if (!this.up) return this.#fallback(req);
    const keys = fleetTokenKeys(this.#o.redis.keyPrefix, req.tenantId, req.origin);
    let newerThan = req.have !== undefined && sameOrigin(req.have.origin, req.origin) ? req.have.mintedAtMs : 0;
    const deadline = this.#now() + this.#o.lockLeaseMs + this.#o.pollIntervalMs + this.#o.commandTimeoutMs;
    for (let round = 0; this.#now() < deadline && !this.#closed; round++) {
      let reply;
      try {
        reply = readObtainReply(await runScript(this.#o.redis.client, S.obtain, [keys.token, keys.lock, keys.fence, keys.index, keys.pause], [newerThan, this.#o.lockLeaseMs, keys.origin, STATE_TTL_MS]));
      } catch {
        return this.#fallback(req);
      }
      if (reply.kind === "paused") {
        // Another replica was answered 429: the tenant's client is rate limited fleet-wide until Retry-After.
        this.#o.onEvent?.("paused_by_peer");
        throw req.paused(Math.ceil(reply.leftMs / 1000));
      }
      if (reply.kind === "found") {
        const token = this.#open(keys, reply.stored);
        if (token !== undefined && token.expiresAtMs - this.#now() > MIN_LEFT_MS) {
          this.#o.onResult?.(round === 0 ? "hit" : "adopted");
          return req.adopt(token);
        }
        newerThan = Math.max(newerThan, reply.stored.mintedAtMs); // unusable here: replace it
        continue;
      }
      if (reply.kind === "locked") {
        const entry = await this.#mintAndShare(req, keys, reply.fence);
        if (entry !== undefined) return entry;
        continue; // our lease was overtaken (or the tenant evicted) before the write: look again
      }
      await this.#wait(keys, Math.min(this.#o.pollIntervalMs, Math.max(1, reply.leaseLeftMs), Math.max(1, deadline - this.#now())));
    }
    return this.#fallback(req);
  }

  /** Fleet-wide eviction; "unreachable" when Redis cannot be told (the local copy is dropped by the caller anyway). */
  async evict(tenantId: string): Promise<"evicted" | "unreachable"> {
    if (!this.up) return "unreachable";
    const t = tenantKeys(this.#o.redis.keyPrefix, tenantId);
    const notice = encodeNotice({ type: "evicted", replica: this.replica, tenantId });
    try {
      await runScript(this.#o.redis.client, S.evict, [t.index, t.evicted], [this.#o.redis.keyPrefix, t.tenantTag, this.#now(), STATE_TTL_MS, this.#channel, notice]);
      return "evicted";
    } catch {
      return "unreachable";
    }
  }

  /** Offer every cached token to the fleet (after an outage); one pass at a time, another if asked meanwhile. */
  converge(): Promise<void> {
    if (this.#converging !== undefined) {
      this.#convergeAgain = true;
      return this.#converging;
    }
    this.#converging = (async () => {
      do {
        this.#convergeAgain = false;
        if (this.#local) await offerAll(this.#convergeDeps(this.#local));
      } while (this.#convergeAgain && !this.#closed);
    })().finally(() => (this.#converging = undefined));
    return this.#converging;
  }

  close(): void {
    this.#closed = true;
    for (const set of this.#waiters.values()) for (const wake of set) wake();
  }

  #convergeDeps(local: LocalTokens): ConvergeDeps {
    return {
      redis: this.#o.redis,
      keyring: this.#o.keyring,
      local,
      replica: this.replica,
      channel: this.#channel,
      now: this.#now,
      stopped: () => this.#closed,
      ...(this.#o.onEvent ? { onEvent: this.#o.onEvent } : {}),
    };
  }

  async #fallback(req: SharedTokenRequest): Promise<TokenEntry> {
    this.#o.onResult?.("fallback");
    return req.mint();
  }

  /** Mints under our lease; undefined when the write was refused (lease overtaken or tenant evicted). */
  async #mintAndShare(req: SharedTokenRequest, keys: FleetTokenKeys, fence: string): Promise<TokenEntry | undefined> {
    let entry: TokenEntry;
    try {
      entry = await req.mint();
    } catch (err) {
      this.#release(req.tenantId, keys, fence, req.pauseOf(err));
      throw err;
    }
    if (!sameOrigin(entry.origin, req.origin)) {
      // The secret was rotated while minting: this token belongs to another key; serve it, share it next time.
      this.#release(req.tenantId, keys, fence);
      this.#o.onResult?.("minted");
      return entry;
    }
    const shared: SharedToken = { authorization: entry.authorization, mintedAtMs: entry.mintedAtMs, expiresAtMs: entry.expiresAtMs };
    const notice = encodeNotice({ type: "minted", replica: this.replica, tenantId: req.tenantId, origin: keys.origin, mintedAtMs: shared.mintedAtMs });
    try {
      const ttl = Math.max(1, shared.expiresAtMs - this.#now());
      const accepted = await runScript(this.#o.redis.client, S.write, [keys.token, keys.lock, keys.fence], [fence, this.#seal(keys, shared), shared.mintedAtMs, shared.expiresAtMs, ttl, this.#channel, notice, tokenId(this.#o.keyring(), keys.token, shared.authorization)]);
      if (Number(accepted) !== 1) {
        this.#o.onEvent?.("fence_rejected");
        return undefined;
      }
    } catch {
      this.#o.onEvent?.("write_failed"); // Redis went away meanwhile: the token is good, it is offered on return
    }
    this.#o.onResult?.("minted");
    return entry;
  }

  /** Frees our lease; after a 429 (`pauseSeconds`), records the pause for the fleet first. */
  #release(tenantId: string, keys: FleetTokenKeys, fence: string, pauseSeconds?: number): void {
    const notice = encodeNotice({ type: "released", replica: this.replica, tenantId, origin: keys.origin });
    const pauseMs = pauseSeconds === undefined ? 0 : Math.max(1, pauseSeconds) * 1000;
    void runScript(this.#o.redis.client, S.release, [keys.lock, keys.pause], [fence, this.#channel, notice, pauseMs]).catch(() => undefined);
  }

  #seal(keys: FleetTokenKeys, t: SharedToken): string {
    return sealShared(this.#o.keyring(), keys, t);
  }

  #open(keys: FleetTokenKeys, stored: StoredToken): SharedToken | undefined {
    const token = openStored(this.#o.keyring(), keys, stored);
    if (token === undefined) this.#o.onEvent?.("undecryptable");
    return token;
  }

  #wait(keys: FleetTokenKeys, ms: number): Promise<void> {
    const id = `${keys.tenantTag}:${keys.origin}`;
    return new Promise((resolve) => {
      let set = this.#waiters.get(id);
      if (set === undefined) this.#waiters.set(id, (set = new Set()));
      const wake = (): void => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      set.add(wake);
    });
  }

  #wake(tenantId: string, origin?: string): void {
    const tag = tenantKeys(this.#o.redis.keyPrefix, tenantId).tenantTag;
    for (const [id, set] of this.#waiters) {
      if (id === `${tag}:${origin}` || (origin === undefined && id.startsWith(`${tag}:`))) for (const wake of [...set]) wake();
    }
  }

  #onNotice(n: FleetNotice): void {
    if (n.type === "evicted") {
      this.#o.onEvent?.("evicted_by_peer");
      this.#local?.evictLocal(n.tenantId);
      this.#wake(n.tenantId);
      return;
    }
    this.#wake(n.tenantId, n.origin);
    if (n.type === "minted" && this.#local) void adoptNewer(this.#convergeDeps(this.#local), n.tenantId, n.origin, n.mintedAtMs);
  }
}
