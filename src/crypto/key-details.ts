import type { KeyObject } from "node:crypto";
import type { PublicKeyDetails } from "../domain/ca/model.js";

/** What rules judge of a key object: its type, and its size or curve (nothing that JSON cannot hold). */
export const keyDetails = (key: KeyObject): PublicKeyDetails => ({
  type: key.asymmetricKeyType,
  modulusLength: key.asymmetricKeyDetails?.modulusLength,
  namedCurve: key.asymmetricKeyDetails?.namedCurve,
});
