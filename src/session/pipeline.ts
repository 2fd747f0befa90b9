/**
 * Builds the per-session pipeline the engine's relay runs every frame through:
 * masking (result rewriting), observers (recording) and statement hooks (guardrails).
 * Each part is protocol-neutral; the factories are registered by the proxy.
 */
import type { MaskingHook, FrameObserver, SessionInfo, SessionPipeline, StatementHook, SessionSummary } from '../engine/types.js';

export interface PipelineParts {
  masking?: (session: SessionInfo) => MaskingHook | null;
  observers?: ((session: SessionInfo) => Promise<FrameObserver>)[];
  statements?: ((session: SessionInfo) => StatementHook | null)[];
}

export interface OpenPipeline extends SessionPipeline {
  close(summary: SessionSummary): Promise<void>;
}

export async function openPipeline(parts: PipelineParts, session: SessionInfo): Promise<OpenPipeline> {
  const observers: FrameObserver[] = [];
  try {
    for (const make of parts.observers ?? []) observers.push(await make(session));
  } catch (e) {
    await Promise.allSettled(observers.map((o) => o.close({ endedAt: new Date(), reason: 'pipeline failed', bytesFromClient: 0, bytesFromServer: 0, statements: 0 })));
    throw e;
  }
  const statements = (parts.statements ?? []).map((make) => make(session)).filter((h): h is StatementHook => h !== null);
  return {
    masking: parts.masking?.(session) ?? null,
    observers,
    statements,
    async close(summary) {
      await Promise.allSettled(observers.map((o) => o.close(summary)));
    },
  };
}
