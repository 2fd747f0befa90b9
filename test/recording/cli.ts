/** Runs the jitgate CLI from source for recording tests (to completion, or streaming). */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RUN_DEV = path.join(ROOT, 'src/cli/run-dev.ts');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function jitgate(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', RUN_DEV, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface Streaming {
  child: ChildProcess;
  stdout: () => string;
  exited: Promise<number | null>;
}

export function jitgateStreaming(args: string[], env: NodeJS.ProcessEnv): Streaming {
  const child = spawn(process.execPath, ['--import', 'tsx', RUN_DEV, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', () => undefined);
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, stdout: () => stdout, exited };
}
