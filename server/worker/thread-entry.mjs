// Worker-thread bootstrap: registers tsx's TypeScript loader in this thread, then starts the worker thread.
import { register } from 'tsx/esm/api';

register();
await import('./thread.ts');
