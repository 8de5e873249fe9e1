// One board (a view: emoji, channels, givers, receivers or unused, in one window) as
// this page knows it. No DOM: tested under Node.
//
// Counts arrive two ways: snapshots (every row's count at one moment, with `total`
// and `size` over the whole board) and updates (one row's absolute count). Every
// change of a key raises its `version`, and a snapshot row's version is never older
// than its count, so whichever arrived last, the newer version wins and a late or
// repeated message can never move a count backwards.

// What identifies a row on each board.
export const ROW_KEY = { emoji: "emoji", unused: "emoji", channels: "channel", givers: "user", receivers: "user" };

export class Board {
  constructor(window, board = "emoji") {
    this.window = window;
    this.board = board;
    this.key = ROW_KEY[board] ?? "emoji";
    // The unused board lists custom emoji at 0: a count above 0 takes one off the list.
    this.listed = board === "unused" ? (row) => row.count === 0 : (row) => row.count > 0;
    this.rows = new Map();      // key -> row as the server sent it (without `window`)
    this.snapshotRows = null;   // key -> count in the last snapshot applied
    this.snapshotTotal = 0;
    this.snapshotSize = null;   // rows the whole board had (the server's `size`)
    this.complete = false;      // the last snapshot listed every row of the board
    this.touched = new Set();   // keys updated since the pending snapshot was requested
    this.pending = false;
    this.seq = 0;               // numbers snapshot requests, so a stale answer is dropped
    this.updatedAt = null;      // when data last arrived (ms since the epoch)
  }

  get loaded() {
    return this.snapshotRows !== null;
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
    this.snapshotRows = new Map();
    for (const row of message.leaderboard) {
      const key = row[this.key];
      this.snapshotRows.set(key, row.count);
      const mine = previous.get(key);
      this.rows.set(key, mine && mine.version > row.version ? mine : { ...row });
    }
    // A key missing from the snapshot but updated while it travelled is newer.
    for (const key of this.touched) {
      if (!this.rows.has(key) && previous.has(key)) this.rows.set(key, previous.get(key));
    }
    this.complete = message.leaderboard.length < limit;
    this.snapshotTotal = message.total
      ?? (this.board === "unused" ? message.leaderboard.length : sumOf(message.leaderboard));
    this.snapshotSize = message.size ?? (this.complete ? message.leaderboard.length : null);
    this.touched.clear();
    this.pending = false;
    this.updatedAt = now;
  }

  // Returns true when the board changed.
  applyChange(change, now = Date.now()) {
    if (change.window !== this.window) return false;
    const key = change[this.key];
    if (key === undefined) return false;
    const mine = this.rows.get(key);
    if (mine && mine.version > change.version) return false; // older than what we show
    const { window, ...row } = change;
    this.rows.set(key, { ...mine, ...row });
    if (this.pending) this.touched.add(key);
    this.updatedAt = now;
    return !mine || mine.count !== change.count;
  }

  // The count of one key now, or undefined when this page has not heard of it.
  countOf(key) {
    return this.rows.get(key)?.count;
  }

  // The board's total (reactions; on the unused board, the emoji listed), or null
  // when this page cannot know it exactly (a key it only heard of from an update,
  // beyond a cut snapshot).
  get total() {
    const unused = this.board === "unused";
    return this.sinceSnapshot(this.snapshotTotal, (row) => (unused ? Number(this.listed(row)) : row.count));
  }

  // How many rows the whole board lists now (for "+N more"), or null when unknown.
  get size() {
    if (this.snapshotSize === null) return null;
    return this.sinceSnapshot(this.snapshotSize, (row) => Number(this.listed(row)));
  }

  // `base` (from the snapshot) plus what the updates since changed, measured by `value`.
  sinceSnapshot(base, value) {
    if (!this.loaded) return null;
    let result = base;
    for (const [key, row] of this.rows) {
      const before = this.snapshotRows.get(key);
      if (before === undefined && !this.complete) return null;
      result += value(row) - (before === undefined ? 0 : value({ count: before }));
    }
    return result;
  }

  // The rows shown: by count, then key (as the server sorts); the unused board by name.
  top(limit) {
    const rows = [...this.rows.values()].filter(this.listed);
    const byKey = (a, b) => compare(a[this.key], b[this.key]);
    rows.sort(this.board === "unused" ? byKey : (a, b) => b.count - a.count || byKey(a, b));
    return rows.slice(0, limit);
  }
}

function compare(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sumOf(rows) {
  return rows.reduce((sum, row) => sum + row.count, 0);
}

// "Competition ranking" of rows sorted by count: tied counts share a rank and the next
// rank skips as many (14, 14, 9 -> 1, 1, 3), so two leaders at 14 both get gold.
export function ranks(rows) {
  const result = [];
  rows.forEach((row, index) => {
    result.push(index > 0 && row.count === rows[index - 1].count ? result[index - 1] : index + 1);
  });
  return result;
}

// Snapshots longer than one WebSocket frame come in parts; this joins them, per view
// (`keyOf` names the view a message is about).
export class SnapshotParts {
  constructor(keyOf = (message) => message.window) {
    this.keyOf = keyOf;
    this.parts = new Map(); // view -> rows so far
  }

  // The whole snapshot message once its last part is in, else null.
  add(message) {
    if (!message.parts) return message;
    const key = this.keyOf(message);
    if (message.part === 1) this.parts.set(key, []);
    const rows = this.parts.get(key);
    if (!rows) return null; // a part without its beginning: wait for the next snapshot
    rows.push(...message.leaderboard);
    if (message.part !== message.parts) return null;
    this.parts.delete(key);
    return { ...message, leaderboard: rows };
  }
}
