import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Certmonger, certmongerAvailable, startCertmonger } from "../support/certmonger.js";
import { runCli } from "../support/cli.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { requireTool } from "../support/tools.js";

const haveTools = requireTool(
  "certmonger",
  certmongerAvailable,
  "apt-get install certmonger dbus-daemon (its scep-submit helper is the SCEP client)",
);

/** SCEP (RFC 8894) driven by certmonger's daemon and its scep-submit helper. */
describe.runIf(haveTools)("SCEP with certmonger's scep-submit", () => {
  const data = tempDataDir();
  const dir = data.dir;
  let server: ServerProcess;
  let certmonger: Certmonger;

  const file = (name: string) => join(dir, name);
  const cli = (...args: string[]) => {
    const r = runCli([...args, "--data-dir", dir]);
    if (r.code !== 0) throw new Error(`strongroom ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  const openssl = (...args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    return `${r.stdout}${r.stderr}`;
  };
  const serial = (pem: string) => openssl("x509", "-in", file(pem), "-noout", "-serial").trim();

  beforeAll(async () => {
    server = await startServerProcess(dir);
    cli("ca", "create-root", "scep-root", "--subject", "CN=SCEP Root");
    cli("scep", "create", "phones", "--ca", "scep-root", "--validity-days", "30");
    cli("scep", "create", "held", "--ca", "scep-root", "--approval");
    const [root] = JSON.parse(cli("ca", "list", "--json")) as { id: string }[];
    const der = await fetch(`${server.pkiUrl}/pki/ca/${root?.id}.crt`).then(async (r) =>
      Buffer.from(await r.arrayBuffer()),
    );
    writeFileSync(file("root.der"), der);
    openssl("x509", "-inform", "DER", "-in", file("root.der"), "-out", file("root.pem"));
    certmonger = await startCertmonger(file("certmonger"));
    // SCEP is plain HTTP (RFC 8894 §4.1); certmonger's helper does not keep its CA file past GetCACaps.
    for (const [nickname, label] of [
      ["strongroom", "phones"],
      ["held", "held"],
    ])
      expect(
        certmonger.getcert("add-scep-ca", "-c", nickname as string, "-u", `${server.pkiUrl}/scep/${label}`)
          .out,
      ).toContain("added");
  }, 120_000);

  afterAll(async () => {
    await certmonger?.stop();
    await server?.stop();
    data.remove();
  });

  it("enrolls with a one-time challenge password", async () => {
    const challenge = cli("scep", "challenge", "phones").trim();
    certmonger.getcert(
      "request",
      "-c",
      "strongroom",
      "-I",
      "first",
      "-k",
      file("phone1.key"),
      "-f",
      file("phone1.pem"),
      "-N",
      "CN=phone1.example",
      "-D",
      "phone1.example",
      "-L",
      challenge,
    );
    expect(await certmonger.settled("first")).toBe("MONITORING");
    expect(
      openssl("x509", "-in", file("phone1.pem"), "-noout", "-subject", "-ext", "subjectAltName"),
    ).toMatch(/CN ?= ?phone1\.example[\s\S]*DNS:phone1\.example/);
    expect(openssl("verify", "-CAfile", file("root.pem"), file("phone1.pem"))).toContain("OK");
    expect(cli("ca", "issued", "scep-root")).toContain("CN=phone1.example");
    openssl("x509", "-in", file("phone1.pem"), "-out", file("phone1-first.pem"));
  });

  it("renews with a RenewalReq signed by the certificate being renewed", async () => {
    const before = serial("phone1-first.pem");
    certmonger.getcert("resubmit", "-i", "first", "-w");
    expect(await certmonger.settled("first")).toBe("MONITORING");
    expect(serial("phone1.pem")).not.toBe(before);
    expect(openssl("verify", "-CAfile", file("root.pem"), file("phone1.pem"))).toContain("OK");
  });

  it("refuses a wrong challenge password, and a used one, with a CertRep FAILURE", async () => {
    const request = (id: string, cn: string, challenge: string) =>
      certmonger.getcert(
        "request",
        "-c",
        "strongroom",
        "-I",
        id,
        "-k",
        file(`${id}.key`),
        "-f",
        file(`${id}.pem`),
        "-N",
        `CN=${cn}`,
        "-L",
        challenge,
      );
    request("wrong", "wrong.example", "not-a-challenge");
    expect(await certmonger.settled("wrong")).toBe("CA_REJECTED");
    expect(certmonger.getcert("list", "-i", "wrong").out).toContain("not permitted");
    const challenge = cli("scep", "challenge", "phones").trim();
    request("once", "once.example", challenge);
    expect(await certmonger.settled("once")).toBe("MONITORING");
    request("twice", "twice.example", challenge);
    expect(await certmonger.settled("twice")).toBe("CA_REJECTED");
    const issued = cli("ca", "issued", "scep-root");
    expect(issued).toContain("CN=once.example");
    expect(issued).not.toContain("CN=wrong.example");
    expect(issued).not.toContain("CN=twice.example");
  });

  it("leaves a request pending where the profile requires approval", async () => {
    const challenge = cli("scep", "challenge", "held").trim();
    certmonger.getcert(
      "request",
      "-c",
      "held",
      "-I",
      "pending",
      "-k",
      file("pending.key"),
      "-f",
      file("pending.pem"),
      "-N",
      "CN=pending.example",
      "-L",
      challenge,
    );
    expect(await certmonger.settled("pending")).toBe("CA_WORKING");
    expect(cli("ca", "issued", "scep-root")).not.toContain("CN=pending.example");
  });

  it("issues the held request once an approver approves it, when certmonger asks again", async () => {
    const pending = JSON.parse(cli("approvals", "list", "--state", "pending", "--json")) as {
      value: { id: string; entry: string; summary: string }[];
    };
    const held = pending.value.find((a) => a.entry === "scep" && a.summary.includes("pending.example"));
    expect(held).toBeDefined();
    cli("approvals", "approve", held?.id as string, "--reason", "known device");
    certmonger.getcert("resubmit", "-i", "pending");
    expect(await certmonger.settled("pending")).toBe("MONITORING");
    expect(openssl("x509", "-in", file("pending.pem"), "-noout", "-subject")).toContain("pending.example");
    expect(cli("ca", "issued", "scep-root")).toContain("CN=pending.example");
  });
});
