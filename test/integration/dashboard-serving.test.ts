import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUILT_CLIENT_DIR, loadUiAssets } from "../../src/http/ui/ui-assets.js";
import { signInForm } from "../support/dashboard.js";
import { type InProcess, startInProcess } from "../support/in-process.js";

let cookie = "";
const get = (server: InProcess, url: string) =>
  server.kv({ method: "GET", url, auth: false, headers: { cookie } });

describe("the dashboard served at /ui/ on the main listener", () => {
  let server: InProcess;
  let assetBase: string;

  beforeAll(async () => {
    if (!loadUiAssets())
      throw new Error(`the browser modules are not built in ${BUILT_CLIENT_DIR}: npm run build`);
    server = await startInProcess();
    await server.strongroom.core.users.create("viewer", "a long enough passphrase");
    cookie = (await signInForm(server, "viewer", "a long enough passphrase")).cookie ?? "";
    const page = await get(server, "/ui/");
    assetBase = /src="(\/ui\/assets\/[0-9a-f]{16})\/main\.js"/.exec(page.body)?.[1] ?? "";
  });
  afterAll(() => server?.stop());

  it("answers the page with a strict Content-Security-Policy and lets no cache keep it", async () => {
    const page = await get(server, "/ui/");
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(page.headers["cache-control"]).toBe("no-store");
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.body).not.toMatch(/<script>|<style>|https?:\/\//);
  });

  it("sends a browser without a session to the sign-in form, served under the same policy", async () => {
    const anonymous = await server.kv({ method: "GET", url: "/ui/inventory", auth: false });
    expect(anonymous.statusCode).toBe(303);
    expect(anonymous.headers.location).toBe("/ui/sign-in");
    const form = await server.kv({ method: "GET", url: "/ui/sign-in", auth: false });
    expect(form.statusCode).toBe(200);
    expect(String(form.headers["content-security-policy"])).toContain("default-src 'none'");
    expect(form.body).toContain('<label for="username">Username</label>');
    expect(form.body).toContain('<label for="password">Password</label>');
  });

  it("names the entry's own imports and the pages' shared modules in the page, so the browser fetches them beside it", async () => {
    const page = await get(server, "/ui/");
    const importsOf = async (file: string) =>
      [...(await get(server, `${assetBase}/${file}`)).body.matchAll(/from\s*"\.\/([\w-]+\.js)"/g)].map(
        (m) => m[1] as string,
      );
    const imported = await importsOf("main.js");
    expect(imported.length).toBeGreaterThan(0);
    // The Inventory's chunk, which the entry's modules load on demand, and the modules it imports.
    const entryCode = await Promise.all(
      ["main.js", ...imported].map(async (file) => (await get(server, `${assetBase}/${file}`)).body),
    );
    const chunk = /import\("\.\/(inventory-page-\w+\.js)"\)/.exec(entryCode.join("\n"));
    expect(chunk).not.toBeNull();
    const shared = await importsOf(chunk?.[1] as string);
    expect(shared.some((file) => !imported.includes(file))).toBe(true);
    for (const file of [...imported, ...shared])
      expect(page.body).toContain(`<link rel="modulepreload" href="${assetBase}/${file}">`);
    // Pages' chunks themselves load on demand.
    expect(page.body).not.toContain(`${assetBase}/${chunk?.[1]}`);
  });

  it("answers the same page at /ui and on every client route below /ui/", async () => {
    for (const url of ["/ui", "/ui/inventory/some-certificate"]) {
      const page = await get(server, url);
      expect(page.statusCode, url).toBe(200);
      expect(page.body).toContain(`${assetBase}/main.js`);
    }
  });

  it("serves the build's modules and stylesheet under its digest, cacheable forever", async () => {
    expect(assetBase).not.toBe("");
    for (const [file, type] of [
      ["main.js", "text/javascript; charset=utf-8"],
      ["styles.css", "text/css; charset=utf-8"],
    ]) {
      const asset = await get(server, `${assetBase}/${file}`);
      expect(asset.statusCode, file).toBe(200);
      expect(asset.headers["content-type"]).toBe(type);
      expect(asset.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    }
  });

  it("serves every chunk the entry module imports, each page's code included, beside it", async () => {
    const served = new Set<string>();
    const pending = ["main.js"];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      if (served.has(file)) continue;
      const chunk = await get(server, `${assetBase}/${file}`);
      expect(chunk.statusCode, file).toBe(200);
      expect(chunk.headers["content-type"]).toBe("text/javascript; charset=utf-8");
      served.add(file);
      pending.push(...[...chunk.body.matchAll(/"\.\/([\w-]+\.js)"/g)].map((m) => m[1] as string));
    }
    expect([...served].some((file) => file.startsWith("inventory-page-"))).toBe(true);
    const styles = await get(server, `${assetBase}/styles.css`);
    expect(styles.body).toContain(".uplot");
  });

  it("refuses another build's digest and unknown files rather than serving stale or foreign content", async () => {
    const stale = await get(server, "/ui/assets/0000000000000000/main.js");
    expect(stale.statusCode).toBe(404);
    expect(stale.headers["cache-control"]).toBe("no-store");
    expect((await get(server, `${assetBase}/main.js.map`)).statusCode).toBe(404);
    expect((await get(server, `${assetBase}/..%2F..%2Fpackage.json`)).statusCode).toBe(404);
  });
});

describe("the dashboard's assets", () => {
  it("are absent when the client is not built, and the page then says how to build it", async () => {
    const empty = mkdtempSync(join(tmpdir(), "ui-empty-"));
    try {
      expect(loadUiAssets(empty)).toBeUndefined();
    } finally {
      rmSync(empty, { recursive: true });
    }
  });

  it("change digest when any module changes, so no browser keeps an old one", () => {
    const dir = mkdtempSync(join(tmpdir(), "ui-built-"));
    try {
      writeFileSync(join(dir, "main.js"), "export {};\n");
      const first = loadUiAssets(dir);
      writeFileSync(join(dir, "other.js"), "export const x = 1;\n");
      const second = loadUiAssets(dir);
      expect(first?.digest).toMatch(/^[0-9a-f]{16}$/);
      expect(second?.digest).not.toBe(first?.digest);
      expect([...(second?.files.keys() ?? [])]).toEqual(["main.js", "other.js", "styles.css"]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
