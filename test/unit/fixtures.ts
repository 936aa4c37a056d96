import type { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";

/** A CheckRequest as Envoy builds it for an HTTP request (attribute_context.proto). */
export function checkRequest(opts: {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  principal?: string;
  id?: string;
}): CheckRequest {
  return {
    attributes: {
      source: { address: undefined, service: "", labels: {}, principal: opts.principal ?? "", certificate: "" },
      destination: undefined,
      request: {
        time: undefined,
        http: {
          id: opts.id ?? "req-1",
          method: opts.method ?? "GET",
          headers: { ":authority": "api.local", ":method": opts.method ?? "GET", ":path": opts.path ?? "/", ...(opts.headers ?? {}) },
          headerMap: undefined,
          path: opts.path ?? "/",
          host: "api.local",
          scheme: "http",
          query: "",
          fragment: "",
          size: 0,
          protocol: "HTTP/1.1",
          body: "",
          rawBody: Buffer.alloc(0),
        },
      },
      contextExtensions: {},
      metadataContext: undefined,
      tlsSession: undefined,
      routeMetadataContext: undefined,
    },
  };
}
