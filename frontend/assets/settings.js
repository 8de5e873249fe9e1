// The screens page: workspace admins make, list and revoke screen links
// (GET/POST /api/screens, DELETE /api/screens/{id}).

const $ = (id) => document.getElementById(id);
const when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

async function api(method, path, body) {
  const response = await fetch(path, {
    method, cache: "no-store",
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json().catch(() => ({}));
  if (response.status === 401) {
    location.assign(`/auth/login?next=${encodeURIComponent(location.pathname)}`);
    throw new Error("not signed in");
  }
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

function say(text, problem = false) {
  $("message").textContent = text;
  $("message").className = problem ? "problem" : "message";
  $("message").hidden = !text;
}

function row(screen) {
  const tr = document.createElement("tr");
  const cells = [
    screen.name, screen.created_by_name || screen.created_by,
    when.format(screen.created_at * 1000),
    screen.last_used_at ? when.format(screen.last_used_at * 1000) : "never",
  ];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const td = document.createElement("td");
  const revoke = document.createElement("button");
  revoke.type = "button";
  revoke.className = "link-button";
  revoke.textContent = "Revoke";
  revoke.setAttribute("aria-label", `Revoke ${screen.name}`);
  revoke.addEventListener("click", async () => {
    if (!confirm(`Revoke "${screen.name}"? The screen stops showing the boards at once.`)) return;
    try {
      await api("DELETE", `/api/screens/${encodeURIComponent(screen.id)}`);
      await list();
      say(`Revoked "${screen.name}".`);
    } catch (error) {
      say(`Could not revoke it: ${error.message}`, true);
    }
  });
  td.append(revoke);
  tr.append(td);
  return tr;
}

async function list() {
  const { screens } = await api("GET", "/api/screens");
  $("screens").replaceChildren(...screens.map(row));
  $("no-screens").hidden = screens.length > 0;
}

$("new-screen").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const made = await api("POST", "/api/screens", { name: $("screen-name").value });
    $("new-link-url").textContent = `${location.origin}/#screen=${made.token}`;
    $("new-link").hidden = false;
    $("screen-name").value = "";
    say("");
    await list();
  } catch (error) {
    say(`Could not make the link: ${error.message}`, true);
  }
});

$("copy-link").addEventListener("click", () => navigator.clipboard?.writeText($("new-link-url").textContent));

try {
  const me = await api("GET", "/api/me");
  if (me.access === "public") {
    say("This board is public (ACCESS=public): anyone with its address sees it, so screens need no link.");
  } else if (!me.admin) {
    $("viewer-name").textContent = me.name ?? "";
    say("Only workspace admins (or members listed in DASHBOARD_ADMINS) manage screen links.", true);
  } else {
    $("viewer-name").textContent = me.name;
    await list();
    say("");
    $("manage").hidden = false;
  }
} catch (error) {
  if (error.message !== "not signed in") say(`Could not load the screen links: ${error.message}`, true);
}
