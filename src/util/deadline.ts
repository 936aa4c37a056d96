/**
 * A check's time budget. The AbortSignal (and its timer) is only created when something has to wait for I/O,
 * so a check answered from caches allocates no timer at all; release() clears the timer as soon as the wait is
 * over, so a finished check holds nothing until its deadline (Envoy may send deadlines of many seconds).
 */
export class Deadline {
  readonly #atMs: number;
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(budgetMs: number, private readonly now: () => number = Date.now) {
    this.#atMs = now() + budgetMs;
  }

  get expired(): boolean {
    return this.#controller?.signal.aborted === true || this.now() >= this.#atMs;
  }

  /** Aborts (with a TimeoutError, as AbortSignal.timeout does) when the budget runs out; created on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      const controller = new AbortController();
      this.#controller = controller;
      const ms = Math.max(0, Math.floor(this.#atMs - this.now()));
      this.#timer = setTimeout(() => controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError")), ms);
      this.#timer.unref();
    }
    return this.#controller.signal;
  }

  /** The check is done with the budget: clear the timer (the signal, if any, stays as it is). */
  release(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
