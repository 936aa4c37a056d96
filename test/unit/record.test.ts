import { describe, expect, it } from "vitest";
import { recordFromFields } from "../../src/secrets/record.js";

const BASE = { client_id: "c", client_secret: "s" };

describe("recordFromFields: caller binding of a discovered tenant", () => {
  it.each([
    ["a JSON array", ["spiffe://cluster.local/ns/a/sa/x", "spiffe://cluster.local/ns/b/sa/*"]],
    ["a comma-separated string", "spiffe://cluster.local/ns/a/sa/x, spiffe://cluster.local/ns/b/sa/*"],
    ["a JSON array in a string", '["spiffe://cluster.local/ns/a/sa/x","spiffe://cluster.local/ns/b/sa/*"]'],
    ["an array with junk items", ["spiffe://cluster.local/ns/a/sa/x", 7, null, " ", "spiffe://cluster.local/ns/b/sa/*"]],
  ])("reads allowed_principals from %s", (_what, value) => {
    const r = recordFromFields({ ...BASE, allowed_principals: value });
    if (typeof r === "string") throw new Error(r);
    expect(r.allowedPrincipals).toEqual(["spiffe://cluster.local/ns/a/sa/x", "spiffe://cluster.local/ns/b/sa/*"]);
    expect(Object.isFrozen(r.allowedPrincipals)).toBe(true);
  });

  it("reads allowed_namespaces, and leaves both out when absent or empty", () => {
    const r = recordFromFields({ ...BASE, allowed_namespaces: "acme,etl", allowed_principals: "" });
    if (typeof r === "string") throw new Error(r);
    expect(r.allowedNamespaces).toEqual(["acme", "etl"]);
    expect(r.allowedPrincipals).toBeUndefined();
    const none = recordFromFields(BASE);
    if (typeof none === "string") throw new Error(none);
    expect(none.allowedNamespaces).toBeUndefined();
  });
});
