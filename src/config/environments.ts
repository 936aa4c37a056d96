/**
 * The environments tenants may live in, and where each one's tokens are minted. Pure.
 *
 * Only this table decides where client credentials are sent: a tenant (from the config file or from a secret-store
 * record) names an environment, never a URL of its own choosing. By default the table is every Genesys Cloud
 * region with its token endpoint https://login.<environment>/oauth/token; config `environments` replaces it (an
 * explicit allow-list) and may give an entry another token URL. Token URLs are https; a plain-http URL is accepted
 * only for a loopback address and only with the loudly named `allowPlainHttpLoopbackForTesting`.
 */
import { apiHostFor, GENESYS_ENVIRONMENTS, tokenUrlFor } from "../profiles/genesys/regions.js";

export interface Environment {
  readonly name: string;
  /** Where this environment's client-credentials tokens are requested. */
  readonly tokenUrl: string;
  /** The Platform API host requests for this environment must reach (Envoy rewrites Host to it). */
  readonly apiHost: string;
}

export type Environments = ReadonlyMap<string, Environment>;

export function buildEnvironments(configured: Readonly<Record<string, { readonly tokenUrl?: string | undefined }>> | undefined): Environments {
  const entries: [string, { readonly tokenUrl?: string | undefined }][] = configured
    ? Object.entries(configured)
    : GENESYS_ENVIRONMENTS.map((name) => [name, {}]);
  return new Map(
    entries.map(([name, e]) => [name, Object.freeze({ name, tokenUrl: e.tokenUrl ?? tokenUrlFor(name), apiHost: apiHostFor(name) })]),
  );
}

/** TLS toward a token endpoint is never optional, except to this machine's loopback when a test says so. */
export function isAcceptableTokenUrl(raw: string, allowPlainHttpLoopback: boolean): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.username !== "" || url.password !== "") return false;
  if (url.protocol === "https:") return true;
  if (url.protocol !== "http:" || !allowPlainHttpLoopback) return false;
  return url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}
