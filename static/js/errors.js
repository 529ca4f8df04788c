// Progressive enhancement of the error summary (_partials/error_summary.html): the page works without it.
// On load the focus moves to the summary, so keyboard and screen-reader users start at what went wrong; a link
// in it focuses its field (a plain #anchor would only scroll there).
const summary = document.querySelector("[data-error-summary]");

if (summary) {
  summary.focus();
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    const field = link ? document.getElementById(link.getAttribute("href").slice(1)) : null;
    if (field) {
      event.preventDefault();
      field.scrollIntoView({ block: "center" });
      field.focus();
    }
  });
}
