// The station's counter form and lists (bound from data attributes; no inline script):
//   <form data-id-check="URL">  says under the ID field what the number gives (birth
//                               date, sex, home) or what is wrong with it, as it is typed,
//                               and fills sex, province and county when they are empty.
//                               The number goes in a POST body, never in an address.
//   <input data-filter="SEL">   hides the elements SEL whose text does not hold what is typed.
(function () {
  var form = document.querySelector("form[data-id-check]");
  if (form) {
    var field = form.querySelector("[name=id_number]");
    var kind = form.querySelector("[name=id_type]");
    var hint = document.getElementById("id-hint");
    var timer = null;
    var last = "";
    var fill = function (name, value) {
      var el = form.querySelector("[name=" + name + "]");
      if (el && !el.value && value) { el.value = value; }
    };
    var check = function () {
      var value = field.value.trim();
      if (!value || value === last) { return; }
      last = value;
      var body = new URLSearchParams();
      body.set("id_number", value);
      body.set("id_type", kind ? kind.value : "");
      body.set("csrf_token", form.querySelector("[name=csrf_token]").value);
      fetch(form.getAttribute("data-id-check"), {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { "X-CSRFToken": form.querySelector("[name=csrf_token]").value },
      })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !hint) { return; }
          hint.classList.toggle("bad", !data.ok);
          if (!data.ok) { hint.textContent = data.message; return; }
          var parts = [data.mask];
          if (data.birth_date) { parts.push(data.birth_date); }
          if (data.province || data.county) { parts.push(data.province + data.county); }
          hint.textContent = "✓ " + parts.join(" · ");
          fill("sex", data.sex);
          if (!form.querySelector("[name=home_county]").value) {
            fill("home_province", data.province);
            fill("home_county", data.county);
          }
        })
        .catch(function () {});
    };
    if (field) {
      field.addEventListener("input", function () {
        clearTimeout(timer);
        var n = field.value.replace(/\s/g, "").length;
        if (n >= 18) { timer = setTimeout(check, 150); }
      });
      field.addEventListener("change", check);
    }
  }
  document.querySelectorAll("input[data-filter]").forEach(function (box) {
    var items = document.querySelectorAll(box.getAttribute("data-filter"));
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      items.forEach(function (el) {
        el.hidden = q !== "" && el.textContent.toLowerCase().indexOf(q) === -1;
      });
    });
  });
})();
