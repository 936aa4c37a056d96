// A real OpenBao dev server (Vault API compatible) for tests, plus helpers over its plain HTTP API.
// Dev mode: in-memory storage, unsealed, KV v2 mounted at secret/, root token chosen by us.
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, isPortFree, waitFor } from "./ports.js";
import { spawnManaged, waitForOutput, type ManagedProcess } from "./processes.js";
import { toolPath } from "./tools.js";

export { toolPath } from "./tools.js";

export interface OpenBao {
  /** http://127.0.0.1:PORT */
  readonly address: string;
  readonly rootToken: string;
  /** Dev mode's single unseal key (from the "Unseal Key: ..." line). */
  readonly unsealKey: string;
  readonly process: ManagedProcess;
  /** Kills the server and waits for it to exit; removes its temp HOME. */
  stop(): Promise<void>;
}

/** Dev mode binds the cluster listener on the API port + 1, so both must be free. */
async function freePortWithNeighbour(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port < 65535 && (await isPortFree(port + 1))) return port;
  }
  throw new Error("openbao: no free port pair found on 127.0.0.1");
}

/**
 * `port` and `rootToken` let a test bring a server back at the same address after stopping it (a Vault
 * restart). Dev mode keeps data in memory, so a restarted server starts empty, as a fresh Vault would.
 */
export async function startOpenBao(opts: { startTimeoutMs?: number; port?: number; rootToken?: string } = {}): Promise<OpenBao> {
  const bao = toolPath("bao");
  const timeoutMs = opts.startTimeoutMs ?? 20_000;
  let lastFailure = "";
  // A port picked by freePort can be taken before bao binds it; retry a few times on that race only.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = opts.port ?? (await freePortWithNeighbour());
    const rootToken = opts.rootToken ?? `root-${randomBytes(12).toString("hex")}`;
    // Own HOME and cwd: with -dev-no-store-token nothing should be written, and if anything is it goes here.
    const home = await mkdtemp(join(tmpdir(), "scopegate-bao-"));
    const proc = spawnManaged(
      "openbao",
      bao,
      [
        "server",
        "-dev",
        `-dev-root-token-id=${rootToken}`,
        `-dev-listen-address=127.0.0.1:${port}`,
        "-dev-no-store-token",
        "-log-level=warn",
      ],
      { cwd: home, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home }, ownedDir: home },
    );
    const address = `http://127.0.0.1:${port}`;
    const stop = async (): Promise<void> => void (await proc.stop());
    try {
      await waitFor(
        async () => {
          if (proc.exitInfo()) throw new Error("exited");
          const res = await fetch(`${address}/v1/sys/health`, { signal: AbortSignal.timeout(1_000) });
          await res.body?.cancel();
          return res.status === 200;
        },
        timeoutMs,
        { intervalMs: 50, what: "OpenBao /v1/sys/health = 200" },
      );
      const [, unsealKey] = await waitForOutput(proc, /Unseal Key: (\S+)/, 5_000);
      return { address, rootToken, unsealKey: unsealKey!, process: proc, stop };
    } catch (err) {
      lastFailure = `${(err as Error).message}\n${proc.describe()}`;
      await stop();
      if (!/address already in use/i.test(proc.stderr() + proc.stdout())) break;
    }
  }
  throw new Error(`openbao did not start:\n${lastFailure}`);
}

/** Calls the Vault HTTP API; throws with status and `errors` on a non-2xx answer. */
export async function baoRequest<T = unknown>(
  address: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
): Promise<T | undefined> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers["x-vault-token"] = token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${address}/v1/${path.replace(/^\/+/, "")}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`bao ${method} /v1/${path}: HTTP ${res.status} ${text.trim()}`);
  return text === "" ? undefined : (JSON.parse(text) as T);
}

/** KV v2 write: POST /v1/<mount>/data/<path> {data}. Returns the new version. */
export async function kvPut(
  address: string,
  token: string,
  mount: string,
  path: string,
  data: Record<string, unknown>,
): Promise<number> {
  const res = await baoRequest<{ data: { version: number } }>(address, token, "POST", `${mount}/data/${path}`, {
    data,
  });
  return res!.data.version;
}

