// The monitor console in the browser: asks for a monitor key (kept in sessionStorage only), loads the board,
// the alerts and the feed, follows the live stream (server-sent events, opened with a short-lived token since
// EventSource cannot send the key), and sends acknowledge / resolve, which the alert's owner answers by event.
// Above them, while any case or application waits for a calendar year not loaded, a notice says how many.
// The departments' rectification reports waiting for review (待审核整改报告) have a section of their own, with
// accept / send back, which approvals carries out and answers by event.
// Key projects' accountability alerts (问责) and joint approval cases' clock alerts are approvals' alerts like the
// others: a subject filter (审批件 / 重点项目 / 联合审批 / 诉求) narrows the list and the feed, and each board card
// counts them apart.
"use strict";

const KEY_ITEM = "xiaoneng.console.key";
const LEVEL_ZH = { warning: "预警", yellow: "黄牌", red: "红牌", irregularity: "纠错", emergency: "紧急", accountability: "问责" };
const ACTION_ZH = { acknowledge: "确认", resolve: "办结" };
const SUBJECT_ZH = { application: "审批件", project: "重点项目", joint_approval: "联合审批", inspection: "执法检查",
  penalty: "行政处罚", appeal: "诉求" };
// the subjects counted and tagged apart from applications and appeals (the rest)
const APART = ["project", "joint_approval", "inspection", "penalty"];
const $ = (id) => document.getElementById(id);

let key = sessionStorage.getItem(KEY_ITEM);
let source = null;
let lastFeedId = 0;
let boardTimer = null;
let reconnectTimer = null;
let resolving = null;
let awaiting = null;  // the command last sent, until its owner answers
let calendarTimer = null;
const CALENDAR_POLL_MS = 15000;  // the services report their count at most every CALENDAR_CHECK_SECONDS anyway

class AuthError extends Error {}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function shortTime(iso) {
  // the server speaks Asia/Shanghai: "2026-11-02T10:00:00+08:00" → "11-02 10:00:00"
  return iso ? iso.slice(5, 19).replace("T", " ") : "";
}

