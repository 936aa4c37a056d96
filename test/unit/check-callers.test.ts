import type { PeerCertificate } from "node:tls";
import { describe, expect, it } from "vitest";
import { identitiesOf, tlsCallerGate, type RefusedCaller } from "../../src/server/check-callers.js";

const cert = (subjectaltname: string, fingerprint256 = `fp:${subjectaltname}`) => ({ subjectaltname, fingerprint256 }) as PeerCertificate;
const ssl = (c: PeerCertificate | undefined) => ({ transportSecurityType: "ssl", ...(c ? { sslPeerCertificate: c } : {}) });

describe("identitiesOf", () => {
  it("reads URI and DNS SANs as Node formats them, quoted values whole", () => {
    expect(identitiesOf(cert("URI:spiffe://cluster.local/ns/gw/sa/envoy, DNS:gw.example, IP Address:10.0.0.1, email:a@b"))).toEqual([
      "spiffe://cluster.local/ns/gw/sa/envoy",
      "gw.example",
    ]);
    // Node quotes a value holding ", " (CVE-2021-44532): it is one odd URI, not an extra DNS SAN.
    expect(identitiesOf(cert('URI:"spiffe://x/a, DNS:gw.example"'))).toEqual(["spiffe://x/a, DNS:gw.example"]);
    expect(identitiesOf(cert(""))).toEqual([]);
  });
});

describe("tlsCallerGate", () => {
  const allowed = ["spiffe://cluster.local/ns/gw/sa/*", "gw.example"];

  it("admits allow-listed SANs (exact, or one segment under a /* prefix) and refuses the rest, once logged per certificate", () => {
    const refused: RefusedCaller[] = [];
    const gate = tlsCallerGate(allowed, (c) => refused.push(c));
    expect(gate(ssl(cert("URI:spiffe://cluster.local/ns/gw/sa/envoy")))).toBe(true);
    expect(gate(ssl(cert("DNS:gw.example")))).toBe(true);
    expect(gate(ssl(cert("URI:spiffe://cluster.local/ns/gw/sa/envoy/extra")))).toBe(false);
    expect(gate(ssl(cert("URI:spiffe://cluster.local/ns/gw/sa/")))).toBe(false);
    expect(gate(ssl(cert("DNS:evil.gw.example")))).toBe(false);
    expect(gate(ssl(cert("DNS:evil.gw.example")))).toBe(false);
    expect(gate(ssl(undefined))).toBe(false);
    expect(refused.map((r) => r.sans)).toEqual([["spiffe://cluster.local/ns/gw/sa/envoy/extra"], ["spiffe://cluster.local/ns/gw/sa/"], ["evil.gw.example"], []]);
  });

  it("decides per certificate fingerprint, and lets non-TLS calls (the unix socket) through", () => {
    const gate = tlsCallerGate(allowed, () => undefined);
    expect(gate(ssl(cert("DNS:gw.example", "same")))).toBe(true);
    // The cached verdict for that certificate, not a re-parse.
    expect(gate(ssl(cert("DNS:other", "same")))).toBe(true);
    expect(gate({})).toBe(true);
  });
});
