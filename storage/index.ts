/** storage/: the content-addressed object store over MinIO/S3. Public API only; no logic here. */
export { ContentAddressedStore, SHA256_METADATA_KEY } from './object-store';
export type { ArtifactRef, StoreOptions, UploadFileOptions, UploadOutcome } from './object-store';
export { createMinioClient, probeS3Endpoint } from './minio-client';
export { minioS3Operations } from './s3-operations';
export type { S3Operations, ObjectStat } from './s3-operations';
export { modelDirectoryPrefix, parseS3Uri, s3Uri, stagingKey, validateModelName, validateSha256 } from './object-keys';
export { ContentMismatchError, StorageError, StorageInputError, UploadAbortedError } from './storage-error';
export type { UploadCheckpoint, FinishedPart } from './upload-checkpoint';
export { isRetryableStorageError } from './retry';
