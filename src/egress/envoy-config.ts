/**
 * The Envoy egress configurations scopegate ships, as one pure function: options -> Envoy bootstrap YAML.
 * deploy/envoy/envoy-sidecar.yaml and envoy-gateway.yaml are its output for every Genesys Cloud region
 * (`npm run render:envoy`; a test keeps them equal); `scopegate envoy-config` renders it for a config's own
 * environments.
 *
 * The path of a request: the workload calls Envoy in plain HTTP (the SDKs' gateway setting) -> an early header
 * mutation removes any caller copy of the routing header -> ext_authz asks scopegate -> scopegate answers OK with
 * the tenant's token, division filter and `<routing header>: <tenant environment>` -> clear_route_cache makes the
 * router match again -> the one route whose header matcher names that environment rewrites Host to
 * api.<environment> and sends the request to that environment's TLS cluster. Nothing the caller sends (Host,
 * :authority, an absolute request URI, X-Forwarded-Host, a path prefix) takes part in choosing the upstream;
 * a request scopegate did not route ends at a local 404 or 403.
 */
import YAML from "yaml";
import { AUDIT_NAMESPACE, type AuditField } from "../authz/audit.js";
import { checkedHeaders } from "../authz/check-input.js";
import { DEFAULT_TENANT_HEADER } from "../config/index.js";
import { GENESYS_CLOUD } from "../profiles/genesys/profile.js";

export type EgressLayout = "sidecar" | "gateway";

export interface EgressConfigOptions {
  readonly layout: EgressLayout;
  /**
   * One route and one TLS cluster each. A name alone (e.g. mypurecloud.de) is a Genesys Cloud environment: paths
   * under /api/v2/ go to api.<environment>:443. Another profile's environment gives its API host (configured,
   * e.g. a NICE CXone business unit's) and its API path prefix.
   */
  readonly environments: readonly (string | EgressEnvironment)[];
  /** Header scopegate sets to the tenant's environment (config egress.upstreamHeader). */
  readonly upstreamHeader?: string;
  /** Header the caller names its tenant in (config tenantHeader): one of the few Envoy sends to scopegate. */
  readonly tenantHeader?: string;
  /** scopegate's Check socket, shared with Envoy through a volume only the two of them mount. */
  readonly authzSocket?: string;
  /** CA bundle Envoy verifies api.<environment> against (the image's system bundle). */
  readonly caBundle?: string;
}

export interface EgressEnvironment {
  readonly name: string;
  readonly apiHost: string;
  readonly pathPrefix: string;
}

function egressEnvironment(env: string | EgressEnvironment): EgressEnvironment {
  return typeof env === "string" ? { name: env, apiHost: GENESYS_CLOUD.apiHostFor(env)!, pathPrefix: GENESYS_CLOUD.apiPathPrefix } : env;
}

export const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const EXT_AUTHZ = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz";
export const ROUTER = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const HTTP_OPTIONS = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
export const UPSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
const DOWNSTREAM_TLS = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const EARLY_MUTATION = "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation";
const EXT_AUTHZ_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute";
const STDOUT_LOG = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog";

/** Cluster name of an environment: `genesys_` + the name with every non-alphanumeric character as `_`. */
export function clusterNameFor(environment: string): string {
  return `genesys_${environment.replace(/[^a-z0-9]/g, "_")}`;
}

export function renderEgressConfig(opts: EgressConfigOptions): string {
  const header = opts.upstreamHeader ?? "x-scopegate-upstream";
  const socket = opts.authzSocket ?? "/run/scopegate/authz.sock";
  const caBundle = opts.caBundle ?? "/etc/ssl/certs/ca-certificates.crt";
  const environments = opts.environments.map(egressEnvironment);
  const doc = new YAML.Document({
    admin: { address: { socket_address: { address: ADMIN.address, port_value: ADMIN.port } } },
    static_resources: {
      listeners: [listener(opts.layout, header, environments, opts.tenantHeader ?? DEFAULT_TENANT_HEADER), readinessListener()],
      clusters: [authzCluster(socket, opts.layout), ...environments.map((env) => environmentCluster(env, caBundle)), adminCluster()],
    },
  });
  doc.commentBefore = headerComment(opts.layout, header);
  return doc.toString({ lineWidth: 0 });
}

