// Validation as you type on the paper form (opl/paper_form.html), a progressive enhancement: the server checks
// the same rules (registry/paper/forms.py) and the form works without it. Messages come from the page's
// data- attributes (already in the user's language); a field is judged when it loses the focus, and again at
// every keystroke once it showed a problem, so the message goes away as soon as the value is right.
const form = document.querySelector("[data-paper-form]");

const CLAVE = /^[A-Z]{6}[0-9]{8}[HM][0-9]{3}$/;
const OCR = /^[0-9]{13}$/;

function normalise(value) {
  return value.replace(/\s+/g, "").toUpperCase();
}

function problemOf(rule, raw) {
  const value = normalise(raw);
  if (!value) {
    return "";  // empty: the browser's own "required" and the server say it
  }
  if (rule === "clave" && !CLAVE.test(value)) {
    return `${form.dataset.claveRule} ${form.dataset.claveTyped.replace("{count}", value.length)}`;
  }
  if (rule === "ocr" && !OCR.test(value)) {
    return `${form.dataset.ocrRule} ${form.dataset.ocrTyped.replace("{count}", value.length)}`;
  }
  return "";
}

function judge(input) {
  const live = document.getElementById(`${input.id}-live`);
  const problem = problemOf(input.dataset.paperRule, input.value);
  live.textContent = problem;
  if (problem) {
    input.setAttribute("aria-invalid", "true");
    input.dataset.paperShown = "1";
  } else {
    input.removeAttribute("aria-invalid");
    delete input.dataset.paperShown;
  }
}

if (form) {
  for (const input of form.querySelectorAll("[data-paper-rule]")) {
    input.addEventListener("blur", () => judge(input));
    input.addEventListener("input", () => {
      if (input.dataset.paperShown) {
        judge(input);
      }
    });
  }
}
