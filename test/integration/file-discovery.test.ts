import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJavaKeyStore } from "../../src/crypto/java-keystore.js";
import { type FileScanResult, scanFiles } from "../../src/discovery/file-scanner.js";
import { commandExists, requireTool } from "../support/tools.js";

const haveTools =
  requireTool("openssl", commandExists("openssl"), "apt-get install openssl") &&
  requireTool("keytool", commandExists("keytool"), "apt-get install default-jre-headless");

const sha256 = (der: Uint8Array) => createHash("sha256").update(der).digest("hex");
const pemToDer = (pem: string) =>
  Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ""), "base64");
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString();

/** keytool's own view of a keystore: alias → SHA-256 fingerprints of the entry's certificates, leaf first. */
function keytoolList(store: string, storetype: string, password: string, cwd: string): Map<string, string[]> {
  const out = run(
    "keytool",
    ["-list", "-v", "-keystore", store, "-storetype", storetype, "-storepass", password],
    cwd,
  );
  const entries = new Map<string, string[]>();
  let alias = "";
  for (const line of out.split("\n")) {
    const named = /^Alias name: (.+)$/.exec(line);
    if (named?.[1]) {
      alias = named[1].trim();
      entries.set(alias, []);
    }
    const print = /^\s*SHA256: ([0-9A-F:]+)$/.exec(line);
    if (print?.[1]) entries.get(alias)?.push(print[1].replace(/:/g, "").toLowerCase());
  }
  return entries;
}

