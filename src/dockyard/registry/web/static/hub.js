// Dockyard Hub: search as you type, copy buttons, delete confirmation. Served as a file (the CSP forbids inline
// scripts); it builds every element with textContent, never HTML from data.
"use strict";

function repoPath(result) {
  // the API lists library/x as "x": its namespace is repo_owner
  const name = result.repo_name.includes("/") || !result.repo_owner ? result.repo_name
    : result.repo_owner + "/" + result.repo_name;
  return "/r/" + name.split("/").map(encodeURIComponent).join("/");
}

function setupSearch(input) {
  const list = input.form.querySelector(".suggest");
  let timer = 0, seq = 0, active = -1;
  const links = () => Array.from(list.querySelectorAll("a"));
  const hide = () => { list.hidden = true; active = -1; };
  const show = (results, query) => {
    list.replaceChildren();
    for (const r of results) {
      const li = document.createElement("li"), a = document.createElement("a"), small = document.createElement("small");
      a.href = repoPath(r);
      a.textContent = r.repo_name + (r.is_private ? "  (private)" : "");
      small.textContent = (r.short_description || "") + "  ★ " + r.star_count + "  ⤓ " + r.pull_count;
      a.appendChild(small);
      li.appendChild(a);
      list.appendChild(li);
    }
    if (!results.length) {
      const li = document.createElement("li");
      li.className = "none";
      li.textContent = "No repository matches “" + query + "”";
      list.appendChild(li);
    }
    list.hidden = false;
    active = -1;
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    const query = input.value.trim();
    if (!query) { hide(); return; }
    timer = setTimeout(async () => {
      const mine = ++seq;
      const url = input.dataset.suggest + "?page_size=8&query=" + encodeURIComponent(query);
      try {
        const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
        const data = await answer.json();
        if (mine === seq) show(data.results || [], query);
      } catch (err) {
        hide();
      }
    }, 120);
  });
  input.addEventListener("keydown", (ev) => {
    const all = links();
    if (list.hidden || !all.length) return;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (ev.key === "ArrowDown") active = (active + 1) % all.length;
      else active = active <= 0 ? all.length - 1 : active - 1;
      all.forEach((a, i) => a.classList.toggle("active", i === active));
    } else if (ev.key === "Enter" && active >= 0) {
      ev.preventDefault();
      window.location.href = all[active].href;
    } else if (ev.key === "Escape") {
      hide();
    }
  });
  document.addEventListener("click", (ev) => { if (!input.form.contains(ev.target)) hide(); });
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return true; } catch (err) { /* fall back below */ }
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  return done;
}

function setupCopy(button) {
  button.addEventListener("click", async () => {
    const done = await copyText(button.dataset.copy);
    button.textContent = done ? "Copied!" : "Press Ctrl+C";
    button.classList.toggle("done", done);
    button.dataset.copied = done ? "yes" : "no";
    setTimeout(() => { button.textContent = "Copy"; button.classList.remove("done"); }, 2000);
  });
}

function setupConfirm(input) {
  const button = input.form.querySelector("button[type=submit]");
  const check = () => { button.disabled = input.value.trim() !== input.dataset.confirm; };
  input.addEventListener("input", check);
  check();
}

document.querySelectorAll("input[data-suggest]").forEach(setupSearch);
document.querySelectorAll("button[data-copy]").forEach(setupCopy);
document.querySelectorAll("input[data-confirm]").forEach(setupConfirm);
