import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3For } from '../../shared/aws/s3-client.ts';
import { KooError } from '../../shared/errors/koo-error.ts';
import { bodyKeyPrefix } from './decide.ts';

/**
 * Koo bodies too large for a DynamoDB item (400 KB), in S3: one object per koo version
 * (`<content id>/<lsn>`, see decide.ts), so a second writer of an older version never touches
 * the object the stored item points to. Decides nothing.
 */
export class BodyStore {
  readonly bucket: string;
  private readonly s3: S3Client;

  constructor(s3: S3Client, bucket: string) {
    this.s3 = s3;
    this.bucket = bucket;
  }

  async put(key: string, body: string): Promise<void> {
    await this.send('PutObject', () =>
      this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: 'text/plain; charset=utf-8',
        }),
      ),
    );
  }

  /** The body, or null when the object is gone: the koo was deleted since its item was read. */
  async get(key: string): Promise<string | null> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body!.transformToString('utf-8');
    } catch (err) {
      if (err instanceof NoSuchKey) return null;
      throw sinkError('GetObject', err);
    }
  }

  /** Removes one version's object (its write was fenced out by a newer version). */
  async remove(key: string): Promise<void> {
    await this.removeKeys([key]);
  }

  /** Removes every version's body of a koo (it was deleted: moderated text must not stay). */
  async removeKoo(contentId: string): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.send('ListObjectsV2', () =>
        this.s3.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: bodyKeyPrefix(contentId),
            ContinuationToken: token,
          }),
        ),
      );
      await this.removeKeys((page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
  }

  destroy(): void {
    this.s3.destroy();
  }

  private async removeKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const out = await this.send('DeleteObjects', () =>
      this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
        }),
      ),
    );
    const failed = out.Errors ?? [];
    if (failed.length > 0)
      throw new KooError('SINK_UNAVAILABLE', `S3 kept ${failed.length} body objects: ${failed[0]!.Message}`, {
        retriable: true,
      });
  }

  private async send<T>(action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      throw sinkError(action, err);
    }
  }
}

/** S3 failures are transient for a worker (the SDK retried already): the batch is retried, never skipped. */
function sinkError(action: string, err: unknown): KooError {
  return new KooError('SINK_UNAVAILABLE', `S3 ${action} of a koo body failed: ${(err as Error).message}`, {
    retriable: true,
    cause: err,
  });
}

export function bodyStoreFor(config: {
  AWS_REGION: string;
  S3_ENDPOINT?: string | undefined;
  BODY_BUCKET: string;
}): BodyStore {
  return new BodyStore(s3For(config), config.BODY_BUCKET);
}
