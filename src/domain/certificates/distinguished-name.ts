import { badParameter } from "../errors.js";

/** One attribute of a relative distinguished name: its type as an OID and its value. */
export interface NameAttribute {
  oid: string;
  /** The value as text, or with `der` the DER of the value that a `#hex` form spelled out. */
  value: string;
  der?: Buffer | undefined;
}

/** A distinguished name as its RDNs in the order written, each with one or more attributes. */
export type DistinguishedName = NameAttribute[][];

const DOMAIN_COMPONENT = "0.9.2342.19200300.100.1.25";
const EMAIL_ADDRESS = "1.2.840.113549.1.9.1";

/** The short names Key Vault's clients write in subjects (RFC 4519, RFC 5280 appendix A, PKCS#9). */
const ATTRIBUTE_TYPES: Record<string, string> = {
  CN: "2.5.4.3",
  SN: "2.5.4.4",
  SERIALNUMBER: "2.5.4.5",
  C: "2.5.4.6",
  L: "2.5.4.7",
  ST: "2.5.4.8",
  S: "2.5.4.8",
  STREET: "2.5.4.9",
  O: "2.5.4.10",
  OU: "2.5.4.11",
  T: "2.5.4.12",
  TITLE: "2.5.4.12",
  POSTALCODE: "2.5.4.17",
  G: "2.5.4.42",
  GIVENNAME: "2.5.4.42",
  I: "2.5.4.43",
  INITIALS: "2.5.4.43",
  DC: DOMAIN_COMPONENT,
  UID: "0.9.2342.19200300.100.1.1",
  E: EMAIL_ADDRESS,
  EMAILADDRESS: EMAIL_ADDRESS,
};

/** Attribute types whose values are IA5String, so ASCII only (RFC 4519 §2.4, PKCS#9). */
export const IA5_ATTRIBUTES: ReadonlySet<string> = new Set([DOMAIN_COMPONENT, EMAIL_ADDRESS]);

const NUMERIC_OID = /^[0-2](\.(0|[1-9]\d*))+$/;
const HEX_VALUE = /^#((?:[0-9A-Fa-f]{2})+)$/;
// RFC 4514 §2.4: characters a value may carry only escaped. `;` separates RDNs as `,` does (RFC 1779,
// and what .NET's X500DistinguishedName reads), so it ends an unescaped value too.
const ENDS_VALUE = new Set([",", ";", "+"]);
const ESCAPABLE = new Set([" ", '"', "#", "+", ",", ";", "<", "=", ">", "\\"]);

class Reader {
  index = 0;
  constructor(readonly text: string) {}
  get done() {
    return this.index >= this.text.length;
  }
  /** The character at the reader, a whole code point (so a surrogate pair is never split). */
  peek() {
    const code = this.text.codePointAt(this.index);
    return code === undefined ? "" : String.fromCodePoint(code);
  }
  skipSpaces() {
    while (this.peek() === " ") this.index++;
  }
}

function attributeType(reader: Reader): string {
  reader.skipSpaces();
  const start = reader.index;
  while (!reader.done && reader.peek() !== "=" && !ENDS_VALUE.has(reader.peek())) reader.index++;
  const written = reader.text.slice(start, reader.index).trim();
  if (written === "") throw new Error(`an attribute type is missing at position ${start}`);
  if (reader.peek() !== "=") throw new Error(`"${written}" is not followed by "="`);
  reader.index++;
  if (NUMERIC_OID.test(written)) return written;
  const oid = ATTRIBUTE_TYPES[written.toUpperCase()];
  if (!oid) {
    throw new Error(
      `"${written}" is not an attribute type (use ${Object.keys(ATTRIBUTE_TYPES).join(", ")} or a dotted OID)`,
    );
  }
  return oid;
}

