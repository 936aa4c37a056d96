/**
 * Readiness of the process that answers /readyz (single process: app.ts; cluster: the primary, which also tells
 * its workers when to report SERVING). Ready once the secret store has answered once; the last rejected config
 * reload and the Check listener warning go into the /readyz body; shutting_down from the start of shutdown.
 */
import type { Logger } from "pino";
import { checkListenerAuth, type Config } from "../config/index.js";
import type { SecretStore } from "../secrets/secret-store.js";
import type { Readiness } from "../server/http-server.js";

export class AppReadiness implements Readiness {
  #storeAnswered = false;
  #reloadProblems: readonly string[] | undefined;
  #shuttingDown = false;
  readonly #listenerDetail: Record<string, string>;
  /** Resolves once the secret store has answered (or shutdown began before it did). */
  readonly storeAnswered: Promise<void>;

  readonly #budgetDetail: () => Record<string, string>;
  readonly #fleet: { detail(): Record<string, unknown> } | undefined;

  constructor(opts: {
    readonly store: SecretStore;
    readonly logger: Logger;
    readonly listen: Config["listen"];
    /** The request budget's state for the /readyz body (app/budget.ts budgetDetail); a warning, not unreadiness. */
    readonly budget?: () => Record<string, string>;
    /** config fleet: Redis up or down, in the body only (a replica without Redis still serves: it mints locally). */
    readonly fleet?: { detail(): Record<string, unknown> } | undefined;
  }) {
    this.#fleet = opts.fleet;
    this.#listenerDetail = checkListenerDetail(checkListenerAuth(opts.listen));
    this.#budgetDetail = opts.budget ?? (() => ({}));
    this.storeAnswered = waitForStore(opts.store, opts.logger, () => this.#shuttingDown).then(() => {
      this.#storeAnswered = true;
    });
  }

  notReadyReason(): string | undefined {
    return this.#storeAnswered ? undefined : "secret_store_not_answered";
  }

  detail(): Record<string, unknown> {
    const problems = this.#reloadProblems;
    return { ...(problems ? { configReload: "rejected", problems } : {}), ...this.#listenerDetail, ...this.#budgetDetail(), ...this.#fleet?.detail() };
  }

  /** The last reload: undefined when it was applied, else its problems (kept until a valid one). */
  reloadResult(problems: readonly string[] | undefined): void {
    this.#reloadProblems = problems;
  }

  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }
}

/** /readyz detail: a warning, not unreadiness (the listener works; it is just open to more callers than Envoy). */
export function checkListenerDetail(auth: ReturnType<typeof checkListenerAuth>): Record<string, string> {
  return auth === "unauthenticated-tcp" || auth === "any-client-certificate" ? { checkListener: auth } : {};
}

/** Any answer (found or not_found) proves the store is reachable and we are authorised to ask. */
async function waitForStore(store: SecretStore, logger: Logger, stopped: () => boolean): Promise<void> {
  for (let attempt = 0; !stopped(); attempt++) {
    const r = await store.read(READINESS_PROBE_KEY, AbortSignal.timeout(5000));
    if (r.kind !== "unavailable") return;
    if (attempt % 10 === 0) logger.warn({ detail: r.detail }, "secret store not answering yet; not ready");
    await new Promise((res) => setTimeout(res, Math.min(5000, 200 * 2 ** Math.min(attempt, 5))).unref());
  }
}

const READINESS_PROBE_KEY = "scopegate-readiness-probe";
