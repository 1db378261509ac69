// Statistics over inputs for experiments (DESIGN "Over many inputs"): bootstrap CIs, sign-flip test, Holm.
export * from './bootstrap.js';
export * from './permutation.js';
export * from './holm.js';
