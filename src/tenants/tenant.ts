/** A tenant as the data path sees it: immutable, built once from config or from a secret-store record. */
export interface Tenant {
  readonly id: string;
  readonly divisions: readonly string[];
  readonly tokenUrl: string;
  /** Key of the tenant's record in the secret store. */
  readonly credentialsKey: string;
  /** Principals allowed to act for the tenant; empty = any caller. */
  readonly allowedPrincipals: readonly string[];
  readonly source: "config" | "discovered";
}
