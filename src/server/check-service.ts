/**
 * grpc-js wiring for envoy.service.auth.v3.Authorization/Check. Request and response stay bytes at this layer:
 * the Authorizer reads the few request fields it needs straight from the protobuf bytes and hands back
 * already-encoded (usually cached) response bytes. The handler turns Envoy's gRPC deadline into a Deadline and
 * answers synchronously when the Authorizer does (a cached check), so the hot path makes no promise. Malformed
 * protobuf input becomes a denial (malformed_request), not a gRPC error.
 */
import type { ServiceDefinition, handleUnaryCall, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import type { Authorizer, CheckOutcome } from "../authz/authorizer.js";
import { Deadline } from "../util/deadline.js";
import type { CallAuth } from "./check-callers.js";

/** Envoy resolves the method by its fully-qualified name (ext_authz_grpc_impl.cc). */
export const CHECK_METHOD_PATH = "/envoy.service.auth.v3.Authorization/Check";
export const AUTHORIZATION_SERVICE_NAME = "envoy.service.auth.v3.Authorization";

const bytesAsIs = (bytes: Buffer): Buffer => bytes;

export const authorizationServiceDefinition: ServiceDefinition = {
  Check: {
    path: CHECK_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: bytesAsIs,
    requestDeserialize: bytesAsIs,
    responseSerialize: bytesAsIs,
    responseDeserialize: bytesAsIs,
  },
};

export interface CheckObserver {
  (outcome: CheckOutcome, durationMs: number): void;
}

export interface CheckServiceOptions {
  readonly authorizer: Authorizer;
  readonly observe: CheckObserver;
  /** Used when the caller set no deadline (Istio's default check timeout is 600 s). */
  readonly defaultBudgetMs: number;
  readonly isAccepting: () => boolean;
  /** Checks waiting for I/O (a cached check is answered before the handler returns, so never counted). */
  readonly inFlight: { count: number };
  /** Whether this call's transport may call Check at all (TLS client allow-list, check-callers.ts); all when absent. */
  readonly admit?: ((auth: CallAuth) => boolean) | undefined;
}

/** Keep 10% of the remaining time (at most 50 ms) to send the answer. */
export function answerBudget(remainingMs: number): number {
  return Math.max(0, Math.floor(remainingMs - Math.min(50, remainingMs * 0.1)));
}

export function checkHandler(opts: CheckServiceOptions): handleUnaryCall<Buffer, Buffer> {
  return (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => {
    const started = performance.now();
    const answer = (outcome: CheckOutcome): void => {
      callback(null, outcome.bytes);
      try {
        opts.observe(outcome, performance.now() - started);
      } catch {
        // Logging or metrics failing must not turn into an unhandled rejection that kills the process.
      }
    };
    if (!opts.isAccepting()) return answer(opts.authorizer.denial("shutting_down"));
    // Before the request is read: a refused client learns nothing about tenants and never gets a token.
    if (opts.admit && !admitted(opts.admit, call)) return answer(opts.authorizer.denial("check_caller_not_allowed"));
    let result: CheckOutcome | Promise<CheckOutcome>;
    try {
      const budget = budgetFor(call, opts.defaultBudgetMs);
      // Envoy has already given up: answer at once, never with an allow it would not wait for.
      result = budget <= 0 ? opts.authorizer.denial("deadline_exceeded") : opts.authorizer.check(call.request, new Deadline(budget));
    } catch {
      result = opts.authorizer.denial("internal_error");
    }
    if (!(result instanceof Promise)) return answer(result);
    opts.inFlight.count++;
    // check() is total; the catch is there so that even a bug here fails closed with an answer.
    result
      .catch(() => opts.authorizer.denial("internal_error"))
      .then((outcome) => {
        opts.inFlight.count--;
        answer(outcome);
      });
  };
}

function admitted(admit: (auth: CallAuth) => boolean, call: ServerUnaryCall<Buffer, Buffer>): boolean {
  try {
    return admit(call.getAuthContext());
  } catch {
    return false; // fail closed
  }
}

/**
 * Envoy's deadline (grpc-timeout) as a budget in whole milliseconds, answering a little early so the
 * caller sees our reason rather than Envoy's status_on_error; no deadline -> the default budget.
 */
function budgetFor(call: ServerUnaryCall<Buffer, Buffer>, defaultBudgetMs: number): number {
  const deadline = call.getDeadline();
  const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(deadlineMs) ? Math.min(answerBudget(deadlineMs - Date.now()), defaultBudgetMs) : defaultBudgetMs;
}
