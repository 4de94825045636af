// Live filtering of /ui/catalog: hides the operations whose text lacks a typed word.
// The server-side ?q= filter keeps working without this script.
(function () {
  "use strict";
  var input = document.getElementById("catalog-search");
  var shown = document.getElementById("catalog-shown");
  if (!input) {
    return;
  }
  function apply() {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var count = 0;
    document.querySelectorAll(".op-group").forEach(function (group) {
      var visible = 0;
      group.querySelectorAll("li[data-search]").forEach(function (li) {
        var hay = li.getAttribute("data-search") + " " + group.getAttribute("data-group").toLowerCase();
        var hit = words.every(function (w) { return hay.indexOf(w) !== -1; });
        li.hidden = !hit;
        if (hit) {
          visible += 1;
        }
      });
      group.hidden = visible === 0;
      count += visible;
    });
    if (shown) {
      shown.textContent = String(count);
    }
  }
  input.addEventListener("input", apply);
})();
