/** Turns a raw key/value document (Vault KV v2 data, or files in a directory) into a TenantRecord. Pure. */
import { AccessKey, ClientCredentials } from "./credentials.js";
import type { TenantRecord } from "./secret-store.js";

export function recordFromFields(fields: Record<string, unknown>, version?: string): TenantRecord | string {
  const clientId = str(fields["client_id"]);
  const clientSecret = str(fields["client_secret"]);
  if (!clientId || !clientSecret) return "record lacks client_id or client_secret";
  const divisions = listOf(fields["divisions"]);
  const environment = str(fields["environment"]);
  const profile = str(fields["profile"]);
  // Both halves or neither: half an access key is a broken record, not a record without one.
  const accessKeyId = str(fields["access_key_id"]);
  const accessKeySecret = str(fields["access_key_secret"]);
  if ((accessKeyId === undefined) !== (accessKeySecret === undefined)) return "record has only one of access_key_id and access_key_secret";
  const tokenUrl = str(fields["token_url"]);
  // Caller binding of a discovered tenant (checked by the tenant registry, which refuses malformed entries).
  const allowedPrincipals = listOf(fields["allowed_principals"]);
  const allowedNamespaces = listOf(fields["allowed_namespaces"]);
  // A discovered tenant's own request budget: numbers in KV v2 JSON, strings in files; checked by the registry.
  const budgetRequestsPerWindow = scalar(fields["budget_requests_per_window"]);
  const budgetCallerShare = scalar(fields["budget_caller_share"]);
  return {
    credentials: new ClientCredentials(clientId, clientSecret),
    ...(accessKeyId && accessKeySecret ? { accessKey: new AccessKey(accessKeyId, accessKeySecret) } : {}),
    ...(divisions ? { divisions } : {}),
    ...(allowedPrincipals ? { allowedPrincipals } : {}),
    ...(allowedNamespaces ? { allowedNamespaces } : {}),
    ...(environment ? { environment } : {}),
    ...(profile ? { profile } : {}),
    ...(tokenUrl ? { tokenUrl } : {}),
    ...(budgetRequestsPerWindow !== undefined ? { budgetRequestsPerWindow } : {}),
    ...(budgetCallerShare !== undefined ? { budgetCallerShare } : {}),
    ...(version !== undefined ? { version } : {}),
  };
}

/** A string, or a number as its decimal text; anything else (an object, a list) as "" so the registry refuses it. */
function scalar(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return String(v);
  return typeof v === "string" ? v.trim() : "";
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.trim() !== "" ? v.trim() : undefined;
}

/**
 * A list (divisions, allowed_principals, allowed_namespaces) as a JSON array (KV v2 data is JSON), a string
 * holding a JSON array, or a comma-separated string. Items that are not strings, and empty ones, are dropped
 * (for a caller binding that can only narrow it).
 */
function listOf(v: unknown): readonly string[] | undefined {
  const items = Array.isArray(v) ? v : typeof v === "string" ? splitList(v) : undefined;
  if (!items) return undefined;
  const out = items.filter((x): x is string => typeof x === "string").map((x) => x.trim()).filter((x) => x !== "");
  // Frozen, and copied to an exact-size array (filter() leaves spare capacity): the tenant registry shares it.
  return out.length > 0 ? Object.freeze(out.slice()) : undefined;
}

function splitList(v: string): unknown[] {
  const t = v.trim();
  if (t.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // not JSON: read it as a comma-separated list
    }
  }
  return t.split(",");
}
