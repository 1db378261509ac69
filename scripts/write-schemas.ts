// Writes the JSON Schema files of the report formats (schemas/*.schema.json) from their zod definitions.
// `npm run schemas`; a test checks the committed files equal what this generates.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reportJsonSchemas } from '../server/report/schema.js';
import { experimentJsonSchemas } from '../server/experiments/report-schema.js';
import { searchJsonSchemas } from '../server/search/search-report.js';

export const SCHEMAS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../schemas');

export function schemaFileText(schema: unknown): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  fs.mkdirSync(SCHEMAS_DIR, { recursive: true });
  for (const [file, schema] of Object.entries({ ...reportJsonSchemas(), ...experimentJsonSchemas(), ...searchJsonSchemas() })) {
    fs.writeFileSync(path.join(SCHEMAS_DIR, file), schemaFileText(schema));
    console.log(`wrote schemas/${file}`);
  }
}
