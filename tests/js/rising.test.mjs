// "Rising now" (frontend/assets/rising.js), under Node's own test runner.
import assert from "node:assert/strict";
import { test } from "node:test";

import { risingNow } from "../../frontend/assets/rising.js";

const rows = (counts) => Object.entries(counts).map(([emoji, count]) => ({ emoji, count }));

test("the emoji furthest above its 30-day daily average rises", () => {
  // tada: 6 today, 30 in 30 days (1 a day): 6x. fire: 20 today, 300 in 30 days: 2x.
  const top = risingNow(rows({ fire: 20, tada: 6 }), rows({ fire: 300, tada: 30 }));
  assert.deepEqual(top.map((r) => r.emoji), ["tada", "fire"]);
  assert.equal(top[0].ratio, 6);
  assert.equal(top[0].perDay, 1);
  assert.equal(top[0].count24h, 6);
});

test("fewer than 3 reactions in 24 h never rise, however rare the emoji", () => {
  const top = risingNow(rows({ rare: 2, tada: 3 }), rows({ rare: 2, tada: 90 }));
  assert.deepEqual(top, []); // tada: 3 today against 3 a day is not rising either
  assert.deepEqual(risingNow(rows({ tada: 3 }), rows({ tada: 3 })).map((r) => r.emoji), ["tada"]);
});

test("an emoji at or below its usual pace does not rise", () => {
  assert.deepEqual(risingNow(rows({ fire: 10 }), rows({ fire: 300 })), []); // 10 a day, 10 today
  assert.deepEqual(risingNow(rows({ fire: 5 }), rows({ fire: 300 })), []);
});

test("missing from a cut 30-day board, the 24 hours are its 30 days", () => {
  const [only] = risingNow(rows({ newcomer: 4 }), rows({}));
  assert.equal(only.count30d, 4);
  assert.equal(only.ratio, 30);
});

test("ties go to more reactions, then the name; at most `limit`", () => {
  const top = risingNow(rows({ b: 4, a: 4, c: 8, d: 5 }), rows({ a: 4, b: 4, c: 8, d: 100 }), { limit: 2 });
  assert.deepEqual(top.map((r) => r.emoji), ["c", "a"]);
});
