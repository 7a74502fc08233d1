/**
 * A typed client for MLflow's REST API (the `/api/2.0/mlflow/...` endpoints), over fetch.
 * It knows MLflow's wire format and error shape; it does not decide what to register (see
 * register-model-version.ts for that). Auth and TLS as MLflow's Python client does them
 * (mlflow-connection.ts), on every request, `/version` included; no credential appears in an error
 * or a returned value. Reads are retried on transient failures; writes are not (a lost response to
 * a create must be settled by a lookup, not by sending it again). Refused credentials and TLS that
 * cannot work are ServiceAccessErrors, never retried (mlflow-access-errors.ts words them).
 */
import { fetch, type RequestInit, type Response } from 'undici';
import { REGISTRY_RETRY } from '../common/constants';
import { realSleep, retryWithBackoff, type RetryPolicy, type Sleep } from '../common/retry-backoff';
import { tlsFailureOf, urlForMessages } from '../config/service-access-error';
import { mlflowAuthError, mlflowPlainHttpToTlsError, mlflowTlsError } from './mlflow-access-errors';
import { mlflowConnection, type MlflowConnection, type MlflowConnectionSettings } from './mlflow-connection';

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  tags?: { key: string; value: string }[];
  aliases?: { alias: string; version: string }[];
}

export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  current_stage?: string;
  tags?: { key: string; value: string }[];
  aliases?: string[];
}

export interface CreateModelVersionRequest {
  name: string;
  source: string;
  run_id?: string;
  tags?: { key: string; value: string }[];
  description?: string;
}

/** An error answer from MLflow, with its HTTP status and MLflow's own error code. */
export class MlflowApiError extends Error {
  constructor(
    readonly endpoint: string,
    readonly status: number,
    readonly errorCode: string | undefined,
    detail: string,
  ) {
    super(`MLflow ${endpoint}: HTTP ${status}${errorCode ? ` ${errorCode}` : ''}: ${detail}`);
    this.name = 'MlflowApiError';
  }

  /** 5xx and 429 may succeed later; any other answer will not. */
  get retryable(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

/** The request never got an HTTP answer (refused, reset, timed out): it may or may not have been applied. */
export class MlflowTransportError extends Error {
  readonly retryable = true;
  constructor(
    readonly endpoint: string,
    readonly code: string | undefined,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`MLflow ${endpoint}: no answer (${code ?? 'network error'}): ${detail}`, options);
    this.name = 'MlflowTransportError';
  }
}

/** ServiceAccessErrors (refused credentials, TLS) are never retryable. */
export function isRetryableMlflowError(err: unknown): boolean {
  return (err instanceof MlflowApiError || err instanceof MlflowTransportError) && err.retryable;
}

/** The TLS and credential settings besides the URI (config.mlflow has this shape). */
export type MlflowAccess = Omit<MlflowConnectionSettings, 'trackingUri'>;

/** The client for `config.mlflow`: its URI, credentials and TLS settings. */
export function createMlflowClient(settings: MlflowConnectionSettings, opts: MlflowClientOptions = {}): MlflowClient {
  return new MlflowClient(settings.trackingUri, settings, opts);
}

export interface MlflowClientOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
  retry?: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number };
  sleep?: (ms: number) => Promise<void>;
}

/** POST endpoints whose repeat ends in the same state (so a lost answer may be retried). */
/** How often a set-alias request lost to a concurrent insert of the same alias is sent again. */
const ALIAS_CONFLICT_ATTEMPTS = 3;

/** MLflow's answer when its store refused a duplicate row (SQLite, PostgreSQL and MySQL wordings). */
export function isUniquenessConflict(err: unknown): boolean {
  return (
    err instanceof MlflowApiError &&
    err.status === 400 &&
    /UNIQUE constraint failed|IntegrityError|duplicate key value|Duplicate entry/i.test(err.message)
  );
}

const IDEMPOTENT_POSTS: ReadonlySet<string> = new Set(['registered-models/alias', 'model-versions/transition-stage']);

