import Fastify, { type RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_ROLES } from "../../src/domain/access/roles.js";
import type { CertificateService } from "../../src/domain/certificates/certificate-service.js";
import type { ContactsService } from "../../src/domain/certificates/contacts-service.js";
import type { IssuerService } from "../../src/domain/certificates/issuer-service.js";
import type { SecretFormats } from "../../src/domain/certificates/secret-formats.js";
import type { KeyService } from "../../src/domain/keys/key-service.js";
import type { SecretService } from "../../src/domain/secrets/secret-service.js";
import { registerCertificateContactsRoutes } from "../../src/http/keyvault/certificate-contacts-routes.js";
import { registerCertificateIssuerRoutes } from "../../src/http/keyvault/certificate-issuers-routes.js";
import { registerCertificateRoutes } from "../../src/http/keyvault/certificates-routes.js";
import { registerKeyRoutes } from "../../src/http/keyvault/keys-routes.js";
import { registerSecretRoutes } from "../../src/http/keyvault/secrets-routes.js";
import "../../src/http/request-context.js";
import { adminCall, assignRole, createPrincipal, kvAs, tokenFor } from "../support/access.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

/** Every data-plane route as registered, found by registering the route modules on a probe. */
function dataPlaneRoutes(): RouteOptions[] {
  const routes: RouteOptions[] = [];
  const probe = Fastify();
  probe.addHook("onRoute", (route) => {
    routes.push(route);
  });
  // The handlers are never called: only registration is observed.
  registerSecretRoutes(probe, {} as SecretService, {} as SecretFormats);
  registerKeyRoutes(probe, {} as KeyService);
  registerCertificateRoutes(probe, {} as CertificateService);
  registerCertificateIssuerRoutes(probe, {} as IssuerService);
  registerCertificateContactsRoutes(probe, {} as ContactsService);
  return routes.filter((r) => r.method !== "HEAD");
}

// The documented meaning of each built-in role (Azure's role descriptions), spelled as operations
// and written without looking at data actions, so the matrix checks the definitions, not itself.
const secretMetadata = ["SecretList", "SecretListVersions", "SecretListDeleted", "SecretGetDeleted"];
const keyMetadata = [
  "KeyGet",
  "KeyList",
  "KeyListVersions",
  "KeyListDeleted",
  "KeyGetDeleted",
  "KeyGetAttestation",
];
const certificateMetadata = [
  "CertificateGet",
  "CertificateList",
  "CertificateListVersions",
  "CertificatePolicyGet",
  "CertificatePendingGet",
  "CertificateListDeleted",
  "CertificateGetDeleted",
];
const issuerMetadata = ["CertificateIssuerList", "CertificateIssuerGet"];
const secretOps = [
  ...secretMetadata,
  "SecretGet",
  "SecretSet",
  "SecretUpdate",
  "SecretDelete",
  "SecretRecover",
  "SecretPurge",
  "SecretBackup",
  "SecretRestore",
];
const keyOps = [
  ...keyMetadata,
  "KeyCreate",
  "KeyImport",
  "KeyUpdate",
  "KeyDelete",
  "KeyRecover",
  "KeyPurge",
  "KeyBackup",
  "KeyRestore",
  "KeyRotate",
  "KeyGetRotationPolicy",
  "KeyUpdateRotationPolicy",
  "KeySign",
  "KeyVerify",
  "KeyEncrypt",
  "KeyDecrypt",
  "KeyWrap",
  "KeyUnwrap",
  "KeyRelease",
];
const certificateOps = [
  ...certificateMetadata,
  ...issuerMetadata,
  "CertificateCreate",
  "CertificateImport",
  "CertificateUpdate",
  "CertificatePolicyUpdate",
  "CertificatePendingUpdate",
  "CertificatePendingDelete",
  "CertificatePendingMerge",
  "CertificateDelete",
  "CertificateRecover",
  "CertificatePurge",
  "CertificateBackup",
  "CertificateRestore",
  "CertificateIssuerSet",
  "CertificateIssuerUpdate",
  "CertificateIssuerDelete",
  "CertificateContactsGet",
  "CertificateContactsSet",
  "CertificateContactsDelete",
];
const allOps = [...secretOps, ...keyOps, ...certificateOps, "GetRandomBytes"];

