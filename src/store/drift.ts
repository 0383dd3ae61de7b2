/**
 * What a pass found different from the records. The store keeps the findings and events carry
 * them, so the type lives beside the records rather than in the reconciler that makes them.
 */
export type DriftKind = 'missing' | 'changed' | 'unexpected' | 'unknown';

export interface DriftFinding {
  resource: string;
  kind: DriftKind;
  desired: string;
  observed: string;
  action: 'healed' | 'reported';
}
