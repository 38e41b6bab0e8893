import type { StatusReport, StatusServer, StatusService } from "./status-report";

/**
 * The status page's HTML, rendered on the server: readable with JavaScript off (and then reloaded
 * every 5 s by a `<noscript>` meta refresh), no external asset of any kind. Its one script and one
 * stylesheet are inline and carry the response's nonce, which the Content-Security-Policy
 * (`contentSecurityPolicy`) requires; nothing else may load. With JavaScript on, the script fetches
 * the page again every `REFRESH_MS` and swaps in its `<main>`, so the view updates without a
 * reload; a page that comes back without one (the session ended) makes it reload, to the login form.
 *
 * A state is always written out in words (`up`, `down`, `draining 42s left`, `slow start 40%`,
 * `weight 0`); the colour only repeats it.
 */

export const REFRESH_MS = 2_000;

export function contentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

/** Headers every page carries: the CSP, no caching, no sniffing, no referrer. */
export function pageHeaders(nonce: string): Record<string, string> {
  return {
    "content-security-policy": contentSecurityPolicy(nonce),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
  };
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{display:flex;align-items:center;gap:1em;padding:.6em 1.2em;background:#1b1f24;color:#fff}
header h1{font-size:1.2em;margin:0;flex:1}
main{padding:0 1.2em 1.2em}
.summary{color:#444}
section{background:#fff;border:1px solid #d9dde3;border-radius:6px;margin:1em 0;padding:.6em 1em}
h2{font-size:1.05em;margin:.2em 0 .5em}
h2 small{font-weight:normal;color:#555}
caption{text-align:left;color:#555;padding-bottom:.3em}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.25em .6em;border-bottom:1px solid #eceef1;white-space:nowrap}
th{font-weight:600;color:#444}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.state{font-weight:600;border-radius:4px;padding:.05em .4em}
.s-up{background:#dcf5e3;color:#14532d}.s-down{background:#fde0e0;color:#7f1d1d}
.s-draining,.s-slow-start{background:#fff1cc;color:#713f12}.s-weight-0{background:#e5e7eb;color:#374151}
.login{max-width:22em;margin:4em auto;background:#fff;border:1px solid #d9dde3;border-radius:6px;padding:1.2em}
.login input{width:100%;box-sizing:border-box;margin:.4em 0 .8em;padding:.4em}
.error{color:#7f1d1d}
button{cursor:pointer}
`;

const SCRIPT = `(function () {
  var busy = false;
  function refresh() {
    if (busy) return;
    busy = true;
    fetch(location.pathname, { credentials: "same-origin", cache: "no-store", headers: { accept: "text/html" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        // Only the main element is parsed: the fresh page's style element carries another response's nonce.
        var start = html.indexOf('<main id="status"'), end = html.indexOf("</main>");
        if (start < 0 || end < start) { location.reload(); return; }
        var next = new DOMParser().parseFromString(html.slice(start, end + 7), "text/html").getElementById("status");
        if (!next) { location.reload(); return; }
        document.getElementById("status").replaceWith(document.importNode(next, true));
      })
      .catch(function () {
        var note = document.getElementById("refresh-note");
        if (note) note.textContent = "refresh failed; retrying";
      })
      .then(function () { busy = false; });
  }
  setInterval(refresh, ${REFRESH_MS});
})();`;

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, nonce: string, header: string, body: string, script: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
${script ? `<noscript><meta http-equiv="refresh" content="5"></noscript>` : ""}
<style nonce="${nonce}">${STYLE}</style></head>
<body>${header}${body}${script ? `<script nonce="${nonce}">${SCRIPT}</script>` : ""}</body></html>
`;
}

/** The only thing an unauthenticated request gets. */
export function renderLoginPage(nonce: string, message?: string): string {
  const body = `<form class="login" method="post" action="/login">
<h1>Ballast</h1>
<p>Log in with the admin token (<code>BALLAST_ADMIN_TOKEN</code>).</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ""}
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
</form>`;
  return page("Ballast — log in", nonce, "", body, false);
}

export function renderStatusPage(report: StatusReport, nonce: string, options: { logout: boolean }): string {
  const header = `<header><h1>Ballast status</h1>${options.logout ? `<form method="post" action="/logout"><button type="submit">Log out</button></form>` : ""}</header>`;
  const byName = new Map(report.services.map((s) => [s.name, s]));
  const routed = new Set(report.listeners.map((l) => l.service));
  const now = Date.parse(report.at);
  const sections = report.listeners.map((l) => {
    const svc = byName.get(l.service);
    const title = `Listener <b>${escapeHtml(l.name)}</b> <small>${escapeHtml(l.protocol)} :${l.port}</small> → service <b>${escapeHtml(l.service)}</b>`;
    return `<section class="listener" data-listener="${escapeHtml(l.name)}"><h2>${title}</h2>${svc ? serviceTable(svc, now) : "<p>service not found</p>"}</section>`;
  });
  for (const svc of report.services) {
    if (routed.has(svc.name)) continue;
    sections.push(`<section class="unrouted" data-service="${escapeHtml(svc.name)}"><h2>Service <b>${escapeHtml(svc.name)}</b> <small>no listener</small></h2>${serviceTable(svc, now)}</section>`);
  }
  if (sections.length === 0) sections.push("<section><p>No listeners or backend services are configured.</p></section>");
  const main = `<main id="status" data-at="${escapeHtml(report.at)}">
<p class="summary">Replica <b id="replica">${escapeHtml(report.replica)}</b> · configuration generation <b id="generation">${report.generation}</b> · as of <time datetime="${escapeHtml(report.at)}">${escapeHtml(clock(report.at))}</time> <span id="refresh-note"></span></p>
${sections.join("\n")}
</main>`;
  return page(`Ballast — ${report.replica}`, nonce, header, main, true);
}

function serviceTable(svc: StatusService, now: number): string {
  const check = svc.healthCheck ? `health check ${escapeHtml(svc.healthCheck)}` : "no health check";
  const caption = `${escapeHtml(svc.protocol)} · ${escapeHtml(svc.scheduler)} · ${svc.serverGroup ? `group ${escapeHtml(svc.serverGroup)}` : "no server group"} · ${check}`;
  const perSecond = svc.protocol === "tcp" ? "conn/s" : "req/s";
  const rows = svc.servers.map((s) => serverRow(s, svc, now)).join("\n");
  return `<table data-service="${escapeHtml(svc.name)}"><caption>${caption}</caption>
<thead><tr><th>Server</th><th>State</th><th>Weight</th><th>Effective</th><th>Connections</th><th>Requests</th><th>${perSecond}</th><th>errors/s</th><th>Last health check</th><th>Last change</th></tr></thead>
<tbody>${rows || `<tr><td colspan="10">no servers</td></tr>`}</tbody></table>`;
}

function serverRow(s: StatusServer, svc: StatusService, now: number): string {
  const cls = `s-${s.state.replace(/ /g, "-")}`;
  const cells = [
    `<td class="server">${escapeHtml(s.server)}${s.role ? ` <small>${s.role}</small>` : ""}${s.removed ? " <small>removed</small>" : ""}</td>`,
    `<td><span class="state ${cls}">${escapeHtml(s.stateText)}</span></td>`,
    `<td class="num">${s.weight}</td>`,
    `<td class="num">${s.effectiveWeight}</td>`,
    `<td class="num">${s.activeConnections}</td>`,
    `<td class="num">${s.activeRequests}</td>`,
    `<td class="num">${s.requestsPerSecond ?? "–"}</td>`,
    `<td class="num">${s.errorsPerSecond ?? "–"}</td>`,
    `<td class="check">${escapeHtml(checkText(s, svc, now))}</td>`,
    `<td class="since">${s.since ? `<time datetime="${escapeHtml(s.since)}">${escapeHtml(ago(Date.parse(s.since), now))}</time>` : "–"}</td>`,
  ];
  return `<tr data-server="${escapeHtml(s.server)}" data-state="${escapeHtml(s.state)}">${cells.join("")}</tr>`;
}

/** `passed in 3 ms, 4s ago`, `failed: connect ECONNREFUSED in 1 ms, 2s ago`, `not checked`, `pending`. */
export function checkText(s: StatusServer, svc: StatusService, now: number): string {
  if (!s.lastCheck) return svc.healthCheck && !s.removed ? "pending" : "not checked";
  const { ok, reason, ms, at } = s.lastCheck;
  return `${ok ? "passed" : `failed: ${reason}`} in ${ms} ms, ${ago(Date.parse(at), now)}`;
}

/** `just now`, `42s ago`, `5m ago`, `3h ago`, `2d ago`. */
export function ago(then: number, now: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 1) return "just now";
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.floor(s / 60)}m ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

function clock(iso: string): string {
  return iso.replace("T", " ").replace(/\.\d+Z$/, " UTC");
}
