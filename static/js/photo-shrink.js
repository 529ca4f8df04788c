// Small uploads on slow networks: every photo is reduced on the phone before it is sent, and the form is sent with
// a progress bar. A 12 MP photo (4-5 MB) takes about a minute on a 750 kbps uplink; at 2000 px (about 0.4 MB) it
// takes seconds, and the server reads the small QR and the bottom lines just as well (bench/field_upload.py).
//
// For other scripts (ES module exports, also on window.RegistroUpload for classic scripts):
//   shrink(file, { longSide = 2000, quality = 0.85 }) -> Promise<Blob>
//       the photo with its EXIF orientation applied, long side at most `longSide`, as a new JPEG; the file itself
//       only when it is a small PNG (a signature pad's drawing) or when this browser cannot decode it (the server
//       decides). A photo is always drawn again, even a small one: the new JPEG carries no EXIF, so where the
//       photo was taken (GPS) and when never leave the phone. Nor does the file's name (it may hold a name).
//   send(form, files = {}) -> Promise<void>
//       posts `form` as its own submit would (action, method, every field), with `files` ({field name: Blob},
//       e.g. the live scanner's still) in place of what those inputs hold; every photo shrunk; progress shown in
//       the form; the answer replaces the page (a redirect is followed, an error page is shown). If anything here
//       fails before sending, the plain form post goes instead.
//
// Progressive: forms with data-upload get it (texts come translated in data-upload-* attributes). Without
// JavaScript, or where a step is missing, the same form posts the photo as chosen and the server shrinks it.

export const LONG_SIDE = 2000;
export const JPEG_QUALITY = 0.85;
const KEEP_BYTES = 1_000_000; // a PNG this small and within LONG_SIDE (the signature pad's) is sent as it is
const ANNOUNCE_STEP = 25; // percent: a screen reader hears a few steps, not every progress event

function canvasBlob(canvas, type, quality) {
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("toBlob"))), type, quality);
  });
}

export async function shrink(file, { longSide = LONG_SIDE, quality = JPEG_QUALITY } = {}) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file; // not decodable here (e.g. HEIC on some phones): the server decides, and says why if it refuses
  }
  try {
    const longest = Math.max(bitmap.width, bitmap.height);
    if (longest <= longSide && file.size <= KEEP_BYTES && file.type === "image/png") return file;
    const scale = Math.min(1, longSide / longest);
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff"; // JPEG has no transparency: a transparent PNG would otherwise turn black
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.imageSmoothingQuality = "high"; // the MRZ's small print must survive the halving
    context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    return await canvasBlob(canvas, "image/jpeg", quality);
  } finally {
    bitmap.close();
  }
}

// ---------------------------------------------------------------- sending

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

function progressPanel(form) {
  let panel = form.querySelector(".upload-progress");
  if (panel) return panel;
  const id = `${form.id || "formulario"}-envio`;
  panel = element("div", { class: "upload-progress", role: "status", "aria-live": "polite" });
  const label = element("label", { for: id }, form.dataset.uploadSending || "");
  const bar = element("progress", { id, max: "100", value: "0" });
  panel.append(label, bar, element("p", { class: "upload-progress-text" }));
  const button = form.querySelector('[type="submit"]');
  (button || form.lastElementChild || form).insertAdjacentElement(button ? "beforebegin" : "afterend", panel);
  return panel;
}

function show(panel, percent, text) {
  const bar = panel.querySelector("progress");
  if (percent === null) bar.removeAttribute("value"); // indeterminate: shrinking, or the server is reading
  else bar.value = percent;
  const line = panel.querySelector(".upload-progress-text");
  if (line.textContent !== text) line.textContent = text;
}

function busy(form, on) {
  form.querySelectorAll('[type="submit"]').forEach((button) => { button.disabled = on; });
  form.setAttribute("aria-busy", on ? "true" : "false");
}

function isImage(file) {
  return file instanceof Blob && file.size > 0 && (!file.type || file.type.startsWith("image/"));
}

function formData(form, submitter) {
  try {
    return new FormData(form, submitter || undefined); // the pressed button's name=value too, as a browser sends
  } catch {
    return new FormData(form);
  }
}

