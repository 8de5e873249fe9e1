// The page's board model, under Node's own test runner (run by tests/test_board_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";

import { Board, SnapshotParts } from "../../frontend/assets/board.js";

const row = (emoji, count, version) => ({ emoji, count, version });
const change = (emoji, count, version, window = "24h") => ({ emoji, count, version, window });
const snapshot = (leaderboard, total) => ({ type: "snapshot", window: "24h", leaderboard, total });

function loaded(rows, total, limit = 500) {
  const board = new Board("24h");
  board.requestSnapshot();
  board.applySnapshot(snapshot(rows, total), limit);
  return board;
}

test("an update newer than the snapshot wins, an older one is dropped, an equal one applies", () => {
  const board = loaded([row("fire", 3, 10), row("eyes", 2, 4)], 5);
  assert.equal(board.applyChange(change("fire", 4, 11)), true);
  assert.equal(board.applyChange(change("eyes", 1, 3)), false);
  assert.equal(board.applyChange(change("eyes", 2, 4)), false); // same count: nothing to redraw
  assert.deepEqual(board.top(10).map((r) => [r.emoji, r.count]), [["fire", 4], ["eyes", 2]]);
  assert.equal(board.total, 6);
});

test("updates for other windows are ignored", () => {
  const board = loaded([row("fire", 3, 10)], 3);
  assert.equal(board.applyChange(change("fire", 9, 12, "7d")), false);
  assert.equal(board.top(1)[0].count, 3);
});

test("an update that lands while a snapshot travels survives an older snapshot", () => {
  const board = loaded([row("fire", 3, 10)], 3);
  board.requestSnapshot();
  board.applyChange(change("fire", 5, 12));
  board.applyChange(change("tada", 1, 1)); // new since the snapshot was read
  board.applySnapshot(snapshot([row("fire", 4, 11)], 4), 500);
  assert.deepEqual(board.top(10).map((r) => [r.emoji, r.count]), [["fire", 5], ["tada", 1]]);
  assert.equal(board.total, 6);
});

test("a newer snapshot replaces what updates said before it was asked for", () => {
  const board = loaded([row("fire", 3, 10)], 3);
  board.applyChange(change("gone", 1, 1));
  board.requestSnapshot();
  board.applySnapshot(snapshot([row("fire", 2, 12)], 2), 500);
  assert.deepEqual(board.top(10).map((r) => [r.emoji, r.count]), [["fire", 2]]);
});

test("the total stays exact when an emoji falls to zero", () => {
  const board = loaded([row("fire", 1, 1), row("eyes", 1, 1)], 2);
  board.applyChange(change("fire", 0, 2));
  assert.equal(board.total, 1);
  assert.deepEqual(board.top(10).map((r) => r.emoji), ["eyes"]);
});

test("beyond a cut snapshot an unknown emoji makes the total unknown", () => {
  const board = loaded([row("fire", 9, 1), row("eyes", 8, 1)], 40, 2); // asked for 2, got 2
  assert.equal(board.total, 40);
  board.applyChange(change("fire", 10, 2));
  assert.equal(board.total, 41);
  board.applyChange(change("rare", 3, 5));
  assert.equal(board.total, null);
});

test("leaders sort by count, then name, as the server does", () => {
  const board = loaded([row("b", 2, 1), row("a", 2, 1), row("c", 5, 1), row("z", 0, 1)], 9);
  assert.deepEqual(board.top(10).map((r) => r.emoji), ["c", "a", "b"]);
  assert.deepEqual(board.top(2).map((r) => r.emoji), ["c", "a"]);
});

test("a change keeps how the emoji is drawn", () => {
  const board = loaded([{ emoji: "fire", count: 1, version: 1, glyph: "🔥" }], 1);
  board.applyChange(change("fire", 2, 2));
  assert.equal(board.top(1)[0].glyph, "🔥");
});

test("snapshot parts are joined, a part without its beginning waits", () => {
  const parts = new SnapshotParts();
  const part = (n, rows) => ({ ...snapshot(rows, 3), part: n, parts: 2 });
  assert.equal(parts.add(part(2, [row("x", 1, 1)])), null);
  assert.equal(parts.add(part(1, [row("a", 2, 1)])), null);
  const whole = parts.add(part(2, [row("b", 1, 1)]));
  assert.deepEqual(whole.leaderboard.map((r) => r.emoji), ["a", "b"]);
  const single = snapshot([row("a", 1, 1)], 1);
  assert.equal(parts.add(single), single);
});

// ---- boards keyed by channel or user, the unused board, ranks, "+N more" ----------

import { ranks } from "../../frontend/assets/board.js";

test("tied counts share a rank and the next rank skips (competition ranking)", () => {
  const rows = [14, 14, 9, 9, 9, 2].map((count, i) => row(`e${i}`, count, 1));
  assert.deepEqual(ranks(rows), [1, 1, 3, 3, 3, 6]);
  assert.deepEqual(ranks([]), []);
  assert.deepEqual(ranks([row("a", 1, 1)]), [1]);
});

