/** Shared set-up for recording tests: a tmp dir with keys, a fake session, a recorder. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initKeys } from '../../src/auth/keys.js';
import type { Config } from '../../src/config/schema.js';
import type { SessionInfo, SessionSummary } from '../../src/engine/types.js';
import { Recorder, type RecorderOptions } from '../../src/recording/recorder.js';
import { loadSealVerifier, loadSigner, type SealVerifier, type Signer } from '../../src/recording/seal.js';

export interface RecFixture {
  dir: string;
  recordings: string;
  config: Config;
  signer: Signer;
  verifier: SealVerifier;
  cleanup(): void;
}

export async function recFixture(): Promise<RecFixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitgate-rec-'));
  await initKeys(path.join(dir, 'keys'));
  const config = {
    auth: { signingKeys: path.join(dir, 'keys/private.jwks.json'), trust: [path.join(dir, 'keys/public.jwks.json')] },
    recordings: { dir: path.join(dir, 'recordings') },
  } as unknown as Config;
  return {
    dir,
    recordings: path.join(dir, 'recordings'),
    config,
    signer: (await loadSigner(config))!,
    verifier: await loadSealVerifier(config),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

let n = 0;
export function fakeSession(id?: string): SessionInfo {
  return {
    id: id ?? `0000test${(n++).toString(36).padStart(4, '0')}${Math.random().toString(16).slice(2, 8)}`,
    protocol: 'postgres',
    grant: { sub: 'alice', target: 'app', role: 'reader', iat: 0, exp: 0, issuer: 'test' },
    targetName: 'app',
    target: {} as SessionInfo['target'],
    upstreamUser: 'jit_alice_x',
    startedAt: new Date(),
    remoteAddress: '127.0.0.1',
  };
}

export function summary(extra: Partial<SessionSummary> = {}): SessionSummary {
  return { endedAt: new Date(), reason: 'client terminated', bytesFromClient: 0, bytesFromServer: 0, statements: 0, ...extra };
}

export async function openRecorder(f: RecFixture, opts: Partial<RecorderOptions> = {}): Promise<Recorder> {
  return Recorder.open({ dir: f.recordings, session: fakeSession(), instance: 'test', signer: f.signer, ...opts });
}

/** Resolves once `cond` holds (polling), or rejects after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
