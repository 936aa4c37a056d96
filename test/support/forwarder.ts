// The shared gateway's per-workload forwarder as shipped (deploy/envoy/envoy-forwarder.yaml, rendered by
// src/egress/forwarder-config.ts): an Envoy listening on loopback in plain HTTP (the SDKs' gateway setting points
// here) that sends every request to the shared egress gateway over mutual TLS with that workload's client
// certificate, so the gateway (and scopegate, in callers.mode mesh) sees the workload's identity. For a test only
// addresses and certificate paths are rewritten: the listeners on loopback port 0, admin on loopback, the gateway
// cluster's endpoint, the name its certificate is pinned to (SNI and DNS SAN: the test gateway's), and the files.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { startEnvoy, type Envoy } from "./envoy.js";
import { repoRoot } from "./tools.js";

export const SHIPPED_FORWARDER = join(repoRoot, "deploy/envoy/envoy-forwarder.yaml");

export interface ForwarderOptions {
  gateway: { host: string; port: number };
  /** The name the gateway's certificate carries (SNI and SAN pin), in place of the shipped Service name. */
  gatewayName: string;
  /** The workload's client certificate and key, and the CA the gateway's certificate is checked against (files). */
  certFile: string;
  keyFile: string;
  caFile: string;
}

type Obj = Record<string, unknown>;

function byName(list: unknown, name: string): Obj {
  const found = (list as Obj[]).find((x) => x.name === name);
  if (!found) throw new Error(`forwarder config: nothing named "${name}"`);
  return found;
}

const loopback = (port: number): Obj => ({ socket_address: { address: "127.0.0.1", port_value: port } });

export function forwarderEnvoyConfig(o: ForwarderOptions): string {
  const config = YAML.parse(readFileSync(SHIPPED_FORWARDER, "utf8")) as Obj;
  const resources = config.static_resources as { listeners: Obj[]; clusters: Obj[] };
  config.admin = { address: loopback(0) };
  byName(resources.listeners, "egress").address = loopback(0);
  // The probe listener forwards to admin, whose port Envoy picks here: port 1, nothing (test/e2e/envoy-readiness
  // proves the probe listener with a known admin port).
  byName(resources.listeners, "ready").address = loopback(0);
  byName(resources.clusters, "envoy_admin").load_assignment = { cluster_name: "envoy_admin", endpoints: [{ lb_endpoints: [{ endpoint: { address: loopback(1) } }] }] };

  const gateway = byName(resources.clusters, "gateway");
  gateway.type = "STATIC";
  delete gateway.dns_lookup_family;
  gateway.load_assignment = {
    cluster_name: "gateway",
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.gateway.host, port_value: o.gateway.port } } } }] }],
  };
  const tls = (gateway.transport_socket as { typed_config: Obj }).typed_config;
  tls.sni = o.gatewayName;
  const ctx = tls.common_tls_context as { tls_certificates: Obj[]; validation_context: Obj };
  if (ctx.tls_certificates.length !== 1) throw new Error("forwarder config: expected one client certificate");
  ctx.tls_certificates = [{ certificate_chain: { filename: o.certFile }, private_key: { filename: o.keyFile } }];
  ctx.validation_context.trusted_ca = { filename: o.caFile };
  ctx.validation_context.match_typed_subject_alt_names = [{ san_type: "DNS", matcher: { exact: o.gatewayName } }];
  return YAML.stringify(config);
}

export function startForwarder(o: ForwarderOptions): Promise<Envoy> {
  return startEnvoy({ configYaml: forwarderEnvoyConfig(o), concurrency: 1 });
}
