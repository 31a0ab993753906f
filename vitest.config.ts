import { defineConfig } from 'vitest/config';

// Unit tests need no services. Integration tests talk to the local stack (`npm run stack -- up`)
// and share it: each reads and writes only its own ids, groups, prefixes and queues, so most run
// side by side, three at a time (they mostly wait on Kafka, Debezium and timers; the lake files
// among them read topics of their own, not every record the others produce). The few that change
// the stack for everyone, count a shared topic's records or load the stack run after them: beside
// the unit tests where none of them touches what another changes or counts, else alone.
const alone = [
  'test/integration/scale.test.ts', // restarts the broker
  'test/integration/reactions-lake-rebuild.test.ts', // deletes koo.reactions' records (DeleteRecords)
  'test/integration/resnapshot.test.ts', // counts koo.dlq's records
];
// Beside each other and the unit tests (which fill the time these wait on rebalances, segment
// ages and Spark): only lake-iceberg-reactions produces reactions, and only source-schema-change
// makes the koos' CDC topic change (the two lake files read topics of their own).
const besideUnit = [
  // Their own topics make these two safe beside others, but they load the stack's S3 and, in
  // bursts, the cores (100,000 events; Spark): beside the integration files, those files' 60 s
  // waits ran out.
  'test/integration/lake-crash.test.ts',
  'test/integration/lake-iceberg.test.ts',
  'test/integration/source-schema-change.test.ts', // alters a source table (koos)
  'test/integration/lake-iceberg-reactions.test.ts', // counts the records of a window of koo.reactions
];
const integration = {
  globalSetup: ['test/integration/global-setup.ts'],
  testTimeout: 180_000,
  hookTimeout: 180_000,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...alone, ...besideUnit],
          maxWorkers: Number(process.env.INTEGRATION_FILES_AT_ONCE ?? 3),
          sequence: { groupOrder: 0 },
          ...integration,
        },
      },
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'workers/**/*.test.ts', 'shared/**/*.test.ts'],
          maxWorkers: 3,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'integration-beside-unit',
          include: besideUnit,
          maxWorkers: 3, // one pool for the group: the two lake files, and the unit files and the rest in the third lane
          sequence: { groupOrder: 1 },
          ...integration,
        },
      },
      {
        test: {
          name: 'integration-alone',
          include: alone,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
          ...integration,
        },
      },
    ],
  },
});
