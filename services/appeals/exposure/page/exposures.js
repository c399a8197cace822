// The exposure board page: loads /public/v1/exposures a page at a time and lists the cases. Text goes in with
// textContent only, never as HTML: nothing a case holds can run here.
(function () {
  "use strict";

  var PER_PAGE = 20;
  var board = document.getElementById("board");
  var summary = document.getElementById("summary");
  var error = document.getElementById("error");
  var more = document.getElementById("more");
  var next = 1;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function field(list, label, value) {
    if (value === undefined || value === null || value === "") return;
    list.appendChild(el("dt", null, label));
    list.appendChild(el("dd", null, value));
  }

  function card(item) {
    var li = el("li", "case " + (item.rectified ? "done" : "open"));
    var head = el("div", "case-head");
    head.appendChild(el("span", "state", item.state));
    head.appendChild(el("span", "category", item.item_name || item.category_name || "其他"));
    if (item.kind_zh) head.appendChild(el("span", "kind", item.kind_zh));
    li.appendChild(head);
    li.appendChild(el("p", "problem", item.problem));
    var facts = el("dl", "facts");
    field(facts, "责任单位", item.department_name);
    field(facts, "所在街道", item.town_street_name);
    field(facts, "曝光日期", item.exposed_at);
    field(facts, "督办期限", item.act_by);
    field(facts, "办结日期", item.closed_at);
    field(facts, "编号", item.public_id);
    li.appendChild(facts);
    if (item.rectification) {
      var done = el("div", "rectification");
      done.appendChild(el("h3", null, "整改情况"));
      done.appendChild(el("p", null, item.rectification));
      li.appendChild(done);
    }
    return li;
  }

  function load() {
    more.disabled = true;
    error.hidden = true;
    var url = "/public/v1/exposures?page=" + next + "&per_page=" + PER_PAGE;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "omit" })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        data.items.forEach(function (item) { board.appendChild(card(item)); });
        summary.textContent = data.total ? "共 " + data.total + " 件曝光案件" : "暂无曝光案件";
        next = data.page + 1;
        more.hidden = data.page * data.per_page >= data.total;
        more.disabled = false;
      })
      .catch(function () {
        error.textContent = "加载失败，请稍后重试。";
        error.hidden = false;
        if (!board.children.length) summary.textContent = "";
        more.hidden = false;
        more.disabled = false;
      });
  }

  more.addEventListener("click", load);
  load();
})();
