import "reflect-metadata";
import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createScryptSecretHasher } from "../../src/crypto/scrypt-secret-hasher.js";
import { createX509CertificateInspector } from "../../src/crypto/x509-certificate-inspector.js";
import { type AccessService, createAccessService } from "../../src/domain/access/access-service.js";
import { authorizeDataPlane } from "../../src/domain/access/authorize.js";
import { DataActions } from "../../src/domain/access/data-actions.js";
import { DEFAULT_VAULT_ACCESS } from "../../src/domain/access/model.js";
import { createPrincipalService, type PrincipalService } from "../../src/domain/access/principal-service.js";
import { systemClock } from "../../src/domain/clock.js";
import type { Vault } from "../../src/domain/vaults/model.js";
import { createVaultService } from "../../src/domain/vaults/vault-service.js";
import { createSqlAccessStore } from "../../src/storage/sql-access-store.js";
import { createSqlPrincipalStore } from "../../src/storage/sql-principal-store.js";
import { createSqlVaultStore } from "../../src/storage/sql-vault-store.js";
import { backends, openFreshStorage } from "../support/backends.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

async function certificatePem(): Promise<string> {
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "02",
    name: "CN=store-test",
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
  });
  return cert.toString("pem");
}

const secretGet = { dataAction: DataActions.secretsGet, permission: "secrets/get" as const };

