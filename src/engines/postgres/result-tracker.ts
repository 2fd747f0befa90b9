/**
 * Knows which result description each DataRow belongs to, so masking applies to every
 * result path: simple Query (RowDescription precedes its rows) and the extended protocol,
 * where the rows of an Execute follow a Describe that may have happened long before
 * (§55.2.3 "Extended Query"). Client messages queue what the server will answer, in
 * order; server messages consume the queue. Statement and portal states are captured by
 * reference when the client sends a message, because a later Parse or Bind of the same
 * (often unnamed) name may overtake the server's answers in a pipeline.
 */
import type { FieldDescription } from '../../../protocols/postgres/index.js';

interface StatementState {
  /** From Describe(statement): undefined until described, null for NoData. */
  fields?: FieldDescription[] | null;
}

interface PortalState {
  stmt: StatementState | undefined;
  resultFormats: number[];
  /** From Describe(portal): formats already final. */
  fields?: FieldDescription[] | null;
}

type Expect =
  | { k: 'simple' }
  | { k: 'complete' } // ParseComplete, BindComplete, CloseComplete
  | { k: 'describeStatement'; st: StatementState }
  | { k: 'describePortal'; p: PortalState | undefined }
  | { k: 'execute'; p: PortalState | undefined }
  | { k: 'sync' };

export class ResultTracker {
  private queue: Expect[] = [];
  private head = 0;
  private statements = new Map<string, StatementState>();
  private portals = new Map<string, PortalState>();

  // ---- client → server ----
  query(): void {
    this.queue.push({ k: 'simple' });
  }
  parse(stmt: string): void {
    this.statements.set(stmt, {});
    this.queue.push({ k: 'complete' });
  }
  bind(portal: string, stmt: string, resultFormats: number[]): void {
    this.portals.set(portal, { stmt: this.statements.get(stmt), resultFormats });
    this.queue.push({ k: 'complete' });
  }
  describeStatement(stmt: string): void {
    let st = this.statements.get(stmt);
    if (!st) this.statements.set(stmt, (st = {}));
    this.queue.push({ k: 'describeStatement', st });
  }
  describePortal(portal: string): void {
    this.queue.push({ k: 'describePortal', p: this.portals.get(portal) });
  }
  execute(portal: string): void {
    this.queue.push({ k: 'execute', p: this.portals.get(portal) });
  }
  close(target: 'statement' | 'portal', name: string): void {
    if (target === 'statement') this.statements.delete(name);
    else this.portals.delete(name);
    this.queue.push({ k: 'complete' });
  }
  sync(): void {
    this.queue.push({ k: 'sync' });
  }

  // ---- server → client ----
  private peek(): Expect | undefined {
    return this.queue[this.head];
  }
  private shift(): void {
    this.head++;
    if (this.head >= 64 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * A RowDescription arrived. Returns the fields when they begin rows that follow right
   * away (simple query, FETCH, a function's result), or null when it answered a Describe.
   */
  rowDescription(fields: FieldDescription[]): FieldDescription[] | null {
    const e = this.peek();
    if (e?.k === 'describeStatement') {
      e.st.fields = fields;
      this.shift();
      return null;
    }
    if (e?.k === 'describePortal') {
      if (e.p) e.p.fields = fields;
      this.shift();
      return null;
    }
    return fields;
  }

  noData(): void {
    const e = this.peek();
    if (e?.k === 'describeStatement') {
      e.st.fields = null;
      this.shift();
    } else if (e?.k === 'describePortal') {
      if (e.p) e.p.fields = null;
      this.shift();
    }
  }

  /** ParseComplete, BindComplete, CloseComplete. */
  complete(): void {
    if (this.peek()?.k === 'complete') this.shift();
  }

  get inExecute(): boolean {
    return this.peek()?.k === 'execute';
  }

  /**
   * The description of the rows the current Execute returns, with Bind's result formats
   * applied; undefined when the client never described them.
   */
  executeFields(): FieldDescription[] | null | undefined {
    const e = this.peek();
    if (e?.k !== 'execute' || !e.p) return undefined;
    const p = e.p;
    if (p.fields !== undefined) return p.fields;
    const fields = p.stmt?.fields;
    if (!fields) return fields;
    const f = p.resultFormats;
    return fields.map((d, i) => ({ ...d, format: f.length === 0 ? 0 : f.length === 1 ? f[0]! : (f[i] ?? 0) }));
  }

  /** CommandComplete, EmptyQueryResponse, PortalSuspended end an Execute (a simple query goes on). */
  executeDone(): void {
    if (this.peek()?.k === 'execute') this.shift();
  }

  /** ErrorResponse: in the extended protocol the server skips to the next Sync. */
  error(): void {
    const e = this.peek();
    if (!e || e.k === 'simple' || e.k === 'sync') return;
    while (this.head < this.queue.length && this.peek()!.k !== 'sync') this.shift();
  }

  readyForQuery(): void {
    while (this.head < this.queue.length) {
      const k = this.peek()!.k;
      this.shift();
      if (k === 'simple' || k === 'sync') return;
    }
  }
}
