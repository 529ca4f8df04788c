// The guides' "Imprimir" button: hidden without JavaScript (the page says to use the browser's own Print instead).
const button = document.getElementById("imprimir");
if (button && typeof window.print === "function") {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
