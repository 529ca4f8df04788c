// Live scan of the credential's back, on top of the plain file input (which stays for phones without a camera
// API and for pages without JavaScript). Any <input type="file" data-live-scan="submit|fill"> gets a «scan» button:
// the rear camera opens behind a guide frame, each frame is read here with zxing-cpp compiled to WebAssembly
// (vendored zxing-wasm, fetched from /static/vendor only when the scan starts), and once the small QR
// (qr.ine.mx) is seen the sharpest full-resolution still of the next few frames is put into the same file input,
// with no shutter button. "submit" then sends the form; "fill" leaves the rest of the form to the person.
// What the browser read is only a hint: the server decodes the still again and decides. Every text comes from
// data- attributes (translated by the server).

import { canFillFileInputs, element } from "./dom.js";

const ZXING_URL = new URL("../vendor/zxing-wasm/es/reader/index.js", import.meta.url).href;
const WASM_URL = new URL("../vendor/zxing-wasm/reader/zxing_reader.wasm", import.meta.url).href;
const SMALL_QR_HOST = "qr.ine.mx"; // the big QR on the back carries other data: only the small one counts
const DETECT_LONG_SIDE = 1280; // frames are read downscaled: a few reads a second on a mid-range phone
const FRAME_GAP_MS = 120;
const STILLS_MEASURED = 6; // frames compared once the QR is seen: hands shake, autofocus settles
const MEASURE_WIDTH = 480; // sharpness and glare are measured on the card region scaled to this width
const GLARE_SHARE = 0.02; // share of clipped pixels in the card region that earns «evita reflejos»
const CLIPPED = 254; // a white card is lighter than most of the scene but not clipped; a reflection is
const PHOTO_TIMEOUT_MS = 3000;
const CARD_ASPECT = 85.6 / 54;
const GUIDE_WIDTH = 0.84; // the guide frame of app.css (.camera-guide-environment: left and right 8%)

let zxing = null;

function loadReader() {
  zxing ??= import(ZXING_URL).then((module) => {
    // Never the package's default (a CDN): the .wasm is ours, next to the script, cached by the service worker.
    module.prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path) },
      fireImmediately: true,
    });
    return module;
  });
  zxing.catch(() => { zxing = null; }); // offline before the files were cached: try again next time
  return zxing;
}

export function supported() {
  try {
    return Boolean(navigator.mediaDevices?.getUserMedia) && typeof WebAssembly === "object" && canFillFileInputs();
  } catch {
    return false;
  }
}

// The guide frame's region of a frame of width × height, in that frame's pixels.
function cardRegion(width, height) {
  const w = Math.min(width * GUIDE_WIDTH, height * CARD_ASPECT);
  const h = w / CARD_ASPECT;
  return { x: (width - w) / 2, y: (height - h) / 2, w, h };
}

// Grey levels of the card region of `source` (a video, canvas or bitmap), MEASURE_WIDTH wide.
function cardGrey(source, width, height) {
  const region = cardRegion(width, height);
  const canvas = element("canvas");
  canvas.width = MEASURE_WIDTH;
  canvas.height = Math.round(MEASURE_WIDTH / CARD_ASPECT);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(source, region.x, region.y, region.w, region.h, 0, 0, canvas.width, canvas.height);
  const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
  const grey = new Float32Array(canvas.width * canvas.height);
  for (let i = 0; i < grey.length; i += 1) grey[i] = 0.299 * data[4 * i] + 0.587 * data[4 * i + 1] + 0.114 * data[4 * i + 2];
  return { grey, width: canvas.width, height: canvas.height };
}

// Variance of the Laplacian: edges of a sharp card give large second derivatives, blur flattens them.
export function sharpness({ grey, width, height }) {
  let sum = 0;
  let squares = 0;
  let count = 0;
  for (let y = 1; y < height - 1; y += 1) {
    for (let x = 1; x < width - 1; x += 1) {
      const i = y * width + x;
      const value = grey[i - 1] + grey[i + 1] + grey[i - width] + grey[i + width] - 4 * grey[i];
      sum += value;
      squares += value * value;
      count += 1;
    }
  }
  const mean = sum / count;
  return squares / count - mean * mean;
}

function glare({ grey }) {
  let burnt = 0;
  for (const value of grey) if (value >= CLIPPED) burnt += 1;
  return burnt / grey.length > GLARE_SHARE;
}

function videoSize(video) {
  return { width: video.videoWidth, height: video.videoHeight };
}

function downscaled(video) {
  const { width, height } = videoSize(video);
  const scale = Math.min(1, DETECT_LONG_SIDE / Math.max(width, height));
  const canvas = element("canvas");
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(video, 0, 0, canvas.width, canvas.height);
  return context.getImageData(0, 0, canvas.width, canvas.height);
}

async function seesSmallQr(reader, video) {
  const found = await reader.readBarcodes(downscaled(video), { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 4 });
  return found.some((barcode) => barcode.isValid && barcode.text.includes(SMALL_QR_HOST));
}

