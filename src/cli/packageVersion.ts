import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectModelsDir } from '../model/loadModelCard.js';

/** The version in imgpipe's package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(path.dirname(projectModelsDir()), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
