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
