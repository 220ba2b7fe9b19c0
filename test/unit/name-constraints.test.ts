import { describe, expect, it } from "vitest";
import { canonicalSerial, shardOf } from "../../src/domain/ca/ca-service.js";
import type { NameConstraints } from "../../src/domain/ca/model.js";
import { enforceNameConstraints, parseCidr } from "../../src/domain/ca/name-constraints.js";
import { DomainError } from "../../src/domain/errors.js";

const none = { dns: [], ip: [], email: [], uri: [] };
const sans = (
  over: Partial<{ dnsNames: string[]; emails: string[]; uris: string[]; ipAddresses: string[] }>,
) => ({
  dnsNames: [],
  emails: [],
  uris: [],
  ipAddresses: [],
  upns: [],
  ...over,
});
const check = (constraints: NameConstraints, subject: string, names: ReturnType<typeof sans>) => () =>
  enforceNameConstraints([{ ca: "test", constraints }], subject, names);

describe("name constraints (RFC 5280 §4.2.1.10)", () => {
  const corp: NameConstraints = {
    permitted: {
      dns: ["corp.example"],
      ip: ["10.0.0.0/8", "2001:db8::/32"],
      email: [".corp.example"],
      uri: ["corp.example"],
    },
    excluded: { dns: ["secret.corp.example"], ip: ["10.9.0.0/16"], email: [], uri: [] },
  };

  it("permits a DNS subtree's own name and its subdomains, and nothing that merely ends alike", () => {
    expect(check(corp, "CN=corp.example", sans({}))).not.toThrow();
    expect(check(corp, "", sans({ dnsNames: ["a.b.corp.example"] }))).not.toThrow();
    expect(check(corp, "", sans({ dnsNames: ["evilcorp.example"] }))).toThrow(DomainError);
  });

  it("refuses excluded subtrees even inside permitted ones", () => {
    expect(check(corp, "", sans({ dnsNames: ["x.secret.corp.example"] }))).toThrow(/excluded/);
    expect(check(corp, "", sans({ ipAddresses: ["10.9.1.1"] }))).toThrow(/excluded/);
  });

  it("checks IPv4 and IPv6 addresses against CIDR ranges", () => {
    expect(check(corp, "", sans({ ipAddresses: ["10.1.2.3", "2001:db8::1"] }))).not.toThrow();
    expect(check(corp, "", sans({ ipAddresses: ["192.168.1.1"] }))).toThrow(/outside/);
    expect(check(corp, "", sans({ ipAddresses: ["2001:db9::1"] }))).toThrow(/outside/);
  });

  it("checks e-mail domains and URI hosts", () => {
    expect(
      check(corp, "", sans({ emails: ["a@mail.corp.example"], uris: ["https://corp.example/x"] })),
    ).not.toThrow();
    expect(check(corp, "", sans({ emails: ["a@corp.example"] }))).toThrow(/outside/);
    expect(check(corp, "", sans({ uris: ["https://other.example/"] }))).toThrow(/outside/);
  });

  it("treats a host-like common name as a DNS name", () => {
    expect(check(corp, "CN=www.other.example, O=Corp", sans({}))).toThrow(/www.other.example/);
    expect(check(corp, "CN=Jane Doe", sans({}))).not.toThrow();
  });

  it("leaves kinds without permitted subtrees unconstrained", () => {
    expect(
      check(
        { permitted: { ...none, dns: ["corp.example"] }, excluded: none },
        "",
        sans({ emails: ["x@y.z"] }),
      ),
    ).not.toThrow();
  });

  it("refuses malformed CIDR ranges", () => {
    expect(() => parseCidr("10.0.0.0")).toThrow(DomainError);
    expect(() => parseCidr("10.0.0.0/33")).toThrow(DomainError);
    expect(parseCidr("10.0.0.0/12").mask.toString("hex")).toBe("fff00000");
  });
});

describe("serial numbers", () => {
  it("reads serials as people type them into the stored form", () => {
    expect(canonicalSerial("01:AB:cd")).toBe("01abcd");
    expect(canonicalSerial("0001abcd")).toBe("01abcd");
    expect(canonicalSerial("00ff")).toBe("ff");
    expect(() => canonicalSerial("xyz")).toThrow(DomainError);
  });

  it("spreads serials over shards from their low bits", () => {
    expect(shardOf("01ffffff", 1)).toBe(0);
    expect(shardOf("0100000f", 16)).toBe(15);
  });
});
