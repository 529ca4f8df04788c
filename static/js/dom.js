// Small DOM helpers shared by the camera preview (camera.js) and the live scan (live-scan.js).

export function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text) node.textContent = text;
  return node;
}

// A file input can only be filled from script where DataTransfer builds a FileList (not on older WebViews).
export function canFillFileInputs() {
  try {
    return typeof DataTransfer === "function" && new DataTransfer().items !== undefined;
  } catch {
    return false;
  }
}
