import { approvalRequirement, parseApprovalRequirement } from "../approvals/requirement.js";
import type { Clock } from "../clock.js";
import { badParameter, DomainError } from "../errors.js";
import { newId } from "../ids.js";
import { applicableRules, evaluate } from "./evaluate.js";
import type { CertificateRequestFacts, EntryPoint, IssuanceGate, RuleScope } from "./issuance-gate.js";
import type { Rule, RuleKind, RuleLevel, RuleValues } from "./model.js";
import type { RuleStore } from "./ports.js";

export const ENTRY_POINTS: readonly EntryPoint[] = [
  "keyvault-create",
  "keyvault-policy-update",
  "keyvault-import",
  "keyvault-merge",
  "ca-sign",
  "acme-issuer",
  "acme-server",
  "est",
  "scep",
];

const KEY_TYPES = ["RSA", "EC", "Ed25519", "Ed448"];
const CURVES = ["P-256", "P-384", "P-521", "P-256K"];
const HASHES = ["SHA-256", "SHA-384", "SHA-512"];
const MAX_LIST = 256;

type Kind = "list" | "count" | "flag" | "days" | "approval";
const SHAPES: { [K in RuleKind]: Kind } = {
  "key-types": "list",
  "min-rsa-key-size": "count",
  curves: "list",
  "min-signature-hash": "list",
  "max-validity-days": "count",
  "dns-names": "list",
  wildcards: "flag",
  "ip-sans": "flag",
  "subject-attributes": "list",
  ekus: "list",
  "required-ekus": "list",
  "exportable-keys": "flag",
  "auto-renew": "count",
  issuers: "list",
  "import-roots": "list",
  "expiry-alert-days": "days",
  approval: "approval",
};
const MAX_DAYS = 3650;
export const RULE_KINDS = Object.keys(SHAPES) as RuleKind[];

/** Where a rule is set, as people name it. */
export interface RuleTargetInput {
  vault?: string | undefined;
  ca?: string | undefined;
  /** `acme:name`, `est:name`, `scep:name`. */
  profile?: string | undefined;
  /** A team or an application, as inventory records name their owner (compared without case). */
  owner?: string | undefined;
}

export interface RuleInput extends RuleTargetInput {
  kind: string;
  value: unknown;
  locked?: boolean | undefined;
  entries?: string[] | undefined;
}

function checkedList(kind: RuleKind, value: unknown, allowed?: readonly string[]): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LIST)
    throw badParameter(`Rule ${kind} takes a list of 1 to ${MAX_LIST} values`);
  for (const item of value) {
    if (typeof item !== "string" || item.trim() === "" || item.length > 512)
      throw badParameter(`Rule ${kind}: every value must be a non-empty string`);
    if (allowed && !allowed.includes(item))
      throw badParameter(`Rule ${kind}: "${item}" is not one of ${allowed.join(", ")}`);
    if (kind === "import-roots" && !/^[0-9a-f]{64}$/.test(item.toLowerCase().replace(/:/g, "")))
      throw badParameter(`Rule import-roots: "${item}" is not a SHA-256 fingerprint`);
  }
  return value.map((v: string) => v.trim());
}

/** A rule's value, checked against its kind; refuses what the rule could not mean. */
export function ruleValue(kind: RuleKind, value: unknown): RuleValues[RuleKind] {
  switch (SHAPES[kind]) {
    case "count":
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 100_000)
        throw badParameter(`Rule ${kind} takes a whole number from 0 to 100000`);
      return value;
    case "flag":
      if (typeof value !== "boolean") throw badParameter(`Rule ${kind} takes true or false`);
      return value;
    case "days":
      if (
        !Array.isArray(value) ||
        value.length === 0 ||
        value.length > 16 ||
        !value.every((d) => Number.isInteger(d) && d >= 1 && d <= MAX_DAYS)
      )
        throw badParameter(`Rule ${kind} takes 1 to 16 whole numbers of days from 1 to ${MAX_DAYS}`);
      return [...new Set(value as number[])].sort((a, b) => b - a);
    case "approval":
      return approvalRequirement(value);
    default:
      if (kind === "min-signature-hash") {
        if (typeof value !== "string" || !HASHES.includes(value))
          throw badParameter(`Rule min-signature-hash takes one of ${HASHES.join(", ")}`);
        return value;
      }
      return checkedList(
        kind,
        value,
        kind === "key-types" ? KEY_TYPES : kind === "curves" ? CURVES : undefined,
      );
  }
}

/** A value typed on a command line: lists comma-separated, numbers, true/false. */
export function parseRuleValue(kind: string, text: string): unknown {
  const shape = SHAPES[kind as RuleKind];
  if (shape === "count") return /^\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  if (shape === "flag") return text === "true" ? true : text === "false" ? false : text;
  if (shape === "days") return text.split(",").map((v) => (/^\d+$/.test(v.trim()) ? Number(v.trim()) : v));
  if (kind === "min-signature-hash") return text.trim();
  if (shape === "approval") return parseApprovalRequirement(text);
  return text.split(",").map((v) => v.trim());
}

export function ruleKind(kind: string): RuleKind {
  if (!(kind in SHAPES))
    throw badParameter(`"${kind}" is not a kind of rule; kinds: ${RULE_KINDS.join(", ")}`);
  return kind as RuleKind;
}

/** The message of a refusal: the rule, where it is set, and what in the request broke it. */
const refusal = (entry: EntryPoint, rule: Rule, reason: string) =>
  new DomainError(
    "BadParameter",
    `Organisation rule ${rule.kind} (${rule.level === "installation" ? "installation" : `${rule.level} ${rule.targetName}`}) refuses this ${entry} request: ${reason}`,
    { reason: "PolicyViolation" },
  );

