/**
 * Offline checks of everything an operator applies (issues 6 and 10), without a cluster or Docker:
 *   - every YAML file under deploy/ parses (all documents);
 *   - every Kubernetes and Istio object validates against its OpenAPI schema (kubernetes-models,
 *     @kubernetes-models/istio), both as written and as the real kustomize (.tools/bin/kustomize, pinned
 *     in scripts/install-tools.sh) renders each layout; no image is left as a placeholder, and
 *     cross-references inside a rendered layout resolve;
 *   - the shipped Envoy egress configs (deploy/envoy) pass the real `envoy --mode validate`, are the
 *     generator's output, and the layouts run exactly them (byte-identical ConfigMap content);
 *   - scopegate's embedded config passes the config schema (parseConfigText) and `scopegate check-config`;
 *   - the pod's shape: native sidecars, one uid per role, only Envoy can reach Check (socket volume, mode,
 *     group), memory request against the benchmark's row, the Vault token's audience;
 *   - the pod's network surface, read from the configs the containers mount: the kubelet's gRPC probes
 *     target the health-only listener (listen.healthTcp) on the pod IP, never Check; container ports and
 *     NetworkPolicies match what is bound to the pod IP;
 *   - the Istio egress-gateway layout: every region's API host routed through the egress gateway with TLS
 *     origination, the CUSTOM policy on the gateway pods, a namespace-qualified provider, and scopegate
 *     reachable by the gateway's identity only.
 * The schemas accept unknown fields (Kubernetes' OpenAPI leaves additionalProperties open), so the
 * fields that matter are also asserted one by one below.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, posix, relative, resolve } from "node:path";
import { promisify } from "node:util";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { parseConfigText, type Config } from "../../src/config/index.js";
import { GENESYS_ENVIRONMENTS } from "../../src/profiles/genesys/regions.js";
import { SHIPPED_EGRESS_CONFIGS } from "../../scripts/render-envoy.js";
import { makePki, type TestPki } from "../support/certs.js";
import { kustomizeBuild } from "../support/kustomize.js";
import { repoRoot, toolPath } from "../support/tools.js";

const execFileAsync = promisify(execFile);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

interface K8sObject extends Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
}
const isK8sObject = (v: unknown): v is K8sObject =>
  isObj(v) && typeof v.apiVersion === "string" && typeof v.kind === "string" && isObj(v.metadata);
const isKustomization = (o: K8sObject): boolean => o.apiVersion.startsWith("kustomize.config.k8s.io/");

const DEPLOY = join(repoRoot, "deploy");
const rel = (p: string): string => relative(repoRoot, p);

// ---------------------------------------------------------------------------------------------
// Loading

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const yamlFiles = walk(DEPLOY)
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();

/** All non-empty documents of a YAML file; throws on any parse error or warning. */
function loadDocs(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { prettyErrors: true });
  const out: unknown[] = [];
  docs.forEach((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      throw new Error(`${rel(file)} document ${i + 1}: ${problems.map((p) => p.message).join("; ")}`);
    }
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  });
  return out;
}

