// The LGSP console's only script: small conveniences; every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // "Select all" in the dead-letter list.
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      document.querySelectorAll("input.pick").forEach((box) => { box.checked = all.checked; });
    });
  }

  // Live progress of a running replay: poll its JSON until it finishes, then reload.
  const progress = document.querySelector("[data-poll]");
  if (progress) {
    const url = progress.getAttribute("data-poll");
    const tick = async () => {
      try {
        const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) {
          const state = await response.json();
          progress.querySelectorAll("[data-field]").forEach((cell) => {
            const value = state[cell.getAttribute("data-field")];
            if (value !== undefined) { cell.textContent = String(value); }
          });
          if (state.finished) { window.location.reload(); return; }
        }
      } catch (err) {
        // The gateway may be restarting: try again at the next tick.
      }
      window.setTimeout(tick, 1000);
    };
    window.setTimeout(tick, 1000);
  }

  // The overview refreshes itself while nobody is typing in a form on it.
  const refresh = document.querySelector('meta[name="lgsp-refresh"]');
  if (refresh) {
    const seconds = Number(refresh.getAttribute("content")) || 30;
    window.setInterval(() => {
      const active = document.activeElement;
      if (document.visibilityState === "visible" && !(active && active.closest("form"))) {
        window.location.reload();
      }
    }, seconds * 1000);
  }
});
