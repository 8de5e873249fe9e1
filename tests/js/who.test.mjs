// Initials for a face without an avatar (frontend/assets/who.js), under Node.
import assert from "node:assert/strict";
import { test } from "node:test";

import { initials } from "../../frontend/assets/who.js";

test("initials are the first and last words' first letters", () => {
  assert.equal(initials("Ada Lovelace"), "AL");
  assert.equal(initials("Katherine J."), "KJ");
  assert.equal(initials("grace"), "G");
  assert.equal(initials("Tim Berners-Lee"), "TL");
  assert.equal(initials("Émile Zola"), "ÉZ");
  assert.equal(initials("😀 Smile"), "😀S"); // a whole character, not half a surrogate pair
  assert.equal(initials(""), "?");
  assert.equal(initials(undefined), "?");
});
