/**
 * Offline checks of everything an operator applies (issue 6), without a cluster or Docker:
 *   - every YAML file under deploy/ parses (all documents);
 *   - every Kubernetes and Istio object validates against its OpenAPI schema (kubernetes-models,
 *     @kubernetes-models/istio), both as written and as the real kustomize (.tools/bin/kustomize, pinned
 *     in scripts/install-tools.sh) renders each layout; no image is left as a placeholder, and
 *     cross-references inside a rendered layout resolve;
 *   - scopegate's embedded config passes the config schema (parseConfigText) and `scopegate check-config`;
 *   - every Envoy config (deploy/envoy/*.yaml and those embedded in ConfigMaps) passes the real
 *     `envoy --mode validate`;
 *   - the pod's network surface, read from the configs the containers mount: the kubelet's gRPC probes
 *     target the health-only listener (listen.healthTcp) on the pod IP, never Check; Check is off the pod
 *     IP in the sidecar layout; container ports and NetworkPolicies match what is bound to the pod IP.
 *     That the health-only listener answers grpc.health.v1 and not Check is tested on the real process
 *     in test/integration/lifecycle.test.ts.
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

beforeAll(async () => {
  envoyBin = toolPath("envoy");
  scratch = await mkdtemp(join(tmpdir(), "scopegate-deploy-test-"));
});

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
  await writeFile(file, text);
  return envoyValidate(file);
}

type EnvoyCluster = { name: string; type?: string; load_assignment: { endpoints: { lb_endpoints: { endpoint: { address: Obj } }[] }[] } } & Obj;

function clusterOf(config: Obj, name: string): EnvoyCluster {
  const clusters = (config.static_resources as { clusters: EnvoyCluster[] }).clusters;
  const found = clusters.find((c) => c.name === name);
  if (!found) throw new Error(`no cluster ${name}`);
  return found;
}

function endpointAddress(cluster: EnvoyCluster): Obj {
  const eps = cluster.load_assignment.endpoints.flatMap((e) => e.lb_endpoints);
  expect(eps).toHaveLength(1);
  return eps[0]!.endpoint.address;
}

/** The settings every shipped Envoy config must have (reference envoy-ext-authz.md §3, §2.5, §6). */
function assertEnvoyShape(config: Obj): void {
  const admin = config.admin as { address: { socket_address: { address: string; port_value: number } } };
  expect(admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 9901 });
  const listeners = (config.static_resources as { listeners: Obj[] }).listeners;
  const publicListener = listeners.find((l) => l.name === "public");
  expect(publicListener, "listener `public`").toBeDefined();
  expect(publicListener!.address).toEqual({ socket_address: { address: "0.0.0.0", port_value: 8080 } });

  const hcm = (publicListener!.filter_chains as { filters: { typed_config: Obj }[] }[])[0]!.filters[0]!.typed_config;
  expect(hcm.generate_request_id).not.toBe(false);
  const filters = hcm.http_filters as { name: string; typed_config: Obj }[];
  expect(filters.map((f) => f.name)).toEqual(["envoy.filters.http.ext_authz", "envoy.filters.http.router"]);
  const extAuthz = filters[0]!.typed_config;
  expect(extAuthz).toMatchObject({
    transport_api_version: "V3",
    failure_mode_allow: false,
    status_on_error: { code: "ServiceUnavailable" },
    grpc_service: { envoy_grpc: { cluster_name: "authz" }, timeout: "1s" },
  });
  expect(extAuthz.clear_route_cache ?? false).toBe(false);

  const routes = (hcm.route_config as { virtual_hosts: { routes: Obj[] }[] }).virtual_hosts.flatMap((v) => v.routes);
  const perRoute = (r: Obj): Obj =>
    ((r.typed_per_filter_config as Obj | undefined)?.["envoy.filters.http.ext_authz"] as Obj | undefined) ?? {};
  const healthz = routes.find((r) => (r.match as Obj).path === "/healthz" || (r.match as Obj).prefix === "/healthz");
  expect(healthz, "/healthz route").toBeDefined();
  expect(perRoute(healthz!).disabled).toBe(true);
  const catchAll = routes.find((r) => (r.match as Obj).prefix === "/");
  expect(catchAll, "catch-all route").toBeDefined();
  expect(routes.indexOf(catchAll!)).toBe(routes.length - 1);
  expect(Object.keys((perRoute(catchAll!).check_settings as Obj).context_extensions as Obj).length).toBeGreaterThan(0);
  for (const r of routes) expect((r.route as Obj).cluster).toBe("app");

  const authz = clusterOf(config, "authz");
  expect(authz.typed_extension_protocol_options).toMatchObject({
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": { explicit_http_config: { http2_protocol_options: {} } },
  });
  const app = clusterOf(config, "app");
  expect(app.type).toBe("STATIC");
  expect(endpointAddress(app)).toEqual({ socket_address: { address: "127.0.0.1", port_value: 8000 } });
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

