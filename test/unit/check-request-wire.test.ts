import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CheckInput } from "../../src/authz/check-input.js";
import { HeaderPicker, readCheckRequest } from "../../src/authz/check-request-wire.js";
import { isDenial, type Denial } from "../../src/authz/deny-reasons.js";
import { CheckRequest } from "../../src/gen/envoy/service/auth/v3/external_auth.js";
import { checkRequest } from "../support/check-requests.js";

const picker = new HeaderPicker(["x-tenant-id", "x-request-id", "authorization"]);
const read = (req: CheckRequest, p = picker): CheckInput | Denial => readCheckRequest(CheckRequest.encode(req).finish(), p);
const input = (req: CheckRequest): CheckInput => {
  const r = read(req);
  if (isDenial(r)) throw new Error(`denied: ${r.reason}`);
  return r;
};

describe("readCheckRequest", () => {
  it("splits path and query and keeps the raw query undecoded", () => {
    const i = input(checkRequest({ path: "/api/v2/routing/queues?divisionId=a%2Cb&pageSize=5" }));
    expect(i.path).toBe("/api/v2/routing/queues");
    expect(i.rawQuery).toBe("divisionId=a%2Cb&pageSize=5");
    expect(i.method).toBe("GET");
    expect(i.requestId).toBe("req-1");
    expect(input(checkRequest({ headers: { "x-request-id": "rid-9" } })).requestId).toBe("rid-9");
  });

  it("drops a fragment", () => {
    expect(input(checkRequest({ path: "/x?a=1#frag" })).rawQuery).toBe("a=1");
    expect(input(checkRequest({ path: "/x#frag?a=1" }))).toMatchObject({ path: "/x", rawQuery: "" });
  });

  it("denies a request without HTTP attributes, method or path", () => {
    expect(read({ attributes: undefined })).toEqual({ kind: "deny", reason: "malformed_request" });
    const noHttp = checkRequest({});
    noHttp.attributes!.request!.http = undefined;
    expect(read(noHttp)).toEqual({ kind: "deny", reason: "malformed_request" });
    expect(read(checkRequest({ method: "" }))).toEqual({ kind: "deny", reason: "malformed_request" });
    expect(read(checkRequest({ path: "" }))).toEqual({ kind: "deny", reason: "malformed_request" });
  });

  it("reads header_map (encode_raw_headers) and joins repeated keys like Envoy does", () => {
    const req = checkRequest({});
    req.attributes!.request!.http!.headers = {};
    req.attributes!.request!.http!.headerMap = {
      headers: [
        { key: "X-Tenant-Id", value: "", rawValue: Buffer.from("acme") },
        { key: "x-tenant-id", value: "globex", rawValue: Buffer.alloc(0) },
      ],
    };
    expect(input(req).headers.get("x-tenant-id")).toBe("acme,globex");
  });

  it("decodes only the headers the policy names, matching names without regard to case", () => {
    const i = input(checkRequest({ headers: { "X-Tenant-ID": "acme", cookie: "a=b", "x-other": "1" } }));
    expect([...i.headers]).toEqual([["x-tenant-id", "acme"]]);
    const custom = read(checkRequest({ headers: { "x-client": "globex", "x-tenant-id": "acme" } }), new HeaderPicker(["X-Client"]));
    expect(isDenial(custom) ? undefined : [...custom.headers]).toEqual([["x-client", "globex"]]);
  });

  it("reads the authorization header (a gateway token's carrier)", () => {
    expect(input(checkRequest({ headers: { Authorization: "Bearer sgw1.k.x" } })).headers.get("authorization")).toBe("Bearer sgw1.k.x");
  });

  it("decodes a header with value prefixes only when its value starts with one (case-insensitive)", () => {
    const p = new HeaderPicker(["authorization"], { authorization: ["bearer sgw1.", "basic "] });
    const auth = (v: string) => {
      const r = read(checkRequest({ headers: { authorization: v } }), p);
      return isDenial(r) ? "denied" : r.headers.get("authorization");
    };
    expect(auth("Bearer placeholder")).toBeUndefined();
    expect(auth("Bearer sgw1")).toBeUndefined();
    expect(auth("Bearer sgw1.k.x")).toBe("Bearer sgw1.k.x");
    expect(auth("BEARER SGW1.k")).toBe("BEARER SGW1.k");
    expect(auth("Basic YTpi")).toBe("Basic YTpi");
    const raw = CheckRequest.fromPartial({
      attributes: { request: { http: { method: "GET", path: "/", headerMap: { headers: [{ key: "authorization", value: "", rawValue: Buffer.from("Basic YTpi") }] } } } },
    });
    const r = read(raw, p);
    expect(isDenial(r) ? "denied" : r.headers.get("authorization")).toBe("Basic YTpi");
  });

  it("reads a body only where Envoy sent one: body (11) or raw_body (12) with pack_as_bytes", () => {
    expect(input(checkRequest({})).body).toBeUndefined();
    expect(input(checkRequest({ method: "POST", body: "grant_type=client_credentials" })).body?.toString()).toBe("grant_type=client_credentials");
    const raw = CheckRequest.fromPartial({ attributes: { request: { http: { method: "POST", path: "/oauth/token", rawBody: Buffer.from("grant_type=x") } } } });
    expect(input(raw).body?.toString()).toBe("grant_type=x");
  });

  it("reads the source principal", () => {
    expect(input(checkRequest({ principal: "spiffe://cluster.local/ns/a/sa/b" })).sourcePrincipal).toBe("spiffe://cluster.local/ns/a/sa/b");
  });

  it("refuses a length that points past its enclosing message, and truncated input", () => {
    const bytes = Buffer.from(CheckRequest.encode(checkRequest({ headers: { "x-tenant-id": "acme" } })).finish());
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = readCheckRequest(bytes.subarray(0, cut), picker);
      expect(isDenial(r) ? r.reason : "parsed").toBe("malformed_request");
    }
    // attributes (field 1) claims 5 bytes but holds a field claiming 100.
    expect(readCheckRequest(Buffer.from([0x0a, 0x05, 0x22, 0x64, 0x12, 0x01, 0x41]), picker)).toEqual({ kind: "deny", reason: "malformed_request" });
  });
});

