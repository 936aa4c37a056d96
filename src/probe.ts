/**
 * `check-config --probe`: for each configured tenant, read its secret and mint a token; read the gateway token keys
 * file. Prints no secrets.
 */
import type { Logger } from "pino";
import { buildSecretStore, buildTokenEndpoint } from "./app.js";
import { buildEnvironments, type Config } from "./config/index.js";
import { KeysFileError, loadKeysFile } from "./gateway/keys-file.js";
import { connectFleetRedis } from "./fleet/redis.js";
import { tenantFromConfig } from "./tenants/registry.js";
import { KeyringFileError, loadKeyringFile } from "./util/keyring-file.js";

/** "ok (current <id>, <n> keys)" or the file's problems; never key material. */
export async function probeKeysFile(path: string): Promise<string> {
  try {
    const ring = await loadKeysFile(path);
    return `ok (current ${ring.current}, ${ring.keys.size} key${ring.keys.size === 1 ? "" : "s"})`;
  } catch (err) {
    return err instanceof KeysFileError ? err.problems.join("; ") : "cannot be read";
  }
}

export async function probeTenants(deps: {
  config: Config;
  logger: Logger;
  env: Readonly<Record<string, string | undefined>>;
}): Promise<{ tenant: string; result: string }[]> {
  const { store, vault } = await buildSecretStore(deps);
  const endpoint = await buildTokenEndpoint(deps.config);
  const rows: { tenant: string; result: string }[] = [];
  try {
    const environments = buildEnvironments(deps.config.environments);
    for (const t of deps.config.tenants.map((c) => tenantFromConfig(c, environments))) {
      const signal = AbortSignal.timeout(deps.config.tokens.requestTimeoutMs * 2);
      const secret = await store.read(t.credentialsKey, signal);
      if (secret.kind !== "found") {
        rows.push({ tenant: t.id, result: secret.kind === "not_found" ? "credentials_missing" : `secrets_unavailable (${secret.detail})` });
        continue;
      }
      const request = t.profile.buildTokenRequest(t.tokenUrl, secret.record);
      if (request === undefined) {
        rows.push({ tenant: t.id, result: `credentials_missing (the ${t.profile.name} grant needs fields the record lacks)` });
        continue;
      }
      const token = await endpoint.requestToken(request, t.profile.parseTokenResponse, signal);
      rows.push({
        tenant: t.id,
        result: token.kind === "token" ? "ok" : `token ${token.error.code}${token.error.httpStatus ? ` (HTTP ${token.error.httpStatus})` : ""}`,
      });
    }
  } finally {
    vault?.close();
    endpoint.close();
  }
  return rows;
}

/**
 * `check-config --probe` with a fleet: can this process reach Redis (and authenticate: PING after AUTH), and read
 * the fleet token keys. Rows name the config key and an outcome; never a password or key material.
 */
export async function probeFleet(fleet: NonNullable<Config["fleet"]>): Promise<{ tenant: string; result: string }[]> {
  const rows: { tenant: string; result: string }[] = [];
  const logger = { info: () => undefined, warn: () => undefined };
  try {
    const redis = await connectFleetRedis(fleet.redis, { logger, name: "scopegate-probe" });
    try {
      const up = await redis.whenUp(fleet.redis.connectTimeoutMs + fleet.redis.commandTimeoutMs);
      const pong = up ? await redis.client.ping().catch(() => "") : "";
      const error = redis.lastError();
      rows.push({ tenant: "fleet.redis", result: pong === "PONG" ? "ok" : `unreachable${error ? ` (${error})` : ""}` });
    } finally {
      await redis.close();
    }
  } catch (err) {
    rows.push({ tenant: "fleet.redis", result: (err as Error).message });
  }
  if (fleet.tokens) {
    try {
      const ring = await loadKeyringFile(fleet.tokens.keysFile, "fleet token keys file");
      rows.push({ tenant: "fleet.tokens.keysFile", result: `ok (current ${ring.current}, ${ring.keys.size} key${ring.keys.size === 1 ? "" : "s"})` });
    } catch (err) {
      rows.push({ tenant: "fleet.tokens.keysFile", result: err instanceof KeyringFileError ? err.problems.join("; ") : "cannot be read" });
    }
  }
  return rows;
}
