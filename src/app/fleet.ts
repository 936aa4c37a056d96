/**
 * The fleet (config fleet): the Redis connection and, with fleet.tokens, the shared token store, its keyring (and
 * the keyring's watcher) and metrics. Built by the process that mints (the single process, or a cluster primary)
 * through buildMinting; bound to the local token cache and eviction once those exist (bind).
 */
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { connectFleetRedis, type FleetRedis } from "../fleet/redis.js";
import { RedisTokenStore } from "../fleet/token-store.js";
import { createFleetMetrics } from "../observability/fleet-metrics.js";
import type { Metrics } from "../observability/metrics.js";
import { compileTenantIdPattern } from "../tenants/tenant-id.js";
import type { TokenProvider } from "../tokens/token-provider.js";
import { loadKeyringFile, watchKeyringFile, type Keyring } from "../util/keyring-file.js";

const KEYS_WHAT = "fleet token keys file";

export interface Fleet {
  /** The connection, for every fleet feature (the token store here; others build on it). */
  readonly redis: FleetRedis;
  /** The shared token store, when fleet.tokens is configured. */
  readonly tokens: RedisTokenStore | undefined;
  /** Connects the token store to the local cache; `evictLocal` is what an operator's eviction does here. */
  bind(tokens: TokenProvider, evictLocal: (tenantId: string) => void): void;
  /** An operator's eviction, told to every replica; "unreachable" when Redis is (this replica only, then). */
  evict(tenantId: string): Promise<"evicted" | "unreachable" | "no_store">;
  /** For /readyz: never unready because of Redis (replicas fall back), but saying so. */
  detail(): Record<string, unknown>;
  close(): Promise<void>;
}

export async function startFleet(config: Config, logger: Logger, metrics: Pick<Metrics, "registry">): Promise<Fleet | undefined> {
  const fleet = config.fleet;
  if (fleet === undefined) return undefined;
  const log = logger.child({ component: "fleet" });
  const fleetMetrics = createFleetMetrics(metrics.registry);
  // Keys first: a bad keys file fails the start before any connection is made.
  let ring: Keyring | undefined = fleet.tokens ? await loadKeyringFile(fleet.tokens.keysFile, KEYS_WHAT) : undefined;
  const redis = await connectFleetRedis(fleet.redis, { logger: log });
  // Give the first connection up to connectTimeoutMs before serving, so a replica that starts with the fleet (a
  // rollout) adopts the fleet's tokens instead of minting its own; a Redis that is down only delays the start.
  await redis.whenUp(fleet.redis.connectTimeoutMs);
  fleetMetrics.setRedisUp(redis.isUp());
  redis.onChange((up) => fleetMetrics.setRedisUp(up));
  const store =
    fleet.tokens && ring
      ? new RedisTokenStore({
          redis,
          keyring: () => ring!,
          lockLeaseMs: fleet.tokens.lockLeaseMs,
          pollIntervalMs: fleet.tokens.pollIntervalMs,
          commandTimeoutMs: fleet.redis.commandTimeoutMs,
          onResult: (r) => fleetMetrics.tokenResult(r),
          onEvent: (e) => fleetMetrics.tokenEvent(e),
        })
      : undefined;
  const watcher =
    fleet.tokens && store
      ? watchKeyringFile(fleet.tokens.keysFile, KEYS_WHAT, {
          pollIntervalMs: config.reload.pollIntervalMs,
          onValid: (next) => {
            ring = next;
            log.info({ keyIds: [...next.keys.keys()], current: next.current }, "fleet token keys reloaded");
          },
          onInvalid: (problems) => log.error({ problems }, "fleet token keys file rejected; keeping the keys in use"),
        })
      : undefined;
  const tenantIdPattern = compileTenantIdPattern(config.tenantIdPattern);
  return {
    redis,
    tokens: store,
    bind(tokens, evictLocal) {
      store?.start({
        cachedEntry: (id) => tokens.cachedEntry(id),
        cachedEntries: () => tokens.cachedEntries(),
        replaceShared: (id, current, token) => tokens.replaceShared(id, current, token),
        dropToken: (id) => void tokens.evict(id),
        evictLocal: (id) => {
          // A notice names a tenant id; anything else on the channel (it is not authenticated) is ignored.
          if (!tenantIdPattern.test(id)) return;
          evictLocal(id);
          log.warn({ tenant: id }, "tenant evicted by an operator on another replica");
        },
      });
    },
    async evict(tenantId) {
      if (store === undefined) return "no_store";
      const result = await store.evict(tenantId);
      fleetMetrics.eviction(result);
      return result;
    },
    detail: () => ({
      fleet: {
        redis: redis.isUp() ? "up" : "down",
        ...(store ? { tokens: redis.isUp() ? "shared" : "local", notices: store.subscribed ? "subscribed" : "down" } : {}),
      },
    }),
    async close() {
      watcher?.close();
      store?.close();
      await redis.close();
    },
  };
}
