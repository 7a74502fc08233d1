// Creates the stack's buckets if missing: node ensure-buckets.js ENDPOINT BUCKET...
// Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (set by stack.sh).
'use strict';
const Minio = require('minio');

async function main() {
  const [endpoint, ...buckets] = process.argv.slice(2);
  const url = new URL(endpoint);
  const client = new Minio.Client({
    endPoint: url.hostname,
    port: Number(url.port),
    useSSL: url.protocol === 'https:',
    accessKey: process.env.AWS_ACCESS_KEY_ID,
    secretKey: process.env.AWS_SECRET_ACCESS_KEY,
  });
  for (const bucket of buckets) {
    if (!(await client.bucketExists(bucket))) await client.makeBucket(bucket);
  }
}

main().catch((err) => {
  process.stderr.write(`ensure-buckets: ${err.message}\n`);
  process.exit(1);
});
