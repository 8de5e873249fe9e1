// The leaderboard of one window as this page knows it. No DOM: tested under Node.
//
// Counts arrive two ways: snapshots (every emoji's count at one moment, with
// `total` over all emoji) and updates (one emoji's absolute count). Every change
// of an emoji raises its `version`, and a snapshot row's version is never older
// than its count, so whichever arrived last, the newer version wins and a late or
// repeated message can never move a count backwards.

export class Board {
  constructor(window) {
    this.window = window;
    this.rows = new Map();      // emoji -> {emoji, count, version, glyph?, image_url?}
    this.snapshotCounts = null; // emoji -> count in the last snapshot applied
    this.snapshotTotal = 0;
    this.complete = false;      // the last snapshot listed every emoji of the window
    this.touched = new Set();   // emoji updated since the pending snapshot was requested
    this.pending = false;
    this.seq = 0;               // numbers snapshot requests, so a stale answer is dropped
    this.updatedAt = null;      // when data last arrived (ms since the epoch)
  }

  get loaded() {
    return this.snapshotCounts !== null;
  }

  // Call before asking for a snapshot: updates that land while it travels are kept.
  // Returns the request's number.
  requestSnapshot() {
    this.pending = true;
    this.touched.clear();
    return ++this.seq;
  }

  applySnapshot(message, limit, now = Date.now()) {
    const previous = this.rows;
    this.rows = new Map();
    this.snapshotCounts = new Map();
    for (const row of message.leaderboard) {
      this.snapshotCounts.set(row.emoji, row.count);
      const mine = previous.get(row.emoji);
      this.rows.set(row.emoji, mine && mine.version > row.version ? mine : { ...row });
    }
    // An emoji missing from the snapshot but updated while it travelled is newer.
    for (const emoji of this.touched) {
      if (!this.rows.has(emoji) && previous.has(emoji)) this.rows.set(emoji, previous.get(emoji));
    }
    this.snapshotTotal = message.total ?? sumOf(message.leaderboard);
    this.complete = message.leaderboard.length < limit;
    this.touched.clear();
    this.pending = false;
    this.updatedAt = now;
  }

  // Returns true when the board changed.
  applyChange(change, now = Date.now()) {
    if (change.window !== this.window) return false;
    const mine = this.rows.get(change.emoji);
    if (mine && mine.version > change.version) return false; // older than what we show
    const { window, ...row } = change;
    this.rows.set(change.emoji, { ...mine, ...row });
    if (this.pending) this.touched.add(change.emoji);
    this.updatedAt = now;
    return !mine || mine.count !== change.count;
  }

  // The window's total over every emoji, or null when this page cannot know it
  // exactly (an emoji it only heard of from an update, beyond a cut snapshot).
  get total() {
    if (!this.loaded) return null;
    let total = this.snapshotTotal;
    for (const [emoji, row] of this.rows) {
      const before = this.snapshotCounts.get(emoji);
      if (before === undefined && !this.complete) return null;
      total += row.count - (before ?? 0);
    }
    return total;
  }

  // The leaders: by count, then name (as the server sorts), zeros left out.
  top(limit) {
    return [...this.rows.values()]
      .filter((row) => row.count > 0)
      .sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0))
      .slice(0, limit);
  }
}

function sumOf(rows) {
  return rows.reduce((sum, row) => sum + row.count, 0);
}

// Snapshots longer than one WebSocket frame come in parts; this joins them.
export class SnapshotParts {
  constructor() {
    this.parts = new Map(); // window -> rows so far
  }

  // The whole snapshot message once its last part is in, else null.
  add(message) {
    if (!message.parts) return message;
    if (message.part === 1) this.parts.set(message.window, []);
    const rows = this.parts.get(message.window);
    if (!rows) return null; // a part without its beginning: wait for the next snapshot
    rows.push(...message.leaderboard);
    if (message.part !== message.parts) return null;
    this.parts.delete(message.window);
    return { ...message, leaderboard: rows };
  }
}
