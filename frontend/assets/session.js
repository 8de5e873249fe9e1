// Who the page shows the boards to (GET /api/me), a screen link's sign-in, and the
// sign-in panel. The session itself is an HttpOnly cookie: no script ever sees it.

const $ = (id) => document.getElementById(id);

const SIGNIN_ERRORS = {
  cancelled: "Sign-in was cancelled on Slack's page.",
  state: "That sign-in link was already used or took too long. Please try again.",
  slack: "Slack did not confirm the sign-in. Please try again.",
  token: "Slack's answer could not be verified, so you were not signed in.",
  team: "This board belongs to another Slack workspace: sign in with an account of this one.",
  screen: "This screen link was revoked or never existed. Ask a workspace admin for a new one.",
  revoked: "This screen's link was revoked. Ask a workspace admin for a new one.",
  ended: "You were signed out. Sign in again to keep watching.",
};

// A screen link is `/#screen=TOKEN`: a fragment never leaves the browser (no server,
// proxy or log sees it), so the page posts it once and drops it from the address.
async function useScreenLink() {
  const token = new URLSearchParams(location.hash.slice(1)).get("screen");
  if (!token) return true;
  const url = new URL(location.href);
  url.hash = "";
  if (!url.searchParams.has("tv")) url.searchParams.set("tv", "1"); // a screen is a TV
  history.replaceState(null, "", url);
  const response = await fetch("/auth/screen", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }), cache: "no-store",
  });
  return response.ok;
}

// {access, kind, name, user, admin} when the boards may be shown; null when not
// (signed out, or a refused screen link: `error` says which).
export async function whoIsWatching() {
  if (!(await useScreenLink())) return { error: "screen" };
  const response = await fetch("/api/me", { cache: "no-store" });
  if (response.status === 401) return { error: new URLSearchParams(location.search).get("signin_error") };
  if (!response.ok) throw new Error(`/api/me: HTTP ${response.status}`);
  return { viewer: await response.json() };
}

// The sign-in panel in place of the boards, with why, when there is a why.
export function showSignIn(error) {
  document.body.dataset.signedIn = "false";
  const url = new URL(location.href);
  url.searchParams.delete("signin_error");
  $("signin-link").href = `/auth/login?next=${encodeURIComponent(url.pathname + url.search)}`;
  $("signin-error").textContent = SIGNIN_ERRORS[error] ?? "";
  $("signin-error").hidden = !SIGNIN_ERRORS[error];
  $("signin").hidden = false;
  $("viewer").hidden = true;
}

// Who is signed in, beside the connection state; admins get the screens page.
export function showViewer(viewer) {
  document.body.dataset.signedIn = "true";
  if (new URLSearchParams(location.search).has("signin_error")) {
    const url = new URL(location.href);
    url.searchParams.delete("signin_error");
    history.replaceState(null, "", url);
  }
  if (viewer.access === "public") return;
  $("viewer-name").textContent = viewer.kind === "screen" ? `Screen: ${viewer.name}` : viewer.name;
  $("viewer-screens").hidden = !viewer.admin;
  $("viewer-signout").hidden = viewer.kind !== "person";
  $("viewer").hidden = false;
}

// Is the session still good? After the socket is refused or closed, at most every
// 30 s: a signed-out person or a revoked screen gets the sign-in panel, not endless
// reconnecting.
let lastCheck = 0;
export async function stillSignedIn(kind) {
  if (Date.now() - lastCheck < 30_000) return true;
  lastCheck = Date.now();
  try {
    const response = await fetch("/api/me", { cache: "no-store" });
    if (response.status !== 401) return true;
  } catch {
    return true; // offline: the socket's own state says so
  }
  showSignIn(kind === "screen" ? "revoked" : "ended");
  return false;
}
