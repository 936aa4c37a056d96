/**
 * grpc-js wiring for envoy.service.auth.v3.Authorization/Check. The handler turns Envoy's gRPC deadline into
 * an AbortSignal, asks the Authorizer, and writes the already-encoded response bytes. Malformed protobuf
 * input becomes a denial (malformed_request), not a gRPC error.
 */
import type { ServiceDefinition, handleUnaryCall, sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { CheckRequest } from "../gen/envoy/service/auth/v3/external_auth.js";
import type { Authorizer, CheckOutcome } from "../authz/authorizer.js";

/** Envoy resolves the method by its fully-qualified name (ext_authz_grpc_impl.cc). */
export const CHECK_METHOD_PATH = "/envoy.service.auth.v3.Authorization/Check";
export const AUTHORIZATION_SERVICE_NAME = "envoy.service.auth.v3.Authorization";

const MALFORMED: CheckRequest = { attributes: undefined };

export const authorizationServiceDefinition: ServiceDefinition = {
  Check: {
    path: CHECK_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: CheckRequest) => Buffer.from(CheckRequest.encode(r).finish()),
    requestDeserialize: (bytes: Buffer): CheckRequest => {
      try {
        return CheckRequest.decode(bytes);
      } catch {
        return MALFORMED;
      }
    },
    // The Authorizer hands over encoded bytes (often cached): nothing to do here.
    responseSerialize: (bytes: Buffer) => bytes,
    responseDeserialize: (bytes: Buffer) => bytes,
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
  readonly inFlight: { count: number };
}

export function checkHandler(opts: CheckServiceOptions): handleUnaryCall<CheckRequest, Buffer> {
  return (call: ServerUnaryCall<CheckRequest, Buffer>, callback: sendUnaryData<Buffer>) => {
    const started = performance.now();
    if (!opts.isAccepting()) {
      const outcome = opts.authorizer.denial("shutting_down");
      callback(null, outcome.bytes);
      opts.observe(outcome, performance.now() - started);
      return;
    }
    opts.inFlight.count++;
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    const budget = Number.isFinite(deadlineMs) ? Math.max(0, deadlineMs - Date.now()) : opts.defaultBudgetMs;
    const signal = AbortSignal.timeout(Math.min(budget, opts.defaultBudgetMs));
    opts.authorizer.check(call.request, signal).then(
      (outcome) => {
        opts.inFlight.count--;
        callback(null, outcome.bytes);
        opts.observe(outcome, performance.now() - started);
      },
      () => {
        // Unreachable: check() is total. Fail closed anyway.
        opts.inFlight.count--;
        const outcome = opts.authorizer.denial("internal_error");
        callback(null, outcome.bytes);
        opts.observe(outcome, performance.now() - started);
      },
    );
  };
}
