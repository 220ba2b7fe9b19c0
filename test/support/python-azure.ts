import { execFile, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import type { ServerProcess } from "./server-process.js";
import { requireTool } from "./tools.js";

const PYTHON = "/usr/bin/python3";
const SCRIPTS = resolve(import.meta.dirname, "../compat/python");

/** Debian's official Azure SDK for Python (azure-identity, azure-keyvault-*), on the system interpreter. */
export const pythonAzureAvailable = requireTool(
  "python3-azure",
  spawnSync(
    PYTHON,
    [
      "-c",
      "import azure.identity, azure.keyvault.secrets, azure.keyvault.keys, azure.keyvault.certificates, cryptography",
    ],
    {
      stdio: "ignore",
    },
  ).status === 0,
  "apt-get install -y python3-azure",
);

/**
 * Runs test/compat/python/<script>.py against the server, with its admin credentials and its CA
 * trusted through REQUESTS_CA_BUNDLE (which azure-core and MSAL use), and returns what the script
 * reported. A script that raised fails the call with its traceback.
 */
export function runPython(
  server: ServerProcess,
  script: string,
  scenario: string,
  args: Record<string, unknown> = {},
  // biome-ignore lint/suspicious/noExplicitAny: scripts report JSON of many shapes
): Promise<any> {
  const caFile = server.admin.caFile ?? "";
  return new Promise((done, fail) => {
    execFile(
      PYTHON,
      [`${SCRIPTS}/${script}.py`, `${server.dataDir}/admin.json`, scenario, JSON.stringify(args)],
      {
        env: {
          ...process.env,
          REQUESTS_CA_BUNDLE: caFile,
          SSL_CERT_FILE: caFile,
          PYTHONDONTWRITEBYTECODE: "1",
        },
        timeout: 60_000,
        encoding: "utf8",
      },
      (error, stdout, stderr) => {
        if (error) return fail(new Error(`${script} ${scenario} failed:\n${stderr || error.message}`));
        try {
          done(JSON.parse(stdout.trim().split("\n").at(-1) ?? ""));
        } catch {
          fail(new Error(`${script} ${scenario} reported no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}