/** kubernetes-models class for an apiVersion/kind, e.g. apps/v1 Deployment -> kubernetes-models/apps/v1/Deployment. */
async function modelFor(apiVersion: string, kind: string): Promise<new (data: object) => { validate(): void }> {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) : ["", apiVersion];
  const specifier = group!.endsWith(".istio.io")
    ? `@kubernetes-models/istio/${group}/${version}/${kind}`
    : group === ""
      ? `kubernetes-models/${version}/${kind}`
      : `kubernetes-models/${group}/${version}/${kind}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`no schema for ${apiVersion} ${kind} (${specifier}): ${(err as Error).message}`);
  }
  const model = mod[kind];
  if (typeof model !== "function") throw new Error(`${specifier} does not export ${kind}`);
  return model as new (data: object) => { validate(): void };
}

async function validateObject(obj: K8sObject, where: string): Promise<void> {
  const Model = await modelFor(obj.apiVersion, obj.kind);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${where}: ${obj.kind}/${obj.metadata.name} is invalid: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering: the real kustomize (scripts/install-tools.sh builds the pinned version into .tools/bin).

interface Kustomization {
  resources?: string[];
  components?: string[];
  patches?: { path?: string; patch?: string; target?: unknown }[];
  configMapGenerator?: { name: string; files?: string[] }[];
  [key: string]: unknown;
}

function readKustomization(dir: string): Kustomization {
  return parseYaml(readFileSync(join(dir, "kustomization.yaml"), "utf8")) as Kustomization;
}

/** kustomize leaves no `$patch` / `$setElementOrder` behind; one left over would mean a patch did not apply. */
function assertNoDirectives(value: unknown, where: string): void {
  if (Array.isArray(value)) value.forEach((v, i) => assertNoDirectives(v, `${where}[${i}]`));
  else if (isObj(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k.startsWith("$")) throw new Error(`${where}: unapplied directive ${k}`);
      assertNoDirectives(v, `${where}.${k}`);
    }
  }
}

/** `kustomize build <dir>`, parsed; every document must be a Kubernetes object. */
function render(dir: string): K8sObject[] {
  return kustomizeBuild(dir).map((doc, i) => {
    if (!isK8sObject(doc)) throw new Error(`kustomize build ${rel(dir)} document ${i + 1} is not a Kubernetes object`);
    return doc;
  });
}

// ---------------------------------------------------------------------------------------------
// Envoy

let envoyBin = "";
let scratch = "";
let pki: TestPki;

beforeAll(async () => {
  envoyBin = toolPath("envoy");
  scratch = await mkdtemp(join(tmpdir(), "scopegate-deploy-test-"));
  pki = makePki(scratch);
});

/**
 * The gateway config names its server certificate and client CA at the paths its Secrets are mounted on; Envoy
 * loads them to validate, so they are swapped for a test CA's files (only these three paths change).
 */
function withTestCertificates(text: string): string {
  const swaps: [string, string][] = [
    ["/etc/envoy/tls/tls.crt", pki.serverCert],
    ["/etc/envoy/tls/tls.key", pki.serverKey],
    ["/etc/envoy/client-ca/ca.crt", pki.caFile],
    // The forwarder's CA for the gateway's certificate (its client certificate is at the gateway's tls.* paths).
    ["/etc/envoy/gateway-ca/ca.crt", pki.caFile],
  ];
  return swaps.reduce((t, [from, to]) => t.replaceAll(`filename: ${from}`, `filename: ${to}`), text);
}

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Runs the real `envoy --mode validate`; resolves with its output, rejects with it on failure. */
async function envoyValidate(file: string): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(
      envoyBin,
      ["--mode", "validate", "-c", file, "--disable-hot-restart", "--log-level", "warn"],
      { timeout: 60_000 },
    );
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`envoy --mode validate -c ${file} failed:\n${e.stdout ?? ""}${e.stderr ?? e.message}`);
  }
}

async function envoyValidateText(text: string, name: string): Promise<string> {
  const file = join(scratch, name.replace(/[^A-Za-z0-9_.-]/g, "_"));
  await writeFile(file, withTestCertificates(text));
  return envoyValidate(file);
}

type EnvoyCluster = { name: string; type?: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: Obj } }[] }[] } } & Obj;

function clustersOf(config: Obj): EnvoyCluster[] {
  return (config.static_resources as { clusters: EnvoyCluster[] }).clusters;
}

function clusterOf(config: Obj, name: string): EnvoyCluster {
  const found = clustersOf(config).find((c) => c.name === name);
  if (!found) throw new Error(`no cluster ${name}`);
  return found;
}

function endpointAddress(cluster: EnvoyCluster): Obj {
  const eps = cluster.load_assignment.endpoints.flatMap((e) => e.lb_endpoints);
  expect(eps).toHaveLength(1);
  return eps[0]!.endpoint.address;
}

type Layout = "sidecar" | "gateway";
type ShippedEnvoy = Layout | "forwarder";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const AUTHZ_SOCKET = "/run/scopegate/authz.sock";

function egressListener(config: Obj): Obj {
  const listeners = (config.static_resources as { listeners: Obj[] }).listeners;
  expect(listeners.map((l) => l.name)).toEqual(["egress", "ready"]);
  return listeners[0]!;
}

type SocketAddress = { socket_address: { address: string; port_value: number } };

function routesOfListener(listener: Obj): Obj[] {
  const hcm = (listener.filter_chains as { filters: { typed_config: Obj }[] }[])[0]!.filters[0]!.typed_config;
  return (hcm.route_config as { virtual_hosts: { routes: Obj[] }[] }).virtual_hosts.flatMap((v) => v.routes);
}

/**
 * A probe listener: it serves exactly GET /ready by routing it to Envoy's own admin interface (a STATIC cluster
 * whose one endpoint is the admin address), runs no filter but the router, and answers every other request with a
 * local 404, so nothing else of the admin API is reachable through it. Returns the reason it is not one, or "".
 */
function probeListenerProblem(config: Obj, listener: Obj): string {
  const chains = listener.filter_chains as { filters: { name: string; typed_config: Obj }[]; transport_socket?: unknown }[];
  if (chains.length !== 1 || chains[0]!.filters.length !== 1) return "not one filter chain with one filter";
  const hcm = chains[0]!.filters[0]!.typed_config;
  const filters = (hcm.http_filters as { name: string }[]).map((f) => f.name);
  if (JSON.stringify(filters) !== JSON.stringify(["envoy.filters.http.router"])) return `http filters ${filters.join(",")}`;
  if (hcm.normalize_path !== true) return "paths are not normalized";
  const routes = routesOfListener(listener);
  const forwarded = routes.filter((r) => r.route !== undefined);
  if (forwarded.length !== 1) return `${forwarded.length} forwarding routes`;
  const ready = forwarded[0]!;
  const match = JSON.stringify(ready.match);
  if (match !== JSON.stringify({ path: "/ready", headers: [{ name: ":method", string_match: { exact: "GET" } }] })) return `forwards ${match}`;
  const cluster = clustersOf(config).find((c) => c.name === (ready.route as { cluster: string }).cluster);
  if (!cluster || cluster.type !== "STATIC") return "the /ready route's cluster is not STATIC";
  const admin = (config.admin as { address: SocketAddress }).address;
  const eps = cluster.load_assignment.endpoints.flatMap((e) => e.lb_endpoints);
  if (eps.length !== 1 || JSON.stringify(eps[0]!.endpoint.address) !== JSON.stringify(admin)) return "the /ready route does not lead to the admin address";
  for (const r of routes.filter((x) => x !== ready)) {
    if ((r.direct_response as { status?: number } | undefined)?.status !== 404) return `route ${String(r.name)} is not a local 404`;
  }
  if (JSON.stringify(routes.at(-1)!.match) !== JSON.stringify({ prefix: "/" })) return "no catch-all 404";
  return "";
}

function readinessListener(config: Obj): Obj {
  const found = (config.static_resources as { listeners: Obj[] }).listeners.find((l) => l.name === "ready");
  if (!found) throw new Error("no listener ready");
  return found;
}

function hcmOf(config: Obj): Obj {
  return (egressListener(config).filter_chains as { filters: { typed_config: Obj }[] }[])[0]!.filters[0]!.typed_config;
}

/**
 * What every shipped egress config must do (the e2e suite proves the behaviour through a real Envoy; this pins
 * the settings an operator could lose by editing the file):
 *   - admin on loopback; the listener on loopback:8080 (sidecar) or all interfaces:8443 behind mutual TLS (gateway);
 *   - ext_authz fail-closed with 503, 1 s, HTTP/2 to scopegate over the unix socket, clear_route_cache so the
 *     routing header scopegate sets picks the route, and the caller's copy of that header removed before routing;
 *   - one TLS cluster per environment: SNI, Host and the certificate's DNS SAN all api.<environment>, trusting the
 *     system CA bundle; the catch-all route never reaches a cluster;
 *   - a stdout access log with %RESPONSE_FLAGS%, %RESPONSE_CODE_DETAILS% and scopegate's audit record (tenant,
 *     divisions), and no Authorization in it.
 */
function assertEgressShape(config: Obj, layout: Layout): void {
  const admin = config.admin as { address: { socket_address: { address: string; port_value: number } } };
  expect(admin.address.socket_address.address).toBe("127.0.0.1");

  const listener = egressListener(config);
  expect(listener.address).toEqual({
    socket_address: layout === "sidecar" ? { address: "127.0.0.1", port_value: 8080 } : { address: "0.0.0.0", port_value: 8443 },
  });
  const chain = (listener.filter_chains as Obj[])[0]!;
  if (layout === "gateway") {
    expect(chain.transport_socket).toMatchObject({
      name: "envoy.transport_sockets.tls",
      typed_config: { require_client_certificate: true, common_tls_context: { validation_context: { trusted_ca: { filename: expect.any(String) } } } },
    });
  } else {
    expect(chain.transport_socket).toBeUndefined();
  }

  const hcm = hcmOf(config);
  const filters = hcm.http_filters as { name: string; typed_config: Obj }[];
  expect(filters.map((f) => f.name)).toEqual(["envoy.filters.http.ext_authz", "envoy.filters.http.router"]);
  expect(filters[0]!.typed_config).toMatchObject({
    transport_api_version: "V3",
    failure_mode_allow: false,
    status_on_error: { code: "ServiceUnavailable" },
    clear_route_cache: true,
    grpc_service: { envoy_grpc: { cluster_name: "authz" }, timeout: "1s" },
  });
  expect(hcm.early_header_mutation_extensions).toMatchObject([{ typed_config: { mutations: [{ remove: "x-scopegate-upstream" }] } }]);

  const authz = clusterOf(config, "authz");
  expect(authz.typed_extension_protocol_options).toMatchObject({
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { explicit_http_config: { http2_protocol_options: {} } },
  });
  expect(endpointAddress(authz)).toEqual({ pipe: { path: AUTHZ_SOCKET } });

  const routes = (hcm.route_config as { virtual_hosts: { routes: Obj[] }[] }).virtual_hosts.flatMap((v) => v.routes);
  const last = routes.at(-1)!;
  expect(last.match).toEqual({ prefix: "/" });
  expect(last.direct_response, "the catch-all answers locally").toBeDefined();
  // The login route hands the SDK login's body to Check and never leads upstream (scopegate answers it).
  const login = routes.filter((r) => r.name === "login");
  expect(login).toHaveLength(1);
  expect(login[0]!.direct_response, "the login route answers locally").toBeDefined();
  expect(login[0]!.route).toBeUndefined();
  const environments = routes.slice(0, -1).filter((r) => r.name !== "login");
  expect(environments.length).toBeGreaterThan(0);
  for (const r of environments) {
    const env = String(r.name);
    const route = r.route as { cluster: string; host_rewrite_literal: string };
    expect((r.match as { headers: unknown[] }).headers).toEqual([{ name: "x-scopegate-upstream", string_match: { exact: env } }]);
    expect(route.host_rewrite_literal).toBe(`api.${env}`);
    const cluster = clusterOf(config, route.cluster);
    expect(endpointAddress(cluster)).toEqual({ socket_address: { address: `api.${env}`, port_value: 443 } });
    expect(cluster.transport_socket).toMatchObject({
      typed_config: {
        sni: `api.${env}`,
        common_tls_context: {
          validation_context: {
            trusted_ca: { filename: CA_BUNDLE },
            match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: `api.${env}` } }],
          },
        },
      },
    });
  }
  // Every cluster but authz and the admin one (behind the readiness listener) is an environment's, reached only
  // through its route.
  expect(clustersOf(config).length).toBe(environments.length + 2);

  // The kubelet's probe port: on the pod IP, GET /ready to the loopback admin and nothing else.
  const ready = readinessListener(config);
  expect(ready.address).toEqual({ socket_address: { address: "0.0.0.0", port_value: 9902 } });
  expect(probeListenerProblem(config, ready)).toBe("");
  expect(probeListenerProblem(config, listener), "the egress listener is no probe listener").not.toBe("");

  const logs = hcm.access_log as { name: string; typed_config: { "@type": string; log_format: { json_format: Record<string, string> } } }[];
  expect(logs.map((l) => l.typed_config["@type"])).toEqual(["type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"]);
  const format = Object.values(logs[0]!.typed_config.log_format.json_format).join(" ");
  for (const op of ["%RESPONSE_FLAGS%", "%RESPONSE_CODE_DETAILS%", "%UPSTREAM_TRANSPORT_FAILURE_REASON%"]) expect(format).toContain(op);
  // scopegate's audit record (authz/audit.ts): with logging.decisions at its default this is the record of allows.
  for (const field of ["decision", "tenant", "divisions"]) expect(format).toContain(`%DYNAMIC_METADATA(envoy.filters.http.ext_authz:${field})%`);
  expect(format.toLowerCase()).not.toContain("authorization");
}

/** Every HTTP filter of every listener's connection managers. */
function httpFiltersOf(config: Obj): string[] {
  return (config.static_resources as { listeners: Obj[] }).listeners.flatMap((l) =>
    (l.filter_chains as { filters: { typed_config: Obj }[] }[]).flatMap((chain) =>
      chain.filters.flatMap((f) => ((f.typed_config.http_filters as { name: string }[] | undefined) ?? []).map((h) => h.name)),
    ),
  );
}

/**
 * What the shared gateway's per-workload forwarder must be, instead of an egress config: no ext_authz (it decides
 * nothing; the gateway asks scopegate), so what it must have is what makes the gateway see the workload's identity
 * and keeps anyone else off it:
 *   - the forwarding listener on loopback (the workload in its pod is its one client; on the pod IP any pod could
 *     borrow the workload's identity), plain HTTP, only the router;
 *   - every forwarding route to one cluster: the gateway, over TLS with a client certificate, the gateway's
 *     certificate checked against a CA with SNI and DNS SAN pinned to the gateway's name, port 8443;
 *   - otherwise only the probe listener (GET /ready to the loopback admin).
 */
function assertForwarderShape(config: Obj): void {
  const admin = config.admin as { address: SocketAddress };
  expect(admin.address.socket_address.address).toBe("127.0.0.1");
  expect(httpFiltersOf(config), "the forwarder runs no ext_authz; every filter is a router").toEqual(["envoy.filters.http.router", "envoy.filters.http.router"]);
  const listeners = (config.static_resources as { listeners: Obj[] }).listeners;
  expect(listeners.map((l) => l.name)).toEqual(["egress", "ready"]);
  const [forward, ready] = listeners as [Obj, Obj];
  expect(probeListenerProblem(config, ready)).toBe("");
  expect((ready.address as SocketAddress).socket_address).toEqual({ address: "0.0.0.0", port_value: 9902 });
  expect(isLoopback((forward.address as SocketAddress).socket_address.address), "the forwarding listener is loopback only").toBe(true);
  expect((forward.filter_chains as Obj[])[0]!.transport_socket).toBeUndefined();
  const routes = routesOfListener(forward);
  expect(routes.length).toBeGreaterThan(0);
  const targets = new Set(routes.map((r) => (r.route as { cluster?: string } | undefined)?.cluster));
  expect(targets.size, "every route forwards, all to one cluster").toBe(1);
  const gateway = clusterOf(config, [...targets][0]!);
  const address = endpointAddress(gateway) as SocketAddress;
  const host = address.socket_address.address;
  expect(address.socket_address.port_value).toBe(8443);
  expect(host).toMatch(/^scopegate-egress-gateway\.[a-z0-9-]+\.svc(\.cluster\.local)?$/);
  expect(gateway.transport_socket).toMatchObject({
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
      sni: host,
      common_tls_context: {
        tls_certificates: [{ certificate_chain: { filename: expect.any(String) }, private_key: { filename: expect.any(String) } }],
        validation_context: { trusted_ca: { filename: expect.any(String) }, match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: host } }] },
      },
    },
  });
  // The gateway and the admin cluster behind the probe listener; nothing else to reach.
  expect(clustersOf(config).map((c) => c.name).sort()).toEqual([gateway.name, "envoy_admin"].sort());
}

// ---------------------------------------------------------------------------------------------
// Pod helpers

interface Workload {
  object: K8sObject;
  labels: Record<string, string>;
  pod: IPodSpec;
}

function workloadsOf(objects: K8sObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === "Deployment")
    .map((o) => {
      const template = (o.spec as { template: { metadata: { labels: Record<string, string> }; spec: IPodSpec } }).template;
      return { object: o, labels: template.metadata.labels, pod: template.spec };
    });
}

/** Init containers first (the kubelet starts them first), then the regular ones. */
const allContainers = (w: Workload): IContainer[] => [...(w.pod.initContainers ?? []), ...w.pod.containers];
const containerNamed = (w: Workload, name: string): IContainer | undefined => allContainers(w).find((c) => c.name === name);

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.entries(selector).every(([k, v]) => labels[k] === v);

function configMap(objects: K8sObject[], name: string): Record<string, string> {
  const cm = objects.find((o) => o.kind === "ConfigMap" && o.metadata.name === name);
  if (!cm) throw new Error(`ConfigMap ${name} not found`);
  return cm.data as Record<string, string>;
}

/** Path of a mounted file -> [ConfigMap name, key], for ConfigMap volumes mounted as directories. */
function configMapFileAt(w: Workload, container: IContainer, path: string): [string, string] | undefined {
  for (const m of container.volumeMounts ?? []) {
    if (!path.startsWith(`${m.mountPath}/`)) continue;
    const vol = (w.pod.volumes ?? []).find((v) => v.name === m.name);
    if (vol?.configMap) return [vol.configMap.name!, posix.relative(m.mountPath, path)];
  }
  return undefined;
}

/** The scopegate config file a container runs with: SCOPEGATE_CONFIG, resolved to a mounted ConfigMap key. */
function scopegateConfigText(objects: K8sObject[], w: Workload, c: IContainer): { text: string; source: string } {
  const configPath = c.env?.find((e) => e.name === "SCOPEGATE_CONFIG")?.value ?? "/etc/scopegate/config.yaml";
  const file = configMapFileAt(w, c, configPath);
  expect(file, `${configPath} is a mounted ConfigMap key`).toBeDefined();
  const [cmName, key] = file!;
  const text = configMap(objects, cmName)[key];
  expect(text, `ConfigMap ${cmName} key ${key}`).toBeTypeOf("string");
  return { text: text!, source: `${cmName}/${key}` };
}

/** The Envoy config text a container runs with (`-c`, a mounted ConfigMap key). */
function envoyConfigTextOf(objects: K8sObject[], w: Workload, c: IContainer): string {
  const file = configMapFileAt(w, c, c.args![c.args!.indexOf("-c") + 1]!);
  expect(file, `${c.name}: -c is a mounted ConfigMap key`).toBeDefined();
  return configMap(objects, file![0])[file![1]]!;
}

function volumeAt(w: Workload, container: IContainer, path: string): { name: string; kind: string; mountPath: string } | undefined {
  const m = (container.volumeMounts ?? [])
    .filter((x) => path === x.mountPath || path.startsWith(`${x.mountPath}/`))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  const vol = m && (w.pod.volumes ?? []).find((v) => v.name === m.name);
  if (!vol) return undefined;
  const kind = Object.keys(vol).find((k) => k !== "name")!;
  return { name: vol.name, kind, mountPath: m.mountPath };
}

// ---------------------------------------------------------------------------------------------
// The pod's network surface: every TCP listener its containers' configs bind, and what the NetworkPolicies
// admit. The app container is a placeholder: its declared ports count as what it binds on the pod IP.

type Serves = "check" | "health" | "http" | "envoy" | "envoy-admin" | "envoy-probe" | "app";
/** Listeners the kubelet's probes dial at the pod IP; no NetworkPolicy admits them (the node always may). */
const isProbePort = (b: Binding): boolean => b.serves === "health" || b.serves === "envoy-probe";
interface Binding {
  readonly container: string;
  readonly host: string;
  readonly port: number;
  readonly serves: Serves;
}

const isLoopback = (host: string): boolean => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/.test(host);
/** Reachable at the pod IP: the kubelet's probes, other pods and Services all dial that address. */
const onPodIp = (b: Binding): boolean => !isLoopback(b.host);

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}

function bindingsOf(objects: K8sObject[], w: Workload): Binding[] {
  const out: Binding[] = [];
  for (const c of allContainers(w)) {
    if (c.name === "scopegate") {
      const { text, source } = scopegateConfigText(objects, w, c);
      const { listen, http } = parseConfigText(text, source);
      const add = (hostPort: string | null | undefined, serves: Serves): void => {
        if (hostPort) out.push({ container: c.name, ...splitHostPort(hostPort), serves });
      };
      add(listen.tcp, "check");
      add(listen.healthTcp, "health");
      add(http.listen, "http");
    } else if (c.name === "envoy") {
      const config = parseYaml(envoyConfigTextOf(objects, w, c)) as Obj;
      const admin = (config.admin as { address: SocketAddress }).address.socket_address;
      out.push({ container: c.name, host: admin.address, port: admin.port_value, serves: "envoy-admin" });
      for (const l of (config.static_resources as { listeners: ({ address: SocketAddress } & Obj)[] }).listeners) {
        const { address, port_value } = l.address.socket_address;
        out.push({ container: c.name, host: address, port: port_value, serves: probeListenerProblem(config, l) === "" ? "envoy-probe" : "envoy" });
      }
    } else {
      for (const p of c.ports ?? []) out.push({ container: c.name, host: "0.0.0.0", port: p.containerPort, serves: "app" });
    }
  }
  return out;
}

interface Admission {
  readonly policy: string;
  /** Resolved container port; undefined for a rule without `ports` (all ports). */
  readonly port: number | undefined;
  /** undefined or empty: from anywhere. */
  readonly from: readonly Obj[] | undefined;
}

/** Every (port, peers) pair the NetworkPolicies selecting this pod admit. */
function admissionsOf(objects: K8sObject[], w: Workload): Admission[] {
  const named = new Map(
    allContainers(w).flatMap((c) => (c.ports ?? []).filter((p) => p.name).map((p) => [p.name!, p.containerPort] as const)),
  );
  const out: Admission[] = [];
  const namespace = (o: K8sObject): string | undefined => (o.metadata as { namespace?: string }).namespace;
  for (const np of objects.filter((o) => o.kind === "NetworkPolicy" && namespace(o) === namespace(w.object))) {
    const spec = np.spec as {
      podSelector: { matchLabels?: Record<string, string> };
      ingress?: { from?: Obj[]; ports?: { port?: number | string }[] }[];
    };
    if (!matches(spec.podSelector.matchLabels, w.labels)) continue;
    for (const rule of spec.ingress ?? []) {
      for (const p of rule.ports ?? [{}]) {
        const port = typeof p.port === "string" ? named.get(p.port) : p.port;
        out.push({ policy: np.metadata.name, port, from: rule.from });
      }
    }
  }
  return out;
}

const ROLE_UIDS = { scopegate: 65532, envoy: 65533 } as const;

function assertRestricted(w: Workload, c: IContainer): void {
  const where = `${w.object.metadata.name}/${c.name}`;
  const pod = w.pod.securityContext ?? {};
  const sc = c.securityContext ?? {};
  expect(sc.runAsNonRoot ?? pod.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
  const uid = sc.runAsUser ?? pod.runAsUser;
  expect(uid, `${where} runAsUser`).toBeGreaterThan(0);
  if (c.name === "scopegate" || c.name === "envoy") expect(uid, `${where} runAsUser`).toBe(ROLE_UIDS[c.name]);
  else expect(Object.values(ROLE_UIDS), `${where}: the app runs as neither scopegate nor Envoy`).not.toContain(uid);
  expect(sc.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).toBe(true);
  expect(sc.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).toBe(false);
  expect(sc.capabilities?.drop, `${where} capabilities.drop`).toEqual(["ALL"]);
  expect(sc.capabilities?.add ?? [], `${where} capabilities.add`).toEqual([]);
  expect((sc.seccompProfile ?? pod.seccompProfile)?.type, `${where} seccompProfile`).toBe("RuntimeDefault");
  expect(sc.privileged ?? false, `${where} privileged`).toBe(false);
  for (const kind of ["requests", "limits"] as const) {
    expect(c.resources?.[kind]?.cpu, `${where} resources.${kind}.cpu`).toBeDefined();
    expect(c.resources?.[kind]?.memory, `${where} resources.${kind}.memory`).toBeDefined();
  }
}

/** Kubernetes quantity -> bytes (the suffixes these manifests use). */
function bytesOf(quantity: string | number): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(String(quantity));
  if (!m) throw new Error(`quantity ${String(quantity)}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

