import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";

describe("ACME configuration", () => {
  it("reads the challenge responder's port and the ACME CA file from the environment", () => {
    const config = loadConfig({
      cwd: "/",
      env: { STRONGROOM_ACME_HTTP_PORT: "80", STRONGROOM_ACME_CA_FILE: "/etc/step/root.pem" },
    });
    expect(config.acmeHttpPort).toBe(80);
    expect(config.acmeCaFile).toBe("/etc/step/root.pem");
  });

  it("leaves the challenge responder off unless a port is set", () => {
    expect(loadConfig({ cwd: "/", env: {} }).acmeHttpPort).toBeUndefined();
  });

  it("refuses a port that is not one, naming the setting", () => {
    expect(() => loadConfig({ cwd: "/", env: { STRONGROOM_ACME_HTTP_PORT: "70000" } })).toThrow(ConfigError);
    expect(() => loadConfig({ cwd: "/", env: { STRONGROOM_ACME_HTTP_PORT: "70000" } })).toThrow(
      /acmeHttpPort/,
    );
  });
});