function fullFrame(video) {
  const { width, height } = videoSize(video);
  const canvas = element("canvas");
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return canvas;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ImageCapture.takePhoto() gives the camera's full still resolution where it exists; it is kept only when it is
// at least as sharp as the best video frame (some phones refocus or blur while taking it).
async function photoIfSharper(track, best) {
  if (typeof ImageCapture !== "function") return null;
  try {
    const blob = await Promise.race([new ImageCapture(track).takePhoto(), pause(PHOTO_TIMEOUT_MS).then(() => null)]);
    if (!blob) return null;
    const bitmap = await createImageBitmap(blob);
    const score = sharpness(cardGrey(bitmap, bitmap.width, bitmap.height));
    bitmap.close();
    return score >= best ? blob : null;
  } catch {
    return null;
  }
}

async function sharpestStill(video, track, isOpen) {
  let best = { score: -1, canvas: null };
  for (let n = 0; n < STILLS_MEASURED && isOpen(); n += 1) {
    const { width, height } = videoSize(video);
    const score = sharpness(cardGrey(video, width, height));
    if (score > best.score) best = { score, canvas: fullFrame(video) };
    await pause(FRAME_GAP_MS);
  }
  if (!isOpen() || !best.canvas) return null;
  const photo = await photoIfSharper(track, best.score);
  return photo || new Promise((resolve) => best.canvas.toBlob(resolve, "image/jpeg", 0.92));
}

function putFile(input, blob) {
  const transfer = new DataTransfer();
  transfer.items.add(new File([blob], `${input.name}.jpg`, { type: blob.type || "image/jpeg" }));
  input.files = transfer.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

class Scanner {
  constructor(input, button) {
    this.input = input;
    this.button = button;
    this.open = true;
    this.stream = null;
    this.said = "";
    const texts = input.dataset;
    this.video = element("video", { autoplay: "", playsinline: "", muted: "", "aria-label": texts.liveScanAim || "" });
    const frame = element("div", { class: "camera-frame" });
    frame.append(this.video, element("div", { class: "camera-guide camera-guide-environment", "aria-hidden": "true" }));
    this.hint = element("p", { class: "live-scan-hint", role: "status", "aria-live": "polite" }, texts.liveScanAim || "");
    const cancel = element("button", { type: "button", class: "button-secondary" }, texts.liveScanCancel || "×");
    cancel.addEventListener("click", () => this.close(true));
    const actions = element("div", { class: "camera-actions" });
    actions.append(cancel);
    this.panel = element("div", { class: "camera-panel live-scan" });
    this.panel.append(frame, this.hint, actions);
    button.insertAdjacentElement("afterend", this.panel);
    button.hidden = true;
    cancel.focus();
    // A camera left filming behind another app or a locked screen is a privacy leak: it closes with the page.
    this.onHidden = () => document.hidden && this.close(false);
    document.addEventListener("visibilitychange", this.onHidden);
  }

  say(text) {
    if (text && text !== this.said) this.hint.textContent = this.said = text;
  }

  close(focusButton) {
    if (!this.open) return;
    this.open = false;
    document.removeEventListener("visibilitychange", this.onHidden);
    if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
    this.panel.remove();
    this.button.hidden = false;
    if (focusButton) this.button.focus();
  }

  async start() {
    const texts = this.input.dataset;
    const reader = loadReader(); // the .wasm downloads while the person allows the camera
    reader.catch(() => undefined);
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1920 }, height: { ideal: 1080 } },
        audio: false,
      });
      if (!this.open) return this.stream.getTracks().forEach((track) => track.stop()); // cancelled meanwhile
      this.video.srcObject = this.stream;
      await this.video.play().catch(() => undefined);
      await this.scan(await reader, this.stream.getVideoTracks()[0]);
    } catch {
      if (this.open) {
        this.say(texts.cameraError || "");
        if (this.stream) this.stream.getTracks().forEach((track) => track.stop());
      }
    }
  }

  async scan(reader, track) {
    const texts = this.input.dataset;
    const isOpen = () => this.open;
    while (this.open) {
      if (this.video.readyState >= 2 && this.video.videoWidth > 0) {
        if (await seesSmallQr(reader, this.video)) {
          this.say(texts.liveScanSteady);
          const still = await sharpestStill(this.video, track, isOpen);
          if (still) return this.finish(still);
        } else {
          const { width, height } = videoSize(this.video);
          this.say(glare(cardGrey(this.video, width, height)) ? texts.liveScanGlare : texts.liveScanCloser);
        }
      }
      await pause(FRAME_GAP_MS);
    }
  }

  finish(still) {
    const input = this.input;
    this.close(false);
    putFile(input, still);
    const done = input.parentElement.querySelector(".live-scan-done") ||
      element("p", { class: "live-scan-done", role: "status" });
    done.textContent = input.dataset.liveScanDone || "";
    this.button.insertAdjacentElement("afterend", done);
    if (input.dataset.liveScan === "submit" && input.form) input.form.requestSubmit();
    else this.button.focus();
  }
}

function enhance(input) {
  const button = element("button", { type: "button", class: "camera-start live-scan-start" }, input.dataset.liveScanStart || "");
  input.insertAdjacentElement("afterend", button);
  button.addEventListener("click", () => new Scanner(input, button).start());
}

if (supported()) document.querySelectorAll('input[type="file"][data-live-scan]').forEach(enhance);
