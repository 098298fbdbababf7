import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** `../shared/` beside the checkout (as CI lays it out), else the workplace's copy. */
export const SHARED = existsSync(join(root, '..', 'shared', 'fixtures')) ? join(root, '..', 'shared') : '/work/shared';
/** The real Pika fixtures (see their README): never edited. */
export const FIXTURES = join(SHARED, 'fixtures');
