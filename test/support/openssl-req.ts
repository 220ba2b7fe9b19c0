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

/** Signs the CSR at `csrFile` with a CA's certificate and key, by openssl: a PEM at `certFile`. */
export function opensslSignCsr(
  csrFile: string,
  ca: { certFile: string; keyFile: string },
  certFile: string,
  days: number,
): void {
  execFileSync(
    "openssl",
    ["x509", "-req", "-in", csrFile, "-CA", ca.certFile, "-CAkey", ca.keyFile, "-CAcreateserial"].concat([
      "-out",
      certFile,
      "-days",
      String(days),
    ]),
    { stdio: "ignore" },
  );
}
