/**
 * CheckRequest (generated protobuf type) -> CheckInput (plain data). Pure. The generated types stop here.
 */
import type { CheckRequest } from "../gen/envoy/service/auth/v3/external_auth.js";
import { deny, type Denial } from "./deny-reasons.js";

export interface CheckInput {
  /** The x-request-id header (ties our log line to Envoy's access log), else Envoy's stream id. */
  readonly requestId: string;
  readonly method: string;
  /** Path without the query string, as sent (not decoded). */
  readonly path: string;
  /** Raw query string without '?', as sent (not decoded); "" when absent. */
  readonly rawQuery: string;
  /** Lower-cased header name -> value; repeated headers are joined with ',' (as Envoy does). */
  readonly headers: ReadonlyMap<string, string>;
  /** SPIFFE id (or other principal) of the downstream peer under mTLS; "" on a plain-text hop. */
  readonly sourcePrincipal: string;
  readonly contextExtensions: Readonly<Record<string, string>>;
}

export function parseCheckRequest(req: CheckRequest): CheckInput | Denial {
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  if (!attrs || !http || !http.method || !http.path) return deny("malformed_request");
  const headers = readHeaders(http.headers, http.headerMap?.headers);
  const q = http.path.indexOf("?");
  const hash = http.path.indexOf("#");
  const end = hash === -1 ? http.path.length : hash;
  return {
    // HttpRequest.id is Envoy's internal stream id in practice, not x-request-id: prefer the header.
    requestId: headers.get("x-request-id") || http.id || "",
    method: http.method.toUpperCase(),
    path: q === -1 || q > end ? http.path.slice(0, end) : http.path.slice(0, q),
    rawQuery: q === -1 || q > end ? "" : http.path.slice(q + 1, end),
    headers,
    sourcePrincipal: attrs.source?.principal ?? "",
    contextExtensions: attrs.contextExtensions ?? {},
  };
}

/**
 * Envoy fills `headers` (map, repeated values comma-joined) unless the filter sets encode_raw_headers,
 * in which case `header_map` carries one entry per header line with `raw_value` bytes
 * (attribute_context.proto HttpRequest.header_map). Both are folded into the same shape here.
 */
function readHeaders(
  map: Record<string, string> | undefined,
  raw: ReadonlyArray<{ key: string; value: string; rawValue: Buffer | Uint8Array }> | undefined,
): Map<string, string> {
  const out = new Map<string, string>();
  if (map) {
    for (const key in map) out.set(key.toLowerCase(), map[key] ?? "");
  }
  if (raw && raw.length > 0) {
    for (const h of raw) {
      const key = h.key.toLowerCase();
      const value = h.rawValue && h.rawValue.length > 0 ? Buffer.from(h.rawValue).toString("utf8") : h.value;
      const prev = out.get(key);
      out.set(key, prev === undefined ? value : `${prev},${value}`);
    }
  }
  return out;
}
