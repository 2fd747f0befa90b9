export * from './codes.js';
export * from './framer.js';
export * from './reader.js';
export * from './frontend-messages.js';
export * from './backend-messages.js';
export * as encode from './encode.js';
