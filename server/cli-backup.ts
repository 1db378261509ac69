// `precache-lens backup DIR` and `precache-lens restore FILE`: online backups of the run history and putting one back.
import path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_DATA_DIR } from './main.js';
import { mib } from './disk-space.js';
import { backupStore, restoreStore } from './store/backup.js';

export function addBackupCommands(program: Command): void {
  program
    .command('backup')
    .argument('<dir>', 'directory to write the backup into (created if missing)')
    .description("copy the run history (runs.sqlite) into DIR with SQLite's online backup API; the server may keep running")
    .option('--data <dir>', 'data directory of the server', DEFAULT_DATA_DIR)
    .action(async (dir: string, o: { data: string }) => {
      const r = await backupStore(path.resolve(o.data), path.resolve(dir));
      console.log(`backed up ${r.runs} runs (${mib(r.bytes)}) to ${r.file}`);
      console.log(`to restore it: stop the server, then run: precache-lens restore ${r.file} --data ${path.resolve(o.data)}`);
    });

  program
    .command('restore')
    .argument('<file>', 'a backup written by `precache-lens backup`')
    .description('put a backup in place as the run history; the current runs.sqlite is renamed aside, never overwritten (the server must be stopped)')
    .option('--data <dir>', 'data directory of the server', DEFAULT_DATA_DIR)
    .action((file: string, o: { data: string }) => {
      const r = restoreStore(path.resolve(file), path.resolve(o.data));
      console.log(`restored ${r.runs} runs from ${path.resolve(file)} into ${path.join(path.resolve(o.data), 'runs.sqlite')}`);
      if (r.setAside) console.log(`the previous history was kept as ${r.setAside}`);
    });
}
