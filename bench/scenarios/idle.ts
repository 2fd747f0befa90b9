/** N idle sessions held open at once; value = growth of the proxy's RSS per session, KB. */
import pg from 'pg';
import type { Endpoint, Sample } from '../endpoints.js';
import { rssKB } from '../proc.js';

const CONCURRENCY = 16;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lowest RSS seen over `ms`: garbage awaiting collection inflates single readings. */
async function settledRss(pid: number, ms: number): Promise<number> {
  let low = rssKB(pid);
  for (let t = 0; t < ms; t += 250) {
    await sleep(250);
    low = Math.min(low, rssKB(pid));
  }
  return low;
}

async function openSessions(ep: Endpoint, n: number, clients: pg.Client[], until: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      if (Date.now() > until) throw new Error(`opened ${clients.length} of ${n} sessions before the deadline`);
      next++;
      const c = new pg.Client({ host: ep.host, port: ep.port, user: ep.user, password: ep.password, database: ep.database, ssl: false });
      c.on('error', () => undefined);
      clients.push(c);
      await c.connect();
      await c.query('select 1');
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
}

const closeAll = (clients: pg.Client[]) => Promise.all(clients.map((c) => c.end().catch(() => undefined)));

export async function idleSessions(ep: Endpoint, n: number, deadlineMs: number): Promise<Sample> {
  if (!ep.pid) throw new Error('idle sessions are measured on a proxy process');
  const until = Date.now() + deadlineMs;
  // Warm-up: the first sessions compile code paths and fill pools; they are not per-session cost.
  const warm: pg.Client[] = [];
  try {
    await openSessions(ep, Math.min(32, n), warm, until);
  } finally {
    await closeAll(warm);
  }
  const clients: pg.Client[] = [];
  const before = await settledRss(ep.pid, 3000);
  try {
    await openSessions(ep, n, clients, until);
    const after = await settledRss(ep.pid, 3000);
    const note = `RSS ${Math.round(before / 1024)} → ${Math.round(after / 1024)} MB` + (after < before ? ' (fell: garbage collected)' : '');
    return { value: (after - before) / n, note };
  } finally {
    await closeAll(clients);
  }
}
