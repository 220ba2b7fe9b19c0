import type { Socket } from "node:net";
import type { StartTlsProtocol } from "../domain/discovery/model.js";

/** A hostile server could stream a greeting forever; nothing honest sends this much before TLS. */
const MAX_PLAINTEXT_BYTES = 64 * 1024;

/** Thrown when the plaintext part of a STARTTLS exchange goes wrong; the scan records it as `handshake`. */
export class StartTlsError extends Error {
  override name = "StartTlsError";
}

/** Reads from a plaintext socket until `complete` says the buffered bytes hold a whole answer. */
function reader(socket: Socket) {
  let buffer = Buffer.alloc(0);
  let waiting:
    | { complete: (b: Buffer) => number; resolve: (b: Buffer) => void; reject: (e: Error) => void }
    | undefined;
  const check = () => {
    if (!waiting) return;
    const used = waiting.complete(buffer);
    if (used > 0) {
      const answer = buffer.subarray(0, used);
      buffer = buffer.subarray(used);
      const { resolve } = waiting;
      waiting = undefined;
      resolve(answer);
    } else if (buffer.length > MAX_PLAINTEXT_BYTES) {
      waiting.reject(new StartTlsError(`more than ${MAX_PLAINTEXT_BYTES} bytes before STARTTLS`));
      waiting = undefined;
    }
  };
  const onData = (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    check();
  };
  const onEnd = () => {
    waiting?.reject(new StartTlsError("the server closed the connection before STARTTLS"));
    waiting = undefined;
  };
  socket.on("data", onData);
  socket.on("end", onEnd);
  return {
    read(complete: (b: Buffer) => number): Promise<Buffer> {
      return new Promise((resolve, reject) => {
        waiting = { complete, resolve, reject };
        check();
      });
    },
    /** Stops reading so the TLS layer gets every byte after the server's go-ahead. */
    detach() {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.pause();
      if (buffer.length > 0) throw new StartTlsError("the server sent data after agreeing to STARTTLS");
    },
  };
}

/** Up to the end of a reply whose last line matches `final` (SMTP multi-line replies end with "code SP"). */
function lines(final: RegExp) {
  return (b: Buffer) => {
    const text = b.toString("latin1");
    let start = 0;
    for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n", start)) {
      if (final.test(text.slice(start, end + 1))) return end + 1;
      start = end + 1;
    }
    return 0;
  };
}

/** One whole BER element (an LDAPMessage), definite lengths only, as RFC 4511 §5.1 requires. */
function berElement(b: Buffer): number {
  if (b.length < 2) return 0;
  const first = b[1] as number;
  if (first < 0x80) return b.length >= 2 + first ? 2 + first : 0;
  const count = first & 0x7f;
  if (count === 0 || count > 4) throw new StartTlsError("the LDAP answer has an unusable length");
  if (b.length < 2 + count) return 0;
  const length = b.readUIntBE(2, count);
  return b.length >= 2 + count + length ? 2 + count + length : 0;
}

// RFC 4511 §4.14.1: ExtendedRequest { requestName [0] "1.3.6.1.4.1.1466.20037" } with messageID 1.
const LDAP_START_TLS_OID = Buffer.from("1.3.6.1.4.1.1466.20037", "latin1");
const LDAP_START_TLS = Buffer.concat([
  Buffer.from([0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, LDAP_START_TLS_OID.length]),
  LDAP_START_TLS_OID,
]);

const expect = (answer: Buffer, pattern: RegExp, step: string) => {
  const text = answer.toString("latin1").trim();
  if (!pattern.test(text)) throw new StartTlsError(`${step}: ${text.slice(0, 200)}`);
  return text;
};

/**
 * Speaks the protocol's plaintext part up to the point where TLS starts: SMTP (RFC 3207), IMAP
 * (RFC 3501 §6.2.1), POP3 (RFC 2595 §4) or LDAP (RFC 4511 §4.14). Resolves when the next byte on
 * the socket is the server's side of a TLS handshake.
 */
export async function negotiateStartTls(socket: Socket, protocol: StartTlsProtocol): Promise<void> {
  const r = reader(socket);
  switch (protocol) {
    case "smtp": {
      expect(await r.read(lines(/^\d{3} /)), /^220/, "SMTP greeting");
      socket.write("EHLO strongroom.discovery\r\n");
      const ehlo = expect(await r.read(lines(/^\d{3} /)), /^250/, "SMTP EHLO");
      if (!/^250[- ]STARTTLS\b/im.test(ehlo))
        throw new StartTlsError("the SMTP server does not offer STARTTLS");
      socket.write("STARTTLS\r\n");
      expect(await r.read(lines(/^\d{3} /)), /^220/, "SMTP STARTTLS");
      break;
    }
    case "imap": {
      expect(await r.read(lines(/^\* /)), /^\* (OK|PREAUTH)/i, "IMAP greeting");
      socket.write("s1 STARTTLS\r\n");
      expect(await r.read(lines(/^s1 /i)), /(^|\n)s1 OK/i, "IMAP STARTTLS");
      break;
    }
    case "pop3": {
      expect(await r.read(lines(/^[+-]/)), /^\+OK/, "POP3 greeting");
      socket.write("STLS\r\n");
      expect(await r.read(lines(/^[+-]/)), /^\+OK/, "POP3 STLS");
      break;
    }
    case "ldap": {
      socket.write(LDAP_START_TLS);
      const answer = await r.read(berElement);
      // ExtendedResponse is [APPLICATION 24]; its resultCode ENUMERATED comes first, 0 is success.
      const at = answer.indexOf(0x78);
      const code = at >= 0 ? answer.indexOf(Buffer.from([0x0a, 0x01]), at) : -1;
      if (code < 0 || answer[code + 2] !== 0) throw new StartTlsError("the LDAP server refused StartTLS");
      break;
    }
  }
  r.detach();
}
