import { LeRobotSink } from './lerobot.js';
import type { EpisodeSink } from './sink.js';

/** Dataset formats by name: the CLI's --format choices and its unknown-format error come from here. */
export const FORMATS = {
  lerobot: (): EpisodeSink => new LeRobotSink(),
} satisfies Record<string, () => EpisodeSink>;

export type FormatName = keyof typeof FORMATS;