/** The Envoy config a container runs with (`-c`, a mounted ConfigMap key). */
function envoyConfigOf(objects: K8sObject[], w: Workload, c: IContainer): Obj {
  const file = configMapFileAt(w, c, c.args![c.args!.indexOf("-c") + 1]!);
  expect(file, `${c.name}: -c is a mounted ConfigMap key`).toBeDefined();
  return parseYaml(configMap(objects, file![0])[file![1]]!) as Obj;
}

// ---------------------------------------------------------------------------------------------
// The pod's network surface: every TCP listener its containers' configs bind, and what the
// NetworkPolicies admit. The app container is a placeholder (127.0.0.1:8000 by convention) and not modelled.

type Serves = "check" | "health" | "http" | "envoy" | "envoy-admin";
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
  for (const c of w.pod.containers) {
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
      const config = envoyConfigOf(objects, w, c);
      type SocketAddress = { socket_address: { address: string; port_value: number } };
      const admin = (config.admin as { address: SocketAddress }).address.socket_address;
      out.push({ container: c.name, host: admin.address, port: admin.port_value, serves: "envoy-admin" });
      for (const l of (config.static_resources as { listeners: { address: SocketAddress }[] }).listeners) {
        const { address, port_value } = l.address.socket_address;
        out.push({ container: c.name, host: address, port: port_value, serves: "envoy" });
      }
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
    w.pod.containers.flatMap((c) => (c.ports ?? []).filter((p) => p.name).map((p) => [p.name!, p.containerPort] as const)),
  );
  const out: Admission[] = [];
  for (const np of objects.filter((o) => o.kind === "NetworkPolicy")) {
    const spec = np.spec as {
      podSelector: { matchLabels?: Record<string, string> };
      ingress?: { from?: Obj[]; ports?: { port?: number | string }[] }[];
    };
    if (!matches(spec.podSelector.matchLabels, w.labels)) continue;
    for (const rule of spec.ingress ?? []) {
      const ports = rule.ports ?? [{}];
      for (const p of ports) {
        const port = typeof p.port === "string" ? named.get(p.port) : p.port;
        out.push({ policy: np.metadata.name, port, from: rule.from });
      }
    }
  }
  return out;
}

function volumeAt(w: Workload, container: IContainer, dir: string): { name: string; kind: string } | undefined {
  const m = (container.volumeMounts ?? []).find((x) => dir === x.mountPath || dir.startsWith(`${x.mountPath}/`));
  const vol = m && (w.pod.volumes ?? []).find((v) => v.name === m.name);
  if (!vol) return undefined;
  const kind = Object.keys(vol).find((k) => k !== "name")!;
  return { name: vol.name, kind };
}