function listener(layout: EgressLayout, header: string, environments: readonly EgressEnvironment[], tenantHeader: string): object {
  const sidecar = layout === "sidecar";
  return {
    name: "egress",
    // The sidecar listens on loopback only: the workload in the same pod is its one client. The gateway listens on
    // the pod IP behind mutual TLS: its clients are workloads in other pods, identified by their certificates.
    address: { socket_address: { address: sidecar ? "127.0.0.1" : "0.0.0.0", port_value: sidecar ? 8080 : 8443 } },
    filter_chains: [
      {
        filters: [{ name: "envoy.filters.network.http_connection_manager", typed_config: connectionManager(layout, header, environments, tenantHeader) }],
        ...(sidecar ? {} : { transport_socket: downstreamMtls() }),
      },
    ],
  };
}

/** Envoy's admin interface: loopback only; the readiness listener forwards GET /ready to it and nothing else. */
export const ADMIN = { address: "127.0.0.1", port: 9901 } as const;
/** The kubelet's probe port (httpGet path /ready): the one admin path reachable at the pod IP. */
export const READINESS_PORT = 9902;
export const READINESS_PATH = "/ready";
const ADMIN_CLUSTER = "envoy_admin";

/**
 * The kubelet probes from the node, i.e. the pod IP, and the admin interface stays on loopback: this listener on the
 * pod IP routes exactly `GET /ready` to admin /ready (200 LIVE once the listeners are up, 503 while initializing or
 * draining) and answers everything else with a local 404, so no other admin endpoint (/stats, /config_dump,
 * /quitquitquit, ...) is reachable from outside the pod. Paths are normalized first: /x/../stats is /stats, a 404.
 */
export function readinessListener(): object {
  return {
    name: "ready",
    address: { socket_address: { address: "0.0.0.0", port_value: READINESS_PORT } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM,
              stat_prefix: "ready",
              codec_type: "HTTP1",
              normalize_path: true,
              merge_slashes: true,
              path_with_escaped_slashes_action: "REJECT_REQUEST",
              route_config: {
                name: "ready",
                virtual_hosts: [
                  {
                    name: "ready",
                    domains: ["*"],
                    routes: [
                      {
                        name: "ready",
                        match: { path: READINESS_PATH, headers: [{ name: ":method", string_match: { exact: "GET" } }] },
                        route: { cluster: ADMIN_CLUSTER, timeout: "1s" },
                      },
                      { name: "not-served", match: { prefix: "/" }, direct_response: { status: 404 } },
                    ],
                  },
                ],
              },
              http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } }],
            },
          },
        ],
      },
    ],
  };
}

export function adminCluster(): object {
  return {
    name: ADMIN_CLUSTER,
    type: "STATIC",
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: ADMIN_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: ADMIN.address, port_value: ADMIN.port } } } }] }],
    },
  };
}

function downstreamMtls(): object {
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": DOWNSTREAM_TLS,
      require_client_certificate: true,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: "/etc/envoy/tls/tls.crt" }, private_key: { filename: "/etc/envoy/tls/tls.key" } }],
        validation_context: { trusted_ca: { filename: "/etc/envoy/client-ca/ca.crt" } },
      },
    },
  };
}

function connectionManager(layout: EgressLayout, header: string, environments: readonly EgressEnvironment[], tenantHeader: string): object {
  return {
    "@type": HCM,
    stat_prefix: "egress",
    codec_type: "AUTO",
    generate_request_id: true,
    normalize_path: true,
    merge_slashes: true,
    // %2F / %5C inside a path segment could make two spellings of one path: refuse them outright.
    path_with_escaped_slashes_action: "REJECT_REQUEST",
    ...(layout === "gateway"
      ? { use_remote_address: true, forward_client_cert_details: "SANITIZE" }
      : {}),
    early_header_mutation_extensions: [
      {
        name: "envoy.http.early_header_mutation.header_mutation",
        typed_config: { "@type": EARLY_MUTATION, mutations: [{ remove: header }] },
      },
    ],
    access_log: [{ name: "envoy.access_loggers.stdout", typed_config: { "@type": STDOUT_LOG, log_format: { json_format: ACCESS_LOG_FIELDS } } }],
    route_config: {
      name: "genesys",
      virtual_hosts: [
        {
          name: "genesys",
          domains: ["*"],
          routes: [
            ...environments.map((env) => environmentRoute(env, header)),
            loginRoute(),
            {
              name: "not-routed",
              match: { prefix: "/" },
              direct_response: { status: 404, body: { inline_string: '{"error":"not_routed","message":"only /api/v2/ requests of an authorized tenant are forwarded"}' } },
            },
          ],
        },
      ],
    },
    http_filters: [
      {
        name: "envoy.filters.http.ext_authz",
        typed_config: {
          "@type": EXT_AUTHZ,
          transport_api_version: "V3",
          failure_mode_allow: false,
          status_on_error: { code: "ServiceUnavailable" },
          clear_route_cache: true,
          grpc_service: { envoy_grpc: { cluster_name: "authz" }, timeout: "1s" },
          // Only the headers a check reads go to scopegate (ExtAuthz allowed_headers, honoured for gRPC servers since
          // envoyproxy/envoy#22877): a caller's cookies and other headers never leave Envoy for the Check, and each
          // Check is smaller for Envoy to build and scopegate to read. Method, path and Host travel in their own
          // CheckRequest fields. A config with its own tenantHeader needs its own render (`scopegate envoy-config`).
          allowed_headers: { patterns: checkedHeaders(tenantHeader).map((name) => ({ exact: name })) },
        },
      },
      { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } },
    ],
  };
}

