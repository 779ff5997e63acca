/**
 * Every Postgres advisory lock the system takes, in one place so that no two uses share an id by accident.
 * Session or transaction locks; the services that take them are named beside each.
 */
export const ADVISORY_LOCKS = {
  /** migrate(): one process applies migrations at a time. */
  migrate: 7_115_001,
  /** control plane: the operator account and bootstrap admin key are made once. */
  bootstrap: 7_115_002,
  /** publisher: one instance runs a retention round at a time. */
  retention: 7_115_003,
  /** publisher: one instance folds the pending rollup rows at a time (retention holds it while it deletes). */
  rollupFold: 7_115_004,
} as const;
