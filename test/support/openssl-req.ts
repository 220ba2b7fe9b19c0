import { execFileSync } from "node:child_process";

/** A fresh P-256 key and a CSR for it, made by openssl: PEM files at `keyFile` and `csrFile`. */
export function opensslCsr(keyFile: string, csrFile: string, subject: string, subjectAltName?: string): void {
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      csrFile,
      "-subj",
      subject,
      ...(subjectAltName ? ["-addext", `subjectAltName=${subjectAltName}`] : []),
    ],
    { stdio: "ignore" },
  );
}

/**
 * A fresh P-256 key and a self-signed certificate for it, made by openssl: PEM files at `keyFile`
 * and `certFile`, valid for `days`, with `extensions` as `-addext` takes them.
 */
export function opensslSelfSigned(
  keyFile: string,
  certFile: string,
  subject: string,
  options: { days: number; subjectAltName?: string; extensions?: string[] },
): void {
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      String(options.days),
      "-subj",
      subject,
      ...(options.subjectAltName ? ["-addext", `subjectAltName=${options.subjectAltName}`] : []),
      ...(options.extensions ?? []).flatMap((extension) => ["-addext", extension]),
    ],
    { stdio: "ignore" },
  );
}
