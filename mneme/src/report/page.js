// mneme report: filter and sort the task list, and render a task's story on demand from its
// events (kept as inert JSON in the page until the task is chosen). Model text is only ever set
// as textContent, never parsed as HTML.
(function () {
  "use strict";
  const table = document.getElementById("tasks");
  if (!table) return;
  const tbody = table.tBodies[0];
  const rows = Array.from(tbody.rows);
  const query = document.getElementById("q");
  const show = document.getElementById("show");
  const shown = document.getElementById("shown");
  const story = document.getElementById("story");
  const PAGE = 20; // chapters (attempts or iterations) rendered at a time

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // ---- the list: filter and sort
  function keep(tr) {
    const d = tr.dataset;
    const q = query.value.trim().toLowerCase();
    if (q && !d.task.toLowerCase().includes(q)) return false;
    switch (show.value) {
      case "passed": return d.passed === "1";
      case "failed": return d.passed !== "1";
      case "fixed": case "broken": return d.flip === show.value;
      case "retried": return d.retried === "1";
      case "error": return d.error === "1";
      default: return true;
    }
  }
  function filter() {
    let n = 0;
    for (const tr of rows) {
      tr.hidden = !keep(tr);
      if (!tr.hidden) n++;
    }
    shown.textContent = n + " of " + rows.length + " tasks";
  }
  query.addEventListener("input", filter);
  show.addEventListener("change", filter);

  let sortedBy = -1, ascending = true;
  for (const th of table.tHead.rows[0].cells) {
    th.addEventListener("click", function () {
      const i = th.cellIndex;
      ascending = sortedBy === i ? !ascending : true;
      sortedBy = i;
      const numeric = th.dataset.kind === "num";
      rows.sort(function (a, b) {
        const x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
        const c = numeric ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
        return ascending ? c : -c;
      });
      tbody.append.apply(tbody, rows);
      for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    });
  }

  // ---- stories
  const data = {};
  for (const s of document.querySelectorAll("#stories script")) data[s.dataset.task] = s;

  function chapterOf(e) {
    if (e.iteration !== undefined) return e.iteration;
    if (e.trial !== undefined) return e.trial;
    return 0;
  }
  function chapters(events) {
    const list = [], byKey = new Map();
    for (const e of events) {
      const k = chapterOf(e);
      if (!byKey.has(k)) {
        const c = { key: k, events: [] };
        byKey.set(k, c);
        list.push(c);
      }
      byKey.get(k).events.push(e);
    }
    return list;
  }
  function chapterTitle(c) {
    const session = c.events.some(function (e) { return e.type === "iteration" || e.type === "skill_write"; });
    if (session) return "Iteration " + c.key;
    return c.key === 0 ? "Before the first attempt" : "Attempt " + c.key;
  }
  function list(title, items, sources) {
    const d = el("div");
    d.append(el("div", "role", title));
    if (!items || items.length === 0) { d.append(el("div", "hint", "none")); return d; }
    const ul = el("ul");
    items.forEach(function (text, i) {
      const li = el("li", null, text);
      if (sources && sources[i]) li.append(el("span", "hint", " — from " + sources[i]));
      ul.append(li);
    });
    d.append(ul);
    return d;
  }
  function lazyDetails(summary, fill) {
    const det = el("details");
    det.append(el("summary", null, summary));
    det.addEventListener("toggle", function () {
      if (det.open && !det.dataset.filled) { det.dataset.filled = "1"; fill(det); }
    });
    return det;
  }
  function event(e) {
    const d = el("div", "ev");
    const head = function (text) { d.append(el("div", "head", text)); };
    switch (e.type) {
      case "model_call":
        d.classList.add("call");
        head("model call: " + e.purpose + " · " + e.prompt_tokens + " + " + e.completion_tokens +
          " tokens · " + e.latency_ms + " ms" + (e.cached ? " · from the cache" : ""));
        d.append(lazyDetails("prompt as sent (" + e.messages.length + " messages)", function (det) {
          for (const m of e.messages) { det.append(el("div", "role", m.role)); det.append(el("pre", null, m.content)); }
        }));
        d.append(el("div", "role", "reply"));
        d.append(el("pre", "reply", e.reply));
        break;
      case "retrieval":
        d.classList.add("retrieval");
        head("memory retrieved");
        d.append(list("this task's earlier reflections", e.same_task));
        d.append(list("other tasks' reflections", e.other_tasks, e.other_sources));
        break;
      case "library":
        d.classList.add("library");
        head("library " + e.library);
        d.append(list("insights shown", e.insights));
        d.append(list("helpers shown", e.helpers));
        d.append(list("left out", e.left_out));
        break;
      case "action":
        d.classList.add("action");
        head("code run (" + e.kind + ")");
        d.append(el("pre", "code", e.code));
        break;
      case "evaluation":
        d.classList.add("eval", e.passed ? "pass" : "fail");
        head("internal tests: " + (e.passed ? "passed" : "not passed") + " · " + e.verdict +
          " · " + Math.round(100 * e.reward) + "% of tests");
        d.append(el("pre", "feedback", e.feedback));
        break;
      case "reflection":
        d.classList.add("reflection");
        head("reflection");
        d.append(el("pre", "reflection-text", e.text));
        break;
      case "memory_write":
        head("stored in memory: " + e.id + " (" + e.outcome + ")");
        break;
      case "trial_score":
        d.classList.add(e.passed ? "pass" : "fail");
        head("hidden tests on the attempt a run stopped here would submit: " + (e.passed ? "passed" : "failed") + " (scored after the run, never shown to the agent)");
        break;
      case "submission":
        d.classList.add(e.passed ? "pass" : "fail");
        head("submitted attempt " + e.trial + ": " + e.verdict + " by the hidden tests");
        break;
      case "iteration":
        d.classList.add(e.success ? "pass" : "fail");
        head("goal: " + e.goal + " (" + e.proposed_by + ") · " + (e.success ? "done" : "not done") +
          " in " + e.rounds + " round(s)" + (e.replayed ? " (round 1 ran skill " + e.replayed + ")" : "") + " · " + (e.achievements || []).length + " achievements · " + e.skills + " skills");
        d.append(el("pre", null, e.reason + ((e.new_achievements || []).length ? "\nnew: " + e.new_achievements.join(", ") : "")));
        break;
      case "skill_write":
        head("skill " + e.name + " v" + e.version + ": " + e.outcome);
        if (e.description) d.append(el("div", null, e.description));
        if (e.code) d.append(lazyDetails("code", function (det) { det.append(el("pre", "code", e.code)); }));
        break;
      case "task_error":
        d.classList.add("fail");
        head("error: " + e.message);
        break;
      default:
        head(String(e.type) + " (an event this report does not know; as written)");
        d.append(el("pre", null, JSON.stringify(e, null, 1)));
    }
    return d;
  }
  function open(id) {
    const script = data[id];
    story.replaceChildren();
    for (const tr of rows) tr.classList.toggle("current", tr.dataset.task === id);
    if (!script) { story.append(el("p", "notice", "No task " + id + " in this run.")); return; }
    const row = rows.find(function (tr) { return tr.dataset.task === id; });
    story.append(el("h3", null, id));
    if (row) {
      const verdict = row.cells[1].textContent, retry = row.cells[2].textContent;
      story.append(el("p", "summary", verdict + (retry ? " · " + retry + " by a retry" : "") + " · " + row.cells[3].textContent +
        " attempt(s) · " + row.cells[4].textContent + " call(s) · " + row.cells[5].textContent + " tokens"));
      if (row.dataset.why) story.append(el("pre", "why", row.dataset.why));
    }
    let events;
    try { events = JSON.parse(script.textContent); } catch (err) {
      story.append(el("p", "notice", "This task's events could not be read: " + err)); return;
    }
    if (events.length === 0) { story.append(el("p", "hint", "No events were recorded for this task.")); return; }
    const all = chapters(events);
    let next = 0;
    const more = el("button", "more");
    function page() {
      const end = Math.min(all.length, next + PAGE);
      for (; next < end; next++) {
        const c = all[next], section = el("section", "chapter");
        section.append(el("h4", null, chapterTitle(c)));
        for (const e of c.events) section.append(event(e));
        story.insertBefore(section, more);
      }
      more.hidden = next >= all.length;
      more.textContent = "show " + Math.min(PAGE, all.length - next) + " more of " + (all.length - next) + " left";
    }
    more.addEventListener("click", page);
    story.append(more);
    page();
    story.scrollTop = 0;
  }
  function route() {
    const m = location.hash.match(/^#task=(.*)$/);
    if (!m) return;
    open(decodeURIComponent(m[1]));
    document.getElementById("task-list").scrollIntoView();
  }
  window.addEventListener("hashchange", route);
  filter();
  route();
  document.body.dataset.readyMs = String(Math.round(performance.now()));
})();
