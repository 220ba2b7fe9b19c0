import { randomFillSync } from "node:crypto";
import { connect, type Socket } from "node:net";

/**
 * Reads the certificate chain a server presents without a TLS handshake: a TLS 1.2 ClientHello,
 * then the server's first flight (ServerHello, Certificate), which TLS up to 1.2 sends in the clear,
 * then the connection is closed. The ClientHello lists static-RSA suites first, so a server that
 * still allows them (and honours the client's order, nginx's and OpenSSL's default) answers without
 * any private-key operation: with an ephemeral key exchange it signs before sending its flight, and
 * with TLS 1.3 it signs and encrypts the certificate. That signature, not the scanner, bounded the
 * full-handshake scan (an RSA-2048 signature per endpoint, see BENCHMARKS.md). A server that refuses
 * this hello (TLS 1.3 only, no common suite) makes the caller fall back to a real handshake.
 *
 * What it records is what the server chose for this hello: the version is at most TLS 1.2, and the
 * cipher is often a static-RSA one that a modern client would not be given.
 */
export interface GrabbedChain {
  chain: Uint8Array[];
  tlsVersion: string;
  cipher: string;
}

/** Why a grab gave no chain; the caller retries with a real handshake. */
export class GrabFailed extends Error {}

/** OpenSSL's names, as Node's getCipher() reports them, of the suites offered, in preference order. */
const SUITES: [number, string][] = [
  [0x009c, "AES128-GCM-SHA256"],
  [0x009d, "AES256-GCM-SHA384"],
  [0x002f, "AES128-SHA"],
  [0x0035, "AES256-SHA"],
  [0x003c, "AES128-SHA256"],
  [0x003d, "AES256-SHA256"],
  [0x000a, "DES-CBC3-SHA"],
  [0xc02b, "ECDHE-ECDSA-AES128-GCM-SHA256"],
  [0xc02c, "ECDHE-ECDSA-AES256-GCM-SHA384"],
  [0xcca9, "ECDHE-ECDSA-CHACHA20-POLY1305"],
  [0xc009, "ECDHE-ECDSA-AES128-SHA"],
  [0xc00a, "ECDHE-ECDSA-AES256-SHA"],
  [0xc02f, "ECDHE-RSA-AES128-GCM-SHA256"],
  [0xc030, "ECDHE-RSA-AES256-GCM-SHA384"],
  [0xcca8, "ECDHE-RSA-CHACHA20-POLY1305"],
  [0xc013, "ECDHE-RSA-AES128-SHA"],
  [0xc014, "ECDHE-RSA-AES256-SHA"],
  [0x009e, "DHE-RSA-AES128-GCM-SHA256"],
  [0x009f, "DHE-RSA-AES256-GCM-SHA384"],
  [0x0033, "DHE-RSA-AES128-SHA"],
  [0x0039, "DHE-RSA-AES256-SHA"],
];
const SUITE_NAMES = new Map(SUITES);
const VERSIONS = new Map([
  [0x0301, "TLSv1"],
  [0x0302, "TLSv1.1"],
  [0x0303, "TLSv1.2"],
]);
/** OpenSSL's own default bound on a peer's certificate list; a larger flight is not read here. */
const MAX_FLIGHT = 100 * 1024 + 4096;

/** The largest record TLS 1.2 allows (2^14 plus compression and cipher expansion). */
const MAX_RECORD = 16_384 + 2048;
const RECORD_HANDSHAKE = 22;
const RECORD_ALERT = 21;
const SERVER_HELLO = 2;
const CERTIFICATE = 11;

const u16 = (n: number) => Buffer.of(n >> 8, n & 0xff);
const u24 = (n: number) => Buffer.of(n >> 16, (n >> 8) & 0xff, n & 0xff);
const vector16 = (body: Buffer) => Buffer.concat([u16(body.length), body]);
const extension = (type: number, body: Buffer) => Buffer.concat([u16(type), vector16(body)]);

const FIXED_EXTENSIONS = Buffer.concat([
  // supported_groups: x25519, P-256, P-384, P-521, ffdhe2048
  extension(0x000a, vector16(Buffer.from([0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19, 0x01, 0x00]))),
  // ec_point_formats: uncompressed
  extension(0x000b, Buffer.of(1, 0)),
  // signature_algorithms: RSA-PSS, PKCS#1, ECDSA (SHA-256/384/512), Ed25519, then SHA-1 ones
  extension(
    0x000d,
    vector16(
      Buffer.from([
        0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x04, 0x03, 0x05, 0x03, 0x06,
        0x03, 0x08, 0x07, 0x02, 0x01, 0x02, 0x03,
      ]),
    ),
  ),
  // extended_master_secret, renegotiation_info (empty): servers that insist on them still answer
  extension(0x0017, Buffer.alloc(0)),
  extension(0xff01, Buffer.of(0)),
]);
const CIPHER_SUITES = vector16(Buffer.concat(SUITES.map(([code]) => u16(code))));

