/**
 * The pipeline under ops conditions: every worker as 3 replicas, a 4th added under load, one of
 * each SIGKILLed (and restarted by the supervisor), the DynamoDB server unreachable for 30 s and
 * the Kafka broker restarted inside that outage, one of each stopped with SIGTERM while busy.
 * Afterwards every view, feed, lake row and notification must be what the produced log implies.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Partitioners, type Admin, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { tableName } from '../../schemas/tables.ts';
import { topicNames } from '../../schemas/topics.ts';
import type { Reaction } from '../../schemas/reaction.ts';
import { batchGet } from '../../shared/dynamodb/batch-writer.ts';
import type { ReactionProducer } from '../../clients/producer/reaction-producer.ts';
import { sleep } from '../../shared/runtime/backoff.ts';
import { Supervisor, type Replica } from '../../apps/supervisor/supervisor.ts';
import { Random } from '../../apps/synthetic/random.ts';
import { ReactionWorkload } from '../../apps/synthetic/reaction-workload.ts';
import { catalog } from '../../workers/catalog.ts';
import { contribution, scoreAt } from '../../workers/engagement/decay.ts';
import { foldReaction, stateTerms, weightOf, type EngagedState } from '../../workers/engagement/decide.ts';
import { noReaction, pairKey } from '../../workers/reactions/decide.ts';
import { decaySettingsOf, weightsOf } from '../../workers/engagement/engagement-worker.ts';
import { envelope, kooRow, userRow } from '../support/cdc-events.ts';
import { contentReadPath } from '../support/content.ts';
import { engagementReadPath, engagementTestEnv } from '../support/engagement.ts';
import { feedReadPath } from '../support/feed.ts';
import { runId } from '../support/ids.ts';
import { groupCaughtUp, pinGroupAtEnd, testKafka, watchCommits } from '../support/kafka.ts';
import { LakeMirror, testLakeStore } from '../support/lake.ts';
import { notificationStore } from '../support/notify.ts';
import { reactionReadPath, testReactionProducer } from '../support/reactions.ts';
import { stackEnv } from '../support/stack-env.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { waitFor } from '../support/wait-for.ts';
import { startWebhook } from '../support/webhook.ts';

const USERS = 100;
const FOLLOWS_EACH = 4;
// Sized by SCALE_KOOS and SCALE_REACTIONS (whole run) to try larger loads; the defaults are what CI runs.
const KOOS = Number(process.env.SCALE_KOOS ?? 5000); // every 4th a reply to the koo before it
const EDITED = Math.round(KOOS * 0.375);
const NOTIFY_KOOS = 30; // koos that get only fresh likes: their like notifications are countable
const REACTION_ROUNDS = 3;
const REACTIONS_PER_ROUND = Math.ceil(Number(process.env.SCALE_REACTIONS ?? 50_000) / REACTION_ROUNDS);
const REPLICAS = 3;
const OUTAGE_MS = 30_000;
// Churn (issue 13): a random replica SIGKILLed every CHURN_KILL_EVERY_MS while reactions and edits
// flow; SCALE_CHURN_SECONDS=600 is the 10-minute measurement, CI runs a minute of it.
const CHURN_SECONDS = Number(process.env.SCALE_CHURN_SECONDS ?? 60);
const CHURN_KILL_EVERY_MS = 10_000;
const CHURN_REACTIONS_PER_S = 100;
const CHURN_EDITS_PER_S = 5;
const HTTP_PORT_BASE = Number(process.env.SCALE_TEST_HTTP_PORT_BASE ?? 29400);

const p = `sc${runId}`; // every id of this run starts with it, so lake rows can be picked out
const lakePrefix = `test-scale-${runId}/`;
const engagementEnv = engagementTestEnv('scale');
const group = (worker: string) => `test-scale-${runId}-${worker}`;
const consumers = catalog.filter((e) => e.group);
/** The consumers whose lag goes to zero (the lake holds its open segments uncommitted). */
const viewWorkers = consumers.map((e) => e.name).filter((n) => n !== 'lake');
const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);

