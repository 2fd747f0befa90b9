export { createMasking, compileRules, matchRule, maskKeyDetail } from './masking.js';
export type { MaskingDeps, MaskingFactory, MaskHitEvent, SessionMasking, CompiledRule } from './masking.js';
export { applyAction, maskEmail, partial, redact, hashValue, formatPreserving, type MaskAction } from './actions.js';
export { scan, maskSpans, allDetectors, type DetectorName, type Span } from './detectors.js';
export { PgCatalogResolver, type CatalogResolver, type SourceColumn, type TypeInfo } from './catalog.js';
export { pgCatalogResolver } from './pg-catalog.js';
export { maskingKey } from './keys.js';
export { compileGlob } from './glob.js';
