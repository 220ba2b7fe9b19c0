import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CaKeyAlgorithm } from "../../src/domain/ca/model.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { opensslCsr } from "../support/openssl-req.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";

/** How `openssl -text` names the signature each CA key type makes (the responder's key is the CA's type). */
const SIGNATURE_NAMES: Record<CaKeyAlgorithm, string> = {
  "EC-P256": "ecdsa-with-SHA256",
  "EC-P384": "ecdsa-with-SHA384",
  "RSA-2048": "sha256WithRSAEncryption",
  "RSA-3072": "sha256WithRSAEncryption",
  "RSA-4096": "sha256WithRSAEncryption",
  Ed25519: "ED25519",
};

/**
 * Hierarchies that mix key types: an RSA and an EC intermediate under an EC root, Ed25519
 * intermediates under an EC root, and an EC intermediate under an Ed25519 root.
 */
const HIERARCHIES: { root: CaKeyAlgorithm; issuing: CaKeyAlgorithm; sharded: CaKeyAlgorithm }[] = [
  { root: "EC-P384", issuing: "RSA-2048", sharded: "EC-P256" },
  { root: "EC-P384", issuing: "Ed25519", sharded: "Ed25519" },
  { root: "Ed25519", issuing: "EC-P256", sharded: "Ed25519" },
];

