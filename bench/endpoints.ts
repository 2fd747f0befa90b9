/** The paths a scenario can run against: where to connect, as whom, and which process to watch. */
export type PathId = 'direct' | 'pgbouncer' | 'jitgate' | 'jitgate-bare' | 'jitgate-norec';

export const PATH_LABELS: Record<PathId, string> = {
  direct: 'direct',
  pgbouncer: 'PgBouncer',
  jitgate: 'jitgate (masking + recording)',
  'jitgate-bare': 'jitgate (bare)',
  'jitgate-norec': 'jitgate (masking, recording off)',
};

export interface Endpoint {
  id: PathId;
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  /** The proxy process whose CPU and RSS are measured (none for direct). */
  pid?: number;
  /** The database server process, whose CPU is noted (MySQL paths: mariadbd is one process). */
  serverPid?: number;
}

/** One measurement of one case in one run. */
export interface Sample {
  /** The headline figure (see the scenario's unit). */
  value: number;
  /** Work units done (transactions, rows), for CPU per unit. */
  units?: number;
  /** Proxy CPU during the measurement, ms. */
  cpuMs?: number;
  /** Database server CPU during the measurement, ms. */
  serverCpuMs?: number;
  /** Load generator CPU during the measurement, ms (the MySQL load generator reports its own). */
  clientCpuMs?: number;
  /** Proxy peak RSS during the measurement, KB. */
  peakKB?: number;
  /** Free-form observation (e.g. masking was not applied). */
  note?: string;
}
