import { writeFileSync } from "node:fs";
import * as graphene from "graphene-pk11";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { adminPost, adminToken, httpsClient } from "../support/https-client.js";
import { startServerProcess, tempDataDir } from "../support/server-process.js";
import { createSoftHsmToken, pkcs11Env, type SoftHsmToken, softHsmAvailable } from "../support/softhsm.js";

const V = "api-version=7.6";

/** Makes a premium vault and one RSA-HSM key in it through the API; returns the key's modulus. */
async function createHsmKey(server: Awaited<ReturnType<typeof startServerProcess>>): Promise<Buffer> {
  await adminPost(server, "/admin/vaults", { name: "hsm", sku: "premium" });
  const http = httpsClient(server.ca);
  try {
    const bearer = await adminToken(http, server.admin);
    const headers = { authorization: `Bearer ${bearer}`, "content-type": "application/json" };
    const key = await http.send(`https://127.0.0.1:${server.port}/keys/in-token/create?${V}`, {
      method: "POST",
      headers,
      host: `hsm.localhost:${server.port}`,
      body: JSON.stringify({ kty: "RSA-HSM" }),
    });
    expect(key.status).toBe(200);
    return Buffer.from(key.json<{ key: { n: string } }>().key.n, "base64url");
  } finally {
    http.close();
  }
}

/** The labels of the module's tokens in slot order, and how many objects in each hold `modulus`. */
function tokensHolding(token: SoftHsmToken, modulus: Buffer): { label: string; objects: number }[] {
  process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
  const mod = graphene.Module.load(token.module);
  mod.initialize();
  try {
    const slots = mod.getSlots(true);
    const found: { label: string; objects: number }[] = [];
    for (let i = 0; i < slots.length; i++) {
      const slot = slots.items(i);
      const label = slot.getToken().label;
      if (label === "") continue;
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION);
      session.login(token.pin);
      found.push({ label, objects: session.find({ modulus }).length });
      session.logout();
      session.close();
    }
    return found;
  } finally {
    mod.finalize();
  }
}

/** The label of the token at `index` in the module's list of slots with a token, as Strongroom counts. */
function labelAtSlot(token: SoftHsmToken, index: number): string {
  process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
  const mod = graphene.Module.load(token.module);
  mod.initialize();
  try {
    return mod.getSlots(true).items(index).getToken().label;
  } finally {
    mod.finalize();
  }
}

describe.skipIf(!softHsmAvailable)("PKCS#11 settings", () => {
  let data: ReturnType<typeof tempDataDir>;
  let stop: (() => Promise<unknown>) | undefined;

  afterEach(async () => {
    await stop?.();
    stop = undefined;
    data.remove();
  });

  it("opens the token at the pkcs11Slot index when no token label is given", async () => {
    data = tempDataDir();
    const first = createSoftHsmToken(data.dir, "first");
    createSoftHsmToken(data.dir, "second");
    const chosen = labelAtSlot(first, 1);
    expect(["first", "second"]).toContain(chosen);
    const server = await startServerProcess(`${data.dir}/server`, [], {
      ...pkcs11Env(first),
      STRONGROOM_PKCS11_TOKEN_LABEL: "",
      STRONGROOM_PKCS11_SLOT: "1",
    });
    stop = () => server.stop();
    const modulus = await createHsmKey(server);
    await server.stop();
    stop = undefined;
    const holding = tokensHolding(first, modulus);
    expect(holding).toHaveLength(2);
    for (const { label, objects } of holding) expect(objects, label).toBe(label === chosen ? 2 : 0);
  });

  it("logs in with the PIN read from pkcs11PinFile", async () => {
    data = tempDataDir();
    const token = createSoftHsmToken(data.dir);
    const pinFile = `${data.dir}/pin`;
    writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 });
    const server = await startServerProcess(`${data.dir}/server`, [], {
      ...pkcs11Env(token),
      STRONGROOM_PKCS11_PIN: "",
      STRONGROOM_PKCS11_PIN_FILE: pinFile,
    });
    stop = () => server.stop();
    const modulus = await createHsmKey(server);
    await server.stop();
    stop = undefined;
    expect(tokensHolding(token, modulus)).toEqual([{ label: token.label, objects: 2 }]);
  });

  it.each([
    [
      "a wrong PIN",
      { STRONGROOM_PKCS11_PIN: "9999" },
      'The HSM token "strongroom" refused the user PIN (CKR_PIN_INCORRECT): check pkcs11Pin (STRONGROOM_PKCS11_PIN) or the file pkcs11PinFile names',
    ],
    [
      "a PIN file that is not there",
      { STRONGROOM_PKCS11_PIN: "", STRONGROOM_PKCS11_PIN_FILE: "/nonexistent/pin" },
      "Cannot read the HSM PIN file /nonexistent/pin (ENOENT): pkcs11PinFile (STRONGROOM_PKCS11_PIN_FILE) must name a file this process can read",
    ],
    [
      "a missing module",
      { STRONGROOM_PKCS11_MODULE: "/nonexistent/libpkcs11.so" },
      "Cannot load the PKCS#11 module /nonexistent/libpkcs11.so (/nonexistent/libpkcs11.so: cannot open shared object file: No such file or directory): pkcs11Module (STRONGROOM_PKCS11_MODULE) must be the path of the HSM vendor's PKCS#11 library",
    ],
    [
      "a token label no slot has",
      { STRONGROOM_PKCS11_TOKEN_LABEL: "elsewhere" },
      'No PKCS#11 token labelled "elsewhere" in /usr/lib/softhsm/libsofthsm2.so: set pkcs11TokenLabel to a token\'s label, or pkcs11Slot to an index below 2',
    ],
  ])("refuses to start with %s, saying which setting to fix", (_name, wrong, message) => {
    data = tempDataDir();
    const token = createSoftHsmToken(data.dir);
    const result = runCli(["serve", "--data-dir", `${data.dir}/server`, "--port", "0", "--pki-port", "0"], {
      ...pkcs11Env(token),
      ...wrong,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`strongroom: ${message}`);
    expect(result.stderr).not.toMatch(/unexpected failure|\n\s+at /);
  });
});
