/**
 * The identity-provider profile: everything scopegate knows about one vendor's login and API, behind one seam.
 * The data path is generic (tenant resolution, token cache, route table, division plan, Envoy answer); a tenant
 * names its profile (config `tenants[].profile`, record field `profile`) and every vendor-specific question is
 * asked of that profile through this interface. docs/architecture.md, "Adding a profile", says what a new one
 * writes.
 *
 * A profile is plain data and pure functions: no I/O, nothing created at import time.
 */
import type { TenantRecord } from "../secrets/secret-store.js";
import type { TokenRequest, TokenResult } from "./oauth2.js";

export type ProfileId = "genesys-cloud" | "nice-cxone";

export const PROFILE_IDS = ["genesys-cloud", "nice-cxone"] as const satisfies readonly ProfileId[];

/** A tenant that names no profile uses this one. */
export const DEFAULT_PROFILE: ProfileId = "genesys-cloud";

/**
 * What any environment name must look like, whatever its profile: a lower-case host suffix with at least two
 * labels. It travels as a header value (x-scopegate-upstream) and names an Envoy cluster, so nothing else.
 */
export const ENVIRONMENT_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;

export interface DeniedRoute {
  /** An HTTP method, or "*" for every method. */
  readonly method: string;
  /** Path template: `{name}` is one segment, a trailing `/**` everything under it. */
  readonly path: string;
}

export interface DivisionRoute extends DeniedRoute {
  /** The query parameter that carries the division filter on this route. */
  readonly param: string;
}

export interface Profile {
  readonly id: ProfileId;
  /** For logs and docs. */
  readonly name: string;

  /** Environment names this profile accepts (each also matches ENVIRONMENT_NAME). */
  readonly environmentPattern: RegExp;
  /** Environments allowed when config `environments` is not set (may be empty: then each must be configured). */
  readonly knownEnvironments: readonly string[];
  /** The token endpoint of an environment; config `environments.<env>.tokenUrl` overrides it. */
  tokenUrlFor(environment: string): string;
  /** The API host of an environment, or undefined when it cannot be derived and must be configured (`apiHost`). */
  apiHostFor(environment: string): string | undefined;

  /**
   * The token request for a tenant's secret record, or undefined when the record lacks what this profile's
   * grant needs (the check is then denied credentials_missing). Pure; secrets stay inside the request.
   */
  buildTokenRequest(tokenUrl: string, record: TenantRecord): TokenRequest | undefined;
  /** The token endpoint's answer (status, Retry-After header, body) as a token or a token error code. Pure. */
  parseTokenResponse(status: number, retryAfter: string | undefined, body: string): TokenResult;

  /** The API's path prefix: the egress route of each of its environments forwards only paths under it. */
  readonly apiPathPrefix: string;

  /** Routes that take a division query parameter, and under which name. Empty for a profile without one. */
  readonly divisionRoutes: readonly DivisionRoute[];
  /** Routes denied outright by default (credential and grant management, cross-division digests). */
  readonly deniedRoutes: readonly DeniedRoute[];
  /**
   * Query keys that carry the division filter (compared after normalisation, src/authz/division-plan.ts), or
   * undefined when the API has no division parameter: then the division plan does not apply at all and the query
   * is passed on unchanged.
   */
  readonly divisionKeys: readonly string[] | undefined;
}