/**
 * docs/benchmarks.md, section e: the RSS measured as shipped, in bytes (the bench prints MiB) — the highest of the
 * row with 10,000 tenants cached and the maximum of the steady run under load, which the memory request is set from.
 */
function benchmarkedShippedRss(): number {
  const doc = readFileSync(join(repoRoot, "docs/benchmarks.md"), "utf8").split("\n");
  const mibIn = (rowStart: string, value: RegExp): number => {
    const row = doc.find((l) => l.startsWith(rowStart));
    expect(row, `docs/benchmarks.md row '${rowStart}'`).toBeDefined();
    const m = value.exec(row!);
    expect(m, `'${rowStart}': ${String(value)}`).not.toBeNull();
    return Number(m![1]) * 1024 ** 2;
  };
  return Math.max(
    mibIn("| RSS with 10,000 tenants' tokens cached, as shipped", /\| (\d+) MiB/),
    mibIn("| RSS under load, as shipped", /max (\d+) MiB/),
  );
}

// ---------------------------------------------------------------------------------------------

const SIDECAR_CONFIG = join(DEPLOY, "envoy/envoy-sidecar.yaml");
const GATEWAY_CONFIG = join(DEPLOY, "envoy/envoy-gateway.yaml");
const FORWARDER_CONFIG = join(DEPLOY, "envoy/envoy-forwarder.yaml");

