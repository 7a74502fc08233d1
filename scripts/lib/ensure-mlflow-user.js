// The secured stack's MLflow user for the pipeline: node ensure-mlflow-user.js (settings in the environment:
// MLFLOW_URL, MLFLOW_CA, MLFLOW_ADMIN_USERNAME/PASSWORD, MLFLOW_PIPELINE_USERNAME/PASSWORD; passwords never
// on a command line). Creates the user as a non-admin, or resets its password to the one in secrets.env
// when it exists (a restart with the same state folder), and never prints a password.
//
// What it is granted: nothing beyond what MLflow gives any authenticated non-admin. The pipeline only
// works with registered models it creates itself, and MLflow's auth app gives the creator MANAGE on a
// registered model it creates (set_can_manage_registered_model_permission), which covers everything the
// pipeline then calls on it: get, model-versions create/get/search/delete/set-tag, the alias and the
// stage transition. Creating a registered model needs no grant while workspaces are off
// (_can_create_in_workspace); /version only needs a login; /health needs none; and searches are
// filtered to what the caller may read, so with default_permission = NO_PERMISSIONS the pipeline sees
// its own models only. Admin-only routes (users, permissions, roles, webhooks) stay closed to it.
'use strict';
const fs = require('node:fs');
const https = require('node:https');

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

function call(method, path, body, auth) {
  const url = new URL(`/api/2.0/mlflow/${path}`, env('MLFLOW_URL'));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: fs.readFileSync(env('MLFLOW_CA')),
        headers: {
          authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function main() {
  const admin = { username: env('MLFLOW_ADMIN_USERNAME'), password: env('MLFLOW_ADMIN_PASSWORD') };
  const user = { username: env('MLFLOW_PIPELINE_USERNAME'), password: env('MLFLOW_PIPELINE_PASSWORD') };
  const found = await call('GET', `users/get?username=${encodeURIComponent(user.username)}`, undefined, admin);
  if (found.status === 401)
    throw new Error('the admin login was refused (does secrets.env belong to this state folder?)');
  if (found.status === 404) {
    const created = await call('POST', 'users/create', user, admin);
    if (created.status !== 200) throw new Error(`users/create: HTTP ${created.status} ${created.text.slice(0, 300)}`);
  } else if (found.status === 200) {
    if (JSON.parse(found.text).user?.is_admin) throw new Error(`${user.username} is an admin; it must not be`);
    const updated = await call('PATCH', 'users/update-password', user, admin);
    if (updated.status !== 200)
      throw new Error(`users/update-password: HTTP ${updated.status} ${updated.text.slice(0, 300)}`);
  } else {
    throw new Error(`users/get: HTTP ${found.status} ${found.text.slice(0, 300)}`);
  }
  // The pipeline's own login must work (and must not be an admin's).
  const own = await call('GET', `users/get?username=${encodeURIComponent(user.username)}`, undefined, user);
  if (own.status === 401) throw new Error(`${user.username} cannot log in with the password in secrets.env`);
}

main().catch((err) => {
  process.stderr.write(`ensure-mlflow-user: ${err.message}\n`);
  process.exit(1);
});
