/**
 * Decision -> CheckResponse (generated protobuf type). Pure. The generated types start here.
 */
import type { CheckResponse } from "../gen/envoy/service/auth/v3/external_auth.js";
import {
  HeaderValueOption_HeaderAppendAction,
  type HeaderValueOption,
} from "../gen/envoy/config/core/v3/base.js";
import { DEFAULT_RETRY_AFTER_SECONDS, DENY_REASONS, type Denial } from "./deny-reasons.js";
import type { QueryMutation } from "./division-plan.js";

/** google.rpc.Code values (googleapis google/rpc/code.proto). Envoy allows only on code 0. */
const RPC_OK = 0;
const RPC_INVALID_ARGUMENT = 3;
const RPC_PERMISSION_DENIED = 7;
const RPC_UNAVAILABLE = 14;
const RPC_INTERNAL = 13;

export const REASON_HEADER = "x-scopegate-reason";

/**
 * Overwrite a request header on every Envoy version: Envoy <= 1.36 reads only the deprecated `append`
 * BoolValue (false or unset = overwrite; envoyproxy/envoy#42857); 1.37.x honoured append_action whose
 * default appends, duplicating Authorization (envoyproxy/envoy#43310). An explicit `append: {value: false}`
 * wins everywhere; OVERWRITE_IF_EXISTS_OR_ADD covers versions that read the enum.
 */
export function overwriteHeader(key: string, value: string): HeaderValueOption {
  return {
    header: { key, value, rawValue: Buffer.alloc(0) },
    append: false,
    appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
    keepEmptyValue: false,
  };
}

export interface AllowParts {
  /** Already "Bearer <token>" (token_type from the token response). */
  readonly authorization: string;
  readonly query: QueryMutation;
  /** Headers removed before the request goes upstream; never "authorization" (Envoy's ext_authz.cc removes last). */
  readonly headersToRemove: readonly string[];
  /** The routing header Envoy re-matches on (clear_route_cache) and its value, the tenant's environment. */
  readonly upstream: { readonly header: string; readonly environment: string };
}

export function buildOkResponse(parts: AllowParts): CheckResponse {
  return {
    status: { code: RPC_OK, message: "", details: [] },
    httpResponse: {
      $case: "okResponse",
      value: {
        headers: [overwriteHeader("authorization", parts.authorization), overwriteHeader(parts.upstream.header, parts.upstream.environment)],
        dynamicMetadata: undefined,
        headersToRemove: parts.headersToRemove.filter((h) => h !== "authorization" && h !== parts.upstream.header),
        responseHeadersToAdd: [],
        queryParametersToSet: parts.query.set.map((p) => ({ key: p.key, value: p.value })),
        queryParametersToRemove: [...parts.query.remove],
      },
    },
    dynamicMetadata: undefined,
  };
}

export function buildDeniedResponse(denial: Denial): CheckResponse {
  const spec = DENY_REASONS[denial.reason];
  const headers: HeaderValueOption[] = [
    overwriteHeader("content-type", "application/json"),
    overwriteHeader(REASON_HEADER, denial.reason),
  ];
  if (spec.retryable) {
    headers.push(overwriteHeader("retry-after", String(denial.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS)));
  }
  // The body carries the code and the fixed message of the table only: never request data, secrets or tokens.
  const body = JSON.stringify({ error: denial.reason, message: spec.message });
  return {
    status: { code: rpcCodeFor(spec.status), message: denial.reason, details: [] },
    httpResponse: {
      $case: "deniedResponse",
      value: { status: { code: spec.status }, headers, body },
    },
    dynamicMetadata: undefined,
  };
}

function rpcCodeFor(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return RPC_INVALID_ARGUMENT;
    case 403:
      return RPC_PERMISSION_DENIED;
    case 503:
      return RPC_UNAVAILABLE;
    default:
      return RPC_INTERNAL;
  }
}