/** KV v2 read of the latest version: GET /v1/<mount>/data/<path>; undefined if absent. */
export async function kvGet(
  address: string,
  token: string,
  mount: string,
  path: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await baoRequest<{ data: { data: Record<string, unknown> } }>(
      address,
      token,
      "GET",
      `${mount}/data/${path}`,
    );
    return res?.data.data;
  } catch (err) {
    if (/HTTP 404/.test((err as Error).message)) return undefined;
    throw err;
  }
}

/** KV v2 delete of all versions and metadata: DELETE /v1/<mount>/metadata/<path>. */
export async function kvDestroy(address: string, token: string, mount: string, path: string): Promise<void> {
  await baoRequest(address, token, "DELETE", `${mount}/metadata/${path}`);
}

/** PUT /v1/sys/policies/acl/<name>. */
export async function writePolicy(address: string, token: string, name: string, hcl: string): Promise<void> {
  await baoRequest(address, token, "PUT", `sys/policies/acl/${name}`, { policy: hcl });
}

/** POST /v1/auth/token/create; returns the client token. `ttl` like "30s" or "1h". */
export async function createToken(
  address: string,
  rootToken: string,
  opts: { policies: string[]; ttl?: string; renewable?: boolean; noDefaultPolicy?: boolean },
): Promise<string> {
  const res = await baoRequest<{ auth: { client_token: string } }>(address, rootToken, "POST", "auth/token/create", {
    policies: opts.policies,
    ttl: opts.ttl,
    renewable: opts.renewable,
    no_default_policy: opts.noDefaultPolicy,
  });
  return res!.auth.client_token;
}

/** POST /v1/auth/token/revoke. */
export async function revokeToken(address: string, rootToken: string, token: string): Promise<void> {
  await baoRequest(address, rootToken, "POST", "auth/token/revoke", { token });
}

/** The policy scopegate needs: read tenant records under secret/data/scopegate/tenants/. */
export const TENANT_READ_POLICY = `path "secret/data/scopegate/tenants/*" {\n  capabilities = ["read"]\n}\n`;

/**
 * Enables AppRole at `mount` (if not yet), writes `policyHcl` as `policyName`, creates `roleName` with it
 * and returns a role id and a fresh secret id. Login: POST /v1/auth/<mount>/login {role_id, secret_id}.
 */
export async function enableAppRole(
  address: string,
  rootToken: string,
  opts: { mount?: string; roleName?: string; policyName?: string; policyHcl?: string; tokenTtl?: string } = {},
): Promise<{ roleId: string; secretId: string; mount: string; roleName: string; policyName: string }> {
  const mount = opts.mount ?? "approle";
  const roleName = opts.roleName ?? "scopegate";
  const policyName = opts.policyName ?? "scopegate-tenants-read";
  const mounts = await baoRequest<Record<string, unknown>>(address, rootToken, "GET", "sys/auth");
  if (!mounts || !(`${mount}/` in mounts)) {
    await baoRequest(address, rootToken, "POST", `sys/auth/${mount}`, { type: "approle" });
  }
  await writePolicy(address, rootToken, policyName, opts.policyHcl ?? TENANT_READ_POLICY);
  await baoRequest(address, rootToken, "POST", `auth/${mount}/role/${roleName}`, {
    token_policies: [policyName],
    token_ttl: opts.tokenTtl ?? "1h",
  });
  const role = await baoRequest<{ data: { role_id: string } }>(
    address,
    rootToken,
    "GET",
    `auth/${mount}/role/${roleName}/role-id`,
  );
  const secret = await baoRequest<{ data: { secret_id: string } }>(
    address,
    rootToken,
    "POST",
    `auth/${mount}/role/${roleName}/secret-id`,
  );
  return { roleId: role!.data.role_id, secretId: secret!.data.secret_id, mount, roleName, policyName };
}

/** PUT /v1/sys/seal: every secret read fails with 503 until unsealed. */
export async function sealVault(address: string, rootToken: string): Promise<void> {
  await baoRequest(address, rootToken, "PUT", "sys/seal");
}

/** PUT /v1/sys/unseal with dev mode's single key; resolves once /v1/sys/health is 200 again. */
export async function unseal(address: string, unsealKey: string, timeoutMs = 10_000): Promise<void> {
  await baoRequest(address, undefined, "PUT", "sys/unseal", { key: unsealKey });
  await waitFor(
    async () => {
      const res = await fetch(`${address}/v1/sys/health`, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      return res.status === 200;
    },
    timeoutMs,
    { what: "OpenBao active after unseal" },
  );
}
