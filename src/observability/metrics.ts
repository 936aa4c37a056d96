/**
 * Prometheus metrics (prom-client), registered on a registry created by the composition root: nothing is
 * registered at import time. Every label comes from a bounded set (decision, deny-reason code, outcome
 * codes); per-tenant labels are opt-in and capped.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CheckOutcome } from "../authz/authorizer.js";
import type { BudgetObserver } from "../budget/request-budget.js";
import { BoundHistogram, CounterTally, type CounterSeries, type HistogramSeries } from "./bound-series.js";

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
export function collectProcessMetrics(registry: Registry, eventLoopResolutionMs: number, labels?: Readonly<Record<string, string>>): void {
  collectDefaultMetrics({
    register: registry,
    prefix: "scopegate_",
    eventLoopMonitoringPrecision: eventLoopResolutionMs,
    ...(labels ? { labels: { ...labels } } : {}),
  });
}

export function createMetrics(opts: { perTenantLabels: boolean; maxTenantLabels: number; eventLoopResolutionMs: number; defaultMetrics: boolean }): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectProcessMetrics(registry, opts.eventLoopResolutionMs);
  // Updated on every check: bound series counted in numbers (bound-series.ts), not prom-client's per-call labels.
  const checkTally = new CounterTally<string>();
  new Counter({
    name: "scopegate_checks_total",
    help: "Check decisions by decision and reason code",
    labelNames: opts.perTenantLabels ? ["decision", "reason", "tenant"] : ["decision", "reason"],
    registers: [registry],
    collect() {
      checkTally.flushInto(this);
    },
  });
  const checkDuration = new BoundHistogram({
    name: "scopegate_check_duration_seconds",
    help: "Time to answer a Check",
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const cacheTally = new CounterTally<string>();
  new Counter({
    name: "scopegate_token_cache_total",
    help: "Token look-ups on allowed checks by result (hit, miss)",
    labelNames: ["result"],
    registers: [registry],
    collect() {
      cacheTally.flushInto(this);
    },
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

  const budgetTally = new CounterTally<"tenant" | "result">();
  new Counter({
    name: "scopegate_budget_requests_total",
    help: "API calls weighed against their tenant's request budget, by tenant and result (granted, budget_exhausted, caller_share_exhausted)",
    labelNames: ["tenant", "result"],
    registers: [registry],
    collect() {
      budgetTally.flushInto(this);
    },
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

  const checkSeries = new SeriesIndex(checkTally, opts.perTenantLabels);
  const durationSeries: Record<CheckOutcome["decision"], HistogramSeries> = {
    allow: checkDuration.series({ decision: "allow" }),
    deny: checkDuration.series({ decision: "deny" }),
    login: checkDuration.series({ decision: "login" }),
  };
  const cacheSeries = { hit: cacheTally.series({ result: "hit" }), miss: cacheTally.series({ result: "miss" }) };

  return {
    registry,
    observeCheck(o, durationMs) {
      // Only resolved tenants take one of the capped label slots: made-up ids cannot push real tenants into "_other".
      checkSeries.of(o.decision, o.reason ?? "", opts.perTenantLabels && o.tenantKnown ? tenantLabel(o.tenant) : "").inc();
      durationSeries[o.decision].observe(durationMs / 1000);
      if (o.tokenCache) cacheSeries[o.tokenCache].inc();
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
    budget: budgetObserver(budgetTally, budgetLeases, budgetLeaseDuration, budgetFallback, tenantLabel),
  };
}

/**
 * The budget's metrics. Its tenants are resolved ones (only allowed API calls reach the budget), labelled always:
 * the per-tenant rate is the point. They share the capped label slots (metrics.maxTenantLabels) with
 * scopegate_checks_total. One bound series per (tenant, result), kept: a granted request costs one increment.
 */
export function budgetObserver(
  requests: CounterTally<"tenant" | "result">,
  leases: Counter<"outcome">,
  duration: Histogram,
  fallback: Gauge,
  tenantLabel: (tenant: string) => string,
): BudgetObserver {
  // result -> tenant -> series: no key string is built per request. Series by label (bounded: the capped tenant
  // labels and "_other"), so that tenants past either cap share theirs instead of adding one per call.
  const children = new Map<string, Map<string, CounterSeries>>();
  const byLabel = new Map<string, CounterSeries>();
  return {
    spent(tenant, result) {
      let byTenant = children.get(result);
      if (byTenant === undefined) children.set(result, (byTenant = new Map()));
      let child = byTenant.get(tenant);
      if (child === undefined) {
        const label = tenantLabel(tenant);
        const key = `${result}\n${label}`;
        child = byLabel.get(key);
        if (child === undefined) byLabel.set(key, (child = requests.series({ tenant: label, result })));
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

/**
 * The checks counter's series by decision, reason and (with per-tenant labels) tenant label: found with two or
 * three Map look-ups of strings V8 has already hashed (constants and the tenant ids of the registry), none built.
 */
class SeriesIndex {
  readonly #byDecision = new Map<string, Map<string, { series: CounterSeries | undefined; byTenant: Map<string, CounterSeries> | undefined }>>();

  constructor(
    private readonly tally: CounterTally<string>,
    private readonly perTenant: boolean,
  ) {}

  of(decision: string, reason: string, tenant: string): CounterSeries {
    let byReason = this.#byDecision.get(decision);
    if (byReason === undefined) this.#byDecision.set(decision, (byReason = new Map()));
    let entry = byReason.get(reason);
    if (entry === undefined) byReason.set(reason, (entry = { series: undefined, byTenant: undefined }));
    if (!this.perTenant) return (entry.series ??= this.tally.series({ decision, reason }));
    entry.byTenant ??= new Map();
    let series = entry.byTenant.get(tenant);
    if (series === undefined) entry.byTenant.set(tenant, (series = this.tally.series({ decision, reason, tenant })));
    return series;
  }
}
