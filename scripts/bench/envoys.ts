// The Envoys of the through-Envoy rows: an upstream that answers every request itself (direct_response, so the
// upstream costs the same few microseconds in every configuration) and edge Envoys in front of it, either
// plain (no ext_authz: the baseline) or built from the shipped deploy/envoy template pointing at an authz server.
import { join } from "node:path";
import YAML from "yaml";
import { envoyConfigFor, passthroughEnvoyConfig, startEnvoy, type Envoy } from "../../test/support/envoy.js";
import { repoRoot } from "../../test/support/tools.js";
import { BENCH_ENV } from "./world.js";

/** Envoy worker threads of the edge Envoy: one per core of this machine. */
export const EDGE_CONCURRENCY = 2;

export function upstreamConfig(): string {
  const hcm = {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      stat_prefix: "upstream",
      route_config: {
        virtual_hosts: [
          {
            name: "any",
            domains: ["*"],
            routes: [{ match: { prefix: "/" }, direct_response: { status: 200, body: { inline_string: '{"ok":true}' } } }],
          },
        ],
      },
      http_filters: [
        { name: "envoy.filters.http.router", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" } },
      ],
    },
  };
  return YAML.stringify({
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
    static_resources: {
      listeners: [
        { name: "public", address: { socket_address: { address: "127.0.0.1", port_value: 0 } }, filter_chains: [{ filters: [hcm] }] },
      ],
    },
  });
}

export async function startUpstream(): Promise<Envoy> {
  return startEnvoy({ configYaml: upstreamConfig(), concurrency: 1 });
}

export type EdgeKind = { kind: "passthrough" } | { kind: "ext_authz"; unixSocket: string };

/** The shipped sidecar egress config (what the Kubernetes base runs), or the no-authz baseline. */
export const EDGE_TEMPLATE = "deploy/envoy/envoy-sidecar.yaml";


export async function startEdge(edge: EdgeKind, upstream: Envoy): Promise<Envoy> {
  const up = { host: "127.0.0.1", port: upstream.port };
  const configYaml =
    edge.kind === "passthrough"
      ? passthroughEnvoyConfig({ upstream: up })
      : envoyConfigFor({
          template: join(repoRoot, EDGE_TEMPLATE),
          authz: { unixSocket: edge.unixSocket },
          upstreams: { [BENCH_ENV]: up },
          // The rows compare authz servers on one path; TLS to the upstream would add the same cost to each.
          upstreamTls: "plaintext",
        });
  return startEnvoy({ configYaml, concurrency: EDGE_CONCURRENCY });
}
