import type { Admin, Kafka } from 'kafkajs';
import { commitOffsets, describeGroups, offsetsAtTime, partitionPositions } from './kafka-ops.ts';
import {
  planReplay,
  replayRefusal,
  replayTopics,
  selectPartitions,
  type ReplayStep,
  type ReplayTarget,
} from './replay-plan.ts';

export interface ReplayRequest {
  groupId: string;
  /** Every topic the group reads. */
  groupTopics: readonly string[];
  target: ReplayTarget;
  topic?: string;
  partition?: number;
  dryRun?: boolean;
}

/** Thrown when the group has members: nothing was changed. */
export class GroupActiveError extends Error {
  override name = 'GroupActiveError';
}

/**
 * Moves a stopped group's committed offsets (all its partitions, or one topic/partition) to the
 * target and returns the plan it carried out (or, with dryRun, would carry out).
 */
export async function replayGroup(
  { kafka, admin }: { kafka: Kafka; admin: Admin },
  request: ReplayRequest,
): Promise<ReplayStep[]> {
  const [group] = await describeGroups(admin, [request.groupId]);
  const refusal = replayRefusal(group!);
  if (refusal) throw new GroupActiveError(refusal);
  const topics = replayTopics(request.groupTopics, request.topic);
  const positions = selectPartitions(
    await partitionPositions(admin, request.groupId, topics),
    request.partition,
  );
  const atTime =
    request.target.kind === 'time' ? await offsetsAtTime(admin, topics, request.target.at) : undefined;
  const steps = planReplay(positions, request.target, atTime);
  if (!request.dryRun)
    await commitOffsets(
      kafka,
      request.groupId,
      steps.map((s) => ({ ...s, offset: s.after })),
    );
  return steps;
}
