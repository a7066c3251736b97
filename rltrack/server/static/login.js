// The login page: POST the form as JSON (the server refuses form posts), then go where the user was headed.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);

  // Only a path on this server: "//evil.example", "/\t/evil.example" (browsers drop the tab) or "https://..."
  // would send the user elsewhere after login. Resolve it as the browser will, then keep it only if it stays here.
  function nextPath() {
    const next = new URLSearchParams(location.search).get("next") || "/";
    try {
      const url = new URL(next, location.origin);
      if (next.startsWith("/") && url.origin === location.origin) return url.pathname + url.search + url.hash;
    } catch (err) { /* not a URL: go home */ }
    return "/";
  }

  function showError(text) {
    const box = $("login-error");
    box.textContent = text; // textContent: a server message is never drawn as HTML
    box.hidden = !text;
  }

  async function me() {
    const r = await fetch("/api/auth/me", { cache: "no-store", credentials: "same-origin" });
    return r.ok ? r.json() : { user: null };
  }

  function showLoggedIn(info) {
    $("login-form").hidden = true;
    $("logged-in").hidden = false;
    $("who").textContent = info.user;
    const teams = Object.entries(info.teams || {}).map(([t, role]) => `${t} (${role})`);
    $("teams").textContent = teams.length ? " — teams: " + teams.join(", ") : "";
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    $("login").disabled = true;
    try {
      const r = await fetch("/api/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: $("user").value, password: $("password").value }),
      });
      const body = await r.json().catch(() => ({}));
      if (!r.ok) {
        const detail = typeof body.detail === "string" ? body.detail : r.statusText;
        showError(r.status === 429 ? detail : detail || "could not log in");
        return;
      }
      location.assign(nextPath());
    } catch (err) {
      showError("the server cannot be reached: " + err.message);
    } finally {
      $("login").disabled = false;
    }
  });

  $("logout").addEventListener("click", async () => {
    const info = await me();
    await fetch("/api/auth/logout", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": info.csrf || "" },
      body: "{}",
    });
    location.assign("/login");
  });

  me().then((info) => { if (info.user) showLoggedIn(info); });
})();
