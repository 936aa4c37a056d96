import { describe, expect, it } from "vitest";
import { compileTenantIdPattern, readTenantId, TENANT_ID_ERRORS } from "../../src/tenants/tenant-id.js";

const rules = { header: "x-tenant-id", pattern: compileTenantIdPattern("[a-z0-9][a-z0-9._-]{0,62}") };
const read = (v: string | undefined) => readTenantId(new Map(v === undefined ? [] : [["x-tenant-id", v]]), rules);

describe("readTenantId", () => {
  it.each([
    ["acme", "acme"],
    ["acme-01.eu_x", "acme-01.eu_x"],
    [" acme ", "acme"],
  ])("accepts %j", (raw, id) => expect(read(raw)).toBe(id));

  it.each([
    [undefined, "missing"],
    ["", "missing"],
    ["   ", "missing"],
    ["acme,globex", "ambiguous"],
    ["ACME", "invalid"],
    ["../acme", "invalid"],
    ["%2e%2e", "invalid"],
    ["acme/../../sys", "invalid"],
    ["acme\u0000", "invalid"],
    ["a".repeat(64), "invalid"],
    ["a".repeat(65536), "invalid"],
    ["acm\u0435", "invalid"], // Cyrillic e
    ["-acme", "invalid"],
  ] as const)("refuses %j as %s, with the layer's own constant", (raw, code) => expect(read(raw)).toBe(TENANT_ID_ERRORS[code]));

  it("anchors the configured pattern so a partial match cannot pass", () => {
    const loose = { header: "x-tenant-id", pattern: compileTenantIdPattern("[a-z]+") };
    expect(readTenantId(new Map([["x-tenant-id", "acme/../x"]]), loose)).toEqual({ kind: "tenant_id", code: "invalid" });
  });
});
