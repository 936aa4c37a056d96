/**
 * VaultSecretStore and VaultSession against a real OpenBao dev server: KV v2 reads, token / AppRole /
 * Kubernetes login (Kubernetes: Vault's own kubernetes auth method reviewing the pod JWT against a local
 * TokenReview stand-in), renewal, and re-login when the token is revoked.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { VaultSecretStore } from "../../src/secrets/vault-secret-store.js";
import { VaultSession } from "../../src/secrets/vault-session.js";
import { LogCapture } from "../support/log-capture.js";
import {
  TENANT_READ_POLICY,
  baoRequest,
  createToken,
  enableAppRole,
  kvPut,
  revokeToken,
  startOpenBao,
  writePolicy,
  type OpenBao,
} from "../support/openbao.js";
import { startTokenReviewStandin, type TokenReviewStandin } from "../support/tokenreview-standin.js";

let bao: OpenBao;
let k8s: TokenReviewStandin;
let dir: string;
const logs = new LogCapture();
const logger = createLogger("debug", logs);
const never = new AbortController().signal;

beforeAll(async () => {
  bao = await startOpenBao();
  k8s = await startTokenReviewStandin();
  dir = await mkdtemp(join(tmpdir(), "scopegate-vault-"));
  await writePolicy(bao.address, bao.rootToken, "scopegate", TENANT_READ_POLICY);
  await kvPut(bao.address, bao.rootToken, "secret", "scopegate/tenants/acme", {
    client_id: "acme-client",
    client_secret: "acme-VAULT-SECRET",
    divisions: "d-1, d-2",
    environment: "mypurecloud.de",
  });
});
afterAll(async () => {
  await bao?.stop();
  await k8s?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function selfSignedCaPem(where: string): string {
  const key = join(where, "ca.key");
  const crt = join(where, "ca.crt");
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1", "-subj", "/CN=test-ca"], { stdio: "ignore" });
  return readFileSync(crt, "utf8");
}

function vaultConfig(auth: Record<string, unknown>) {
  return parseConfig({
    secrets: { backend: "vault", vault: { address: bao.address, auth } },
    discovery: { fromSecretStore: true },
  }).secrets.vault!;
}

/** Logins and renewals a session reported (its onLogin / onRenewal hooks). */
function counting() {
  const counts = { logins: 0, renewals: 0 };
  return { counts, hooks: { onLogin: () => void counts.logins++, onRenewal: () => void counts.renewals++ } };
}

function storeFor(auth: Record<string, unknown>, env: Record<string, string> = {}) {
  const { counts, hooks } = counting();
  const session = new VaultSession({
    config: vaultConfig(auth),
    logger,
    readSecret: async (ref) => {
      if (ref.env) return env[ref.env] ?? "";
      throw new Error("file refs not used here");
    },
    ...hooks,
  });
  return { session, counts, store: new VaultSecretStore(session, "secret", "scopegate/tenants", logger) };
}

