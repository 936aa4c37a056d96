// CheckRequests as Envoy 1.40 sends them for ordinary API calls: 15-25 headers (pseudo-headers, the
// x-forwarded-*/x-request-id Envoy adds, a browser-ish client's own headers), source/destination peers,
// context_extensions; about 1 KB encoded (attribute_context.proto). Also the HTTP-side equivalent for wrk.
import { randomUUID } from "node:crypto";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { divisionOf } from "./world.js";

/** Catalogued and uncatalogued Genesys routes; the division plan differs between them. */
const ROUTES = [
  "/api/v2/routing/queues?pageSize=25&pageNumber=1",
  "/api/v2/flows?pageSize=50",
  "/api/v2/users?pageSize=100&expand=presence",
  "/api/v2/scripts?pageSize=25",
  "/api/v2/routing/queues?divisionId={div}&pageSize=25",
] as const;

const CLIENT_HEADERS: Record<string, string> = {
  accept: "application/json, text/plain, */*",
  "accept-encoding": "gzip, deflate, br",
  "accept-language": "en-GB,en;q=0.9,de;q=0.8",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
  "content-type": "application/json",
  authorization: "Bearer caller-session-0123456789abcdef0123456789abcdef",
  cookie: "session=6a1f0c2e9b7d4a58; theme=dark; locale=en-GB",
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  "x-client-version": "web-4.12.3",
  "cache-control": "no-cache",
};

export interface RequestSpec {
  readonly tenant: string;
  readonly division: string;
  readonly path: string;
}

/** `count` requests rotating over tenants and routes, tenant i owning division `div-<tenant>`. */
export function requestSpecs(tenants: readonly string[], count: number): RequestSpec[] {
  return Array.from({ length: count }, (_, i) => {
    const tenant = tenants[i % tenants.length]!;
    const division = divisionOf(tenant);
    return { tenant, division, path: ROUTES[i % ROUTES.length]!.replace("{div}", division) };
  });
}

/** The tenant header every bench request carries: scopegate's default (config tenantHeader). */
export const TENANT_HEADER = "x-tenant-id";

export function checkRequestFor(spec: RequestSpec, n: number): CheckRequest {
  const requestId = randomUUID();
  const headers: Record<string, string> = {
    ":authority": "api.example.internal",
    ":method": "GET",
    ":path": spec.path,
    ":scheme": "https",
    ...CLIENT_HEADERS,
    "x-forwarded-for": `10.1.${n % 250}.${(n * 7) % 250}`,
    "x-forwarded-proto": "https",
    "x-request-id": requestId,
    "x-envoy-expected-rq-timeout-ms": "15000",
    [TENANT_HEADER]: spec.tenant,
  };
  const peer = (address: string, port: number) => ({
    address: { address: { $case: "socketAddress" as const, value: socket(address, port) } },
    service: "",
    labels: {},
    principal: "",
    certificate: "",
  });
  return {
    attributes: {
      source: peer(`10.1.${n % 250}.9`, 40_000 + (n % 20_000)),
      destination: peer("10.2.0.15", 8080),
      request: {
        time: { seconds: 1_780_000_000 + n, nanos: 123_000_000 },
        http: {
          id: String(10_000_000_000_000 + n),
          method: "GET",
          headers,
          headerMap: undefined,
          path: spec.path,
          host: "api.example.internal",
          scheme: "https",
          query: "",
          fragment: "",
          size: 0,
          protocol: "HTTP/1.1",
          body: "",
          rawBody: Buffer.alloc(0),
        },
      },
      contextExtensions: { route: "catch-all" },
      metadataContext: undefined,
      tlsSession: undefined,
      routeMetadataContext: undefined,
    },
  };
}

function socket(address: string, port: number) {
  return {
    protocol: 0,
    address,
    portSpecifier: { $case: "portValue" as const, value: port },
    resolverName: "",
    ipv4Compat: false,
    networkNamespaceFilepath: "",
  };
}

export function encodeCheckRequest(r: CheckRequest): Buffer {
  return Buffer.from(CheckRequest.encode(r).finish());
}

/** ghz --binary-file format for several messages: each one prefixed by its varint length; sent round-robin. */
export function countDelimited(messages: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const m of messages) parts.push(varint(m.length), m);
  return Buffer.concat(parts);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** The client-side headers of the same requests, for an HTTP load generator in front of Envoy. */
export function httpHeadersFor(spec: RequestSpec): Record<string, string> {
  return { ...CLIENT_HEADERS, host: "api.example.internal", [TENANT_HEADER]: spec.tenant };
}
