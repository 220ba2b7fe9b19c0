import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AccessService } from "../../domain/access/access-service.js";
import { authorizeDataPlane } from "../../domain/access/authorize.js";
import { type DataAction, DataActions } from "../../domain/access/data-actions.js";
import type { IdentityService } from "../../domain/access/identity-service.js";
import { checkReissueOptions } from "../../domain/campaigns/campaign-service.js";
import { policyChange, reissueVaultCertificate } from "../../domain/campaigns/reissue.js";
import type { CertificateService } from "../../domain/certificates/certificate-service.js";
import type { ContactsService } from "../../domain/certificates/contacts-service.js";
import type { IssuerService } from "../../domain/certificates/issuer-service.js";
import { badParameter, DomainError } from "../../domain/errors.js";
import type { KeyService } from "../../domain/keys/key-service.js";
import { MAX_PAGE_SIZE, type Page } from "../../domain/paging.js";
import type { SecretService } from "../../domain/secrets/secret-service.js";
import type { Vault } from "../../domain/vaults/model.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";
import { ContactsBody } from "../keyvault/certificate-contacts-routes.js";
import { IssuerBody, issuerInput } from "../keyvault/certificate-issuers-routes.js";
import {
  contactsWire,
  issuerWire,
  type PolicyWire,
  policyFromWire,
  policyToWire,
} from "../keyvault/certificate-wire.js";
import { Policy } from "../keyvault/certificates-routes.js";
import { renderKeyVaultError } from "../keyvault/errors.js";
import { outsideFirewall } from "../keyvault/vault-firewall.js";
import { routeOf } from "../request-context.js";
import type { SessionAuth } from "../ui/session-auth.js";
import { allowOrRefuse, authenticateCaller } from "./admin-authorization.js";
import { QueryNumber, queryNumber } from "./query-number.js";
import { certificateItemView, keyItemView, operationView, secretItemView } from "./vault-object-wire.js";

export interface VaultObjectRouteDeps {
  identity: IdentityService;
  access: AccessService;
  /** Dashboard sessions, which call the admin API with the signed-in user as the caller. */
  sessions?: SessionAuth | undefined;
  vaults: VaultService;
  certificates: CertificateService;
  keys: KeyService;
  secrets: SecretService;
  issuers: IssuerService;
  contacts: ContactsService;
  vaultUrl: (name: string) => string;
}

type Collection = "secrets" | "keys" | "certificates";

