// The segment builder's rows and live count. Everything else in the admin UI works without
// JavaScript; without it, the builder is the JSON textarea and the Count button.
(function () {
  "use strict";
  const form = document.getElementById("segment-form");
  if (!form) return;
  const builder = document.getElementById("builder");
  const rows = document.getElementById("rows");
  const template = document.getElementById("row-template");
  const combine = document.getElementById("combine");
  const tree = document.getElementById("conditions");
  const count = document.getElementById("segment-count");
  const countError = document.getElementById("count-error");
  const numeric = new Set(["member.points", "member.lifetime_spend", "member.order_count",
    "member.birthday_month", "member.age"]);
  builder.hidden = false;

  function valueOf(field, op, text) {
    const parts = op === "in" ? text.split(",").map((s) => s.trim()).filter(Boolean) : [text.trim()];
    const converted = parts.map((p) => {
      const digits = p.replace(/[.\s]/g, "");
      return (numeric.has(field) || op === "within_days") && /^-?\d+$/.test(digits) ? Number(digits) : p;
    });
    return op === "in" ? converted : converted[0];
  }

  function write() {
    const conditions = [];
    rows.querySelectorAll(".condition").forEach((row) => {
      const field = row.querySelector(".field").value;
      const op = row.querySelector(".op").value;
      const text = row.querySelector(".value").value;
      if (text.trim() === "") return;
      conditions.push({ field, op, value: valueOf(field, op, text) });
    });
    tree.value = JSON.stringify({ [combine.value]: conditions }, null, 2);
    refresh();
  }

  let timer = null;
  let asked = 0;
  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      let conditions;
      try { conditions = JSON.parse(tree.value); } catch (e) { return; }
      const mine = ++asked;
      const response = await fetch("/segments/count", {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": form.dataset.csrf },
        body: JSON.stringify({ conditions }),
        credentials: "same-origin",
      });
      if (mine !== asked) return; // a newer question is on its way
      const body = await response.json().catch(() => ({}));
      if (response.ok) {
        count.textContent = new Intl.NumberFormat(document.documentElement.lang).format(body.count);
        countError.textContent = "";
      } else {
        count.textContent = "—";
        countError.textContent = (body.errors || []).map((e) => e.field + ": " + e.message).join("; ");
      }
    }, 250);
  }

  function addRow() {
    const row = template.content.firstElementChild.cloneNode(true);
    row.querySelectorAll("select, input").forEach((el) => el.addEventListener("input", write));
    row.querySelector(".remove").addEventListener("click", () => { row.remove(); write(); });
    rows.appendChild(row);
    return row;
  }

  document.getElementById("add-row").addEventListener("click", () => addRow().querySelector(".value").focus());
  combine.addEventListener("change", write);
  tree.addEventListener("input", refresh);
  addRow();
})();

// The campaign form's live audience count: the chosen segment's conditions (every member
// when none is chosen) counted by the segment builder's endpoint.
(function () {
  "use strict";
  const form = document.getElementById("campaign-form");
  if (!form) return;
  const select = document.getElementById("campaign-segment");
  const count = document.getElementById("audience-count");
  let asked = 0;
  async function refresh() {
    const option = select.selectedOptions[0];
    const conditions = option && option.dataset.conditions
      ? JSON.parse(option.dataset.conditions) : { all: [] };
    const mine = ++asked;
    count.textContent = "…";
    const response = await fetch("/segments/count", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": form.dataset.csrf },
      body: JSON.stringify({ conditions }),
      credentials: "same-origin",
    }).catch(() => null);
    if (mine !== asked) return;
    const body = response && response.ok ? await response.json().catch(() => null) : null;
    count.textContent = body && typeof body.count === "number"
      ? new Intl.NumberFormat(document.documentElement.lang).format(body.count) : "—";
  }
  select.addEventListener("change", refresh);
  refresh();
})();

// Each channel slot (a campaign's, an automation's send step) shows the template fields of its
// channel's kind: none until a channel is chosen (without JavaScript, all of them).
document.querySelectorAll("fieldset.channel-slot").forEach((slot) => {
  "use strict";
  const channel = slot.querySelector("select");
  function kinds() {
    const type = (channel.selectedOptions[0] && channel.selectedOptions[0].dataset.type) || "";
    const kind = type.startsWith("sms") ? "sms" : type.startsWith("zalo") ? "zalo" : type.startsWith("email") ? "email" : "";
    slot.querySelectorAll(".template-field").forEach((field) => {
      field.hidden = field.dataset.kind !== kind;
    });
  }
  channel.addEventListener("change", kinds);
  kinds();
});

// A select with `data-shows="some-class"` shows only the `.some-class` fields whose
// `data-types` name its value (the automation trigger's settings).
document.querySelectorAll("select[data-shows]").forEach((select) => {
  "use strict";
  function show() {
    document.querySelectorAll("." + select.dataset.shows).forEach((field) => {
      field.hidden = !field.dataset.types.split(" ").includes(select.value);
    });
  }
  select.addEventListener("change", show);
  show();
});

// The channel form's type select shows only its type's fields (above); without JavaScript all
// of them show, with a hint to fill those the channel needs.
(function () {
  "use strict";
  const hint = document.querySelector("#channel-form .hint");
  if (hint && document.getElementById("channel-type")) hint.hidden = true;
})();
