// The review console: the queue of alerts (undecided first) from /api/queue, kept live by
// server-sent events; an alert's detail with its evidence and context; verdicts with one key.
// Everything an alert says is put on the page as text (never as HTML), since it comes from
// public posts, and every element of such text has dir="auto" (right-to-left scripts).
"use strict";

const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const VERDICT_NAMES = {
  confirm: "confirmed",
  false_positive: "false positive",
  escalate: "escalated",
  note: "note",
};
const KEYS = { c: "confirm", f: "false_positive", e: "escalate" };
const ACTION_NAMES = { confirm: "confirm", false_positive: "false positive", escalate: "escalate" };

const queue = document.getElementById("queue");
const detail = document.getElementById("detail");
const empty = document.getElementById("empty");
const counts = document.getElementById("counts");
const status = document.getElementById("status");
const who = document.getElementById("who");
const toast = document.getElementById("toast");
const filters = {
  severity: document.getElementById("filter-severity"),
  rule: document.getElementById("filter-rule"),
  source: document.getElementById("filter-source"),
  kind: document.getElementById("filter-kind"),
  verdict: document.getElementById("filter-verdict"),
};

let me = null; // {user, role, csrf, may_decide}
let selected = null; // the alert id shown in the detail pane
const alerts = new Map(); // alert id -> the alert with its verdict and decisions

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// Text from a post, laid out by its own script's direction.
function said(tag, className, text) {
  const node = el(tag, className, text);
  node.dir = "auto";
  return node;
}

function say(message, bad) {
  toast.textContent = message;
  toast.dataset.bad = bad ? "yes" : "no";
}

async function api(path, options) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return { status: response.status, body };
}

// The excerpt as text nodes, with what matched in <mark>: each span of the evidence (spans
// index the post's text, which the excerpt is while it does not start cut, "…"), and every
// occurrence of each text the evidence says matched.
function highlighted(excerpt, evidence) {
  const inText = evidence.filter((item) => item.field === "text");
  const terms = inText
    .filter((item) => typeof item.matched === "string" && item.matched)
    .map((item) => item.matched);
  const ranges = [];
  if (!excerpt.startsWith("…")) {
    // spans count code points; the string's indexes count UTF-16 units
    const points = [...excerpt];
    const units = (point) => points.slice(0, point).join("").length;
    const end = points.length - (excerpt.endsWith("…") ? 1 : 0);
    for (const { span } of inText) {
      if (Array.isArray(span) && span[0] < span[1] && span[1] <= end) {
        ranges.push([units(span[0]), units(span[1])]);
      }
    }
  }
  for (const term of terms) {
    let at = excerpt.indexOf(term);
    while (at !== -1) {
      ranges.push([at, at + term.length]);
      at = excerpt.indexOf(term, at + term.length);
    }
  }
  ranges.sort((a, b) => a[0] - b[0]);
  const merged = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push([...range]);
  }
  const out = said("p", "excerpt");
  let done = 0;
  for (const [start, end] of merged) {
    out.append(document.createTextNode(excerpt.slice(done, start)));
    out.append(el("mark", "", excerpt.slice(start, end)));
    done = end;
  }
  out.append(document.createTextNode(excerpt.slice(done)));
  return out;
}