describe("deploy/ YAML", () => {
  it("finds the files it is meant to check", () => {
    const names = yamlFiles.map(rel);
    for (const expected of [
      "deploy/envoy/envoy-sidecar.yaml",
      "deploy/envoy/envoy-gateway.yaml",
      "deploy/envoy/envoy-forwarder.yaml",
      "deploy/kubernetes/base/kustomization.yaml",
      "deploy/kubernetes/overlays/shared-gateway/kustomization.yaml",
      "deploy/kubernetes/components/images/kustomization.yaml",
      "deploy/istio/egress-gateway/kustomization.yaml",
      "deploy/istio/egress-gateway/mesh-config.yaml",
    ]) {
      expect(names).toContain(expected);
    }
  });

  it.each(yamlFiles.map((f) => [rel(f), f]))("%s parses (every document)", (_name, file) => {
    expect(loadDocs(file).length).toBeGreaterThan(0);
  });

  const dataFiles = new Set(
    walk(DEPLOY)
      .filter((f) => basename(f) === "kustomization.yaml")
      .flatMap((k) => {
        const kz = readKustomization(dirname(k));
        // Patches are partial objects; configMapGenerator sources are data, not objects.
        const generated = (kz.configMapGenerator ?? []).flatMap((g) => (g.files ?? []).map((f) => f.replace(/^[^=]*=/, "")));
        return [...(kz.patches ?? []).map((p) => p.path ?? ""), ...generated].map((f) => resolve(dirname(k), f));
      }),
  );
  const standalone = yamlFiles.filter(
    (f) => !dataFiles.has(f) && !f.startsWith(join(DEPLOY, "envoy")) && basename(f) !== "kustomization.yaml",
  );

  it.each(standalone.map((f) => [rel(f), f]))("%s: Kubernetes/Istio objects validate against their schemas", async (_n, file) => {
    const objects = loadDocs(file).filter(isK8sObject).filter((o) => !isKustomization(o));
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) await validateObject(o, rel(file));
  });
});

describe("deploy/envoy egress configs", () => {
  const envoyFiles = yamlFiles.filter((f) => f.startsWith(join(DEPLOY, "envoy")));
  const layoutOf = (file: string): ShippedEnvoy =>
    basename(file).includes("forwarder") ? "forwarder" : basename(file).includes("gateway") ? "gateway" : "sidecar";

  it("a listener that forwards more than GET /ready to admin is no probe listener", () => {
    const config = parseYaml(readFileSync(SIDECAR_CONFIG, "utf8")) as Obj;
    const ready = readinessListener(config);
    expect(probeListenerProblem(config, ready)).toBe("");
    const route = routesOfListener(ready)[0]!;
    route.match = { prefix: "/" };
    expect(probeListenerProblem(config, ready)).toMatch(/forwards/);
  });

  it("ships exactly the sidecar and the gateway config, and the gateway's per-workload forwarder", () => {
    expect(envoyFiles.map(rel).sort()).toEqual(["deploy/envoy/envoy-forwarder.yaml", "deploy/envoy/envoy-gateway.yaml", "deploy/envoy/envoy-sidecar.yaml"]);
  });

  it("only the forwarder may lack ext_authz: an egress config that lost its ext_authz filter passes as neither", () => {
    const config = parseYaml(readFileSync(SIDECAR_CONFIG, "utf8")) as Obj;
    const hcm = hcmOf(config);
    hcm.http_filters = (hcm.http_filters as { name: string }[]).filter((f) => f.name !== "envoy.filters.http.ext_authz");
    expect(() => assertEgressShape(config, "sidecar")).toThrow();
    expect(() => assertForwarderShape(config)).toThrow();
    // Nor does a forwarder that sends to its gateway without a client certificate (the gateway would not know it).
    const forwarder = parseYaml(readFileSync(FORWARDER_CONFIG, "utf8")) as Obj;
    assertForwarderShape(forwarder);
    delete ((clusterOf(forwarder, "gateway").transport_socket as { typed_config: { common_tls_context: Obj } }).typed_config.common_tls_context.tls_certificates);
    expect(() => assertForwarderShape(forwarder)).toThrow();
  });

  it.each(envoyFiles.map((f) => [rel(f), f]))("%s passes envoy --mode validate", async (_n, file) => {
    expect(await envoyValidateText(readFileSync(file, "utf8"), basename(file))).toMatch(/configuration '.*' OK/);
  });

  it.each(envoyFiles.map((f) => [rel(f), f]))("%s has the egress settings (TLS per environment, fail-closed ext_authz, access log), or a forwarder's", (_n, file) => {
    const config = parseYaml(readFileSync(file, "utf8")) as Obj;
    const layout = layoutOf(file);
    if (layout === "forwarder") assertForwarderShape(config);
    else assertEgressShape(config, layout);
  });

  it("the kustomize layouts carry byte-identical copies of deploy/envoy (kustomize reads only below a kustomization)", () => {
    // npm run render:envoy writes the copies too (test/deploy/egress-config.test.ts compares every file it writes).
    expect(SHIPPED_EGRESS_CONFIGS.map((c) => c.file)).toEqual(
      expect.arrayContaining(["deploy/kubernetes/base/envoy-sidecar.yaml", "deploy/kubernetes/overlays/shared-gateway/envoy-gateway.yaml"]),
    );
    expect(readFileSync(join(DEPLOY, "kubernetes/base/envoy-sidecar.yaml"), "utf8")).toBe(readFileSync(SIDECAR_CONFIG, "utf8"));
    expect(readFileSync(join(DEPLOY, "kubernetes/overlays/shared-gateway/envoy-gateway.yaml"), "utf8")).toBe(readFileSync(GATEWAY_CONFIG, "utf8"));
  });

  it("validates although the socket and the TLS files do not exist (Envoy opens them lazily or at start, not to validate)", async () => {
    expect(existsSync(AUTHZ_SOCKET)).toBe(false);
    expect(await envoyValidate(SIDECAR_CONFIG)).toMatch(/OK/);
  });

  it("a broken config is rejected (the validation is not a no-op)", async () => {
    const text = readFileSync(SIDECAR_CONFIG, "utf8").replace(/^(\s+)failure_mode_allow:/m, "$1failure_mode_alow:");
    expect(text).toContain("failure_mode_alow:");
    await expect(envoyValidateText(text, "broken.yaml")).rejects.toThrow(/failure_mode_alow/);
  });
});

