/** Runs pgbench against an endpoint and reads TPS, transactions and latency from its report. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnTracked, stopChild } from '../cleanup.js';
import type { Endpoint, Sample } from '../endpoints.js';
import { cpuMs } from '../proc.js';

export interface PgbenchResult {
  tps: number;
  txns: number;
  latencyMs: number;
}

export async function pgbench(ep: Endpoint, args: string[], durationMs: number): Promise<PgbenchResult> {
  const full = ['-n', '-T', String(durationMs / 1000), '-h', ep.host, '-p', String(ep.port), '-U', ep.user, ...args, ep.database];
  const child = spawnTracked('pgbench', full, {
    env: { ...process.env, PGPASSWORD: ep.password, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '15' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err = (err + d).slice(-8000)));
  const timer = setTimeout(() => void stopChild(child, 'SIGINT', 5000), durationMs + 60_000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  const tps = /^tps = ([\d.]+)/m.exec(out);
  const txns = /^number of transactions actually processed: (\d+)/m.exec(out);
  const lat = /^latency average = ([\d.]+) ms/m.exec(out);
  if (code !== 0 || !tps || !txns) {
    const why = (err.split('\n').find((l) => /error|fatal|failed/i.test(l)) ?? err.split('\n').filter(Boolean).pop() ?? `exit ${code}`).trim();
    throw new Error(`pgbench failed: ${why.slice(0, 200)}`);
  }
  return { tps: Number(tps[1]), txns: Number(txns[1]), latencyMs: lat ? Number(lat[1]) : NaN };
}

/** pgbench with the proxy's CPU time measured around it; the value is TPS. */
export async function pgbenchTps(ep: Endpoint, args: string[], durationMs: number): Promise<Sample> {
  const cpu0 = ep.pid ? cpuMs(ep.pid) : 0;
  const r = await pgbench(ep, args, durationMs);
  const cpu = ep.pid ? cpuMs(ep.pid) - cpu0 : undefined;
  return { value: r.tps, units: r.txns, cpuMs: cpu };
}

/** A pgbench custom script in a tmp file, removed after `fn`. */
export async function withScript<T>(sql: string, fn: (file: string) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-bench-script-'));
  const file = path.join(dir, 'script.sql');
  fs.writeFileSync(file, sql + '\n');
  try {
    return await fn(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
