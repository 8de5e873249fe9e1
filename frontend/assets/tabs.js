// Tabs as WAI-ARIA describes them: one tab in the tab order; arrows, Home and End move
// and select. Hidden tabs (a window a view does not have) are skipped.

export function wireTabs(tabs, onSelect) {
  for (const tab of tabs) {
    tab.addEventListener("click", () => onSelect(tab, { focus: false }));
    tab.addEventListener("keydown", (event) => {
      const shown = tabs.filter((each) => !each.hidden);
      const index = shown.indexOf(tab);
      const next = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: shown.length - 1 }[event.key];
      if (next === undefined) return;
      event.preventDefault();
      onSelect(shown[(next + shown.length) % shown.length], { focus: true });
    });
  }
}

export function markSelected(tabs, selected, { focus = false } = {}) {
  for (const tab of tabs) {
    const on = tab === selected;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
}
