/**
 * Metrics of the fleet (config fleet): whether Redis is reachable and what the shared token store did. Registered
 * on the process's registry by the composition root (app/fleet.ts) only when a fleet is configured. Labels are
 * fixed sets of outcome names: never a tenant, token or secret.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export interface FleetMetrics {
  setRedisUp(up: boolean): void;
  /** hit, adopted, minted, fallback (src/fleet/token-store.ts). */
  tokenResult(result: string): void;
  /** fence_rejected, write_failed, undecryptable, refresh_adopted, converge_*, evicted_by_peer, paused_by_peer. */
  tokenEvent(event: string): void;
  /** evicted, unreachable: an operator's eviction as it reached the fleet. */
  eviction(result: string): void;
}

export function createFleetMetrics(registry: Registry): FleetMetrics {
  const up = new Gauge({
    name: "scopegate_fleet_redis_up",
    help: "1 while the fleet's Redis is reachable; 0 while this process mints and evicts locally only",
    aggregator: "min",
    registers: [registry],
  });
  up.set(0);
  const results = new Counter({
    name: "scopegate_fleet_tokens_total",
    help: "Local token cache misses and refreshes through the fleet store: hit (shared token found), adopted (after waiting for another replica's mint), minted (here, shared), fallback (Redis unreachable or slow: minted locally, not shared)",
    labelNames: ["result"],
    registers: [registry],
  });
  const events = new Counter({
    name: "scopegate_fleet_token_events_total",
    help: "Fleet token store events: fence_rejected, write_failed, undecryptable, refresh_adopted, converge_published, converge_adopted, converge_dropped, evicted_by_peer, paused_by_peer",
    labelNames: ["event"],
    registers: [registry],
  });
  const evictions = new Counter({
    name: "scopegate_fleet_evictions_total",
    help: "Operator evictions by how far they reached: evicted (every replica told through Redis), unreachable (this replica only)",
    labelNames: ["result"],
    registers: [registry],
  });
  return {
    setRedisUp: (b) => up.set(b ? 1 : 0),
    tokenResult: (r) => results.inc({ result: r }),
    tokenEvent: (e) => events.inc({ event: e }),
    eviction: (r) => evictions.inc({ result: r }),
  };
}
