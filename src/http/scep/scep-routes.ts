import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { IssuedCertificate } from "../../domain/ca/model.js";
import type { EnrollmentService, ScepOutcome } from "../../domain/enrollment/enrollment-service.js";
import type { EnrollmentProfile } from "../../domain/enrollment/model.js";
import type { RaIdentity, ScepCodec, ScepReply, ScepRequest } from "../../domain/enrollment/ports.js";
import type { ProfileService } from "../../domain/enrollment/profile-service.js";
import { badParameter, DomainError } from "../../domain/errors.js";
import { actAs, renderEnrollmentError } from "../enrollment-errors.js";

export interface ScepRouteDeps {
  profiles: Pick<ProfileService, "get" | "raKey">;
  enrollment: EnrollmentService;
  codec: ScepCodec;
  tenantId: string;
  certsOnly(certificates: Buffer[]): Buffer;
}

/** RFC 8894 §3.5.2: what this server does beyond the base protocol. */
const CA_CAPS = ["AES", "POSTPKIOperation", "Renewal", "SCEPStandard", "SHA-256", "SHA-512"].join("\n");
const PKI_MESSAGE = "application/x-pki-message";

type Query = { operation?: string; message?: string };
type Route = { Params: { label: string }; Querystring: Query; Body: unknown };

/** SCEP (RFC 8894) at /scep/{label}, and at the /cgi-bin/pkiclient.exe-style path clients append. */
export function registerScepRoutes(app: FastifyInstance, deps: ScepRouteDeps): void {
  const { profiles, enrollment, codec } = deps;

  /** What a PKIOperation comes to, as a CertRep (RFC 8894 §3.3.2). */
  async function answer(
    request: FastifyRequest,
    profile: EnrollmentProfile,
    message: ScepRequest,
  ): Promise<ScepReply> {
    if (message.problem) return { status: "FAILURE", failInfo: message.problem };
    actAs(request, `scep:${message.transactionId}`, `scep/${profile.label}`, deps.tenantId);
    const toReply = (outcome: ScepOutcome): ScepReply => {
      if (outcome.status === "issued") return { status: "SUCCESS", certificates: [outcome.certificate] };
      if (outcome.status === "pending") return { status: "PENDING" };
      request.auditDetail = outcome.reason.slice(0, 200);
      return { status: "FAILURE", failInfo: "badRequest" };
    };
    try {
      switch (message.messageType) {
        case "PKCSReq":
        case "RenewalReq": {
          if (!message.csr) return { status: "FAILURE", failInfo: "badRequest" };
          // RFC 8894 §3.3.1.2: a PKCSReq signed by a certificate the CA issued is a renewal too.
          const renewing: IssuedCertificate | undefined = await enrollment.issuedByProfileCa(
            profile,
            message.signerCertificate,
          );
          if (message.messageType === "RenewalReq" && !renewing)
            return { status: "FAILURE", failInfo: "badRequest" };
          return toReply(
            await enrollment.scepRequest(profile, {
              transactionId: message.transactionId,
              csr: message.csr,
              signer: message.signerCertificate,
              challenge: message.challengePassword,
              renewing,
            }),
          );
        }
        case "CertPoll":
          return toReply(await enrollment.scepPoll(profile, message.transactionId));
        default:
          // GetCert and GetCRL are answered by the PKI listener's AIA and CRL URLs instead.
          return { status: "FAILURE", failInfo: "badRequest" };
      }
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      request.log.info({ reason: error.message }, "SCEP request refused");
      request.auditDetail = error.message.slice(0, 200);
      return { status: "FAILURE", failInfo: error.code === "NotFound" ? "badCertId" : "badRequest" };
    }
  }

  async function pkiOperation(request: FastifyRequest<Route>, reply: FastifyReply, der: Buffer) {
    const profile = await profiles.get("scep", request.params.label);
    if (!profile.ra) throw new DomainError("NotFound", `SCEP profile ${profile.label} has no RA`);
    const ra: RaIdentity = { certificate: profile.ra.certificate, pkcs8: profiles.raKey(profile) };
    try {
      const message = await codec.readRequest(der, ra);
      const certRep = await codec.reply(message, await answer(request, profile, message), ra);
      return reply.type(PKI_MESSAGE).send(certRep);
    } finally {
      ra.pkcs8.fill(0);
    }
  }

  app.register(async (scep) => {
    scep.setErrorHandler(renderEnrollmentError);
    for (const type of [PKI_MESSAGE, "application/octet-stream"])
      scep.addContentTypeParser(type, { parseAs: "buffer" }, (_request, body, done) => done(null, body));

    async function get(request: FastifyRequest<Route>, reply: FastifyReply) {
      const { operation, message } = request.query;
      switch (operation) {
        case "GetCACaps":
          await profiles.get("scep", request.params.label);
          return reply.type("text/plain").send(CA_CAPS);
        case "GetCACert": {
          // RFC 8894 §4.2.1.2: with an RA, a certs-only bundle of the CA, the RA and the chain.
          const profile = await profiles.get("scep", request.params.label);
          const [ca, ...chain] = await enrollment.caCertificates(profile);
          if (!ca || !profile.ra)
            throw new DomainError("NotFound", `SCEP profile ${profile.label} has no RA`);
          return reply
            .type("application/x-x509-ca-ra-cert")
            .send(deps.certsOnly([ca, profile.ra.certificate, ...chain]));
        }
        case "PKIOperation": {
          if (!message) throw badParameter("PKIOperation over GET needs the message parameter (base64)");
          // The query parser already decoded it and turned unencoded "+" into spaces.
          return pkiOperation(request, reply, Buffer.from(message.replace(/ /g, "+"), "base64"));
        }
        default:
          throw badParameter(
            `operation must be GetCACaps, GetCACert or PKIOperation, not ${JSON.stringify(operation ?? "")}`,
          );
      }
    }

    async function post(request: FastifyRequest<Route>, reply: FastifyReply) {
      if (request.query.operation !== "PKIOperation")
        throw badParameter("Only PKIOperation is sent with POST (RFC 8894 §4.1)");
      if (!Buffer.isBuffer(request.body) || request.body.length === 0)
        throw badParameter(`The body must be a pkiMessage (${PKI_MESSAGE})`);
      return pkiOperation(request, reply, request.body);
    }

    for (const path of ["/scep/:label", "/scep/:label/pkiclient.exe"]) {
      // A PKIOperation GET enrolls: it needs the audit scope other GETs skip.
      scep.get<Route>(path, { config: { operation: "ScepGet", writes: true } }, get);
      scep.post<Route>(path, { config: { operation: "ScepPkiOperation" } }, post);
    }
  });
}
