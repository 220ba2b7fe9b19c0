import { type Static, Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply } from "fastify";
import { fromPem, toPem } from "../../crypto/pem.js";
import { approvalData } from "../../domain/approvals/model.js";
import { type CaService, parseReason, type SignResult } from "../../domain/ca/ca-service.js";
import type { CertificateAuthority, IssuedCertificate } from "../../domain/ca/model.js";
import { CA_KEY_ALGORITHMS } from "../../domain/ca/model.js";
import { reissueIssued } from "../../domain/campaigns/reissue.js";
import type { KeyUsage } from "../../domain/certificates/model.js";
import { badParameter, DomainError } from "../../domain/errors.js";
import type { VaultService } from "../../domain/vaults/vault-service.js";
import { operationView } from "./vault-object-wire.js";

export interface CaRouteDeps {
  ca: CaService;
  vaults: Pick<VaultService, "get">;
  /** Re-issues what a vault policy asked the CA for, through that policy. */
  certificates: Parameters<typeof reissueIssued>[0]["certificates"];
}

const Subtrees = Type.Object(
  {
    dns: Type.Optional(Type.Array(Type.String())),
    ip: Type.Optional(Type.Array(Type.String())),
    email: Type.Optional(Type.Array(Type.String())),
    uri: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
const CreateCaBody = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    subject: Type.String({ minLength: 1 }),
    kind: Type.Union([Type.Literal("root"), Type.Literal("intermediate")]),
    parent: Type.Optional(Type.String({ minLength: 1 })),
    external: Type.Optional(Type.Boolean()),
    keyAlgorithm: Type.Optional(Type.Union(CA_KEY_ALGORITHMS.map((a) => Type.Literal(a)))),
    protection: Type.Optional(Type.Union([Type.Literal("software"), Type.Literal("hsm")])),
    validityDays: Type.Optional(Type.Integer({ minimum: 1 })),
    pathLength: Type.Optional(Type.Integer({ minimum: 0 })),
    nameConstraints: Type.Optional(
      Type.Object(
        { permitted: Type.Optional(Subtrees), excluded: Type.Optional(Subtrees) },
        { additionalProperties: false },
      ),
    ),
    policies: Type.Optional(Type.Array(Type.String())),
    crlShards: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);
const ImportBody = Type.Object(
  { certificate: Type.String({ minLength: 1 }) },
  { additionalProperties: false },
);
const SignBody = Type.Object(
  {
    csr: Type.String({ minLength: 1 }),
    validityDays: Type.Optional(Type.Integer({ minimum: 1 })),
    ekus: Type.Optional(Type.Array(Type.String())),
    keyUsage: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);
/** A certificate by serial (optionally of one CA), or by the vault certificate version it backs. */
const Target = {
  serial: Type.Optional(Type.String({ minLength: 1 })),
  ca: Type.Optional(Type.String({ minLength: 1 })),
  vault: Type.Optional(Type.String({ minLength: 1 })),
  certificate: Type.Optional(Type.String({ minLength: 1 })),
  version: Type.Optional(Type.String({ minLength: 1 })),
};
const RevokeBody = Type.Object(
  { ...Target, reason: Type.Optional(Type.String()) },
  { additionalProperties: false },
);
const ReleaseBody = Type.Object(Target, { additionalProperties: false });

/** How long a client polling a held sign request waits between polls; approvers take minutes or more. */
const SIGN_RETRY_AFTER_SECONDS = "10";

const subtrees = (s: Static<typeof Subtrees> | undefined) => ({
  dns: s?.dns ?? [],
  ip: s?.ip ?? [],
  email: s?.email ?? [],
  uri: s?.uri ?? [],
});

export function caView(ca: CertificateAuthority) {
  return {
    id: ca.id,
    name: ca.name,
    kind: ca.kind,
    status: ca.status,
    parentId: ca.parentId,
    subject: ca.subject,
    keyAlgorithm: ca.keyAlgorithm,
    protection: ca.protection,
    pathLength: ca.pathLength,
    nameConstraints: ca.nameConstraints,
    policies: ca.policies,
    crlShards: ca.crlShards,
    notAfter: ca.notAfter?.toISOString(),
    certificate: ca.certificate && toPem("CERTIFICATE", ca.certificate),
    chain: ca.chain.map((c) => toPem("CERTIFICATE", c)),
    csr: ca.csr && toPem("CERTIFICATE REQUEST", ca.csr),
    createdAt: ca.createdAt.toISOString(),
  };
}

export function issuedView(i: IssuedCertificate) {
  return {
    caId: i.caId,
    serial: i.serial,
    subject: i.subject,
    notBefore: i.notBefore.toISOString(),
    notAfter: i.notAfter.toISOString(),
    status: i.status,
    revokedAt: i.revokedAt?.toISOString(),
    reason: i.reason,
    vault: i.vault && {
      vault: i.vault.vaultName,
      certificate: i.vault.name,
      version: i.vault.version,
    },
  };
}

const onePem = (text: string, what: string) => {
  const [der] = fromPem(text);
  if (!der) throw badParameter(`${what} must be PEM (or base64 DER)`);
  return der;
};

/** The private CA under /admin/cas and /admin/revocations; the admin scope has authenticated the caller. */
export function registerCaRoutes(admin: FastifyInstance, { ca, vaults, certificates }: CaRouteDeps): void {
  async function target(body: Static<typeof ReleaseBody>): Promise<IssuedCertificate> {
    if (body.serial) return ca.findIssued(body.serial, body.ca);
    if (body.vault && body.certificate && body.version) {
      const vault = await vaults.get(body.vault);
      return ca.findIssuedForVersion(vault.id, body.certificate, body.version);
    }
    throw badParameter(
      "Name the certificate by serial (and optionally ca), or by vault, certificate and version",
    );
  }

  admin.get("/admin/cas", { config: { operation: "CaList" } }, async () => ({
    value: (await ca.list()).map(caView),
  }));

  admin.post<{ Body: Static<typeof CreateCaBody> }>(
    "/admin/cas",
    { schema: { body: CreateCaBody }, config: { operation: "CaCreate" } },
    async (request, reply) => {
      const { kind, parent, external, nameConstraints, ...rest } = request.body;
      const input = {
        ...rest,
        nameConstraints: nameConstraints && {
          permitted: subtrees(nameConstraints.permitted),
          excluded: subtrees(nameConstraints.excluded),
        },
      };
      if (kind === "root" && (parent || external))
        throw badParameter("A root CA is self-signed: parent and external apply to intermediates");
      const created =
        kind === "root"
          ? await ca.createRoot(input)
          : await ca.createIntermediate({ ...input, parent, external });
      return reply.status(201).send(caView(created));
    },
  );

  admin.get<{ Params: { name: string } }>(
    "/admin/cas/:name",
    { config: { operation: "CaGet" } },
    async (request) => caView(await ca.get(request.params.name)),
  );

  admin.post<{ Params: { name: string }; Body: Static<typeof ImportBody> }>(
    "/admin/cas/:name/certificate",
    { schema: { body: ImportBody }, config: { operation: "CaImportCertificate" } },
    async (request) => {
      const certificates = fromPem(request.body.certificate);
      if (certificates.length === 0) throw badParameter("certificate must be PEM: the CA's, then its chain");
      return caView(await ca.importCertificate(request.params.name, certificates));
    },
  );

  /**
   * 201 with the certificate; or, when an approval rule holds the request, 202 with the approval
   * request's id and a Location to poll, which answers 202 until it is decided.
   */
  const signed = (reply: FastifyReply, caName: string, result: SignResult, created: boolean) => {
    if ("held" in result) {
      const location = `/admin/cas/${encodeURIComponent(caName)}/sign-requests/${result.held.id}`;
      return reply
        .status(202)
        .header("location", location)
        .header("retry-after", SIGN_RETRY_AFTER_SECONDS)
        .send({
          state: "pending",
          requestId: result.held.id,
          location,
          approval: approvalData(result.held),
        });
    }
    const { issued, chain } = result;
    return reply.status(created ? 201 : 200).send({
      ...issuedView(issued),
      certificate: toPem("CERTIFICATE", issued.der),
      chain: chain.map((c) => toPem("CERTIFICATE", c)),
    });
  };

  admin.post<{ Params: { name: string }; Body: Static<typeof SignBody> }>(
    "/admin/cas/:name/sign",
    { schema: { body: SignBody }, config: { operation: "CaSign" } },
    async (request, reply) => {
      const { csr, validityDays, ekus, keyUsage } = request.body;
      const result = await ca.requestSignature(
        request.params.name,
        onePem(csr, "csr"),
        { validityDays, ekus, keyUsage: keyUsage as KeyUsage[] | undefined },
        request.caller?.principalId ?? "unknown",
      );
      return signed(reply, request.params.name, result, true);
    },
  );

  admin.get<{ Params: { name: string; id: string } }>(
    "/admin/cas/:name/sign-requests/:id",
    { config: { operation: "CaSignRequestGet" } },
    async (request, reply) =>
      signed(
        reply,
        request.params.name,
        await ca.heldSignature(request.params.name, request.params.id),
        false,
      ),
  );

  admin.get<{ Params: { name: string } }>(
    "/admin/cas/:name/revocation-status",
    { config: { operation: "CaRevocationStatus" } },
    async (request) => {
      const { crl, ocsp } = await ca.revocationStatus(request.params.name);
      return {
        crl: crl && {
          ...crl,
          thisUpdate: crl.thisUpdate.toISOString(),
          nextUpdate: crl.nextUpdate.toISOString(),
        },
        ocsp: ocsp && { url: ocsp.url, responderNotAfter: ocsp.responderNotAfter.toISOString() },
      };
    },
  );

  admin.get<{ Params: { name: string }; Querystring: { limit?: string; after?: string } }>(
    "/admin/cas/:name/issued",
    { config: { operation: "CaListIssued" } },
    async (request) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      if (!Number.isInteger(limit)) throw badParameter("limit must be a whole number");
      const items = await ca.listIssued(request.params.name, limit, request.query.after);
      return { value: items.map(issuedView), nextAfter: items.at(-1)?.serial };
    },
  );

  admin.get<{ Params: { name: string; serial: string } }>(
    "/admin/cas/:name/issued/:serial",
    { config: { operation: "CaGetIssued" } },
    async (request) => {
      const issued = await ca.findIssued(request.params.serial, request.params.name);
      return { ...issuedView(issued), certificate: toPem("CERTIFICATE", issued.der) };
    },
  );

  // A new certificate for the same subject and SANs with a new key; 409 where the key is not ours.
  admin.post<{ Params: { name: string; serial: string } }>(
    "/admin/cas/:name/issued/:serial/reissue",
    { config: { operation: "CaReissue" } },
    async (request, reply) => {
      const issued = await ca.findIssued(request.params.serial, request.params.name);
      const { vault, name, operation } = await reissueIssued({ certificates, vaults }, issued);
      // The new version's certificate, when this installation's CA signed it (the policy names the
      // issuer: one changed since to another issuer signs elsewhere).
      const made =
        operation.status === "completed" && operation.targetVersion !== undefined
          ? await ca.findIssuedForVersion(vault.id, name, operation.targetVersion).catch((error: unknown) => {
              if (error instanceof DomainError && error.code === "NotFound") return undefined;
              throw error;
            })
          : undefined;
      return reply.status(operation.status === "inProgress" ? 202 : 200).send({
        vault: vault.name,
        certificate: name,
        ...operationView(operation),
        ...(made && { issued: issuedView(made) }),
      });
    },
  );

  admin.post<{ Body: Static<typeof RevokeBody> }>(
    "/admin/revocations",
    { schema: { body: RevokeBody }, config: { operation: "CaRevoke" } },
    async (request) =>
      issuedView(await ca.revoke(await target(request.body), parseReason(request.body.reason))),
  );

  admin.post<{ Body: Static<typeof ReleaseBody> }>(
    "/admin/revocations/release",
    { schema: { body: ReleaseBody }, config: { operation: "CaReleaseHold" } },
    async (request) => issuedView(await ca.release(await target(request.body))),
  );
}
