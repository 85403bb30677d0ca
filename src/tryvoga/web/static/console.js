// Tryvoga console: a button, once pressed, stays pressed until the next page, so that a double
// click sends one form (the server refuses a second declaration anyway: every form has a key).
"use strict";
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.method.toLowerCase() !== "post") { return; }
  if (form.dataset.sent === "1") { event.preventDefault(); return; }
  form.dataset.sent = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  for (var i = 0; i < buttons.length; i++) { buttons[i].setAttribute("disabled", ""); }
});