export class MlflowClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retryPolicy: RetryPolicy;
  private readonly sleep: Sleep;
  private readonly connection: MlflowConnection;

  /** `access`: a bearer token (the older form), or the credentials and TLS settings. */
  constructor(trackingUri: string, access?: string | MlflowAccess, opts: MlflowClientOptions = {}) {
    this.base = trackingUri.replace(/\/+$/, '');
    // fetch refuses such URLs, and every message naming the endpoint would print the password.
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(this.base))
      throw new Error(
        'MLflow tracking URI: credentials in the URL are not supported; set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD',
      );
    this.connection = mlflowConnection({
      trackingUri,
      ...(typeof access === 'string' ? { token: access } : (access ?? {})),
    });
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.retryPolicy = opts.retry ?? REGISTRY_RETRY;
    this.sleep = opts.sleep ?? realSleep;
  }

  get trackingUri(): string {
    return this.base;
  }

  /** The server's version string (GET /version). */
  async serverVersion(): Promise<string> {
    const text = await this.send('/version', 'GET', `${this.base}/version`, { method: 'GET', headers: this.headers() });
    return text.trim();
  }

  /**
   * GET /health through the same credentials and TLS (for doctor): its HTTP status, or a thrown
   * ServiceAccessError / MlflowTransportError when it could not be asked.
   */
  async health(timeoutMs = this.timeoutMs): Promise<{ ok: boolean; status: number }> {
    try {
      await this.send('/health', 'GET', `${this.base}/health`, {
        method: 'GET',
        headers: this.headers(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { ok: true, status: 200 };
    } catch (err) {
      if (err instanceof MlflowApiError) return { ok: false, status: err.status };
      throw err;
    }
  }

  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    try {
      const out = await this.call<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', { name });
      return out.registered_model;
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  /** Creates the registered model, or returns the existing one (MLflow answers RESOURCE_ALREADY_EXISTS). */
  async ensureRegisteredModel(name: string, description?: string): Promise<RegisteredModel> {
    try {
      const out = await this.call<{ registered_model: RegisteredModel }>('POST', 'registered-models/create', {
        name,
        ...(description ? { description } : {}),
      });
      return out.registered_model;
    } catch (err) {
      if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
      const existing = await this.getRegisteredModel(name);
      if (!existing) throw err;
      return existing;
    }
  }

  /** Creates a model version. Not retried here: see register-model-version.ts for the idempotent path. */
  async createModelVersion(req: CreateModelVersionRequest): Promise<ModelVersion> {
    const out = await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/create', { ...req });
    return out.model_version;
  }

  /** All versions matching an MLflow filter (`name='x' AND tags.k='v'`), following page tokens. */
  async searchModelVersions(filter: string): Promise<ModelVersion[]> {
    const out: ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const page = await this.call<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
        'GET',
        'model-versions/search',
        { filter, max_results: 200, page_token: pageToken },
      );
      out.push(...(page.model_versions ?? []));
      pageToken = page.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  async deleteModelVersion(name: string, version: string): Promise<void> {
    await this.call('DELETE', 'model-versions/delete', { name, version });
  }

  /**
   * Points `alias` at `version` (idempotent: setting the same alias again is a no-op). Two requests
   * for a new alias at once (two exports of one model name) can both find it absent and both insert
   * it; MLflow answers the second with its database's uniqueness error. The row exists by then, so
   * sending again updates it: the last writer wins, as without the race.
   */
  async setRegisteredModelAlias(name: string, alias: string, version: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.call('POST', 'registered-models/alias', { name, alias, version });
        return;
      } catch (err) {
        if (attempt >= ALIAS_CONFLICT_ATTEMPTS || !isUniquenessConflict(err)) throw err;
      }
    }
  }

  /** One version (`model-versions/get`), or undefined when MLflow has no such version. */
  async getModelVersion(name: string, version: string): Promise<ModelVersion | undefined> {
    try {
      const out = await this.call<{ model_version: ModelVersion }>('GET', 'model-versions/get', { name, version });
      return out.model_version;
    } catch (err) {
      if (err instanceof MlflowApiError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw err;
    }
  }

  /**
   * Moves a version into a (deprecated, still resolved) stage; with `archiveExistingVersions` the
   * versions in that stage become `Archived`. Retried: sending it twice ends in the same state.
   */
  async transitionModelVersionStage(
    name: string,
    version: string,
    stage: string,
    archiveExistingVersions: boolean,
  ): Promise<ModelVersion> {
    const out = await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/transition-stage', {
      name,
      version,
      stage,
      archive_existing_versions: archiveExistingVersions,
    });
    return out.model_version;
  }

  /** One REST call; `GET` sends the body as a query string, as MLflow expects. */
  async call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    endpoint: string,
    body: Record<string, unknown>,
  ): Promise<T> {
    let url = `${this.base}/api/2.0/mlflow/${endpoint}`;
    const init: RequestInit = { method, headers: this.headers() };
    if (method === 'GET') {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) if (v !== undefined) qs.set(k, String(v));
      url += `?${qs.toString()}`;
    } else {
      init.body = JSON.stringify(body);
    }
    // Reads and idempotent writes (alias, stage transition, delete) are retried; creates are not.
    const retryable = method !== 'POST' || IDEMPOTENT_POSTS.has(endpoint);
    return retryWithBackoff(this.retryPolicy, () => this.once<T>(endpoint, method, url, init), {
      isRetryable: (err) => retryable && isRetryableMlflowError(err),
      sleep: this.sleep,
    });
  }

  private async once<T>(endpoint: string, method: string, url: string, init: RequestInit): Promise<T> {
    const text = await this.send(endpoint, method, url, init);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** One request and its answer's body; every failure classified (access, HTTP error, transport). */
  private async send(endpoint: string, method: string, url: string, init: RequestInit): Promise<string> {
    const where = urlForMessages(url);
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        ...init,
        signal: init.signal ?? AbortSignal.timeout(this.timeoutMs),
        ...(this.connection.dispatcher ? { dispatcher: this.connection.dispatcher } : {}),
      });
      text = await res.text();
    } catch (err) {
      const tls = tlsFailureOf(err);
      if (tls) throw mlflowTlsError(where, tls, this.connection, err);
      const cause = (err as { cause?: { code?: string } }).cause;
      const code = cause?.code ?? (err as { name?: string }).name;
      throw new MlflowTransportError(endpoint, code, this.scrub(err instanceof Error ? err.message : String(err)), {
        cause: err,
      });
    }
    if (res.ok) return text;
    let code: string | undefined;
    let message = text;
    try {
      const parsed = JSON.parse(text) as { error_code?: string; message?: string };
      code = parsed.error_code;
      message = parsed.message ?? text;
    } catch {
      // Not JSON (a proxy's HTML page, say): keep the raw text.
    }
    message = this.scrub(message.slice(0, 500));
    if (res.status === 401 || res.status === 403)
      throw mlflowAuthError(where, res.status, `${method} ${endpoint}`, this.connection, message);
    if (res.status === 400 && /plain HTTP request was sent to HTTPS|HTTP request to an HTTPS server/i.test(text))
      throw mlflowPlainHttpToTlsError(where);
    throw new MlflowApiError(endpoint, res.status, code, message);
  }

  /** Server answers may echo what they were sent; no secret of ours leaves in a message. */
  private scrub(text: string): string {
    return this.connection.secrets.reduce((t, s) => (s ? t.split(s).join('***') : t), text);
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.connection.authorization) h.Authorization = this.connection.authorization;
    return h;
  }
}