describe("VaultSecretStore (KV v2)", () => {
  it("reads a tenant record with token auth, and answers not_found for a missing one", async () => {
    const token = await createToken(bao.address, bao.rootToken, { policies: ["scopegate"], ttl: "1h" });
    const { session, store } = storeFor({ method: "token", token: { env: "T" } }, { T: token });
    const found = await store.read("acme", never);
    expect(found.kind).toBe("found");
    if (found.kind !== "found") return;
    expect(found.record.credentials.clientId).toBe("acme-client");
    expect(found.record.credentials.basicAuthorization()).toBe(`Basic ${Buffer.from("acme-client:acme-VAULT-SECRET").toString("base64")}`);
    expect(found.record.divisions).toEqual(["d-1", "d-2"]);
    expect(found.record.environment).toBe("mypurecloud.de");
    expect(found.record.version).toBe("1");
    expect(await store.read("nobody", never)).toEqual({ kind: "not_found" });
    expect(await store.read("../sys", never)).toEqual({ kind: "not_found" });
    session.close();
  });

  it("reports unavailable (not not_found) when the token has no access", async () => {
    const token = await createToken(bao.address, bao.rootToken, { policies: ["default"], ttl: "1h", noDefaultPolicy: false });
    const { session, store } = storeFor({ method: "token", token: { env: "T" } }, { T: token });
    const r = await store.read("acme", never);
    expect(r.kind).toBe("unavailable");
    session.close();
  });

  it("logs in with AppRole", async () => {
    const role = await enableAppRole(bao.address, bao.rootToken, { policyName: "scopegate", policyHcl: TENANT_READ_POLICY });
    const secretFile = join(dir, "secret-id");
    await writeFile(secretFile, role.secretId);
    const { counts, hooks } = counting();
    const session = new VaultSession({
      config: vaultConfig({ method: "approle", roleId: role.roleId, secretId: { file: secretFile } }),
      logger,
      readSecret: async (ref) => (await import("node:fs/promises")).readFile(ref.file!, "utf8"),
      ...hooks,
    });
    const store = new VaultSecretStore(session, "secret", "scopegate/tenants", logger);
    expect((await store.read("acme", never)).kind).toBe("found");
    expect(counts.logins).toBe(1);
    session.close();
  });

  it("logs in with Kubernetes auth: Vault reviews the pod's service-account JWT", async () => {
    await baoRequest(bao.address, bao.rootToken, "POST", "sys/auth/kubernetes", { type: "kubernetes" });
    await baoRequest(bao.address, bao.rootToken, "POST", "auth/kubernetes/config", {
      kubernetes_host: k8s.url,
      token_reviewer_jwt: k8s.reviewerJwt,
      // Required by the config API; only used for an https kubernetes_host, which this stand-in is not.
      kubernetes_ca_cert: selfSignedCaPem(dir),
      disable_local_ca_jwt: true,
    });
    await baoRequest(bao.address, bao.rootToken, "POST", "auth/kubernetes/role/scopegate", {
      bound_service_account_names: ["scopegate"],
      bound_service_account_namespaces: ["acme"],
      token_policies: ["scopegate"],
      token_ttl: "1h",
    });
    const jwtFile = join(dir, "sa-token");
    await writeFile(jwtFile, k8s.mintServiceAccountJwt("acme", "scopegate"));
    const session = new VaultSession({
      config: vaultConfig({ method: "kubernetes", role: "scopegate", jwtFile }),
      logger,
      readSecret: async () => "",
    });
    const store = new VaultSecretStore(session, "secret", "scopegate/tenants", logger);
    expect((await store.read("acme", never)).kind).toBe("found");
    expect(k8s.reviews.filter((r) => r.authenticated)).toHaveLength(1);
    session.close();

    // A JWT the cluster never issued is refused by the review, so the read cannot happen.
    const forged = join(dir, "forged");
    const parts = k8s.mintServiceAccountJwt("acme", "scopegate").split(".");
    await writeFile(forged, `${parts[0]}.${parts[1]}.${"x".repeat(43)}`);
    const bad = new VaultSession({ config: vaultConfig({ method: "kubernetes", role: "scopegate", jwtFile: forged }), logger, readSecret: async () => "" });
    const badStore = new VaultSecretStore(bad, "secret", "scopegate/tenants", logger);
    expect((await badStore.read("acme", never)).kind).toBe("unavailable");
    expect(k8s.reviews.filter((r) => !r.authenticated).length).toBeGreaterThan(0);
    bad.close();
  });

  it("renews a renewable token before it expires", async () => {
    const token = await createToken(bao.address, bao.rootToken, { policies: ["scopegate"], ttl: "3s", renewable: true });
    const { session, counts, store } = storeFor({ method: "token", token: { env: "T" } }, { T: token });
    expect((await store.read("acme", never)).kind).toBe("found");
    // Renewal is scheduled at 2/3 of the 3 s TTL; wait (bounded) for it to happen at least twice.
    const until = Date.now() + 10_000;
    while (counts.renewals < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(counts.renewals).toBeGreaterThanOrEqual(2);
    // The token outlived its original 3 s TTL only because it was renewed.
    expect((await store.read("acme", never)).kind).toBe("found");
    session.close();
  });

  it("logs in again after its token is revoked (403 -> re-login once)", async () => {
    const role = await enableAppRole(bao.address, bao.rootToken, { policyName: "scopegate", policyHcl: TENANT_READ_POLICY });
    const { counts, hooks } = counting();
    const session = new VaultSession({
      config: vaultConfig({ method: "approle", roleId: role.roleId, secretId: { env: "S" } }),
      logger,
      readSecret: async () => role.secretId,
      ...hooks,
    });
    const store = new VaultSecretStore(session, "secret", "scopegate/tenants", logger);
    expect((await store.read("acme", never)).kind).toBe("found");
    await revokeToken(bao.address, bao.rootToken, session.client.token);
    expect((await store.read("acme", never)).kind).toBe("found");
    expect(counts.logins).toBe(2);
    session.close();
  });

  it("never logs the Vault token or the client secret", () => {
    expect(logs.text).not.toContain(bao.rootToken);
    expect(logs.text).not.toContain("acme-VAULT-SECRET");
    expect(logs.text).not.toMatch(/hvs\.|s\.[A-Za-z0-9]{20,}/);
  });
});
