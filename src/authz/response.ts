/**
 * Decision -> CheckResponse (generated protobuf type). Pure. The generated types start here.
 */
import { CheckResponse } from "../gen/envoy/service/auth/v3/external_auth.js";
import {
  HeaderValueOption_HeaderAppendAction,
  type HeaderValueOption,
} from "../gen/envoy/config/core/v3/base.js";
import { auditFields } from "./audit.js";
import { DEFAULT_RETRY_AFTER_SECONDS, DENY_REASONS, type Denial } from "./deny-reasons.js";
import type { QueryMutation } from "./division-plan.js";

/** google.rpc.Code values (googleapis google/rpc/code.proto). Envoy allows only on code 0. */
const RPC_OK = 0;
const RPC_INVALID_ARGUMENT = 3;
const RPC_PERMISSION_DENIED = 7;
const RPC_RESOURCE_EXHAUSTED = 8;
const RPC_UNAVAILABLE = 14;
const RPC_INTERNAL = 13;
const RPC_NOT_FOUND = 5;
const RPC_UNAUTHENTICATED = 16;
/** envoy.type.v3.HttpStatus OK. */
const HTTP_OK = 200;

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
  /** The tenant the token belongs to: recorded for Envoy's access log (auditFields). */
  readonly tenant: string;
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
    dynamicMetadata: auditFields("allow", parts.tenant, parts.query),
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
  if ("wwwAuthenticate" in spec) headers.push(overwriteHeader("www-authenticate", spec.wwwAuthenticate));
  // The body carries the code and the fixed message of the table only: never request data, secrets or tokens.
  const body =
    "oauthError" in spec
      ? JSON.stringify({ error: spec.oauthError, error_description: spec.message })
      : JSON.stringify({ error: denial.reason, message: spec.message });
  if ("oauthError" in spec) headers.push(overwriteHeader("cache-control", "no-store"), overwriteHeader("pragma", "no-cache"));
  return {
    status: { code: rpcCodeFor(spec.status), message: denial.reason, details: [] },
    httpResponse: {
      $case: "deniedResponse",
      value: { status: { code: spec.status }, headers, body },
    },
    dynamicMetadata: undefined,
  };
}

/**
 * A gateway login's successful answer (RFC 6749 §5.1): Envoy answers the request itself with it. It is a *denied*
 * CheckResponse whose denied_response.status is 200: Envoy uses a positive denied status as the local reply's
 * status (envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz_grpc_impl.cc), and a denial never
 * reaches a cluster, so the login goes nowhere upstream. The token is the gateway token, never the Genesys one.
 */
export function buildLoginResponse(accessToken: string, expiresInSeconds: number, tenant: string): CheckResponse {
  return {
    status: { code: RPC_PERMISSION_DENIED, message: "gateway_login", details: [] },
    httpResponse: {
      $case: "deniedResponse",
      value: {
        status: { code: HTTP_OK },
        headers: [
          overwriteHeader("content-type", "application/json"),
          overwriteHeader("cache-control", "no-store"),
          overwriteHeader("pragma", "no-cache"),
        ],
        body: JSON.stringify({ access_token: accessToken, token_type: "bearer", expires_in: expiresInSeconds }),
      },
    },
    // Envoy logs a login as a local reply flagged UAEX, like a denial: the record says it was a login, for whom.
    dynamicMetadata: auditFields("login", tenant),
  };
}

function rpcCodeFor(httpStatus: number): number {
  switch (httpStatus) {
    case 401:
      return RPC_UNAUTHENTICATED;
    case 404:
      return RPC_NOT_FOUND;
    case 400:
      return RPC_INVALID_ARGUMENT;
    case 403:
      return RPC_PERMISSION_DENIED;
    case 429:
      return RPC_RESOURCE_EXHAUSTED;
    case 503:
      return RPC_UNAVAILABLE;
    default:
      return RPC_INTERNAL;
  }
}

/** A CheckResponse as the bytes grpc-js sends (the Check service's serialiser passes bytes through as they are). */
export function encode(response: CheckResponse): Buffer {
  const u8 = CheckResponse.encode(response).finish();
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}
