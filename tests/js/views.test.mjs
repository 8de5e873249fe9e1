// The page's state and its URL (frontend/assets/views.js), under Node's test runner.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  boardOf, navigate, parseState, requestFields, titleOf, toSearch, topic, topicOf, tvSteps,
} from "../../frontend/assets/views.js";

test("URLs round-trip through the state", () => {
  for (const search of ["?view=people&side=received&window=7d", "?view=emoji&channel=C1&window=30d",
    "?view=emoji&emoji=tada", "?view=emoji&emoji=tada&trend=12m", "?view=emoji&giver=U42&window=all",
    "?view=channels&window=24h", "?view=unused&window=all", "?view=emoji&window=24h"]) {
    assert.equal(toSearch(parseState(search)), search);
  }
});

test("anything unknown falls back to a default instead of failing", () => {
  assert.deepEqual(parseState(""), { view: "emoji", window: "24h" });
  assert.deepEqual(parseState("?window=7d"), { view: "emoji", window: "7d" }); // an old bookmark
  assert.deepEqual(parseState("?view=nope&window=1y"), { view: "emoji", window: "24h" });
  assert.deepEqual(parseState("?view=unused&window=24h"), { view: "unused", window: "30d" });
  assert.deepEqual(parseState("?view=emoji&channel=not-an-id"), { view: "emoji", window: "24h" });
  // One filter at most; an emoji's detail takes no filter.
  assert.deepEqual(parseState("?channel=C1&giver=U1").filter, { kind: "channel", id: "C1" });
  assert.equal(parseState("?emoji=tada&channel=C1").filter, undefined);
  assert.equal(parseState("?emoji=a:b").emoji, undefined);
});

test("with people boards off, the people view and person filters are gone", () => {
  const off = { peopleBoards: false };
  assert.equal(parseState("?view=people&side=received", off).view, "emoji");
  assert.equal(parseState("?view=emoji&giver=U1", off).filter, undefined);
  assert.equal(parseState("?view=emoji&receiver=U1", off).filter, undefined);
  assert.deepEqual(parseState("?view=emoji&channel=C1", off).filter, { kind: "channel", id: "C1" });
  assert.deepEqual(tvSteps(parseState("?tv=1&views=emoji,givers,channels", off), off).map((s) => s.view),
    ["emoji", "channels"]);
});

test("navigating keeps what still applies", () => {
  const channel = parseState("?view=emoji&channel=C1&window=30d");
  assert.equal(toSearch(navigate(channel, { window: "7d" })), "?view=emoji&channel=C1&window=7d");
  assert.equal(toSearch(navigate(channel, { filter: undefined })), "?view=emoji&window=30d");
  assert.equal(toSearch(navigate(channel, { emoji: "tada" })), "?view=emoji&emoji=tada");
  assert.equal(toSearch(navigate(channel, { view: "people" })), "?view=people&side=given&window=30d");
  const people = parseState("?view=people&side=received&window=7d");
  assert.equal(toSearch(navigate(people, { view: "emoji", filter: { kind: "receiver", id: "U1" } })),
    "?view=emoji&receiver=U1&window=7d");
  assert.equal(toSearch(navigate(people, { view: "unused" })), "?view=unused&window=30d");
});

test("each state is one board, and messages name the same view", () => {
  const spec = boardOf(parseState("?view=emoji&channel=C1&window=30d"));
  assert.deepEqual(spec, { board: "emoji", window: "30d", filter: { kind: "channel", id: "C1" } });
  assert.equal(topic(spec), "emoji/30d/channel=C1");
  assert.deepEqual(requestFields(spec, 500), { board: "emoji", window: "30d", limit: 500, channel: "C1" });
  assert.equal(topicOf({ type: "update", board: "emoji", window: "30d", channel: "C1", changes: [] }), topic(spec));
  assert.notEqual(topicOf({ type: "update", board: "emoji", window: "30d", changes: [] }), topic(spec));
  assert.notEqual(topicOf({ type: "update", board: "emoji", window: "7d", channel: "C1" }), topic(spec));
  assert.equal(topicOf({ type: "update", board: "emoji", changes: [] }), null); // an earlier server's
  assert.equal(topic(boardOf(parseState("?view=people&side=received&window=7d"))), "receivers/7d");
  assert.equal(topic(boardOf(parseState("?view=unused"))), "unused/30d");
  assert.equal(topic(boardOf(parseState("?view=emoji&emoji=tada&trend=24h"))), "emoji/all");
});

test("TV mode rotates through views, or one view's windows as it always has", () => {
  const views = tvSteps(parseState("?tv=1&views=emoji,givers,channels,bogus&window=7d"));
  assert.deepEqual(views.map((s) => [s.view, s.side, s.window]),
    [["emoji", undefined, "7d"], ["people", "given", "7d"], ["channels", undefined, "7d"]]);
  assert.ok(views.every((s) => s.tv));
  const windows = tvSteps(parseState("?tv=1&window=7d"));
  assert.deepEqual(windows.map((s) => s.window), ["7d", "30d", "all", "24h"]);
  const unused = tvSteps(parseState("?tv=1&views=unused"));
  assert.deepEqual(unused.map((s) => [s.view, s.window]), [["unused", "30d"], ["unused", "all"]]);
  // The URL a phone gets: the view without TV mode.
  assert.equal(toSearch(views[1]), "?view=people&side=given&window=7d");
  assert.equal(titleOf(views[1]), "Top reaction givers · 7 days");
});
