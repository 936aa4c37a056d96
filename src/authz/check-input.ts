/**
 * The only request headers a check reads: the tenant header, x-request-id (to tie the decision line to Envoy's access
 * log) and authorization (a gateway token, or a login's Basic credentials). The check's header picker reads these,
 * and the shipped Envoy configs send only these (ext_authz allowed_headers): the caller's other headers (cookies,
 * user agents, trace context) never reach scopegate.
 */
export function checkedHeaders(tenantHeader: string): readonly string[] {
  return [tenantHeader, "x-request-id", "authorization"];
}

/**
 * What a decision reads from a CheckRequest, as plain data. Built from the request bytes by
 * check-request-wire.ts; the generated protobuf types never reach the core.
 */
export interface CheckInput {
  /** The x-request-id header (ties our log line to Envoy's access log), else Envoy's stream id. */
  readonly requestId: string;
  readonly method: string;
  /** Path without the query string, as sent (not decoded). */
  readonly path: string;
  /** Raw query string without '?', as sent (not decoded); "" when absent. */
  readonly rawQuery: string;
  /** HttpRequest.host (the Host / :authority header), lower case, any port removed. */
  readonly host: string;
  /**
   * The headers the policy reads (the tenant header, authorization, x-request-id), by lower-case name; a header sent more than
   * once is joined with ',' (as Envoy joins repeated headers), whether it came as the `headers` map or as
   * `header_map` entries (encode_raw_headers, where a non-empty raw_value wins). Other headers are not decoded.
   */
  readonly headers: ReadonlyMap<string, string>;
  /**
   * The request body where Envoy sent one (HttpRequest.body / raw_body): only the shipped configs' `login` route
   * asks for it (with_request_body, at most 4096 bytes). A view of the request bytes; decode it only for a login.
   */
  readonly body?: Buffer;
  /** SPIFFE id (or other principal) of the downstream peer under mTLS; "" on a plain-text hop. */
  readonly sourcePrincipal: string;
}
