// A signature pad that fills a normal form field: draw with a finger, mouse or pen on a canvas, and the PNG goes
// into a file input (or, where a browser cannot fill file inputs, into a hidden text field as a data: URL).
// The drawing is signature_pad's (vendored, static/vendor/): smooth strokes whose width follows speed and, where
// the finger or pen reports it, pressure; «Deshacer» removes the last stroke, «Borrar» all of them.
// Generic: a container with data-signature-pad and these data- attributes; all texts come translated from the page.
//   data-signature-file      id of the <input type="file"> that receives signature.png
//   data-signature-data      id of a hidden <input> that receives the data: URL (fallback)
//   data-signature-fallback  id of the block to hide once the pad works (e.g. "upload a photo of your signature")
//   data-signature-label     accessible name of the drawing area
//   data-signature-clear     text of the clear button
//   data-signature-undo      text of the undo button
//   data-signature-hint      instruction shown above the pad
// If the library cannot load, this module does not run and the page keeps its plain photo upload.

import SignaturePad from "../vendor/signature_pad/signature_pad.js";

// Server-side intake refuses images under 200 px a side or 100,000 pixels, so the canvas keeps at least twice the
// CSS pixels whatever the screen's density.
const MIN_SCALE = 2;
const PAD_HEIGHT_CSS = 180;
const MIN_WIDTH = 1; // CSS px: a fast stroke still shows on a photo of the printed form
const MAX_WIDTH = 3.5;

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function fillFileInput(input, blob) {
  try {
    const transfer = new DataTransfer();
    transfer.items.add(new File([blob], "firma.png", { type: "image/png" }));
    input.files = transfer.files;
    return true;
  } catch {
    return false;
  }
}

// Pointer events report 0.5 for a finger or mouse that cannot measure pressure (0 once lifted), touch events 0:
// only other readings are real pressure, and they scale the width from half to one and a half times.
function pressureFactor(pressure) {
  return pressure > 0 && pressure !== 0.5 ? 0.5 + pressure : 1;
}

class PressurePad extends SignaturePad {
  // signature_pad sizes a stroke by its speed only, though it keeps each point's pressure (so undo, which redraws
  // the kept points, draws the same widths). Overriding its width step is the one place both paths go through; if
  // a later version renames it, strokes simply stop following pressure.
  _calculateCurveWidths(startPoint, endPoint, options) {
    const widths = super._calculateCurveWidths(startPoint, endPoint, options);
    return { start: widths.start * pressureFactor(startPoint.pressure), end: widths.end * pressureFactor(endPoint.pressure) };
  }
}

class SignatureField {
  constructor(container) {
    this.container = container;
    this.fileInput = document.getElementById(container.dataset.signatureFile || "");
    this.dataInput = document.getElementById(container.dataset.signatureData || "");
    this.build();
  }

  build() {
    const { signatureHint, signatureLabel, signatureClear, signatureUndo, signatureFallback } = this.container.dataset;
    if (signatureHint) this.container.append(element("p", { class: "hint" }, signatureHint));
    this.canvas = element("canvas", { class: "signature-canvas", role: "img", "aria-label": signatureLabel || "" });
    this.undoButton = element("button", { type: "button", class: "button-secondary", "data-signature-action": "undo" },
                              signatureUndo || "↶");
    const clear = element("button", { type: "button", class: "button-secondary", "data-signature-action": "clear" },
                          signatureClear || "×");
    this.undoButton.addEventListener("click", () => this.undo());
    clear.addEventListener("click", () => this.clear());
    const actions = element("div", { class: "signature-actions" });
    actions.append(this.undoButton, clear);
    this.container.append(this.canvas, actions);
    this.container.classList.add("signature-pad-ready");
    const fallback = document.getElementById(signatureFallback || "");
    if (fallback) fallback.hidden = true;
    this.pad = new PressurePad(this.canvas, { minWidth: MIN_WIDTH, maxWidth: MAX_WIDTH, penColor: "#000" });
    this.pad.addEventListener("endStroke", () => this.save());
    this.resize();
    // A phone turned sideways changes the pad's width: redraw the strokes at the new size. Height-only resizes
    // (the address bar or keyboard showing) leave it alone.
    window.addEventListener("resize", () => {
      if (this.canvas.clientWidth && this.canvas.clientWidth !== this.cssWidth) this.resize();
    });
    // A form reset (the field page after queueing a capture) must not leave the last person's signature behind.
    this.container.closest("form")?.addEventListener("reset", () => this.clear());
    this.showUndo();
  }

  resize() {
    const scale = Math.max(window.devicePixelRatio || 1, MIN_SCALE);
    this.cssWidth = this.canvas.clientWidth || this.container.clientWidth;
    const strokes = this.pad.toData();
    this.canvas.width = Math.round(this.cssWidth * scale);
    this.canvas.height = Math.round(PAD_HEIGHT_CSS * scale);
    this.canvas.getContext("2d").scale(scale, scale);
    this.pad.fromData(strokes);
    if (!this.pad.isEmpty()) this.save();
  }

  // What is posted is always what the pad shows: after every stroke, undo or clear the field is rewritten
  // (or emptied), so an undone stroke is never sent and an empty pad never posts a blank image.
  save() {
    this.showUndo();
    if (this.pad.isEmpty()) {
      this.empty();
      return;
    }
    this.canvas.toBlob((blob) => {
      if (this.pad.isEmpty()) return; // cleared while the PNG was being made
      if (blob && this.fileInput && fillFileInput(this.fileInput, blob)) return;
      if (this.dataInput) this.dataInput.value = this.pad.toDataURL("image/png");
    }, "image/png");
  }

  undo() {
    const strokes = this.pad.toData();
    strokes.pop();
    this.pad.fromData(strokes);
    this.save();
  }

  clear() {
    this.pad.clear();
    this.save();
  }

  empty() {
    if (this.fileInput) this.fileInput.value = "";
    if (this.dataInput) this.dataInput.value = "";
  }

  showUndo() {
    this.undoButton.disabled = this.pad.isEmpty();
  }
}

document.querySelectorAll("[data-signature-pad]").forEach((container) => new SignatureField(container));
