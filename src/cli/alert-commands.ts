import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type Command, Option } from "commander";
import {
  ALERT_KINDS,
  ALERT_STATES,
  type Alert,
  type AlertFilter,
  alertData,
} from "../domain/alerts/model.js";
import { POSTURE_FORMATS } from "../domain/reports/posture-formats.js";
import { cliPrincipal } from "./cli-audit.js";
import { jsonOption, printJson, wholeNumber, withCore } from "./program.js";

const line = (a: Alert) =>
  [
    a.id,
    a.state.padEnd(12),
    (a.kind + (a.level === undefined ? "" : `/${a.level}d`)).padEnd(16),
    a.openedAt.toISOString().slice(0, 16),
    a.summary,
  ].join("  ");

const show = (a: Alert, json: boolean | undefined) => {
  if (json) return printJson(alertData(a));
  for (const [k, v] of Object.entries(alertData(a))) console.log(`${k.padEnd(15)} ${v}`);
};

/** `strongroom alerts list|show|ack|resolve` and `strongroom report posture`, straight from the database. */
export function registerAlertCommands(program: Command): void {
  const alerts = program
    .command("alerts")
    .description("alerts about expiring, expired, changed and failing certificates and silent agents");

  jsonOption(
    alerts
      .command("list")
      .description("alerts, newest first: id, state, kind, opened, summary (default: those not resolved)")
      .addOption(new Option("--state <state>", "which state").choices(["unresolved", ...ALERT_STATES, "all"]))
      .addOption(new Option("--kind <kind>", "which kind").choices([...ALERT_KINDS]))
      .option("--fingerprint <sha256>", "alerts about this certificate")
      .option("--limit <n>", "at most this many (default 1000)"),
  ).action(
    (
      o: { state?: string; kind?: string; fingerprint?: string; limit?: string; json?: boolean },
      command: Command,
    ) =>
      withCore(command, async (core) => {
        const state = o.state ?? "unresolved";
        const filter: AlertFilter = {
          state: state === "all" ? undefined : (state as AlertFilter["state"]),
          kind: o.kind as AlertFilter["kind"],
          fingerprint: o.fingerprint,
          limit: wholeNumber(o.limit, "--limit"),
        };
        const list = await core.alerts.list(filter);
        if (o.json) printJson({ value: list.map(alertData) });
        else for (const a of list) console.log(line(a));
      }),
  );

  jsonOption(alerts.command("show <id>").description("one alert, every field")).action(
    (id: string, o: { json?: boolean }, command: Command) =>
      withCore(command, async (core) => show(await core.alerts.get(id), o.json)),
  );

  jsonOption(
    alerts
      .command("ack <id>")
      .description("acknowledge an open alert: someone is on it (it still resolves when the condition ends)")
      .option("--note <text>", "what is being done"),
  ).action((id: string, o: { note?: string; json?: boolean }, command: Command) =>
    withCore(command, async (core) =>
      show(await core.alerts.acknowledge(id, cliPrincipal(), o.note), o.json),
    ),
  );

  jsonOption(
    alerts
      .command("resolve <id>")
      .description(
        "resolve an alert by hand; it opens again if its condition still holds at the next evaluation",
      )
      .option("--note <text>", "how it was dealt with"),
  ).action((id: string, o: { note?: string; json?: boolean }, command: Command) =>
    withCore(command, async (core) => show(await core.alerts.resolve(id, cliPrincipal(), o.note), o.json)),
  );

  const report = program.command("report").description("reports over the certificate inventory");
  report
    .command("posture")
    .description("counts by key, signature, issuer, expiry, vault and owner, and the quantum-readiness list")
    .addOption(new Option("--format <format>", "output format").choices([...POSTURE_FORMATS]).default("json"))
    .option("-o, --output <file>", "write to this file instead of standard output")
    .action((o: { format: string; output?: string }, command: Command) =>
      withCore(command, async (core) => {
        const { body } = await core.posture.render(o.format);
        await pipeline(Readable.from(body), o.output ? createWriteStream(o.output) : process.stdout);
      }),
    );
}
