/**
 * Exponential backoff with full jitter (delay = random(0, min(cap, base * 2^attempt))), sleeping only
 * while `signal` allows: a retry never outlives the caller's deadline.
 */
export interface BackoffOptions {
  readonly baseMs: number;
  readonly capMs: number;
  readonly random?: () => number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
  return Math.floor((opts.random ?? Math.random)() * ceiling);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = (): void => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
