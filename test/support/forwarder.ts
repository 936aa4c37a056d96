// A per-workload forwarder for the shared-gateway layout outside a service mesh: an Envoy listening on loopback in
// plain HTTP (the SDKs' gateway setting points here) that sends every request to the shared egress gateway over
// mutual TLS with that workload's client certificate, so the gateway (and scopegate, in callers.mode mesh) sees
// the workload's identity. Under Istio the workload's own sidecar does this. Real Envoy, no scopegate logic here.
import YAML from "yaml";
import { startEnvoy, type Envoy } from "./envoy.js";

export interface ForwarderOptions {
  gateway: { host: string; port: number };
  /** The name the gateway's certificate must carry (SNI and SAN pin). */
  gatewayName: string;
  /** The workload's client certificate and key, and the CA the gateway's certificate is checked against (files). */
  certFile: string;
  keyFile: string;
  caFile: string;
}

export function forwarderEnvoyConfig(o: ForwarderOptions): string {
  return YAML.stringify({
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: "public",
          address: { socket_address: { address: "127.0.0.1", port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                    stat_prefix: "forwarder",
                    route_config: {
                      virtual_hosts: [{ name: "gateway", domains: ["*"], routes: [{ match: { prefix: "/" }, route: { cluster: "gateway", timeout: "60s" } }] }],
                    },
                    http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } }],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: "gateway",
          type: "STATIC",
          connect_timeout: "5s",
          load_assignment: {
            cluster_name: "gateway",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.gateway.host, port_value: o.gateway.port } } } }] }],
          },
          transport_socket: {
            name: "envoy.transport_sockets.tls",
            typed_config: {
              "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
              sni: o.gatewayName,
              common_tls_context: {
                tls_certificates: [{ certificate_chain: { filename: o.certFile }, private_key: { filename: o.keyFile } }],
                validation_context: {
                  trusted_ca: { filename: o.caFile },
                  match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: o.gatewayName } }],
                },
              },
            },
          },
        },
      ],
    },
  });
}

export function startForwarder(o: ForwarderOptions): Promise<Envoy> {
  return startEnvoy({ configYaml: forwarderEnvoyConfig(o), concurrency: 1 });
}