/**
 * `listen` and `http.listen` each layout's scopegate runs with. Check: only the unix socket that only the Envoy of
 * its pod reaches (Envoy, or the Istio gateway's istio-proxy). Health (probes) and HTTP (/metrics) on all
 * interfaces: the kubelet and Prometheus dial the pod IP.
 */
const layouts = [
  {
    name: "base (sidecar egress)",
    dir: join(DEPLOY, "kubernetes/base"),
    envoy: "sidecar" as Layout | undefined,
    mode: "local",
    listeners: { tcp: null, unixSocket: AUTHZ_SOCKET, healthTcp: "0.0.0.0:9193", http: "0.0.0.0:9192" },
  },
  {
    name: "overlays/shared-gateway",
    dir: join(DEPLOY, "kubernetes/overlays/shared-gateway"),
    envoy: "gateway" as Layout | undefined,
    mode: "mesh",
    listeners: { tcp: null, unixSocket: AUTHZ_SOCKET, healthTcp: "0.0.0.0:9193", http: "0.0.0.0:9192" },
  },
  {
    name: "istio/egress-gateway",
    dir: join(DEPLOY, "istio/egress-gateway"),
    envoy: undefined,
    mode: "mesh",
    listeners: { tcp: null, unixSocket: AUTHZ_SOCKET, healthTcp: "0.0.0.0:9193", http: "0.0.0.0:9192" },
  },
] as const;

function scopegateOf(objects: K8sObject[]): { w: Workload; c: IContainer } {
  const found = workloadsOf(objects).flatMap((w) => allContainers(w).filter((c) => c.name === "scopegate").map((c) => ({ w, c })));
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe.each(layouts)("kustomize layout $name", ({ dir, envoy, mode }) => {
  it("renders with kustomize to objects that validate against their schemas", async () => {
    const objects = render(dir);
    expect(objects.length).toBeGreaterThan(0);
    const keys = objects.map((o) => `${o.kind}/${(o.metadata as { namespace?: string }).namespace ?? ""}/${o.metadata.name}`);
    expect(new Set(keys).size, `duplicates in ${keys.join(", ")}`).toBe(keys.length);
    for (const o of objects) {
      assertNoDirectives(o, `${o.kind}/${o.metadata.name}`);
      await validateObject(o, rel(dir));
    }
  });

  it("rewrites every image to a registry reference with a tag or digest (no placeholder left)", () => {
    for (const w of workloadsOf(render(dir))) {
      for (const c of allContainers(w)) {
        // istiod's gateway injection fills in its proxy image (istio.io, "Installing Gateways").
        if (c.name === "istio-proxy" && c.image === "auto") continue;
        // A placeholder (`scopegate`, `workload`) has no registry and no tag: `images:` did not reach it.
        expect(c.image, `${w.object.metadata.name}/${c.name}`).toMatch(/^[a-z0-9.-]+(:\d+)?\/[^:@\s]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/);
        expect(c.image!.includes(":") || c.image!.includes("@"), `${w.object.metadata.name}/${c.name}: ${c.image} has a tag or digest`).toBe(true);
      }
    }
  });

  it("resolves every reference inside the rendered layout", () => {
    const objects = render(dir);
    const serviceAccounts = new Set(objects.filter((o) => o.kind === "ServiceAccount").map((o) => o.metadata.name));
    const configMaps = new Set(objects.filter((o) => o.kind === "ConfigMap").map((o) => o.metadata.name));
    const workloads = workloadsOf(objects);
    expect(workloads.length).toBeGreaterThan(0);

    for (const w of workloads) {
      const name = w.object.metadata.name;
      const spec = w.object.spec as { selector: { matchLabels: Record<string, string> } };
      expect(matches(spec.selector.matchLabels, w.labels), `${name} selector matches its pod labels`).toBe(true);
      expect(serviceAccounts.has(w.pod.serviceAccountName ?? ""), `${name} serviceAccountName`).toBe(true);
      const volumes = new Set((w.pod.volumes ?? []).map((v) => v.name));
      for (const v of w.pod.volumes ?? []) {
        if (v.configMap) expect(configMaps.has(v.configMap.name ?? ""), `${name} volume ${v.name}`).toBe(true);
      }
      const used = new Set<string>();
      for (const c of allContainers(w)) {
        for (const m of c.volumeMounts ?? []) {
          expect(volumes.has(m.name), `${name}/${c.name} mounts undefined volume ${m.name}`).toBe(true);
          used.add(m.name);
        }
        const ports = new Set((c.ports ?? []).map((p) => p.containerPort));
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
          const port = probe?.grpc?.port ?? probe?.tcpSocket?.port ?? probe?.httpGet?.port;
          if (typeof port === "number") expect(ports.has(port), `${name}/${c.name} probe port ${port}`).toBe(true);
        }
      }
      expect([...volumes].filter((v) => !used.has(v)), `${name}: volumes nobody mounts`).toEqual([]);
    }

    const podsMatching = (selector: Record<string, string> | undefined): Workload[] => workloads.filter((w) => matches(selector, w.labels));
    for (const svc of objects.filter((o) => o.kind === "Service")) {
      const spec = svc.spec as { selector: Record<string, string>; ports: { name: string; targetPort: string | number }[] };
      const pods = podsMatching(spec.selector);
      expect(pods.length, `Service ${svc.metadata.name} selects a workload`).toBeGreaterThan(0);
      for (const p of spec.ports) {
        const named = allContainers(pods[0]!).some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort));
        expect(named, `Service ${svc.metadata.name} targetPort ${p.targetPort}`).toBe(true);
      }
    }
    for (const o of objects.filter((x) => x.kind === "PodDisruptionBudget" || x.kind === "NetworkPolicy")) {
      const spec = o.spec as { selector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } };
      const selector = (spec.selector ?? spec.podSelector)?.matchLabels;
      expect(podsMatching(selector).length, `${o.kind} ${o.metadata.name} selects a workload`).toBeGreaterThan(0);
    }
  });

  it("runs every container restricted: non-root, its own uid per role, read-only root, no escalation, no capabilities, RuntimeDefault seccomp, resources", () => {
    for (const w of workloadsOf(render(dir))) {
      expect(w.pod.securityContext?.runAsNonRoot).toBe(true);
      expect(w.pod.automountServiceAccountToken).toBe(false);
      // fsGroup / supplementalGroups would put every container, the app's included, in one shared group.
      expect(w.pod.securityContext?.fsGroup).toBeUndefined();
      expect(w.pod.securityContext?.supplementalGroups).toBeUndefined();
      for (const c of allContainers(w)) assertRestricted(w, c);
    }
  });

  it("requests at least the memory the benchmark measured for scopegate as shipped (docs/benchmarks.md, section e)", () => {
    const { c } = scopegateOf(render(dir));
    const request = bytesOf(c.resources!.requests!.memory!);
    expect(request).toBeGreaterThanOrEqual(benchmarkedShippedRss());
    expect(bytesOf(c.resources!.limits!.memory!)).toBeGreaterThan(request);
  });

  it("embeds a scopegate config that the schema and `scopegate check-config` accept, wired to the pod", async () => {
    const objects = render(dir);
    const { w, c } = scopegateOf(objects);
    const { text, source } = scopegateConfigText(objects, w, c);
    const config: Config = parseConfigText(text, source);

    expect(config.callers.mode).toBe(mode);
    expect(config.secrets.backend).toBe("vault");
    const vault = config.secrets.vault!;
    expect(vault.kvMount).toBe("secret");
    expect(vault.tenantPrefix).toBe("scopegate/tenants");
    expect(vault.auth.method).toBe("kubernetes");
    if (vault.auth.method === "kubernetes") {
      expect(vault.auth.role).toBe("scopegate");
      // The JWT file is the projected service-account token, audience vault, mounted into this container only.
      const vol = volumeAt(w, c, dirname(vault.auth.jwtFile));
      expect(vol?.kind, `${vault.auth.jwtFile} is on a projected volume`).toBe("projected");
      const projected = w.pod.volumes!.find((v) => v.name === vol!.name)!.projected!;
      expect(projected.sources?.[0]?.serviceAccountToken).toMatchObject({ path: basename(vault.auth.jwtFile), audience: "vault" });
      for (const other of allContainers(w).filter((x) => x !== c)) {
        expect((other.volumeMounts ?? []).some((m) => m.name === vol!.name), `${other.name} must not see the Vault JWT`).toBe(false);
      }
    }
    expect(config.tenants.length).toBeGreaterThan(0);
    // Tenants of more than one region share the layout.
    expect(new Set(config.tenants.map((t) => t.environment)).size).toBeGreaterThan(1);

    // The real CLI (dist/main.js, as the image's ENTRYPOINT runs it) accepts the same file.
    const mainJs = join(repoRoot, "dist/main.js");
    expect(existsSync(mainJs), "dist/main.js missing: run `npm run build` first").toBe(true);
    const tmp = join(scratch, `${basename(dir)}-config.yaml`);
    await writeFile(tmp, text);
    const { stdout } = await execFileAsync(process.execPath, [mainJs, "check-config", tmp], { timeout: 30_000 });
    expect(stdout).toContain("ok");
  });

  if (envoy !== undefined) {
    it("runs Envoy with exactly the shipped deploy/envoy config, which passes envoy --mode validate", async () => {
      const objects = render(dir);
      const w = workloadsOf(objects).find((x) => containerNamed(x, "envoy"))!;
      const text = envoyConfigTextOf(objects, w, containerNamed(w, "envoy")!);
      expect(text).toBe(readFileSync(envoy === "sidecar" ? SIDECAR_CONFIG : GATEWAY_CONFIG, "utf8"));
      expect(await envoyValidateText(text, `${basename(dir)}-envoy.yaml`)).toMatch(/OK/);
    });

    it("runs the Envoy distroless image of the version the tests validate with; its system CA bundle is the one the config trusts", async () => {
      const objects = render(dir);
      const w = workloadsOf(objects).find((x) => containerNamed(x, "envoy"))!;
      const image = containerNamed(w, "envoy")!.image!;
      // envoyproxy/envoy's distroless images build on gcr.io/distroless/base-nossl (envoy ci/Dockerfile-envoy),
      // whose ca-certificates package provides /etc/ssl/certs/ca-certificates.crt.
      const m = /^envoyproxy\/envoy:distroless-v(\d+\.\d+\.\d+)(@sha256:[0-9a-f]{64})?$/.exec(image);
      expect(m, image).not.toBeNull();
      const { stdout } = await execFileAsync(envoyBin, ["--version"], { timeout: 30_000 });
      expect(stdout).toContain(`/${m![1]}/`);
      const config = parseYaml(envoyConfigTextOf(objects, w, containerNamed(w, "envoy")!)) as Obj;
      const trusted = clustersOf(config).flatMap((cl) => {
        const ca = (cl.transport_socket as { typed_config?: { common_tls_context?: { validation_context?: { trusted_ca?: { filename?: string } } } } } | undefined)
          ?.typed_config?.common_tls_context?.validation_context?.trusted_ca?.filename;
        return ca ? [ca] : [];
      });
      expect(new Set(trusted)).toEqual(new Set([CA_BUNDLE]));
      // Nothing is mounted over it.
      expect(volumeAt(w, containerNamed(w, "envoy")!, CA_BUNDLE)).toBeUndefined();
    });

    it("starts scopegate and Envoy as native sidecars (Kubernetes >= 1.29): scopegate first, gated by its startup probe", () => {
      const w = workloadsOf(render(dir)).find((x) => containerNamed(x, "envoy"))!;
      const init = w.pod.initContainers ?? [];
      const scopegate = init.find((c) => c.name === "scopegate");
      expect(scopegate?.restartPolicy, "scopegate is an init container with restartPolicy Always").toBe("Always");
      expect(scopegate!.startupProbe?.grpc).toBeDefined();
      expect(w.pod.containers.map((c) => c.name)).not.toContain("scopegate");
      if (envoy === "sidecar") {
        // Envoy too starts before, and stops after, the app.
        expect(init.map((c) => c.name)).toEqual(["scopegate", "envoy"]);
        expect(init.map((c) => c.restartPolicy)).toEqual(["Always", "Always"]);
        expect(w.pod.containers.map((c) => c.name)).toEqual(["app"]);
      } else {
        // The gateway's main container is Envoy itself; scopegate outlives it at shutdown.
        expect(init.map((c) => c.name)).toEqual(["scopegate"]);
        expect(w.pod.containers.map((c) => c.name)).toEqual(["envoy"]);
      }
    });

    it("lets only Envoy reach Check: a socket in a volume only Envoy and scopegate mount, mode 0660, group = Envoy's", () => {
      const objects = render(dir);
      const { w, c } = scopegateOf(objects);
      const config = parseConfigText(scopegateConfigText(objects, w, c).text);
      expect(config.listen.tcp, "no TCP Check listener: the app shares the pod's network").toBeNull();
      expect(config.listen.unixSocket).toBe(AUTHZ_SOCKET);
      expect(config.listen.socketMode).toMatch(/^0?660$/);
      const envoyContainer = containerNamed(w, "envoy")!;
      const vol = volumeAt(w, c, dirname(AUTHZ_SOCKET))!;
      expect(vol.kind).toBe("emptyDir");
      expect(volumeAt(w, envoyContainer, dirname(AUTHZ_SOCKET))?.name).toBe(vol.name);
      const mounting = allContainers(w).filter((x) => (x.volumeMounts ?? []).some((m) => m.name === vol.name)).map((x) => x.name);
      expect(mounting.sort()).toEqual(["envoy", "scopegate"]);
      // Owner scopegate, group = the group Envoy runs in; nobody else in the pod runs as either.
      expect(config.listen.socketGid).toBe(envoyContainer.securityContext!.runAsGroup);
      expect(c.securityContext!.runAsUser).not.toBe(envoyContainer.securityContext!.runAsUser);
      for (const other of allContainers(w).filter((x) => x.name !== "scopegate" && x.name !== "envoy")) {
        expect(other.securityContext!.runAsGroup, `${other.name} group`).not.toBe(config.listen.socketGid);
        expect(other.securityContext!.runAsUser, `${other.name} user`).not.toBe(c.securityContext!.runAsUser);
      }
      const authz = clusterOf(parseYaml(envoyConfigTextOf(objects, w, envoyContainer)) as Obj, "authz");
      expect(endpointAddress(authz)).toEqual({ pipe: { path: config.listen.unixSocket } });
    });
  }
});

