// "Rising now": the emoji whose last 24 hours most exceed their daily average over the
// last 30 days. Pure (tested under Node); headline.js fetches the two boards.

export const RISING_MINIMUM = 3; // reactions in 24 h before an emoji can rise: one is noise

// rows24h, rows30d: emoji board rows ({emoji, count, ...}) of the 24h and 30d windows.
// Returns up to `limit` rows, highest ratio first, each with `count24h`, `perDay` (the
// 30-day daily average) and `ratio` (count24h / perDay); only ratios above 1.
export function risingNow(rows24h, rows30d, { minimum = RISING_MINIMUM, limit = 3 } = {}) {
  const month = new Map(rows30d.map((row) => [row.emoji, row.count]));
  const rising = [];
  for (const row of rows24h) {
    if (!(row.count >= minimum)) continue;
    // The 30 days hold the last 24 hours; a 30d board cut before this emoji, or a
    // reaction removed in between, must not make the average smaller than today.
    const count30d = Math.max(month.get(row.emoji) ?? 0, row.count);
    const perDay = count30d / 30;
    const ratio = row.count / perDay;
    if (ratio > 1) rising.push({ ...row, count24h: row.count, count30d, perDay, ratio });
  }
  rising.sort((a, b) => b.ratio - a.ratio || b.count24h - a.count24h
    || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
  return rising.slice(0, limit);
}
