/**
 * VaultSecretStore: one KV v2 secret per tenant at <kvMount>/data/<tenantPrefix>/<key>
 * (Vault API: GET /v1/<mount>/data/<path>, response data.data and data.metadata.version).
 */
import type { Logger } from "pino";
import { raceSignal } from "../util/abort.js";
import { backoffDelay, sleepUnlessAborted } from "../util/backoff.js";
import { recordFromFields } from "./record.js";
import { isSafeStoreKey, type SecretReadResult, type SecretStore } from "./secret-store.js";
import { statusOf, type VaultSession } from "./vault-session.js";

const MAX_ATTEMPTS = 4;
const BACKOFF = { baseMs: 50, capMs: 1000 };

function isTransient(status: number | string): boolean {
  return typeof status === "string" ? status !== "ABORT_ERR" : status >= 500 || status === 429 || status === 412;
}

export class VaultSecretStore implements SecretStore {
  constructor(
    private readonly session: VaultSession,
    private readonly kvMount: string,
    private readonly tenantPrefix: string,
    private readonly logger: Logger,
  ) {}

  async read(key: string, signal: AbortSignal): Promise<SecretReadResult> {
    if (!isSafeStoreKey(key)) return { kind: "not_found" };
    const path = `${this.kvMount}/data/${this.tenantPrefix}/${key}`;
    let relogged = false;
    let lastStatus: number | string = "aborted";
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (attempt > 0 && !(await sleepUnlessAborted(backoffDelay(attempt - 1, BACKOFF), signal))) break;
      if (signal.aborted) break;
      try {
        await raceSignal(this.session.ready(), signal);
        const res = (await raceSignal(this.session.client.read(path), signal)) as {
          data?: { data?: Record<string, unknown>; metadata?: { version?: number } };
        };
        const fields = res?.data?.data;
        if (!fields) return { kind: "not_found" };
        const version = res.data?.metadata?.version;
        const record = recordFromFields(fields, version === undefined ? undefined : String(version));
        return typeof record === "string" ? { kind: "unavailable", detail: record } : { kind: "found", record };
      } catch (err) {
        const status = statusOf(err);
        if (status === 404) return { kind: "not_found" };
        lastStatus = status;
        // 403: the token may have expired or been revoked. Log in again once, then give up.
        if (status === 403 && !relogged) {
          relogged = true;
          this.session.invalidate();
          continue;
        }
        // Sealed or overloaded (5xx) and connection errors are worth another try inside the deadline.
        if (!isTransient(status)) break;
      }
    }
    this.logger.warn({ status: lastStatus, key }, "vault read failed");
    return { kind: "unavailable", detail: `vault ${lastStatus}` };
  }
}
