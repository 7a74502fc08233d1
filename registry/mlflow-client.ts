/**
 * A typed client for MLflow's REST API (the `/api/2.0/mlflow/...` endpoints), over fetch.
 * It knows MLflow's wire format and error shape; it does not decide what to register (see the
 * registry stage for that). Token auth when a token is configured.
 */

export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  tags?: { key: string; value: string }[];
  aliases?: { alias: string; version: string }[];
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
}

export class MlflowClient {
  private readonly base: string;

  constructor(trackingUri: string, private readonly token?: string) {
    this.base = trackingUri.replace(/\/+$/, '');
  }

  /** The server's version string (GET /version). */
  async serverVersion(): Promise<string> {
    const res = await fetch(`${this.base}/version`, { headers: this.headers() });
    if (!res.ok) throw new MlflowApiError('/version', res.status, undefined, await res.text());
    return (await res.text()).trim();
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

  /** One REST call; `GET` sends the body as a query string, as MLflow expects. */
  async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', endpoint: string, body: Record<string, unknown>): Promise<T> {
    let url = `${this.base}/api/2.0/mlflow/${endpoint}`;
    const init: RequestInit = { method, headers: this.headers() };
    if (method === 'GET') {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(body)) if (v !== undefined) qs.set(k, String(v));
      url += `?${qs.toString()}`;
    } else {
      init.body = JSON.stringify(body);
    }
    const res = await fetch(url, init);
    const text = await res.text();
    if (!res.ok) {
      let code: string | undefined;
      let message = text;
      try {
        const parsed = JSON.parse(text) as { error_code?: string; message?: string };
        code = parsed.error_code;
        message = parsed.message ?? text;
      } catch {
        // Not JSON (a proxy's HTML page, say): keep the raw text.
      }
      throw new MlflowApiError(endpoint, res.status, code, message.slice(0, 500));
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  private headers(): Record<string, string> {
    const h: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }
}