function assertRestricted(w: Workload, c: IContainer): void {
  const where = `${w.object.metadata.name}/${c.name}`;
  const pod = w.pod.securityContext ?? {};
  const sc = c.securityContext ?? {};
  expect(sc.runAsNonRoot ?? pod.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
  expect(sc.runAsUser ?? pod.runAsUser, `${where} runAsUser`).toBe(65532);
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

// ---------------------------------------------------------------------------------------------

describe("deploy/ YAML", () => {
  it("finds the files it is meant to check", () => {
    const names = yamlFiles.map(rel);
    for (const expected of [
      "deploy/envoy/envoy-tcp.yaml",
      "deploy/envoy/envoy-uds.yaml",
      "deploy/kubernetes/base/kustomization.yaml",
      "deploy/kubernetes/overlays/shared-service/kustomization.yaml",
      "deploy/istio/mesh-config.yaml",
      "deploy/istio/authorizationpolicy.yaml",
      "deploy/istio/serviceentry-local.yaml",
    ]) {
      expect(names).toContain(expected);
    }
  });

  it.each(yamlFiles.map((f) => [rel(f), f]))("%s parses (every document)", (_name, file) => {
    expect(loadDocs(file).length).toBeGreaterThan(0);
  });

  const patchFiles = new Set(
    walk(join(DEPLOY, "kubernetes"))
      .filter((f) => basename(f) === "kustomization.yaml")
      .flatMap((k) => {
        const kz = readKustomization(dirname(k));
        // Patches are partial objects; configMapGenerator sources are data, not objects.
        const generated = (kz.configMapGenerator ?? []).flatMap((g) => (g.files ?? []).map((f) => f.replace(/^[^=]*=/, "")));
        return [...(kz.patches ?? []).map((p) => p.path ?? ""), ...generated].map((f) => resolve(dirname(k), f));
      }),
  );
  const standalone = yamlFiles.filter(
    (f) => !patchFiles.has(f) && !f.startsWith(join(DEPLOY, "envoy")) && basename(f) !== "kustomization.yaml",
  );

  it.each(standalone.map((f) => [rel(f), f]))("%s: Kubernetes/Istio objects validate against their schemas", async (_n, file) => {
    const objects = loadDocs(file).filter(isK8sObject).filter((o) => !isKustomization(o));
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) await validateObject(o, rel(file));
  });
});

describe("deploy/envoy", () => {
  const envoyFiles = yamlFiles.filter((f) => f.startsWith(join(DEPLOY, "envoy")));

  it.each(envoyFiles.map((f) => [rel(f), f]))("%s has the required ext_authz settings", (_n, file) => {
    assertEnvoyShape(parseYaml(readFileSync(file, "utf8")) as Obj);
  });

  it.each(envoyFiles.map((f) => [rel(f), f]))("%s passes envoy --mode validate", async (_n, file) => {
    expect(await envoyValidate(file)).toMatch(/configuration '.*' OK/);
  });

  it("TCP variant reaches scopegate at 127.0.0.1:9191, UDS variant at /run/scopegate/authz.sock", () => {
    const tcp = parseYaml(readFileSync(join(DEPLOY, "envoy/envoy-tcp.yaml"), "utf8")) as Obj;
    const uds = parseYaml(readFileSync(join(DEPLOY, "envoy/envoy-uds.yaml"), "utf8")) as Obj;
    expect(endpointAddress(clusterOf(tcp, "authz"))).toEqual({ socket_address: { address: "127.0.0.1", port_value: 9191 } });
    expect(endpointAddress(clusterOf(uds, "authz"))).toEqual({ pipe: { path: "/run/scopegate/authz.sock" } });
    // Apart from that endpoint the two files are the same configuration.
    clusterOf(uds, "authz").load_assignment = clusterOf(tcp, "authz").load_assignment;
    expect(uds).toEqual(tcp);
  });

  it("the UDS variant validates although the socket does not exist", async () => {
    // Envoy connects to the socket lazily, per request; validation must not need scopegate running.
    expect(existsSync("/run/scopegate/authz.sock")).toBe(false);
    expect(await envoyValidate(join(DEPLOY, "envoy/envoy-uds.yaml"))).toMatch(/OK/);
  });

  it("a broken config is rejected (the validation is not a no-op)", async () => {
    const text = readFileSync(join(DEPLOY, "envoy/envoy-tcp.yaml"), "utf8").replace(/^(\s+)failure_mode_allow:/m, "$1failure_mode_alow:");
    expect(text).toContain("failure_mode_alow:");
    await expect(envoyValidateText(text, "broken.yaml")).rejects.toThrow(/failure_mode_alow/);
  });
});

/**
 * `listen` and `http.listen` each layout's scopegate runs with. Check: loopback + unix socket in the sidecar
 * layout (nothing outside the pod may call it), all interfaces behind the Service in the shared one. Health
 * (probes) and HTTP (/metrics) on all interfaces in both: the kubelet and Prometheus dial the pod IP.
 */
const layouts = [
  {
    name: "base (sidecar)",
    dir: join(DEPLOY, "kubernetes/base"),
    listeners: { tcp: "127.0.0.1:9191", unixSocket: "/run/scopegate/authz.sock", healthTcp: "0.0.0.0:9193", http: "0.0.0.0:9192" },
  },
  {
    name: "overlays/shared-service",
    dir: join(DEPLOY, "kubernetes/overlays/shared-service"),
    listeners: { tcp: "0.0.0.0:9191", unixSocket: undefined, healthTcp: "0.0.0.0:9193", http: "0.0.0.0:9192" },
  },
] as const;

describe.each(layouts)("kustomize layout $name", ({ dir }) => {
  it("renders with kustomize to objects that validate against their schemas", async () => {
    const objects = render(dir);
    expect(objects.length).toBeGreaterThan(0);
    const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(keys).size, `duplicates in ${keys.join(", ")}`).toBe(keys.length);
    for (const o of objects) {
      assertNoDirectives(o, `${o.kind}/${o.metadata.name}`);
      await validateObject(o, rel(dir));
    }
  });

  it("rewrites every image to a registry reference with a tag or digest (no placeholder left)", () => {
    for (const w of workloadsOf(render(dir))) {
      for (const c of [...(w.pod.initContainers ?? []), ...w.pod.containers]) {
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
      for (const c of w.pod.containers) {
        for (const m of c.volumeMounts ?? []) {
          expect(volumes.has(m.name), `${name}/${c.name} mounts undefined volume ${m.name}`).toBe(true);
          used.add(m.name);
        }
        const ports = new Set((c.ports ?? []).map((p) => p.containerPort));
        for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
          const port = probe?.grpc?.port ?? probe?.tcpSocket?.port;
          if (typeof port === "number") expect(ports.has(port), `${name}/${c.name} probe port ${port}`).toBe(true);
        }
      }
      expect([...volumes].filter((v) => !used.has(v)), `${name}: volumes nobody mounts`).toEqual([]);
    }

    const podsMatching = (selector: Record<string, string> | undefined): Workload[] =>
      workloads.filter((w) => matches(selector, w.labels));
    for (const svc of objects.filter((o) => o.kind === "Service")) {
      const spec = svc.spec as { selector: Record<string, string>; ports: { name: string; targetPort: string | number }[] };
      const pods = podsMatching(spec.selector);
      expect(pods.length, `Service ${svc.metadata.name} selects a workload`).toBeGreaterThan(0);
      for (const p of spec.ports) {
        const named = pods[0]!.pod.containers.some((c) => (c.ports ?? []).some((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort));
        expect(named, `Service ${svc.metadata.name} targetPort ${p.targetPort}`).toBe(true);
      }
    }
    for (const o of objects.filter((x) => x.kind === "PodDisruptionBudget" || x.kind === "NetworkPolicy")) {
      const spec = o.spec as { selector?: { matchLabels: Record<string, string> }; podSelector?: { matchLabels: Record<string, string> } };
      const selector = (spec.selector ?? spec.podSelector)?.matchLabels;
      expect(podsMatching(selector).length, `${o.kind} ${o.metadata.name} selects a workload`).toBeGreaterThan(0);
    }
  });

  it("runs every container restricted: non-root 65532, read-only root, no escalation, no capabilities, RuntimeDefault seccomp, resources", () => {
    for (const w of workloadsOf(render(dir))) {
      expect(w.pod.securityContext?.runAsNonRoot).toBe(true);
      expect(w.pod.automountServiceAccountToken).toBe(false);
      for (const c of [...(w.pod.initContainers ?? []), ...w.pod.containers]) assertRestricted(w, c);
    }
  });

  it("embeds a scopegate config that the schema and `scopegate check-config` accept, wired to the pod", async () => {
    const objects = render(dir);
    const scopegates = workloadsOf(objects).flatMap((w) => w.pod.containers.filter((c) => c.name === "scopegate").map((c) => ({ w, c })));
    expect(scopegates).toHaveLength(1);
    const { w, c } = scopegates[0]!;

    const { text, source } = scopegateConfigText(objects, w, c);
    const config: Config = parseConfigText(text, source);

    expect(config.secrets.backend).toBe("vault");
    const vault = config.secrets.vault!;
    expect(vault.kvMount).toBe("secret");
    expect(vault.tenantPrefix).toBe("scopegate/tenants");
    expect(vault.auth.method).toBe("kubernetes");
    if (vault.auth.method === "kubernetes") {
      expect(vault.auth.role).toBe("scopegate");
      // The JWT file is the projected service-account token mounted into this container only.
      const vol = volumeAt(w, c, dirname(vault.auth.jwtFile));
      expect(vol?.kind, `${vault.auth.jwtFile} is on a projected volume`).toBe("projected");
      const projected = w.pod.volumes!.find((v) => v.name === vol!.name)!.projected!;
      expect(projected.sources?.[0]?.serviceAccountToken?.path).toBe(basename(vault.auth.jwtFile));
      for (const other of w.pod.containers.filter((x) => x !== c)) {
        expect((other.volumeMounts ?? []).some((m) => m.name === vol!.name), `${other.name} must not see the Vault JWT`).toBe(false);
      }
    }
    expect(config.tenants.length).toBeGreaterThan(0);
    for (const t of config.tenants) {
      expect(t.environment).toBe("mypurecloud.de");
      expect(t.divisions.length).toBeGreaterThan(0);
    }

    if (config.listen.unixSocket !== undefined) {
      // Sidecar layout: the socket lives in an emptyDir that Envoy mounts too, and Envoy dials that path.
      expect(config.listen.unixSocket).toBe("/run/scopegate/authz.sock");
      const socketDir = dirname(config.listen.unixSocket);
      expect(volumeAt(w, c, socketDir)?.kind).toBe("emptyDir");
      const envoy = w.pod.containers.find((x) => x.name === "envoy")!;
      expect(volumeAt(w, envoy, socketDir)?.name).toBe(volumeAt(w, c, socketDir)?.name);
      const authz = clusterOf(envoyConfigOf(objects, w, envoy), "authz");
      expect(endpointAddress(authz)).toEqual({ pipe: { path: config.listen.unixSocket } });
    }

    // The real CLI (dist/main.js, as the image's ENTRYPOINT runs it) accepts the same file.
    const mainJs = join(repoRoot, "dist/main.js");
    expect(existsSync(mainJs), "dist/main.js missing: run `npm run build` first").toBe(true);
    const tmp = join(scratch, `${basename(dir)}-config.yaml`);
    await writeFile(tmp, text);
    const { stdout } = await execFileAsync(process.execPath, [mainJs, "check-config", tmp], { timeout: 30_000 });
    expect(stdout).toContain("ok");
  });

  it("embeds Envoy configs that pass envoy --mode validate", async () => {
    const objects = render(dir);
    const envoys = objects.filter((o) => o.kind === "ConfigMap" && isObj(o.data) && typeof o.data["envoy.yaml"] === "string");
    expect(envoys.length).toBeGreaterThan(0);
    for (const cm of envoys) {
      const text = (cm.data as Record<string, string>)["envoy.yaml"]!;
      const config = parseYaml(text) as Obj;
      assertEnvoyShape(config);
      expect(await envoyValidateText(text, `${basename(dir)}-${cm.metadata.name}.yaml`)).toMatch(/OK/);
    }
  });
});

describe.each(layouts)("pod network surface of $name", ({ dir, listeners }) => {
  let objects: K8sObject[] = [];
  let scopegate: { w: Workload; c: IContainer };
  beforeAll(() => {
    objects = render(dir);
    const found = workloadsOf(objects).flatMap((w) => w.pod.containers.filter((c) => c.name === "scopegate").map((c) => ({ w, c })));
    expect(found).toHaveLength(1);
    scopegate = found[0]!;
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

  it("declares as container ports exactly the listeners bound to the pod IP", () => {
    const bindings = bindingsOf(objects, scopegate.w);
    for (const name of new Set(bindings.map((b) => b.container))) {
      const c = scopegate.w.pod.containers.find((x) => x.name === name)!;
      const declared = (c.ports ?? []).map((p) => p.containerPort).sort((x, y) => x - y);
      const exposed = bindings.filter((b) => b.container === name && onPodIp(b)).map((b) => b.port).sort((x, y) => x - y);
      expect(declared, `${name}: container ports vs. listeners on the pod IP`).toEqual(exposed);
    }
    const byServes = new Map(scopegateBindings().map((b) => [b.serves, b.port]));
    const names = new Map((scopegate.c.ports ?? []).map((p) => [p.containerPort, p.name]));
    expect(names.get(byServes.get("http")!)).toBe("metrics");
    if (scopegateBindings().some((b) => b.serves === "check" && onPodIp(b))) expect(names.get(byServes.get("check")!)).toBe("grpc");
  });

  it("keeps Check unreachable from other pods except those the NetworkPolicy names", () => {
    for (const w of workloadsOf(objects)) {
      const bindings = bindingsOf(objects, w);
      const admissions = admissionsOf(objects, w);
      for (const check of bindings.filter((b) => b.serves === "check" && onPodIp(b))) {
        const admitted = admissions.filter((a) => a.port === check.port || a.port === undefined);
        expect(admitted.length, `${w.object.metadata.name}: Check :${check.port} is admitted to its clients`).toBeGreaterThan(0);
        for (const a of admitted) {
          expect(a.from?.length ?? 0, `${a.policy}: Check :${check.port} admitted from everywhere`).toBeGreaterThan(0);
          for (const peer of a.from!) {
            const selector = peer.podSelector as { matchLabels?: Record<string, string> } | undefined;
            expect(selector?.matchLabels).toEqual({ "scopegate-client": "true" });
          }
        }
      }
    }
    const checks = scopegateBindings().filter((b) => b.serves === "check");
    if (listeners.unixSocket !== undefined) {
      // Sidecar layout: Envoy uses the socket; the TCP listener (Istio's scopegate.local) is loopback only.
      expect(checks.map((b) => [b.host, onPodIp(b)])).toEqual([["127.0.0.1", false]]);
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
        expect(b!.serves, `${a.policy}: port ${a.port}`).not.toBe("health");
        if (!a.from?.length) expect(["envoy", "http"], `${a.policy}: port ${a.port} open to every pod`).toContain(b!.serves);
      }
      for (const b of onIp.filter((x) => x.serves !== "health")) {
        expect(admissions.some((a) => a.port === b.port), `${name}: ${b.container} :${b.port} (${b.serves}) is admitted`).toBe(true);
      }
    }
  });
});

describe("Envoy config embedded in the layouts matches deploy/envoy", () => {
  const standalone = (name: string): Obj => parseYaml(readFileSync(join(DEPLOY, "envoy", name), "utf8")) as Obj;
  const embedded = (dir: string): Obj =>
    parseYaml(configMap(render(join(DEPLOY, "kubernetes", dir)), "scopegate-envoy")["envoy.yaml"]!) as Obj;

  it("base: same configuration as envoy-uds.yaml", () => {
    expect(embedded("base")).toEqual(standalone("envoy-uds.yaml"));
  });

  it("shared-service: envoy-tcp.yaml with the authz cluster on the headless scopegate Service", () => {
    const objects = render(join(DEPLOY, "kubernetes/overlays/shared-service"));
    const config = embedded("overlays/shared-service");
    const authz = clusterOf(config, "authz");
    expect(authz.type).toBe("STRICT_DNS");
    const address = endpointAddress(authz).socket_address as { address: string; port_value: number };
    const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === address.address);
    expect(svc, `Service ${address.address}`).toBeDefined();
    const svcSpec = svc!.spec as { clusterIP?: string; ports: { port: number; name: string; appProtocol?: string }[] };
    expect(svcSpec.clusterIP).toBe("None");
    expect(svcSpec.ports.find((p) => p.port === address.port_value)).toMatchObject({ name: "grpc", appProtocol: "grpc" });

    const expected = standalone("envoy-tcp.yaml");
    const tcpAuthz = clusterOf(expected, "authz");
    Object.assign(tcpAuthz, { type: authz.type, dns_lookup_family: authz.dns_lookup_family, load_assignment: authz.load_assignment });
    expect(config).toEqual(expected);
  });
});

describe("shared-service layout", () => {
  let objects: K8sObject[] = [];
  beforeAll(() => {
    objects = render(join(DEPLOY, "kubernetes/overlays/shared-service"));
  });

  it("runs scopegate as a 2-replica Deployment behind a grpc Service with a PodDisruptionBudget", () => {
    const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name === "scopegate");
    expect((deployment?.spec as { replicas: number }).replicas).toBe(2);
    const svc = objects.find((o) => o.kind === "Service" && o.metadata.name === "scopegate");
    expect((svc?.spec as { ports: unknown[] }).ports).toEqual([{ name: "grpc", port: 9191, targetPort: "grpc", appProtocol: "grpc" }]);
    const pdb = objects.find((o) => o.kind === "PodDisruptionBudget");
    expect((pdb?.spec as { minAvailable: number }).minAvailable).toBe(1);
    const config = parseConfigText(configMap(objects, "scopegate-config")["config.yaml"]!);
    expect(config.listen.tcp).toBe("0.0.0.0:9191");
    expect(config.listen.unixSocket).toBeUndefined();
  });

  it("routes both Services to the Check listener, never to the health or metrics port", () => {
    const w = workloadsOf(objects).find((x) => x.object.metadata.name === "scopegate")!;
    const bindings = bindingsOf(objects, w);
    const ports = w.pod.containers.flatMap((c) => c.ports ?? []);
    const services = objects.filter((o) => o.kind === "Service" && matches((o.spec as { selector: Record<string, string> }).selector, w.labels));
    expect(services.map((o) => o.metadata.name).sort()).toEqual(["scopegate", "scopegate-headless"]);
    for (const svc of services) {
      for (const p of (svc.spec as { ports: { targetPort: string | number }[] }).ports) {
        const target = ports.find((cp) => cp.name === p.targetPort || cp.containerPort === p.targetPort)!;
        const serves = bindings.find((b) => b.port === target.containerPort)?.serves;
        expect(serves, `Service ${svc.metadata.name} -> :${target.containerPort}`).toBe("check");
      }
    }
  });

  it("removes the scopegate sidecar, its socket and its Vault token from the workload", () => {
    const workload = workloadsOf(objects).find((w) => w.object.metadata.name === "workload")!;
    expect(workload.pod.containers.map((c) => c.name).sort()).toEqual(["app", "envoy"]);
    expect(workload.pod.serviceAccountName).toBe("workload");
    expect((workload.pod.volumes ?? []).map((v) => v.name)).toEqual(["envoy-config"]);
  });
});

