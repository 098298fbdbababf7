import type { ConfValues } from '../config/schema.js';
import { KeyFilter } from '../convert/filter.js';
import { KeyRenamer } from '../convert/rename.js';

/** The conf's filter-keys, filter-exclude-keys and filter-types as one filter, or null for none. */
export function keyFilterOf(v: ConfValues): KeyFilter | null {
  return KeyFilter.from({ include: v['filter-keys'], exclude: v['filter-exclude-keys'], types: v['filter-types'] });
}

/** The conf's key-rename-prefix, or null for none. */
export function keyRenamerOf(v: ConfValues): KeyRenamer | null {
  return KeyRenamer.from(v['key-rename-prefix']);
}
