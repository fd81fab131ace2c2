/* The unit picker: search units by name as one types; the chosen one's id goes in the
   hidden field. Without JavaScript the page still filters by the other fields. */
(function () {
  document.querySelectorAll("[data-unit-picker]").forEach(function (box) {
    var input = box.querySelector(".unit-search");
    var hidden = box.querySelector("input[type=hidden]");
    var list = box.querySelector(".unit-choices");
    var timer = null;
    function choose(id, name) {
      hidden.value = id;
      input.value = name;
      list.hidden = true;
    }
    input.addEventListener("input", function () {
      hidden.value = "";
      clearTimeout(timer);
      var q = input.value.trim();
      if (!q) { list.hidden = true; return; }
      timer = setTimeout(function () {
        var url = box.dataset.search + (box.dataset.search.indexOf("?") < 0 ? "?" : "&") + "q=" + encodeURIComponent(q);
        fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
          list.innerHTML = "";
          data.units.forEach(function (u) {
            var li = document.createElement("li");
            li.setAttribute("role", "option");
            li.tabIndex = 0;
            li.textContent = u.label + "（" + u.kind + "）";
            li.dataset.id = u.id;
            li.addEventListener("click", function () { choose(u.id, u.name); });
            li.addEventListener("keydown", function (e) { if (e.key === "Enter") { e.preventDefault(); choose(u.id, u.name); } });
            list.appendChild(li);
          });
          list.hidden = data.units.length === 0;
        });
      }, 200);
    });
  });
})();
