import kafkajs, { type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionTopics } from '../../infra/provision.ts';
import { cdcTopicConfig, topicNames } from '../../schemas/topics.ts';
import { commonConfigSchema } from '../../shared/config/common.ts';
import { loadConfig } from '../../shared/config/load-config.ts';
import { createLogger } from '../../shared/logging/logger.ts';
import { testKafka } from '../support/kafka.ts';

// The CDC topics hold the current state of their tables for good (compacted), so a view can be
// rebuilt from offset 0 at any age; topics made before that change are brought to it by provisioning.

const { ConfigResourceTypes } = kafkajs;
const cdcTopics = [topicNames.users, topicNames.koos, topicNames.follows];

describe("the stack's CDC topics", () => {
  let admin: Admin;
  const configOf = async (topic: string) => {
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: Object.keys(cdcTopicConfig) }],
    });
    return Object.fromEntries(resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  };
  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });

  it('are compacted, keeping every change a week and a deleted key 30 days more', async () => {
    for (const topic of cdcTopics) expect(await configOf(topic), topic).toEqual(cdcTopicConfig);
  });

  it('are made compacted again by provisioning when a topic still has time-based deletion', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: topicNames.follows,
          configEntries: [
            { name: 'cleanup.policy', value: 'delete' },
            { name: 'retention.ms', value: String(30 * 86_400_000) },
          ],
        },
      ],
    });
    expect((await configOf(topicNames.follows))['cleanup.policy']).toBe('delete');
    await provisionTopics(
      loadConfig(commonConfigSchema, process.env),
      createLogger('stack-topics-test', 'warn'),
    );
    expect(await configOf(topicNames.follows)).toEqual(cdcTopicConfig);
  });
});
