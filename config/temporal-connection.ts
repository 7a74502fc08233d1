/**
 * How to reach Temporal, from the SDK's standard environment configuration (@temporalio/envconfig):
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the
 * TOML file (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml). Resolved once here, so
 * the CLI, the worker and the activities' own client connect the same way.
 *
 * The local stack's `stack.env` fills in the same variables when the environment is silent, except
 * when a profile or config file is named explicitly: then the profile is what the user asked for.
 */
import { existsSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { LOCAL_DEFAULTS } from '../common/constants';

/** What the clients need; key material is loaded, never printed (see `temporalSecurity`). */
export interface TemporalConnection {
  address: string;
  namespace: string;
  tls: TLSConfig | boolean | undefined;
  apiKey: string | undefined;
  metadata: Record<string, string> | undefined;
}

/** How the connection is secured, in words safe to print. */
export interface TemporalSecurity {
  tls: 'off' | 'on (system CAs)' | `on (CA file ${string})`;
  auth: 'none' | 'client certificate' | 'API key' | 'client certificate and API key';
  profile: string | undefined;
}

/** The variables envconfig reads that name a file; checked first so a wrong path names its variable. */
const PATH_VARIABLES = [
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_CONFIG_FILE',
] as const;

/** Raised for a configuration that cannot work; the message names the variable or file to fix. */
export class TemporalConfigError extends Error {
  override name = 'TemporalConfigError';
}

/**
 * The connection settings from `env`, with `stackEnv` (the local stack's file) under it.
 * Throws a TemporalConfigError naming the variable when a path is missing or the profile is bad.
 */
export function resolveTemporalConnection(
  env: NodeJS.ProcessEnv,
  stackEnv: Record<string, string>,
): {
  connection: TemporalConnection;
  security: TemporalSecurity;
  /** Variables taken from stack.env. */
  fromStackEnv: string[];
  /** Which settings the config file's profile (or the environment) gave, as opposed to our defaults. */
  profileSet: { address: boolean; namespace: boolean };
} {
  const explicitProfile = Boolean(env.TEMPORAL_PROFILE || env.TEMPORAL_CONFIG_FILE);
  const merged: Record<string, string> = {};
  const fromStackEnv: string[] = [];
  if (!explicitProfile) {
    for (const [k, v] of Object.entries(stackEnv)) {
      if (k.startsWith('TEMPORAL_') && v && !env[k]) {
        merged[k] = v;
        fromStackEnv.push(k);
      }
    }
  }
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;

  for (const name of PATH_VARIABLES) {
    const path = merged[name];
    if (path && !existsSync(path)) {
      const where = fromStackEnv.includes(name) ? ' (from stack.env)' : '';
      throw new TemporalConfigError(`${name}=${path}${where}: no such file`);
    }
  }

  let loaded;
  try {
    loaded = loadClientConnectConfig({ overrideEnvVars: merged });
  } catch (err) {
    const file = merged.TEMPORAL_CONFIG_FILE ?? 'the Temporal config file (~/.config/temporalio/temporal.toml)';
    const profile = merged.TEMPORAL_PROFILE ? `, profile ${merged.TEMPORAL_PROFILE} (TEMPORAL_PROFILE)` : '';
    throw new TemporalConfigError(`Temporal configuration from ${file}${profile}: ${(err as Error).message}`);
  }
  const options = loaded.connectionOptions;
  const connection: TemporalConnection = {
    address: options.address ?? `${LOCAL_DEFAULTS.temporalHost}:${LOCAL_DEFAULTS.temporalPort}`,
    namespace: loaded.namespace ?? LOCAL_DEFAULTS.temporalNamespace,
    tls: asBuffers(options.tls ?? undefined),
    apiKey: typeof options.apiKey === 'string' ? options.apiKey : undefined,
    // envconfig fills this from TEMPORAL_GRPC_META_* and the profile's grpc_meta: strings only.
    metadata: options.metadata as Record<string, string> | undefined,
  };
  return {
    connection,
    security: describeTemporalSecurity(connection, merged),
    fromStackEnv,
    profileSet: { address: options.address !== undefined, namespace: loaded.namespace !== undefined },
  };
}

/**
 * envconfig loads files as Uint8Array; grpc-js (the client's transport) accepts only Buffers, the
 * Rust core either.
 */
function asBuffers(tls: TLSConfig | boolean | undefined): TLSConfig | boolean | undefined {
  if (typeof tls !== 'object') return tls;
  const buf = (b: Uint8Array | undefined): Buffer | undefined => (b ? Buffer.from(b) : undefined);
  return {
    ...tls,
    serverRootCACertificate: buf(tls.serverRootCACertificate),
    clientCertPair: tls.clientCertPair
      ? { crt: Buffer.from(tls.clientCertPair.crt), key: Buffer.from(tls.clientCertPair.key) }
      : undefined,
  };
}

function describeTemporalSecurity(c: TemporalConnection, merged: Record<string, string>): TemporalSecurity {
  const tlsConfig = typeof c.tls === 'object' ? c.tls : undefined;
  const caPath = merged.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  const tls: TemporalSecurity['tls'] = !c.tls
    ? 'off'
    : tlsConfig?.serverRootCACertificate
      ? `on (CA file ${caPath ?? 'from the profile'})`
      : 'on (system CAs)';
  const cert = Boolean(tlsConfig?.clientCertPair);
  const auth: TemporalSecurity['auth'] =
    cert && c.apiKey ? 'client certificate and API key' : cert ? 'client certificate' : c.apiKey ? 'API key' : 'none';
  return { tls, auth, profile: merged.TEMPORAL_PROFILE };
}
