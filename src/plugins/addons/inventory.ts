/**
 * What a backup holds, told cheaply: the tables of a SQL database, the number of keys of a Redis
 * instance. A verification restores a dump into a scratch instance and compares the two: a dump
 * that restores without error but lost tables (cut short, or written by a broken tool) is not
 * verified.
 */
export interface Contents {
  /** Tables (`schema.table`) or nothing, sorted. */
  names: string[];
  /** How many of them there are (for Redis: keys). */
  count: number;
}

export interface Inventory {
  /** What a dump file holds, read from the file itself (not from the instance, which moves on). */
  ofDump(path: string): Promise<Contents>;
  /** What an instance holds now. */
  of(name: string): Promise<Contents>;
}

export const sameContents = (a: Contents, b: Contents) => a.count === b.count && JSON.stringify(a.names) === JSON.stringify(b.names);

export const describeContents = (c: Contents) => (c.names.length > 0 ? `${c.count} (${c.names.slice(0, 5).join(', ')}${c.names.length > 5 ? ', …' : ''})` : String(c.count));
