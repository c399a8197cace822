// The public page (政务公开): the service guide, the progress query and the results, read from the keyless JSON
// routes of approvals. Plain script, no library; text reaches the page through textContent only.
(function () {
  "use strict";

  var LIGHT_ZH = { green: "正常办理", yellow: "即将到期", red: "已超期" };
  var KIND_ZH = { immediate: "即办件", committed: "承诺件" };
  var PER_PAGE = 20;

  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else if (k === "cls") { node.className = attrs[k]; }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  // "2026-11-02T09:30:00+08:00" → "2026-11-02 09:30" (the server writes Beijing time)
  function when(iso) { return iso ? iso.slice(0, 10) + " " + iso.slice(11, 16) : "—"; }
  function day(iso) { return iso ? iso.slice(0, 10) : "—"; }

  function errorText(status, body) {
    if (body && body.error && body.error.message_zh) { return body.error.message_zh; }
    if (status === 400) { return "请检查填写的内容"; }
    if (status === 429) { return "查询过于频繁，请稍后再试"; }
    return "服务暂不可用，请稍后再试（" + status + "）";
  }

  // fetch JSON; resolves {status, body} whatever the status, rejects only when the network fails
  function request(method, url, body) {
    var init = { method: method, headers: { Accept: "application/json" }, credentials: "omit" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (data) {
        return { status: resp.status, body: data };
      });
    });
  }

  function facts(dl, rows) {
    clear(dl);
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") { return; }
      dl.appendChild(el("dt", { text: row[0] }));
      var dd = el("dd");
      if (row[1] instanceof Node) { dd.appendChild(row[1]); } else { dd.textContent = String(row[1]); }
      dl.appendChild(dd);
    });
  }

  // -- tabs ---------------------------------------------------------------------------------------------
  var TABS = ["guide", "progress", "results", "windows"];
  var loaded = {};

  function show(tab) {
    if (TABS.indexOf(tab) < 0) { tab = "guide"; }
    TABS.forEach(function (t) { $(t).hidden = t !== tab; });
    Array.prototype.forEach.call(document.querySelectorAll("#tabs a"), function (a) {
      a.classList.toggle("active", a.getAttribute("data-tab") === tab);
    });
    if (!loaded[tab]) {
      loaded[tab] = true;
      if (tab === "guide") { loadGuide(); }
      if (tab === "results") { loadResults(1); }
      if (tab === "windows") { loadWindows(); }
    }
  }

  window.addEventListener("hashchange", function () { show(location.hash.slice(1)); });

  // -- the service guide ----------------------------------------------------------------------------------
  var departmentsFilled = false;

  function fillDepartments(items) {
    if (departmentsFilled) { return; }
    departmentsFilled = true;
    var seen = {};
    items.forEach(function (i) { seen[i.department] = i.department_name || i.department; });
    Object.keys(seen).sort().forEach(function (code) {
      ["guide-department", "results-department"].forEach(function (id) {
        $(id).appendChild(el("option", { value: code, text: seen[code] }));
      });
    });
  }

  function limitText(days) { return days === null || days === undefined ? null : days + " 个工作日"; }

  function loadGuide() {
    var q = $("guide-q").value.trim();
    var department = $("guide-department").value;
    var params = new URLSearchParams();
    if (q) { params.set("q", q); }
    if (department) { params.set("department", department); }
    $("guide-error").textContent = "";
    $("guide-detail").hidden = true;
    $("guide-list").hidden = false;
    request("GET", "/public/v1/guide" + (params.toString() ? "?" + params.toString() : "")).then(function (r) {
      if (r.status !== 200) { $("guide-error").textContent = errorText(r.status, r.body); return; }
      if (!q && !department) { fillDepartments(r.body.items); }
      var list = $("guide-list");
      clear(list);
      $("guide-count").textContent = "共 " + r.body.total + " 个事项";
      r.body.items.forEach(function (item) {
        var li = el("li", { cls: "clickable", tabindex: "0", role: "button", "data-code": item.code }, [
          el("div", { cls: "title", text: item.name }),
          el("div", { cls: "meta", text: (item.department_name || item.department) + " · " +
            (KIND_ZH[item.kind] || item.kind) + (item.committed_limit !== null ? " · 承诺 " + item.committed_limit +
            " 个工作日" : (item.statutory_limit !== null ? " · 法定 " + item.statutory_limit + " 个工作日" : "")) })
        ]);
        li.addEventListener("click", function () { openItem(item.code); });
        li.addEventListener("keydown", function (e) { if (e.key === "Enter") { openItem(item.code); } });
        list.appendChild(li);
      });
    }, function () { $("guide-error").textContent = "网络连接失败，请稍后再试"; });
  }

  function openItem(code) {
    $("guide-error").textContent = "";
    request("GET", "/public/v1/guide/" + encodeURIComponent(code)).then(function (r) {
      if (r.status !== 200) { $("guide-error").textContent = errorText(r.status, r.body); return; }
      var item = r.body;
      $("detail-name").textContent = item.name;
      facts($("detail-facts"), [
        ["事项编码", item.code], ["办理部门", item.department_name || item.department],
        ["办件类型", KIND_ZH[item.kind] || item.kind], ["法定时限", limitText(item.statutory_limit)],
        ["承诺时限", limitText(item.committed_limit)], ["办理地点", item.handling_place || "请咨询政务服务中心"],
        ["窗口审批", item.window_decides ? "窗口现场决定（充分授权）" : "窗口受理，部门审批"],
        ["联合审批", item.joint ? "是（多部门联合审批）" : "否"],
        ["结果公开", item.public_results ? "审批结果依法公开" : "不公开"]
      ]);
      var materials = $("detail-materials");
      clear(materials);
      if (!item.materials.length) { materials.appendChild(el("li", { text: "无需提交材料" })); }
      item.materials.forEach(function (m) { materials.appendChild(el("li", { text: m.name })); });
      $("guide-list").hidden = true;
      $("guide-count").textContent = "";
      $("guide-detail").hidden = false;
    }, function () { $("guide-error").textContent = "网络连接失败，请稍后再试"; });
  }

  $("guide-form").addEventListener("submit", function (e) { e.preventDefault(); loadGuide(); });
  $("guide-back").addEventListener("click", function () {
    $("guide-detail").hidden = true;
    $("guide-list").hidden = false;
  });

  // -- the progress query ---------------------------------------------------------------------------------
  $("progress-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var no = $("application-no").value.trim().toUpperCase();
    var code = $("query-code").value.trim().toUpperCase();
    $("progress-error").textContent = "";
    $("progress-result").hidden = true;
    asked = null;
    if (!no || !code) { $("progress-error").textContent = "请填写办件编号和查询码"; return; }
    var button = e.target.querySelector("button");
    button.disabled = true;
    request("POST", "/public/v1/progress", { application_no: no, query_code: code }).then(function (r) {
      button.disabled = false;
      if (r.status !== 200) { $("progress-error").textContent = errorText(r.status, r.body); return; }
      asked = { no: no, code: code };
      showProgress(r.body);
      showReview(r.body);
    }, function () {
      button.disabled = false;
      $("progress-error").textContent = "网络连接失败，请稍后再试";
    });
  });

  // -- the review (好差评) of an application with an outcome, by the same number and code -------------------
  var REVIEWABLE = ["refused", "decided", "delivered", "withdrawn", "terminated", "abandoned"];
  var BAD = ["unsatisfied", "very_unsatisfied"];
  var asked = null; // the number and code of the last answered query, for the review; kept in this page only

  function showReview(p) {
    var form = $("review-form");
    form.reset();
    form.hidden = false;
    $("review-aspects").hidden = true;
    $("review-message").textContent = "";
    $("review-error").textContent = "";
    $("review").hidden = REVIEWABLE.indexOf(p.state) < 0;
  }

  $("review-form").addEventListener("change", function () {
    var level = $("review-form").querySelector("input[name=level]:checked");
    $("review-aspects").hidden = !level || BAD.indexOf(level.value) < 0;
  });

  $("review-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var form = e.target;
    var level = form.querySelector("input[name=level]:checked");
    $("review-error").textContent = "";
    if (!level || !asked) { $("review-error").textContent = "请选择评价等级"; return; }
    var aspects = [];
    if (BAD.indexOf(level.value) >= 0) {
      Array.prototype.forEach.call(form.querySelectorAll("input[name=aspect]:checked"), function (c) {
        aspects.push(c.value);
      });
    }
    var text = $("review-text").value.trim();
    var button = form.querySelector("button");
    button.disabled = true;
    request("POST", "/public/v1/reviews", { application_no: asked.no, query_code: asked.code, level: level.value,
                                            aspects: aspects, text: text || null }).then(function (r) {
      button.disabled = false;
      if (r.status !== 200 && r.status !== 201) { $("review-error").textContent = errorText(r.status, r.body); return; }
      form.hidden = true;
      $("review-message").textContent = (r.body && r.body.message_zh) || "感谢您的评价！";
    }, function () {
      button.disabled = false;
      $("review-error").textContent = "网络连接失败，请稍后再试";
    });
  });

  function showProgress(p) {
    $("progress-item").textContent = p.item_name || p.item_code;
    var badge = $("progress-state");
    badge.textContent = p.state_zh;
    badge.className = "badge" + (p.light ? " light-" + p.light : "");
    var light = null;
    if (p.light) {
      light = el("span", { cls: "badge light-" + p.light, text: LIGHT_ZH[p.light] || p.light });
    }
    var left = null;
    if (p.days_overdue) { left = "已超期 " + p.days_overdue + " 个工作日"; }
    else if (p.days_left !== null && p.days_left !== undefined && p.light) { left = "剩余 " + p.days_left + " 个工作日"; }
    var decision = p.decision_zh ? el("span", { cls: p.decision_zh === "准予许可" ? "approved" : "denied",
                                               text: p.decision_zh }) : null;
    facts($("progress-facts"), [
      ["办件编号", p.application_no], ["办理部门", p.department_name || p.department], ["办理状态", p.state_zh],
      ["申请时间", when(p.received_at)], ["受理时间", p.accepted_at ? when(p.accepted_at) : null],
      ["办结时限", p.due_at ? when(p.due_at) : null], ["时限状态", light], ["剩余时间", left],
      ["审批决定", decision], ["决定时间", p.decided_at ? when(p.decided_at) : null]
    ]);
    var steps = $("progress-steps");
    clear(steps);
    p.steps.forEach(function (s) {
      steps.appendChild(el("li", null, [el("time", { datetime: s.at, text: when(s.at) }),
                                        el("span", { cls: "step", text: s.name })]));
    });
    $("progress-result").hidden = false;
  }

  // -- the results ----------------------------------------------------------------------------------------
  var resultsPage = 1;

  function loadResults(page) {
    var params = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    ["from", "to", "department"].forEach(function (name) {
      var value = $("results-" + name).value;
      if (value) { params.set(name, value); }
    });
    $("results-error").textContent = "";
    request("GET", "/public/v1/results?" + params.toString()).then(function (r) {
      if (r.status !== 200) {
        var msg = errorText(r.status, r.body);
        if (r.status === 400 && r.body && r.body.errors) {
          msg = Object.keys(r.body.errors).map(function (k) {
            var m = r.body.errors[k];
            return String(Array.isArray(m) ? m[0] : m).split(" / ").pop();
          }).join("；");
        }
        $("results-error").textContent = msg;
        return;
      }
      resultsPage = r.body.page;
      var list = $("results-list");
      clear(list);
      $("results-count").textContent = r.body.from + " 至 " + r.body.to + "，共 " + r.body.total + " 件";
      if (!r.body.items.length) { list.appendChild(el("li", { text: "该期间没有公开的审批结果" })); }
      r.body.items.forEach(function (x) {
        list.appendChild(el("li", null, [
          el("div", { cls: "title", text: x.item_name }),
          el("div", { cls: "meta", text: "申请人：" + x.applicant }),
          el("div", { cls: "meta" }, [el("span", { cls: x.approved ? "approved" : "denied", text: x.decision_zh }),
                                      document.createTextNode(" · " + day(x.decided_at) + " · " +
                                        (x.department_name || x.department) + " · " + x.application_no)])
        ]));
      });
      var pages = Math.max(1, Math.ceil(r.body.total / r.body.per_page));
      $("results-page").textContent = "第 " + r.body.page + " / " + pages + " 页";
      $("results-prev").disabled = r.body.page <= 1;
      $("results-next").disabled = r.body.page >= pages;
    }, function () { $("results-error").textContent = "网络连接失败，请稍后再试"; });
  }

  $("results-form").addEventListener("submit", function (e) { e.preventDefault(); loadResults(1); });
  $("results-prev").addEventListener("click", function () { loadResults(resultsPage - 1); });
  $("results-next").addEventListener("click", function () { loadResults(resultsPage + 1); });

  // -- the satisfied windows (群众满意窗口) ------------------------------------------------------------------
  var POINT_ZH = { city_center: "市民中心", town_street_center: "镇街便民服务中心", village_agent: "村（社区）代办点" };

  function loadWindows() {
    $("windows-error").textContent = "";
    request("GET", "/public/v1/satisfied-windows").then(function (r) {
      if (r.status !== 200) { $("windows-error").textContent = errorText(r.status, r.body); return; }
      var list = $("windows-list");
      clear(list);
      $("windows-count").textContent = "共 " + r.body.total + " 个";
      if (!r.body.items.length) { list.appendChild(el("li", { text: "暂无命名的群众满意窗口" })); }
      r.body.items.forEach(function (w) {
        list.appendChild(el("li", null, [
          el("div", { cls: "title", text: w.window_name }),
          el("div", { cls: "meta", text: (w.department_name || "综合窗口") + " · " +
                                         (POINT_ZH[w.service_point] || w.service_point) }),
          el("div", { cls: "meta", text: w.title_zh + "（" + w.period + "）· 命名于 " + day(w.named_on) })
        ]));
      });
    }, function () { $("windows-error").textContent = "网络连接失败，请稍后再试"; });
  }

  // the guide also names the departments of both filters: read it whichever tab opens first
  loaded.guide = true;
  loadGuide();
  show(location.hash.slice(1));
}());
