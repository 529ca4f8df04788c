// Keyboard for the mesa de control (progressive: every action is a plain form without it). An element with
// data-key="x" answers the key x when the focus is not in a text field: a radio button is chosen and, with
// data-submit, its form is sent (unless it needs a comment and the comment is empty: the comment gets the focus);
// a button is pressed; a text field gets the focus. Escape leaves a text field. Images marked data-zoom zoom in
// place on click or Enter instead of opening at full size.
const typing = (element) =>
  element instanceof HTMLTextAreaElement ||
  (element instanceof HTMLInputElement && !["radio", "checkbox", "button", "submit"].includes(element.type)) ||
  (element instanceof HTMLElement && element.isContentEditable);

function choose(radio) {
  radio.checked = true;
  const form = radio.form;
  const comment = form ? form.querySelector("[data-comment]") : null;
  if (radio.hasAttribute("data-needs-comment") && comment && comment.value.trim() === "") {
    comment.focus();
    return;
  }
  if (radio.hasAttribute("data-submit") && form) {
    form.requestSubmit();
  } else {
    radio.focus();
  }
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.isComposing) {
    return;
  }
  if (typing(event.target)) {
    if (event.key === "Escape") {
      event.target.blur();
    }
    return;
  }
  const target = document.querySelector(`[data-key="${CSS.escape(event.key.toLowerCase())}"]`);
  if (!target) {
    return;
  }
  event.preventDefault();
  if (target instanceof HTMLInputElement && target.type === "radio") {
    choose(target);
  } else if (typing(target)) {
    target.focus();
  } else {
    target.click();
  }
});

// A form is sent once: a second key press while the next page loads would decide nothing (the claim is gone)
// and only show an error.
document.querySelectorAll("form").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) {
      event.preventDefault();
    }
    form.dataset.sent = "1";
  });
});

document.querySelectorAll("[data-zoom]").forEach((link) => {
  link.setAttribute("aria-expanded", "false");
  link.addEventListener("click", (event) => {
    event.preventDefault();
    const zoomed = link.classList.toggle("is-zoomed");
    link.setAttribute("aria-expanded", String(zoomed));
  });
});
