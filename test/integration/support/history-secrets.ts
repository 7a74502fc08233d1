/**
 * Test helper: finds credentials in a workflow history exported as JSON, in clear text, inside the
 * base64 payload data (decoded), and as base64 text at any of its three byte alignments (for bytes
 * nested in a payload that is itself encoded). Tests only.
 */
import { existsSync, readFileSync } from 'node:fs';

/** The base64 texts that `secret` appears as inside any longer base64 string, one per alignment. */
export function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms: string[] = [];
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.concat([Buffer.alloc(pad), bytes]).toString('base64');
    // Drop the characters that mix in the padding bytes or whatever follows the secret.
    const start = Math.ceil((pad * 4) / 3);
    const end = Math.floor(((pad + bytes.length) * 4) / 3);
    const form = encoded.slice(start, end);
    if (form.length >= 4) forms.push(form);
  }
  return forms;
}

/** Every base64 `data` field of every payload in the JSON, decoded as UTF-8 (lossy for binary). */
export function decodedPayloads(json: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'data' && typeof child === 'string') out.push(Buffer.from(child, 'base64').toString('utf8'));
        else walk(child);
      }
    }
  };
  walk(json);
  return out;
}

export interface SecretHit {
  secret: string;
  where: 'clear text' | 'decoded payload' | 'base64';
}

/** Where each secret shows up in the history JSON; empty when none does. Secrets are named by a redacted form. */
export function findSecrets(historyJson: string, secrets: readonly string[]): SecretHit[] {
  const parsed: unknown = JSON.parse(historyJson);
  const decoded = decodedPayloads(parsed).join('\n');
  const hits: SecretHit[] = [];
  for (const secret of secrets) {
    const name = redact(secret);
    if (historyJson.includes(secret)) hits.push({ secret: name, where: 'clear text' });
    if (decoded.includes(secret)) hits.push({ secret: name, where: 'decoded payload' });
    if (base64Forms(secret).some((f) => historyJson.includes(f) || decoded.includes(f)))
      hits.push({ secret: name, where: 'base64' });
  }
  return hits;
}

function redact(secret: string): string {
  return `${secret.slice(0, 2)}…(${secret.length} chars)`;
}

/**
 * Every credential a pipeline process with this environment holds: S3 keys and session token, the
 * MLflow password and token, the Temporal API key, and the key material of the client certificates
 * (each PEM key's first base64 line stands for the key: 48 bytes no history could hold by chance).
 */
export function credentialsIn(env: NodeJS.ProcessEnv, extra: readonly (string | undefined)[] = []): string[] {
  const values = [
    env.AWS_ACCESS_KEY_ID,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
    env.MLFLOW_TRACKING_PASSWORD,
    env.MLFLOW_TRACKING_TOKEN,
    env.TEMPORAL_API_KEY,
    ...extra,
  ];
  for (const keyFile of [env.TEMPORAL_TLS_CLIENT_KEY_PATH, env.MLFLOW_TRACKING_CLIENT_CERT_PATH]) {
    if (keyFile && existsSync(keyFile)) values.push(...pemKeyLines(readFileSync(keyFile, 'utf8')));
  }
  return [...new Set(values.filter((s): s is string => typeof s === 'string' && s.length > 0))];
}

/** The first base64 line of each private key block in a PEM text. */
function pemKeyLines(pem: string): string[] {
  const blocks = pem.match(/-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n([A-Za-z0-9+/=]+)/g) ?? [];
  return blocks.map((b) => b.split(/\r?\n/)[1] ?? '').filter((line) => line.length >= 32);
}