const PageQuery = Type.Object(
  { after: Type.Optional(Type.String()), limit: Type.Optional(QueryNumber) },
  { additionalProperties: false },
);
type PageQuery = Static<typeof PageQuery>;
const ReissueBody = Type.Object(
  {
    issuer: Type.Optional(Type.String({ minLength: 1 })),
    keyType: Type.Optional(Type.Union([Type.Literal("EC"), Type.Literal("RSA")])),
    keySize: Type.Optional(Type.Integer()),
    curve: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

/** What one route needs granted, as the Key Vault operation it mirrors does (route-access.ts). */
const rights = (
  operation: string,
  dataAction: DataAction,
  permission: `${Collection}/${string}`,
  collection?: Collection,
) => ({
  operation,
  ...(collection && { collection }),
  access: { dataAction, permission },
});

type VaultParams = { vault: string };
type ObjectParams = VaultParams & { name: string };
type VersionParams = ObjectParams & { version: string };

/**
 * The dashboard's Vaults page: a vault's certificates, keys and secrets, their versions, a
 * certificate's policy, the vault's issuers and contacts, a secret's value on request, and a
 * certificate's re-issue. The Key Vault data plane picks its vault from the Host name, which a page on
 * the dashboard's origin cannot choose, so these routes name it in the path; otherwise each is the
 * Key Vault operation it mirrors: the same data-plane right is asked of the user (a role at the
 * installation, the vault or the object, or the vault's access policy), the same service call is
 * made, and the audit row has the same operation name, vault and object id. The admin API's own
 * rights (Strongroom/admin/*) are not asked: they grant no vault data.
 */
export function registerVaultObjectRoutes(app: FastifyInstance, deps: VaultObjectRouteDeps): void {
  const { vaults, certificates, keys, secrets, issuers, contacts } = deps;

  app.register(async (objects) => {
    objects.setErrorHandler(renderKeyVaultError);

    objects.addHook("preValidation", async (request: FastifyRequest) => {
      const { caller, grants } = await authenticateCaller(request, deps, "admin API");
      const params = request.params as Partial<ObjectParams>;
      const vault = await vaults.get(params.vault ?? "");
      request.vaultContext = { vault, baseUrl: deps.vaultUrl(vault.name) };
      const config = routeOf(request).config;
      const access = config.access;
      if (!access) throw new Error(`route ${request.url} declares no data action`);
      const objectName = config.collection ? params.name : undefined;
      const settings = await deps.access.loadVaultAccess(vault.id);
      if (outsideFirewall(settings, request.ip)) {
        request.auditDetail = `deny: client address ${request.ip} is outside the vault's ipRules`;
        throw new DomainError(
          "Forbidden",
          `Client address is not authorized.\r\nClient address: ${request.ip}\r\nVault: ${vault.name};location=local`,
          { reason: "ForbiddenByFirewall" },
        );
      }
      const decision = authorizeDataPlane(grants, settings, {
        access,
        vaultId: vault.id,
        vaultName: vault.name.toLowerCase(),
        collection: config.collection,
        objectName,
      });
      const scope = `/vaults/${vault.name}${config.collection ? `/${config.collection}${objectName ? `/${objectName}` : ""}` : ""}`;
      allowOrRefuse(request, caller, decision, access.dataAction, scope);
    });

    const context = (request: FastifyRequest) => {
      const ctx = request.vaultContext;
      if (!ctx) throw new Error("vault context missing: set by this plugin's preValidation hook");
      return ctx;
    };
    const page = (query: PageQuery) =>
      [query.after, queryNumber(query.limit, "limit", { min: 1, max: MAX_PAGE_SIZE })] as const;
    const paged = <T>(p: Page<T>, view: (item: T) => unknown) => ({
      value: p.items.map(view),
      next: p.next ?? null,
    });

    // Listings and versions: the metadata Key Vault's list operations return, never a value.
    const listing = <T>(
      collection: Collection,
      noun: string,
      dataAction: DataAction,
      list: (vault: Vault, after: string | undefined, limit: number | undefined) => Promise<Page<T>>,
      view: (item: T) => unknown,
    ) =>
      objects.get<{ Params: VaultParams; Querystring: PageQuery }>(
        `/admin/vaults/:vault/${collection}`,
        {
          schema: { querystring: PageQuery },
          config: rights(`${noun}List`, dataAction, `${collection}/list`),
        },
        async (request) => paged(await list(context(request).vault, ...page(request.query)), view),
      );
    const versionListing = <T>(
      collection: Collection,
      noun: string,
      dataAction: DataAction,
      versions: (
        vault: Vault,
        name: string,
        after: string | undefined,
        limit: number | undefined,
      ) => Promise<Page<T>>,
      view: (item: T) => unknown,
    ) =>
      objects.get<{ Params: ObjectParams; Querystring: PageQuery }>(
        `/admin/vaults/:vault/${collection}/:name/versions`,
        {
          schema: { querystring: PageQuery },
          config: rights(`${noun}VersionList`, dataAction, `${collection}/list`, collection),
        },
        async (request) =>
          paged(await versions(context(request).vault, request.params.name, ...page(request.query)), view),
      );
    listing(
      "certificates",
      "Certificate",
      DataActions.certificatesRead,
      certificates.list,
      certificateItemView,
    );
    listing("keys", "Key", DataActions.keysRead, keys.list, keyItemView);
    listing("secrets", "Secret", DataActions.secretsReadMetadata, secrets.list, secretItemView);
    versionListing(
      "certificates",
      "Certificate",
      DataActions.certificatesRead,
      certificates.listVersions,
      certificateItemView,
    );
    versionListing("keys", "Key", DataActions.keysRead, keys.listVersions, keyItemView);
    versionListing(
      "secrets",
      "Secret",
      DataActions.secretsReadMetadata,
      secrets.listVersions,
      secretItemView,
    );

    objects.get<{ Params: ObjectParams }>(
      "/admin/vaults/:vault/certificates/:name/policy",
      {
        config: rights(
          "CertificatePolicyGet",
          DataActions.certificatesRead,
          "certificates/get",
          "certificates",
        ),
      },
      async (request) => {
        const ctx = context(request);
        const { name } = request.params;
        return policyToWire(ctx, name, await certificates.getPolicy(ctx.vault, name));
      },
    );

    // Key Vault's policy shape and its validation; an organisation rule's refusal names the rule.
    objects.patch<{ Params: ObjectParams; Body: PolicyWire }>(
      "/admin/vaults/:vault/certificates/:name/policy",
      {
        schema: { body: Policy },
        config: rights(
          "CertificatePolicyUpdate",
          DataActions.certificatesUpdate,
          "certificates/update",
          "certificates",
        ),
      },
      async (request) => {
        const ctx = context(request);
        const { name } = request.params;
        return policyToWire(
          ctx,
          name,
          await certificates.updatePolicy(ctx.vault, name, policyFromWire(request.body)),
        );
      },
    );

    objects.get<{ Params: VaultParams }>(
      "/admin/vaults/:vault/issuers",
      {
        config: rights(
          "CertificateIssuerList",
          DataActions.certificateIssuersRead,
          "certificates/listissuers",
        ),
      },
      async (request) => {
        const ctx = context(request);
        return {
          value: (await issuers.list(ctx.vault)).map((i) => ({ name: i.name, ...issuerWire(ctx, i) })),
        };
      },
    );

    objects.put<{ Params: VaultParams & { issuer: string }; Body: Static<typeof IssuerBody> }>(
      "/admin/vaults/:vault/issuers/:issuer",
      {
        schema: { body: IssuerBody },
        config: rights(
          "CertificateIssuerSet",
          DataActions.certificateIssuersWrite,
          "certificates/setissuers",
        ),
      },
      async (request) => {
        const ctx = context(request);
        const issuer = await issuers.set(ctx.vault, request.params.issuer, issuerInput(request.body), false);
        return { name: issuer.name, ...issuerWire(ctx, issuer) };
      },
    );

    objects.delete<{ Params: VaultParams & { issuer: string } }>(
      "/admin/vaults/:vault/issuers/:issuer",
      {
        config: rights(
          "CertificateIssuerDelete",
          DataActions.certificateIssuersDelete,
          "certificates/deleteissuers",
        ),
      },
      async (request, reply) => {
        await issuers.remove(context(request).vault, request.params.issuer);
        return reply.status(204).send();
      },
    );

    // Key Vault asks "manage contacts" for reading them too; none set reads as an empty list here.
    objects.get<{ Params: VaultParams }>(
      "/admin/vaults/:vault/contacts",
      {
        config: rights(
          "CertificateContactsGet",
          DataActions.certificateContactsWrite,
          "certificates/managecontacts",
        ),
      },
      async (request) => {
        const ctx = context(request);
        try {
          return contactsWire(ctx, await contacts.get(ctx.vault));
        } catch (error) {
          if (error instanceof DomainError && error.reason === "ContactsNotFound")
            return contactsWire(ctx, []);
          throw error;
        }
      },
    );

    objects.put<{ Params: VaultParams; Body: Static<typeof ContactsBody> }>(
      "/admin/vaults/:vault/contacts",
      {
        schema: { body: ContactsBody },
        config: rights(
          "CertificateContactsSet",
          DataActions.certificateContactsWrite,
          "certificates/managecontacts",
        ),
      },
      async (request) => {
        const ctx = context(request);
        return contactsWire(ctx, await contacts.set(ctx.vault, request.body.contacts));
      },
    );

    // A POST, not a GET: a value must not sit in a browser's history, a prefetch or a cache, and each
    // reveal is one audited SecretGet, as the Key Vault API records it.
    objects.post<{ Params: VersionParams }>(
      "/admin/vaults/:vault/secrets/:name/:version/reveal",
      { config: rights("SecretGet", DataActions.secretsGet, "secrets/get", "secrets") },
      async (request, reply) => {
        const { name, version } = request.params;
        const { secret, value } = await secrets.get(context(request).vault, name, version);
        reply.header("cache-control", "no-store");
        return {
          name: secret.name,
          version: secret.version,
          ...(secret.contentType !== undefined && { contentType: secret.contentType }),
          value,
        };
      },
    );

    // A new version through the policy, optionally from another issuer or with another key, as one
    // item of a re-issuance campaign is made.
    objects.post<{ Params: ObjectParams; Body: unknown }>(
      "/admin/vaults/:vault/certificates/:name/reissue",
      {
        config: rights(
          "CertificateReissue",
          DataActions.certificatesCreate,
          "certificates/create",
          "certificates",
        ),
      },
      async (request, reply) => {
        // Checked here, not by a route schema: a re-issue that changes nothing may have no body.
        const options = request.body ?? {};
        if (!Value.Check(ReissueBody, options)) {
          const [first] = Value.Errors(ReissueBody, options);
          throw badParameter(
            `The re-issue's ${first?.path.slice(1) || "body"} is invalid: ${first?.message}`,
          );
        }
        checkReissueOptions(options);
        const operation = await reissueVaultCertificate(
          certificates,
          context(request).vault,
          request.params.name,
          policyChange(options),
        );
        return reply.status(operation.status === "inProgress" ? 202 : 200).send(operationView(operation));
      },
    );
  });
}
