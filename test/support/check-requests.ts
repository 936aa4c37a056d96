import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";

/** A CheckRequest as Envoy builds it for an HTTP request (attribute_context.proto); unset fields take proto defaults. */
export function checkRequest(opts: {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  principal?: string;
  id?: string;
  /** HttpRequest.host (Host / :authority); default api.local. */
  host?: string;
  /** HttpRequest.body (what Envoy sends with with_request_body). */
  body?: string;
}): CheckRequest {
  const host = opts.host ?? "api.local";
  const method = opts.method ?? "GET";
  const path = opts.path ?? "/";
  return CheckRequest.fromPartial({
    attributes: {
      source: { principal: opts.principal ?? "" },
      request: {
        http: {
          id: opts.id ?? "req-1",
          method,
          headers: { ":authority": host, ":method": method, ":path": path, ...(opts.headers ?? {}) },
          path,
          host,
          scheme: "http",
          protocol: "HTTP/1.1",
          ...(opts.body === undefined ? {} : { body: opts.body }),
        },
      },
    },
  });
}