/** The private CA as openssl sees it: chains, OCSP (POST and GET) and CRLs, full and sharded. */
describe.each(HIERARCHIES)(
  "the private CA with a $root root, $issuing and $sharded intermediates, checked with openssl",
  (keys) => {
    const data = tempDataDir();
    const dir = data.dir;
    let server: ServerProcess;
    let http: ReturnType<typeof httpsClient>;
    let bearer: string;

    const file = (name: string) => join(dir, name);
    const openssl = (...args: string[]) => {
      const run = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
      return { status: run.status, out: `${run.stdout}${run.stderr}` };
    };
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await http.send(`${server.admin.authorityHost}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies of many shapes
      return { status: res.status, body: res.text ? (res.json() as any) : undefined };
    };
    /** A fresh key and CSR made by openssl, signed by `ca` through the admin API; returns the serial. */
    async function issue(ca: string, name: string, cn: string, sans = `DNS:${cn}`) {
      opensslCsr(file(`${name}.key`), file(`${name}.csr`), `/CN=${cn}`, sans);
      const res = await admin("POST", `/admin/cas/${ca}/sign`, {
        csr: readFileSync(file(`${name}.csr`), "utf8"),
        validityDays: 30,
      });
      if (res.status === 201) writeFileSync(file(`${name}.pem`), res.body.certificate);
      return res;
    }
    const ocsp = (name: string, issuer: string, ...extra: string[]) =>
      openssl(
        "ocsp",
        "-issuer",
        file(`${issuer}.pem`),
        "-CAfile",
        file("root.pem"),
        "-url",
        `${server.pkiUrl}/ocsp`,
        ...(name.startsWith("0x") ? ["-serial", name] : ["-cert", file(`${name}.pem`)]),
        ...extra,
      );
    const fetchBytes = async (url: string) => {
      const res = await fetch(url);
      return {
        status: res.status,
        type: res.headers.get("content-type"),
        bytes: Buffer.from(await res.arrayBuffer()),
      };
    };
    /** The URL a certificate names for `ext` (crlDistributionPoints or authorityInfoAccess). */
    const urlIn = (name: string, ext: string, kind = "URI:") => {
      const text = openssl("x509", "-in", file(`${name}.pem`), "-noout", "-ext", ext).out;
      const line = text.split("\n").find((l) => l.includes(kind));
      return line?.slice(line.indexOf("URI:") + 4).trim() ?? "";
    };

    beforeAll(async () => {
      server = await startServerProcess(join(dir, "server"));
      http = httpsClient(server.ca);
      bearer = await adminToken(http, server.admin);
      const root = await admin("POST", "/admin/cas", {
        name: "root",
        kind: "root",
        subject: "CN=Strongroom Test Root, O=Strongroom",
        keyAlgorithm: keys.root,
        pathLength: 1,
      });
      expect(root.status, JSON.stringify(root.body)).toBe(201);
      writeFileSync(file("root.pem"), root.body.certificate);
      const issuing = await admin("POST", "/admin/cas", {
        name: "issuing",
        kind: "intermediate",
        parent: "root",
        subject: "CN=Strongroom Test Issuing CA, O=Strongroom",
        keyAlgorithm: keys.issuing,
        validityDays: 365,
        policies: ["2.23.140.1.2.1"],
        nameConstraints: { permitted: { dns: ["example.test"] }, excluded: { dns: ["bad.example.test"] } },
      });
      expect(issuing.status, JSON.stringify(issuing.body)).toBe(201);
      writeFileSync(file("issuing.pem"), issuing.body.certificate);
      const sharded = await admin("POST", "/admin/cas", {
        name: "sharded",
        kind: "intermediate",
        parent: "root",
        subject: "CN=Strongroom Sharded CA",
        keyAlgorithm: keys.sharded,
        validityDays: 365,
        crlShards: 16,
      });
      expect(sharded.status, JSON.stringify(sharded.body)).toBe(201);
      writeFileSync(file("sharded.pem"), sharded.body.certificate);
    });

    afterAll(async () => {
      http?.close();
      await server?.stop();
      data.remove();
    });

    it("issues a certificate that openssl verify accepts against the root with the intermediate untrusted", async () => {
      expect((await issue("issuing", "leaf", "www.example.test")).status).toBe(201);
      const verify = openssl(
        "verify",
        "-CAfile",
        file("root.pem"),
        "-untrusted",
        file("issuing.pem"),
        file("leaf.pem"),
      );
      expect(verify.out).toContain("leaf.pem: OK");
      const text = openssl("x509", "-in", file("leaf.pem"), "-noout", "-text").out;
      expect(text).toContain("DNS:www.example.test");
      expect(text).toContain("2.23.140.1.2.1");
      expect(text).toMatch(/Serial Number:\s*\n?\s*01:/);
      expect(text).toContain(`Signature Algorithm: ${SIGNATURE_NAMES[keys.issuing]}`);
      const issuingText = openssl("x509", "-in", file("issuing.pem"), "-noout", "-text").out;
      expect(issuingText).toContain(`Signature Algorithm: ${SIGNATURE_NAMES[keys.root]}`);
    });

    it("refuses names outside the CA's name constraints at issuance", async () => {
      const outside = await issue("issuing", "outside", "www.other.test");
      expect(outside.status).toBe(400);
      expect(outside.body.error.message).toContain("outside CA issuing's permitted names");
      const excluded = await issue("issuing", "excluded", "host.bad.example.test");
      expect(excluded.status).toBe(400);
      expect(excluded.body.error.message).toContain(
        'excluded by CA issuing\'s name constraint "bad.example.test"',
      );
      const ip = await issue("issuing", "ipname", "ip.example.test", "DNS:ip.example.test,IP:10.1.2.3");
      expect(ip.status).toBe(201);
    });

    it("serves the issuing CA's certificate at the caIssuers URL baked into the leaf", async () => {
      const url = urlIn("leaf", "authorityInfoAccess", "CA Issuers");
      expect(url).toMatch(/^http:\/\//);
      const res = await fetchBytes(url);
      expect(res.status).toBe(200);
      expect(res.type).toBe("application/pkix-cert");
      const der = openssl("x509", "-in", file("issuing.pem"), "-outform", "DER", "-out", file("issuing.der"));
      expect(der.status).toBe(0);
      expect(res.bytes.equals(readFileSync(file("issuing.der")))).toBe(true);
    });

    it("answers OCSP good with a verified delegated responder, echoing the nonce", () => {
      const result = ocsp("leaf", "issuing");
      expect(result.out).toContain("Response verify OK");
      expect(result.out).toContain(`${file("leaf.pem")}: good`);
      expect(result.out).not.toContain("WARNING: no nonce");
      const responder = ocsp("leaf", "issuing", "-no_nonce", "-resp_text");
      expect(responder.out).toContain("OCSP Signing");
      expect(responder.out).toContain("OCSP No Check");
      expect(responder.out).toContain("Response verify OK");
      // The response's own signature, then the responder certificate's (the issuing CA's).
      const [response, certificate] = responder.out.split("Certificate:");
      expect(response).toContain(`Signature Algorithm: ${SIGNATURE_NAMES[keys.issuing]}`);
      expect(certificate).toContain(`Signature Algorithm: ${SIGNATURE_NAMES[keys.issuing]}`);
    });

    it("answers OCSP unknown for a serial it never issued", () => {
      const result = ocsp("0x01deadbeef", "issuing");
      expect(result.out).toContain("Response verify OK");
      expect(result.out).toMatch(/0x01deadbeef: unknown/i);
    });

    it("answers OCSP GET requests (RFC 6960 §A.1) with cache headers", async () => {
      const req = openssl(
        "ocsp",
        "-issuer",
        file("issuing.pem"),
        "-cert",
        file("leaf.pem"),
        "-no_nonce",
        "-reqout",
        file("req.der"),
      );
      expect(req.status).toBe(0);
      const encoded = encodeURIComponent(readFileSync(file("req.der")).toString("base64"));
      const res = await fetchBytes(`${server.pkiUrl}/ocsp/${encoded}`);
      expect(res.status).toBe(200);
      expect(res.type).toBe("application/ocsp-response");
      writeFileSync(file("resp.der"), res.bytes);
      const read = openssl(
        "ocsp",
        "-respin",
        file("resp.der"),
        "-issuer",
        file("issuing.pem"),
        "-cert",
        file("leaf.pem"),
        "-CAfile",
        file("root.pem"),
      );
      expect(read.out).toContain("Response verify OK");
      expect(read.out).toContain(": good");
    });

    it("revokes by serial: OCSP says revoked at once and the CRL at the leaf's CDP lists it", async () => {
      expect((await issue("issuing", "gone", "gone.example.test")).status).toBe(201);
      const serial =
        openssl("x509", "-in", file("gone.pem"), "-noout", "-serial").out.trim().split("=")[1] ?? "";
      expect(ocsp("gone", "issuing", "-no_nonce").out).toContain(": good");
      const revoked = await admin("POST", "/admin/revocations", { serial, reason: "keyCompromise" });
      expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
      expect(revoked.body.status).toBe("revoked");
      const result = ocsp("gone", "issuing", "-no_nonce");
      expect(result.out).toContain(": revoked");
      expect(result.out).toContain("Reason: keyCompromise");

      const cdp = urlIn("gone", "crlDistributionPoints");
      const crl = await fetchBytes(cdp);
      expect(crl.status).toBe(200);
      expect(crl.type).toBe("application/pkix-crl");
      writeFileSync(file("issuing.crl"), crl.bytes);
      const text = openssl(
        "crl",
        "-inform",
        "DER",
        "-in",
        file("issuing.crl"),
        "-noout",
        "-text",
        "-CAfile",
        file("issuing.pem"),
      );
      expect(text.out).toContain("verify OK");
      expect(text.out).toContain(`Signature Algorithm: ${SIGNATURE_NAMES[keys.issuing]}`);
      expect(text.out.toUpperCase()).toContain(serial.toUpperCase());
      expect(text.out).toContain("Key Compromise");
      expect(text.out).toContain("X509v3 CRL Number");

      const pem = await fetch(cdp.replace(/\.crl$/, ".pem"));
      writeFileSync(file("issuing-crl.pem"), await pem.text());
      writeFileSync(
        file("root-crl.pem"),
        (await fetchBytes(`${urlIn("issuing", "crlDistributionPoints").replace(/\.crl$/, ".pem")}`)).bytes,
      );
      const verifyWithCrls = (certificate: string) =>
        openssl(
          "verify",
          "-crl_check_all",
          "-CAfile",
          file("root.pem"),
          "-untrusted",
          file("issuing.pem"),
          "-CRLfile",
          file("issuing-crl.pem"),
          "-CRLfile",
          file("root-crl.pem"),
          file(certificate),
        );
      expect(verifyWithCrls("gone.pem").out).toContain("certificate revoked");
      expect(verifyWithCrls("leaf.pem").out).toContain("leaf.pem: OK");
    });

    it("puts a certificate on hold and takes it off again", async () => {
      expect((await issue("issuing", "held", "held.example.test")).status).toBe(201);
      const serial =
        openssl("x509", "-in", file("held.pem"), "-noout", "-serial").out.trim().split("=")[1] ?? "";
      expect(
        (await admin("POST", "/admin/revocations", { serial, reason: "certificateHold" })).body.status,
      ).toBe("hold");
      const held = ocsp("held", "issuing", "-no_nonce");
      expect(held.out).toContain(": revoked");
      expect(held.out).toContain("Reason: certificateHold");
      const released = await admin("POST", "/admin/revocations/release", { serial });
      expect(released.body.status).toBe("good");
      expect(ocsp("held", "issuing", "-no_nonce").out).toContain(": good");
      const crl = await fetchBytes(urlIn("held", "crlDistributionPoints"));
      writeFileSync(file("after-release.crl"), crl.bytes);
      const text = openssl("crl", "-inform", "DER", "-in", file("after-release.crl"), "-noout", "-text").out;
      expect(text.toUpperCase()).not.toContain(serial.toUpperCase());
      const again = await admin("POST", "/admin/revocations/release", { serial });
      expect(again.status).toBe(409);
    });

    it("bakes a shard's CRL into the certificate, with an issuingDistributionPoint naming it", async () => {
      expect((await issue("sharded", "s1", "s1.example.test")).status).toBe(201);
      const serial =
        openssl("x509", "-in", file("s1.pem"), "-noout", "-serial").out.trim().split("=")[1] ?? "";
      const cdp = urlIn("s1", "crlDistributionPoints");
      expect(cdp).toMatch(/\/pki\/crl\/[0-9a-f-]+\/\d+\.crl$/);
      await admin("POST", "/admin/revocations", { serial, ca: "sharded", reason: "superseded" });
      const crl = await fetchBytes(cdp);
      writeFileSync(file("shard.crl"), crl.bytes);
      const text = openssl(
        "crl",
        "-inform",
        "DER",
        "-in",
        file("shard.crl"),
        "-noout",
        "-text",
        "-CAfile",
        file("sharded.pem"),
      ).out;
      expect(text).toContain("verify OK");
      expect(text).toContain(`Signature Algorithm: ${SIGNATURE_NAMES[keys.sharded]}`);
      expect(text).toContain("Issuing Distribution Point");
      expect(text).toContain(cdp);
      expect(text.toUpperCase()).toContain(serial.toUpperCase());
      writeFileSync(file("shard-crl.pem"), (await fetchBytes(cdp.replace(/\.crl$/, ".pem"))).bytes);
      const verify = openssl(
        "verify",
        "-crl_check",
        "-CAfile",
        file("root.pem"),
        "-untrusted",
        file("sharded.pem"),
        "-CRLfile",
        file("shard-crl.pem"),
        file("s1.pem"),
      );
      expect(verify.out).toContain("certificate revoked");
    });

    it("answers malformed OCSP requests with malformedRequest", async () => {
      const res = await fetch(`${server.pkiUrl}/ocsp`, {
        method: "POST",
        headers: { "content-type": "application/ocsp-request" },
        body: "not a request",
      });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).toString("hex")).toBe("30030a0101");
    });
  },
);
