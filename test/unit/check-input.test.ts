import { describe, expect, it } from "vitest";
import { parseCheckRequest } from "../../src/authz/check-input.js";
import { isDenial } from "../../src/authz/deny-reasons.js";
import { checkRequest } from "./fixtures.js";

describe("parseCheckRequest", () => {
  it("splits path and query and keeps the raw query undecoded", () => {
    const input = parseCheckRequest(checkRequest({ path: "/api/v2/routing/queues?divisionId=a%2Cb&pageSize=5" }));
    expect(isDenial(input)).toBe(false);
    if (isDenial(input)) return;
    expect(input.path).toBe("/api/v2/routing/queues");
    expect(input.rawQuery).toBe("divisionId=a%2Cb&pageSize=5");
    expect(input.method).toBe("GET");
    expect(input.requestId).toBe("req-1");
    const withHeader = parseCheckRequest(checkRequest({ headers: { "x-request-id": "rid-9" } }));
    expect(isDenial(withHeader) ? "" : withHeader.requestId).toBe("rid-9");
  });

  it("drops a fragment", () => {
    const input = parseCheckRequest(checkRequest({ path: "/x?a=1#frag" }));
    if (isDenial(input)) throw new Error("denied");
    expect(input.rawQuery).toBe("a=1");
  });

  it("denies a request without HTTP attributes", () => {
    expect(parseCheckRequest({ attributes: undefined })).toEqual({ kind: "deny", reason: "malformed_request" });
    const req = checkRequest({});
    req.attributes!.request!.http = undefined;
    expect(parseCheckRequest(req)).toEqual({ kind: "deny", reason: "malformed_request" });
  });

  it("reads header_map (encode_raw_headers) and joins repeated keys like Envoy does", () => {
    const req = checkRequest({});
    req.attributes!.request!.http!.headers = {};
    req.attributes!.request!.http!.headerMap = {
      headers: [
        { key: "X-Tenant-Id", value: "", rawValue: Buffer.from("acme") },
        { key: "x-tenant-id", value: "", rawValue: Buffer.from("globex") },
      ],
    };
    const input = parseCheckRequest(req);
    if (isDenial(input)) throw new Error("denied");
    expect(input.headers.get("x-tenant-id")).toBe("acme,globex");
  });
});
