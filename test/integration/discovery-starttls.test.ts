import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { probe } from "../../src/discovery/tls-scanner.js";
import type { StartTlsProtocol } from "../../src/domain/discovery/model.js";
import { makeCertificate, type TestCertificate } from "../support/test-pki.js";

/**
 * Minimal servers for the plaintext part of each protocol, upgrading with node:tls: IMAP (RFC 3501
 * §6.2.1), POP3 (RFC 2595 §4), LDAP (RFC 4511 §4.14, the ExtendedResponse with resultCode 0).
 */
const DIALOGUES: Record<
  Exclude<StartTlsProtocol, "smtp">,
  { greeting?: string; answer: (input: Buffer) => Buffer | undefined }
> = {
  imap: {
    greeting: "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n",
    answer: (input) =>
      /^s1 STARTTLS\r\n$/i.test(input.toString()) ? Buffer.from("s1 OK Begin TLS now\r\n") : undefined,
  },
  pop3: {
    greeting: "+OK POP3 ready\r\n",
    answer: (input) => (input.toString() === "STLS\r\n" ? Buffer.from("+OK Begin TLS\r\n") : undefined),
  },
  ldap: {
    answer: (input) =>
      input.includes(Buffer.from("1.3.6.1.4.1.1466.20037"))
        ? // LDAPMessage { messageID 1, ExtendedResponse { resultCode success, matchedDN "", diagnosticMessage "" } }
          Buffer.from([0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00])
        : undefined,
  },
};

function startTlsServer(
  protocol: keyof typeof DIALOGUES,
  cert: TestCertificate,
): Promise<{ server: Server; port: number }> {
  const context = createSecureContext({ cert: cert.pem, key: cert.keyPem });
  const { greeting, answer } = DIALOGUES[protocol];
  const server = createServer((socket: Socket) => {
    socket.on("error", () => undefined);
    if (greeting) socket.write(greeting);
    socket.once("data", (input) => {
      const reply = answer(input);
      if (!reply) return socket.end();
      socket.write(reply);
      const tls = new TLSSocket(socket, { isServer: true, secureContext: context });
      tls.on("error", () => undefined);
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.22", () =>
      resolve({ server, port: (server.address() as { port: number }).port }),
    ),
  );
}

describe("STARTTLS for IMAP, POP3 and LDAP", () => {
  let cert: TestCertificate;
  const servers: Server[] = [];
  beforeAll(async () => {
    cert = await makeCertificate({ name: "mail.test", dnsNames: ["mail.test"] });
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it.each(["imap", "pop3", "ldap"] as const)("reads the certificate behind %s STARTTLS", async (protocol) => {
    const { server, port } = await startTlsServer(protocol, cert);
    servers.push(server);
    const result = await probe(
      { host: "127.0.0.22", port, starttls: protocol, location: `tls://127.0.0.22:${port}` },
      3000,
    );
    expect(result.outcome, result.error).toBe("ok");
    expect(result.fingerprint).toBe(cert.sha256);
    expect(result.detail?.starttls).toBe(protocol);
  });

  it("records a server that refuses STARTTLS as a handshake failure with its answer", async () => {
    const server = createServer((socket) => {
      socket.on("error", () => undefined);
      socket.write("+OK POP3 ready\r\n");
      socket.once("data", () => socket.write("-ERR TLS not available\r\n"));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.22", r));
    const port = (server.address() as { port: number }).port;
    const result = await probe({ host: "127.0.0.22", port, starttls: "pop3", location: "x" }, 3000);
    expect(result.outcome).toBe("handshake");
    expect(result.error).toContain("-ERR TLS not available");
  });
});
