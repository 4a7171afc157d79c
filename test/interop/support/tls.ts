/**
 * A self-signed certificate for 127.0.0.1 and localhost, made at test time with the `openssl`
 * command in a fresh temporary folder (removed when the test ends).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext } from 'node:test';
import { runCommand } from './child.js';

export interface Certificate {
  dir: string;
  cert: string;
  key: string;
}

export async function selfSignedCertificate(t: TestContext): Promise<Certificate> {
  const dir = mkdtempSync(join(tmpdir(), 'sockwave-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost'];
  args.push('-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '1');
  let result;
  try {
    result = await runCommand('openssl', args, { ms: 20_000, t });
  } catch (error) {
    throw new Error(`cannot make a test certificate with openssl (.ci/run must install the 'openssl' package): ${error instanceof Error ? error.message : String(error)}`);
  }
  if (result.code !== 0) throw new Error(`openssl req -x509 failed (${result.code}): ${result.stderr}`);
  return { dir, cert, key };
}