/** A value up to the next unescaped separator, unescaped; spaces around it are not part of it. */
function attributeValue(reader: Reader): { value: string; der?: Buffer } {
  reader.skipSpaces();
  if (reader.peek() === '"') return quotedValue(reader);
  const bytes: number[] = [];
  // Trailing spaces are dropped unless escaped: the length up to the last byte that must stay.
  let kept = 0;
  const start = reader.index;
  while (!reader.done && !ENDS_VALUE.has(reader.peek())) {
    const char = reader.peek();
    if (char === '"') throw new Error(`a quote inside a value must be escaped (position ${reader.index})`);
    if (char === "\\") {
      bytes.push(...escaped(reader));
      kept = bytes.length;
      continue;
    }
    bytes.push(...Buffer.from(char, "utf8"));
    if (char !== " ") kept = bytes.length;
    reader.index += char.length;
  }
  const raw = reader.text.slice(start, reader.index).trim();
  const hex = HEX_VALUE.exec(raw);
  if (hex) return { value: raw, der: Buffer.from(hex[1] ?? "", "hex") };
  if (raw.startsWith("#")) throw new Error(`"${raw}" starts with "#" but is not a hex-encoded value`);
  return { value: utf8(bytes.slice(0, kept)) };
}

function quotedValue(reader: Reader): { value: string } {
  reader.index++;
  const bytes: number[] = [];
  while (reader.peek() !== '"') {
    if (reader.done) throw new Error("a quoted value is not closed");
    if (reader.peek() === "\\") {
      bytes.push(...escaped(reader));
      continue;
    }
    const char = reader.peek();
    bytes.push(...Buffer.from(char, "utf8"));
    reader.index += char.length;
  }
  reader.index++;
  reader.skipSpaces();
  if (!reader.done && !ENDS_VALUE.has(reader.peek())) {
    throw new Error(`unexpected "${reader.peek()}" after a quoted value (position ${reader.index})`);
  }
  return { value: utf8(bytes) };
}

/** RFC 4514 §3: `\` then a special character, or two hex digits (one byte of the UTF-8 value). */
function escaped(reader: Reader): number[] {
  const next = reader.text[reader.index + 1] ?? "";
  const pair = reader.text.slice(reader.index + 1, reader.index + 3);
  if (/^[0-9A-Fa-f]{2}$/.test(pair)) {
    reader.index += 3;
    return [Number.parseInt(pair, 16)];
  }
  if (ESCAPABLE.has(next)) {
    reader.index += 2;
    return [next.charCodeAt(0)];
  }
  throw new Error(`"\\${next}" is not an escape (position ${reader.index})`);
}

function utf8(bytes: number[]): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    throw new Error("an escaped value is not UTF-8");
  }
}

function parse(text: string): DistinguishedName {
  const reader = new Reader(text);
  const name: DistinguishedName = [];
  let rdn: NameAttribute[] = [];
  for (;;) {
    const oid = attributeType(reader);
    const { value, der } = attributeValue(reader);
    if (IA5_ATTRIBUTES.has(oid) && !der && !/^[\x20-\x7e]*$/.test(value)) {
      throw new Error(`"${value}" must be ASCII for its attribute type`);
    }
    rdn.push(der ? { oid, value, der } : { oid, value });
    if (reader.done) break;
    const separator = reader.peek();
    reader.index++;
    if (separator !== "+") {
      name.push(rdn);
      rdn = [];
    }
    if (reader.text.slice(reader.index).trim() === "") throw new Error(`it ends with "${separator}"`);
  }
  name.push(rdn);
  return name;
}

/**
 * Reads a policy's subject as an X.500 distinguished name: RFC 4514 strings (`CN=a\, b`, `#hex`
 * values, dotted OIDs), with the RFC 1779 leniencies Key Vault's clients rely on — spaces around
 * separators, quoted values, `;` between RDNs, case-insensitive type names. BadParameter names the
 * policy field and what is wrong, instead of encoding whatever part of the text happened to match.
 */
export function parseDistinguishedName(text: string): DistinguishedName {
  try {
    if (text.trim() === "") throw new Error("it is empty");
    return parse(text);
  } catch (cause) {
    throw badParameter(
      `policy.x509_props.subject: "${text}" is not an X.500 distinguished name such as "CN=www.example.com, O=Example": ${(cause as Error).message}`,
    );
  }
}
