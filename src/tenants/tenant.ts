/** A tenant as the data path sees it: immutable, built once from config or from a secret-store record. */
import type { Profile } from "../profiles/index.js";

export interface Tenant {
  readonly id: string;
  readonly divisions: readonly string[];
  /** The environment the tenant lives in (an allowed one): where its token and its requests go. */
  readonly environment: string;
  /** The environment's identity-provider profile: how its token is requested, which route rules apply. */
  readonly profile: Profile;
  /** The environment's token endpoint (from the environments table, never from the tenant's own data). */
  readonly tokenUrl: string;
  /** The environment's API host. */
  readonly apiHost: string;
  /** Key of the tenant's record in the secret store. */
  readonly credentialsKey: string;
  /** Principals allowed to act for the tenant; empty = any caller. */
  readonly allowedPrincipals: readonly string[];
  /** Kubernetes namespaces allowed to act for the tenant; empty (with no principals) = any caller. */
  readonly allowedNamespaces: readonly string[];
  readonly source: "config" | "discovered";
}