function environmentRoute(env: EgressEnvironment, header: string): object {
  return {
    name: env.name,
    match: { prefix: env.pathPrefix, headers: [{ name: header, string_match: { exact: env.name } }] },
    route: { cluster: clusterNameFor(env.name), host_rewrite_literal: env.apiHost, timeout: "60s" },
    // The routing header has done its job; X-Forwarded-Host is the caller's and names nothing upstream needs.
    request_headers_to_remove: [header, "x-forwarded-host"],
  };
}

/**
 * The SDKs' client-credentials login in gateway mode (POST [/<path_params_login>]/oauth/token). scopegate answers
 * it itself during the check (a gateway token, as a denied response with status 200), so the route's own action is
 * never reached; it exists to hand the login's form body to Check (ExtAuthzPerRoute check_settings
 * with_request_body, at most 4096 bytes, never a partial body) so scopegate can read grant_type. No other route
 * buffers a body.
 */
function loginRoute(): object {
  return {
    name: "login",
    match: { safe_regex: { regex: "^(/[A-Za-z0-9._~-]+)*/oauth/token$" }, headers: [{ name: ":method", string_match: { exact: "POST" } }] },
    direct_response: { status: 404, body: { inline_string: '{"error":"not_routed","message":"gateway login is answered by scopegate"}' } },
    typed_per_filter_config: {
      "envoy.filters.http.ext_authz": {
        "@type": EXT_AUTHZ_PER_ROUTE,
        check_settings: { with_request_body: { max_request_bytes: 4096, allow_partial_message: false } },
      },
    },
  };
}

function authzCluster(socket: string, layout: EgressLayout): object {
  return {
    name: "authz",
    type: "STATIC",
    connect_timeout: "1s",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { "@type": HTTP_OPTIONS, explicit_http_config: { http2_protocol_options: {} } },
    },
    load_assignment: { cluster_name: "authz", endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }] },
    // The shared gateway watches scopegate's grpc.health.v1 (served on the Check socket too): NOT_SERVING during
    // start-up and shutdown shows in Envoy's cluster.authz.health_check.* stats and /clusters. With a single
    // endpoint Envoy's panic threshold keeps sending checks to it, so the drain (shutdown.drainMs) is not cut short.
    ...(layout === "gateway"
      ? { health_checks: [{ timeout: "1s", interval: "5s", unhealthy_threshold: 2, healthy_threshold: 1, grpc_health_check: {} }] }
      : {}),
  };
}

function environmentCluster(env: EgressEnvironment, caBundle: string): object {
  const host = env.apiHost;
  return {
    name: clusterNameFor(env.name),
    type: "LOGICAL_DNS",
    dns_lookup_family: "V4_PREFERRED",
    connect_timeout: "5s",
    load_assignment: {
      cluster_name: clusterNameFor(env.name),
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: 443 } } } }] }],
    },
    // HTTP/2 when the server offers it in ALPN, else HTTP/1.1.
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": HTTP_OPTIONS,
        auto_config: { http_protocol_options: {}, http2_protocol_options: {} },
      },
    },
    transport_socket: {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": UPSTREAM_TLS,
        sni: host,
        common_tls_context: {
          alpn_protocols: ["h2", "http/1.1"],
          validation_context: {
            trusted_ca: { filename: caBundle },
            match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: host } }],
          },
        },
      },
    },
  };
}

/** An audit field of scopegate's answer (authz/audit.ts), or Envoy's own ext_authz_duration, as the filter keeps it. */
const audit = (field: AuditField | "ext_authz_duration") => `%DYNAMIC_METADATA(${AUDIT_NAMESPACE}:${field})%`;

