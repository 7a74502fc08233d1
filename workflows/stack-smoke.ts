/**
 * stackSmoke: the first real path through Temporal, MinIO and MLflow. Deterministic workflow code:
 * no I/O here, only activity calls through proxies.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';

const { writeAndReadBackObject, createAndReadRegisteredModel } = proxyActivities<Activities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 5 },
});

export interface StackSmokeInput {
  registeredModelName: string;
}

export interface StackSmokeResult {
  object: { uri: string; bytes: number; sha256: string };
  registeredModel: { name: string; createdAt: number | undefined; serverVersion: string };
}

export async function stackSmoke(input: StackSmokeInput): Promise<StackSmokeResult> {
  const { workflowId } = workflowInfo();
  const object = await writeAndReadBackObject(
    `smoke/${workflowId}.txt`,
    `stack smoke check from workflow ${workflowId}\n`,
  );
  const registeredModel = await createAndReadRegisteredModel(input.registeredModelName);
  return { object, registeredModel };
}