/** The ClientHello record, with `sni` as server_name when given. */
function clientHello(sni: string | undefined, random: Buffer): Buffer {
  const name = sni ? Buffer.from(sni, "ascii") : undefined;
  const serverName = name
    ? extension(0x0000, vector16(Buffer.concat([Buffer.of(0), vector16(name)])))
    : Buffer.alloc(0);
  const body = Buffer.concat([
    u16(0x0303),
    random,
    Buffer.of(0), // no session id
    CIPHER_SUITES,
    Buffer.of(1, 0), // null compression only
    vector16(Buffer.concat([serverName, FIXED_EXTENSIONS])),
  ]);
  const message = Buffer.concat([Buffer.of(1), u24(body.length), body]);
  return Buffer.concat([Buffer.of(RECORD_HANDSHAKE, 0x03, 0x01), u16(message.length), message]);
}

/**
 * Takes the server's bytes as they arrive and says when the flight holds the certificate list:
 * undefined while more is needed, the chain once read; throws GrabFailed on anything else.
 */
export function flightReader(): (data: Buffer) => GrabbedChain | undefined {
  let received = Buffer.alloc(0);
  let handshake = Buffer.alloc(0);
  let hello: { version: string; cipher: string } | undefined;
  return (data) => {
    received = Buffer.concat([received, data]);
    if (received.length + handshake.length > MAX_FLIGHT)
      throw new GrabFailed("the server's flight is too large");
    // Whole records into the handshake stream.
    while (received.length >= 5) {
      const type = received[0] as number;
      const length = received.readUInt16BE(3);
      // As OpenSSL does: a header that is not TLS's ends the grab now, not after waiting for a
      // length that garbage happened to announce.
      if (received[1] !== 3 || length > MAX_RECORD) throw new GrabFailed("the server's answer is not TLS");
      if (received.length < 5 + length) break;
      const fragment = received.subarray(5, 5 + length);
      received = received.subarray(5 + length);
      if (type === RECORD_ALERT) throw new GrabFailed(`the server sent alert ${fragment[1] ?? "?"}`);
      if (type !== RECORD_HANDSHAKE) throw new GrabFailed(`unexpected TLS record type ${type}`);
      handshake = Buffer.concat([handshake, fragment]);
    }
    // Whole handshake messages out of it.
    while (handshake.length >= 4) {
      const type = handshake[0] as number;
      const length = handshake.readUIntBE(1, 3);
      if (!hello && type !== SERVER_HELLO)
        throw new GrabFailed("the server's flight did not start with a ServerHello");
      if (handshake.length < 4 + length) return undefined;
      const body = handshake.subarray(4, 4 + length);
      handshake = handshake.subarray(4 + length);
      if (type === SERVER_HELLO) hello = serverHello(body);
      else if (type === CERTIFICATE && hello)
        return { chain: certificateList(body), tlsVersion: hello.version, cipher: hello.cipher };
      else throw new GrabFailed(`handshake message ${type} where the certificate was expected`);
    }
    return undefined;
  };
}

function serverHello(body: Buffer): { version: string; cipher: string } {
  if (body.length < 38) throw new GrabFailed("a truncated ServerHello");
  const version = VERSIONS.get(body.readUInt16BE(0));
  const sessionId = body[34] as number;
  if (body.length < 35 + sessionId + 3) throw new GrabFailed("a truncated ServerHello");
  const cipher = SUITE_NAMES.get(body.readUInt16BE(35 + sessionId));
  if (!version || !cipher) throw new GrabFailed("the server chose a version or suite that was not offered");
  return { version, cipher };
}

function certificateList(body: Buffer): Uint8Array[] {
  if (body.length < 3 || body.readUIntBE(0, 3) !== body.length - 3)
    throw new GrabFailed("a malformed certificate list");
  const chain: Uint8Array[] = [];
  for (let at = 3; at < body.length; ) {
    if (at + 3 > body.length) throw new GrabFailed("a malformed certificate list");
    const length = body.readUIntBE(at, 3);
    if (length === 0 || at + 3 + length > body.length) throw new GrabFailed("a malformed certificate list");
    chain.push(new Uint8Array(body.subarray(at + 3, at + 3 + length)));
    at += 3 + length;
  }
  return chain;
}

