/**
 * The primary's /metrics in multi-worker mode: its own metrics plus every listening worker's, gathered over the
 * cluster's IPC channel (metrics.ask / metrics.reply in protocol.ts) and combined by prom-client's
 * AggregatorRegistry.aggregate(): the app's counters and histograms are summed, so `scopegate_checks_total`
 * counts every check the pod answered; the default process metrics carry a `worker` label and stay per process.
 *
 * Not AggregatorRegistry.clusterMetrics(): it aggregates the workers only (the primary's token and secret store
 * metrics would be missing), and it waits a fixed 5 s for a worker that died or has not installed prom-client's
 * listener yet (a restarting worker), then fails the scrape. Here a worker that exits mid-scrape is simply not
 * waited for, a worker is asked only once it said it is listening (its handler is installed by then), and the
 * wait for a live worker is bounded by `timeoutMs`.
 *
 * Counters must not go down: when a worker exits, its counters and histograms as last scraped stay in the sum
 * (retired), and its replacement counts from zero on top of them. Without that, the sum would drop by the dead
 * worker's counts and Prometheus would read the drop as a reset: rate() and increase() would count every
 * surviving worker's total as new. Checks a worker answered after its last scrape are lost with it.
 */
import { AggregatorRegistry, Registry } from "prom-client";
import type { MetricsSource } from "../server/http-server.js";
import { fromWire, message, type MetricFamilies, type MetricsAsk, type MetricsReply, type ProcessMetrics } from "./protocol.js";

/** A worker that can be asked: it has told the primary it is listening and its channel is connected. */
export interface MetricsWorker {
  readonly slot: number;
  /** Sends the question; calls `failed` if the channel turns out to be closed. */
  ask(m: MetricsAsk, failed: () => void): void;
}

export interface ClusterMetricsOptions {
  /** The primary's own metrics. */
  readonly own: () => Promise<ProcessMetrics>;
  readonly workers: () => readonly MetricsWorker[];
  /** How long a scrape waits for a live worker's answer before it fails. */
  readonly timeoutMs: number;
  /** Told which slots did not answer in time (for a log line). */
  readonly onTimeout?: (slots: number[]) => void;
}

interface Gathering {
  readonly waiting: Set<number>;
  readonly replies: ProcessMetrics[];
  readonly done: () => void;
}

export class ClusterMetrics implements MetricsSource {
  readonly contentType: string = Registry.PROMETHEUS_CONTENT_TYPE;
  readonly #gatherings = new Map<number, Gathering>();
  #nextId = 1;
  /** Per live worker slot: its counters and histograms from its latest answer. */
  readonly #latest = new Map<number, MetricFamilies>();
  /** Counters and histograms of workers that exited, as last scraped (one entry per exit, merged on scrape). */
  #retired: MetricFamilies[] = [];

  constructor(private readonly opts: ClusterMetricsOptions) {}

  async metrics(): Promise<string> {
    const id = this.#nextId++;
    const waiting = new Set<number>();
    const replies: ProcessMetrics[] = [];
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<void>((resolve) => {
      this.#gatherings.set(id, { waiting, replies, done: resolve });
      timer = setTimeout(resolve, this.opts.timeoutMs);
    });
    for (const w of this.opts.workers()) {
      waiting.add(w.slot);
      w.ask(message<MetricsAsk>({ type: "metrics.ask", id }), () => this.workerGone(w.slot));
    }
    if (waiting.size === 0) this.#gatherings.get(id)?.done();
    try {
      const own = await this.opts.own();
      await answered;
      if (waiting.size > 0) {
        const slots = [...waiting].sort((a, b) => a - b);
        this.opts.onTimeout?.(slots);
        // A partial sum would look like a counter reset to Prometheus (rate() would count it as new checks).
        throw new Error(`cluster metrics: worker ${slots.join(", ")} did not answer within ${this.opts.timeoutMs} ms`);
      }
      await this.#compactRetired();
      return await aggregateProcesses([own, ...replies], this.#retired).metrics();
    } finally {
      clearTimeout(timer);
      this.#gatherings.delete(id);
    }
  }

  /** A worker's answer (primary.ts routes metrics.reply messages here). */
  handle(slot: number, reply: MetricsReply): void {
    const g = this.#gatherings.get(reply.id);
    if (!g || !g.waiting.delete(slot)) return;
    const metrics = fromWire(reply.metrics);
    this.#latest.set(slot, monotonic(metrics.app));
    g.replies.push(metrics);
    if (g.waiting.size === 0) g.done();
  }

  /** A worker process exited: its last scraped counters stay in every later sum; scrapes stop waiting for it. */
  workerExited(slot: number): void {
    const last = this.#latest.get(slot);
    this.#latest.delete(slot);
    if (last && last.length > 0) this.#retired = [...this.#retired, last];
    this.workerGone(slot);
  }

  /** Many restarts would make many entries: fold them into one (sums, as the scrape would). */
  async #compactRetired(): Promise<void> {
    const retired = this.#retired;
    if (retired.length < 2) return;
    const merged = await AggregatorRegistry.aggregate(retired as MetricFamilies[]).getMetricsAsJSON();
    // A worker that exited meanwhile was appended to a new array: keep it.
    this.#retired = [merged, ...this.#retired.slice(retired.length)];
  }

  /** A worker exited (or its channel closed): scrapes under way stop waiting for it. */
  workerGone(slot: number): void {
    for (const g of this.#gatherings.values()) {
      if (g.waiting.delete(slot) && g.waiting.size === 0) g.done();
    }
  }
}

/**
 * One registry from several processes' metrics. The app's metrics go to prom-client's aggregators as they are
 * (counters and histograms summed; scopegate_config_last_reload_valid takes the minimum). Process metrics are
 * labelled per process (`worker`), so no two processes share a series and "first" keeps each one as it is;
 * prom-client's own aggregators would average one worker's event loop lag away and omit start times.
 */
export function aggregateProcesses(processes: readonly ProcessMetrics[], retired: readonly MetricFamilies[] = []): Registry {
  const perProcess = processes.map((p) => p.process.map((f) => ({ ...f, aggregator: "first" as const })));
  return AggregatorRegistry.aggregate([...processes.map((p) => p.app), ...retired, ...perProcess]);
}

/** The families whose values only grow while a process lives: what an exited worker leaves in the sum. */
function monotonic(families: MetricFamilies): MetricFamilies {
  return families.filter((f) => String(f.type) === "counter" || String(f.type) === "histogram");
}