/**
 * What operators search the access log for; never the Authorization header or the tenant's token. One line per
 * request. With scopegate's decision log at its default (denials only), this is the record of every
 * allowed request: the tenant whose token went on it and the divisions scopegate set (the answer's dynamic
 * metadata), ext_authz_ms the time Envoy waited for the check (Envoy's own `ext_authz_duration`, OK answers).
 */
const ACCESS_LOG_FIELDS = {
  start_time: "%START_TIME%",
  request_id: "%REQ(X-REQUEST-ID)%",
  method: "%REQ(:METHOD)%",
  path: "%REQ(:PATH)%",
  status: "%RESPONSE_CODE%",
  response_flags: "%RESPONSE_FLAGS%",
  details: "%RESPONSE_CODE_DETAILS%",
  scopegate_decision: audit("decision"),
  tenant: audit("tenant"),
  divisions: audit("divisions"),
  ext_authz_ms: audit("ext_authz_duration"),
  scopegate_reason: "%RESP(X-SCOPEGATE-REASON)%",
  upstream_cluster: "%UPSTREAM_CLUSTER%",
  upstream_host: "%UPSTREAM_HOST%",
  upstream_failure: "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
  duration_ms: "%DURATION%",
  client: "%DOWNSTREAM_PEER_URI_SAN%",
};

function headerComment(layout: EgressLayout, header: string): string {
  const where =
    layout === "sidecar"
      ? [
          " scopegate egress, per-pod sidecar: the workload's Genesys Cloud calls go to http://127.0.0.1:8080 (the SDKs'",
          " gateway setting, README 'Using the Genesys SDKs'); Envoy asks scopegate over the unix socket",
          " /run/scopegate/authz.sock (a volume mounted into Envoy and scopegate only) and sends the request over TLS to",
          " https://api.<tenant's environment>.",
        ]
      : [
          " scopegate egress, shared gateway: workloads of many namespaces call https://<gateway>:8443 with a client",
          " certificate (mutual TLS; Envoy reports its URI SAN to scopegate as the caller's principal, scopegate runs in",
          " callers.mode: mesh); scopegate runs beside this Envoy over /run/scopegate/authz.sock.",
        ];
  return [
    " GENERATED by `npm run render:envoy` (src/egress/envoy-config.ts); edit the generator, not this file.",
    " `scopegate envoy-config --layout " + layout + " --config <file>` renders it for your configuration's environments.",
    "",
    ...where,
    "",
    " Choosing the upstream (docs/security.md 'Why the caller cannot pick the upstream'):",
    ` * early_header_mutation_extensions removes any caller-sent ${header} before routing and before the check`,
    "   (HttpConnectionManager.early_header_mutation_extensions, envoyproxy/envoy#23949).",
    ` * On OK scopegate sets ${header}: <tenant environment>; clear_route_cache: true makes the router match again`,
    "   (ext_authz.proto field 6), and only the route whose header matcher names that environment leads upstream.",
    "   It rewrites Host to api.<environment> (host_rewrite_literal) and strips the routing header.",
    " * Each environment has its own cluster: TLS with SNI api.<environment>, the system CA bundle and the",
    "   certificate's DNS SAN pinned to api.<environment> (UpstreamTlsContext; match_typed_subject_alt_names).",
    " * Anything scopegate did not route ends at the `not-routed` 404; a denial never reaches a cluster.",
    " * The `login` route (POST [/<prefix>]/oauth/token, the SDKs' client-credentials login in gateway mode) hands",
    "   its form body (at most 4096 bytes) to Check; scopegate answers the login itself with a gateway token",
    "   (docs/security.md 'Gateway login'), so nothing of it goes upstream.",
    "",
    " ext_authz settings (Envoy ext_authz.proto; issues cited):",
    " * failure_mode_allow: false: an authz outage must not forward the caller's own Authorization.",
    " * status_on_error: 503 (honoured by the gRPC client since Envoy 1.37.0), timeout 1s (the 200 ms default is",
    "   shorter than a token mint on a cache miss).",
    " * The authz cluster speaks HTTP/2, or every check fails (envoyproxy/envoy#19246, #11439).",
    " * scopegate overwrites Authorization with append: false (envoyproxy/envoy#43310) and never removes it.",
    "",
    " Readiness: the `ready` listener (0.0.0.0:9902, the kubelet's httpGet probe) forwards only GET /ready to the",
    " loopback admin interface (cluster envoy_admin); every other path is a local 404, so /stats, /config_dump or",
    " /quitquitquit are never reachable from outside the pod.",
    "",
    " Needs early_header_mutation_extensions (envoyproxy/envoy#23949, December 2022); tested with Envoy 1.40.",
  ].join("\n");
}
