/**
 * FileSecretStore: a directory of mounted secret files, as a Kubernetes Secret volume or Vault Agent lays
 * them out: <directory>/<key>/client_id, client_secret and optional access_key_id, access_key_secret, divisions, environment, profile, token_url.
 * The embedded default that needs no Vault.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { recordFromFields } from "./record.js";
import { isSafeStoreKey, type SecretReadResult, type SecretStore } from "./secret-store.js";

const FIELDS = ["client_id", "client_secret", "access_key_id", "access_key_secret", "divisions", "environment", "profile", "token_url", "budget_requests_per_window", "budget_caller_share"] as const;

export class FileSecretStore implements SecretStore {
  constructor(private readonly directory: string) {}

  async read(key: string): Promise<SecretReadResult> {
    if (!isSafeStoreKey(key)) return { kind: "not_found" };
    const dir = join(this.directory, key);
    let version: string;
    try {
      version = String((await stat(dir)).mtimeMs);
    } catch (err) {
      return errno(err) === "ENOENT" ? { kind: "not_found" } : { kind: "unavailable", detail: `stat: ${errno(err)}` };
    }
    const fields: Record<string, string> = {};
    for (const f of FIELDS) {
      try {
        fields[f] = (await readFile(join(dir, f), "utf8")).trim();
      } catch (err) {
        if (errno(err) !== "ENOENT") return { kind: "unavailable", detail: `read ${f}: ${errno(err)}` };
      }
    }
    const record = recordFromFields(fields, version);
    return typeof record === "string" ? { kind: "unavailable", detail: record } : { kind: "found", record };
  }
}

function errno(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? "error";
}
