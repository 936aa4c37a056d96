/** Turns a raw key/value document (Vault KV v2 data, or files in a directory) into a TenantRecord. Pure. */
import { ClientCredentials } from "./credentials.js";
import type { TenantRecord } from "./secret-store.js";

export function recordFromFields(fields: Record<string, unknown>, version?: string): TenantRecord | string {
  const clientId = str(fields["client_id"]);
  const clientSecret = str(fields["client_secret"]);
  if (!clientId || !clientSecret) return "record lacks client_id or client_secret";
  const divisions = listOf(fields["divisions"]);
  const environment = str(fields["environment"]);
  const tokenUrl = str(fields["token_url"]);
  return {
    credentials: new ClientCredentials(clientId, clientSecret),
    ...(divisions ? { divisions } : {}),
    ...(environment ? { environment } : {}),
    ...(tokenUrl ? { tokenUrl } : {}),
    ...(version !== undefined ? { version } : {}),
  };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/** Divisions as a JSON array or a comma-separated string. */
function listOf(v: unknown): readonly string[] | undefined {
  const items = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : undefined;
  if (!items) return undefined;
  const out = items.filter((x): x is string => typeof x === "string").map((x) => x.trim()).filter((x) => x !== "");
  // Frozen, and copied to an exact-size array (filter() leaves spare capacity): the tenant registry shares it.
  return out.length > 0 ? Object.freeze(out.slice()) : undefined;
}
