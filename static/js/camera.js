// Progressive camera for photo inputs: the form always posts a normal <input type="file">, and the server decodes
// and decides. With a camera API this adds a live preview to aim with; the frame taken is put into the same file
// input. Any <input type="file" data-camera="environment|user"> gets it; every text comes from data- attributes
// (already translated by the server), so nothing here is page-specific.

import { canFillFileInputs, element } from "./dom.js";

const hasLiveCamera = () => Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);

function showPreview(input, file) {
  let preview = input.parentElement.querySelector(".camera-preview");
  if (!preview) {
    preview = element("img", { class: "camera-preview", alt: input.dataset.cameraPreview || "" });
    input.insertAdjacentElement("afterend", preview);
  }
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
}

function putFile(input, file) {
  const transfer = new DataTransfer();
  transfer.items.add(file);
  input.files = transfer.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
}

function stop(stream) {
  if (stream) stream.getTracks().forEach((track) => track.stop());
}

function grabFrame(video) {
  const canvas = element("canvas");
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext("2d").drawImage(video, 0, 0);
  return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.92));
}

function openPanel(input, button) {
  const facing = input.dataset.camera === "user" ? "user" : "environment";
  const panel = element("div", { class: "camera-panel" });
  const video = element("video", { autoplay: "", playsinline: "", muted: "", "aria-label": input.dataset.cameraLive || "" });
  const guide = element("div", { class: `camera-guide camera-guide-${facing}`, "aria-hidden": "true" });
  const frame = element("div", { class: "camera-frame" });
  frame.append(video, guide);
  const shoot = element("button", { type: "button" }, input.dataset.cameraShoot || "OK");
  const cancel = element("button", { type: "button", class: "button-secondary" }, input.dataset.cameraCancel || "×");
  const status = element("p", { class: "field-error", role: "alert" });
  const actions = element("div", { class: "camera-actions" });
  actions.append(shoot, cancel);
  panel.append(frame, actions, status);
  button.insertAdjacentElement("afterend", panel);
  button.hidden = true;
  let stream = null;

  const close = () => {
    stop(stream);
    panel.remove();
    button.hidden = false;
    button.focus();
  };
  cancel.addEventListener("click", close);
  shoot.addEventListener("click", async () => {
    const blob = await grabFrame(video);
    if (blob) putFile(input, new File([blob], `${input.name}.jpg`, { type: "image/jpeg" }));
    close();
  });
  navigator.mediaDevices
    .getUserMedia({ video: { facingMode: facing, width: { ideal: 1920 }, height: { ideal: 1080 } }, audio: false })
    .then((live) => {
      stream = live;
      video.srcObject = live;
      shoot.focus();
    })
    .catch(() => {
      status.textContent = input.dataset.cameraError || "";
      shoot.disabled = true;
    });
}

function enhance(input) {
  input.addEventListener("change", () => {
    if (input.files && input.files[0]) showPreview(input, input.files[0]);
  });
  if (!hasLiveCamera() || !canFillFileInputs()) return;
  const button = element("button", { type: "button", class: "button-secondary camera-start" }, input.dataset.cameraStart || "");
  input.insertAdjacentElement("afterend", button);
  button.addEventListener("click", () => openPanel(input, button));
}

document.querySelectorAll('input[type="file"][data-camera]').forEach(enhance);
