import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateSigner } from "../../src/agent/server-client.js";
import { runCliAsync } from "../support/cli.js";
import { adminToken, httpsClient } from "../support/https-client.js";
import { opensslCsr, opensslSelfSigned, opensslSignCsr } from "../support/openssl-req.js";
import { backendArgs, serverBackends } from "../support/server-backends.js";
import { type ServerProcess, startServerProcess, tempDataDir } from "../support/server-process.js";
import { commandExists, requireTool } from "../support/tools.js";

const CLI = resolve(import.meta.dirname, "../../dist/cli/main.js");

const haveTools =
  requireTool("openssl", commandExists("openssl"), "apt-get install openssl") &&
  requireTool("keytool", commandExists("keytool"), "apt-get install default-jre-headless");

type Json = Record<string, unknown>;
interface Location {
  uri: string;
  source: string;
  goneAt?: string;
  detail?: Json;
}
interface Item {
  fingerprintSha256: string;
  subject: string;
  locations: Location[];
}

const sha256 = (der: Buffer) => createHash("sha256").update(der).digest("hex");
const pemToDer = (pem: string) =>
  Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s+/g, ""), "base64");

/** A `strongroom agent` process: its output so far, and its exit. */
function startAgent(args: string[]) {
  const child: ChildProcess = spawn(process.execPath, [CLI, "agent", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const state = { output: "", child, exit: new Promise<number | null>((r) => child.once("exit", r)) };
  const append = (d: Buffer) => {
    state.output += d.toString();
  };
  child.stdout?.on("data", append);
  child.stderr?.on("data", append);
  return state;
}

for (const backend of serverBackends) {
  describe.runIf(haveTools && backend.enabled)(
    `the agent's file discovery, signed in with a client certificate (${backend.name})`,
    () => {
      const data = tempDataDir();
      let work: string;
      let root: string;
      let server: ServerProcess;
      let database: string[] = [];
      let drop: () => Promise<void> = async () => {};
      let client: ReturnType<typeof httpsClient>;
      let token: string;
      let agent: ReturnType<typeof startAgent> | undefined;
      const name = "files-1";
      const credentialsFile = () => join(work, "agent.json");
      const loc = (path: string, fragment?: string) =>
        `file://${name}${join(root, path)}${fragment ? `#${fragment}` : ""}`;
      const prints: Record<string, string> = {};

      const ossl = (...args: string[]) =>
        execFileSync("openssl", args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
      const keytool = (...args: string[]) =>
        execFileSync("keytool", args, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
      const put = (path: string, content: string | Buffer, mode = 0o644) => {
        mkdirSync(join(root, path, ".."), { recursive: true });
        writeFileSync(join(root, path), content);
        chmodSync(join(root, path), mode);
      };
      const selfSigned = (base: string, cn: string) => {
        opensslSelfSigned(join(work, `${base}.key`), join(work, `${base}.pem`), `/CN=${cn}`, { days: 30 });
        prints[base] = sha256(pemToDer(readFileSync(join(work, `${base}.pem`), "utf8")));
      };

      const admin = async <T = Json>(path: string): Promise<T> => {
        const res = await client.send(`${server.admin.authorityHost}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status, res.text).toBe(200);
        return res.json<T>();
      };
      const fileInventory = async (): Promise<Item[]> =>
        (await admin<{ value: Item[] }>("/admin/inventory?source=file&limit=1000")).value;
      /** Every live file location with the fingerprint of the certificate found there. */
      const liveLocations = async () => {
        const found: Record<string, string> = {};
        for (const item of await fileInventory())
          for (const l of item.locations)
            if (l.source === "file" && !l.goneAt) found[l.uri] = item.fingerprintSha256;
        return found;
      };
      /** Waits for the agent's own file scan, other than `after`, to complete. */
      const completedScan = async (after?: string) => {
        for (let i = 0; i < 300; i++) {
          const status = (await admin<{ fileScan?: Json }>(`/admin/discovery/agents/${name}`)).fileScan;
          if (status?.status === "completed" && status.runId !== after) return status;
          if (status?.status === "failed") throw new Error(`file scan failed: ${JSON.stringify(status)}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`no completed file scan; agent said:\n${agent?.output}`);
      };
      const stopAgent = async () => {
        if (!agent) return;
        if (agent.child.exitCode === null) agent.child.kill("SIGTERM");
        expect(await agent.exit).toBe(0);
        agent = undefined;
      };
      const agentArgs = () => [
        "--credentials",
        credentialsFile(),
        "--certificate",
        join(work, "agent-login.pem"),
        "--key",
        join(work, "agent-login.key"),
        "--root",
        root,
        "--exclude",
        "skip",
        "--exclude",
        "*.bak",
        "--password-file",
        join(work, "passwords.txt"),
        "--poll-ms",
        "200",
      ];

      beforeAll(async () => {
        work = mkdtempSync(join(tmpdir(), "agent-files-work-"));
        root = mkdtempSync(join(tmpdir(), "agent-files-"));
        const backendSetup = await backendArgs(backend);
        database = backendSetup.args;
        drop = backendSetup.drop;
        server = await startServerProcess(data.dir, database);
        client = httpsClient(server.ca);
        token = await adminToken(client, server.admin);

        selfSigned("ca", "Agent Files CA");
        opensslCsr(join(work, "leaf.key"), join(work, "leaf.csr"), "/CN=leaf.files.test");
        opensslSignCsr(
          join(work, "leaf.csr"),
          { certFile: join(work, "ca.pem"), keyFile: join(work, "ca.key") },
          join(work, "leaf.pem"),
          10,
        );
        prints.leaf = sha256(pemToDer(readFileSync(join(work, "leaf.pem"), "utf8")));
        selfSigned("app", "app.files.test");
        selfSigned("stale", "stale.files.test");
        selfSigned("hidden", "hidden.files.test");
        selfSigned("agent-login", "agent files-1 login");

        // nginx: the full chain with its key beside it, the key readable by everyone.
        put(
          "nginx/fullchain.pem",
          readFileSync(join(work, "leaf.pem"), "utf8") + readFileSync(join(work, "ca.pem"), "utf8"),
        );
        put("nginx/privkey.pem", readFileSync(join(work, "leaf.key")), 0o644);
        // Encrypted PKCS#12: one whose password is in the password file, one whose password is not.
        const pfx = (password: string, out: string) =>
          ossl(
            "pkcs12",
            "-export",
            "-inkey",
            "app.key",
            "-in",
            "app.pem",
            "-passout",
            `pass:${password}`,
            "-out",
            join(root, out),
          );
        mkdirSync(join(root, "pfx"));
        pfx("right password", "pfx/known.p12");
        pfx("nobody knows this", "pfx/unknown.pfx");
        // A JKS made by keytool itself: a key pair and a trusted CA.
        mkdirSync(join(root, "java"));
        const store = [
          "-keystore",
          join(root, "java/server.jks"),
          "-storetype",
          "JKS",
          "-storepass",
          "store-secret",
        ];
        keytool(
          "-genkeypair",
          "-alias",
          "tomcat",
          "-keyalg",
          "EC",
          "-groupname",
          "secp256r1",
          "-dname",
          "CN=tomcat.files.test",
          "-validity",
          "30",
          "-keypass",
          "store-secret",
          ...store,
        );
        keytool("-importcert", "-alias", "corp-root", "-file", "ca.pem", "-noprompt", ...store);
        prints.tomcat = sha256(keytool("-exportcert", "-alias", "tomcat", ...store));
        // A file the second scan will not find, an excluded directory, an excluded name, a link loop.
        put("old/stale.pem", readFileSync(join(work, "stale.pem")));
        put("skip/hidden.pem", readFileSync(join(work, "hidden.pem")));
        put("nginx/hidden.pem.bak", readFileSync(join(work, "hidden.pem")));
        symlinkSync(root, join(root, "nginx/loop"));
        writeFileSync(join(work, "passwords.txt"), "wrong one\nright password\nstore-secret\n");

        const created = await runCliAsync([
          "discovery",
          "agent",
          "create",
          name,
          "--certificate",
          join(work, "agent-login.pem"),
          "--out",
          credentialsFile(),
          "--server-url",
          `https://localhost:${server.port}`,
          "--data-dir",
          data.dir,
          ...database,
        ]);
        expect(created.code, created.stderr).toBe(0);
      }, 180_000);

      afterAll(async () => {
        if (agent && agent.child.exitCode === null) agent.child.kill("SIGTERM");
        await agent?.exit;
        client?.close();
        await server?.stop();
        await drop();
        data.remove();
        for (const dir of [work, root]) if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it("writes no client secret into a certificate agent's credentials, and refuses a key that is not the certificate's", async () => {
        const credentials = JSON.parse(readFileSync(credentialsFile(), "utf8")) as Json;
        expect(credentials.clientSecret).toBeUndefined();
        expect(credentials.clientId).toBeTruthy();
        const withoutKey = await runCliAsync(["agent", "--credentials", credentialsFile()]);
        expect(withoutKey.code).not.toBe(0);
        expect(withoutKey.stderr).toContain("no clientSecret");
        const wrongKey = await runCliAsync([
          "agent",
          "--credentials",
          credentialsFile(),
          "--certificate",
          join(work, "agent-login.pem"),
          "--key",
          join(work, "app.key"),
        ]);
        expect(wrongKey.code).not.toBe(0);
        expect(wrongKey.stderr).toContain("the private key does not belong to the certificate");
      });

      it("refuses a certificate that is not registered on the agent's principal", async () => {
        const stranger = await runCliAsync([
          "agent",
          "--credentials",
          credentialsFile(),
          "--certificate",
          join(work, "app.pem"),
          "--key",
          join(work, "app.key"),
        ]);
        expect(stranger.code).not.toBe(0);
        expect(stranger.stderr).toMatch(/token request refused: .*invalid_client/);
      });

      it("scans its roots on start and puts exactly what the files hold into the inventory", async () => {
        agent = startAgent(agentArgs());
        const scan = await completedScan();
        expect(agent.output).toContain("registered");
        expect(await liveLocations()).toEqual({
          [loc("nginx/fullchain.pem")]: prints.leaf,
          [loc("nginx/fullchain.pem", "2")]: prints.ca,
          [loc("pfx/known.p12")]: prints.app,
          [loc("java/server.jks", "tomcat")]: prints.tomcat,
          [loc("java/server.jks", "corp-root")]: prints.ca,
          [loc("old/stale.pem")]: prints.stale,
        });
        // One record per certificate: the CA seen in two files is one record with two locations.
        const ca = (await fileInventory()).find((i) => i.fingerprintSha256 === prints.ca);
        expect(ca?.locations.map((l) => l.uri).sort()).toEqual(
          [loc("java/server.jks", "corp-root"), loc("nginx/fullchain.pem", "2")].sort(),
        );
        // The agent's status on the server: six certificates read, one store it could not open.
        expect(scan).toMatchObject({ status: "completed", done: 7, failed: 1, roots: [root] });
        // The agent's own log says what the run found, and never a password.
        expect(agent.output).toMatch(
          /certificate files, 6 certificates, 1 encrypted unread, 0 errors, \d+ paths skipped/,
        );
        for (const password of ["right password", "store-secret", "wrong one"])
          expect(agent.output).not.toContain(password);
      }, 120_000);

      it("records path, owner, mode and the world-readable private key beside the certificate", async () => {
        const item = await admin<Item>(`/admin/inventory/${prints.leaf}`);
        const at = item.locations.find((l) => l.uri === loc("nginx/fullchain.pem"));
        const owner = execFileSync("id", ["-un"]).toString().trim();
        expect(at?.detail).toMatchObject({
          path: join(root, "nginx/fullchain.pem"),
          format: "pem",
          owner,
          mode: "0644",
          privateKey: join(root, "nginx/privkey.pem"),
          privateKeyOwner: owner,
          privateKeyMode: "0644",
          privateKeyWorldReadable: true,
        });
        const p12 = (await admin<Item>(`/admin/inventory/${prints.app}`)).locations.find(
          (l) => l.uri === loc("pfx/known.p12"),
        );
        expect(p12?.detail).toMatchObject({ format: "pkcs12", privateKey: join(root, "pfx/known.p12") });
      });

      it("reports the PKCS#12 no configured password opens as encrypted, unread", async () => {
        const { fileScan } = await admin<{ fileScan: Json }>(`/admin/discovery/agents/${name}`);
        const results = (
          await admin<{ value: Array<{ location: string; outcome: string; error?: string; detail?: Json }> }>(
            `/admin/discovery/scans/${fileScan.runId}/results`,
          )
        ).value;
        const unread = results.filter((r) => r.outcome !== "ok");
        expect(unread).toEqual([
          expect.objectContaining({
            location: loc("pfx/unknown.pfx"),
            outcome: "unread",
            error: "encrypted, unread: no configured password opens it",
            detail: expect.objectContaining({ status: "encrypted-unread", format: "pkcs12" }),
          }),
        ]);
        // Nothing from the excluded directory or name, and the link loop entered nothing twice.
        expect(results.some((r) => r.location.includes("/skip/") || r.location.includes(".bak"))).toBe(false);
        expect(results.some((r) => r.location.includes("/loop/"))).toBe(false);
        const hidden = await client.send(`${server.admin.authorityHost}/admin/inventory/${prints.hidden}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(hidden.status).toBe(404);
      });

      it("refuses a malformed file scan on the agent API with a 400 and queues nothing", async () => {
        const credentials = JSON.parse(readFileSync(credentialsFile(), "utf8")) as Record<string, string>;
        const tokenUrl = `${credentials.authorityHost}/${credentials.tenantId}/oauth2/v2.0/token`;
        const sign = certificateSigner({
          certificate: readFileSync(join(work, "agent-login.pem"), "utf8"),
          key: readFileSync(join(work, "agent-login.key"), "utf8"),
        });
        const signedIn = await client.send(tokenUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: credentials.clientId as string,
            client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            client_assertion: await sign(credentials.clientId as string, tokenUrl),
            scope: credentials.scope as string,
          }).toString(),
        });
        expect(signedIn.status, signedIn.text).toBe(200);
        const before = await admin<{ value: Json[] }>(`/admin/discovery/scans?name=files@${name}`);
        for (const body of [
          { roots: ["etc/nginx"], exclude: [] },
          { roots: [], exclude: [] },
          { roots: ["/etc"], exclude: [], passwords: ["x"] },
        ]) {
          const refused = await client.send(`${server.admin.authorityHost}/agent/v1/file-scans`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${signedIn.json<{ access_token: string }>().access_token}`,
              "content-type": "application/json",
            },
            body: JSON.stringify(body),
          });
          expect(refused.status, refused.text).toBe(400);
          expect(refused.json<{ error: { message: string } }>().error.message).toBeTruthy();
        }
        expect(await admin(`/admin/discovery/scans?name=files@${name}`)).toEqual(before);
      });

      it("marks a file that disappeared as gone at the next scan, and keeps the rest", async () => {
        const first = await admin<{ fileScan: Json }>(`/admin/discovery/agents/${name}`);
        await stopAgent();
        rmSync(join(root, "old"), { recursive: true });
        agent = startAgent(agentArgs());
        await completedScan(first.fileScan.runId as string);
        const live = await liveLocations();
        expect(live[loc("old/stale.pem")]).toBeUndefined();
        expect(Object.keys(live)).toHaveLength(5);
        const stale = await admin<Item>(`/admin/inventory/${prints.stale}`);
        expect(stale.locations).toEqual([
          expect.objectContaining({ uri: loc("old/stale.pem"), goneAt: expect.any(String) }),
        ]);
        await stopAgent();
      }, 120_000);
    },
  );
}
