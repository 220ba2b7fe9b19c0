import { connect } from "node:net";
import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flightReader, GrabFailed, grab } from "../../src/discovery/certificate-grab.js";
import { probe, scanEndpoints } from "../../src/discovery/tls-scanner.js";
import type { EndpointResult } from "../../src/domain/discovery/model.js";
import { makeCertificate, type TestCertificate } from "../support/test-pki.js";
import { startSlowLoris } from "../support/tls-endpoints.js";

/** A node:tls server on 127.0.0.1 that lets the client's order of suites decide, as nginx does. */
async function tlsServer(
  options: Parameters<typeof createServer>[0],
): Promise<{ server: Server; port: number }> {
  const server = createServer({ honorCipherOrder: false, ...options });
  server.on("tlsClientError", () => undefined);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

const hex = (chain: Uint8Array[]) => chain.map((c) => Buffer.from(c).toString("hex"));

describe("The certificate grab", () => {
  let intermediate: TestCertificate;
  let leaf: TestCertificate;
  const servers: Server[] = [];
  beforeAll(async () => {
    const root = await makeCertificate({ name: "Grab Root", ca: true });
    intermediate = await makeCertificate({ name: "Grab Intermediate", ca: true, issuer: root });
    leaf = await makeCertificate({ name: "grab.test", dnsNames: ["grab.test"], issuer: intermediate });
  });
  afterAll(async () => {
    for (const s of servers) await new Promise((resolve) => s.close(resolve));
  });

  it("reads the chain from the server's first flight, with the version and static-RSA suite it chose", async () => {
    const { server, port } = await tlsServer({
      cert: leaf.pem + intermediate.pem,
      key: leaf.keyPem,
      ciphers: "ALL:@SECLEVEL=0",
    });
    servers.push(server);
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise((resolve) => socket.once("connect", resolve));
    try {
      const grabbed = await grab(socket, "grab.test");
      expect(hex(grabbed.chain)).toEqual(hex([leaf.der, intermediate.der]));
      expect(grabbed.tlsVersion).toBe("TLSv1.2");
      expect(grabbed.cipher).toBe("AES128-GCM-SHA256");
    } finally {
      socket.destroy();
    }
  });

  it("leaves a TLS 1.3-only server to a real handshake, which still reads its chain", async () => {
    const { server, port } = await tlsServer({
      cert: leaf.pem + intermediate.pem,
      key: leaf.keyPem,
      minVersion: "TLSv1.3",
    });
    servers.push(server);
    const result = await probe({ host: "127.0.0.1", port, location: `tls://127.0.0.1:${port}` }, 5000);
    expect(result.outcome).toBe("ok");
    expect(hex(result.chain)).toEqual(hex([leaf.der, intermediate.der]));
    expect(result.tlsVersion).toBe("TLSv1.3");
  });

  it("times out every hanging endpoint of a scan on its own deadline while the others are read", async () => {
    const { server, port } = await tlsServer({ cert: leaf.pem + intermediate.pem, key: leaf.keyPem });
    servers.push(server);
    const slow = await startSlowLoris("127.0.0.1", 50);
    try {
      // Hanging and answering endpoints interleaved, more than the concurrency: deadlines are
      // started, settled and expired out of order of the scan's one queue.
      const ports = [slow.port, port, port, slow.port, port, slow.port, slow.port, port];
      const results: EndpointResult[] = [];
      await scanEndpoints(
        ports.map((p, i) => ({ host: "127.0.0.1", port: p, location: `tls://127.0.0.1:${p}#${i}` })),
        { concurrency: 3, timeoutMs: 400, ratePerSecond: 1000 },
        (result) => {
          results.push(result);
        },
      );
      const outcomes = Object.fromEntries(results.map((r) => [r.location.split("#")[1], r.outcome]));
      expect(outcomes).toEqual(
        Object.fromEntries(ports.map((p, i) => [String(i), p === port ? "ok" : "timeout"])),
      );
      for (const result of results.filter((r) => r.outcome === "ok"))
        expect(hex(result.chain)).toEqual(hex([leaf.der, intermediate.der]));
      expect(results.find((r) => r.outcome === "timeout")?.error).toBe("no TLS handshake within 400 ms");
    } finally {
      await slow.close();
    }
  });

  it("takes records split anywhere, byte by byte", async () => {
    const { server, port } = await tlsServer({ cert: leaf.pem + intermediate.pem, key: leaf.keyPem });
    servers.push(server);
    // The server's flight as it comes, then fed to a fresh reader one byte at a time.
    const socket = connect({ host: "127.0.0.1", port });
    const bytes: Buffer[] = [];
    const read = flightReader();
    await new Promise<void>((resolve, reject) => {
      socket.on("data", (data: Buffer) => {
        bytes.push(data);
        try {
          if (read(data)) resolve();
        } catch (error) {
          reject(error);
        }
      });
      socket.once("error", reject);
      socket.once("connect", () => grab(socket, undefined).catch(reject));
    });
    socket.destroy();
    const flight = Buffer.concat(bytes);
    const byByte = flightReader();
    let grabbed: ReturnType<typeof byByte>;
    for (let i = 0; i < flight.length && !grabbed; i++) grabbed = byByte(flight.subarray(i, i + 1));
    expect(grabbed && hex(grabbed.chain)).toEqual(hex([leaf.der, intermediate.der]));
  });

  it("refuses an alert, a record that is not a handshake, bytes that are not TLS, and a flight larger than OpenSSL would read", () => {
    expect(() => flightReader()(Buffer.from([21, 3, 3, 0, 2, 2, 40]))).toThrow(GrabFailed);
    expect(() => flightReader()(Buffer.from([23, 3, 3, 0, 1, 0]))).toThrow(/record type 23/);
    expect(() => flightReader()(Buffer.from([22, 0x9a, 0x11, 0x20, 0x00]))).toThrow(/not TLS/);
    // A ServerHello that claims 16 MB, sent in full records.
    const huge = flightReader();
    const record = (body: Buffer) =>
      Buffer.concat([Buffer.from([22, 3, 3, body.length >> 8, body.length & 255]), body]);
    huge(record(Buffer.concat([Buffer.from([2, 0xff, 0xff, 0xff]), Buffer.alloc(0x3ffb)])));
    expect(() => {
      for (let i = 0; i < 40; i++) huge(record(Buffer.alloc(0x3fff)));
    }).toThrow(/too large/);
  });
});
