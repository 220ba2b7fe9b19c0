import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as graphene from "graphene-pk11";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminToken, httpsClient } from "../support/https-client.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, type SoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

/** PKCS#11 v3.0 CKK_EC_EDWARDS, which graphene-pk11 does not name. */
const CKK_EC_EDWARDS = 0x40;

const HIERARCHIES = [
  {
    root: "EC-P384",
    issuing: "RSA-2048",
    signature: "sha256WithRSAEncryption",
    keyTypes: [graphene.KeyType.RSA, graphene.KeyType.EC],
  },
  { root: "Ed25519", issuing: "Ed25519", signature: "ED25519", keyTypes: [CKK_EC_EDWARDS] },
];

// A hierarchy whose CA keys (and OCSP responder keys) live in SoftHSM2 and sign through PKCS#11.
describe.skipIf(!softHsmAvailable).each(HIERARCHIES)(
  "a private CA with $root and $issuing keys in SoftHSM2",
  (keys) => {
    const data = tempDataDir();
    const dir = data.dir;
    let token: SoftHsmToken;
    let server: ServerProcess;
    let http: ReturnType<typeof httpsClient>;
    let bearer: string;
    const file = (name: string) => join(dir, name);
    const openssl = (...args: string[]) => {
      const run = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
      return `${run.stdout}${run.stderr}`;
    };
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await http.send(`${server.admin.authorityHost}${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies of many shapes
      return { status: res.status, body: res.text ? (res.json() as any) : undefined };
    };
    let serial = "";

    beforeAll(async () => {
      token = createSoftHsmToken(dir);
      server = await startServerProcess(join(dir, "server"), [], {
        ...token.env,
        STRONGROOM_PKCS11_MODULE: token.module,
        STRONGROOM_PKCS11_TOKEN_LABEL: token.label,
        STRONGROOM_PKCS11_PIN: token.pin,
      });
      http = httpsClient(server.ca);
      bearer = await adminToken(http, server.admin);
    });

    afterAll(async () => {
      http?.close();
      await server?.stop();
      data.remove();
    });

    it("creates a root and an intermediate whose keys are generated in the HSM", async () => {
      const root = await call("POST", "/admin/cas", {
        name: "hsm-root",
        kind: "root",
        subject: "CN=HSM Root",
        keyAlgorithm: keys.root,
        protection: "hsm",
      });
      expect(root.status, JSON.stringify(root.body)).toBe(201);
      expect(root.body.protection).toBe("hsm");
      writeFileSync(file("root.pem"), root.body.certificate);
      const issuing = await call("POST", "/admin/cas", {
        name: "hsm-issuing",
        kind: "intermediate",
        parent: "hsm-root",
        subject: "CN=HSM Issuing CA",
        keyAlgorithm: keys.issuing,
        protection: "hsm",
        validityDays: 365,
      });
      expect(issuing.status, JSON.stringify(issuing.body)).toBe(201);
      writeFileSync(file("issuing.pem"), issuing.body.certificate);
      expect(openssl("verify", "-CAfile", file("root.pem"), file("issuing.pem"))).toContain(
        "issuing.pem: OK",
      );
    });

    it("signs certificates with the HSM key", async () => {
      execFileSync(
        "openssl",
        [
          "req",
          "-new",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          file("leaf.key"),
          "-out",
          file("leaf.csr"),
          "-subj",
          "/CN=hsm.example.test",
          "-addext",
          "subjectAltName=DNS:hsm.example.test",
        ],
        { stdio: "ignore" },
      );
      const signed = await call("POST", "/admin/cas/hsm-issuing/sign", {
        csr: readFileSync(file("leaf.csr"), "utf8"),
      });
      expect(signed.status, JSON.stringify(signed.body)).toBe(201);
      serial = signed.body.serial;
      writeFileSync(file("leaf.pem"), signed.body.certificate);
      expect(
        openssl("verify", "-CAfile", file("root.pem"), "-untrusted", file("issuing.pem"), file("leaf.pem")),
      ).toContain("leaf.pem: OK");
      expect(openssl("x509", "-in", file("leaf.pem"), "-noout", "-text")).toContain(
        `Signature Algorithm: ${keys.signature}`,
      );
    });

    it("signs OCSP responses through an HSM responder key certified by the HSM CA key", () => {
      const args = [
        "ocsp",
        "-issuer",
        file("issuing.pem"),
        "-cert",
        file("leaf.pem"),
        "-CAfile",
        file("root.pem"),
        "-url",
        `${server.pkiUrl}/ocsp`,
      ];
      const good = openssl(...args);
      expect(good).toContain("Response verify OK");
      expect(good).toContain(": good");
    });

    it("signs overlapping OCSP responses and certificates without tripping over the token's one session", async () => {
      openssl(
        "ocsp",
        "-issuer",
        file("issuing.pem"),
        "-cert",
        file("leaf.pem"),
        "-reqout",
        file("nonce-req.der"),
      );
      const request = readFileSync(file("nonce-req.der"));
      const answers = await Promise.all([
        ...Array.from({ length: 12 }, () =>
          fetch(`${server.pkiUrl}/ocsp`, {
            method: "POST",
            headers: { "content-type": "application/ocsp-request" },
            body: request,
          }).then(async (r) => Buffer.from(await r.arrayBuffer())),
        ),
        call("POST", "/admin/cas/hsm-issuing/sign", { csr: readFileSync(file("leaf.csr"), "utf8") }),
      ]);
      const signed = answers.pop() as { status: number };
      expect(signed.status).toBe(201);
      // A status-only answer (internalError) is five bytes; a signed one is hundreds.
      for (const der of answers as Buffer[]) expect(der.length).toBeGreaterThan(200);
    });

    it("signs CRLs with the HSM key after a revocation", async () => {
      const revoked = await call("POST", "/admin/revocations", { serial, reason: "cessationOfOperation" });
      expect(revoked.status, server.output()).toBe(200);
      const ocsp = openssl(
        "ocsp",
        "-issuer",
        file("issuing.pem"),
        "-cert",
        file("leaf.pem"),
        "-CAfile",
        file("root.pem"),
        "-url",
        `${server.pkiUrl}/ocsp`,
      );
      expect(ocsp).toContain("Response verify OK");
      expect(ocsp).toContain("Reason: cessationOfOperation");
      const text = openssl("x509", "-in", file("leaf.pem"), "-noout", "-ext", "crlDistributionPoints");
      const url = /URI:(\S+)/.exec(text)?.[1] ?? "";
      const res = await fetch(url);
      writeFileSync(file("issuing.crl"), Buffer.from(await res.arrayBuffer()));
      const crl = openssl(
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
      expect(crl).toContain("verify OK");
      expect(crl.toUpperCase()).toContain(serial.toUpperCase());
    });

    it("keeps the CA and responder private keys in the token, sensitive and non-extractable", async () => {
      await server.stop();
      process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
      const mod = graphene.Module.load(token.module);
      mod.initialize();
      try {
        const session = mod.getSlots(0, true).open(graphene.SessionFlag.SERIAL_SESSION);
        session.login(token.pin);
        const privateKeys = session.find({ class: graphene.ObjectClass.PRIVATE_KEY });
        // Two CA keys and their two OCSP responder keys.
        expect(privateKeys.length).toBe(4);
        const types = new Set<number>();
        for (let i = 0; i < privateKeys.length; i++) {
          const attributes = privateKeys
            .items(i)
            .getAttribute({ sensitive: null, extractable: null, keyType: null });
          expect(attributes).toMatchObject({ sensitive: true, extractable: false });
          types.add(attributes.keyType as number);
        }
        expect([...types].sort()).toEqual([...keys.keyTypes].sort());
        session.logout();
        session.close();
      } finally {
        mod.finalize();
      }
    });
  },
);
