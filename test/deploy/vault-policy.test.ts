/**
 * deploy/kubernetes/vault/ against a real OpenBao dev server (Vault API and CLI compatible):
 * setup.sh runs (twice for one namespace: idempotent; then for a second namespace: additive, the first
 * stays bound; --unbind removes one), writes role `scopegate` bound to the service account with the
 * audience the manifests project the token for, works from a machine with no KUBERNETES_* variables,
 * and policy `scopegate-tenants` lets a token read tenant records under secret/scopegate/tenants/ and
 * nothing else (no list). scopegate's own Vault adapter then reads a tenant with that token, using the
 * config shipped in the sidecar ConfigMap.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { buildSecretStore } from "../../src/app.js";
import { kustomizeBuild } from "../support/kustomize.js";
import { parseConfig } from "../../src/config/index.js";
import { baoRequest, createToken, kvPut, startOpenBao, type OpenBao } from "../support/openbao.js";
import { repoRoot, toolPath } from "../support/tools.js";

const execFileAsync = promisify(execFile);
const VAULT_DIR = join(repoRoot, "deploy/kubernetes/vault");

/**
 * A CA certificate for `auth/kubernetes/config` (Vault only stores it: no API server is contacted unless
 * someone logs in). Self-signed, EC P-256, valid until 2126; the private key was discarded.
 */
const TEST_KUBERNETES_CA = `-----BEGIN CERTIFICATE-----
MIIBpTCCAUugAwIBAgIUJ7Bfjyh8MvcKonhHaMUTU4Yp9i8wCgYIKoZIzj0EAwIw
JzElMCMGA1UEAwwcc2NvcGVnYXRlLXRlc3Qta3ViZXJuZXRlcy1jYTAgFw0yNjEx
MjUxNjMxNDFaGA8yMTI2MTEwMTE2MzE0MVowJzElMCMGA1UEAwwcc2NvcGVnYXRl
LXRlc3Qta3ViZXJuZXRlcy1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABPd3
+07MC6S2nTDJLN6IJ1vi/avC5VhEZwfjbbxQdUSLfbz+8NNGw2MiCiko4rFxrgOY
lMfIvmD08cFpKe1FcYmjUzBRMB0GA1UdDgQWBBQNLVDIoFpOMxvFityLzHEiiNDI
7jAfBgNVHSMEGDAWgBQNLVDIoFpOMxvFityLzHEiiNDI7jAPBgNVHRMBAf8EBTAD
AQH/MAoGCCqGSM49BAMCA0gAMEUCIFfFOHz1m1/zSQkDdR3b93ALnV6lTylF6Ebm
grsH9ibUAiEAhNuziD3MxwNb4BB/2BfhRIcbzJHOKZYk9Rt3/Jvs3eI=
-----END CERTIFICATE-----
`;

let bao: OpenBao;
let work = "";
let setupOutput = "";
let tenantToken = "";