describe("deploy/istio", () => {
  const load = (name: string): K8sObject[] => loadDocs(join(DEPLOY, "istio", name)).filter(isK8sObject);
  const mesh = load("mesh-config.yaml")[0]!;
  const providers = ((mesh.spec as Obj).meshConfig as { extensionProviders: { name: string; envoyExtAuthzGrpc: Obj }[] })
    .extensionProviders;

  it("declares gRPC ext_authz providers with an explicit timeout, fail-closed, 503 on error", () => {
    expect(providers.length).toBeGreaterThan(0);
    for (const p of providers) {
      expect(p.envoyExtAuthzGrpc).toMatchObject({ port: 9191, timeout: "1s", failOpen: false, statusOnError: "503" });
      expect(p.envoyExtAuthzGrpc.clearRouteCache ?? false).toBe(false);
    }
  });

  it("registers the in-pod sidecar as scopegate.local -> 127.0.0.1:9191, protocol GRPC", () => {
    const se = load("serviceentry-local.yaml")[0]!;
    const spec = se.spec as { hosts: string[]; endpoints: { address: string }[]; ports: Obj[]; resolution: string };
    expect(spec.hosts).toEqual(["scopegate.local"]);
    expect(spec.endpoints).toEqual([{ address: "127.0.0.1" }]);
    expect(spec.ports).toEqual([{ name: "grpc", number: 9191, protocol: "GRPC" }]);
    expect(spec.resolution).toBe("STATIC");
    const local = providers.find((p) => p.envoyExtAuthzGrpc.service === "scopegate.local");
    expect(local?.envoyExtAuthzGrpc.port).toBe(9191);
    // ...which is where the base layout's scopegate binds Check: loopback, so only the pod's own proxy reaches it.
    const base = render(join(DEPLOY, "kubernetes/base"));
    const w = workloadsOf(base).find((x) => x.pod.containers.some((c) => c.name === "scopegate"))!;
    const checks = bindingsOf(base, w).filter((b) => b.serves === "check");
    const registered = `${spec.endpoints[0]!.address}:${(spec.ports[0] as { number: number }).number}`;
    expect(checks.map((b) => `${b.host}:${b.port}`)).toEqual([registered]);
  });

  it("points the shared provider at the shared-service Service", () => {
    const shared = providers.find((p) => p.name === "scopegate-shared")!;
    const [svcName] = String(shared.envoyExtAuthzGrpc.service).split(".");
    const svc = render(join(DEPLOY, "kubernetes/overlays/shared-service")).find((o) => o.kind === "Service" && o.metadata.name === svcName);
    const port = (svc?.spec as { ports: { port: number; name: string; appProtocol: string }[] }).ports[0]!;
    expect(port).toMatchObject({ port: shared.envoyExtAuthzGrpc.port, name: "grpc", appProtocol: "grpc" });
  });

  it("has a CUSTOM AuthorizationPolicy with rules, naming a declared provider and selecting the workload", () => {
    const policy = load("authorizationpolicy.yaml")[0]!;
    const spec = policy.spec as { action: string; provider: { name: string }; rules?: unknown[]; selector: { matchLabels: Record<string, string> } };
    expect(spec.action).toBe("CUSTOM");
    expect(providers.map((p) => p.name)).toContain(spec.provider.name);
    // A CUSTOM policy without rules never matches, so ext_authz would never run.
    expect(spec.rules?.length ?? 0).toBeGreaterThan(0);
    const workload = workloadsOf(render(join(DEPLOY, "kubernetes/base"))).find((w) => w.object.metadata.name === "workload")!;
    expect(matches(spec.selector.matchLabels, workload.labels)).toBe(true);
  });
});
