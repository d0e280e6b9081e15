// Progressive enhancement only: every form also works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Selects inside [data-autosubmit] forms (the language switcher) submit on change.
  document.querySelectorAll("form[data-autosubmit] select").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });
});

// A failed htmx request shows a message instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  const box = document.getElementById("messages");
  if (!box) return;
  const div = document.createElement("div");
  div.className = "alert alert-danger";
  div.setAttribute("role", "alert");
  div.textContent = document.documentElement.lang.startsWith("zh")
    ? "请求失败，请稍后再试。"
    : "The request failed; please try again.";
  box.replaceChildren(div);
});