function safeLink(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function severityOf(alert) {
  const severity = (alert.rule || {}).severity;
  return SEVERITIES.includes(severity) ? severity : "info";
}

function authorOf(alert) {
  const author = (alert.post || {}).author || {};
  return author.handle ? `@${author.handle}` : author.id;
}

function verdictBadge(verdict) {
  const badge = el("span", "verdict", verdict ? VERDICT_NAMES[verdict] : "undecided");
  badge.dataset.verdict = verdict || "undecided";
  return badge;
}

function addOption(select, value) {
  if (!value || [...select.options].some((option) => option.value === value)) return;
  select.append(new Option(value, value));
}

// One line of the queue.
function row(alert) {
  const item = el("li", "alert");
  item.dataset.alertId = alert.alert_id;
  item.dataset.severity = severityOf(alert);
  item.dataset.verdict = alert.verdict || "undecided";
  item.tabIndex = -1;
  const head = el("div", "head");
  head.append(el("span", `severity ${severityOf(alert)}`, severityOf(alert)));
  if (alert.kind && alert.kind !== "rule") head.append(el("span", "tag", alert.kind));
  if (alert.shadow) head.append(el("span", "tag shadow", "shadow"));
  head.append(el("span", "rule-id", (alert.rule || {}).id));
  head.append(verdictBadge(alert.verdict));
  item.append(head);
  item.append(said("div", "title", (alert.rule || {}).title));
  item.append(said("div", "meta", `${authorOf(alert)} · ${(alert.post || {}).source}`));
  item.append(said("div", "snippet", String((alert.post || {}).excerpt || "").slice(0, 140)));
  item.addEventListener("click", () => select(alert.alert_id));
  if (alert.alert_id === selected) item.setAttribute("aria-selected", "true");
  return item;
}

function queueParams() {
  const params = new URLSearchParams();
  for (const [name, select] of Object.entries(filters)) {
    if (select.value) params.set(name, select.value);
  }
  return params;
}

function passes(alert) {
  const min = filters.severity.value ? SEVERITIES.indexOf(filters.severity.value) : 0;
  if (SEVERITIES.indexOf(severityOf(alert)) < min) return false;
  if (filters.rule.value && (alert.rule || {}).id !== filters.rule.value) return false;
  if (filters.source.value && (alert.post || {}).source !== filters.source.value) return false;
  if (filters.kind.value && alert.kind !== filters.kind.value) return false;
  const verdict = alert.verdict || "undecided";
  return !filters.verdict.value || verdict === filters.verdict.value;
}

function countShown() {
  const total = queue.children.length;
  const open = queue.querySelectorAll("li[data-verdict='undecided']").length;
  counts.textContent = `${total} alert${total === 1 ? "" : "s"}, ${open} undecided`;
  empty.hidden = total > 0;
}

// Put an alert in the queue (or update it there): undecided first, newest first in each.
function place(alert) {
  alerts.set(alert.alert_id, alert);
  addOption(filters.rule, (alert.rule || {}).id);
  addOption(filters.source, (alert.post || {}).source);
  const old = queue.querySelector(`li[data-alert-id='${alert.alert_id}']`);
  if (!passes(alert)) {
    if (old) old.remove();
    countShown();
    return;
  }
  const item = row(alert);
  if (old) old.replaceWith(item);
  else {
    const undecided = !alert.verdict;
    const before = [...queue.children].find((other) => {
      const otherUndecided = other.dataset.verdict === "undecided";
      if (undecided !== otherUndecided) return undecided;
      const theirs = alerts.get(other.dataset.alertId);
      return theirs && theirs.detected_at <= alert.detected_at;
    });
    queue.insertBefore(item, before || null);
  }
  countShown();
}

async function loadQueue() {
  const { status: code, body } = await api(`/api/queue?${queueParams()}`);
  if (code !== 200 || !body) {
    say(body && body.error ? body.error : `the queue did not load (${code})`, true);
    return;
  }
  queue.replaceChildren();
  for (const alert of body.alerts) {
    alerts.set(alert.alert_id, alert);
    addOption(filters.rule, (alert.rule || {}).id);
    addOption(filters.source, (alert.post || {}).source);
    queue.append(row(alert));
  }
  countShown();
  if (!selected && queue.firstElementChild) select(queue.firstElementChild.dataset.alertId);
  else if (selected) markSelected();
}

function markSelected() {
  for (const item of queue.querySelectorAll("li[aria-selected]")) item.removeAttribute("aria-selected");
  const current = queue.querySelector(`li[data-alert-id='${selected}']`);
  if (current) {
    current.setAttribute("aria-selected", "true");
    current.scrollIntoView({ block: "nearest" });
  }
}

function evidenceList(alert) {
  const list = el("ul", "evidence");
  for (const piece of alert.evidence || []) {
    const entry = el("li", "", `${piece.type} in ${piece.field}: `);
    entry.append(said("code", "", piece.value));
    if (piece.bank) entry.append(` (bank ${piece.bank})`);
    if (piece.distance !== undefined) entry.append(` distance ${piece.distance}`);
    if (["sha256", "md5", "pdq"].includes(piece.type)) {
      entry.append(" ", pivotButton("hash", piece.matched || piece.value, "alerts with this hash"));
    }
    if (piece.original_post_id) {
      entry.append(" ", pivotButton("fingerprint", piece.original_post_id, "reappearances"));
    }
    list.append(entry);
  }
  return list;
}

function pivotButton(name, value, label) {
  const button = el("button", "pivot", label);
  button.type = "button";
  button.dataset.pivot = name;
  button.addEventListener("click", () => pivot(name, value, label));
  return button;
}

async function pivot(name, value, label) {
  const { status: code, body } = await api(`/api/pivot?${new URLSearchParams({ [name]: value })}`);
  const box = document.getElementById("pivot");
  if (!box) return;
  box.replaceChildren(said("h3", "", `${label}: ${value}`));
  if (code !== 200 || !body) {
    box.append(el("p", "empty", body && body.error ? body.error : `failed (${code})`));
    return;
  }
  box.append(miniList(body.alerts));
}

function miniList(items) {
  const list = el("ul", "mini");
  if (!items.length) list.append(el("li", "empty", "none"));
  for (const alert of items) {
    const entry = el("li");
    entry.dataset.alertId = alert.alert_id;
    entry.append(el("span", `severity ${severityOf(alert)}`, severityOf(alert)));
    entry.append(" ", el("span", "rule-id", (alert.rule || {}).id), " ");
    entry.append(verdictBadge(alert.verdict));
    entry.append(said("span", "snippet", ` ${String((alert.post || {}).excerpt || "").slice(0, 120)}`));
    entry.addEventListener("click", () => select(alert.alert_id));
    list.append(entry);
  }
  return list;
}

// The post's images, fetched through this server, blurred until clicked (a click again
// blurs one again): a reviewer chooses to look at what may be violent or abusive.
function images(alert) {
  const box = el("div", "images");
  const urls = Array.isArray((alert.post || {}).media) ? alert.post.media : [];
  urls.forEach((_, index) => {
    const image = el("img", "media blurred");
    image.src = `/api/media/${encodeURIComponent(alert.alert_id)}/${index}`;
    image.alt = `image ${index + 1} of the post (blurred: click to show)`;
    image.tabIndex = 0;
    const toggle = () => {
      image.classList.toggle("blurred");
      image.alt = `image ${index + 1} of the post` + (image.classList.contains("blurred") ? " (blurred: click to show)" : "");
    };
    image.addEventListener("click", toggle);
    image.addEventListener("keydown", (event) => {
      if (event.key === "Enter") toggle();
    });
    box.append(image);
  });
  return box;
}

function postBox(alert, heading) {
  const box = el("div", "post");
  box.append(el("h3", "", heading));
  box.append(said("div", "meta", `${authorOf(alert)} · ${(alert.post || {}).source} · ${alert.detected_at || ""}`));
  box.append(highlighted(String((alert.post || {}).excerpt || ""), alert.evidence || []));
  box.append(images(alert));
  const href = (alert.post || {}).url ? safeLink(alert.post.url) : null;
  if (href) {
    const anchor = el("a", "link", href);
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    box.append(anchor);
  }
  return box;
}

function actions(alert) {
  const box = el("div", "actions");
  if (!me || !me.may_decide) {
    box.append(el("p", "readonly", `${me ? me.user : ""} (${me ? me.role : ""}): read only`));
    return box;
  }
  for (const [key, verdict] of Object.entries(KEYS)) {
    const button = el("button", `decide ${verdict}`, `${ACTION_NAMES[verdict]} (${key})`);
    button.type = "button";
    button.dataset.verdict = verdict;
    button.addEventListener("click", () => decide(alert.alert_id, verdict));
    box.append(button);
  }
  const note = said("textarea", "note");
  note.id = "note";
  note.rows = 2;
  note.maxLength = me.note_max || 2000;
  note.placeholder = "Note: why (kept with the verdict); n to write, Ctrl+Enter to record it alone";
  note.addEventListener("keydown", (event) => {
    if (event.key === "Escape") note.blur();
    if (event.key === "Enter" && event.ctrlKey) {
      event.preventDefault();
      if (note.value.trim()) decide(alert.alert_id, "note");
    }
  });
  box.append(note);
  return box;
}

function history(alert) {
  const list = el("ol", "decisions");
  if (!(alert.decisions || []).length) list.append(el("li", "empty", "none yet"));
  for (const decision of alert.decisions || []) {
    const entry = el("li", "", `${VERDICT_NAMES[decision.verdict] || decision.verdict} by ${decision.user} at ${decision.decided_at}`);
    if (decision.note) entry.append(said("q", "", decision.note));
    list.append(entry);
  }
  return list;
}

async function select(alertId) {
  selected = alertId;
  markSelected();
  const { status: code, body } = await api(`/api/alerts/${encodeURIComponent(alertId)}`);
  if (selected !== alertId) return; // another was chosen meanwhile
  if (code !== 200 || !body) {
    detail.replaceChildren(el("p", "empty", body && body.error ? body.error : `failed (${code})`));
    return;
  }
  const alert = body.alert;
  alerts.set(alert.alert_id, alert);
  const rule = alert.rule || {};
  const parts = [];
  const head = el("div", "head");
  head.append(el("span", `severity ${severityOf(alert)}`, severityOf(alert)));
  if (alert.kind && alert.kind !== "rule") head.append(el("span", "tag", alert.kind));
  head.append(el("span", "rule-id", rule.id), said("h2", "title", rule.title), verdictBadge(alert.verdict));
  parts.push(head);
  parts.push(el("div", "meta", `pack ${rule.pack} v${rule.version} · alert ${alert.alert_id}`));
  parts.push(actions(alert));
  const originals = body.originals || [];
  const compare = el("div", originals.length ? "compare" : "single");
  compare.append(postBox(alert, "This post"));
  for (const original of originals) compare.append(postBox(original, "The original"));
  parts.push(compare);
  parts.push(evidenceList(alert));
  if (alert.kind === "summary") {
    const ids = alert.suppressed_post_ids || [];
    parts.push(said("p", "collapsed", `${alert.suppressed_count} post(s): ${ids.join(", ")}`));
  }
  parts.push(el("h3", "", "Decisions"), history(alert));
  const author = (alert.post || {}).author || {};
  const others = el("div", "context");
  others.append(said("h3", "", `Other alerts of ${authorOf(alert)}`));
  others.append(miniList(body.author || []));
  others.append(pivotButton("author", author.id, "all alerts of this author"));
  parts.push(others);
  const pivotBox = el("div", "context");
  pivotBox.id = "pivot";
  parts.push(pivotBox);
  detail.replaceChildren(...parts);
  detail.dataset.alertId = alert.alert_id;
}

// The next alert in the queue after this one that is still undecided, else the next one.
function nextAfter(alertId) {
  const items = [...queue.children];
  const at = items.findIndex((item) => item.dataset.alertId === alertId);
  const rest = items.slice(at + 1).concat(items.slice(0, Math.max(at, 0)));
  const open = rest.find((item) => item.dataset.verdict === "undecided");
  return (open || rest[0] || {}).dataset?.alertId;
}

// An admin's view of who may use the console (names and roles; never a token).
async function showUsers() {
  const { status: code, body } = await api("/api/users");
  if (code !== 200 || !body) {
    say(body && body.error ? body.error : `the users did not load (${code})`, true);
    return;
  }
  selected = null;
  markSelected();
  const table = el("table", "users");
  table.append(el("tr"));
  for (const heading of ["user", "role", "signs in with"]) table.lastChild.append(el("th", "", heading));
  for (const user of body.users) {
    const line = el("tr");
    line.append(el("td", "", user.name), el("td", "", user.role));
    line.append(el("td", "", user.token ? "a token (or the proxy)" : "the proxy only"));
    table.append(line);
  }
  const note = "Users are added and removed with postwatch alerts users add|remove.";
  detail.replaceChildren(el("h2", "", "Users"), table, el("p", "meta", note));
  delete detail.dataset.alertId;
}

// Rule quality: per rule (and per bank entry of a rule) the alerts, alerts a day, the share
// decided and the precision (confirmed of decided), over every alert the store holds.
async function showRules() {
  const { status: code, body } = await api("/api/rules");
  if (code !== 200 || !body) {
    say(body && body.error ? body.error : `the rule quality did not load (${code})`, true);
    return;
  }
  selected = null;
  markSelected();
  const table = el("table", "rules");
  table.append(el("tr"));
  const headings = ["rule", "bank entry", "alerts", "a day", "decided", "precision", "false positives"];
  for (const heading of headings) table.lastChild.append(el("th", "", heading));
  const percent = (share) => (share === null ? "–" : `${Math.round(share * 100)} %`);
  for (const stats of body.rules) {
    const line = el("tr", stats.entry ? "entry" : "rule");
    line.append(
      el("td", "", stats.entry ? "" : stats.rule),
      el("td", "", stats.entry || ""),
      el("td", "", String(stats.alerts)),
      el("td", "", String(stats.per_day)),
      el("td", "", percent(stats.decided_share)),
      el("td", "", percent(stats.precision)),
      el("td", "", String(stats.false_positives)),
    );
    table.append(line);
  }
  const note = "Precision is confirmed ÷ decided (confirmed or false positive); postwatch rules stats prints the same.";
  detail.replaceChildren(el("h2", "", "Rule quality"), table, el("p", "meta", note));
  delete detail.dataset.alertId;
}

async function refreshMe() {
  const { status: code, body } = await api("/api/me");
  if (code === 200 && body) {
    me = body;
    who.textContent = `${me.user} · ${me.role}`;
    document.body.dataset.role = me.role;
    document.body.dataset.mayDecide = me.may_decide ? "yes" : "no";
    if (!document.getElementById("rules")) {
      const button = el("button", "pivot", "rules");
      button.id = "rules";
      button.type = "button";
      button.addEventListener("click", showRules);
      who.after(button);
    }
    if (me.role === "admin" && !document.getElementById("users")) {
      const button = el("button", "pivot", "users");
      button.id = "users";
      button.type = "button";
      button.addEventListener("click", showUsers);
      who.after(button);
    }
  } else {
    who.textContent = "signed out";
    say(body && body.error ? body.error : `signed out (${code})`, true);
  }
  return code === 200;
}

async function decide(alertId, verdict, retried) {
  if (!me || !me.may_decide) return;
  const noteBox = document.getElementById("note");
  const note = noteBox ? noteBox.value : "";
  const { status: code, body } = await api(`/api/alerts/${encodeURIComponent(alertId)}/decision`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf || "" },
    body: JSON.stringify({ verdict, note }),
  });
  if (code === 403 && !retried && body && /CSRF/.test(body.error || "")) {
    // the server was restarted, or the session renewed: take the new token once
    if (await refreshMe()) return decide(alertId, verdict, true);
  }
  if (code !== 201 || !body) {
    say(body && body.error ? body.error : `not recorded (${code})`, true);
    return;
  }
  let learned = "";
  if (verdict === "confirm") {
    learned = body.learned
      ? `; the workers learned ${body.learned.join(", ") || "nothing (short text, no media)"}`
      : "; nothing learned: the post is no longer on the posts topic";
  }
  say(`${VERDICT_NAMES[verdict]}: recorded as ${me.user}${learned}`, false);
  const next = verdict === "note" ? alertId : nextAfter(alertId);
  place(body.alert);
  if (next) select(next);
}