async function body(form, files, submitter) {
  const data = formData(form, submitter);
  const chosen = new Map();
  for (const input of form.querySelectorAll('input[type="file"][name]')) {
    if (input.files && input.files[0]) chosen.set(input.name, input.files[0]);
  }
  for (const [name, blob] of Object.entries(files)) chosen.set(name, blob);
  for (const [name, file] of chosen) {
    if (!isImage(file)) continue;
    const input = form.querySelector(`input[type="file"][name="${CSS.escape(name)}"]`);
    const longSide = Number(input?.dataset.shrinkLongSide) || LONG_SIDE;
    const small = await shrink(file, { longSide });
    data.set(name, small, `${name}.${small.type === "image/png" ? "png" : "jpg"}`);
  }
  return data;
}

function target(form) {
  // getAttribute, not form.action: a field named "action" would shadow the property
  return new URL(form.getAttribute("action") || "", location.href).href;
}

function post(form, data, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open((form.getAttribute("method") || "post").toUpperCase(), target(form));
    request.setRequestHeader("Accept", "text/html");
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(Math.round((event.loaded / event.total) * 100));
    });
    request.upload.addEventListener("load", () => onProgress(100));
    request.addEventListener("load", () => resolve(request));
    request.addEventListener("error", () => reject(new Error("network")));
    request.addEventListener("timeout", () => reject(new Error("timeout")));
    request.send(data);
  });
}

function replacePage(html) {
  // The answer is a page to show (an error, a refusal): shown in place, as the browser would. document.open()
  // drops every listener and the scripts already loaded do not run again, so each module script of the new page is
  // loaded once more under a fresh address (the same file, from the cache).
  document.open();
  document.write(html);
  document.close();
  const fresh = Date.now();
  document.querySelectorAll("script[type=module][src]").forEach((old) => {
    const script = element("script", { type: "module", src: `${old.src}${old.src.includes("?") ? "&" : "?"}v=${fresh}` });
    old.replaceWith(script);
  });
  document.querySelector("[autofocus]")?.focus(); // a written document does not honour autofocus by itself
}

function plainPost(form, files) {
  // Without the enhanced path the browser posts the form itself; a blob handed in goes into its input first.
  for (const [name, blob] of Object.entries(files)) {
    const input = form.querySelector(`input[type="file"][name="${CSS.escape(name)}"]`);
    if (!input) continue;
    try {
      const transfer = new DataTransfer();
      transfer.items.add(new File([blob], `${name}.jpg`, { type: blob.type || "image/jpeg" }));
      input.files = transfer.files;
    } catch {
      // this browser cannot fill file inputs: the form goes with what the person chose
    }
  }
  HTMLFormElement.prototype.submit.call(form);
}

export async function send(form, files = {}, submitter = null) {
  const texts = form.dataset;
  const panel = progressPanel(form);
  busy(form, true);
  let data;
  try {
    show(panel, null, texts.uploadPreparing || "");
    data = await body(form, files, submitter);
  } catch {
    busy(form, false);
    plainPost(form, files);
    return;
  }
  let announced = -ANNOUNCE_STEP;
  let request;
  try {
    request = await post(form, data, (percent) => {
      const step = percent - (percent % ANNOUNCE_STEP);
      if (percent < 100 && step > announced) {
        announced = step;
        show(panel, percent, (texts.uploadPercent || "%s %").replace("%s", String(step)));
      } else {
        panel.querySelector("progress").value = percent;
      }
      if (percent >= 100) show(panel, null, texts.uploadWaiting || "");
    });
  } catch {
    busy(form, false);
    show(panel, 0, texts.uploadFailed || "");
    return;
  }
  // Redirected (a 303 after the POST): the browser goes there itself, so the new page is a real navigation
  // (its address, history entry and scripts); the page is fetched once more, a few kilobytes.
  if (request.responseURL && request.responseURL !== target(form)) {
    location.assign(request.responseURL);
    return;
  }
  replacePage(request.responseText);
}

function photoChosen(form) {
  return [...form.querySelectorAll('input[type="file"]')].some((input) => input.files && input.files.length);
}

function enhance(form) {
  if (typeof FormData !== "function" || typeof XMLHttpRequest !== "function" || !window.createImageBitmap) return;
  form.addEventListener("submit", (event) => {
    // No photo chosen (an optional one, or one kept from an earlier try): nothing to shrink, the browser posts.
    if (event.defaultPrevented || form.getAttribute("aria-busy") === "true" || !photoChosen(form)) return;
    event.preventDefault();
    send(form, {}, event.submitter);
  });
}

window.RegistroUpload = { send, shrink, LONG_SIDE };
document.querySelectorAll("form[data-upload]").forEach(enhance);
