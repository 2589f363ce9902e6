/**
 * The trajforge sidecar arrays of a LeRobot dataset (per-frame body and camera tracks, the final
 * observation and frames; see format.ts) in few files, as LeRobot v3 keeps its own metadata:
 * `meta/trajforge_episodes/chunk-CCC/file-FFF.npz`, one npz holding many episodes, each array
 * under `episode_NNNNNN/<name>` (`np.load(file)['episode_000003/final_obs']`), a new file past the
 * data-file size threshold. `meta/trajforge_episodes.jsonl` names each episode's file
 * (`extras_file`); datasets written before this layout have one `episode_NNNNNN.npz` per episode,
 * which the reader still reads.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { asIoError, TrajforgeError } from '../../core/errors.js';
import { entryArray, zipCentral, zipEntries, zipEnd, zipLocal, type NpyArray, type ZipEntry } from '../../dataset/npz.js';
import type { Layout } from '../../dataset/meta.js';
import { writeFully } from '../../output/atomic.js';
import { episodeExtrasPath, episodeKey, fileAddress } from './format.js';

/** Zip without zip64 holds 65,535 members and ends below 4 GiB: the limits on one file. */
const MAX_ENTRIES = 0xffff;
const MAX_ZIP_BYTES = 0xffffffff - 2 ** 26;

export function extrasFilePath(dir: string, file: number, chunksSize: number): string {
  const [chunk, n] = fileAddress(file, chunksSize);
  return join(dir, 'meta', 'trajforge_episodes', `chunk-${String(chunk).padStart(3, '0')}`, `file-${String(n).padStart(3, '0')}.npz`);
}

/** A staged checkpoint part's copy of one episode's sidecar arrays (writer.ts), assembled from there. */
export function partExtrasPath(partDir: string, episode: number): string {
  return join(partDir, 'extras', `${episodeKey(episode)}.npz`);
}

const prefix = (episode: number) => `${episodeKey(episode)}/`;

/**
 * Episodes' sidecar arrays appended in order into rolling npz files. Members stream into the
 * file being filled (a `.tmp` until its central directory is written and it is renamed), so
 * memory holds only the directory records, not the file.
 */
export class ExtrasFiles {
  private fd: number | null = null;
  private central: Uint8Array[] = [];
  private centralBytes = 0;
  private count = 0;
  private bytes = 0;
  private next = 0;

  constructor(
    private readonly dir: string,
    private readonly layout: Pick<Layout, 'chunksSize' | 'dataFileMb'>,
  ) {}

  /** Adds one episode's arrays (an npz archive's members, still compressed); returns the file they go to. */
  add(episode: number, members: readonly ZipEntry[]): number {
    if (members.length > MAX_ENTRIES) throw new TrajforgeError('E_INTERNAL', `episode ${episode} has ${members.length} sidecar arrays; one npz holds at most ${MAX_ENTRIES}`);
    const size = members.reduce((n, e) => n + e.data.length + e.name.length + 80, 0);
    // A zip without zip64 ends below 4 GiB, central directory included, whatever --data-file-mb says.
    const limit = Math.min(this.layout.dataFileMb * 1024 * 1024, MAX_ZIP_BYTES);
    if (this.count > 0 && (this.bytes + this.centralBytes + size > limit || this.count + members.length > MAX_ENTRIES)) this.finishFile();
    const tmp = this.tmpPath();
    try {
      if (this.fd === null) {
        mkdirSync(dirname(tmp), { recursive: true });
        this.fd = openSync(tmp, 'w');
      }
      for (const m of members) {
        const entry = { ...m, name: `${prefix(episode)}${m.name}` };
        const record = zipCentral(entry, this.bytes);
        this.central.push(record);
        this.centralBytes += record.length;
        const local = zipLocal(entry);
        writeFully(this.fd, local);
        writeFully(this.fd, entry.data);
        this.bytes += local.length + entry.data.length;
        this.count++;
      }
    } catch (e) {
      this.abort();
      throw asIoError(e, tmp);
    }
    return this.next;
  }

  /** Writes the file being filled. */
  finish(): void {
    if (this.fd !== null) this.finishFile();
  }

