import type { CaService } from "../ca/ca-service.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { isObjectName, newId } from "../ids.js";
import type { Sealer } from "../sealing/ports.js";
import {
  ENROLLMENT_KEY_TYPES,
  type EnrollmentKind,
  type EnrollmentProfile,
  type RegistrationAuthority,
} from "./model.js";
import type { EnrollmentCrypto, EnrollmentStore } from "./ports.js";

export interface ProfileServiceDeps {
  store: EnrollmentStore;
  ca: Pick<CaService, "get" | "signCsr">;
  crypto: EnrollmentCrypto;
  sealer: Sealer;
  clock: Clock;
}

export interface CreateProfileInput {
  label: string;
  /** The CA, by name or id. */
  ca: string;
  validityDays?: number | undefined;
  ekus?: string[] | undefined;
  principals?: string[] | undefined;
  approval?: boolean | undefined;
  keyType?: string | undefined;
}

export type ProfileService = ReturnType<typeof createProfileService>;

const DAY_MS = 86_400_000;
const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const SERVER_AND_CLIENT_AUTH = ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"];
/** The RA certificate's own lifetime: renewed by recreating the profile. */
const RA_VALIDITY_DAYS = 730;
/** A challenge unused after this long no longer admits anyone. */
const DEFAULT_CHALLENGE_TTL_MINUTES = 60 * 24;

export const raKeyContext = (profileId: string): string => `scep-ra/${profileId}`;

/** EST and SCEP profiles of the private CA, and SCEP's one-time challenge passwords. */
export function createProfileService(deps: ProfileServiceDeps) {
  const { store, ca, crypto, sealer, clock } = deps;

  async function find(kind: EnrollmentKind, label: string): Promise<EnrollmentProfile> {
    const profile = await store.getProfile(kind, label);
    if (!profile) throw new DomainError("NotFound", `No ${kind.toUpperCase()} profile labelled ${label}`);
    return profile;
  }

  /**
   * The SCEP RA: an RSA key (SCEP clients encrypt with RSA key transport, RFC 8894 §3.1) and a
   * certificate for it from the profile's CA, so clients that check the RA against the CA accept it.
   */
  async function registrationAuthority(
    id: string,
    label: string,
    caName: string,
    caNotAfter: Date | undefined,
  ): Promise<RegistrationAuthority> {
    const { pkcs8, csr } = await crypto.newKeyWithCsr("RSA-2048", `CN=SCEP RA ${label}`);
    const untilCaExpiry = caNotAfter
      ? Math.floor((caNotAfter.getTime() - clock.now().getTime()) / DAY_MS) - 1
      : RA_VALIDITY_DAYS;
    const { issued } = await ca.signCsr(caName, csr, {
      validityDays: Math.max(1, Math.min(RA_VALIDITY_DAYS, untilCaExpiry)),
      ekus: [],
      keyUsage: ["digitalSignature", "keyEncipherment"],
    });
    return { certificate: issued.der, sealedKey: sealer.seal(pkcs8, raKeyContext(id)) };
  }

  return {
    get: find,

    async create(kind: EnrollmentKind, input: CreateProfileInput): Promise<EnrollmentProfile> {
      if (!isObjectName(input.label)) throw badParameter("label must be 1-127 letters, digits and hyphens");
      const days = input.validityDays ?? 90;
      if (!Number.isInteger(days) || days < 1 || days > 3650)
        throw badParameter("validityDays must be from 1 to 3650");
      const ekus = input.ekus ?? SERVER_AND_CLIENT_AUTH;
      for (const oid of ekus) if (!OID.test(oid)) throw badParameter(`"${oid}" is not an EKU OID`);
      if (kind === "scep" && input.principals && input.principals.length > 0)
        throw badParameter("SCEP clients authenticate with challenge passwords, not principals");
      const keyType = ENROLLMENT_KEY_TYPES.find((t) => t === input.keyType);
      if (input.keyType !== undefined && !keyType)
        throw badParameter(`key type "${input.keyType}" is not one of ${ENROLLMENT_KEY_TYPES.join(", ")}`);
      const authority = await ca.get(input.ca);
      if (authority.status !== "active")
        throw new DomainError("Conflict", `CA ${authority.name} has no certificate yet`);
      if (await store.getProfile(kind, input.label))
        throw new DomainError("Conflict", `An ${kind.toUpperCase()} profile labelled ${input.label} exists`);
      const id = newId();
      const profile: EnrollmentProfile = {
        id,
        kind,
        label: input.label,
        caId: authority.id,
        validityDays: days,
        ekus,
        principals: input.principals ?? [],
        approval: input.approval ?? false,
        keyType,
        ra:
          kind === "scep"
            ? await registrationAuthority(id, input.label, authority.name, authority.notAfter)
            : undefined,
        createdAt: clock.now(),
      };
      await store.insertProfile(profile);
      return profile;
    },

    list: (kind: EnrollmentKind) => store.listProfiles(kind),

    async remove(kind: EnrollmentKind, label: string): Promise<void> {
      if (!(await store.deleteProfile(kind, label)))
        throw new DomainError("NotFound", `No ${kind.toUpperCase()} profile labelled ${label}`);
    },

    /** A new one-time challenge password for a SCEP profile; only its hash is stored. */
    async newChallenge(
      label: string,
      ttlMinutes = DEFAULT_CHALLENGE_TTL_MINUTES,
    ): Promise<{ password: string; expiresAt: Date }> {
      if (!Number.isInteger(ttlMinutes) || ttlMinutes < 1 || ttlMinutes > 60 * 24 * 30)
        throw badParameter("the challenge's lifetime must be from 1 minute to 30 days");
      const profile = await find("scep", label);
      const password = crypto.newChallenge();
      const now = clock.now();
      const expiresAt = new Date(now.getTime() + ttlMinutes * 60_000);
      await store.insertChallenge(profile.id, crypto.hashChallenge(password), now, expiresAt);
      return { password, expiresAt };
    },

    /** The RA key of a SCEP profile, unsealed for one request. */
    raKey(profile: EnrollmentProfile): Buffer {
      if (!profile.ra) throw new DomainError("NotFound", `Profile ${profile.label} has no RA`);
      return sealer.open(profile.ra.sealedKey, raKeyContext(profile.id));
    },
  };
}