/** The reference: the generated decoder, then the documented projection (picked names, repeats joined by ','). */
function reference(bytes: Uint8Array, names: readonly string[]): CheckInput | "malformed" {
  const req = CheckRequest.decode(bytes);
  const http = req.attributes?.request?.http;
  if (!req.attributes || !http || !http.method || !http.path) return "malformed";
  const picked = new Map<string, string>();
  const add = (key: string, value: string): void => {
    const k = key.toLowerCase();
    if (!names.includes(k)) return;
    const prev = picked.get(k);
    picked.set(k, prev === undefined ? value : `${prev},${value}`);
  };
  for (const [k, v] of Object.entries(http.headers)) add(k, v);
  for (const h of http.headerMap?.headers ?? []) add(h.key, h.rawValue.length > 0 ? Buffer.from(h.rawValue).toString("utf8") : h.value);
  const headers = new Map(names.filter((n) => picked.has(n)).map((n) => [n, picked.get(n)!]));
  const q = http.path.indexOf("?");
  const hash = http.path.indexOf("#");
  const end = hash === -1 ? http.path.length : hash;
  const noQuery = q === -1 || q > end;
  return {
    requestId: headers.get("x-request-id") || http.id,
    method: http.method.toUpperCase(),
    path: noQuery ? http.path.slice(0, end) : http.path.slice(0, q),
    rawQuery: noQuery ? "" : http.path.slice(q + 1, end),
    host: http.host.toLowerCase().replace(/:[^:\]]*$/, ""),
    headers,
    sourcePrincipal: req.attributes.source?.principal ?? "",
    // body (11) or raw_body (12), the last one sent, when not empty
    ...(http.rawBody.length > 0 ? { body: Buffer.from(http.rawBody) } : http.body !== "" ? { body: Buffer.from(http.body, "utf8") } : {}),
  };
}

describe("readCheckRequest agrees with the generated decoder", () => {
  const name = fc.constantFrom("x-tenant-id", "X-Tenant-Id", "x-request-id", "X-REQUEST-ID", "authorization", ":path", "x-junk", "x-tenant-idx", "");
  const text = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("acme", "globex", "a,b", "", "ünï", "\u0000"));
  const request = fc.record({
    principal: text,
    id: text,
    method: fc.constantFrom("GET", "post", "", "DELETE", "Get", "GETS", "GE", "OPTIONS", "PATCH", "put", "HEAD", "CONNECT"),
    path: fc.constantFrom("/", "/api/v2/flows?divisionId=d1", "/x#f?y", "", "/a?b#c"),
    headers: fc.dictionary(name, text, { maxKeys: 6 }),
    raw: fc.option(fc.array(fc.record({ key: name, value: text, rawValue: fc.uint8Array({ maxLength: 6 }).map((u) => Buffer.from(u)) }), { maxLength: 4 }), { nil: undefined }),
    noise: fc.record({ host: text, scheme: text, body: text, rawBody: fc.uint8Array({ maxLength: 6 }).map((u) => Buffer.from(u)), size: fc.integer(), labels: fc.dictionary(text, text, { maxKeys: 3 }) }),
    extensions: fc.dictionary(text, text, { maxKeys: 3 }),
    destination: text,
  });

  it("on random requests (2,000 runs)", () => {
    fc.assert(
      fc.property(request, (r) => {
        const req = CheckRequest.fromPartial({
          attributes: {
            source: { principal: r.principal, labels: r.noise.labels },
            destination: { principal: r.destination, service: r.noise.host },
            request: {
              time: { seconds: 1, nanos: 2 },
              http: {
                id: r.id,
                method: r.method,
                headers: r.headers,
                path: r.path,
                host: r.noise.host,
                scheme: r.noise.scheme,
                body: r.noise.body,
                rawBody: r.noise.rawBody,
                size: r.noise.size,
                ...(r.raw ? { headerMap: { headers: r.raw } } : {}),
              },
            },
            contextExtensions: r.extensions,
          },
        });
        const bytes = CheckRequest.encode(req).finish();
        const expected = reference(bytes, picker.names);
        const got = readCheckRequest(bytes, picker);
        if (expected === "malformed") expect(got).toEqual({ kind: "deny", reason: "malformed_request" });
        else expect(got).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
