// The search box (templates/partials/search_box.html): htmx fetches the suggestions into its
// listbox; this file opens and closes it and lets the keyboard walk it. Without JS the box is
// a plain GET form to the event list.
(() => {
  const options = (list) => Array.from(list.querySelectorAll("[role=option]"));

  const setActive = (input, list, index) => {
    const all = options(list);
    all.forEach((option, i) => {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
      option.classList.toggle("active", i === index);
    });
    if (index >= 0 && all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  const close = (input, list) => {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    setActive(input, list, -1);
  };

  const activeIndex = (list) => options(list).findIndex((o) => o.getAttribute("aria-selected") === "true");

  document.querySelectorAll("form[data-search-box]").forEach((form) => {
    const input = form.querySelector("input[role=combobox]");
    const list = document.getElementById(input.getAttribute("aria-controls"));

    // A newer answer replaces what htmx put in the list: number the options, open if there are any.
    list.addEventListener("htmx:afterSwap", () => {
      options(list).forEach((option, i) => { option.id = `${list.id}-${i}`; });
      const open = options(list).length > 0 && document.activeElement === input && input.value.trim().length > 1;
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
      setActive(input, list, -1);
    });

    input.addEventListener("keydown", (event) => {
      if (event.isComposing) return;  // the IME's own keys
      const all = options(list);
      const index = activeIndex(list);
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!all.length) return;
        event.preventDefault();
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        const next = event.key === "ArrowDown" ? (index + 1) % all.length : (index <= 0 ? all.length : index) - 1;
        setActive(input, list, next);
      } else if (event.key === "Enter" && !list.hidden && index >= 0) {
        event.preventDefault();
        window.location.assign(all[index].href);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close(input, list);
      }
    });

    // A click on a suggestion must not blur the box first (the list would close under the pointer).
    list.addEventListener("mousedown", (event) => event.preventDefault());
    input.addEventListener("blur", () => close(input, list));
    input.addEventListener("focus", () => {
      if (options(list).length && input.value.trim().length > 1) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
    });
  });

  // The phone's search icon opens the collapsed menu; the cursor then goes into its search box.
  document.querySelectorAll("[data-search-opener]").forEach((button) => {
    const target = document.querySelector(button.dataset.bsTarget);
    if (!target) return;
    button.addEventListener("click", () => { target.dataset.focusSearch = button.dataset.searchOpener; });
    target.addEventListener("shown.bs.collapse", () => {
      const id = target.dataset.focusSearch;
      delete target.dataset.focusSearch;
      if (id) document.getElementById(id)?.focus();
    });
  });
})();
