/** Shared set-up for auth tests: a tmp dir with a key pair and a config using it. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initKeys, type KeyFiles } from '../../src/auth/keys.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

export interface Fixture {
  dir: string;
  keys: KeyFiles;
  configPath: string;
  config: Config;
  cleanup(): Promise<void>;
}

export async function makeFixture(authExtra = ''): Promise<Fixture> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jitgate-auth-'));
  const keys = await initKeys(path.join(dir, 'keys'));
  const configPath = path.join(dir, 'jitgate.yaml');
  await fs.writeFile(configPath, configYaml(`  signingKeys: ./keys/private.jwks.json\n${authExtra}`));
  return {
    dir,
    keys,
    configPath,
    config: loadConfig(configPath),
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

export function configYaml(authBody: string): string {
  return `listen:
  postgres: 127.0.0.1:0
auth:
  issuer: jitgate-test
  maxTtl: 15m
${authBody}
targets:
  app:
    protocol: postgres
    database: appdb
    admin: { user: jitgate_admin, password: secret }
    roles:
      reader: [app_read]
      writer: [app_write]
  other:
    protocol: postgres
    database: otherdb
    admin: { user: jitgate_admin }
    roles:
      auditor: [other_audit]
`;
}
