/**
 * A bounded memo of a pure function of (division keys, route, raw query, tenant divisions): the division plans of
 * requests whose query may name a division (division-plan.ts). A workload sends the same few queries over and
 * over, and planning one parses and normalises every query key, builds the plan's cache key and looks up the
 * encoded answer by it: 5 µs per request in place in the tail phase's profile (docs/benchmarks.md, run G).
 *
 * Keyed by identity where the inputs are objects (the keys and route of a policy, a tenant's frozen divisions
 * array; divisions in a WeakMap, so a replaced tenant's entries go with it), by the string itself for the query.
 * At most MAX_ENTRIES answers, then emptied whole (no recency order: a memo of a pure function needs none).
 * Long queries are not kept. Lives in one policy generation: a reload starts a new one.
 */
const MAX_ENTRIES = 4096;
const MAX_QUERY_LENGTH = 512;

export class PlanMemo<V> {
  readonly #byKeys = new Map<object, Map<object, Map<string, WeakMap<readonly string[], V>>>>();
  #size = 0;

  /** The answer kept for these inputs, if any. */
  get(keys: object, route: object, rawQuery: string, divisions: readonly string[]): V | undefined {
    return this.#byKeys.get(keys)?.get(route)?.get(rawQuery)?.get(divisions);
  }

  /** Keeps an answer (not for long queries; everything is dropped once MAX_ENTRIES are kept). */
  set(keys: object, route: object, rawQuery: string, divisions: readonly string[], value: V): void {
    if (rawQuery.length > MAX_QUERY_LENGTH) return;
    if (this.#size >= MAX_ENTRIES) {
      this.#byKeys.clear();
      this.#size = 0;
    }
    let byRoute = this.#byKeys.get(keys);
    if (byRoute === undefined) this.#byKeys.set(keys, (byRoute = new Map()));
    let byQuery = byRoute.get(route);
    if (byQuery === undefined) byRoute.set(route, (byQuery = new Map()));
    let byDivisions = byQuery.get(rawQuery);
    if (byDivisions === undefined) byQuery.set(rawQuery, (byDivisions = new WeakMap()));
    byDivisions.set(divisions, value);
    this.#size++;
  }

  /** Answers kept (for tests). */
  get size(): number {
    return this.#size;
  }
}
