// What scopegate talks to during the benchmark: the Genesys stand-in (token endpoint, in the harness process: it
// is only ever called on a cold path) and a real OpenBao dev server holding one KV v2 record per tenant.
import { startGenesysStandin, type GenesysStandin } from "../../test/support/genesys-standin.js";
import { kvPut, startOpenBao, type OpenBao } from "../../test/support/openbao.js";
import { TEST_ENV } from "../../test/support/environments.js";

export interface World {
  readonly standin: GenesysStandin;
  readonly bao: OpenBao;
  /**
   * Registers tenants at the stand-in and writes their Vault records, `parallel` at a time. Discovered tenants'
   * records also carry divisions and environment (a tenant defined by its record alone); configured ones hold
   * credentials only.
   */
  addTenants(ids: readonly string[], via: "config" | "vault", parallel?: number): Promise<void>;
  stop(): Promise<void>;
}

export const divisionOf = (tenant: string): string => `div-${tenant}`;

/** The one workload the benchmark's callers stand for (scopegate's callers.localIdentity), and its namespace. */
export const BENCH_CALLER = { identity: "spiffe://cluster.local/ns/bench/sa/app", namespace: "bench" } as const;

/** Every bench tenant's environment; its token URL is the plain-HTTP stand-in (see benchConfig). */
export const BENCH_ENV = TEST_ENV;

export async function startWorld(): Promise<World> {
  const standin = await startGenesysStandin();
  let bao: OpenBao;
  try {
    bao = await startOpenBao();
  } catch (err) {
    await standin.close();
    throw err;
  }
  return {
    standin,
    bao,
    async addTenants(ids, via, parallel = 32) {
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < ids.length) {
          const id = ids[next++]!;
          const secret = `${id}-SECRET`;
          standin.addClient({ clientId: `${id}-client`, clientSecret: secret, divisions: [divisionOf(id)] });
          await kvPut(bao.address, bao.rootToken, "secret", `scopegate/tenants/${id}`, {
            client_id: `${id}-client`,
            client_secret: secret,
            ...(via === "vault" ? { divisions: divisionOf(id), environment: BENCH_ENV } : {}),
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(parallel, ids.length) }, worker));
    },
    async stop() {
      await bao.stop();
      await standin.close();
    },
  };
}

/** t-<kind>-0000 … : ids that match scopegate's default tenant id pattern. */
export function tenantIds(kind: string, count: number): string[] {
  const width = Math.max(4, String(count - 1).length);
  return Array.from({ length: count }, (_, i) => `t-${kind}-${String(i).padStart(width, "0")}`);
}
