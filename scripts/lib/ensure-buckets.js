// Creates the stack's buckets if missing: node ensure-buckets.js ENDPOINT BUCKET...
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (set by stack.sh). An https
// endpoint is verified against AWS_CA_BUNDLE when it is set (the secured stack's own test CA).
'use strict';
const fs = require('node:fs');
const https = require('node:https');
const Minio = require('minio');

async function main() {
  const [endpoint, ...buckets] = process.argv.slice(2);
  const url = new URL(endpoint);
  const useSSL = url.protocol === 'https:';
  const caBundle = process.env.AWS_CA_BUNDLE;
  const client = new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL,
    accessKey: process.env.AWS_ACCESS_KEY_ID,
    secretKey: process.env.AWS_SECRET_ACCESS_KEY,
    ...(useSSL && caBundle ? { transportAgent: new https.Agent({ ca: fs.readFileSync(caBundle) }) } : {}),
  });
  for (const bucket of buckets) {
    if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
  }
}

main().catch((err) => {
  process.stderr.write(`ensure-buckets: ${err.message}\n`);
  process.exit(1);
});
