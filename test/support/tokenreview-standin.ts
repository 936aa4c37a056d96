// A local stand-in for the one Kubernetes API call Vault's kubernetes auth method makes:
// POST /apis/authentication.k8s.io/v1/tokenreviews (authenticated with the reviewer JWT).
// It authenticates only the service-account JWTs it minted itself, so a login succeeds only when
// Vault really reviewed the pod's token with it.
import { randomBytes, randomUUID } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface TokenReviewStandin {
  readonly url: string;
  readonly reviewerJwt: string;
  readonly reviews: { token: string; authenticated: boolean }[];
  /** A service-account JWT (unsigned claims in the legacy secret-token form) that this API will accept. */
  mintServiceAccountJwt(namespace: string, name: string): string;
  close(): Promise<void>;
}

function b64url(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString("base64url");
}

export async function startTokenReviewStandin(): Promise<TokenReviewStandin> {
  const reviewerJwt = `reviewer.${randomBytes(16).toString("hex")}`;
  const known = new Map<string, { namespace: string; name: string; uid: string }>();
  const reviews: { token: string; authenticated: boolean }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/apis/authentication.k8s.io/v1/tokenreviews") {
        res.writeHead(404).end();
        return;
      }
      if (req.headers.authorization !== `Bearer ${reviewerJwt}`) {
        res.writeHead(401, { "content-type": "application/json" }).end('{"kind":"Status","status":"Failure","code":401}');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { spec?: { token?: string } };
      const token = body.spec?.token ?? "";
      const sa = known.get(token);
      reviews.push({ token, authenticated: Boolean(sa) });
      const status = sa
        ? { authenticated: true, user: { username: `system:serviceaccount:${sa.namespace}:${sa.name}`, uid: sa.uid, groups: ["system:serviceaccounts", `system:serviceaccounts:${sa.namespace}`] } }
        : { authenticated: false, error: "invalid bearer token" };
      res.writeHead(201, { "content-type": "application/json" });
      res.end(JSON.stringify({ kind: "TokenReview", apiVersion: "authentication.k8s.io/v1", status }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    reviewerJwt,
    reviews,
    mintServiceAccountJwt(namespace, name) {
      const uid = randomUUID();
      const jwt = [
        b64url({ alg: "RS256", kid: "test" }),
        b64url({
          iss: "kubernetes/serviceaccount",
          sub: `system:serviceaccount:${namespace}:${name}`,
          "kubernetes.io/serviceaccount/namespace": namespace,
          "kubernetes.io/serviceaccount/service-account.name": name,
          "kubernetes.io/serviceaccount/service-account.uid": uid,
          "kubernetes.io/serviceaccount/secret.name": `${name}-token`,
        }),
        randomBytes(32).toString("base64url"),
      ].join(".");
      known.set(jwt, { namespace, name, uid });
      return jwt;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
