/** A tenant as the data path sees it: immutable, built once from config or from a secret-store record. */
export interface Tenant {
  readonly id: string;
  readonly divisions: readonly string[];
  readonly tokenUrl: string;
  /** Key of the tenant's record in the secret store. */
  readonly credentialsKey: string;
  /** Principals allowed to act for the tenant; empty = any caller. */
  readonly allowedPrincipals: readonly string[];
  /** Kubernetes namespaces allowed to act for the tenant; empty (with no principals) = any caller. */
  readonly allowedNamespaces: readonly string[];
  readonly source: "config" | "discovered";
}
