/**
 * Prometheus metrics (prom-client), registered on a registry created by the composition root: nothing is
 * registered at import time. Every label comes from a bounded set (decision, deny-reason code, outcome
 * codes); per-tenant labels are opt-in and capped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CheckOutcome } from "../authz/authorizer.js";
import type { BudgetObserver } from "../budget/request-budget.js";

export interface Metrics {
  readonly registry: Registry;
  observeCheck(outcome: CheckOutcome, durationMs: number): void;
  tokenRequest(outcome: string, durationMs: number): void;
  tokenRefresh(): void;
  secretRead(outcome: string, durationMs: number): void;
  configReload(result: "ok" | "invalid"): void;
  setConfigValid(valid: boolean): void;
  /** 1 while a TCP Check listener accepts callers without a client certificate (config checkListenerAuth). */
  setCheckListenerUnauthenticated(unauthenticated: boolean): void;
  /** The request budget's reports (config budgets): per-tenant spend, leases, fallback. */
  readonly budget: BudgetObserver;
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * prom-client's default process metrics (CPU, memory, event loop, heap, GC), prefixed `scopegate_`.
 * `labels` go on every series: multi-worker mode sets `worker` so each process keeps its own (src/cluster).
 */
export function collectProcessMetrics(registry: Registry, labels?: Readonly<Record<string, string>>): void {
  collectDefaultMetrics({ register: registry, prefix: "scopegate_", ...(labels ? { labels: { ...labels } } : {}) });
}

export function createMetrics(opts: { perTenantLabels: boolean; maxTenantLabels: number; defaultMetrics: boolean }): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectProcessMetrics(registry);
  const checks = new Counter({
    name: "scopegate_checks_total",
    help: "Check decisions by decision and reason code",
    labelNames: opts.perTenantLabels ? ["decision", "reason", "tenant"] : ["decision", "reason"],
    registers: [registry],
  });
  const checkDuration = new Histogram({
    name: "scopegate_check_duration_seconds",
    help: "Time to answer a Check",
    labelNames: ["decision"],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const tokenCache = new Counter({
    name: "scopegate_token_cache_total",
    help: "Token look-ups on allowed checks by result (hit, miss)",
    labelNames: ["result"],
    registers: [registry],
  });
  const tokenRefreshes = new Counter({ name: "scopegate_token_refreshes_total", help: "Background token refreshes started", registers: [registry] });
  const tokenRequests = new Counter({
    name: "scopegate_token_requests_total",
    help: "Requests to token endpoints by outcome (ok, invalid_client, rate_limited, unavailable, bad_response)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const tokenDuration = new Histogram({
    name: "scopegate_token_request_duration_seconds",
    help: "Token endpoint latency",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const secretReads = new Counter({
    name: "scopegate_secret_store_reads_total",
    help: "Reads that reached the secret store, by outcome (found, not_found, unavailable)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const secretDuration = new Histogram({
    name: "scopegate_secret_store_read_duration_seconds",
    help: "Secret store read latency",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const reloads = new Counter({
    name: "scopegate_config_reloads_total",
    help: "Config reloads by result (ok, invalid)",
    labelNames: ["result"],
    registers: [registry],
  });
  const configValid = new Gauge({
    name: "scopegate_config_last_reload_valid",
    help: "1 if the last config seen on disk was valid and is in use, 0 if it was rejected",
    // Across cluster processes (src/cluster): 0 if any process rejected its config, not a sum of ones.
    aggregator: "min",
    registers: [registry],
  });
  configValid.set(1);
  const unauthenticatedListener = new Gauge({
    name: "scopegate_check_listener_unauthenticated",
    help: "1 if a TCP Check listener accepts callers without a TLS client certificate (anyone who reaches it can get tokens)",
    // Across cluster processes: 1 if any process serves such a listener (the workers do, the primary does not).
    aggregator: "max",
    registers: [registry],
  });

  const budgetRequests = new Counter({
    name: "scopegate_budget_requests_total",
    help: "API calls weighed against their tenant's request budget, by tenant and result (granted, budget_exhausted, caller_share_exhausted)",
    labelNames: ["tenant", "result"],
    registers: [registry],
  });
  const budgetLeases = new Counter({
    name: "scopegate_budget_leases_total",
    help: "Leases asked of the budget store, by outcome (granted, exhausted, unavailable)",
    labelNames: ["outcome"],
    registers: [registry],
  });
  const budgetLeaseDuration = new Histogram({
    name: "scopegate_budget_lease_duration_seconds",
    help: "Time to get a lease from the budget store",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const budgetFallback = new Gauge({
    name: "scopegate_budget_fallback",
    help: "1 while the shared budget store (Redis) is unreachable and this process enforces its fallback share on its own",
    aggregator: "max",
    registers: [registry],
  });
  budgetFallback.set(0);

  const tenantsLabelled = new Set<string>();
  const tenantLabel = (tenant: string | undefined): string => {
    if (!tenant) return "";
    if (tenantsLabelled.has(tenant)) return tenant;
    if (tenantsLabelled.size >= opts.maxTenantLabels) return "_other";
    tenantsLabelled.add(tenant);
    return tenant;
  };

  return {
    registry,
    observeCheck(o, durationMs) {
      const labels: Record<string, string> = { decision: o.decision, reason: o.reason ?? "" };
      // Only resolved tenants take one of the capped label slots: made-up ids cannot push real tenants into "_other".
      if (opts.perTenantLabels) labels["tenant"] = o.tenantKnown ? tenantLabel(o.tenant) : "";
      checks.inc(labels);
      checkDuration.observe({ decision: o.decision }, durationMs / 1000);
      if (o.tokenCache) tokenCache.inc({ result: o.tokenCache });
    },
    tokenRequest(outcome, durationMs) {
      tokenRequests.inc({ outcome });
      tokenDuration.observe(durationMs / 1000);
    },
    tokenRefresh: () => tokenRefreshes.inc(),
    secretRead(outcome, durationMs) {
      secretReads.inc({ outcome });
      secretDuration.observe(durationMs / 1000);
    },
    configReload: (result) => reloads.inc({ result }),
    setConfigValid: (valid) => configValid.set(valid ? 1 : 0),
    setCheckListenerUnauthenticated: (b) => unauthenticatedListener.set(b ? 1 : 0),
    budget: budgetObserver(budgetRequests, budgetLeases, budgetLeaseDuration, budgetFallback, tenantLabel),
  };
}

/**
 * The budget's metrics. Its tenants are resolved ones (only allowed API calls reach the budget), labelled always:
 * the per-tenant rate is the point. They share the capped label slots (metrics.maxTenantLabels) with
 * scopegate_checks_total. One child counter per (tenant, result), kept: a granted request costs one increment.
 */
function budgetObserver(
  requests: Counter<"tenant" | "result">,
  leases: Counter<"outcome">,
  duration: Histogram,
  fallback: Gauge,
  tenantLabel: (tenant: string) => string,
): BudgetObserver {
  // result -> tenant -> child: no key string is built per request.
  const children = new Map<string, Map<string, { inc(): void }>>();
  return {
    spent(tenant, result) {
      let byTenant = children.get(result);
      if (byTenant === undefined) children.set(result, (byTenant = new Map()));
      let child = byTenant.get(tenant);
      if (child === undefined) {
        child = requests.labels({ tenant: tenantLabel(tenant), result });
        if (byTenant.size < 10_000) byTenant.set(tenant, child);
      }
      child.inc();
    },
    lease(outcome, durationMs) {
      leases.inc({ outcome });
      duration.observe(durationMs / 1000);
    },
    fallback: (active) => fallback.set(active ? 1 : 0),
  };
}
