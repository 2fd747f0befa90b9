export * from './codes.js';
export * from './framer.js';
export * from './reader.js';
export * from './writer.js';
export * from './packets.js';
export * from './auth.js';
export * from './values.js';