describe.each(layouts)("pod network surface of $name", ({ dir, listeners }) => {
  let objects: K8sObject[] = [];
  let scopegate: { w: Workload; c: IContainer };
  beforeAll(() => {
    objects = render(dir);
    scopegate = scopegateOf(objects);
  });
  const scopegateBindings = (): Binding[] => bindingsOf(objects, scopegate.w).filter((b) => b.container === "scopegate");

  it("runs scopegate with the listeners this layout promises", () => {
    const { text, source } = scopegateConfigText(objects, scopegate.w, scopegate.c);
    const config = parseConfigText(text, source);
    const { tcp, unixSocket, healthTcp } = config.listen;
    expect({ tcp, unixSocket, healthTcp, http: config.http.listen }).toEqual(listeners);
  });

  it("points every kubelet probe at the health-only listener on the pod IP, never at Check", () => {
    const { c } = scopegate;
    const bindings = scopegateBindings();
    const health = bindings.filter((b) => b.serves === "health");
    expect(health, "one listen.healthTcp").toHaveLength(1);
    expect(onPodIp(health[0]!), `${health[0]!.host} is reachable at the pod IP (the kubelet dials status.PodIP)`).toBe(true);
    const checkPorts = bindings.filter((b) => b.serves === "check").map((b) => b.port);
    expect(checkPorts).not.toContain(health[0]!.port);
    const probes = [["startup", c.startupProbe], ["readiness", c.readinessProbe], ["liveness", c.livenessProbe]] as const;
    for (const [kind, probe] of probes) {
      expect(probe, `${kind}Probe`).toBeDefined();
      // Native gRPC probe (grpc.health.v1), the overall ("") status that scopegate sets with the Check service's.
      expect(probe!.grpc, `${kind}Probe is a gRPC probe`).toBeDefined();
      expect(probe!.tcpSocket ?? probe!.httpGet ?? probe!.exec, `${kind}Probe has no other handler`).toBeUndefined();
      expect(probe!.grpc!.port, `${kind}Probe port`).toBe(health[0]!.port);
      expect(probe!.grpc!.service ?? "").toBe("");
    }
    expect(c.ports?.find((p) => p.containerPort === health[0]!.port)?.name).toBe("grpc-health");
  });

  it("probes Envoy through its readiness listener on the pod IP (GET /ready to the loopback admin), never through admin itself", () => {
    const envoyPods = workloadsOf(objects).filter((w) => containerNamed(w, "envoy"));
    for (const w of envoyPods) {
      const envoy = containerNamed(w, "envoy")!;
      const bindings = bindingsOf(objects, w).filter((b) => b.container === "envoy");
      const probePorts = bindings.filter((b) => b.serves === "envoy-probe");
      expect(probePorts, "one readiness listener").toHaveLength(1);
      expect(onPodIp(probePorts[0]!), "the kubelet dials the pod IP").toBe(true);
      for (const admin of bindings.filter((b) => b.serves === "envoy-admin")) expect(onPodIp(admin), "admin stays on loopback").toBe(false);
      for (const [kind, probe] of [["startup", envoy.startupProbe], ["readiness", envoy.readinessProbe]] as const) {
        expect(probe?.httpGet, `${kind}Probe is an httpGet`).toBeDefined();
        expect(probe!.httpGet).toMatchObject({ port: probePorts[0]!.port, path: "/ready" });
        expect(probe!.httpGet!.scheme ?? "HTTP").toBe("HTTP");
      }
      // Liveness, if any, never asks admin /ready: it turns 503 while Envoy drains, and a restart would cut the drain.
      expect(envoy.livenessProbe?.httpGet).toBeUndefined();
    }
    if (envoyPods.length === 0) expect(bindingsOf(objects, scopegate.w).some((b) => b.serves === "envoy-probe")).toBe(false);
  });

  it("declares as container ports exactly the listeners bound to the pod IP", () => {
    const bindings = bindingsOf(objects, scopegate.w).filter((b) => b.serves !== "app");
    for (const name of new Set(bindings.map((b) => b.container))) {
      const c = containerNamed(scopegate.w, name)!;
      const declared = (c.ports ?? []).map((p) => p.containerPort).sort((x, y) => x - y);
      const exposed = bindings.filter((b) => b.container === name && onPodIp(b)).map((b) => b.port).sort((x, y) => x - y);
      expect(declared, `${name}: container ports vs. listeners on the pod IP`).toEqual(exposed);
    }
    const byServes = new Map(scopegateBindings().map((b) => [b.serves, b.port]));
    const names = new Map((scopegate.c.ports ?? []).map((p) => [p.containerPort, p.name]));
    expect(names.get(byServes.get("http")!)).toBe("metrics");
    if (scopegateBindings().some((b) => b.serves === "check" && onPodIp(b))) expect(names.get(byServes.get("check")!)).toBe("grpc");
  });

  it("keeps Check off the network, or admits to it only the peers a NetworkPolicy names", () => {
    const w = scopegate.w;
    const admissions = admissionsOf(objects, w);
    for (const check of bindingsOf(objects, w).filter((b) => b.serves === "check" && onPodIp(b))) {
      const admitted = admissions.filter((a) => a.port === check.port || a.port === undefined);
      expect(admitted.length, `${w.object.metadata.name}: Check :${check.port} is admitted to its clients`).toBeGreaterThan(0);
      for (const a of admitted) {
        expect(a.from?.length ?? 0, `${a.policy}: Check :${check.port} admitted from everywhere`).toBeGreaterThan(0);
        for (const peer of a.from!) expect(peer.podSelector, `${a.policy}: a peer of Check names its pods`).toBeDefined();
      }
    }
    if (listeners.unixSocket !== undefined) {
      expect(scopegateBindings().filter((b) => b.serves === "check")).toEqual([]);
    }
  });

  it("isolates every pod with a NetworkPolicy admitting only the ports it serves on the pod IP, never the probe port", () => {
    for (const w of workloadsOf(objects)) {
      const name = w.object.metadata.name;
      const onIp = bindingsOf(objects, w).filter(onPodIp);
      const admissions = admissionsOf(objects, w);
      expect(admissions.length, `${name} is selected by a NetworkPolicy with ingress rules`).toBeGreaterThan(0);
      for (const a of admissions) {
        expect(a.port, `${a.policy}: a rule without ports admits every port of ${name}`).toBeDefined();
        const b = onIp.find((x) => x.port === a.port);
        expect(b, `${a.policy}: port ${a.port} is served on the pod IP of ${name}`).toBeDefined();
        // The kubelet's probes come from the node, which NetworkPolicy always admits.
        expect(isProbePort(b!), `${a.policy}: port ${a.port} (${b!.serves}) is a probe port`).toBe(false);
        if (!a.from?.length) expect(["app", "http"], `${a.policy}: port ${a.port} open to every pod`).toContain(b!.serves);
      }
      for (const b of onIp.filter((x) => !isProbePort(x))) {
        expect(admissions.some((a) => a.port === b.port), `${name}: ${b.container} :${b.port} (${b.serves}) is admitted`).toBe(true);
      }
    }
  });
});

