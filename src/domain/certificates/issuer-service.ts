import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { isObjectName } from "../ids.js";
import type { Sealer } from "../sealing/ports.js";
import type { Vault } from "../vaults/model.js";
import type { CertificateIssuer } from "./model.js";
import type { CertificateStore } from "./ports.js";

export interface IssuerServiceDeps {
  store: Pick<CertificateStore, "listIssuers" | "getIssuer" | "putIssuer" | "deleteIssuer">;
  sealer: Sealer;
  clock: Clock;
}

export type IssuerService = ReturnType<typeof createIssuerService>;

/** What an issuer set or update may change; absent fields keep their value on update. */
export interface IssuerInput {
  provider?: string | undefined;
  accountId?: string | undefined;
  password?: string | undefined;
  organizationId?: string | undefined;
  administrators?: CertificateIssuer["administrators"] | undefined;
  enabled?: boolean | undefined;
}

/** The sealing context of an issuer's credentials password (an ACME issuer's EAB HMAC key). */
export const issuerPasswordContext = (vaultId: string, issuerName: string): string =>
  `issuer/${vaultId}/${issuerName.toLowerCase()}`;

const issuerNotFound = (name: string) =>
  new DomainError("NotFound", `Issuer not found: ${name}`, { reason: "CertificateIssuerNotFound" });

/**
 * A vault's certificate issuers (Key Vault's `/certificates/issuers`): the provider a policy's
 * `issuer.name` hands issuance to, with its credentials, the password sealed and never returned.
 */
export function createIssuerService({ store, sealer, clock }: IssuerServiceDeps) {
  async function get(vault: Vault, name: string): Promise<CertificateIssuer> {
    const issuer = await store.getIssuer(vault.id, name);
    if (!issuer) throw issuerNotFound(name);
    return issuer;
  }

  return {
    list: (vault: Vault) => store.listIssuers(vault.id),

    get,

    /** Sets an issuer whole (PUT), or with `merge` changes only the given fields of one (PATCH). */
    async set(vault: Vault, name: string, input: IssuerInput, merge: boolean): Promise<CertificateIssuer> {
      if (!isObjectName(name)) {
        throw badParameter(
          `The issuer name "${name}" is invalid: use 1-127 characters of letters, digits and '-'`,
        );
      }
      // A policy names Self and Unknown as issuers without an issuer object: one would shadow them.
      if (["self", "unknown"].includes(name.toLowerCase()))
        throw badParameter(`"${name}" is a reserved issuer name`);
      const existing = await store.getIssuer(vault.id, name);
      if (merge && !existing) throw issuerNotFound(name);
      const kept = merge ? existing : undefined;
      const provider = input.provider ?? kept?.provider;
      if (!provider) throw badParameter("provider is required");
      const now = clock.now();
      const issuer: CertificateIssuer = {
        vaultId: vault.id,
        name,
        provider,
        accountId: input.accountId ?? kept?.accountId,
        sealedPassword:
          input.password !== undefined
            ? sealer.seal(Buffer.from(input.password, "utf8"), issuerPasswordContext(vault.id, name))
            : kept?.sealedPassword,
        organizationId: input.organizationId ?? kept?.organizationId,
        administrators: input.administrators ?? kept?.administrators ?? [],
        enabled: input.enabled ?? kept?.enabled ?? true,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      };
      await store.putIssuer(issuer);
      return issuer;
    },

    async remove(vault: Vault, name: string): Promise<CertificateIssuer> {
      const issuer = await get(vault, name);
      await store.deleteIssuer(vault.id, name);
      return issuer;
    },
  };
}
