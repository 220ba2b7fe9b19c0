import type { TLSSocket } from "node:tls";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { IdentityService } from "../../domain/access/identity-service.js";
import type { IssuedCertificate } from "../../domain/ca/model.js";
import type { EnrollmentService } from "../../domain/enrollment/enrollment-service.js";
import type { EnrollmentProfile } from "../../domain/enrollment/model.js";
import type { ProfileService } from "../../domain/enrollment/profile-service.js";
import { badParameter, DomainError } from "../../domain/errors.js";
import { actAs, renderEnrollmentError } from "../enrollment-errors.js";

export interface EstRouteDeps {
  profiles: Pick<ProfileService, "get">;
  enrollment: EnrollmentService;
  identity: Pick<IdentityService, "authenticateSecret" | "tenantId">;
  /** Degenerate certs-only SignedData of certificates (RFC 7030 §4.1.3). */
  certsOnly(certificates: Buffer[]): Buffer;
}

const CERTS_ONLY = "application/pkcs7-mime; smime-type=certs-only";
const BASE64 = /^[A-Za-z0-9+/=\s]+$/;

/** RFC 7030 §4.1.3: base64 bodies, 76-character lines as the MIME encoding has them. */
const base64Lines = (der: Buffer) => `${(der.toString("base64").match(/.{1,76}/g) ?? []).join("\r\n")}\r\n`;

/**
 * The request's PKCS#10: RFC 7030 §4.2.1 (and RFC 8951) send it base64; some clients send DER, which
 * never consists of base64 characters only (it starts with 0x30).
 */
function csrOf(body: unknown): Buffer {
  if (!Buffer.isBuffer(body) || body.length === 0)
    throw badParameter("The body must be a PKCS#10 certificate request (application/pkcs10, base64)");
  const text = body.toString("latin1");
  return BASE64.test(text) ? Buffer.from(text.replace(/\s/g, ""), "base64") : body;
}

function clientCertificate(request: FastifyRequest): Buffer | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  const peer = socket.getPeerCertificate?.(false);
  return peer?.raw && peer.raw.length > 0 ? peer.raw : undefined;
}

function basicCredentials(request: FastifyRequest): { clientId: string; secret: string } | undefined {
  const header = request.headers.authorization;
  if (!header?.toLowerCase().startsWith("basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  return { clientId: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

const unauthorized = (message: string) => new DomainError("Unauthorized", message);

/** EST (RFC 7030) under /.well-known/est/{label}/ on the main HTTPS listener. */
export function registerEstRoutes(app: FastifyInstance, deps: EstRouteDeps): void {
  const { profiles, enrollment, identity } = deps;

  /** The client's TLS certificate when the profile's CA issued it and it is still good. */
  async function certificateClient(request: FastifyRequest, profile: EnrollmentProfile) {
    const der = clientCertificate(request);
    if (!der) return undefined;
    const issued = await enrollment.issuedByProfileCa(profile, der);
    if (issued) actAs(request, `certificate:${issued.serial}`, issued.subject, identity.tenantId);
    return issued;
  }

  /** RFC 7030 §3.2.3: a TLS client certificate from the profile's CA, or HTTP Basic credentials. */
  async function authenticate(request: FastifyRequest, profile: EnrollmentProfile): Promise<void> {
    if (await certificateClient(request, profile)) return;
    const basic = basicCredentials(request);
    if (!basic)
      throw unauthorized(
        `EST profile ${profile.label} needs a client certificate from its CA or HTTP Basic credentials of a principal`,
      );
    const caller = await identity.authenticateSecret(basic.clientId, basic.secret).catch(() => {
      throw unauthorized("The client id or secret is wrong, expired or disabled");
    });
    if (profile.principals.length > 0 && !profile.principals.includes(caller.clientId))
      throw new DomainError(
        "Forbidden",
        `Principal ${caller.clientId} may not enroll with EST profile ${profile.label}`,
      );
    request.caller = caller;
  }

  app.register(async (est) => {
    est.setErrorHandler(renderEnrollmentError);
    for (const type of ["application/pkcs10", "application/pkcs7-mime"])
      est.addContentTypeParser(type, { parseAs: "buffer" }, (_request, body, done) => done(null, body));

    const certReply = (issued: IssuedCertificate) => base64Lines(deps.certsOnly([issued.der]));
    type Labelled = { Params: { label: string } };

    // RFC 7030 §4.1: the CA certificates, for anyone (clients fetch them before they can trust us).
    est.get<Labelled>(
      "/.well-known/est/:label/cacerts",
      { config: { operation: "EstCaCerts" } },
      async (request, reply) => {
        const profile = await profiles.get("est", request.params.label);
        const certificates = await enrollment.caCertificates(profile);
        return reply
          .type(CERTS_ONLY)
          .header("content-transfer-encoding", "base64")
          .send(base64Lines(deps.certsOnly(certificates)));
      },
    );

    // RFC 7030 §4.5: the profile's key type and EKUs as base64 CsrAttrs; 204 when it asks for none.
    est.get<Labelled>(
      "/.well-known/est/:label/csrattrs",
      { config: { operation: "EstCsrAttrs" } },
      async (request, reply) => {
        const attributes = enrollment.csrAttributes(await profiles.get("est", request.params.label));
        if (!attributes) return reply.status(204).send();
        return reply
          .type("application/csrattrs")
          .header("content-transfer-encoding", "base64")
          .send(base64Lines(attributes));
      },
    );

    est.post<Labelled>(
      "/.well-known/est/:label/simpleenroll",
      { config: { operation: "EstSimpleEnroll" } },
      async (request, reply) => {
        const profile = await profiles.get("est", request.params.label);
        await authenticate(request, profile);
        const { issued } = await enrollment.enroll(profile, csrOf(request.body));
        return reply.type(CERTS_ONLY).header("content-transfer-encoding", "base64").send(certReply(issued));
      },
    );

    // RFC 7030 §4.2.2: authenticated by the certificate being renewed, presented in the TLS handshake.
    est.post<Labelled>(
      "/.well-known/est/:label/simplereenroll",
      { config: { operation: "EstSimpleReenroll" } },
      async (request, reply) => {
        const profile = await profiles.get("est", request.params.label);
        const current = await certificateClient(request, profile);
        if (!current)
          throw unauthorized(
            "simplereenroll needs the certificate being renewed as the TLS client certificate, issued by this profile's CA and still good",
          );
        const { issued } = await enrollment.reenroll(profile, current, csrOf(request.body));
        return reply.type(CERTS_ONLY).header("content-transfer-encoding", "base64").send(certReply(issued));
      },
    );

    // RFC 7030 §4.4.2: multipart/mixed, the private key (PKCS#8, protected by TLS) then the certificate.
    est.post<Labelled>(
      "/.well-known/est/:label/serverkeygen",
      { config: { operation: "EstServerKeyGen" } },
      async (request, reply) => {
        const profile = await profiles.get("est", request.params.label);
        await authenticate(request, profile);
        const { issued, pkcs8 } = await enrollment.enrollWithServerKey(profile, csrOf(request.body));
        const boundary = `est-${request.id}`;
        const body = [
          `--${boundary}`,
          "Content-Type: application/pkcs8",
          "Content-Transfer-Encoding: base64",
          "",
          base64Lines(pkcs8),
          `--${boundary}`,
          `Content-Type: ${CERTS_ONLY}`,
          "Content-Transfer-Encoding: base64",
          "",
          certReply(issued),
          `--${boundary}--`,
          "",
        ].join("\r\n");
        pkcs8.fill(0);
        return reply.type(`multipart/mixed; boundary=${boundary}`).send(body);
      },
    );
  });
}