describe("overlays/shared-gateway", () => {
  const dir = join(DEPLOY, "kubernetes/overlays/shared-gateway");
  let objects: K8sObject[] = [];
  let gateway: Workload;
  beforeAll(() => {
    objects = render(dir);
    const ws = workloadsOf(objects);
    expect(ws.map((w) => w.object.metadata.name)).toEqual(["scopegate-egress-gateway"]);
    gateway = ws[0]!;
  });

  it("runs 2+ replicas behind a Service on 8443 (Envoy's mTLS listener) with a PodDisruptionBudget", () => {
    expect((gateway.object.spec as { replicas: number }).replicas).toBeGreaterThanOrEqual(2);
    const svc = objects.find((o) => o.kind === "Service")!;
    const port = (svc.spec as { ports: { port: number; targetPort: string }[] }).ports;
    expect(port).toHaveLength(1);
    const target = containerNamed(gateway, "envoy")!.ports!.find((p) => p.name === port[0]!.targetPort)!;
    const listener = egressListener(parseYaml(envoyConfigTextOf(objects, gateway, containerNamed(gateway, "envoy")!)) as Obj);
    expect(target.containerPort).toBe((listener.address as { socket_address: { port_value: number } }).socket_address.port_value);
    expect(port[0]!.port).toBe(8443);
    const pdb = objects.find((o) => o.kind === "PodDisruptionBudget")!;
    expect((pdb.spec as { minAvailable: number }).minAvailable).toBe(1);
  });

  it("admits only labelled workload namespaces to 8443", () => {
    const rules = admissionsOf(objects, gateway).filter((a) => a.port === 8443);
    expect(rules).toHaveLength(1);
    expect(rules[0]!.from).toEqual([{ namespaceSelector: { matchLabels: { "scopegate.io/egress-client": "true" } } }]);
  });

  it("mounts the server certificate and client CA the Envoy config names from Secrets", () => {
    const envoy = containerNamed(gateway, "envoy")!;
    const config = parseYaml(envoyConfigTextOf(objects, gateway, envoy)) as Obj;
    const tls = (egressListener(config).filter_chains as { transport_socket: { typed_config: { common_tls_context: Obj } } }[])[0]!.transport_socket.typed_config
      .common_tls_context as { tls_certificates: { certificate_chain: { filename: string }; private_key: { filename: string } }[]; validation_context: { trusted_ca: { filename: string } } };
    const files = [
      tls.tls_certificates[0]!.certificate_chain.filename,
      tls.tls_certificates[0]!.private_key.filename,
      tls.validation_context.trusted_ca.filename,
    ];
    for (const file of files) {
      const vol = volumeAt(gateway, envoy, file);
      expect(vol?.kind, `${file} comes from a Secret`).toBe("secret");
      const secret = gateway.pod.volumes!.find((v) => v.name === vol!.name)!.secret!;
      // kubernetes.io/tls keys are tls.crt / tls.key; the CA Secret's key is ca.crt.
      expect(["tls.crt", "tls.key", "ca.crt"]).toContain(posix.relative(vol!.mountPath, file));
      expect(secret.secretName).toMatch(/^scopegate-egress-/);
    }
  });

  it("health-checks scopegate from Envoy with grpc.health.v1 on the authz cluster (the socket serves it beside Check)", () => {
    const config = parseYaml(envoyConfigTextOf(objects, gateway, containerNamed(gateway, "envoy")!)) as Obj;
    const authz = clusterOf(config, "authz");
    expect(authz.health_checks).toMatchObject([{ grpc_health_check: {} }]);
    // A panic threshold of 0 would stop checks while scopegate drains (NOT_SERVING but still answering).
    expect((authz.common_lb_config as { healthy_panic_threshold?: unknown } | undefined)?.healthy_panic_threshold).toBeUndefined();
  });

  it("drains on shutdown: Envoy's preStop sleep, scopegate's shutdown.drainMs, within the grace period", () => {
    const { w, c } = scopegateOf(objects);
    const config = parseConfigText(scopegateConfigText(objects, w, c).text);
    expect(config.shutdown.drainMs).toBeGreaterThan(0);
    const sleep = (containerNamed(gateway, "envoy")!.lifecycle?.preStop as { sleep?: { seconds: number } } | undefined)?.sleep?.seconds ?? 0;
    expect(sleep).toBeGreaterThan(0);
    const budget = gateway.pod.terminationGracePeriodSeconds ?? 30;
    expect(sleep + (config.shutdown.drainMs + config.shutdown.graceMs) / 1000).toBeLessThanOrEqual(budget);
  });
});

