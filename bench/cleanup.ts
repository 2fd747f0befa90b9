/**
 * Everything the bench starts is registered here and undone on exit, error or Ctrl-C:
 * child processes (by pid), servers, tmp folders.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

type Undo = () => Promise<void> | void;

const undos: { name: string; undo: Undo }[] = [];
const children = new Set<ChildProcess>();
let running: Promise<void> | null = null;
let aborted = false;

/** True once Ctrl-C / SIGTERM arrived: the bench stops measuring and reports nothing more. */
export const isAborted = () => aborted;

export function onCleanup(name: string, undo: Undo): void {
  // Registered after cleanup began (a start-up step finishing after Ctrl-C): undo at once.
  if (running) void Promise.resolve().then(undo).catch(() => undefined);
  else undos.push({ name, undo });
}

/** Runs the registered undos in reverse order (once), then kills any child still alive. */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (undos.length) {
      const { name, undo } = undos.pop()!;
      try {
        await undo();
      } catch (e) {
        console.error(`bench: cleanup of ${name} failed: ${(e as Error)?.message ?? e}`);
      }
    }
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  })();
  return running;
}

/** spawn(), tracked so that cleanup kills the child if it is still running. */
export function spawnTracked(cmd: string, args: string[], opts: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, opts);
  if (running) child.kill('SIGKILL');
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', () => children.delete(child));
  return child;
}

/** Waits for `child` to exit; after `graceMs` sends SIGKILL. */
export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill(signal);
  });
}

/** Ctrl-C / SIGTERM: clean up and exit 130 / 143. A second signal exits at once. */
export function installSignalHandlers(): void {
  let caught = false;
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(sig, () => {
      if (caught) process.exit(code);
      caught = true;
      aborted = true;
      console.error(`\nbench: ${sig}: stopping and removing everything it started…`);
      cleanupAll().finally(() => process.exit(code));
    });
  }
}
