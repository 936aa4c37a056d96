/**
 * The environments tenants may live in, each belonging to one identity-provider profile, and where each one's
 * tokens are minted and requests sent. Pure.
 *
 * Only this table decides where credentials are sent: a tenant (from the config file or from a secret-store
 * record) names an environment, never a URL of its own choosing. By default the table is every environment a
 * profile knows (today the Genesys Cloud regions, token endpoint https://login.<environment>/oauth/token); config
 * `environments` replaces it (an explicit allow-list) and may give an entry its profile, another token URL or an
 * API host. Token URLs are https; a plain-http URL is accepted only for a loopback address and only with the
 * loudly named `allowPlainHttpLoopbackForTesting`.
 */
import { DEFAULT_PROFILE, PROFILES, type Profile, type ProfileId } from "../profiles/index.js";

export interface Environment {
  readonly name: string;
  /** The identity-provider profile this environment belongs to (an environment name belongs to one profile). */
  readonly profile: Profile;
  /** Where this environment's tokens are requested. */
  readonly tokenUrl: string;
  /** The API host requests for this environment must reach (Envoy rewrites Host to it). */
  readonly apiHost: string;
}

export type Environments = ReadonlyMap<string, Environment>;

export interface EnvironmentEntry {
  readonly profile?: ProfileId | undefined;
  readonly tokenUrl?: string | undefined;
  readonly apiHost?: string | undefined;
}

/** The built-in environments: each profile's known ones. */
export function defaultEnvironmentEntries(): [string, EnvironmentEntry][] {
  return Object.values(PROFILES).flatMap((p) => p.knownEnvironments.map((name): [string, EnvironmentEntry] => [name, { profile: p.id }]));
}

/** Entries whose API host neither the entry nor the profile gives are left out (the schema refuses them first). */
export function buildEnvironments(configured: Readonly<Record<string, EnvironmentEntry>> | undefined): Environments {
  const entries = configured ? Object.entries(configured) : defaultEnvironmentEntries();
  const table = new Map<string, Environment>();
  for (const [name, e] of entries) {
    const profile = PROFILES[e.profile ?? DEFAULT_PROFILE];
    const apiHost = e.apiHost ?? profile.apiHostFor(name);
    if (apiHost === undefined) continue;
    table.set(name, Object.freeze({ name, profile, tokenUrl: e.tokenUrl ?? profile.tokenUrlFor(name), apiHost }));
  }
  return table;
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