for (const backend of backends) {
  describe.skipIf(!backend.available)(`access storage on ${backend.engine}`, () => {
    let fresh: Awaited<ReturnType<typeof openFreshStorage>>;
    let principals: PrincipalService;
    let access: AccessService;
    let vault: Vault;

    beforeAll(async () => {
      fresh = await openFreshStorage(backend);
      const principalStore = createSqlPrincipalStore(fresh.storage);
      access = createAccessService({
        store: createSqlAccessStore(fresh.storage),
        principals: principalStore,
        clock: systemClock,
      });
      principals = createPrincipalService({
        store: principalStore,
        hasher: createScryptSecretHasher(),
        inspector: createX509CertificateInspector(),
        clock: systemClock,
        onChange: access.invalidate,
      });
      vault = await createVaultService({
        store: createSqlVaultStore(fresh.storage),
        clock: systemClock,
      }).create("store-vault");
    }, 60_000);
    afterAll(() => fresh?.dispose());

    const allowed = async (principalId: string, settings = DEFAULT_VAULT_ACCESS) => {
      const grants = await access.loadGrants(principalId);
      if (!grants) return false;
      return authorizeDataPlane(grants, settings, {
        access: secretGet,
        vaultId: vault.id,
        vaultName: vault.name,
        collection: "secrets",
        objectName: "db",
      }).allowed;
    };

    it("resolves rights granted directly and through a group, and forgets them when removed", async () => {
      const { principal: app } = await principals.create("app");
      const { principal: team } = await principals.create("team", "group");
      expect(await allowed(app.id)).toBe(false);

      const direct = await access.assign(app.id, "Key Vault Secrets User", "/vaults/STORE-VAULT/secrets/DB");
      expect(direct.scope).toBe("/vaults/store-vault/secrets/db");
      expect(await allowed(app.id)).toBe(true);
      await expect(
        access.assign(app.id, "Key Vault Secrets User", "/vaults/store-vault/secrets/db"),
      ).rejects.toMatchObject({
        code: "Conflict",
      });
      await access.unassign(direct.id);
      expect(await allowed(app.id)).toBe(false);

      await access.assign(team.id, "Key Vault Secrets Officer", "/vaults/store-vault");
      await access.addMember(team.id, app.id);
      expect(await access.members(team.id)).toEqual([app.id]);
      expect(await allowed(app.id)).toBe(true);
      await access.removeMember(team.id, app.id);
      expect(await allowed(app.id)).toBe(false);
    });

    it("keeps custom roles while assigned and removes everything of a deleted principal", async () => {
      const role = await access.createRole({ name: "Getter", dataActions: [DataActions.secretsGet] });
      const { principal } = await principals.create("doomed");
      await access.assign(principal.id, "getter", "/");
      await expect(access.deleteRole(role.id)).rejects.toMatchObject({ code: "Conflict" });
      await access.setPolicy(vault, principal.id, { secrets: ["get"] });
      expect(await allowed(principal.id)).toBe(true);

      await principals.remove(principal.id);
      expect(await access.assignments(principal.id)).toEqual([]);
      expect(await access.policies(vault)).toEqual([]);
      expect(await access.loadGrants(principal.id)).toBeUndefined();
      await access.deleteRole(role.id);
      expect((await access.roles()).some((r) => r.id === role.id)).toBe(false);
    });

    it("stores access policies and the vault's mode and IP rules", async () => {
      const { principal } = await principals.create("legacy-app");
      const policy = await access.setPolicy(vault, principal.id, { secrets: ["Get", "list"], keys: ["all"] });
      expect(policy.secrets).toEqual(["get", "list"]);
      expect(policy.keys).toHaveLength(20);
      await access.setPolicy(vault, principal.id, { secrets: ["list"] });
      expect((await access.policies(vault)).map((p) => p.secrets)).toEqual([["list"]]);

      const settings = await access.setVaultAccess(vault, {
        enableRbacAuthorization: false,
        ipRules: ["10.0.0.0/8"],
      });
      expect(await access.vaultAccess(vault)).toEqual(settings);
      expect(await allowed(principal.id, settings)).toBe(false);
      await access.setPolicy(vault, principal.id, { secrets: ["get"] });
      expect(await allowed(principal.id, settings)).toBe(true);
      await access.setVaultAccess(vault, { enableRbacAuthorization: true, ipRules: [] });
    });

    it("removes a deleted vault's assignments, policies and settings, and no other vault's", async () => {
      const vaults = createVaultService({ store: createSqlVaultStore(fresh.storage), clock: systemClock });
      const [gone, neighbour] = [await vaults.create("team2"), await vaults.create("team22")];
      const { principal } = await principals.create("tenant");
      await access.assign(principal.id, "Key Vault Reader", "/vaults/team2");
      await access.assign(principal.id, "Key Vault Reader", "/vaults/team2/secrets/x");
      const kept = await access.assign(principal.id, "Key Vault Reader", "/vaults/team22");
      await access.setPolicy(gone, principal.id, { secrets: ["get"] });
      await access.setVaultAccess(gone, { enableRbacAuthorization: false, ipRules: [] });
      await vaults.remove("team2");
      expect((await access.assignments(principal.id)).map((a) => a.id)).toEqual([kept.id]);
      const again = await vaults.create("team2");
      expect(await access.policies(again)).toEqual([]);
      expect((await access.vaultAccess(again)).enableRbacAuthorization).toBe(true);
      expect(neighbour.name).toBe("team22");
    });

    it("stores client secrets, certificates and federated credentials", async () => {
      const created = await principals.create("creds");
      const id = created.principal.id;
      const cert = await principals.addCertificate(id, Buffer.from(await certificatePem()));
      await principals.addFederated(id, {
        name: "ci",
        issuer: "https://token.actions.githubusercontent.com",
        subject: "repo:o/r:ref:refs/heads/main",
      });
      await expect(
        principals.addFederated(id, { name: "ci", issuer: "https://example.com", subject: "x" }),
      ).rejects.toMatchObject({ code: "Conflict" });
      await expect(
        principals.addFederated(id, { name: "plain", issuer: "http://example.com", subject: "x" }),
      ).rejects.toMatchObject({
        code: "BadParameter",
      });
      const extra = await principals.addSecret(id);
      const found = await principals.find(created.principal.clientId);
      expect(found.secrets.map((s) => s.id).sort()).toEqual([created.secretId, extra.id].sort());
      expect(found.certificates[0]).toMatchObject({ id: cert.id, thumbprintSha256: cert.thumbprintSha256 });
      expect(found.certificates[0]?.der.equals(cert.der)).toBe(true);
      expect(found.federated[0]).toMatchObject({ name: "ci", audiences: ["api://AzureADTokenExchange"] });

      await principals.removeSecret(id, extra.id);
      await principals.removeCertificate(id, cert.id);
      await principals.removeFederated(id, found.federated[0]?.id ?? "");
      const after = await principals.find(id);
      expect([after.secrets.length, after.certificates.length, after.federated.length]).toEqual([1, 0, 0]);
    });
  });
}
