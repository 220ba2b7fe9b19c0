import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commandExists, requireTool } from "./tools.js";

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

export const softHsmAvailable = requireTool(
  "SoftHSM2",
  commandExists("softhsm2-util") && existsSync(SOFTHSM_MODULE),
  "apt-get install -y softhsm2",
);

export interface SoftHsmToken {
  /** SOFTHSM2_CONF for every process that loads the module. */
  env: { SOFTHSM2_CONF: string };
  module: string;
  label: string;
  pin: string;
}

/** A fresh SoftHSM2 token in a directory of the test's own, initialised with softhsm2-util. */
export function createSoftHsmToken(dir: string, label = "strongroom"): SoftHsmToken {
  const tokens = join(dir, "softhsm-tokens");
  mkdirSync(tokens, { recursive: true });
  const conf = join(dir, "softhsm2.conf");
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  const pin = "1234";
  execFileSync(
    "softhsm2-util",
    ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "5678"],
    {
      env: { ...process.env, ...env },
      stdio: "ignore",
    },
  );
  return { env, module: SOFTHSM_MODULE, label, pin };
}

/** The environment that has a server process keep its HSM keys in this token. */
export function pkcs11Env(token: SoftHsmToken): NodeJS.ProcessEnv {
  return {
    ...token.env,
    STRONGROOM_PKCS11_MODULE: token.module,
    STRONGROOM_PKCS11_TOKEN_LABEL: token.label,
    STRONGROOM_PKCS11_PIN: token.pin,
  };
}

/** How many objects the token holds, counted by another process so the protector keeps its session. */
export function tokenObjects(token: SoftHsmToken): number {
  const script = `
    const graphene = require("graphene-pk11");
    const [, module, label, pin] = process.argv;
    const mod = graphene.Module.load(module);
    mod.initialize();
    try {
      const slots = mod.getSlots(true);
      for (let i = 0; i < slots.length; i++) {
        const slot = slots.items(i);
        if (slot.getToken().label !== label) continue;
        const session = slot.open(graphene.SessionFlag.SERIAL_SESSION);
        session.login(pin);
        console.log(session.find().length);
        session.logout();
        session.close();
      }
    } finally {
      mod.finalize();
    }`;
  return Number(
    execFileSync(process.execPath, ["-e", script, token.module, token.label, token.pin], {
      env: { ...process.env, ...token.env },
      encoding: "utf8",
    }).trim(),
  );
}
