/**
 * deploy/kubernetes/vault/ against a real OpenBao dev server (Vault API and CLI compatible):
 * setup.sh runs (twice: it must be idempotent), writes role `scopegate` bound to the service account,
 * and policy `scopegate-tenants` lets a token read and list tenant records under
 * secret/scopegate/tenants/ and nothing else. scopegate's own Vault adapter then reads a tenant with
 * that token, using the config shipped in the sidecar ConfigMap.
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

async function runSetup(): Promise<string> {
  const caFile = join(work, "k8s-ca.crt");
  await writeFile(caFile, TEST_KUBERNETES_CA);
  const { stdout, stderr } = await execFileAsync("/bin/sh", [join(VAULT_DIR, "setup.sh")], {
    cwd: work,
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: work,
      VAULT_CLI: toolPath("bao"),
      BAO_ADDR: bao.address,
      BAO_TOKEN: bao.rootToken,
      NAMESPACE: "acme",
      KUBERNETES_HOST: "https://127.0.0.1:6443",
      KUBERNETES_CA_CERT: caFile,
    },
  });
  return stdout + stderr;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "scopegate-vault-setup-"));
  bao = await startOpenBao();
  setupOutput = await runSetup();
  setupOutput += await runSetup();
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
  it("runs twice without error and reports the role", () => {
    expect(setupOutput.match(/role kubernetes\/role\/scopegate -> policy scopegate-tenants/g)).toHaveLength(2);
  });

  it("binds role scopegate to service account scopegate in the namespace, with the tenant policy", async () => {
    const res = await baoRequest<{ data: Record<string, unknown> }>(bao.address, bao.rootToken, "GET", "auth/kubernetes/role/scopegate");
    expect(res!.data).toMatchObject({
      bound_service_account_names: ["scopegate"],
      bound_service_account_namespaces: ["acme"],
      token_policies: ["scopegate-tenants"],
      token_ttl: 3600,
      token_max_ttl: 14400,
    });
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

  it("lists tenant ids, with and without a trailing slash", async () => {
    for (const path of ["secret/metadata/scopegate/tenants", "secret/metadata/scopegate/tenants/"]) {
      const res = await baoRequest<{ data: { keys: string[] } }>(bao.address, tenantToken, "LIST", path);
      expect(res!.data.keys, path).toEqual(["acme"]);
    }
  });

  it.each([
    ["GET", "secret/data/other-app/config"],
    ["LIST", "secret/metadata/other-app"],
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