/** The ClientHello for `sni`, built once per name; only its random changes between connections. */
const hellos = new Map<string, Buffer>();
/** Where the random sits in the record: record header (5), message header (4), version (2). */
const RANDOM_AT = 11;
/** Hello randoms, filled for 1,024 connections at a time: one call each cost more than the copy. */
const randoms = Buffer.alloc(32 * 1024);
let randomAt = randoms.length;
/** Names kept built; a scan with more SNI names than this builds the rest each time. */
const MAX_HELLOS = 1024;

function freshHello(sni: string | undefined): Buffer {
  const key = sni ?? "";
  let template = hellos.get(key);
  if (!template) {
    template = clientHello(sni, Buffer.alloc(32));
    if (hellos.size < MAX_HELLOS) hellos.set(key, template);
  }
  // A copy per connection: the socket may still hold the buffer when the next hello is made.
  const hello = Buffer.from(template);
  if (randomAt + 32 > randoms.length) {
    randomFillSync(randoms);
    randomAt = 0;
  }
  randoms.copy(hello, RANDOM_AT, randomAt, randomAt + 32);
  randomAt += 32;
  return hello;
}

type Settle = (error: Error | undefined, result?: GrabbedChain) => void;

/** Feeds the server's bytes to a flight reader and settles once, with the chain or why there is none. */
function feeder(settle: Settle): (data: Buffer) => void {
  const read = flightReader();
  return (data) => {
    let result: GrabbedChain | undefined;
    try {
      result = read(data);
    } catch (error) {
      settle(error as Error);
      return;
    }
    if (result) settle(undefined, result);
  };
}

/** Sends the hello on a connected `socket` and resolves with the chain; the caller closes it. */
export function grab(socket: Socket, sni: string | undefined): Promise<GrabbedChain> {
  return new Promise((resolve, reject) => {
    const settle: Settle = (error, result) => {
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("end", onEnd);
      if (result) resolve(result);
      else reject(error);
    };
    const onData = feeder(settle);
    const onError = (error: Error) => settle(error);
    const onEnd = () => settle(new GrabFailed("the server closed the connection"));
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("end", onEnd);
    socket.resume();
    socket.write(freshHello(sni));
  });
}

/**
 * One read buffer for every grab: a read callback runs to its end before the next one, and the
 * flight reader copies what it keeps, so no connection needs a buffer of its own.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/**
 * Connects to `host:port`, grabs the chain and closes the connection, then calls `settle` once:
 * with the chain, or with the connection's error (refused, unreachable) or a GrabFailed. Returns a
 * function that abandons the grab (the caller's deadline passed); `settle` is then not called.
 *
 * This is the scanner's hot path, so it is built for a fleet of thousands: callbacks instead of
 * promises, the hello written before the connection is up (Node sends it on connect), data read
 * into the shared buffer instead of a new one per read, and a reset instead of a FIN to close, so
 * neither side keeps the connection in TIME_WAIT or exchanges two more segments for it.
 */
export function grabChain(host: string, port: number, sni: string | undefined, settle: Settle): () => void {
  let settled = false;
  const socket = connect({
    host,
    port,
    onread: {
      buffer: READ_BUFFER,
      callback: (n) => {
        onData(READ_BUFFER.subarray(0, n));
        return true;
      },
    },
  });
  const finish: Settle = (error, result) => {
    if (settled) return;
    settled = true;
    close();
    settle(error, result);
  };
  const onData = feeder(finish);
  const close = () => {
    // A reset needs an open connection; one that is still connecting or already gone is destroyed.
    if (!socket.destroyed && !socket.connecting && socket.readyState === "open") socket.resetAndDestroy();
    else socket.destroy();
  };
  // Our own reset closes the socket too: the error is made only when the grab is still open, as
  // building an Error (its stack) for every closed connection showed in the scanner's profile.
  const closed = () => {
    if (!settled) finish(new GrabFailed("the server closed the connection"));
  };
  socket.on("error", (error) => finish(error));
  socket.on("end", closed);
  socket.on("close", closed);
  socket.write(freshHello(sni));
  return () => {
    if (settled) return;
    settled = true;
    socket.destroy();
  };
}
