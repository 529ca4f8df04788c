// A signature pad that fills a normal form field: draw with a finger, mouse or pen on a canvas, and the PNG goes
// into a file input (or, where a browser cannot fill file inputs, into a hidden text field as a data: URL).
// Generic: a container with data-signature-pad and these data- attributes; all texts come translated from the page.
//   data-signature-file      id of the <input type="file"> that receives signature.png
//   data-signature-data      id of a hidden <input> that receives the data: URL (fallback)
//   data-signature-fallback  id of the block to hide once the pad works (e.g. "upload a photo of your signature")
//   data-signature-label     accessible name of the drawing area
//   data-signature-clear     text of the clear button
//   data-signature-hint      instruction shown above the pad

// Server-side intake refuses images under 200 px a side or 100,000 pixels, so the canvas keeps at least twice the
// CSS pixels whatever the screen's density.
const MIN_SCALE = 2;
const PAD_HEIGHT_CSS = 180;

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

class SignaturePad {
  constructor(container) {
    this.container = container;
    this.fileInput = document.getElementById(container.dataset.signatureFile || "");
    this.dataInput = document.getElementById(container.dataset.signatureData || "");
    this.drawing = false;
    this.empty = true;
    this.build();
  }

  build() {
    const { signatureHint, signatureLabel, signatureClear, signatureFallback } = this.container.dataset;
    if (signatureHint) this.container.append(element("p", { class: "hint" }, signatureHint));
    this.canvas = element("canvas", { class: "signature-canvas", role: "img", "aria-label": signatureLabel || "" });
    const clear = element("button", { type: "button", class: "button-secondary" }, signatureClear || "×");
    clear.addEventListener("click", () => this.clear());
    this.container.append(this.canvas, clear);
    this.container.classList.add("signature-pad-ready");
    const fallback = document.getElementById(signatureFallback || "");
    if (fallback) fallback.hidden = true;
    this.resize();
    this.listen();
  }

  resize() {
    const scale = Math.max(window.devicePixelRatio || 1, MIN_SCALE);
    const width = this.canvas.clientWidth || this.container.clientWidth;
    this.canvas.width = Math.round(width * scale);
    this.canvas.height = Math.round(PAD_HEIGHT_CSS * scale);
    const context = this.canvas.getContext("2d");
    context.scale(scale, scale);
    context.lineWidth = 2.5;
    context.lineCap = "round";
    context.lineJoin = "round";
    context.strokeStyle = "#000";
    this.context = context;
  }

  point(event) {
    const box = this.canvas.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  listen() {
    this.canvas.addEventListener("pointerdown", (event) => {
      this.drawing = true;
      this.canvas.setPointerCapture(event.pointerId);
      this.context.beginPath();
      this.context.moveTo(...this.point(event));
      event.preventDefault();
    });
    this.canvas.addEventListener("pointermove", (event) => {
      if (!this.drawing) return;
      this.context.lineTo(...this.point(event));
      this.context.stroke();
      this.empty = false;
    });
    const end = () => {
      if (!this.drawing) return;
      this.drawing = false;
      this.save();
    };
    this.canvas.addEventListener("pointerup", end);
    this.canvas.addEventListener("pointercancel", end);
  }

  save() {
    if (this.empty) return;
    this.canvas.toBlob((blob) => {
      if (blob && this.fileInput && fillFileInput(this.fileInput, blob)) return;
      if (this.dataInput) this.dataInput.value = this.canvas.toDataURL("image/png");
    }, "image/png");
  }

  clear() {
    this.context.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.empty = true;
    if (this.fileInput) this.fileInput.value = "";
    if (this.dataInput) this.dataInput.value = "";
  }
}

document.querySelectorAll("[data-signature-pad]").forEach((container) => new SignaturePad(container));
