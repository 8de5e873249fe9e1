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
