/**
 * A check's time budget. The AbortSignal (a timer) is only created when something has to wait for I/O, so a
 * check answered from caches allocates no timer at all.
 */
export class Deadline {
  readonly #atMs: number;
  #signal: AbortSignal | undefined;

  constructor(budgetMs: number, private readonly now: () => number = Date.now) {
    this.#atMs = now() + budgetMs;
  }

  get expired(): boolean {
    return this.#signal?.aborted === true || this.now() >= this.#atMs;
  }

  /** Aborts when the budget runs out; created on first use. */
  get signal(): AbortSignal {
    this.#signal ??= AbortSignal.timeout(Math.max(0, Math.floor(this.#atMs - this.now())));
    return this.#signal;
  }
}
