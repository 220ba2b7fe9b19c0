import { randomBytes, randomUUID } from "node:crypto";

const VERSION_BYTES = 16;
// Drawn from OpenSSL in blocks, as node:crypto's randomUUID does: a 16-byte draw measured 14 us
// apiece in a busy server, a slice of a block well under one. A block is never written again once
// handed out, so a slice stays what it was.
const BLOCK_BYTES = 4096;

/**
 * Draws of fresh random bytes from OpenSSL's generator, sliced from blocks of BLOCK_BYTES (or the
 * draw's size, when larger): each draw is bytes no other draw of the same source was given.
 */
export function randomBlocks(): (bytes: number) => { block: Buffer; at: number } {
  let block = Buffer.alloc(0);
  let offset = 0;
  return (bytes) => {
    if (offset + bytes > block.length) {
      block = randomBytes(Math.max(BLOCK_BYTES, bytes));
      offset = 0;
    }
    offset += bytes;
    return { block, at: offset - bytes };
  };
}

const publicDraws = randomBlocks();

/**
 * `bytes` fresh random bytes from OpenSSL's generator, for values that are public once used (ids,
 * serials, nonces, challenge tokens): the rest of the block stays in memory until used, so a secret
 * draws its own bytes.
 */
export function randomPart(bytes: number): Buffer {
  const { block, at } = publicDraws(bytes);
  return block.subarray(at, at + bytes);
}

/** Key Vault object versions are 32 lower-case hex digits. */
export const newVersion = (): string => randomPart(VERSION_BYTES).toString("hex");

export const newId = (): string => randomUUID();

const OBJECT_NAME = /^[0-9a-zA-Z-]{1,127}$/;
const VAULT_NAME = /^[a-zA-Z][0-9a-zA-Z-]{1,22}[0-9a-zA-Z]$/;
const VERSION = /^[0-9a-f]{32}$/;

/** Key Vault object names: 1-127 characters of 0-9, a-z, A-Z and '-'. */
export const isObjectName = (name: string): boolean => OBJECT_NAME.test(name);

/** Azure vault names: 3-24 characters, start with a letter, end with a letter or digit, no "--". */
export const isVaultName = (name: string): boolean => VAULT_NAME.test(name) && !name.includes("--");

export const isVersion = (version: string): boolean => VERSION.test(version);
