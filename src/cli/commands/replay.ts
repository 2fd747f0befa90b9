import fs from 'node:fs';
import { UsageError } from '../../errors.js';
import { resolveRecordingId } from '../../recording/list.js';
import { replayRecording } from '../../recording/replay.js';
import { loadSealVerifier } from '../../recording/seal.js';
import { JsonRenderer, RawRenderer, TextRenderer, type Renderer } from '../../recording/transcript/render.js';
import { configFrom, parseFlags } from '../args.js';

/** Buffered stdout that waits for 'drain' and stops quietly when the reader goes away (EPIPE). */
function stdoutSink() {
  let buf: string[] = [];
  let size = 0;
  let closed = false;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
  });
  const flush = async () => {
    if (closed || buf.length === 0) return;
    const text = buf.join('');
    buf = [];
    size = 0;
    if (!process.stdout.write(text)) await new Promise<void>((r) => process.stdout.once('drain', r));
  };
  return {
    write: (s: string) => {
      if (closed) return;
      buf.push(s);
      size += s.length;
    },
    flush,
    get big() {
      return size > 1 << 16;
    },
    get closed() {
      return closed;
    },
  };
}

/** A one-line progress bar on stderr, for long replays on a terminal. */
function progressBar(total: number): ((read: number) => void) & { done(): void } {
  const on = process.stderr.isTTY && total > 8 * 1024 * 1024;
  let last = -1;
  const f = (read: number) => {
    if (!on) return;
    const pct = Math.min(100, Math.floor((read / total) * 100));
    if (pct === last) return;
    last = pct;
    const w = 30;
    const fill = Math.round((pct / 100) * w);
    process.stderr.write(`\r[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${pct}%`);
  };
  return Object.assign(f, { done: () => on && last >= 0 && process.stderr.write('\r\x1b[K') });
}

/** `jitgate replay ID --config FILE [--json] [--follow] [--raw]`. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { config: { type: 'string' }, json: { type: 'boolean' }, follow: { type: 'boolean', short: 'f' }, raw: { type: 'boolean' } },
    true,
  );
  if (positionals.length !== 1) throw new UsageError('usage: jitgate replay ID --config FILE [--json] [--follow] [--raw]');
  if (values.json && values.raw) throw new UsageError('--json and --raw cannot be combined', '--raw');
  const config = configFrom(values.config);
  const dir = config.recordings.dir;
  const id = await resolveRecordingId(dir, positionals[0]!);
  const out = stdoutSink();
  const renderer: Renderer = values.json ? new JsonRenderer(out.write) : values.raw ? new RawRenderer(out.write) : new TextRenderer(out.write);

  const total = fs
    .readdirSync(dir)
    .filter((n) => n.startsWith(`${id}.`) && n.endsWith('.jgr'))
    .reduce((s, n) => s + fs.statSync(`${dir}/${n}`).size, 0);
  const bar = progressBar(values.follow ? Infinity : total);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    const result = await replayRecording(dir, id, renderer, await loadSealVerifier(config), {
      follow: values.follow,
      signal: stop.signal,
      progress: (n) => {
        bar(n);
        if (out.closed) stop.abort();
      },
      flush: out.flush,
    });
    bar.done();
    if (result.problem) {
      const p = result.problem;
      console.error(`jitgate replay: the recording is damaged: ${p.message} (segment ${p.segment}, byte ${p.offset}); the transcript stops there`);
      return 1;
    }
    if (result.unsealedEnd && !stop.signal.aborted && !values.json) {
      console.error(`jitgate replay: the recording has no seal (session live, crashed or its recording failed)`);
    }
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
  }
}
