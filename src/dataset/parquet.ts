import { closeSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import * as arrow from 'apache-arrow';
import { ByteWriter, ParquetWriter, fileWriter } from 'hyparquet-writer';
import * as pw from 'parquet-wasm';
import type { Worker } from 'node:worker_threads';
import { TrajforgeError, asIoError, type ErrorCode } from '../core/errors.js';
import { ownedBuffers } from '../core/transfer.js';
import { startModuleWorker } from '../parallel/module-worker.js';
import type { ParquetJob } from './parquet-worker.js';
import { removeOwn } from '../output/remove.js';

/**
 * Thin layer over hyparquet-writer: explicit schemas (no type guessing), REQUIRED columns,
 * 1-D features as LIST columns, a fixed `created_by` and no timestamps, so equal data gives
 * byte-equal files.
 */
export type ParquetDtype = 'float32' | 'float64' | 'int64' | 'bool' | 'uint16' | 'string' | 'binary';

export interface ColumnDef {
  name: string;
  dtype: ParquetDtype;
  /** 'scalar', 'list' (one list per row), or 'list2' (a list of lists of numbers per row). */
  form: 'scalar' | 'list' | 'list2';
  nullable?: boolean;
}

type SchemaElement = Record<string, unknown>;

function leaf(name: string, dtype: ParquetDtype, repetition: 'REQUIRED' | 'OPTIONAL'): SchemaElement {
  switch (dtype) {
    case 'float32':
      return { name, type: 'FLOAT', repetition_type: repetition };
    case 'float64':
      return { name, type: 'DOUBLE', repetition_type: repetition };
    case 'int64':
      return { name, type: 'INT64', repetition_type: repetition };
    case 'bool':
      return { name, type: 'BOOLEAN', repetition_type: repetition };
    case 'uint16':
      return { name, type: 'INT32', converted_type: 'UINT_16', repetition_type: repetition };
    case 'string':
      return { name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: repetition };
    case 'binary':
      return { name, type: 'BYTE_ARRAY', repetition_type: repetition };
  }
}

export function parquetSchema(columns: ColumnDef[]): SchemaElement[] {
  const schema: SchemaElement[] = [{ name: 'root', num_children: columns.length }];
  for (const c of columns) {
    const rep = c.nullable ? 'OPTIONAL' : 'REQUIRED';
    if (c.form === 'scalar') schema.push(leaf(c.name, c.dtype, rep));
    else if (c.form === 'list') {
      schema.push({ name: c.name, repetition_type: rep, converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push(leaf('element', c.dtype, 'REQUIRED'));
    } else {
      schema.push({ name: c.name, repetition_type: rep, converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push({ name: 'element', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 });
      schema.push({ name: 'list', repetition_type: 'REPEATED', num_children: 1 });
      schema.push(leaf('element', c.dtype, 'REQUIRED'));
    }
  }
  return schema;
}

export type ColumnValues = unknown[] | ArrayLike<unknown>;

export interface ParquetTable {
  columns: ColumnDef[];
  data: Record<string, ColumnValues>;
}

const CREATED_BY = 'trajforge (hyparquet-writer)';

function columnData(t: ParquetTable) {
  return t.columns.map((c) => ({ name: c.name, data: t.data[c.name] as unknown[] }));
}

/** A parquet file written row group by row group, streaming to disk. */
export class ParquetFileWriter {
  private readonly writer: ParquetWriter;
  rows = 0;
  constructor(
    file: string,
    readonly columns: ColumnDef[],
    kvMetadata: { key: string; value: string }[] = [],
  ) {
    this.writer = new ParquetWriter({ writer: fileWriter(file), schema: parquetSchema(columns) as never, kvMetadata, createdBy: CREATED_BY });
  }
  write(data: Record<string, ColumnValues>, rows: number): void {
    if (rows === 0) return;
    this.writer.write({ columnData: columnData({ columns: this.columns, data }) as never, rowGroupSize: rows });
    this.rows += rows;
  }
  finish(): void {
    this.writer.finish();
  }
}

/** A whole table as parquet bytes (one row group). */
export function parquetBytes(t: ParquetTable, rows: number, kvMetadata: { key: string; value: string }[] = []): Uint8Array {
  const bw = new ByteWriter();
  const w = new ParquetWriter({ writer: bw, schema: parquetSchema(t.columns) as never, kvMetadata, createdBy: CREATED_BY });
  if (rows > 0) w.write({ columnData: columnData(t) as never, rowGroupSize: rows });
  w.finish();
  return new Uint8Array(bw.getBuffer());
}

// ---- Arrow + parquet-wasm: the fast path for large data files --------------------------------

/** A column as flat typed values: `dims` values per row (1 for scalars). */
export interface TypedColumn {
  def: ColumnDef;
  dims: number;
  values: Float32Array | Float64Array | BigInt64Array | Uint16Array | Uint8Array;
}

function arrowType(dtype: ParquetDtype): arrow.DataType {
  switch (dtype) {
    case 'float32':
      return new arrow.Float32();
    case 'float64':
      return new arrow.Float64();
    case 'int64':
      return new arrow.Int64();
    case 'bool':
      return new arrow.Bool();
    case 'uint16':
      return new arrow.Uint16();
    default:
      throw new Error(`no arrow mapping for ${dtype}`);
  }
}

function packBits(v: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(v.length / 8));
  for (let i = 0; i < v.length; i++) if (v[i]) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

export function arrowData(c: TypedColumn, rows: number): arrow.Data {
  const leafType = arrowType(c.def.dtype);
  const leaf = arrow.makeData({
    type: leafType,
    length: rows * c.dims,
    nullCount: 0,
    data: (c.def.dtype === 'bool' ? packBits(c.values as Uint8Array) : c.values) as never,
  } as never);
  if (c.def.form === 'scalar') return leaf;
  // 1-D features as fixed_size_list: the type HF datasets uses for Sequence(length=n).
  return arrow.makeData({ type: new arrow.FixedSizeList(c.dims, new arrow.Field('element', leafType, false)), length: rows, nullCount: 0, child: leaf });
}

/** A parquet file's rows as Arrow record batches, read by the Rust reader (parquet-wasm): columnar, no per-value conversion. */
export function readArrowBatches(file: string, batchSize = 65_536): arrow.RecordBatch[] {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new TrajforgeError('E_DATASET_INVALID', `cannot read ${file}: ${(e as Error).message}`, { file });
  }
  // parquet-wasm throws plain strings or Errors ("Corrupt footer", ...) on a damaged file; the
  // file is what the user must fix, so it is named here.
  try {
    const table = pw.readParquet(bytes, { batchSize });
    return arrow.tableFromIPC(table.intoIPCStream()).batches;
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new TrajforgeError('E_DATASET_INVALID', `${file}: not a readable parquet file (${why}); it is damaged or truncated: regenerate the dataset or restore the file`, { file });
  }
}

/**
 * Writes one parquet file from typed column batches with the Rust parquet writer (parquet-wasm):
 * typed arrays go in without per-value conversion, 1-D features keep their fixed_size_list type.
 * Batches stream through parquet-wasm's transform stream; the writer closes a row group every
 * 2^20 rows (so a data file below that is one row group, held encoded in WASM memory until
 * finish) and its bytes are appended to the file as they come.
 */
export class ArrowParquetFile {
  rows = 0;
  private readonly fd: number;
  private controller!: ReadableStreamDefaultController<pw.RecordBatch>;
  private readonly done: Promise<void>;
  /** A failed write of the stream (a full disk): kept here so it is reported by the next call, never lost as an unhandled rejection. */
  private failure: unknown = null;
  private aborted = false;

  constructor(private readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.fd = openSync(`${file}.tmp`, 'w');
    const input = new ReadableStream<pw.RecordBatch>({ start: (c) => void (this.controller = c) });
    // ZSTD without dictionaries: the depth / segmentation list columns made dictionary encoding
    // most of the main thread's time (measured on the default job's data file: 865 ms with
    // dictionaries + snappy, 288 ms plain + ZSTD) and ZSTD packs them smaller (1.2 vs 1.8 MB).
    const props = new pw.WriterPropertiesBuilder().setDictionaryEnabled(false).setCompression(pw.Compression.ZSTD).setCreatedBy(CREATED_BY).setMaxRowGroupSize(1 << 20).build();
    this.done = pw.transformParquetStream(input, props).then(async (output: ReadableStream<Uint8Array>) => {
      const reader = output.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        // After abort() the descriptor is closed (its number may already name another file).
        if (done || this.aborted) break;
        if (writeSync(this.fd, value) !== value.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      }
    });
    this.done.catch((e: unknown) => {
      this.failure = asIoError(e, `${this.file}.tmp`);
    });
  }

  write(columns: TypedColumn[], rows: number): void {
    this.writeData(
      columns.map((c) => ({ name: c.def.name, data: arrowData(c, rows) })),
      rows,
    );
  }

  /** One batch of Arrow column data (e.g. columns of a batch read by readArrowBatches, with others made by arrowData). */
  writeData(columns: { name: string; data: arrow.Data }[], rows: number): void {
    if (this.failure) throw this.failure;
    if (rows === 0) return;
    const fields = columns.map((c) => new arrow.Field(c.name, c.data.type, false));
    const data = arrow.makeData({ type: new arrow.Struct(fields), length: rows, nullCount: 0, children: columns.map((c) => c.data) });
    const table = new arrow.Table([new arrow.RecordBatch(new arrow.Schema(fields), data)]);
    this.controller.enqueue(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')).recordBatch(0)!);
    this.rows += rows;
  }

  /** Stops without finishing: the stream is failed, the file closed and left as its .tmp. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    try {
      this.controller.error(new Error('aborted'));
    } catch {
      // the stream already ended
    }
    closeSync(this.fd);
  }

  /** Flushes the stream, closes the file and renames it into place. */
  async finish(): Promise<void> {
    try {
      this.controller.close();
      await this.done;
    } catch (e) {
      removeOwn(`${this.file}.tmp`);
      throw asIoError(e, `${this.file}.tmp`);
    } finally {
      closeSync(this.fd);
    }
    renameSync(`${this.file}.tmp`, this.file);
  }
}

/**
 * Data files that roll over by size: batches go to file 0 until adding the next would pass
 * `limitBytes` (uncompressed), then to file 1, and so on. `path(n)` names file n; `file` is the
 * number of the file the last batch went to. The files are encoded on a thread of their own
 * (ParquetThread), so the caller goes on while parquet-wasm compresses.
 */
export class RolloverParquetFiles {
  private thread: ParquetThread | null = null;
  private open = false;
  private bytes = 0;
  private next = 0;

  constructor(
    private readonly path: (file: number) => string,
    private readonly limitBytes: number,
  ) {}

  /** The number of the file the last batch went to. */
  get file(): number {
    return this.open ? this.next : this.next - 1;
  }

  /**
   * Writes one batch (one row group); `bytes` is its size as counted against the limit. The
   * columns' own buffers move to the writer's thread: the caller must not read them afterwards.
   * Resolves once the batch is queued; a failure of an earlier batch is thrown here.
   */
  async write(columns: TypedColumn[], rows: number, bytes: number): Promise<void> {
    if (this.open && this.bytes + bytes > this.limitBytes) {
      this.next++;
      this.bytes = 0;
    }
    this.open = true;
    this.thread ??= new ParquetThread();
    await this.thread.write(this.path(this.next), columns, rows);
    this.bytes += bytes;
  }

  /** Finishes the last file and waits for every file to be in place (an abort meanwhile stops it). */
  async finish(): Promise<void> {
    if (this.open) {
      this.open = false;
      this.next++;
    }
    try {
      await this.thread?.finish();
    } finally {
      this.thread = null;
    }
  }

  /** Stops without finishing: the file being written stays a .tmp. */
  abort(): void {
    this.thread?.abort();
    this.thread = null;
    this.open = false;
  }
}

/**
 * The client of one parquet-worker thread. Batches are posted without waiting for their
 * encoding; at most MAX_QUEUED wait there at a time (each part's image columns are tens of
 * megabytes). The thread keeps the process alive only while it has work.
 */
class ParquetThread {
  private static readonly MAX_QUEUED = 2;
  private readonly worker: Promise<Worker>;
  private readonly replies = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private queued: Promise<void>[] = [];
  private nextId = 0;
  private failure: unknown = null;
  constructor() {
    this.worker = startModuleWorker(import.meta.url, 'parquet-worker', null, 'parquet writer thread').then((w) => {
      w.on('message', (msg: { id: number; ok: boolean; error?: { code?: ErrorCode; message: string; details?: TrajforgeError['details'] } }) => {
        const reply = this.replies.get(msg.id);
        if (!reply) return;
        this.replies.delete(msg.id);
        if (this.replies.size === 0) w.unref();
        if (msg.ok) reply.resolve();
        else reply.reject(msg.error!.code ? new TrajforgeError(msg.error!.code, msg.error!.message, msg.error!.details) : new Error(msg.error!.message));
      });
      // A thread gone fails what waits on it and every later call (a request to it would never settle).
      const died = (why: string) => {
        const e = new TrajforgeError('E_WORKER_FAILED', `the parquet writer thread ${why}`);
        this.failure ??= e;
        for (const r of this.replies.values()) r.reject(e);
        this.replies.clear();
      };
      w.on('error', (e) => died(`failed: ${e.message}`));
      w.on('exit', (code) => died(`exited (code ${code})`));
      w.unref();
      return w;
    });
  }

  async write(path: string, columns: TypedColumn[], rows: number): Promise<void> {
    if (this.failure) throw this.failure;
    const done = this.request({ op: 'write', path, columns, rows }, ownedBuffers(columns));
    // A failure is kept for the next call rather than left as an unhandled rejection.
    done.catch((e: unknown) => void (this.failure ??= e));
    this.queued.push(done);
    if (this.queued.length > ParquetThread.MAX_QUEUED) await this.queued.shift()!.catch(() => undefined);
    if (this.failure) throw this.failure;
  }

  async finish(): Promise<void> {
    try {
      await Promise.allSettled(this.queued);
      if (this.failure) throw this.failure;
      await this.request({ op: 'finish' });
    } finally {
      void (await this.worker.catch(() => null))?.terminate();
    }
  }

  /**
   * Stops now: the thread is terminated mid-batch (a run started next may write the same file, so
   * nothing of this one may reach it later); Node closes the file it had open (a worker's
   * descriptors are tracked and closed when it ends), which stays a .tmp.
   */
  abort(): void {
    this.failure ??= new TrajforgeError('E_WORKER_FAILED', 'the parquet writer was stopped');
    void this.worker.then((w) => w.terminate()).catch(() => undefined);
  }

  private async request(job: DistributiveOmit<ParquetJob, 'id'>, transfer: ArrayBuffer[] = []): Promise<void> {
    const w = await this.worker;
    if (this.failure) throw this.failure;
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      w.ref();
      w.postMessage({ ...job, id }, transfer);
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
