/** What `jitgate check` found for one target. */
export interface CheckItem {
  ok: boolean;
  /** What was checked, phrased as the requirement: "admin has CREATEROLE". */
  label: string;
  /** Extra facts or a warning (ok but not recommended). */
  note?: string;
  warn?: boolean;
  /** SQL a DBA runs to fix a failed item. */
  fix?: string;
}

export interface CheckReport {
  target: string;
  protocol: 'postgres' | 'mysql';
  ready: boolean;
  items: CheckItem[];
}