export type RulesService = ReturnType<typeof createRulesService>;

/**
 * Organisation rules: set at the installation, a vault, a CA, a protocol profile or an owner; judged
 * by the pure `evaluate` at every entry point (the IssuanceGate) and by inventory grading. An
 * owner's rules grade the inventory only: a request names no owner the gate could trust.
 */
export function createRulesService({
  store,
  clock,
  vaultByName,
  caByName,
}: {
  store: RuleStore;
  clock: Clock;
  /** Resolves a vault's name to its id; throws NotFound when there is none. */
  vaultByName: (name: string) => Promise<{ id: string; name: string }>;
  caByName: (name: string) => Promise<{ id: string; name: string }>;
}) {
  async function target(input: RuleTargetInput): Promise<{ level: RuleLevel; target: string; name: string }> {
    const given = [input.vault, input.ca, input.profile, input.owner].filter((v) => v !== undefined);
    if (given.length > 1)
      throw badParameter("A rule is set at one of vault, CA, profile or owner, not several");
    if (input.vault !== undefined) {
      const vault = await vaultByName(input.vault);
      return { level: "vault", target: vault.id, name: vault.name };
    }
    if (input.ca !== undefined) {
      const ca = await caByName(input.ca);
      return { level: "ca", target: ca.id, name: ca.name };
    }
    if (input.profile !== undefined) {
      if (!/^(acme|est|scep):[0-9a-zA-Z][0-9a-zA-Z._-]{0,62}$/.test(input.profile))
        throw badParameter(`Profile "${input.profile}" is not acme:NAME, est:NAME or scep:NAME`);
      return { level: "profile", target: input.profile, name: input.profile };
    }
    if (input.owner !== undefined) {
      const name = input.owner.trim();
      // Owners are whatever records and tags name them; only what no name could be is refused.
      if (name === "" || name.length > 256 || /\p{Cc}/u.test(name))
        throw badParameter(
          `Owner "${input.owner}" must be 1 to 256 characters, none of them control characters`,
        );
      return { level: "owner", target: name.toLowerCase(), name };
    }
    return { level: "installation", target: "", name: "installation" };
  }

  /** Refuses `facts` when one of `all` that applies at the scope forbids them. */
  function judge(all: readonly Rule[], entry: EntryPoint, scope: RuleScope, facts: CertificateRequestFacts) {
    const rules = applicableRules(all, scope);
    const [first] = evaluate(rules, facts, entry);
    if (!first) return;
    const rule = rules.find((r) => r.id === first.ruleId) as Rule;
    throw refusal(entry, rule, first.reason);
  }

  const gate: IssuanceGate = {
    async check(entry, scope, facts) {
      judge(await store.list(), entry, scope, facts);
    },
    async snapshot() {
      const all = await store.list();
      return { check: async (entry, scope, facts) => judge(all, entry, scope, facts) };
    },
  };

  return {
    gate,

    /** The approval requirements that apply to a request at this entry point and scope. */
    async approvalRequirements(entry: EntryPoint, scope: RuleScope): Promise<RuleValues["approval"][]> {
      return applicableRules(await store.list(), scope)
        .filter((r) => r.kind === "approval" && (!r.entries || r.entries.includes(entry)))
        .map((r) => r.value as RuleValues["approval"]);
    },

    /** Sets (adds or replaces) the rule of a kind at a level. */
    async set(input: RuleInput): Promise<Rule> {
      const kind = ruleKind(input.kind);
      const value = ruleValue(kind, input.value);
      const entries = input.entries?.map((e) => {
        if (!ENTRY_POINTS.includes(e as EntryPoint))
          throw badParameter(`"${e}" is not an entry point; entry points: ${ENTRY_POINTS.join(", ")}`);
        return e as EntryPoint;
      });
      if (entries?.length === 0) throw badParameter("entries, when given, must name at least one");
      const where = await target(input);
      if (input.locked && where.level !== "installation")
        throw badParameter("Only installation rules can be locked: there is no level below the others");
      const existing = await store.find(where.level, where.target, kind);
      const now = clock.now();
      return store.put({
        id: existing?.id ?? newId(),
        level: where.level,
        target: where.target,
        targetName: where.name,
        kind,
        value,
        locked: input.locked ?? false,
        entries,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
    },

    /** Rules set at one place, or every rule. */
    async list(at?: RuleTargetInput): Promise<Rule[]> {
      const all = await store.list();
      if (!at || (at.vault ?? at.ca ?? at.profile ?? at.owner) === undefined) return all;
      const where = await target(at);
      return all.filter((r) => r.level === where.level && r.target === where.target);
    },

    /** The rules that apply at a place: the installation's, replaced or (when locked) joined by its own. */
    async effective(at: RuleTargetInput): Promise<Rule[]> {
      const where = await target(at);
      const scope: RuleScope =
        where.level === "vault"
          ? { vaultId: where.target }
          : where.level === "ca"
            ? { caId: where.target }
            : where.level === "profile"
              ? {
                  profile: {
                    kind: where.target.split(":")[0] as "acme",
                    name: where.target.slice(where.target.indexOf(":") + 1),
                  },
                }
              : where.level === "owner"
                ? { owners: [where.target] }
                : {};
      return applicableRules(await store.list(), scope);
    },

    async show(id: string): Promise<Rule> {
      const found = (await store.list()).find((r) => r.id === id);
      if (!found) throw new DomainError("NotFound", `There is no rule ${id}`, { reason: "RuleNotFound" });
      return found;
    },

    async remove(id: string): Promise<void> {
      if (!(await store.remove(id)))
        throw new DomainError("NotFound", `There is no rule ${id}`, { reason: "RuleNotFound" });
    },
  };
}
