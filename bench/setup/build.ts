/**
 * jitgate as users run it: compiled JavaScript, not TypeScript through a loader (tsx keeps
 * its compiler and a loader thread in the process, which would count in the proxy's RSS).
 * Built from the working tree into node_modules/.cache so that packages resolve as in dist/.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
export const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
// One folder per bench process: two benches may run at once.
const BUILD_DIR = path.join(REPO_ROOT, 'node_modules/.cache/jitgate-bench', String(process.pid));
const RUN_DEV = path.join(REPO_ROOT, 'src/cli/run-dev.ts');

export interface JitgateCommand {
  /** argv prefix: node and its arguments up to the CLI's own arguments. */
  argv: string[];
  mode: 'built' | 'source';
  /** Why the bench fell back to running from source. */
  note?: string;
}

export async function prepareJitgate(fromSource: boolean): Promise<JitgateCommand> {
  const source: JitgateCommand = { argv: [process.execPath, '--import', 'tsx', RUN_DEV], mode: 'source' };
  if (fromSource) return { ...source, note: 'jitgate ran from source through tsx (--from-source): its RSS includes the loader' };
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  try {
    await execFileP(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', BUILD_DIR, '--sourceMap', 'false'], {
      cwd: REPO_ROOT,
      timeout: 300_000,
    });
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '').split('\n').find((l) => l.includes('error')) ?? (e as Error).message;
    fs.rmSync(BUILD_DIR, { recursive: true, force: true });
    return { ...source, note: `the working tree does not compile (${out.trim().slice(0, 160)}): jitgate ran from source through tsx, its RSS includes the loader` };
  }
  // Inside node_modules the repo's package.json no longer sets the module type (nor is it found for the version).
  const { name, version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  fs.writeFileSync(path.join(BUILD_DIR, 'package.json'), JSON.stringify({ name, version, private: true, type: 'module' }) + '\n');
  // The same V8 flag the bin's shebang sets (bin/jitgate.js).
  return { argv: [process.execPath, '--max-semi-space-size=4', path.join(BUILD_DIR, 'src/cli/run-dev.js')], mode: 'built' };
}

export function removeBuild(): void {
  fs.rmSync(BUILD_DIR, { recursive: true, force: true });
  try {
    fs.rmdirSync(path.dirname(BUILD_DIR)); // only when no other bench's build is in it
  } catch {
    // not empty or already gone
  }
}
