import { describe, expect, it } from "vitest";
import { compileTenantIdPattern, readTenantId } from "../../src/tenants/tenant-id.js";

const rules = { header: "x-tenant-id", pattern: compileTenantIdPattern("[a-z0-9][a-z0-9._-]{0,62}") };
const read = (v: string | undefined) => readTenantId(new Map(v === undefined ? [] : [["x-tenant-id", v]]), rules);

describe("readTenantId", () => {
  it.each([
    ["acme", "acme"],
    ["acme-01.eu_x", "acme-01.eu_x"],
    [" acme ", "acme"],
  ])("accepts %j", (raw, id) => expect(read(raw)).toBe(id));

  it.each([
    [undefined, "tenant_missing"],
    ["", "tenant_missing"],
    ["   ", "tenant_missing"],
    ["acme,globex", "tenant_ambiguous"],
    ["ACME", "tenant_invalid"],
    ["../acme", "tenant_invalid"],
    ["%2e%2e", "tenant_invalid"],
    ["acme/../../sys", "tenant_invalid"],
    ["acme\u0000", "tenant_invalid"],
    ["a".repeat(64), "tenant_invalid"],
    ["a".repeat(65536), "tenant_invalid"],
    ["acm\u0435", "tenant_invalid"], // Cyrillic e
    ["-acme", "tenant_invalid"],
  ])("denies %j as %s", (raw, reason) => expect(read(raw)).toEqual({ kind: "deny", reason }));

  it("anchors the configured pattern so a partial match cannot pass", () => {
    const loose = { header: "x-tenant-id", pattern: compileTenantIdPattern("[a-z]+") };
    expect(readTenantId(new Map([["x-tenant-id", "acme/../x"]]), loose)).toEqual({ kind: "deny", reason: "tenant_invalid" });
  });
});