const MEANING: Record<string, string[]> = {
  // "Perform all data plane operations on a key vault and all objects in it."
  "Key Vault Administrator": allOps,
  // "Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive
  // values such as secret contents or key material." Contacts are managed, not read, in Key Vault.
  "Key Vault Reader": [
    ...secretMetadata,
    ...keyMetadata,
    "KeyGetRotationPolicy",
    ...certificateMetadata,
    ...issuerMetadata,
  ],
  // "Perform any action on the certificates of a key vault, except manage permissions."
  "Key Vault Certificates Officer": certificateOps,
  // "Read certificate contents": the certificate, its secret (with the private key) and its key.
  "Key Vault Certificate User": [...certificateMetadata, "SecretGet", ...secretMetadata, ...keyMetadata],
  // "Perform any action on the keys of a key vault, except manage permissions."
  "Key Vault Crypto Officer": keyOps,
  // "Perform cryptographic operations using keys."
  "Key Vault Crypto User": [
    ...keyMetadata,
    "KeyUpdate",
    "KeyBackup",
    "KeyEncrypt",
    "KeyDecrypt",
    "KeyWrap",
    "KeyUnwrap",
    "KeySign",
    "KeyVerify",
  ],
  // "Read metadata of keys and perform wrap/unwrap operations."
  "Key Vault Crypto Service Encryption User": [...keyMetadata, "KeyWrap", "KeyUnwrap"],
  // "Perform any action on the secrets of a key vault, except manage permissions."
  "Key Vault Secrets Officer": secretOps,
  // "Read secret contents including secret portion of a certificate with private key."
  "Key Vault Secrets User": ["SecretGet", ...secretMetadata],
};

const SCOPES = ["installation", "vault", "object", "other vault", "other object"] as const;
type ScopeName = (typeof SCOPES)[number];

const scopesFor = (scope: ScopeName): string[] => {
  const objects = (name: string) =>
    ["secrets", "keys", "certificates"].map((c) => `/vaults/default/${c}/${name}`);
  switch (scope) {
    case "installation":
      return ["/"];
    case "vault":
      return ["/vaults/default"];
    case "object":
      return objects("target");
    case "other vault":
      return ["/vaults/other"];
    case "other object":
      return objects("other");
  }
};

describe("the RBAC matrix: every built-in role × every data-plane operation × scope", () => {
  let server: InProcess;
  let principal: { id: string; clientId: string; clientSecret: string };
  let token: string;
  const routes = dataPlaneRoutes();

  beforeAll(async () => {
    server = await startInProcess();
    expect((await adminCall(server, "POST", "/admin/vaults", { name: "other" })).status).toBe(201);
    principal = await createPrincipal(server, "matrix-subject");
    token = await tokenFor(server, principal.clientId, principal.clientSecret);
  }, 60_000);
  afterAll(() => server?.stop());

  it("covers every registered data-plane route, each declaring its data action", () => {
    const operations = new Set(routes.map((r) => r.config?.operation));
    expect([...operations].sort()).toEqual([...new Set(allOps)].sort());
    for (const route of routes)
      expect(route.config?.access?.dataAction, route.url).toMatch(/^Microsoft\.KeyVault\//);
  });

  it("denies everything without a role assignment", async () => {
    for (const route of routes) {
      const res = await request(route);
      expect(res.status, `${route.method} ${route.url}`).toBe(403);
      expect(res.body.error).toMatchObject({ code: "Forbidden", innererror: { code: "ForbiddenByRbac" } });
      expect(res.body.error.message).toMatch(/^Caller is not authorized to perform action on resource\./);
    }
  });

  const roles = BUILT_IN_ROLES.filter((r) => r.dataActions.length > 0);

  it("knows the documented meaning of every built-in data-plane role", () => {
    expect(roles.map((r) => r.name).sort()).toEqual(Object.keys(MEANING).sort());
  });

  for (const role of roles) {
    it(`grants ${role.name} exactly its documented operations at each scope`, async () => {
      const meaning = new Set(MEANING[role.name]);
      const overGrants: string[] = [];
      const underGrants: string[] = [];
      for (const scope of SCOPES) {
        const assignments = [];
        for (const s of scopesFor(scope))
          assignments.push(await assignRole(server, principal.id, role.name, s));
        for (const route of routes) {
          const operation = route.config?.operation as string;
          const objectScoped = route.config?.collection !== undefined && route.url.includes(":name");
          const expected =
            meaning.has(operation) &&
            (scope === "installation" || scope === "vault" || (scope === "object" && objectScoped));
          const res = await request(route);
          const allowed = res.status !== 403;
          const cell = `${scope}: ${route.method} ${route.url} (${operation}) -> ${res.status}`;
          if (allowed && !expected) overGrants.push(cell);
          if (!allowed && expected) underGrants.push(cell);
        }
        for (const a of assignments) {
          expect((await adminCall(server, "DELETE", `/admin/roleassignments/${a.id}`)).status).toBe(204);
        }
      }
      expect({ overGrants, underGrants }).toEqual({ overGrants: [], underGrants: [] });
    }, 120_000);
  }

  async function request(route: RouteOptions) {
    const url = `${route.url.replace(":name", "target").replace(":version", "0123456789abcdef")}?api-version=7.6`;
    const method = route.method as "GET" | "PUT" | "POST" | "PATCH" | "DELETE";
    const withBody = method === "PUT" || method === "POST" || method === "PATCH";
    return kvAs(server, token, method, url, withBody ? { body: {} } : {});
  }
});
