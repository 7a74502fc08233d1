/**
 * Test helper: finds credentials in a workflow history exported as JSON, in clear text, inside the
 * base64 payload data (decoded), and as base64 text at any of its three byte alignments (for bytes
 * nested in a payload that is itself encoded). Tests only.
 */

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