describe.runIf(haveTools)("file discovery over a tree of certificate files", () => {
  let root: string;
  let work: string;
  let result: FileScanResult;
  const agent = "host-7";
  const at = new Date("2026-03-01T00:00:00Z");
  const loc = (path: string, fragment?: string) =>
    `file://${agent}${join(root, path)}${fragment ? `#${fragment}` : ""}`;
  const observedAt = (location: string) => result.observations.find((o) => o.location === location);
  const fact = (path: string) => result.files.find((f) => f.path === join(root, path));
  let caDer: Buffer;
  let leafDer: Buffer;
  let otherDer: Buffer;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "file-discovery-work-"));
    root = mkdtempSync(join(tmpdir(), "file-discovery-"));
    const ossl = (...args: string[]) => run("openssl", args, work);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    ossl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-subj",
      "/CN=Discovery Test CA",
      "-days",
      "30",
    );
    ossl("req", "-new", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=leaf.test");
    ossl(
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "leaf.pem",
      "-days",
      "10",
    );
    ossl(
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "other.key",
      "-out",
      "other.pem",
      "-subj",
      "/CN=other.test",
      "-days",
      "30",
    );
    caDer = pemToDer(readFileSync(join(work, "ca.pem"), "utf8"));
    leafDer = pemToDer(readFileSync(join(work, "leaf.pem"), "utf8"));
    otherDer = pemToDer(readFileSync(join(work, "other.pem"), "utf8"));
    const fullchain =
      readFileSync(join(work, "leaf.pem"), "utf8") + readFileSync(join(work, "ca.pem"), "utf8");
    writeFileSync(join(work, "fullchain.pem"), fullchain);

    const put = (path: string, content: string | Buffer, mode = 0o644) => {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), content);
      chmodSync(join(root, path), mode);
    };
    // nginx-style: a full chain and its key beside it, the key readable by everyone.
    put("nginx/fullchain.pem", fullchain);
    put("nginx/privkey.pem", readFileSync(join(work, "leaf.key")), 0o644);
    // a certificate whose key sits beside it readable by its owner only
    put("app/other.crt", readFileSync(join(work, "other.pem")));
    put("app/other.key", readFileSync(join(work, "other.key")), 0o600);
    put("der/ca.cer", caDer);
    mkdirSync(join(root, "p7"));
    ossl(
      "crl2pkcs7",
      "-nocrl",
      "-certfile",
      "fullchain.pem",
      "-outform",
      "DER",
      "-out",
      join(root, "p7/chain.p7b"),
    );
    ossl("crl2pkcs7", "-nocrl", "-certfile", "fullchain.pem", "-out", join(root, "p7/chain-pem.p7c"));
    const pfx = (password: string, out: string) =>
      ossl(
        "pkcs12",
        "-export",
        "-inkey",
        "other.key",
        "-in",
        "other.pem",
        "-passout",
        `pass:${password}`,
        "-out",
        out,
      );
    mkdirSync(join(root, "pfx"));
    pfx("right-password", join(root, "pfx/known.p12"));
    pfx("nobody-knows-this", join(root, "pfx/unknown.pfx"));
    writeFileSync(join(root, "pfx/README.txt"), "not a certificate\n");
    // A MAC iteration count past the reader's bound: each password tried would cost that much PBKDF work.
    ossl(
      "pkcs12",
      "-export",
      "-inkey",
      "other.key",
      "-in",
      "other.pem",
      "-passout",
      "pass:x",
      "-iter",
      "1000001",
      "-out",
      join(root, "pfx/stalling.p12"),
    );

    // Java keystores made by keytool itself: a JKS with a key pair and a trusted CA, and a PKCS#12 one.
    mkdirSync(join(root, "java"));
    for (const [file, type] of [
      ["java/server.jks", "JKS"],
      ["java/server.p12", "PKCS12"],
    ] as const) {
      const common = ["-keystore", join(root, file), "-storetype", type, "-storepass", "store-secret"];
      run(
        "keytool",
        [
          "-genkeypair",
          "-alias",
          "tomcat",
          "-keyalg",
          "EC",
          "-groupname",
          "secp256r1",
          "-dname",
          "CN=tomcat.test",
          "-validity",
          "30",
          "-keypass",
          "store-secret",
          ...common,
        ],
        work,
      );
      run("keytool", ["-importcert", "-alias", "corp-root", "-file", "ca.pem", "-noprompt", ...common], work);
    }

    // JCEKS: the same entries, and a store holding a secret key (a serialized Java object) besides.
    const jceks = [
      "-keystore",
      join(root, "java/server.jceks"),
      "-storetype",
      "JCEKS",
      "-storepass",
      "store-secret",
    ];
    run("keytool", ["-importcert", "-alias", "corp-root", "-file", "ca.pem", "-noprompt", ...jceks], work);
    const sealed = [
      "-keystore",
      join(root, "java/secrets.jceks"),
      "-storetype",
      "JCEKS",
      "-storepass",
      "store-secret",
    ];
    run(
      "keytool",
      [
        "-genseckey",
        "-alias",
        "aes",
        "-keyalg",
        "AES",
        "-keysize",
        "128",
        "-keypass",
        "store-secret",
        ...sealed,
      ],
      work,
    );
    const jks = readFileSync(join(root, "java/server.jks"));
    writeFileSync(join(work, "server.jks"), jks);
    writeFileSync(join(root, "java/truncated.jks"), jks.subarray(0, 100));

    // a link back up the tree, which must not make the walk go round forever
    symlinkSync(root, join(root, "app/loop"));
    // deeper than the scan goes
    put("deep/one/two/three/hidden.pem", readFileSync(join(work, "other.pem")));
    put("excluded/ignored.pem", readFileSync(join(work, "other.pem")));
    put("nginx/old.pem.bak", readFileSync(join(work, "other.pem")));

    result = await scanFiles({
      agent,
      roots: [root],
      exclude: [join(root, "excluded"), "*.bak"],
      maxDepth: 3,
      passwords: ["wrong-one", "right-password", "store-secret"],
      seenAt: at,
    });
  });

  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it("reads every certificate of a PEM bundle, each at its own location with the others as its chain", () => {
    const leaf = observedAt(loc("nginx/fullchain.pem"));
    const ca = observedAt(loc("nginx/fullchain.pem", "2"));
    expect(leaf && sha256(leaf.der)).toBe(sha256(leafDer));
    expect(leaf?.chain?.map(sha256)).toEqual([sha256(caDer)]);
    expect(ca && sha256(ca.der)).toBe(sha256(caDer));
    expect(leaf?.source).toBe("file");
    expect(leaf?.seenAt).toEqual(at);
    expect(fact("nginx/fullchain.pem")).toMatchObject({ format: "pem", status: "read", certificates: 2 });
  });

  it("pairs a certificate with the private key beside it and flags that key as world-readable", () => {
    const leaf = observedAt(loc("nginx/fullchain.pem"));
    expect(leaf?.detail).toMatchObject({
      privateKey: join(root, "nginx/privkey.pem"),
      privateKeyMode: "0644",
      privateKeyWorldReadable: true,
    });
    // the CA's key is not there
    expect(observedAt(loc("nginx/fullchain.pem", "2"))?.detail).toMatchObject({ privateKey: null });
    expect(fact("nginx/privkey.pem")).toMatchObject({
      format: "private-key",
      worldReadable: true,
      mode: "0644",
    });
    const other = observedAt(loc("app/other.crt"));
    expect(other?.detail).toMatchObject({
      privateKey: join(root, "app/other.key"),
      privateKeyMode: "0600",
      privateKeyWorldReadable: false,
    });
  });

  it("records each file's owner and mode", () => {
    const uid = process.getuid?.() ?? 0;
    expect(fact("app/other.key")).toMatchObject({
      uid,
      mode: "0600",
      worldReadable: false,
      groupReadable: false,
    });
    expect(observedAt(loc("der/ca.cer"))?.detail).toMatchObject({
      format: "der",
      mode: "0644",
      worldReadable: true,
    });
  });

  it("reads DER and PKCS#7 in both encodings", () => {
    expect(sha256(observedAt(loc("der/ca.cer"))?.der ?? Buffer.alloc(0))).toBe(sha256(caDer));
    for (const file of ["p7/chain.p7b", "p7/chain-pem.p7c"]) {
      expect(fact(file)).toMatchObject({ format: "pkcs7", certificates: 2 });
      const found = [observedAt(loc(file)), observedAt(loc(file, "2"))].map((o) => o && sha256(o.der));
      expect(found.sort()).toEqual([sha256(leafDer), sha256(caDer)].sort());
    }
  });

  it("opens a PKCS#12 with a configured password and records one it cannot open as encrypted, unread", () => {
    expect(fact("pfx/known.p12")).toMatchObject({ format: "pkcs12", status: "read", certificates: 1 });
    const known = observedAt(loc("pfx/known.p12"));
    expect(known && sha256(known.der)).toBe(sha256(otherDer));
    expect(known?.detail).toMatchObject({ privateKey: join(root, "pfx/known.p12") });
    expect(fact("pfx/unknown.pfx")).toMatchObject({
      format: "pkcs12",
      status: "encrypted-unread",
      certificates: 0,
    });
    expect(result.observations.some((o) => o.location.startsWith(loc("pfx/unknown.pfx")))).toBe(false);
    expect(fact("pfx/README.txt")).toBeUndefined();
    expect(fact("pfx/stalling.p12")).toMatchObject({
      status: "damaged",
      reason: "the PKCS#12 MAC asks for 1000001 iterations, over the 1000000 read",
    });
  });

  it("reads a keytool JKS exactly as keytool lists it, entry by alias, and verifies its digest", () => {
    const listed = keytoolList(join(root, "java/server.jks"), "JKS", "store-secret", work);
    expect([...listed.keys()].sort()).toEqual(["corp-root", "tomcat"]);
    for (const [alias, prints] of listed) {
      const found = prints.map((_, i) =>
        observedAt(loc("java/server.jks", i === 0 ? alias : `${alias}/${i + 1}`)),
      );
      expect(found.map((o) => o && sha256(o.der))).toEqual(prints);
      expect(found[0]?.detail).toMatchObject({ alias, format: "jks" });
    }
    expect(observedAt(loc("java/server.jks", "tomcat"))?.detail).toMatchObject({
      privateKey: join(root, "java/server.jks"),
    });
    expect(observedAt(loc("java/server.jks", "corp-root"))?.detail).toMatchObject({ privateKey: null });
    expect(fact("java/server.jks")).toMatchObject({ format: "jks", integrity: "verified", certificates: 2 });
  });

  it("reads a JKS without its password but leaves its digest unverified, and reports a damaged one", () => {
    const store = parseJavaKeyStore(readFileSync(join(work, "server.jks")), ["not-the-password"]);
    expect(store.integrity).toBe("unverified");
    expect(store.entries.map((e) => [e.alias, e.kind])).toEqual(
      expect.arrayContaining([
        ["tomcat", "privateKey"],
        ["corp-root", "trustedCertificate"],
      ]),
    );
    expect(fact("java/truncated.jks")).toMatchObject({
      status: "damaged",
      reason: "the keystore is truncated",
    });
  });

  it("reads a keytool JCEKS keystore, and one holding a secret key without failing", () => {
    const root = observedAt(loc("java/server.jceks", "corp-root"));
    expect(root && sha256(root.der)).toBe(sha256(caDer));
    expect(fact("java/server.jceks")).toMatchObject({
      format: "jceks",
      integrity: "verified",
      certificates: 1,
    });
    expect(fact("java/secrets.jceks")).toMatchObject({
      format: "jceks",
      status: "read",
      integrity: "partial",
      certificates: 0,
    });
  });

  it("reads a keytool PKCS#12 keystore with its store password", () => {
    const listed = keytoolList(join(root, "java/server.p12"), "PKCS12", "store-secret", work);
    const expected = [...listed.values()].flat().sort();
    const found = result.observations
      .filter((o) => o.location.startsWith(loc("java/server.p12")))
      .map((o) => sha256(o.der));
    expect(found.sort()).toEqual(expected);
    expect(expected).toContain(sha256(caDer));
  });

  it("follows a link loop once and stops", () => {
    expect(result.skipped).toContainEqual(
      expect.objectContaining({ path: join(root, "app/loop"), reason: "visited" }),
    );
    expect(result.observations.filter((o) => o.location === loc("der/ca.cer"))).toHaveLength(1);
  });

  it("goes no deeper than maxDepth and leaves excluded paths out", () => {
    expect(result.skipped).toContainEqual({
      path: join(root, "deep/one/two/three"),
      reason: "too-deep",
      detail: "below maxDepth 3",
    });
    expect(result.skipped).toContainEqual({ path: join(root, "excluded"), reason: "excluded" });
    expect(result.skipped).toContainEqual({ path: join(root, "nginx/old.pem.bak"), reason: "excluded" });
    const paths = result.observations.map((o) => o.location);
    expect(
      paths.some((p) => p.includes("hidden.pem") || p.includes("ignored.pem") || p.includes(".bak")),
    ).toBe(false);
  });

  it("finds nothing it did not see: every observation is a file the test wrote", () => {
    const files = new Set(result.observations.map((o) => o.location.replace(/#.*$/, "")));
    expect([...files].sort()).toEqual(
      [
        "app/other.crt",
        "der/ca.cer",
        "java/server.jceks",
        "java/server.jks",
        "java/server.p12",
        "nginx/fullchain.pem",
        "p7/chain-pem.p7c",
        "p7/chain.p7b",
        "pfx/known.p12",
      ]
        .map((f) => loc(f))
        .sort(),
    );
  });
});
