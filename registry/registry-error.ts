/**
 * Typed errors of registry/: bad input (never retryable), a registration that failed after the
 * idempotent lookup could not find an earlier version, and a registered model MLflow does not
 * return. Messages name the field or the model; they never carry the tracking token.
 */

export class RegistryInputError extends Error {
  readonly retryable = false;
  constructor(
    readonly field: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`${field}: expected ${expected}, got ${JSON.stringify(value)}`);
    this.name = 'RegistryInputError';
  }
}

export class RegistrationError extends Error {
  constructor(
    message: string,
    readonly context: {
      readonly modelName: string;
      readonly sha256: string;
      readonly retryable: boolean;
      readonly attempts: number;
    },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistrationError';
  }

  get retryable(): boolean {
    return this.context.retryable;
  }
}

/**
 * MLflow does not return a registered model that must exist (one we just created). Retryable: a
 * tracking server behind a load balancer or a replicated store may answer from a lagging copy.
 */
export class RegisteredModelMissingError extends Error {
  readonly retryable = true;
  constructor(
    readonly modelName: string,
    detail: string,
  ) {
    super(`MLflow registered model '${modelName}' ${detail}`);
    this.name = 'RegisteredModelMissingError';
  }
}
