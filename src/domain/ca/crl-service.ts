import type { SubjectAlternativeNames } from "../certificates/model.js";
import type { Clock } from "../clock.js";
import { BACKDATE_MS, caKeyContext, caSigner, newSerial } from "./ca-signing.js";
import { type CaKeyAlgorithm, type CertificateAuthority, FULL_CRL, type StoredCrl } from "./model.js";
import type { CaKeys, CaStore, CaX509, PkiUrls } from "./ports.js";

export interface CrlServiceDeps {
  store: CaStore;
  keys: CaKeys;
  x509: CaX509;
  clock: Clock;
  urls: PkiUrls;
  /** How long a CRL is valid; it is regenerated once less than half of that is left. */
  crlValidityMs?: number;
  /** How long a delegated OCSP responder certificate is valid; renewed with a third left. */
  responderValidityMs?: number;
}

export type CrlService = ReturnType<typeof createCrlService>;

const DAY_MS = 86_400_000;
const OCSP_SIGNING = "1.3.6.1.5.5.7.3.9";
const noSans: SubjectAlternativeNames = { dnsNames: [], emails: [], upns: [], uris: [], ipAddresses: [] };

type ActiveCa = CertificateAuthority & { certificate: Buffer };

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/** What a CA publishes about revocation: its CRLs (full and sharded) and its delegated OCSP responder. */
export function createCrlService(deps: CrlServiceDeps) {
  const { store, keys, x509, clock, urls } = deps;
  const crlValidityMs = deps.crlValidityMs ?? DAY_MS;
  const responderValidityMs = deps.responderValidityMs ?? 30 * DAY_MS;

  const allShards = (ca: CertificateAuthority) => [
    FULL_CRL,
    ...(ca.crlShards > 1 ? range(ca.crlShards) : []),
  ];

  async function regenerate(ca: CertificateAuthority, shards: "all" | number[]): Promise<StoredCrl[]> {
    if (!ca.certificate) return [];
    const out: StoredCrl[] = [];
    for (const shard of shards === "all" ? allShards(ca) : shards) {
      const number = await store.nextCrlNumber(ca.id);
      const thisUpdate = clock.now();
      const nextUpdate = new Date(thisUpdate.getTime() + crlValidityMs);
      const der = await x509.crl(
        {
          issuer: ca.certificate,
          number,
          thisUpdate,
          nextUpdate,
          entries: await store.revoked(ca.id, shard),
          // A full CRL covers every certificate; an IDP would narrow its scope to one URL.
          distributionPoint: shard === FULL_CRL ? undefined : urls.crl(ca.id, shard),
        },
        caSigner(keys, ca),
      );
      const crl = { caId: ca.id, shard, number, thisUpdate, nextUpdate, der };
      await store.putCrl(crl);
      out.push(crl);
    }
    return out;
  }

  /** Issues (or re-issues) the CA's delegated OCSP responder certificate, under the CA itself. */
  async function issueResponder(ca: ActiveCa) {
    const generation = (ca.responder?.generation ?? 0) + 1;
    const context = `${caKeyContext(ca)}/ocsp/${generation}`;
    const algorithm: CaKeyAlgorithm = ca.keyAlgorithm.startsWith("RSA") ? "RSA-2048" : ca.keyAlgorithm;
    const made = await keys.generate(algorithm, ca.protection, context);
    const now = clock.now();
    const notAfter = new Date(
      Math.min(now.getTime() + responderValidityMs, ca.notAfter?.getTime() ?? Number.POSITIVE_INFINITY),
    );
    const certificate = await x509.certificate(
      {
        serial: newSerial(),
        subject: `CN=OCSP Responder for ${ca.name}`,
        notBefore: new Date(now.getTime() - BACKDATE_MS),
        notAfter,
        publicKey: x509.spki(made.publicKey),
        issuer: { certificate: ca.certificate },
        keyUsage: ["digitalSignature"],
        ekus: [OCSP_SIGNING],
        sans: noSans,
        policies: [],
        ocspNoCheck: true,
      },
      caSigner(keys, ca),
    );
    const previous = ca.responder;
    const updated: ActiveCa = {
      ...ca,
      responder: {
        certificate,
        keyMaterial: made.material,
        publicKey: made.publicKey,
        generation,
        notAfter,
        retiredKeyMaterial: previous?.keyMaterial,
      },
      updatedAt: now,
    };
    return { updated, previous };
  }

  return {
    regenerate,
    issueResponder,

    /** Responder, then every CRL, of a CA whose certificate has just been set. */
    async activate(ca: ActiveCa): Promise<ActiveCa> {
      const { updated } = await issueResponder(ca);
      await store.updateAuthority(updated);
      await regenerate(updated, "all");
      return updated;
    },

    /** The CRL of a CA (FULL_CRL or a shard), made now when there is none yet. */
    async crl(caId: string, shard: number): Promise<StoredCrl | undefined> {
      const existing = await store.getCrl(caId, shard);
      if (existing) return existing;
      const ca = await store.getAuthority(caId);
      if (
        !ca?.certificate ||
        (shard !== FULL_CRL && (shard < 0 || shard >= ca.crlShards || ca.crlShards === 1))
      )
        return undefined;
      return (await regenerate(ca, [shard]))[0];
    },

    /**
     * The CRL job's round: regenerates CRLs with less than half their validity left (relying
     * parties that cache until nextUpdate must find a fresh one well before then) and renews
     * responder certificates with a third of their validity left.
     */
    async refresh(): Promise<{ crls: number; responders: number; failed: string[] }> {
      let crls = 0;
      let responders = 0;
      const failed: string[] = [];
      const now = clock.now().getTime();
      for (const listed of await store.listAuthorities()) {
        if (listed.status !== "active" || !listed.certificate) continue;
        if (listed.notAfter && listed.notAfter.getTime() <= now) continue;
        // One CA whose HSM is unreachable must not keep the others' CRLs from being refreshed.
        try {
          let ca = listed as ActiveCa;
          const responder = ca.responder;
          if (!responder || responder.notAfter.getTime() - now < responderValidityMs / 3) {
            const { updated, previous } = await issueResponder(ca);
            await store.updateAuthority(updated);
            if (previous?.retiredKeyMaterial) await keys.destroy(ca.protection, previous.retiredKeyMaterial);
            ca = updated;
            responders += 1;
          }
          const due: number[] = [];
          for (const shard of allShards(ca)) {
            const crl = await store.getCrl(ca.id, shard);
            if (!crl || crl.nextUpdate.getTime() - now < crlValidityMs / 2) due.push(shard);
          }
          crls += (await regenerate(ca, due)).length;
        } catch (error) {
          failed.push(`${listed.name}: ${(error as Error).message}`);
        }
      }
      return { crls, responders, failed };
    },

    /** The signer of the CA's current OCSP responder key. */
    responderSigner(ca: CertificateAuthority) {
      const responder = ca.responder;
      if (!responder) throw new Error(`CA ${ca.name} has no OCSP responder yet`);
      return keys.signer(
        ca.protection,
        responder.keyMaterial,
        `${caKeyContext(ca)}/ocsp/${responder.generation}`,
        responder.publicKey,
      );
    },
  };
}
