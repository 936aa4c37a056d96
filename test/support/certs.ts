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
