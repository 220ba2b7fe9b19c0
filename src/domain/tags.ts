import { badParameter } from "./errors.js";

export type Tags = Record<string, string>;

const MAX_TAGS = 15;
const MAX_TAG_NAME = 512;
const MAX_TAG_VALUE = 256;

/** Azure's tag limits: at most 15, names up to 512 and values up to 256 characters. */
export function validateTags(tags: Tags | undefined): Tags {
  if (tags === undefined) return {};
  const entries = Object.entries(tags);
  if (entries.length > MAX_TAGS)
    throw badParameter(`At most ${MAX_TAGS} tags are allowed, got ${entries.length}`);
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > MAX_TAG_NAME) {
      throw badParameter(`Tag names must be 1-${MAX_TAG_NAME} characters`);
    }
    if (typeof value !== "string" || value.length > MAX_TAG_VALUE) {
      throw badParameter(`Tag "${name}" must have a string value of at most ${MAX_TAG_VALUE} characters`);
    }
  }
  return { ...tags };
}