/** Status of a raw Vault API call made with `token` (LIST as the HTTP method, as the CLI does). */
async function statusOf(method: string, path: string, token: string, body?: unknown): Promise<number> {
  const res = await fetch(`${bao.address}/v1/${path}`, {
    method,
    headers: { "x-vault-token": token, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  await res.body?.cancel();
  return res.status;
}

interface SetupRun {
  code: number;
  output: string;
}

/**
 * Runs setup.sh as an operator's workstation would: no KUBERNETES_SERVICE_HOST / KUBERNETES_HOST in the
 * environment (only what `env` adds), Vault address and admin token as BAO_ADDR / BAO_TOKEN.
 */
async function setup(args: string[], env: Record<string, string> = {}): Promise<SetupRun> {
  try {
    const { stdout, stderr } = await execFileAsync("/bin/sh", [join(VAULT_DIR, "setup.sh"), ...args], {
      cwd: work,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: work,
        VAULT_CLI: toolPath("bao"),
        BAO_ADDR: bao.address,
        BAO_TOKEN: bao.rootToken,
        ...env,
      },
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: (e.stdout ?? "") + (e.stderr ?? "") };
  }
}

async function setupOk(args: string[], env: Record<string, string> = {}): Promise<string> {
  const run = await setup(args, env);
  if (run.code !== 0) throw new Error(`setup.sh ${args.join(" ")} exited ${run.code}:\n${run.output}`);
  return run.output;
}

let caFile = "";
type Role = { bound_service_account_names: string[]; bound_service_account_namespaces: string[]; audience: string } & Record<string, unknown>;
/** Role `scopegate` of an auth mount; undefined when it does not exist (HTTP 404). */
async function readRole(authPath = "kubernetes"): Promise<Role | undefined> {
  try {
    return (await baoRequest<{ data: Role }>(bao.address, bao.rootToken, "GET", `auth/${authPath}/role/scopegate`))?.data;
  } catch (err) {
    if (/HTTP 404/.test((err as Error).message)) return undefined;
    throw err;
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "scopegate-vault-setup-"));
  caFile = join(work, "k8s-ca.crt");
  await writeFile(caFile, TEST_KUBERNETES_CA);
  bao = await startOpenBao();
  // The documented outside-cluster call, with the variables of the previous version of the script...
  const outside = { NAMESPACE: "acme", KUBERNETES_HOST: "https://127.0.0.1:6443", KUBERNETES_CA_CERT: caFile };
  setupOutput = await setupOk([], outside);
  setupOutput += await setupOk([], outside);
  // ...and a second namespace with flags: it must not unbind the first.
  setupOutput += await setupOk(["--namespace", "globex", "--vault-outside-cluster", "--kubernetes-host", "https://127.0.0.1:6443", "--kubernetes-ca-cert", caFile]);
  await kvPut(bao.address, bao.rootToken, "secret", "scopegate/tenants/acme", {
    client_id: "acme-client",
    client_secret: "acme-secret-value",
    divisions: "5d3a0b6e-8c1f-4b2a-9e7d-1f2c3b4a5d6e,8a9b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    environment: "mypurecloud.de",
  });
  await kvPut(bao.address, bao.rootToken, "secret", "other-app/config", { password: "not-for-scopegate" });
  tenantToken = await createToken(bao.address, bao.rootToken, { policies: ["scopegate-tenants"] });
}, 60_000);

afterAll(async () => {
  await bao?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("deploy/kubernetes/vault/setup.sh", () => {
  it("runs three times without error and reports the role", () => {
    expect(setupOutput.match(/role auth\/kubernetes\/role\/scopegate -> policy scopegate-tenants/g)).toHaveLength(3);
  });

  it("binds role scopegate to service account scopegate in every namespace it was run for, with the tenant policy", async () => {
    expect(await readRole()).toMatchObject({
      bound_service_account_names: ["scopegate"],
      bound_service_account_namespaces: ["acme", "globex"],
      token_policies: ["scopegate-tenants"],
      token_ttl: 3600,
      token_max_ttl: 14400,
    });
  });

  it("configures the outside-cluster mode: the given API server and CA, reviews with the caller's JWT", async () => {
    const res = await baoRequest<{ data: Record<string, unknown> }>(bao.address, bao.rootToken, "GET", "auth/kubernetes/config");
    expect(res!.data).toMatchObject({ kubernetes_host: "https://127.0.0.1:6443", disable_local_ca_jwt: true });
    expect(String(res!.data.kubernetes_ca_cert).trim()).toBe(TEST_KUBERNETES_CA.trim());
  });

  it("requires the audience every layout projects scopegate's Vault token for", async () => {
    const role = await readRole();
    expect(role!.audience).toBe("vault");
    let checked = 0;
    const layouts = ["deploy/kubernetes/base", "deploy/kubernetes/overlays/shared-gateway", "deploy/istio/egress-gateway"];
    for (const layout of layouts) {
      for (const doc of kustomizeBuild(join(repoRoot, layout))) {
        const volumes = (doc as { spec?: { template?: { spec?: { volumes?: { name: string; projected?: { sources: { serviceAccountToken?: { audience?: string } }[] } }[] } } } })
          .spec?.template?.spec?.volumes ?? [];
        for (const v of volumes.filter((x) => x.name === "vault-token")) {
          expect(v.projected!.sources[0]!.serviceAccountToken?.audience, layout).toBe(role!.audience);
          checked++;
        }
      }
    }
    expect(checked).toBe(layouts.length);
  });

  it("works from a workstation (no KUBERNETES_* variables) for a Vault inside the cluster: the API server as Vault sees it", async () => {
    // Own auth mount, so this case does not touch the role the other tests read.
    const out = await setupOk(["--namespace", "acme", "--auth-path", "k8s-ws", "--vault-in-cluster", "--kubernetes-ca-cert", caFile]);
    expect(out).toContain("namespace(s) acme");
    const res = await baoRequest<{ data: Record<string, unknown> }>(bao.address, bao.rootToken, "GET", "auth/k8s-ws/config");
    // Vault's own pod CA/JWT cannot exist here (OpenBao is not in a pod), hence the CA file; the reviewer JWT stays Vault's.
    expect(res!.data).toMatchObject({ kubernetes_host: "https://kubernetes.default.svc:443", disable_local_ca_jwt: false });
    expect((await readRole("k8s-ws"))?.bound_service_account_namespaces).toEqual(["acme"]);
  });

  it("refuses the outside-cluster mode without an API server URL, and writes nothing", async () => {
    const run = await setup(["--namespace", "acme", "--auth-path", "k8s-missing", "--vault-outside-cluster", "--kubernetes-ca-cert", caFile]);
    expect(run.code).toBe(2);
    expect(run.output).toContain("give --kubernetes-host");
    const auths = await baoRequest<{ data: Record<string, unknown> }>(bao.address, bao.rootToken, "GET", "sys/auth");
    expect(Object.keys(auths!.data)).not.toContain("k8s-missing/");
  });

  it("refuses a namespace that is not a Kubernetes name (it would corrupt the bound list)", async () => {
    const run = await setup(["--namespace", "acme,kube-system", "--auth-path", "k8s-bad", "--vault-outside-cluster", "--kubernetes-host", "https://127.0.0.1:6443", "--kubernetes-ca-cert", caFile]);
    expect(run.code).toBe(2);
    expect(run.output).toContain("is not a Kubernetes namespace name");
  });

  it("--unbind removes one namespace and keeps the others; the last one deletes the role", async () => {
    const flags = ["--auth-path", "k8s-unbind", "--vault-outside-cluster", "--kubernetes-host", "https://127.0.0.1:6443", "--kubernetes-ca-cert", caFile];
    await setupOk(["--namespace", "one", ...flags]);
    await setupOk(["--namespace", "two", ...flags]);
    expect((await readRole("k8s-unbind"))?.bound_service_account_namespaces).toEqual(["one", "two"]);
    expect(await setupOk(["--namespace", "one", "--unbind", ...flags])).toContain("keeps namespace(s) two");
    const role = await readRole("k8s-unbind");
    expect(role).toMatchObject({ bound_service_account_namespaces: ["two"], audience: "vault", token_policies: ["scopegate-tenants"] });
    expect(await setupOk(["--namespace", "one", "--unbind", ...flags])).toContain("not bound");
    expect(await setupOk(["--namespace", "two", "--unbind", ...flags])).toContain("role auth/k8s-unbind/role/scopegate deleted");
    expect(await readRole("k8s-unbind")).toBeUndefined();
  });

  it("binds the service account the manifests use and the role the scopegate config names", () => {
    const sa = parseYaml(readFileSync(join(repoRoot, "deploy/kubernetes/base/serviceaccount.yaml"), "utf8")) as { metadata: { name: string } };
    expect(sa.metadata.name).toBe("scopegate");
    const cm = parseAllDocuments(readFileSync(join(repoRoot, "deploy/kubernetes/base/configmap-scopegate.yaml"), "utf8"))[0]!.toJS() as {
      data: Record<string, string>;
    };
    const config = parseConfig(parseYaml(cm.data["config.yaml"]!));
    expect(config.secrets.vault?.auth).toMatchObject({ method: "kubernetes", role: "scopegate", mountPath: "kubernetes" });
  });

  it("uploads the policy file unchanged", async () => {
    const res = await baoRequest<{ data: { policy: string } }>(bao.address, bao.rootToken, "GET", "sys/policies/acl/scopegate-tenants");
    expect(res!.data.policy.trim()).toBe(readFileSync(join(VAULT_DIR, "scopegate-policy.hcl"), "utf8").trim());
  });
});

describe("policy scopegate-tenants", () => {
  it("reads a tenant record", async () => {
    const res = await baoRequest<{ data: { data: Record<string, string> } }>(
      bao.address,
      tenantToken,
      "GET",
      "secret/data/scopegate/tenants/acme",
    );
    expect(res!.data.data.client_id).toBe("acme-client");
  });

  it.each([
    ["GET", "secret/data/other-app/config"],
    ["LIST", "secret/metadata/other-app"],
    // Nothing lists tenant ids (scopegate reads a tenant's record when a request names it).
    ["LIST", "secret/metadata/scopegate/tenants"],
    ["LIST", "secret/metadata/scopegate/tenants/"],
    ["GET", "secret/metadata/scopegate/tenants/acme"],
    ["POST", "secret/data/scopegate/tenants/acme"],
    ["POST", "secret/data/scopegate/tenants/new-tenant"],
    ["DELETE", "secret/data/scopegate/tenants/acme"],
    ["DELETE", "secret/metadata/scopegate/tenants/acme"],
    ["POST", "secret/destroy/scopegate/tenants/acme"],
    ["GET", "sys/policies/acl/scopegate-tenants"],
  ])("denies %s %s", async (method, path) => {
    const body = method === "POST" ? { data: { client_id: "x" }, versions: [1] } : undefined;
    expect(await statusOf(method, path, tenantToken, body)).toBe(403);
  });

  it("is enough for scopegate's Vault adapter with the shipped sidecar config", async () => {
    const cm = parseAllDocuments(readFileSync(join(repoRoot, "deploy/kubernetes/base/configmap-scopegate.yaml"), "utf8"))[0]!.toJS() as {
      data: Record<string, string>;
    };
    const doc = parseYaml(cm.data["config.yaml"]!) as { secrets: { vault: Record<string, unknown> } };
    // Same config, except: this Vault's address, and a token login instead of Kubernetes auth (no API server here).
    const tokenFile = join(work, "vault-token");
    await writeFile(tokenFile, tenantToken);
    doc.secrets.vault.address = bao.address;
    doc.secrets.vault.auth = { method: "token", token: { file: tokenFile } };
    const config = parseConfig(doc);
    const { store, vault } = await buildSecretStore({ config, logger: pino({ level: "silent" }), env: {} });
    try {
      const result = await store.read("acme", AbortSignal.timeout(10_000));
      expect(result.kind).toBe("found");
      if (result.kind === "found") {
        expect(result.record.divisions).toEqual(["5d3a0b6e-8c1f-4b2a-9e7d-1f2c3b4a5d6e", "8a9b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"]);
        expect(result.record.environment).toBe("mypurecloud.de");
      }
    } finally {
      vault?.close();
    }
  });
});
