#!/usr/bin/env node
// CLI launcher: registers tsx's TypeScript loader, then runs server/cli.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli.ts');
await main(process.argv);
