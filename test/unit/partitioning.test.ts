import { Partitioners } from 'kafkajs';
import { describe, expect, it } from 'vitest';

/**
 * The per-partition fences (the reactions counters' `rp`/`ro`, the engagement score's `ef<p>`)
 * hold only if every producer puts a key in the partition the Java client would: kafkajs's
 * DefaultPartitioner, which our producers (the synthetic producer, DLQ redrive) use, must be the
 * Java client's murmur2 of the key bytes, made positive, modulo the partition count.
 */
describe('key → partition, as the Java client computes it', () => {
  // Apache Kafka's UtilsTest.testMurmur2: the Java client's murmur2 of these keys (signed ints).
  const javaMurmur2: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  const partitionFor = (key: string, count: number): number =>
    Partitioners.DefaultPartitioner()({
      topic: 'koo.reactions',
      partitionMetadata: Array.from({ length: count }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 1,
        replicas: [1],
        isr: [1],
      })),
      message: { key, value: null },
    });

  it.each(javaMurmur2)('%s', (key, hash) => {
    for (const count of [1, 7, 12, 50]) expect(partitionFor(key, count)).toBe((hash & 0x7fffffff) % count);
  });
});
