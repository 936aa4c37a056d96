/**
 * Metric series bound once and counted in plain numbers, for the metrics updated on every check.
 *
 * prom-client's `inc(labels)` and `observe(labels, v)` build a label hash string and validate the labels on every
 * call, and the histogram also turns the bucket bound into a property name (a number-to-string conversion) per
 * observation; its `labels(...)` children do the same per call. scopegate updated three of these per check:
 * 0.7–1.1 µs per check in a loop (the bench's stage rows, `--only stages`), about 6 µs per check in place at 1,000
 * checks a second (the tail phase's window profiles, docs/benchmarks.md run F). A bound series is a small object
 * the caller keeps; updating it adds to numbers.
 *
 * Exposition stays prom-client's: a counter's counts are added to its prom-client Counter when the counter is read
 * (its `collect` hook, run by every scrape and by a cluster worker's report), and the histogram is registered on
 * the prom-client registry as a metric object of the shape prom-client's own histogram returns from `get()` (and
 * prom-client's AggregatorRegistry registers). test/unit/bound-series.test.ts checks both against prom-client's
 * own Counter and Histogram fed the same updates, text and JSON, on random inputs.
 */
import type { Counter, LabelValues, Registry } from "prom-client";

/** One counter series: `inc()` adds to a number; the total reaches the prom-client counter when it is read. */
export interface CounterSeries {
  inc(): void;
}

/** The bound series of one prom-client counter. Create the counter with `collect() { tally.flushInto(this) }`. */
export class CounterTally<L extends string> {
  readonly #series: { readonly labels: LabelValues<L>; pending: number }[] = [];

  /** A new series for these labels (keep it: each call makes another). */
  series(labels: LabelValues<L>): CounterSeries {
    const s = { labels, pending: 0 };
    this.#series.push(s);
    return {
      inc() {
        s.pending++;
      },
    };
  }

  /** Series bound so far (each is kept for good: callers bind a bounded set). */
  get size(): number {
    return this.#series.length;
  }

  /** Adds what was counted since the last flush to the counter. A series never incremented stays unexported. */
  flushInto(counter: Counter<L>): void {
    for (const s of this.#series) {
      if (s.pending === 0) continue;
      counter.inc(s.labels, s.pending);
      s.pending = 0;
    }
  }
}

/** One histogram series: `observe(v)` counts v into its bucket. */
export interface HistogramSeries {
  observe(value: number): void;
}

interface HistogramState {
  readonly labels: Readonly<Record<string, string>>;
  /** Observations per bucket (not cumulative); values above the last bound are only in `count`. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

/** One exported sample, as prom-client's histogram returns them from get(). */
export interface HistogramSample {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName: string;
}

/** What get() returns: prom-client's metric-object shape (its type declarations do not export it). */
export interface HistogramFamily {
  readonly name: string;
  readonly help: string;
  readonly type: "histogram";
  readonly aggregator: "sum";
  readonly values: HistogramSample[];
}

export interface BoundHistogramConfig {
  readonly name: string;
  readonly help: string;
  /** Upper bounds, ascending, as prom-client's `buckets`. */
  readonly buckets: readonly number[];
  readonly registers: readonly Registry[];
}

/**
 * A histogram whose series are bound once. Exported like prom-client's Histogram: a series appears once it has
 * an observation, in the order series were first observed; `le` is the first label; sum and count follow the
 * buckets and `+Inf`. Non-finite values are not counted (prom-client's observe throws on them; a check's
 * duration is always finite).
 */
export class BoundHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = "histogram" as const;
  readonly aggregator = "sum" as const;
  readonly #bounds: readonly number[];
  readonly #observed: HistogramState[] = [];

  constructor(config: BoundHistogramConfig) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets];
    // prom-client's Registry accepts any metric object with these fields and get() (its AggregatorRegistry
    // registers plain objects the same way); its type names only its own four classes.
    for (const r of config.registers) r.registerMetric(this as unknown as Parameters<Registry["registerMetric"]>[0]);
  }

  /** A new series for these labels (keep it: each call makes another, exported separately). */
  series(labels: Readonly<Record<string, string>>): HistogramSeries {
    const bounds = this.#bounds;
    const observed = this.#observed;
    const state: HistogramState = { labels, buckets: bounds.map(() => 0), sum: 0, count: 0 };
    return {
      observe(value) {
        if (!Number.isFinite(value)) return;
        if (state.count === 0) observed.push(state);
        let i = 0;
        while (i < bounds.length && value > bounds[i]!) i++;
        if (i < bounds.length) state.buckets[i]!++;
        state.sum += value;
        state.count++;
      },
    };
  }

  async get(): Promise<HistogramFamily> {
    const values: HistogramSample[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.#observed) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { le: this.#bounds[i]!, ...s.labels }, value: cumulative, metricName: bucket });
      }
      values.push({ labels: { le: "+Inf", ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Registry.resetMetrics(): every series back to no observations (and unexported until observed again). */
  reset(): void {
    for (const s of this.#observed) {
      s.buckets.fill(0);
      s.sum = 0;
      s.count = 0;
    }
    this.#observed.length = 0;
  }
}
