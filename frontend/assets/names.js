// Names of the channels and people the filter chip speaks of ("in #general"): learnt
// from the rows this page drew, else looked up once in the all-time board listing them.
import { getJson } from "./config.js";

const known = new Map(); // channel or user id -> name
const BOARDS = { channel: "channels", giver: "givers", receiver: "receivers" };

export function learn(rows) {
  for (const row of rows) {
    const id = row.channel ?? row.user;
    if (id && row.name) known.set(id, row.name);
  }
}

// The name of a filter's channel or person; its id when no board names it.
export async function nameOf(kind, id) {
  if (!known.has(id)) {
    try {
      learn((await getJson("/api/leaderboard", { board: BOARDS[kind], window: "all", limit: 500 })).leaderboard);
    } catch (error) {
      console.warn("names: request failed:", error);
    }
  }
  return known.get(id) ?? id;
}

export function knownName(id) {
  return known.get(id) ?? null;
}
