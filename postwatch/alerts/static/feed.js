// The live alert feed: alerts arrive as server-sent events, newest first; the filters hide
// alerts below a severity, of other rules, or from other sources. Everything an alert says is
// put on the page as text (never as HTML), since it comes from public posts.
"use strict";

const SEVERITIES = ["info", "low", "medium", "high", "critical"];
const MAX_SHOWN = 1000;

const list = document.getElementById("alerts");
const empty = document.getElementById("empty");
const counts = document.getElementById("counts");
const status = document.getElementById("status");
const severityFilter = document.getElementById("filter-severity");
const ruleFilter = document.getElementById("filter-rule");
const sourceFilter = document.getElementById("filter-source");
const seen = new Set();

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function addOption(select, value) {
  if ([...select.options].some((option) => option.value === value)) return;
  select.append(new Option(value, value));
}

// The excerpt as text nodes, with every occurrence of what matched in <mark>.
function highlighted(excerpt, evidence) {
  const terms = evidence
    .filter((item) => item.field === "text" && typeof item.matched === "string" && item.matched)
    .map((item) => item.matched);
  const ranges = [];
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
  const out = el("p", "excerpt");
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

function card(alert) {
  const rule = alert.rule || {};
  const post = alert.post || {};
  const author = post.author || {};
  const severity = SEVERITIES.includes(rule.severity) ? rule.severity : "info";
  const item = el("li", "alert");
  item.dataset.severity = severity;
  item.dataset.rule = rule.id || "";
  item.dataset.source = post.source || "";
  item.dataset.alertId = alert.alert_id || "";

  const head = el("div", "head");
  head.append(el("span", `severity ${severity}`, severity));
  if (alert.kind === "summary") head.append(el("span", "tag summary", "summary"));
  else if (alert.kind && alert.kind !== "rule") head.append(el("span", "tag", alert.kind));
  if (alert.shadow) head.append(el("span", "tag shadow", "shadow"));
  head.append(el("span", "rule-id", rule.id));
  head.append(el("span", "title", rule.title));
  item.append(head);

  const who = author.handle ? `@${author.handle}` : author.id;
  const when = alert.detected_at ? new Date(alert.detected_at).toLocaleString() : "";
  item.append(el("div", "meta", `${who} · ${post.source} · pack ${rule.pack} v${rule.version} · ${when}`));
  item.append(highlighted(String(post.excerpt || ""), alert.evidence || []));

  const evidence = el("ul", "evidence");
  for (const piece of alert.evidence || []) {
    const entry = el("li", "", `${piece.type} in ${piece.field}: `);
    entry.append(el("code", "", piece.value));
    if (piece.type === "alert" && piece.matched) entry.append(` (${piece.matched})`);
    evidence.append(entry);
  }
  item.append(evidence);

  if (alert.kind === "summary") {
    const ids = alert.suppressed_post_ids || [];
    const more = alert.suppressed_count > ids.length ? ` and ${alert.suppressed_count - ids.length} more` : "";
    const tags = rule.tags || [];
    const said = tags.includes("campaign") || tags.includes("successor")
      ? `${alert.suppressed_count} post(s) joined since` : `collapsed ${alert.suppressed_count} repeat(s)`;
    item.append(el("p", "collapsed", `${said}: ${ids.join(", ")}${more}`));
  }
  const href = post.url ? safeLink(post.url) : null;
  if (href) {
    const line = el("div", "link");
    const anchor = el("a", "", href);
    anchor.href = href;
    anchor.target = "_blank";
    anchor.rel = "noopener noreferrer";
    line.append(anchor);
    item.append(line);
  }
  return item;
}

function passes(item) {
  const min = SEVERITIES.indexOf(severityFilter.value);
  if (SEVERITIES.indexOf(item.dataset.severity) < min) return false;
  if (ruleFilter.value && item.dataset.rule !== ruleFilter.value) return false;
  return !sourceFilter.value || item.dataset.source === sourceFilter.value;
}

function refresh() {
  let shown = 0;
  for (const item of list.children) {
    item.hidden = !passes(item);
    if (!item.hidden) shown += 1;
  }
  const total = list.children.length;
  counts.textContent = `${total} alert${total === 1 ? "" : "s"}, ${shown} shown`;
  empty.hidden = total > 0;
}

function add(alert) {
  // alert ids are deterministic: the same id again is a redelivery of an alert already shown
  if (!alert || seen.has(alert.alert_id)) return;
  seen.add(alert.alert_id);
  const item = card(alert);
  if (item.dataset.rule) addOption(ruleFilter, item.dataset.rule);
  if (item.dataset.source) addOption(sourceFilter, item.dataset.source);
  list.prepend(item);
  while (list.children.length > MAX_SHOWN) list.lastElementChild.remove();
  refresh();
}

for (const select of [severityFilter, ruleFilter, sourceFilter]) {
  select.addEventListener("change", refresh);
}

const events = new EventSource("/events");
events.addEventListener("alert", (event) => {
  try {
    add(JSON.parse(event.data));
  } catch (error) {
    console.warn("unreadable alert event", error);
  }
});
events.addEventListener("open", () => {
  status.dataset.state = "live";
  status.textContent = "live";
});
events.addEventListener("error", () => {
  status.dataset.state = "lost";
  status.textContent = "reconnecting…";
});
refresh();