async function call(method, path, body) {
  const headers = { Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = resp.status === 204 ? null : await resp.json().catch(() => null);
  if (resp.status === 401 || resp.status === 403) {
    throw new AuthError((data && data.error && data.error.message_zh) || "密钥无效");
  }
  if (!resp.ok) {
    const err = data && (data.error ? data.error.message_zh || data.error.message : JSON.stringify(data.errors));
    throw new Error(err || `请求失败（${resp.status}）`);
  }
  return data;
}

function setStatus(kind, text) {
  const s = $("status");
  s.className = `status ${kind}`;
  s.textContent = text;
}

function say(text) {
  $("action-message").textContent = text;
}

// -- login ----------------------------------------------------------------------------------------------------

async function login(candidate) {
  key = candidate;
  try {
    await call("POST", "/api/v1/console/stream-tokens");  // proves the key is a monitor's
  } catch (err) {
    key = null;
    $("login-error").textContent = err instanceof AuthError ? err.message : `无法登录：${err.message}`;
    return;
  }
  sessionStorage.setItem(KEY_ITEM, candidate);
  $("login-error").textContent = "";
  $("login").hidden = true;
  $("main").hidden = false;
  $("logout").hidden = false;
  await refresh();
  openStream();
  clearInterval(calendarTimer);
  calendarTimer = setInterval(() => Promise.all([loadCalendar(), loadRectifications()]).catch(handle),
    CALENDAR_POLL_MS);
}

function logout(message) {
  sessionStorage.removeItem(KEY_ITEM);
  key = null;
  if (source) source.close();
  source = null;
  clearTimeout(reconnectTimer);
  clearInterval(calendarTimer);
  $("main").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setStatus("offline", "未连接");
}

function handle(err) {
  if (err instanceof AuthError) logout(err.message);
  else say(err.message);
}

// -- loading --------------------------------------------------------------------------------------------------

// the subject filter: not in the page's markup (served as it is), added beside the level filter
function subjectFilter() {
  let select = $("filter-subject");
  if (!select) {
    select = el("select", { id: "filter-subject" }, el("option", { value: "" }, "全部类别"),
      ...Object.entries(SUBJECT_ZH).map(([value, label]) => el("option", { value }, label)));
    select.addEventListener("change", refresh);
    $("filter-level").closest("label").after(el("label", {}, "类别 ", select));
  }
  return select;
}

function filters() {
  return { department: $("filter-department").value, level: $("filter-level").value, state: $("filter-state").value,
    subject: subjectFilter().value };
}

function matches(alert) {
  const f = filters();
  if (f.department && alert.department !== f.department) return false;
  if (f.level && alert.level !== f.level) return false;
  if (f.subject && alert.subject !== f.subject) return false;
  if (f.state === "active") return alert.state !== "resolved";
  return f.state === "all" || alert.state === f.state;
}

async function refresh() {
  try {
    const f = filters();
    const query = new URLSearchParams({ state: f.state });
    if (f.department) query.set("department", f.department);
    if (f.level) query.set("level", f.level);
    if (f.subject) query.set("subject", f.subject);
    const [alerts, feed] = await Promise.all([
      call("GET", `/api/v1/console/alerts?${query}`),
      call("GET", "/api/v1/console/feed?limit=50"),
      loadBoard(),
      loadCalendar(),
      loadRectifications(),
    ]);
    $("alerts").replaceChildren(...alerts.map(alertRow));
    updateAlertCount();
    $("feed").replaceChildren();
    for (const line of feed) addFeedLine(line, false);
    if (feed.length) lastFeedId = Math.max(lastFeedId, feed[feed.length - 1].id);
  } catch (err) {
    handle(err);
  }
}

async function loadBoard() {
  const board = await call("GET", "/api/v1/console/board");
  const selected = $("filter-department").value;
  $("board").replaceChildren(...board.map((d) => {
    const counts = Object.entries(d.counts).filter(([, n]) => n > 0)
      .map(([level, n]) => el("span", {}, `${LEVEL_ZH[level] || level} `, el("b", {}, n), "　"));
    // projects' and joint cases' alerts counted apart (applications and appeals are the rest)
    const subjects = Object.entries(d.subjects || {}).filter(([s, n]) => n > 0 && APART.includes(s))
      .map(([s, n]) => el("span", { className: "subject", "data-subject": s }, `${SUBJECT_ZH[s]} `, el("b", {}, n), "　"));
    return el("div", {
      className: `dept${d.department === selected ? " selected" : ""}`, "data-department": d.department,
      "data-light": d.light, title: "点击按部门筛选",
      onclick: () => { $("filter-department").value = d.department === selected ? "" : d.department; refresh(); },
    }, el("div", { className: "name" }, el("span", { className: `light ${d.light}` }), d.department_name || d.department || "（未指定部门）"),
    el("div", { className: "counts" }, ...(counts.length ? counts : ["无未办结告警"])),
    ...(subjects.length ? [el("div", { className: "counts subjects" }, ...subjects)] : []));
  }));
  $("board-empty").hidden = board.length > 0;
  const options = [el("option", { value: "" }, "全部部门"),
    ...board.map((d) => el("option", { value: d.department }, d.department_name || d.department || "（未指定部门）"))];
  $("filter-department").replaceChildren(...options);
  $("filter-department").value = selected;
  return board;
}

// Cases and applications without a due time because next year's holiday schedule is not loaded: one line per
// department (service node), gone when none waits.
async function loadCalendar() {
  const waiting = await call("GET", "/api/v1/console/calendar");
  let box = $("calendar-waiting");
  if (!box) {
    box = el("section", { id: "calendar-waiting", className: "panel calendar-waiting", role: "status" });
    $("main").prepend(box);
  }
  box.replaceChildren(...waiting.map((w) => el("p", { "data-department": w.department || "", "data-waiting": w.waiting },
    w.department ? el("b", {}, `${w.department_name || w.department}：`) : "", w.text_zh)));
  box.hidden = waiting.length === 0;
  return waiting;
}

// -- rectification reports waiting for review --------------------------------------------------------------------

let rectificationTimer = null;
let returning = null;  // the report being sent back, while its dialog is open

function rectificationSection() {
  let box = $("rectifications");
  if (!box) {
    box = el("section", { id: "rectifications", className: "panel rectifications" },
      el("h2", {}, "待审核整改报告 ", el("b", { id: "rectification-count" }, "0")),
      el("table", {},
        el("thead", {}, el("tr", {}, ...["级别", "部门", "编号", "轮次", "提交时间", "整改期限", "操作"]
          .map((h) => el("th", {}, h)))),
        el("tbody", { id: "rectification-rows" })),
      el("p", { id: "rectifications-empty", className: "empty" }, "暂无待审核的整改报告"));
    document.querySelector("#main .columns").before(box);
  }
  return box;
}

function rectificationRow(r) {
  const actions = el("td", { className: "actions" });
  if (r.pending_decision) {
    actions.append(el("span", { className: "hint pending" }, `${r.pending_decision === "accept" ? "采纳" : "退回"}处理中…`));
  } else {
    actions.append(
      el("button", { type: "button", className: "accept", onclick: () => acceptRectification(r) }, "采纳"),
      el("button", { type: "button", className: "send-back", onclick: () => openReturn(r) }, "退回"));
  }
  return el("tr", { "data-id": r.id, "data-alert-id": r.alert_id, "data-state": r.state },
    el("td", {}, el("span", { className: `level ${r.level}` }, r.level_zh || LEVEL_ZH[r.level] || r.level)),
    el("td", { title: r.department || "" }, r.department_name || r.department || "—"),
    el("td", {}, r.ref_no || "—"),
    el("td", {}, `第 ${r.round} 次`),
    el("td", {}, shortTime(r.submitted_at)),
    el("td", {}, shortTime(r.due_at) || "—", r.overdue ? el("div", { className: "hint overdue" }, "已逾期") : ""),
    actions);
}

async function loadRectifications() {
  const rows = await call("GET", "/api/v1/console/rectifications?state=submitted");
  rectificationSection();
  $("rectification-rows").replaceChildren(...rows.map(rectificationRow));
  $("rectification-count").textContent = String(rows.length);
  $("rectifications-empty").hidden = rows.length > 0;
  return rows;
}

function scheduleRectifications() {
  clearTimeout(rectificationTimer);
  rectificationTimer = setTimeout(() => loadRectifications().catch(handle), 300);
}

async function acceptRectification(r) {
  try {
    await call("POST", `/api/v1/console/rectifications/${r.id}/accept`, {});
    say(`已提交采纳整改报告：${r.ref_no || r.alert_id}，等待审批系统回复`);
    await loadRectifications();
  } catch (err) {
    handle(err);
  }
}

function returnDialog() {
  let dialog = $("return-dialog");
  if (!dialog) {
    dialog = el("dialog", { id: "return-dialog" },
      el("form", { method: "dialog", id: "return-form" },
        el("h3", {}, "退回整改报告 ", el("span", { id: "return-ref" })),
        el("label", { for: "return-reason" }, "退回理由（必填）"),
        el("textarea", { id: "return-reason", rows: "3", minlength: "2", maxlength: "2000", required: "" }),
        el("div", { className: "dialog-buttons" },
          el("button", { type: "button", id: "return-cancel", onclick: () => dialog.close() }, "取消"),
          el("button", { type: "submit", id: "return-submit", value: "ok" }, "提交退回"))));
    document.body.append(dialog);
    $("return-form").addEventListener("submit", submitReturn);
  }
  return dialog;
}

function openReturn(r) {
  returning = r;
  const dialog = returnDialog();
  $("return-ref").textContent = r.ref_no || r.alert_id;
  $("return-reason").value = "";
  dialog.showModal();
}

async function submitReturn(event) {
  event.preventDefault();
  const r = returning;
  const reason = $("return-reason").value.trim();
  if (reason.length < 2) {
    $("return-reason").focus();
    return;
  }
  $("return-dialog").close();
  try {
    await call("POST", `/api/v1/console/rectifications/${r.id}/return`, { reason });
    say(`已提交退回整改报告：${r.ref_no || r.alert_id}，等待审批系统回复`);
    await loadRectifications();
  } catch (err) {
    handle(err);
  }
}

function scheduleBoard() {
  clearTimeout(boardTimer);
  boardTimer = setTimeout(() => loadBoard().catch(handle), 300);
}

// -- rows -----------------------------------------------------------------------------------------------------

function alertRow(a) {
  const actions = el("td", { className: "actions" });
  if (!a.actionable) {
    actions.append(el("span", { className: "hint" }, "在诉求系统中办理"));
  } else if (a.pending_action) {
    actions.append(el("span", { className: "hint pending" }, `${ACTION_ZH[a.pending_action]}处理中…`));
  } else {
    if (a.state === "open") {
      actions.append(el("button", { type: "button", className: "ack", onclick: () => acknowledge(a) }, "确认"));
    }
    if (a.state !== "resolved") {
      actions.append(el("button", { type: "button", className: "resolve", onclick: () => openResolve(a) }, "办结"));
    }
  }
  const who = a.state === "resolved" ? a.resolved_by : a.state === "acknowledged" ? a.acknowledged_by : null;
  const subject = APART.includes(a.subject)
    ? el("div", { className: `hint subject ${a.subject}` }, a.subject_zh || SUBJECT_ZH[a.subject]) : "";
  return el("tr", {
    "data-id": a.id, "data-owner": a.owner, "data-alert-id": a.alert_id, "data-ref-no": a.ref_no || "",
    "data-state": a.state, "data-subject": a.subject || "", "data-version": "0", className: `state-${a.state}`,
  },
  el("td", {}, el("span", { className: `level ${a.level}` }, a.level_zh || LEVEL_ZH[a.level] || a.level)),
  el("td", { title: a.department || "" }, a.department_name || a.department || (a.subject === "joint_approval" ? "多部门" : "—")),
  el("td", {}, a.ref_no || "—", subject),
  el("td", { title: a.rule || "" }, a.title_zh, a.note ? el("div", { className: "hint" }, `说明：${a.note}`) : ""),
  el("td", {}, shortTime(a.raised_at)),
  el("td", { className: `state ${a.state}` }, a.state_zh, who ? el("div", { className: "hint" }, who) : ""),
  actions);
}

function rowVersion(id) {
  const row = document.querySelector(`#alerts tr[data-id="${id}"]`);
  return row ? row.dataset.version : null;
}

// `version`: the feed line that brought this state (0: loaded, or a command's own answer)
function upsertRow(a, fresh, version = 0) {
  const old = document.querySelector(`#alerts tr[data-id="${a.id}"]`);
  if (!matches(a)) {
    if (old) old.remove();
  } else {
    const row = alertRow(a);
    row.dataset.version = String(version);
    if (fresh) row.classList.add("fresh");
    if (old) old.replaceWith(row);
    else $("alerts").prepend(row);
  }
  updateAlertCount();
}

function updateAlertCount() {
  const n = $("alerts").children.length;
  $("alert-count").textContent = n ? `${n} 条` : "";
  $("alerts-empty").hidden = n > 0;
}

function addFeedLine(line, fresh) {
  const f = filters();
  if ((f.department && line.alert.department !== f.department) || (f.level && line.alert.level !== f.level)
    || (f.subject && line.alert.subject !== f.subject)) return;
  const item = el("li", { "data-feed-id": line.id, className: fresh ? "fresh" : "" },
    el("time", {}, shortTime(line.occurred_at)), line.text_zh);
  $("feed").prepend(item);
  while ($("feed").children.length > 200) $("feed").lastChild.remove();
}

// -- live stream ----------------------------------------------------------------------------------------------

async function openStream() {
  clearTimeout(reconnectTimer);
  if (!key) return;
  setStatus("connecting", "连接中…");
  let grant;
  try {
    grant = await call("POST", "/api/v1/console/stream-tokens");
  } catch (err) {
    if (err instanceof AuthError) return logout(err.message);
    setStatus("offline", "连接中断，稍后重试");
    reconnectTimer = setTimeout(openStream, 3000);
    return;
  }
  if (source) source.close();
  const url = `/api/v1/console/stream?token=${encodeURIComponent(grant.token)}&after=${lastFeedId}`;
  source = new EventSource(url);
  source.addEventListener("open", () => setStatus("online", "已连接 · 实时"));
  source.addEventListener("alert", (e) => {
    const line = JSON.parse(e.data);
    if (line.id <= lastFeedId) return;
    lastFeedId = line.id;
    addFeedLine(line, true);
    upsertRow(line.alert, true, line.id);
    scheduleBoard();
    if (line.event_type.startsWith("monitor.rectification_")) scheduleRectifications();
    if (awaiting && awaiting.id === line.alert.id && !line.alert.pending_action) {
      say(`审批系统已${ACTION_ZH[awaiting.action]}：${line.alert.ref_no || line.alert.alert_id}`);
      awaiting = null;
    }
  });
  source.addEventListener("revoked", () => logout("密钥已吊销"));
  source.addEventListener("error", () => {
    // the token is short-lived: reconnect with a new one (and from the last line seen) rather than let
    // EventSource retry with the old URL
    source.close();
    source = null;
    setStatus("offline", "连接中断，正在重连…");
    reconnectTimer = setTimeout(openStream, 2000);
  });
}

// -- commands -------------------------------------------------------------------------------------------------

// The command's answer says "sent"; the owner's event may have come through the stream before it, and then
// the row already shows the newer state: keep that.
function showSent(out, versionBefore) {
  if (rowVersion(out.id) === versionBefore) upsertRow(out, false, versionBefore ?? 0);
}

async function acknowledge(a) {
  const before = rowVersion(a.id);
  try {
    const out = await call("POST", `/api/v1/console/alerts/${a.id}/acknowledge`, {});
    showSent(out, before);
    awaiting = { id: a.id, action: "acknowledge" };
    say(`已提交确认：${a.ref_no || a.alert_id}，等待审批系统回复`);
  } catch (err) {
    handle(err);
  }
}

function openResolve(a) {
  resolving = a;
  $("resolve-ref").textContent = a.ref_no || a.alert_id;
  $("resolve-note").value = "";
  $("resolve-dialog").showModal();
}

async function submitResolve(event) {
  event.preventDefault();
  const a = resolving;
  const note = $("resolve-note").value.trim();
  if (note.length < 2) {
    $("resolve-note").focus();
    return;
  }
  $("resolve-dialog").close();
  const before = rowVersion(a.id);
  try {
    const out = await call("POST", `/api/v1/console/alerts/${a.id}/resolve`, { note });
    showSent(out, before);
    awaiting = { id: a.id, action: "resolve" };
    say(`已提交办结：${a.ref_no || a.alert_id}，等待审批系统回复`);
  } catch (err) {
    handle(err);
  }
}

// -- wiring ---------------------------------------------------------------------------------------------------

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  login($("key").value.trim());
});
$("logout").addEventListener("click", () => logout(""));
for (const id of ["filter-department", "filter-level", "filter-state"]) $(id).addEventListener("change", refresh);
$("resolve-form").addEventListener("submit", submitResolve);
$("resolve-cancel").addEventListener("click", () => $("resolve-dialog").close());

if (key) login(key);