describe("deploy/istio/egress-gateway", () => {
  const dir = join(DEPLOY, "istio/egress-gateway");
  const apiHosts = GENESYS_ENVIRONMENTS.map((e) => `api.${e}`);
  let objects: K8sObject[] = [];
  let gateway: Workload;
  let gatewayHost = "";
  const ofKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
  const nsOf = (o: K8sObject): string => (o.metadata as { namespace?: string }).namespace ?? "";
  beforeAll(() => {
    objects = render(dir);
    gateway = scopegateOf(objects).w;
    const svc = ofKind("Service").find((o) => matches((o.spec as { selector: Record<string, string> }).selector, gateway.labels))!;
    gatewayHost = `${svc.metadata.name}.${nsOf(svc)}.svc.cluster.local`;
  });
  const mesh = loadDocs(join(dir, "mesh-config.yaml")).filter(isK8sObject)[0]!;
  const providers = ((mesh.spec as Obj).meshConfig as { extensionProviders: { name: string; envoyExtAuthzGrpc: Obj }[] }).extensionProviders;

  it("runs scopegate as a native sidecar in the egress gateway's own pods (gateway injection), in mesh mode with verifyHost", () => {
    const proxy = containerNamed(gateway, "istio-proxy")!;
    expect(gateway.pod.containers.map((c) => c.name)).toEqual(["istio-proxy"]);
    expect(proxy.image).toBe("auto");
    const template = (gateway.object.spec as { template: { metadata: { labels: Record<string, string>; annotations: Record<string, string> } } }).template.metadata;
    expect(template.labels["sidecar.istio.io/inject"]).toBe("true");
    expect(template.annotations["inject.istio.io/templates"]).toBe("gateway");
    expect(gateway.pod.initContainers!.map((c) => [c.name, c.restartPolicy])).toEqual([["scopegate", "Always"]]);
    const { c } = scopegateOf(objects);
    const config = parseConfigText(scopegateConfigText(objects, gateway, c).text);
    expect(config.callers.mode).toBe("mesh");
    expect(config.egress.verifyHost).toBe(true);
    expect(config.shutdown.drainMs).toBeGreaterThan(0);
  });

  it("lets only the gateway's proxy reach Check: a socket in a volume only it and scopegate mount, group = the proxy's", () => {
    const { c } = scopegateOf(objects);
    const config = parseConfigText(scopegateConfigText(objects, gateway, c).text);
    expect(config.listen.tcp).toBeNull();
    expect(config.listen.socketMode).toMatch(/^0?660$/);
    const proxy = containerNamed(gateway, "istio-proxy")!;
    const vol = volumeAt(gateway, c, dirname(config.listen.unixSocket!))!;
    expect(vol.kind).toBe("emptyDir");
    expect(volumeAt(gateway, proxy, dirname(config.listen.unixSocket!))?.name).toBe(vol.name);
    expect(config.listen.socketGid).toBe(proxy.securityContext!.runAsGroup);
    expect(c.securityContext!.runAsUser).not.toBe(proxy.securityContext!.runAsUser);
  });

  it("declares one namespace-qualified gRPC ext_authz provider: explicit timeout, fail-closed, 503 on error", () => {
    expect(providers).toHaveLength(1);
    expect(providers[0]!.envoyExtAuthzGrpc).toMatchObject({ port: 9191, timeout: "1s", failOpen: false, statusOnError: "503" });
    expect(providers[0]!.envoyExtAuthzGrpc.clearRouteCache ?? false).toBe(false);
    // "<namespace>/<hostname>": an unqualified host found in several namespaces makes istiod compile the CUSTOM
    // policy to deny-all (pilot/pkg/extensionproviders/cluster_lookup.go).
    expect(providers[0]!.envoyExtAuthzGrpc.service).toMatch(/^[a-z0-9-]+\/[a-z0-9.-]+$/);
  });

  it("resolves the provider to a ServiceEntry in the gateway's namespace whose one endpoint is scopegate's socket, port GRPC", () => {
    const [ns, host] = String(providers[0]!.envoyExtAuthzGrpc.service).split("/");
    const se = ofKind("ServiceEntry").filter((o) => nsOf(o) === ns && (o.spec as { hosts: string[] }).hosts.includes(host!));
    expect(se, host).toHaveLength(1);
    expect(ns).toBe(nsOf(gateway.object));
    const spec = se[0]!.spec as { exportTo: string[]; resolution: string; ports: { number: number; protocol: string }[]; endpoints: { address: string }[] };
    expect(spec.exportTo).toEqual(["."]);
    expect(spec.resolution).toBe("STATIC");
    expect(spec.ports).toEqual([{ name: "grpc", number: providers[0]!.envoyExtAuthzGrpc.port, protocol: "GRPC" }]);
    const { c } = scopegateOf(objects);
    const config = parseConfigText(scopegateConfigText(objects, gateway, c).text);
    expect(spec.endpoints).toEqual([{ address: `unix://${config.listen.unixSocket}` }]);
  });

  it("registers every supported region's API host (ServiceEntry: 80 HTTP, 443 HTTPS, resolution DNS)", () => {
    const se = ofKind("ServiceEntry").filter((o) => (o.spec as { hosts: string[] }).hosts.some((h) => h.startsWith("api.")));
    expect(se).toHaveLength(1);
    const spec = se[0]!.spec as { hosts: string[]; ports: { number: number; protocol: string }[]; resolution: string };
    expect([...spec.hosts].sort()).toEqual([...apiHosts].sort());
    expect(spec.ports.map((p) => [p.number, p.protocol])).toEqual([[80, "HTTP"], [443, "HTTPS"]]);
    expect(spec.resolution).toBe("DNS");
  });

  it("steers mesh traffic for each host through the egress gateway over ISTIO_MUTUAL, and from there to the host on 443", () => {
    const [gw] = ofKind("Gateway");
    const gwSpec = gw!.spec as { selector: Record<string, string>; servers: { port: { number: number; protocol: string }; hosts: string[]; tls: { mode: string } }[] };
    expect(matches(gwSpec.selector, gateway.labels), "the Gateway selects the gateway pods").toBe(true);
    const server = gwSpec.servers[0]!;
    expect(server).toMatchObject({ port: { number: 80, protocol: "HTTPS" }, tls: { mode: "ISTIO_MUTUAL" } });
    expect([...server.hosts].sort()).toEqual([...apiHosts].sort());

    const [vs] = ofKind("VirtualService");
    type Route = { match: { gateways: string[]; port: number; authority: { exact: string } }[]; route: { destination: { host: string; subset?: string; port: { number: number } } }[] };
    const spec = vs!.spec as { hosts: string[]; gateways: string[]; http: Route[] };
    expect([...spec.hosts].sort()).toEqual([...apiHosts].sort());
    const gwRef = `${nsOf(gw!)}/${gw!.metadata.name}`;
    expect(spec.gateways.sort()).toEqual([gwRef, "mesh"].sort());
    const egressSubsets = (ofKind("DestinationRule").find((d) => (d.spec as { host: string }).host === gatewayHost)!.spec as {
      subsets: { name: string; trafficPolicy: { portLevelSettings: { port: { number: number }; tls: { mode: string; sni: string } }[] } }[];
    }).subsets;
    for (const host of apiHosts) {
      const fromMesh = spec.http.filter((r) => r.match.some((m) => m.gateways.includes("mesh") && m.authority.exact === host));
      expect(fromMesh, host).toHaveLength(1);
      const dest = fromMesh[0]!.route[0]!.destination;
      expect(dest).toMatchObject({ host: gatewayHost, port: { number: 80 } });
      const subset = egressSubsets.find((s) => s.name === dest.subset)!;
      expect(subset.trafficPolicy.portLevelSettings[0]).toMatchObject({ port: { number: 80 }, tls: { mode: "ISTIO_MUTUAL", sni: host } });
      const fromGateway = spec.http.filter((r) => r.match.some((m) => m.gateways.includes(gwRef) && m.authority.exact === host));
      expect(fromGateway, host).toHaveLength(1);
      expect(fromGateway[0]!.route).toEqual([{ destination: { host, port: { number: 443 } } }]);
    }
    expect(spec.http).toHaveLength(apiHosts.length * 2);
  });

  it("originates TLS at the gateway to each host (SIMPLE, SNI and SAN the host, the system CA bundle)", () => {
    for (const host of apiHosts) {
      const dr = ofKind("DestinationRule").filter((d) => (d.spec as { host: string }).host === host);
      expect(dr, host).toHaveLength(1);
      const spec = dr[0]!.spec as { exportTo: string[]; trafficPolicy: { portLevelSettings: { port: { number: number }; tls: Obj }[] } };
      expect(nsOf(dr[0]!)).toBe(nsOf(gateway.object));
      expect(spec.exportTo).toEqual(["."]);
      expect(spec.trafficPolicy.portLevelSettings).toEqual([
        { port: { number: 443 }, tls: { mode: "SIMPLE", caCertificates: CA_BUNDLE, sni: host, subjectAltNames: [host] } },
      ]);
    }
  });

  it("sends the egress gateway's requests for those hosts to scopegate (CUSTOM policy on the gateway pods, with rules)", () => {
    const custom = ofKind("AuthorizationPolicy").filter((p) => (p.spec as { action: string }).action === "CUSTOM");
    expect(custom).toHaveLength(1);
    const spec = custom[0]!.spec as { selector: { matchLabels: Record<string, string> }; provider: { name: string }; rules: { to: { operation: { hosts: string[] } }[] }[] };
    expect(nsOf(custom[0]!)).toBe(nsOf(gateway.object));
    expect(matches(spec.selector.matchLabels, gateway.labels)).toBe(true);
    expect(spec.provider.name).toBe(providers[0]!.name);
    // A CUSTOM policy without rules never matches, so ext_authz would never run.
    expect(spec.rules.length).toBeGreaterThan(0);
    expect([...spec.rules[0]!.to[0]!.operation.hosts].sort()).toEqual([...apiHosts].sort());
  });
});