  /** Stops without finishing: the file being filled stays a .tmp (a rerun writes it again). */
  abort(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private tmpPath(): string {
    return `${extrasFilePath(this.dir, this.next, this.layout.chunksSize)}.tmp`;
  }

  private finishFile(): void {
    const tmp = this.tmpPath();
    try {
      const centralBytes = this.central.reduce((n, c) => n + c.length, 0);
      for (const c of this.central) writeFully(this.fd!, c);
      writeFully(this.fd!, zipEnd(this.count, centralBytes, this.bytes));
      closeSync(this.fd!);
      this.fd = null;
      renameSync(tmp, extrasFilePath(this.dir, this.next, this.layout.chunksSize));
    } catch (e) {
      this.abort();
      throw asIoError(e, tmp);
    }
    this.central = [];
    this.centralBytes = 0;
    this.count = 0;
    this.bytes = 0;
    this.next++;
  }
}

export interface EpisodeExtras {
  has(key: string): boolean;
  get(key: string): NpyArray;
  /** The arrays as stored (compressed), named without the episode prefix: what a copy into another dataset takes. */
  members(): ZipEntry[];
  /** Decodes every array against its CRC-32: a damaged one is E_DATASET_INVALID naming it. */
  verify(): void;
  /** The rgb frame of `camera` after the last step, checked to hold `frameBytes` bytes. */
  finalRgb(camera: string, frameBytes: number): Uint8Array;
  /** The file they are read from (for messages). */
  file: string;
}

/**
 * Reads episodes' sidecar arrays, by the `extras_file` of their meta/trajforge_episodes.jsonl line
 * (or the per-episode file of the older layout). The file last read stays loaded, so reading the
 * episodes in order reads each file once.
 */
export class ExtrasReader {
  private loaded: { file: string; members: Map<string, ZipEntry[]> } | null = null;
  private unreadable: { file: string; error: unknown } | null = null;

  constructor(
    private readonly dir: string,
    private readonly chunksSize: number,
  ) {}

  /** Episode `episode`'s arrays; `line` is its meta/trajforge_episodes.jsonl line. */
  episode(episode: number, line: { extras_file?: unknown } | undefined): EpisodeExtras {
    const chunked = line?.extras_file !== undefined;
    if (chunked && !(Number.isInteger(line.extras_file) && (line.extras_file as number) >= 0)) {
      throw new TrajforgeError('E_DATASET_INVALID', `${join(this.dir, 'meta', 'trajforge_episodes.jsonl')}: episode ${episode}: extras_file: expected a file number, found ${JSON.stringify(line.extras_file)}; regenerate the dataset or restore the file`);
    }
    const file = chunked ? extrasFilePath(this.dir, line.extras_file as number, this.chunksSize) : episodeExtrasPath(this.dir, episode);
    const members = chunked ? this.load(file).get(prefix(episode)) : [...this.readArchive(file)];
    if (!members || members.length === 0) throw new TrajforgeError('E_DATASET_INVALID', `${file}: no arrays of episode ${episode} (${prefix(episode)}...); the file is damaged or not this dataset's: regenerate the dataset or restore it`, { file });
    const byKey = new Map(members.map((m) => [m.name.replace(/\.npy$/, ''), m]));
    const get = (key: string): NpyArray => {
      const m = byKey.get(key);
      if (!m) throw new TrajforgeError('E_DATASET_INVALID', `${file}: no array '${key}' for episode ${episode}`, { file });
      try {
        return entryArray(m);
      } catch (e) {
        throw new TrajforgeError('E_DATASET_INVALID', `${file}: episode ${episode}'s array '${key}' is damaged (${(e as Error).message}); regenerate the dataset or restore the file`, { file });
      }
    };
    return {
      file,
      has: (key) => byKey.has(key),
      get,
      members: () => members,
      verify: () => {
        for (const key of byKey.keys()) get(key);
      },
      finalRgb: (camera, frameBytes) => {
        const f = get(`final/${camera}.rgb`).data;
        if (f.byteLength !== frameBytes) throw new TrajforgeError('E_DATASET_INVALID', `${file}: episode ${episode}'s final ${camera} rgb frame has ${f.byteLength} bytes, the camera needs ${frameBytes}`, { file });
        return new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
      },
    };
  }

  private load(file: string): Map<string, ZipEntry[]> {
    if (this.loaded?.file === file) return this.loaded.members;
    // A file that failed is not read again for each of its episodes (it may be 100 MB).
    if (this.unreadable?.file === file) throw this.unreadable.error;
    let entries: ZipEntry[];
    try {
      entries = this.readArchive(file);
    } catch (e) {
      this.unreadable = { file, error: e };
      throw e;
    }
    const members = new Map<string, ZipEntry[]>();
    for (const e of entries) {
      const slash = e.name.indexOf('/');
      const key = e.name.slice(0, slash + 1);
      const list = members.get(key) ?? [];
      if (list.length === 0) members.set(key, list);
      list.push({ ...e, name: e.name.slice(slash + 1) });
    }
    this.loaded = { file, members };
    return members;
  }

  private readArchive(file: string): ZipEntry[] {
    if (!existsSync(file)) throw new TrajforgeError('E_DATASET_INVALID', `${file} is missing (meta/trajforge_episodes.jsonl places episodes' arrays in it); restore it or regenerate the dataset`, { file });
    try {
      return zipEntries(new Uint8Array(readFileSync(file)));
    } catch (e) {
      throw new TrajforgeError('E_DATASET_INVALID', `${file}: not a readable npz archive (${(e as Error).message}); it is damaged or truncated: regenerate the dataset or restore the file`, { file });
    }
  }
}