describe(`the pipeline at ${REPLICAS} replicas per worker, through crashes and outages`, () => {
  let admin: Admin;
  let cdc: Producer;
  let reactions: ReactionProducer;
  let supervisor: Supervisor;
  /** What the run's workers (and `koo status`) get on top of the stack's environment. */
  let workerEnv: Record<string, string>;
  const webhookP = startWebhook(() => 200);
  let webhook: Awaited<typeof webhookP>;
  const dynamoP = startTcpProxy(new URL(stackEnv.dynamodbEndpoint));
  let dynamo: Awaited<typeof dynamoP>;
  // Every line of every replica, for the post-mortem of a failure (the test prints where).
  const logPath = join(tmpdir(), `koo-scale-test-${runId}.log`);
  const log = createWriteStream(logPath);
  const content = contentReadPath();
  const counters = reactionReadPath();
  const scores = engagementReadPath(engagementEnv);
  const feeds = feedReadPath(500);
  const lake = testLakeStore();
  const notifications = notificationStore(`test-scale-${runId}`);

  beforeAll(async () => {
    [webhook, dynamo] = await Promise.all([webhookP, dynamoP]);
    const kafka = testKafka();
    admin = kafka.admin();
    cdc = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await Promise.all([admin.connect(), cdc.connect()]);
    reactions = await testReactionProducer();
    for (const e of consumers) await pinGroupAtEnd(admin, group(e.name), e.group!.topics);
    workerEnv = {
      ...engagementEnv,
      // Snapshots of the trending sets every 30 s, not every second: 4 replicas writing whole sets
      // each second would be most of the load on the stack's DynamoDB (two shared cores).
      TRENDING_SNAPSHOT_INTERVAL_MS: '30000',
      ...Object.fromEntries(consumers.map((e) => [e.group!.variable, group(e.name)])),
      LOG_LEVEL: process.env.SCALE_LOG_LEVEL ?? 'warn',
      DYNAMODB_ENDPOINT: dynamo.url,
      SESSION_TIMEOUT_MS: '10000',
      // A replica that dies while its group rebalances holds the group this long (README, Operations).
      REBALANCE_TIMEOUT_MS: '20000',
      SINK_RETRY_MAX_MS: '10000',
      BATCH_SIZE: '200',
      // No trims and no backfill on follow: follows come before koos here, so a backfill would
      // find nothing; both are covered in feed.test.ts.
      FEED_TRIM_EVERY: '0',
      FEED_BACKFILL_KOOS: '0',
      LAKE_PREFIX: lakePrefix,
      LAKE_CATALOG_NAME: lakePrefix, // the tables of this test's lake
      // Segments of 10 s: the last records reach the lake soon after the views, and 4 replicas
      // do not cut a segment and commit it to its table every 3 s in every partition of the four
      // topics (with 3 s, the lake and the S3 server took a core between them under churn).
      LAKE_ROTATE_AGE_MS: '10000',
      NOTIFY_PREFIX: `test-scale-${runId}`,
      NOTIFY_WEBHOOK_URL: webhook.url,
      NOTIFY_WINDOW_MS: '1500',
      NOTIFY_ATTEMPTS: '30',
      NOTIFY_BACKOFF_MS: '200',
      NOTIFY_LOCK_MS: '3000',
      NOTIFY_RECIPIENT_LIMIT: '100000',
    };
    supervisor = new Supervisor({
      env: { ...process.env, ...workerEnv },
      httpPortBase: HTTP_PORT_BASE,
      onLine: (r, line) => log.write(`${r.worker}-${r.slot} | ${line}\n`),
      onEvent: (r, event) => log.write(`${new Date().toISOString()} ${r.worker}-${r.slot} * ${event}\n`),
    });
  });

  afterAll(async () => {
    await supervisor?.close();
    await Promise.all([admin?.disconnect(), cdc?.disconnect(), reactions?.close()]);
    await scores.flushRedis();
    await notifications.obliterate();
    await notifications.close();
    await Promise.all([webhook?.close(), dynamo?.close()]);
    for (const r of [content, counters, feeds]) r.dynamo.destroy();
    scores.close();
    lake.destroy();
    log.end();
    // `up connect` waits until Debezium streams again after the broker's restart (restarting a
    // task the outage failed), so the files after this one find the CDC path as they expect it.
    // This test writes its CDC records itself: the wait need not hold it up.
    await stack('up', 'connect');
  });

  const readyz = async (r: Replica) => {
    const res = await fetch(`http://127.0.0.1:${r.httpPort}/readyz`).catch(() => undefined);
    return { status: res?.status, body: ((await res?.text()) ?? 'no answer').trim() };
  };
  /** True when every replica is ready; otherwise throws naming the unready ones (waitFor's last). */
  const allReady = async () => {
    const replicas = supervisor.replicas();
    const answers = await Promise.all(replicas.map(readyz));
    const unready = replicas
      .map((r, i) => ({ r, ...answers[i]! }))
      .filter((a) => a.status !== 200)
      .map(
        (a) =>
          `${a.r.worker}-${a.r.slot} (pid ${a.r.child.pid}, ${a.r.restarts} restarts): ${a.status ?? '-'} ${a.body}`,
      );
    if (unready.length > 0) throw new Error(`unready: ${unready.join('; ')}`);
    return true;
  };
  /** True once every named group has caught up; `onCaughtUp` hears of each the first time it has. */
  const caughtUp = async (names: string[], onCaughtUp: (name: string) => void) => {
    let all = true;
    for (const e of consumers.filter((c) => names.includes(c.name))) {
      if (await groupCaughtUp(admin, group(e.name), e.group!.topics)) onCaughtUp(e.name);
      else all = false;
    }
    return all;
  };
  const stack = (...args: string[]) =>
    run('bash', [resolve(root, 'infra/stack/stack.sh'), ...args], { cwd: root, env: process.env });
  const restartKafka = async () => {
    await stack('down', 'kafka');
    await stack('up', 'kafka');
  };

  it(
    'ends with every view, feed, lake row and notification equal to what the log implies',
    { timeout: 900_000 },
    async () => {
      // CI keeps only the console: the log's tail goes there too.
      onTestFailed(() =>
        console.log(
          `the replicas' output: ${logPath}; its last lines:\n` +
            readFileSync(logPath, 'utf8').split('\n').slice(-120).join('\n'),
        ),
      );
      const began = Date.now();
      const step = (what: string) => {
        const line = `[${((Date.now() - began) / 1000).toFixed(1)} s] ${what}`;
        console.log(line);
        log.write(`${new Date().toISOString()} ${line}\n`);
      };
      /** Waits for the groups to catch up, printing when each first has (which one the wait is for). */
      const waitCaughtUp = (what: string, names: string[], timeoutMs: number, intervalMs: number) => {
        const seen = new Set<string>();
        const onCaughtUp = (name: string) => {
          if (seen.has(name)) return;
          seen.add(name);
          if (names.length > 1) step(`  ${name} caught up`);
        };
        return waitFor(what, () => caughtUp(names, onCaughtUp), { timeoutMs, intervalMs });
      };
      const random = new Random(7);
      const T0 = Date.now();
      let lsn = T0 * 1000;
      const iso = (ms: number) => new Date(ms).toISOString();
      const users = Array.from({ length: USERS }, (_, i) => `${p}u${i}`);
      const follows = users.flatMap((follower) => {
        const followees = new Set<string>();
        while (followees.size < FOLLOWS_EACH) {
          const f = random.pick(users);
          if (f !== follower) followees.add(f);
        }
        return [...followees].map((followee) => ({ follower, followee }));
      });
      const koos = Array.from({ length: KOOS + NOTIFY_KOOS }, (_, i) => ({
        id: `${p}k${i}`,
        creator: random.pick(users),
        parent: i < KOOS && i % 4 === 3 ? `${p}k${i - 1}` : null,
        lang: random.pick(['hi', 'kn', 'ta', 'en']),
        createdAt: T0 + i,
      }));
      const row = (k: (typeof koos)[number], body: string) =>
        kooRow(k.id, {
          creator_id: k.creator,
          parent_id: k.parent,
          lang: k.lang,
          body,
          created_at: iso(k.createdAt),
          updated_at: iso(k.createdAt),
        });
      // As Debezium writes them: the change's time (notify windows by it) is now, LSNs increase.
      const change = (table: string, op: 'c' | 'u', before: object | null, after: object) =>
        envelope(table, op, before, after, ++lsn, Date.now());
      const send = (topic: string, messages: { key: object; value: object }[]) =>
        cdc.send({
          topic,
          acks: -1,
          messages: messages.map((m) => ({ key: JSON.stringify(m.key), value: JSON.stringify(m.value) })),
        });
      const sendKoos = (list: typeof koos) =>
        send(
          topicNames.koos,
          list.map((k) => ({
            key: { content_id: k.id },
            value: change('koos', 'c', null, row(k, 'v1')),
          })),
        );

      // The groups start at the log's end (pinned), so the replicas take up what is sent while they start.
      step('starting every worker at 3 replicas; users and follows; a 4th replica of every consumer joins');
      for (const e of catalog) await supervisor.scale(e.name, REPLICAS);
      await send(
        topicNames.users,
        users.map((u) => ({
          key: { user_id: u },
          value: change('users', 'c', null, userRow(u, { handle: `h_${u}` })),
        })),
      );
      await send(
        topicNames.follows,
        follows.map(({ follower, followee }) => ({
          key: { follower_id: follower, followee_id: followee },
          value: change('follows', 'c', null, {
            follower_id: follower,
            followee_id: followee,
            created_at: iso(T0),
          }),
        })),
      );
      await waitFor('every replica ready', allReady, { timeoutMs: 90_000, intervalMs: 500 });
      for (const e of consumers) await supervisor.scale(e.name, REPLICAS + 1);
      // Fan-out on write reaches the followers the graph has: follows first, as the app's order would have it.
      await waitCaughtUp('users and follows applied', ['content', 'feed'], 300_000, 1000);

      step(
        'koos in four chunks; one replica of every worker SIGKILLed half-way (the supervisor restarts it)',
      );
      const chunk = Math.ceil(koos.length / 4);
      for (let i = 0; i < koos.length; i += chunk) {
        await sendKoos(koos.slice(i, i + chunk));
        if (i === chunk) {
          for (const e of catalog) supervisor.signal(supervisor.replicas(e.name)[1]!, 'SIGKILL');
        }
      }
      // Reactions right behind the koos: notify parks a like until it has seen its koo's create.
      step(
        'reactions in rounds; the DynamoDB server goes away for 30 s during the second, and the Kafka broker restarts inside that',
      );
      const reactable = koos.slice(0, KOOS).map((k) => k.id);
      const workload = new ReactionWorkload({
        seed: 11,
        koos: reactable,
        users: Array.from({ length: 300 }, (_, i) => `${p}r${i}`),
        startTime: T0,
      });
      const produced: Reaction[] = [];
      const notifyKoos = koos.slice(KOOS).map((k, j) => ({ ...k, likers: 1 + (j % 5) }));
      const likesOfRound = (round: number) =>
        notifyKoos.flatMap((k) =>
          Array.from({ length: k.likers }, (_, a) => ({
            type: 'like' as const,
            content_id: k.id,
            user_id: `${p}l${round}-${a}`,
            event_time: Date.now(),
          })),
        );
      const sendReactions = async (events: Parameters<ReactionProducer['emit']>[0][]) => {
        produced.push(...(await Promise.all(events.map((e) => reactions.emit(e)))));
        await reactions.flush();
      };
      let sawUnready = false;
      for (let round = 0; round < REACTION_ROUNDS; round++) {
        if (round === 1) {
          step('DynamoDB unreachable');
          await dynamo.cut();
          const outageEnds = Date.now() + OUTAGE_MS;
          // Both faults at once, and the broker's restart costs no time of its own: the workers
          // rejoin and resume while their sink is still away.
          step('restarting the Kafka broker');
          await restartKafka();
          step('broker back');
          await sendReactions([...workload.next(REACTIONS_PER_ROUND), ...likesOfRound(round)]);
          // Readiness reflects the outage: a content replica, back in its group, names its sink.
          sawUnready = await waitFor(
            'a content replica unready for its sink',
            async () =>
              (await Promise.all(supervisor.replicas('content').map(readyz))).some(
                (a) => a.status === 503 && a.body.includes('sink'),
              ),
            { timeoutMs: OUTAGE_MS / 2, intervalMs: 500 },
          );
          await sleep(outageEnds - Date.now()); // the outage lasts at least its 30 s
          await dynamo.restore();
          step('DynamoDB back');
          continue;
        }
        await sendReactions([...workload.next(REACTIONS_PER_ROUND), ...likesOfRound(round)]);
      }

      // From a caught-up pipeline: the churn measures groups that keep moving with load flowing,
      // not a backlog's chunks (a chunk cut off by a rebalance is redone whole: README, Operations).
      await waitCaughtUp('every view worker caught up before the churn', viewWorkers, 300_000, 2000);
      step(
        `churn: a random replica SIGKILLed every ${CHURN_KILL_EVERY_MS / 1000} s for ${CHURN_SECONDS} s under load`,
      );
      const stopWatching = watchCommits(
        admin,
        consumers.map((e) => ({ worker: e.name, groupId: group(e.name), topics: e.group!.topics })),
      );
      // Edits that change nothing a view shows (the body stays v1), so every CDC consumer has work.
      const churnKoos = koos.slice(EDITED, KOOS);
      let churnEdits = 0;
      let kills = 0;
      const churnEnds = Date.now() + CHURN_SECONDS * 1000;
      for (let nextKill = Date.now() + CHURN_KILL_EVERY_MS; Date.now() < churnEnds; await sleep(1000)) {
        await sendReactions(workload.next(CHURN_REACTIONS_PER_S));
        const edited = Array.from({ length: CHURN_EDITS_PER_S }, () => random.pick(churnKoos));
        await send(
          topicNames.koos,
          edited.map((k) => ({
            key: { content_id: k.id },
            value: change('koos', 'u', row(k, 'v1'), { ...row(k, 'v1'), updated_at: iso(Date.now()) }),
          })),
        );
        churnEdits += edited.length;
        if (Date.now() >= nextKill) {
          supervisor.signal(random.pick(supervisor.replicas()), 'SIGKILL');
          kills++;
          nextKill += CHURN_KILL_EVERY_MS;
        }
      }
      const commits = await stopWatching();
      console.log(
        `churn: ${kills} replicas SIGKILLed in ${CHURN_SECONDS} s; per group, commits seen a minute ` +
          `(polled every 2 s) and the longest stretch without one:\n` +
          commits
            .map(
              (c) =>
                `  ${c.worker.padEnd(12)} ${String(c.commitsPerMinute).padStart(5)}/min  ${Math.round(c.maxGapMs / 1000)} s (from ${c.maxGapFrom})`,
            )
            .join('\n'),
      );
      // Every group keeps moving: it commits during the churn. The longest stretch without a commit
      // is printed (the 10-minute measurement's figure), not asserted: one stretch past the rebalance
      // timeout is a member that did not rejoin in time (README, Operations).
      for (const c of commits)
        expect.soft(c.commitsPerMinute, `${c.worker}: commits under churn`).toBeGreaterThan(0);
      await sendReactions(workload.drain());
      await waitFor('every replica ready again', allReady, { timeoutMs: 60_000, intervalMs: 500 });

      step('edits, while one replica of every worker is stopped with SIGTERM in the middle of its work');
      await send(
        topicNames.koos,
        koos.slice(0, EDITED).map((k) => ({
          key: { content_id: k.id },
          value: change('koos', 'u', row(k, 'v1'), { ...row(k, 'v2'), updated_at: iso(Date.now()) }),
        })),
      );
      const stops = await Promise.all(
        catalog.map(async (e) => ({
          worker: e.name,
          ...(await supervisor.stopReplica(supervisor.replicas(e.name)[0]!)),
        })),
      );
      console.log(
        'SIGTERM to exit, busy replicas:\n' +
          stops
            .map(
              (s) =>
                `  ${s.worker.padEnd(14)} ${Math.round(s.ms)} ms (exit ${s.status.code ?? s.status.signal})`,
            )
            .join('\n'),
      );
      for (const s of stops) {
        expect.soft(s.ms, `${s.worker}: SIGTERM to exit`).toBeLessThan(10_000);
        // Exit 1 is the worker's own deadline (a rebalance in progress keeps kafkajs from leaving the
        // group); a signal would be the supervisor's SIGKILL, i.e. no exit of its own.
        expect.soft(s.status.signal, `${s.worker}: exited by itself`).toBeNull();
      }

      step('waiting for every group to catch up');
      // The lake holds each partition's open segment uncommitted (its boundaries come from the log),
      // so its lag settles at that, not zero: its rows are checked instead.
      await waitCaughtUp('every view worker caught up', viewWorkers, 300_000, 2000);

      // What ops see: `koo status` (the CLI, with the deployment's group variables) reports the lag gone.
      const { stdout } = await run(process.execPath, [resolve(root, 'apps/cli/koo.ts'), 'status', '--json'], {
        cwd: root,
        env: { ...process.env, ...workerEnv, LOG_LEVEL: 'error' },
      });
      const status = JSON.parse(stdout) as { groups: { worker: string; groupId: string; lag: number }[] };
      const lagByWorker = Object.fromEntries(status.groups.map((g) => [g.worker, g.lag]));
      step(`koo status: lag ${JSON.stringify(lagByWorker)}`);
      expect
        .soft(status.groups.map((g) => g.groupId).sort())
        .toEqual(consumers.map((e) => group(e.name)).sort());
      for (const e of consumers.filter((c) => c.name !== 'lake')) {
        expect.soft(lagByWorker[e.name], `${e.name} lag in koo status`).toBe(0);
      }

      step('checking the views against the log');
      // content: every koo at its final version, with its creator's handle and its thread.
      const items = await batchGet(
        content.dynamo,
        tableName('content'),
        koos.map((k) => ({ id: k.id })),
        { keyAttributes: ['id'] },
      );
      const wrongKoos = koos.filter((k, i) => {
        const item = items.get(k.id);
        return (
          !item ||
          item.c !== k.creator ||
          item.h !== `h_${k.creator}` ||
          item.t !== (i < EDITED ? 'v2' : 'v1') ||
          item.p !== (k.parent ?? undefined) ||
          item.sp !== (k.parent ?? undefined)
        );
      });
      expect.soft(wrongKoos.map((k) => ({ k, item: items.get(k.id) }))).toEqual([]);

      step('reactions: counters');
      // reactions: exact counters.
      const expectedCounts = workload.expectedCounts();
      for (const k of notifyKoos)
        expectedCounts.set(k.id, { likes: k.likers * REACTION_ROUNDS, shares: 0, rekoos: 0 });
      expect.soft(await counters.wrongCounters([...expectedCounts.keys()], expectedCounts)).toEqual([]);

      step('engagement: scores');
      // engagement: each koo's score is the decayed sum of its log's reactions and replies.
      const decay = decaySettingsOf(scores.config);
      const weights = weightsOf(scores.config);
      const expectedScores = new Map<string, { sum: number; magnitude: number }>();
      const add = (id: string, c: number) => {
        const e = expectedScores.get(id) ?? { sum: 0, magnitude: 0 };
        expectedScores.set(id, { sum: e.sum + c, magnitude: e.magnitude + Math.abs(c) });
      };
      // A user's standing reactions to a koo weigh (a repeated one adds nothing): fold each pair's.
      const pairs = new Map<string, { contentId: string; state: EngagedState }>();
      produced.forEach((r, i) => {
        const key = pairKey(r.content_id, r.user_id);
        const before = pairs.get(key)?.state ?? noReaction;
        pairs.set(key, {
          contentId: r.content_id,
          state: foldReaction(before, { kind: r.type, timeMs: r.event_time }, i),
        });
      });
      for (const { contentId, state } of pairs.values())
        for (const t of stateTerms(state, weights))
          add(contentId, contribution(t.weight, t.timeMs, T0, decay));
      for (const k of koos)
        if (k.parent) add(k.parent, contribution(weightOf('reply', weights), k.createdAt, T0, decay));
      const scored = await batchGet(
        scores.dynamo,
        tableName('content'),
        [...expectedScores.keys()].map((id) => ({ id })),
        { keyAttributes: ['id'] },
      );
      const wrongScores = [...expectedScores].filter(([id, { sum, magnitude }]) => {
        const item = scored.get(id);
        const score = item?.es === undefined ? 0 : scoreAt(item.es as number, item.lm as number, T0, decay);
        return Math.abs(score - sum) > 1e-9 * magnitude;
      });
      expect.soft(wrongScores.map(([id, e]) => ({ id, expected: e, item: scored.get(id) }))).toEqual([]);

      step('feed: home feeds');
      // feed: each user's feed holds exactly the top-level koos of the users they follow.
      const expectedFeed = new Map(users.map((u) => [u, new Set<string>()]));
      for (const { follower, followee } of follows) {
        for (const k of koos) if (k.creator === followee && !k.parent) expectedFeed.get(follower)!.add(k.id);
      }
      const wrongFeeds: { user: string; missing: string[]; extra: string[] }[] = [];
      for (const [user, expected] of expectedFeed) {
        const actual = new Set(await feeds.contentIds(user));
        const missing = [...expected].filter((id) => !actual.has(id));
        const extra = [...actual].filter((id) => !expected.has(id));
        if (missing.length + extra.length > 0) wrongFeeds.push({ user, missing, extra });
      }
      expect.soft(wrongFeeds).toEqual([]);

      step('notifications');
      // notifications: every follow and every like of the countable koos, delivered once.
      const delivered = (kind: string, key: (n: { recipient: string; kooId: string | null }) => string) => {
        const sums = new Map<string, number>();
        for (const n of webhook.accepted.values()) {
          if (n.kind === kind) sums.set(key(n), (sums.get(key(n)) ?? 0) + n.count);
        }
        return sums;
      };
      const expectedFollowers = new Map<string, number>();
      for (const { followee } of follows)
        expectedFollowers.set(followee, (expectedFollowers.get(followee) ?? 0) + 1);
      const expectedLikes = new Map(notifyKoos.map((k) => [k.id, k.likers * REACTION_ROUNDS]));
      const pick = <V>(m: Map<string, V>, keys: Iterable<string>) =>
        new Map([...keys].map((k) => [k, m.get(k)]));
      await waitFor(
        'every notification delivered',
        () => {
          const likes = delivered('like', (n) => n.kooId!);
          const followers = delivered('follow', (n) => n.recipient);
          return (
            [...expectedLikes].every(([id, n]) => (likes.get(id) ?? 0) >= n) &&
            [...expectedFollowers].every(([u, n]) => (followers.get(u) ?? 0) >= n)
          );
        },
        { timeoutMs: 120_000, intervalMs: 1000 },
      ).catch(() => undefined); // the equalities below say what is missing
      expect(
        pick(
          delivered('like', (n) => n.kooId!),
          expectedLikes.keys(),
        ),
      ).toEqual(expectedLikes);
      expect(
        pick(
          delivered('follow', (n) => n.recipient),
          expectedFollowers.keys(),
        ),
      ).toEqual(expectedFollowers);
      expect.soft(webhook.conflicts).toEqual([]);
      expect.soft(await notifications.queue.getFailedCount()).toBe(0);

      step('lake');
      // lake: every record of the run exactly once, per topic.
      const expectedRows = {
        [topicNames.users]: users.length,
        [topicNames.follows]: follows.length,
        [topicNames.koos]: koos.length + EDITED + churnEdits,
        [topicNames.reactions]: produced.length,
      };
      const idColumn: Record<string, string> = {
        [topicNames.users]: 'user_id',
        [topicNames.follows]: 'follower_id',
        [topicNames.koos]: 'content_id',
        [topicNames.reactions]: 'content_id',
      };
      const mirror = new LakeMirror(lake, lakePrefix); // polls download what is new, not the lake
      const lakeRows = async () => {
        const snapshot = await mirror.snapshot();
        try {
          const counts: Record<string, { rows: number; distinct: number }> = {};
          for (const topic of Object.keys(expectedRows)) {
            const [r] = await snapshot
              .rows(
                `select count(*) as n, count(distinct (_kafka_partition, _kafka_offset)) as d from ${snapshot.topic(topic)} where ${idColumn[topic]} like '${p}%'`,
              )
              .catch(() => [{ n: 0, d: 0 }]);
            counts[topic] = { rows: Number(r!.n), distinct: Number(r!.d) };
          }
          return counts;
        } finally {
          await snapshot.close();
        }
      };
      const expectedLake = Object.fromEntries(
        Object.entries(expectedRows).map(([t, n]) => [t, { rows: n, distinct: n }]),
      );
      const lakeCounts = await waitFor(
        'every record in the lake',
        async () => {
          const counts = await lakeRows();
          log.write(`${new Date().toISOString()} lake rows ${JSON.stringify(counts)}\n`); // the post-mortem's
          return JSON.stringify(counts) === JSON.stringify(expectedLake) ? counts : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 3000 },
      )
        .catch(lakeRows)
        .finally(() => mirror.close());
      expect.soft(lakeCounts).toEqual(expectedLake);
      expect.soft(sawUnready).toBe(true);
      step('checked');
    },
  );
});
