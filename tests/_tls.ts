// Certificates for HTTPS tests, made with OpenSSL in a folder the test owns: a CA, a server
// certificate it signed (for 127.0.0.1 and localhost), and that certificate's key.
import { requirement } from "./_requirements.ts";

/** OpenSSL is needed: skipped without it on a user's machine, a failure in CI. */
export const NEEDS_OPENSSL = requirement({ commands: ["openssl"] });

/** Files made by `makeCertificates`. */
export interface TestCertificates {
  /** The CA's certificate (what a client trusts). */
  caFile: string;
  /** The server's certificate, signed by the CA. */
  certFile: string;
  /** The server's private key. */
  keyFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const output = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!output.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** Makes a CA (named `name`) and a server certificate it signs, in `directory`. */
export async function makeCertificates(
  directory: string,
  name = "llama-test-ca",
): Promise<TestCertificates> {
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    [
      "req",
      "-x509",
      ...key,
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      `/CN=${name}`,
    ],
    directory,
  );
  await openssl(
    ["req", ...key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
    directory,
  );
  await Deno.writeTextFile(
    `${directory}/server.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  await openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  ], directory);
  return {
    caFile: `${directory}/ca.pem`,
    certFile: `${directory}/server.pem`,
    keyFile: `${directory}/server.key`,
  };
}
