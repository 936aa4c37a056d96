// A throwaway CA, server and client certificate made with the openssl CLI, for listener TLS/mTLS tests.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestPki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  read(file: string): Buffer;
  /** Another client certificate from this CA, with the given subjectAltName (e.g. "URI:spiffe://…" or "DNS:gw.example"). */
  issueClient(name: string, subjectAltName: string): { cert: string; key: string };
}

export function makePki(dir: string): TestPki {
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f("ca.key"), "-out", f("ca.crt"), "-days", "1", "-subj", "/CN=scopegate-test-ca");
  const leaf = (name: string, ext: string) => {
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), ext);
    ossl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.crt"), "-CAkey", f("ca.key"), "-CAcreateserial", "-out", f(`${name}.crt`), "-days", "1", "-extfile", f(`${name}.ext`));
  };
  leaf("server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  leaf("client", "subjectAltName=URI:spiffe://cluster.local/ns/mesh/sa/envoy\nextendedKeyUsage=clientAuth\n");
  return {
    caFile: f("ca.crt"),
    serverCert: f("server.crt"),
    serverKey: f("server.key"),
    clientCert: f("client.crt"),
    clientKey: f("client.key"),
    read: (file) => readFileSync(file),
    issueClient: (name, san) => {
      leaf(name, `subjectAltName=${san}\nextendedKeyUsage=clientAuth\n`);
      return { cert: f(`${name}.crt`), key: f(`${name}.key`) };
    },
  };
}

/** Certificates of stand-in Genesys Cloud regions: one test CA, one server certificate per environment. */
export interface RegionPki {
  /** PEM file of the CA that signed every region certificate (what Envoy's trusted_ca and tokens.caFile get). */
  caFile: string;
  /** The certificate of api.<env> and login.<env>, also valid for `ip` (the token URL is https://<ip>:<port>). */
  serverFor(env: string): { key: Buffer; cert: Buffer };
  /** A certificate for api.<env> signed by another CA that nobody trusts. */
  untrustedFor(env: string): { key: Buffer; cert: Buffer };
}

export function makeRegionPki(dir: string, regions: readonly { env: string; ip: string; apiHost?: string | undefined }[]): RegionPki {
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  const ca = (name: string) =>
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.crt`), "-days", "1", "-subj", `/CN=${name}`);
  ca("regions-ca");
  ca("rogue-ca");
  const leaf = (name: string, caName: string, sans: string) => {
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), `subjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
    ossl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${caName}.crt`), "-CAkey", f(`${caName}.key`), "-CAcreateserial", "-out", f(`${name}.crt`), "-days", "1", "-extfile", f(`${name}.ext`));
    return { key: readFileSync(f(`${name}.key`)), cert: readFileSync(f(`${name}.crt`)) };
  };
  const trusted = new Map<string, { key: Buffer; cert: Buffer }>();
  const rogue = new Map<string, { key: Buffer; cert: Buffer }>();
  for (const { env, ip, apiHost } of regions) {
    // A region whose API host is not api.<env> (another profile's, configured) has that name too.
    const sans = `DNS:api.${env},DNS:login.${env},IP:${ip}${apiHost ? `,DNS:${apiHost}` : ""}`;
    trusted.set(env, leaf(`api.${env}`, "regions-ca", sans));
    rogue.set(env, leaf(`rogue.${env}`, "rogue-ca", sans));
  }
  const get = (m: Map<string, { key: Buffer; cert: Buffer }>, env: string) => {
    const c = m.get(env);
    if (!c) throw new Error(`no certificate made for ${env}`);
    return c;
  };
  return { caFile: f("regions-ca.crt"), serverFor: (env) => get(trusted, env), untrustedFor: (env) => get(rogue, env) };
}

/** A mesh-like PKI for the shared egress gateway: its server certificate and one client certificate per SPIFFE id. */
export interface MeshPki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  /** Certificate and key files of a workload whose URI SAN is `identity`. */
  client(identity: string): { cert: Buffer; key: Buffer };
  /** A client certificate for `identity` from a CA the gateway does not trust. */
  rogueClient(identity: string): { cert: Buffer; key: Buffer };
}

export function makeMeshPki(dir: string, identities: readonly string[]): MeshPki {
  const f = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync("openssl", args, { stdio: "ignore" });
  for (const ca of ["mesh-ca", "mesh-rogue-ca"]) {
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${ca}.key`), "-out", f(`${ca}.crt`), "-days", "1", "-subj", `/CN=${ca}`);
  }
  const leaf = (name: string, ca: string, ext: string) => {
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`);
    writeFileSync(f(`${name}.ext`), ext);
    ossl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f(`${ca}.crt`), "-CAkey", f(`${ca}.key`), "-CAcreateserial", "-out", f(`${name}.crt`), "-days", "1", "-extfile", f(`${name}.ext`));
  };
  leaf("gateway", "mesh-ca", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  const clients = new Map<string, string>();
  identities.forEach((id, i) => {
    leaf(`workload-${i}`, "mesh-ca", `subjectAltName=URI:${id}\nextendedKeyUsage=clientAuth\n`);
    leaf(`rogue-${i}`, "mesh-rogue-ca", `subjectAltName=URI:${id}\nextendedKeyUsage=clientAuth\n`);
    clients.set(id, String(i));
  });
  const pair = (prefix: string, id: string) => {
    const i = clients.get(id);
    if (i === undefined) throw new Error(`no client certificate made for ${id}`);
    return { cert: readFileSync(f(`${prefix}-${i}.crt`)), key: readFileSync(f(`${prefix}-${i}.key`)) };
  };
  return {
    caFile: f("mesh-ca.crt"),
    serverCert: f("gateway.crt"),
    serverKey: f("gateway.key"),
    client: (id) => pair("workload", id),
    rogueClient: (id) => pair("rogue", id),
  };
}
