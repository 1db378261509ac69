// The metric math of DESIGN.md "The measurements": pure functions over typed arrays, shared by server and client.
export * from './metrics/tensor.js';
export * from './metrics/loss.js';
export * from './metrics/attention.js';
export * from './metrics/knockout.js';
export * from './metrics/spans.js';
