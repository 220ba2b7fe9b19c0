import { randomBytes } from "node:crypto";
import type { CaService } from "../ca/ca-service.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { isObjectName, newId } from "../ids.js";
import type { Sealer } from "../sealing/ports.js";
import { type AcmeProfile, AUTHZ_REUSE_DEFAULTS, type EabKey } from "./model.js";
import type { AcmeServerStore } from "./ports.js";

export interface AcmeProfileServiceDeps {
  store: AcmeServerStore;
  ca: Pick<CaService, "get">;
  sealer: Sealer;
  clock: Clock;
}

/** What an operator sets on a profile; absent fields keep their value (update) or default (create). */
export interface AcmeProfileInput {
  ca?: string | undefined;
  description?: string | undefined;
  validityDays?: number | undefined;
  ekus?: string[] | undefined;
  keyTypes?: string[] | undefined;
  minRsaBits?: number | undefined;
  eabRequired?: boolean | undefined;
  renewalWindowStartPercent?: number | undefined;
  renewalWindowEndPercent?: number | undefined;
  ordersPerAccountPerHour?: number | undefined;
  ordersPerIdentifierPerHour?: number | undefined;
  authzReuse?: boolean | undefined;
  authzReuseMaxAgeHours?: number | undefined;
  pendingAuthzReuse?: boolean | undefined;
}

const KEY_TYPES = ["RSA", "EC", "Ed25519"];
const OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

/** The sealing context of an EAB HMAC key: a sealed key copied to another key id no longer opens. */
export const eabContext = (keyId: string) => `acme-eab:${keyId}`;

function checkRange(value: number | undefined, name: string, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max))
    throw badParameter(`${name} must be a whole number from ${min} to ${max}`);
}

export type AcmeProfileService = ReturnType<typeof createAcmeProfileService>;

/** ACME server profiles and their EAB keys, as the CLI manages them. */
export function createAcmeProfileService(deps: AcmeProfileServiceDeps) {
  const { store, ca, sealer, clock } = deps;

  async function find(name: string): Promise<AcmeProfile> {
    const profile = await store.getProfile(name);
    if (!profile) throw new DomainError("NotFound", `No ACME profile named ${name}`);
    return profile;
  }

  async function apply(base: AcmeProfile, input: AcmeProfileInput): Promise<AcmeProfile> {
    checkRange(input.validityDays, "validityDays", 1, 3650);
    checkRange(input.minRsaBits, "minRsaBits", 2048, 16384);
    checkRange(input.renewalWindowStartPercent, "renewalWindowStartPercent", 1, 99);
    checkRange(input.renewalWindowEndPercent, "renewalWindowEndPercent", 1, 99);
    checkRange(input.ordersPerAccountPerHour, "ordersPerAccountPerHour", 1, 1_000_000);
    checkRange(input.ordersPerIdentifierPerHour, "ordersPerIdentifierPerHour", 1, 1_000_000);
    // Authorizations expire with their first order, a week after they were made: reuse never
    // outlives that, whatever the maximum age.
    checkRange(input.authzReuseMaxAgeHours, "authzReuseMaxAgeHours", 1, 24 * 7);
    for (const eku of input.ekus ?? [])
      if (!OID.test(eku)) throw badParameter(`EKU "${eku}" is not a dotted OID such as ${SERVER_AUTH}`);
    for (const type of input.keyTypes ?? [])
      if (!KEY_TYPES.includes(type))
        throw badParameter(`key type "${type}" is not one of ${KEY_TYPES.join(", ")}`);
    if (input.keyTypes?.length === 0) throw badParameter("keyTypes must name at least one key type");
    const caId = input.ca === undefined ? base.caId : (await ca.get(input.ca)).id;
    if (input.ca !== undefined) {
      const authority = await ca.get(input.ca);
      if (authority.status !== "active")
        throw badParameter(`CA ${authority.name} has no certificate yet; import it before issuing from it`);
    }
    const next: AcmeProfile = {
      ...base,
      caId,
      description: input.description ?? base.description,
      validityDays: input.validityDays ?? base.validityDays,
      ekus: input.ekus ?? base.ekus,
      keyTypes: input.keyTypes ?? base.keyTypes,
      minRsaBits: input.minRsaBits ?? base.minRsaBits,
      eabRequired: input.eabRequired ?? base.eabRequired,
      renewalWindowStartPercent: input.renewalWindowStartPercent ?? base.renewalWindowStartPercent,
      renewalWindowEndPercent: input.renewalWindowEndPercent ?? base.renewalWindowEndPercent,
      ordersPerAccountPerHour: input.ordersPerAccountPerHour ?? base.ordersPerAccountPerHour,
      ordersPerIdentifierPerHour: input.ordersPerIdentifierPerHour ?? base.ordersPerIdentifierPerHour,
      authzReuse: input.authzReuse ?? base.authzReuse,
      authzReuseMaxAgeHours: input.authzReuseMaxAgeHours ?? base.authzReuseMaxAgeHours,
      pendingAuthzReuse: input.pendingAuthzReuse ?? base.pendingAuthzReuse,
      updatedAt: clock.now(),
    };
    if (next.renewalWindowStartPercent >= next.renewalWindowEndPercent)
      throw badParameter("renewalWindowStartPercent must be below renewalWindowEndPercent");
    return next;
  }

  return {
    get: find,
    list: () => store.listProfiles(),

    async create(name: string, input: AcmeProfileInput): Promise<AcmeProfile> {
      if (!isObjectName(name) || name.length > 63)
        throw badParameter(
          "A profile name is 1-63 letters, digits and hyphens: it is part of the directory URL",
        );
      if (input.ca === undefined) throw badParameter("ca is required: the private CA that signs");
      const now = clock.now();
      const profile = await apply(
        {
          id: newId(),
          name,
          caId: "",
          description: "",
          validityDays: 90,
          ekus: [SERVER_AUTH],
          keyTypes: [...KEY_TYPES],
          minRsaBits: 2048,
          eabRequired: false,
          renewalWindowStartPercent: 67,
          renewalWindowEndPercent: 83,
          ordersPerAccountPerHour: 300,
          ordersPerIdentifierPerHour: 50,
          ...AUTHZ_REUSE_DEFAULTS,
          createdAt: now,
          updatedAt: now,
        },
        input,
      );
      await store.insertProfile(profile);
      return profile;
    },

    async update(name: string, input: AcmeProfileInput): Promise<AcmeProfile> {
      const profile = await apply(await find(name), input);
      await store.updateProfile(profile);
      return profile;
    },

    async remove(name: string): Promise<void> {
      const profile = await find(name);
      await store.deleteProfile(profile.id);
    },

    /** Makes an EAB key: the HMAC key is shown once, here, and stored only sealed. */
    async createEabKey(name: string): Promise<{ keyId: string; hmacKey: string }> {
      const profile = await find(name);
      const keyId = `kid-${randomBytes(12).toString("base64url")}`;
      const hmacKey = randomBytes(32);
      const key: EabKey = {
        keyId,
        profileId: profile.id,
        sealedHmacKey: sealer.seal(hmacKey, eabContext(keyId)),
        createdAt: clock.now(),
      };
      await store.insertEabKey(key);
      return { keyId, hmacKey: hmacKey.toString("base64url") };
    },

    async listEabKeys(name: string): Promise<EabKey[]> {
      return store.listEabKeys((await find(name)).id);
    },
  };
}
