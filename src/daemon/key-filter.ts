import type { ConfValues } from '../config/schema.js';
import { KeyFilter } from '../convert/filter.js';

/** The conf's filter-keys, filter-exclude-keys and filter-types as one filter, or null for none. */
export function keyFilterOf(v: ConfValues): KeyFilter | null {
  return KeyFilter.from({ include: v['filter-keys'], exclude: v['filter-exclude-keys'], types: v['filter-types'] });
}
