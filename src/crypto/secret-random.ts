import { randomBlocks } from "../domain/ids.js";

// OpenSSL 3.0's RAND_bytes costs 3-5 us a call whatever its length (its generator is looked up and
// locked on every draw), and 4,096 bytes cost about twice what 16 do: a campaign sealing two values
// a certificate spent ~3% of its main thread there. Drawn in blocks as randomPart draws public
// values, but each draw is copied out and wiped where it lay, so a block only ever holds bytes no
// one has been given: no more exposed than the master key the process holds beside them.
const draws = randomBlocks();

/** `bytes` fresh random bytes from OpenSSL's generator, fit for a secret (a data key). */
export function secretRandom(bytes: number): Buffer {
  const { block, at } = draws(bytes);
  const drawn = Buffer.alloc(bytes);
  block.copy(drawn, 0, at, at + bytes);
  block.fill(0, at, at + bytes);
  return drawn;
}
