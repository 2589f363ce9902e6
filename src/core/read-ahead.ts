/**
 * Runs an async source ahead of its consumer into a bounded queue. A source that waits on another
 * process (ffmpeg decoding a video) keeps that process busy while the consumer works (a model
 * inferring on the last batch), instead of both taking turns. Pure: no I/O of its own.
 */
export async function* readAhead<T>(source: AsyncIterable<T>, limit: number, size: (item: T) => number = () => 1): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  const queue: T[] = [];
  let held = 0;
  let finished = false;
  let stopped = false;
  let failure: { error: unknown } | null = null;
  let wakeConsumer: (() => void) | null = null;
  let wakeProducer: (() => void) | null = null;
  const signal = (which: 'consumer' | 'producer') => {
    const wake = which === 'consumer' ? wakeConsumer : wakeProducer;
    if (which === 'consumer') wakeConsumer = null;
    else wakeProducer = null;
    wake?.();
  };
  const producer = (async () => {
    try {
      while (!stopped) {
        // At least one item is always let in, so an item larger than the limit still passes.
        while (held >= limit && queue.length > 0 && !stopped) await new Promise<void>((resolve) => (wakeProducer = resolve));
        if (stopped) break;
        const next = await it.next();
        if (next.done) break;
        queue.push(next.value);
        held += size(next.value);
        signal('consumer');
      }
    } catch (error) {
      failure = { error };
    } finally {
      finished = true;
      signal('consumer');
    }
  })();
  try {
    for (;;) {
      if (queue.length > 0) {
        const item = queue.shift()!;
        held -= size(item);
        signal('producer');
        yield item;
        continue;
      }
      if (failure !== null) throw (failure as { error: unknown }).error;
      if (finished) return;
      await new Promise<void>((resolve) => (wakeConsumer = resolve));
    }
  } finally {
    // The consumer stopped early (or the source failed): stop the producer and close the source.
    stopped = true;
    signal('producer');
    await producer;
    if (failure === null) await it.return?.();
  }
}
