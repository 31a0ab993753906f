import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3For } from '../../shared/aws/s3-client.ts';

export interface LakeObject {
  key: string;
  size: number;
  /** MD5 of the content for a single-part object: equal ETags mean equal bytes. */
  etag: string;
  /** When it was last written (ms since the epoch). */
  modifiedMs: number;
}

/** What the lake records on an object besides its name: the offset of its last row. */
export interface StoredObject {
  etag: string;
  /** Undefined for an object written before the lake recorded it. */
  lastOffset: bigint | undefined;
}

/**
 * A conditional write (S3 compare-and-swap): replace the object only if it still has this ETag,
 * or create it only if there is none.
 */
export type PutCondition = { ifMatch: string } | { ifNoneMatch: '*' };

export interface LakeStoreOptions {
  region: string;
  endpoint: string | undefined;
  bucket: string;
  /** Objects above this size go up in parts of this size (S3's minimum part is 5 MiB). */
  partBytes: number;
}

const LAST_OFFSET = 'last-offset'; // x-amz-meta-last-offset

/** The lake's S3 adapter: put (multipart when large, conditional), head, list, get, delete. Decides nothing. */
export class LakeStore {
  readonly bucket: string;
  private readonly s3: S3Client;
  private readonly partBytes: number;

  constructor(options: LakeStoreOptions) {
    this.bucket = options.bucket;
    this.partBytes = options.partBytes;
    this.s3 = s3For({ AWS_REGION: options.region, S3_ENDPOINT: options.endpoint });
  }

  /**
   * Writes the whole object or nothing: a single PUT, or a multipart upload that is aborted on
   * failure. Resolves false, writing nothing, when `condition` no longer holds (412), or when
   * another conditional write of the key won a race with this one (409).
   */
  async put(
    key: string,
    body: Uint8Array,
    /** lastOffset: the offset of the object's last row (a data object; Iceberg metadata has none). */
    options: { lastOffset?: bigint; condition?: PutCondition; contentType?: string },
  ): Promise<boolean> {
    const condition = options.condition;
    const upload = new Upload({
      client: this.s3,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType ?? 'application/vnd.apache.parquet',
        ...(options.lastOffset === undefined
          ? {}
          : { Metadata: { [LAST_OFFSET]: options.lastOffset.toString() } }),
        ...(condition && 'ifMatch' in condition ? { IfMatch: condition.ifMatch } : {}),
        ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : {}),
      },
      partSize: this.partBytes,
      queueSize: 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      return true;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (condition && (status === 412 || status === 409)) return false;
      throw err;
    }
  }

  /** The object's ETag and recorded last offset, or undefined when there is no such object. */
  /** The object's ETag, recorded last offset and size in bytes; undefined when there is none. */
  async head(key: string): Promise<(StoredObject & { size: number }) | undefined> {
    try {
      const out = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { etag: out.ETag ?? '', lastOffset: lastOffsetOf(out.Metadata), size: out.ContentLength ?? 0 };
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
        return undefined;
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return out.Body!.transformToByteArray();
  }

  /** Bytes [start, end) of the object, with its recorded last offset (a ranged GET carries the metadata too). */
  async getRange(key: string, start: number, end: number): Promise<{ bytes: Uint8Array } & StoredObject> {
    const out = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end - 1}` }),
    );
    return {
      bytes: await out.Body!.transformToByteArray(),
      etag: out.ETag ?? '',
      lastOffset: lastOffsetOf(out.Metadata),
    };
  }

  async *list(prefix: string): AsyncGenerator<LakeObject[]> {
    let token: string | undefined;
    do {
      const out = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      yield (out.Contents ?? []).map((o) => ({
        key: o.Key!,
        size: o.Size ?? 0,
        etag: o.ETag ?? '',
        modifiedMs: o.LastModified?.getTime() ?? 0,
      }));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  async listAll(prefix: string): Promise<LakeObject[]> {
    const all: LakeObject[] = [];
    for await (const page of this.list(prefix)) all.push(...page);
    return all;
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  destroy(): void {
    this.s3.destroy();
  }
}

function lastOffsetOf(metadata: Record<string, string> | undefined): bigint | undefined {
  const value = metadata?.[LAST_OFFSET];
  return value === undefined ? undefined : BigInt(value);
}
