// mediamon live page. Everything from a feed is put in the page as text (textContent,
// never innerHTML): titles and sources are attacker-controlled.
"use strict";

(function () {
  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });

  function localTime(el) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) {
      el.title = el.getAttribute("datetime");
      el.textContent = (el.classList.contains("day") ? dayFormat : dateFormat).format(when);
    }
  }

  function filterUrl(key, value) {
    const url = new URL(window.location.href);
    url.searchParams.set(key, value);
    return url.pathname + url.search;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function link(className, href, text, title) {
    const a = el("a", className, text);
    a.href = href;
    if (title) a.title = title;
    return a;
  }

  function bump(id, by) {
    const node = document.getElementById(id);
    if (!node) return;
    const now = parseInt(node.textContent.replace(/\D/g, ""), 10) || 0;
    node.textContent = (now + by).toLocaleString();
  }

  function storyRow(item) {
    const li = el("li", "story fresh");
    li.dataset.story = item.story_id;
    li.dataset.id = item.id;
    li.appendChild(link("title", "/article/" + encodeURIComponent(item.id), item.title));
    const meta = el("div", "meta");
    if (item.published) {
      const time = el("time", "", item.published);
      time.setAttribute("datetime", item.published);
      localTime(time);
      meta.appendChild(time);
    }
    if (item.domain) meta.appendChild(link("source", filterUrl("source", item.domain), item.source));
    if (item.lang) meta.appendChild(link("lang", filterUrl("lang", item.lang), item.lang, "Only this language"));
    for (const topic of item.topics || []) {
      meta.appendChild(link("topic", filterUrl("topic", topic), topic, "Only this topic"));
    }
    if (item.full_text) meta.appendChild(el("span", "badge", "full text"));
    const copies = el("span", "copies", "1 copies");
    copies.hidden = true;
    meta.appendChild(copies);
    li.appendChild(meta);
    return li;
  }

  function arrive(item) {
    const list = document.getElementById("stories");
    if (!list) return;
    const empty = document.getElementById("empty");
    if (empty) empty.hidden = true;
    let row = null;
    for (const candidate of list.children) {
      if (candidate.dataset.id === item.id) return;  // already shown (a rewrite, not news)
      if (candidate.dataset.story === item.story_id) { row = candidate; break; }
    }
    if (row) {  // a copy of a story on the page: count it, bring the story up
      const copies = row.querySelector(".copies");
      const n = (parseInt(copies.textContent, 10) || 1) + 1;
      copies.textContent = n + " copies";
      copies.hidden = false;
      row.classList.remove("fresh");
      void row.offsetWidth;  // restart the highlight
      row.classList.add("fresh");
      list.prepend(row);
    } else {
      list.prepend(storyRow(item));
      bump("count-stories", 1);
    }
    bump("count-articles", 1);
    bump("count-day", 1);
  }

  function live(url) {
    const status = document.getElementById("live-status");
    const source = new EventSource(url);
    source.addEventListener("article", function (event) {
      try { arrive(JSON.parse(event.data)); } catch (err) { /* a bad event costs itself only */ }
    });
    source.addEventListener("open", function () {
      if (status) { status.textContent = "live"; status.classList.remove("off"); }
    });
    source.addEventListener("error", function () {
      if (status) { status.textContent = "reconnecting…"; status.classList.add("off"); }
    });
    source.addEventListener("trouble", function () {
      if (status) { status.textContent = "Elasticsearch not answering"; status.classList.add("off"); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("time[datetime]").forEach(localTime);
    document.addEventListener("keydown", function (event) {
      const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
      if (event.key === "/" && !typing) {
        event.preventDefault();
        document.getElementById("q").focus();
      }
    });
    const since = document.getElementById("since");
    if (since) since.addEventListener("change", function () { since.form.submit(); });
    if (document.body.dataset.live) live(document.body.dataset.live);
  });
})();