test("a channel board keys rows by channel and keeps the newest version of each", () => {
  const board = new Board("7d", "channels");
  board.requestSnapshot();
  board.applySnapshot({ board: "channels", window: "7d", total: 5, size: 2, leaderboard: [
    { channel: "C1", name: "general", count: 3, version: 4 },
    { channel: "C2", name: "random", count: 2, version: 2 }] }, 500);
  assert.equal(board.applyChange({ channel: "C2", name: "random", count: 4, version: 3, window: "7d" }), true);
  assert.equal(board.applyChange({ channel: "C1", count: 1, version: 3, window: "7d" }), false); // older
  assert.deepEqual(board.top(10).map((r) => [r.channel, r.count, r.name]), [["C2", 4, "random"], ["C1", 3, "general"]]);
  assert.equal(board.total, 7);
  assert.equal(board.size, 2);
  assert.equal(board.applyChange({ emoji: "fire", count: 9, version: 9, window: "7d" }), false); // no channel: not a row here
});

test("people boards key rows by user; a change keeps the name and face", () => {
  const board = new Board("24h", "givers");
  board.requestSnapshot();
  board.applySnapshot({ total: 3, size: 1, leaderboard: [
    { user: "U1", name: "Ada", avatar_url: "https://a/1.png", count: 3, version: 3 }] }, 500);
  board.applyChange({ user: "U1", count: 4, version: 4, window: "24h" });
  board.applyChange({ user: "U2", name: "Grace", avatar_url: null, count: 1, version: 1, window: "24h" });
  assert.deepEqual(board.top(10).map((r) => [r.user, r.name, r.count]), [["U1", "Ada", 4], ["U2", "Grace", 1]]);
  assert.equal(board.top(1)[0].avatar_url, "https://a/1.png");
  assert.equal(board.total, 5);
  assert.equal(board.size, 2);
});

test("the unused board lists emoji at 0 by name: a use takes one off, 0 puts it back", () => {
  const board = new Board("30d", "unused");
  board.requestSnapshot();
  board.applySnapshot({ board: "unused", window: "30d", total: 3, size: 3, leaderboard: [
    { emoji: "a-parrot", count: 0, version: 1, image_url: "https://e/a.png" },
    { emoji: "c-cat", count: 0, version: 0 }, { emoji: "b-dog", count: 0, version: 2 }] }, 500);
  assert.deepEqual(board.top(10).map((r) => r.emoji), ["a-parrot", "b-dog", "c-cat"]);
  board.applyChange({ emoji: "b-dog", count: 1, version: 3, window: "30d" });
  assert.deepEqual(board.top(10).map((r) => r.emoji), ["a-parrot", "c-cat"]);
  assert.equal(board.total, 2);
  assert.equal(board.size, 2);
  board.applyChange({ emoji: "b-dog", count: 0, version: 4, window: "30d" }); // removed again
  board.applyChange({ emoji: "d-new", count: 0, version: 1, window: "30d" }); // put back
  board.applyChange({ emoji: "fire", count: 2, version: 7, window: "30d" });  // used: not listed
  assert.deepEqual(board.top(10).map((r) => r.emoji), ["a-parrot", "b-dog", "c-cat", "d-new"]);
  assert.equal(board.total, 4);
  assert.equal(board.top(10)[0].image_url, "https://e/a.png");
});

test("size says how many rows a cut board has, for '+N more'", () => {
  const board = loaded([row("a", 5, 1), row("b", 4, 1)], 20, 2);
  board.snapshotSize = null;
  assert.equal(board.size, null); // a server that does not say
  const sized = new Board("24h");
  sized.requestSnapshot();
  sized.applySnapshot({ ...snapshot([row("a", 5, 1), row("b", 4, 1)], 20), size: 97 }, 2);
  assert.equal(sized.size, 97);
  sized.applyChange(change("a", 0, 2)); // fell to zero: one row fewer
  assert.equal(sized.size, 96);
  sized.applyChange(change("zz", 1, 1)); // beyond the cut: unknown
  assert.equal(sized.size, null);
  const whole = loaded([row("a", 5, 1)], 5);
  assert.equal(whole.size, 1); // no size from the server, but the snapshot was whole
  whole.applyChange(change("b", 1, 1));
  assert.equal(whole.size, 2);
});

test("snapshot parts of two views do not mix", () => {
  const parts = new SnapshotParts((m) => `${m.board}/${m.window}`);
  const part = (board, n, rows) => ({ type: "snapshot", board, window: "24h", part: n, parts: 2, leaderboard: rows });
  assert.equal(parts.add(part("emoji", 1, [row("a", 2, 1)])), null);
  assert.equal(parts.add(part("givers", 1, [{ user: "U1", count: 5, version: 1 }])), null);
  const emoji = parts.add(part("emoji", 2, [row("b", 1, 1)]));
  assert.deepEqual(emoji.leaderboard.map((r) => r.emoji), ["a", "b"]);
  const givers = parts.add(part("givers", 2, [{ user: "U2", count: 1, version: 1 }]));
  assert.deepEqual(givers.leaderboard.map((r) => r.user), ["U1", "U2"]);
});
