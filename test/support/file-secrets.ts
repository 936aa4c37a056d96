// Tenant credentials laid out as the file secret backend reads them (a Kubernetes Secret volume):
// <directory>/<tenant>/client_id and client_secret (src/secrets/file-secret-store.ts).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export async function writeFileSecret(directory: string, tenant: string, clientId: string, clientSecret: string): Promise<void> {
  const d = join(directory, tenant);
  await mkdir(d, { recursive: true });
  await writeFile(join(d, "client_id"), clientId);
  await writeFile(join(d, "client_secret"), clientSecret);
}
