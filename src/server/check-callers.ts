/**
 * Which TLS clients may call Check on the TCP listener. The caller's identity in a CheckRequest
 * (attributes.source.principal) is written by whoever calls Check, so it proves nothing about the caller; the
 * TLS client certificate does. TLS already required a certificate chaining to listen.tls.clientCaFile (grpc-js
 * rejects the handshake otherwise); this admits only the Envoy identities of listen.tls.allowedClients: a
 * certificate URI SAN (SPIFFE id) or DNS SAN, exactly, or a prefix ending in "/*" (one more path segment, as in
 * caller-binding.ts).
 *
 * Calls that are not TLS reach the server only through the unix socket (the TCP listener's credentials are
 * TLS-only when this gate is installed), whose file mode and group decide who may connect: they pass.
 */
import type { PeerCertificate } from "node:tls";
import { principalMatches } from "../tenants/caller-binding.js";

/** What grpc-js reports for a call (ServerUnaryCall.getAuthContext(), grpc-js auth-context.ts). */
export interface CallAuth {
  readonly transportSecurityType?: string;
  readonly sslPeerCertificate?: PeerCertificate;
}

export interface RefusedCaller {
  /** The certificate's URI and DNS SANs (public identities, never key material); empty without a certificate. */
  readonly sans: readonly string[];
  readonly fingerprint256: string | undefined;
}

/** Verdicts kept per certificate; a handful of Envoy identities in practice, bounded against a flood of others. */
const MAX_VERDICTS = 1024;

/**
 * A per-call gate: true = may call. Verdicts are cached by the certificate's SHA-256 fingerprint. Not a WeakMap
 * on the certificate object: grpc-js calls tls.TLSSocket.getPeerCertificate() per call and Node builds a new
 * object each time, so an object key would never hit. `onRefused` runs once per refused certificate.
 */
export function tlsCallerGate(allowedClients: readonly string[], onRefused: (caller: RefusedCaller) => void): (auth: CallAuth) => boolean {
  const verdicts = new Map<string, boolean>();
  return (auth) => {
    if (auth.transportSecurityType !== "ssl") return true; // the unix socket (see above)
    const cert = auth.sslPeerCertificate;
    const key = cert?.fingerprint256;
    if (cert === undefined || !key) {
      onRefused({ sans: [], fingerprint256: undefined });
      return false;
    }
    const known = verdicts.get(key);
    if (known !== undefined) return known;
    const sans = identitiesOf(cert);
    const verdict = sans.some((san) => allowedClients.some((pattern) => principalMatches(pattern, san)));
    if (verdicts.size >= MAX_VERDICTS) verdicts.clear();
    verdicts.set(key, verdict);
    if (!verdict) onRefused({ sans, fingerprint256: key });
    return verdict;
  };
}

/**
 * The URI and DNS entries of a certificate's subjectAltName as Node formats it: "URI:spiffe://…, DNS:a.b".
 * Node quotes (JSON-style) a value that contains a comma, quote or other special character (CVE-2021-44532),
 * so "URI:a, DNS:b" inside one quoted value stays one value.
 */
export function identitiesOf(cert: Pick<PeerCertificate, "subjectaltname">): string[] {
  const text = cert.subjectaltname ?? "";
  const out: string[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (let m = entry.exec(text); m !== null && m[0] !== ""; m = entry.exec(text)) {
    const kind = m[1]!;
    const raw = m[2]!;
    let value: string;
    try {
      value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    } catch {
      continue;
    }
    if (kind === "URI" || kind === "DNS") out.push(value);
  }
  return out;
}
