import * as asn1js from "asn1js";
import type { OcspResponseSpec, OcspSingle } from "../domain/ca/model.js";
import { REVOCATION_REASONS } from "../domain/ca/model.js";
import type { CaSigner } from "../domain/ca/ports.js";
import { certificateParts } from "./ca-certificate-builder.js";
import { encode, explicit, extension, octetString, oid, sequence } from "./der.js";
import { signed } from "./x509-signing.js";

const NONCE = oid("1.3.6.1.5.5.7.48.1.2");
const BASIC = oid("1.3.6.1.5.5.7.48.1.1");
const SUCCESSFUL = encode(new asn1js.Enumerated({ value: 0 }));
const RESPONDERS = 100;

/** GeneralizedTime as pkijs wrote it in answers before (fractional seconds when there are any). */
const generalizedTime = (valueDate: Date) => encode(new asn1js.GeneralizedTime({ valueDate }));

function certStatus(single: OcspSingle): Buffer {
  // RFC 6960 §4.2.1 CertStatus: good [0] IMPLICIT NULL, revoked [1] IMPLICIT RevokedInfo, unknown [2].
  if (single.status === "good" || single.status === "unknown") {
    const tagNumber = single.status === "good" ? 0 : 2;
    return encode(new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber } }));
  }
  const reason = single.status === "hold" ? "certificateHold" : (single.reason ?? "unspecified");
  return encode(
    new asn1js.Constructed({
      idBlock: { tagClass: 3, tagNumber: 1 },
      value: [
        new asn1js.GeneralizedTime({ valueDate: single.revokedAt ?? new Date(0) }),
        new asn1js.Constructed({
          idBlock: { tagClass: 3, tagNumber: 0 },
          value: [new asn1js.Enumerated({ value: REVOCATION_REASONS[reason] })],
        }),
      ],
    }),
  );
}

/**
 * Signed OCSP responses (RFC 6960 §4.2.1) from a per-responder template: the responderID (by name)
 * and the certs field are encoded once per responder certificate; each answer encodes only its
 * times, statuses and nonce, and echoes the request's CertIDs byte for byte.
 */
export function createOcspResponseBuilder() {
  const responders = new Map<string, { id: Buffer; certs: Buffer }>();

  function responder(certificate: Buffer) {
    const key = certificate.toString("base64");
    let hit = responders.get(key);
    if (!hit) {
      hit = {
        id: explicit(1, [certificateParts(certificate).subject]),
        certs: explicit(0, [sequence([certificate])]),
      };
      if (responders.size >= RESPONDERS) responders.clear();
      responders.set(key, hit);
    }
    return hit;
  }

  return async function ocspResponse(spec: OcspResponseSpec, signer: CaSigner): Promise<Buffer> {
    const { id, certs } = responder(spec.responderCertificate);
    const thisUpdate = generalizedTime(spec.thisUpdate);
    const nextUpdate = explicit(0, [generalizedTime(spec.nextUpdate)]);
    const responses = spec.responses.map((single) =>
      sequence([single.certId.der, certStatus(single), thisUpdate, nextUpdate]),
    );
    const tbs = sequence([
      id,
      generalizedTime(spec.producedAt),
      sequence(responses),
      // responseExtensions [1]: the request's nonce, echoed byte for byte (RFC 8954).
      ...(spec.nonce ? [explicit(1, [sequence([extension(NONCE, false, spec.nonce)])])] : []),
    ]);
    const basic = await signed(signer, tbs, [certs]);
    return sequence([SUCCESSFUL, explicit(0, [sequence([BASIC, octetString(basic)])])]);
  };
}