function move(step) {
  const items = [...queue.children];
  if (!items.length) return;
  const at = items.findIndex((item) => item.dataset.alertId === selected);
  const target = items[Math.min(items.length - 1, Math.max(0, at + step))];
  select(target.dataset.alertId);
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = event.target.closest && event.target.closest("input, textarea, select");
  if (typing) return;
  if (event.key === "j") move(1);
  else if (event.key === "k") move(-1);
  else if (KEYS[event.key] && selected) decide(selected, KEYS[event.key]);
  else if (event.key === "n") {
    const note = document.getElementById("note");
    if (note) {
      event.preventDefault();
      note.focus();
    }
  } else return;
  event.preventDefault();
});

for (const select of Object.values(filters)) select.addEventListener("change", loadQueue);

function listen() {
  const events = new EventSource("/events");
  events.addEventListener("open", async () => {
    status.dataset.state = "live";
    status.textContent = "live";
    // after a reconnect (a night, a restart of the server) the queue is loaded whole again
    await refreshMe();
    await loadQueue();
  });
  events.addEventListener("error", async () => {
    status.dataset.state = "lost";
    status.textContent = "reconnecting…";
    if (events.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // refused (signed out, the server restarted): sign in again, or try again shortly
    events.close();
    if (await refreshMe()) setTimeout(listen, 2000);
    else status.textContent = "signed out: open the console's sign-in link again";
  });
  for (const name of ["alert", "decision"]) {
    events.addEventListener(name, (event) => {
      try {
        const alert = JSON.parse(event.data);
        place(alert);
        if (name === "decision" && alert.alert_id === selected) select(selected);
      } catch (error) {
        console.warn("unreadable event", error);
      }
    });
  }
  events.addEventListener("reload", loadQueue);
}

refreshMe().then(listen);
