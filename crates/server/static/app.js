// The visual condition builder. Each `.condition-builder` edits the JSON textarea named by its
// `data-for`: the textarea stays the form field (and all there is without JavaScript), and the
// builder rewrites it after every change. Every visible word comes from the server's vocabulary
// (<script type="application/json" class="vocabulary">), already translated.
(function () {
  "use strict";
  const MAX_DEPTH = 8; // groups nested deeper than the server accepts are JSON-only
  const ADD_GROUP_DEPTH = 6; // leaves room under the limit for `not` and hand edits
  const LIST_OPS = ["in", "not_in"];
  const DAYS_OPS = ["within_days", "not_within_days"];
  const DATE_KEYS = ["from", "to"];
  const DATE = /^\d{4}-\d{2}-\d{2}$/;
  const TIME = /^\d{2}:\d{2}$/;
  const NOT_UNDERSTOOD = new Error("the builder cannot show this condition");

  // A small element factory (attributes as an object, children as nodes or text); it never
  // writes style, which the page's CSP forbids.
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    Object.keys(attrs).forEach((name) => {
      const value = attrs[name];
      if (value === undefined) return;
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    });
    children.forEach((child) => { if (child !== undefined && child !== null) node.append(child); });
    return node;
  }
  const option = (value, label) => h("option", { value: String(value) }, String(label));
  const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

  // "100.000", "100 000" and "100,000" all mean 100000; anything else is written as typed and
  // the server names the error.
  function toNumber(text) {
    const digits = text.replace(/[.,\s]/g, "");
    return /^-?\d+$/.test(digits) ? Number(digits) : text;
  }

  function mount(root) {
    const script = root.querySelector("script.vocabulary");
    const textarea = document.getElementById(root.dataset.for);
    if (!script || !textarea) return;
    let vocab;
    try { vocab = JSON.parse(script.textContent); } catch (e) { return; } // the textarea still works
    const words = vocab.words || {};
    const fields = vocab.fields || [];
    const blocks = vocab.blocks || [];
    const noValue = vocab.no_value_ops || [];
    const serializers = new WeakMap(); // element → function returning its JSON
    const message = h("p", { class: "cb-message", role: "status" }, words.json_only || "");
    let tree = null; // the root group; hidden while the textarea holds JSON the builder cannot show

    const fieldDef = (name) => fields.find((f) => f.value === name);
    const blockDef = (name) => blocks.find((b) => b.value === name);
    const findChoice = (field, v) => (field.choices || []).find((c) => String(c.value) === String(v));
    const serialize = (node) => serializers.get(node)();
    function fail() { throw NOT_UNDERSTOOD; }

    // ---- JSON → model: groups {combine, negate, items}, leaves {field, op, value}, blocks
    // {def, values}. Anything the builder could not show faithfully throws NOT_UNDERSTOOD, so
    // the textarea is never rewritten with something the user did not write.
    function soleKey(node) {
      if (!isObject(node)) fail();
      const keys = Object.keys(node);
      return keys.length === 1 ? keys[0] : null;
    }
    function readGroup(node, depth) {
      if (depth > MAX_DEPTH) fail();
      const key = soleKey(node);
      if (key === "all" || key === "any") {
        if (!Array.isArray(node[key])) fail();
        const items = node[key].map((item) => readItem(item, depth + 1));
        return { type: "group", combine: key, negate: false, items };
      }
      if (key === "not") {
        const innerKey = soleKey(node.not);
        if (innerKey === "all" || innerKey === "any") return Object.assign(readGroup(node.not, depth), { negate: true });
        return { type: "group", combine: "all", negate: true, items: [readItem(node.not, depth + 1)] };
      }
      // Only the root gets here: a lone leaf or block is shown inside an "all" group.
      return { type: "group", combine: "all", negate: false, items: [readItem(node, depth + 1)] };
    }
    function readItem(node, depth) {
      const key = soleKey(node);
      if (key === "all" || key === "any" || key === "not") return readGroup(node, depth);
      if (key !== null && blockDef(key)) return readBlock(blockDef(key), node[key]);
      return readLeaf(node);
    }
    function readLeaf(node) {
      if (Object.keys(node).some((k) => !["field", "op", "value"].includes(k))) fail();
      const field = fieldDef(node.field);
      if (!field || !field.ops.includes(node.op) || !valueFits(field, node.op, node.value)) fail();
      return { type: "leaf", field, op: node.op, value: node.value };
    }
    function readBlock(def, body) {
      if (!isObject(body)) fail();
      const values = {};
      Object.keys(body).forEach((key) => {
        const value = body[key];
        if (!def.keys.includes(key)) fail();
        if (value === null || value === "") return; // the server reads these as "not given"
        if (typeof value !== "string" || (DATE_KEYS.includes(key) && !DATE.test(value))) fail();
        values[key] = value;
      });
      return { type: "block", def, values };
    }

    // What a value looks like for a field and op: none, one, a list or a pair, of a type.
    function shapeOf(field, op) {
      if (noValue.includes(op)) return { kind: "none", type: "" };
      if (DAYS_OPS.includes(op)) return { kind: "one", type: "number" };
      if (LIST_OPS.includes(op)) return { kind: "list", type: field.type };
      return { kind: op === "between" ? "pair" : "one", type: field.type };
    }
    function valueFits(field, op, value) {
      if (value === undefined) return true; // not filled in yet: the server names it
      const shape = shapeOf(field, op);
      const fits = (v) => scalarFits(field, shape.type, v);
      // A comma-separated list cannot show an item that holds a comma.
      const listItem = (v) => v !== "" && fits(v) && (shape.type === "choice" || !String(v).includes(","));
      if (shape.kind === "none") return false;
      if (shape.kind === "list") return Array.isArray(value) && value.every(listItem);
      if (shape.kind === "pair") return Array.isArray(value) && value.length === 2 && value.every(fits);
      return fits(value);
    }
    function scalarFits(field, type, v) {
      if (v === "") return true;
      if (type === "number") return Number.isInteger(v) || typeof v === "string"; // no decimals
      if (type === "choice") return findChoice(field, v) !== undefined;
      if (type === "date") return typeof v === "string" && DATE.test(v);
      if (type === "time") return typeof v === "string" && TIME.test(v);
      return typeof v === "string" || Number.isFinite(v);
    }

    // ---- model → elements. Each element registers how to serialise itself.
    function renderItem(model, depth) {
      if (model.type === "group") return renderGroup(model, depth, false);
      return model.type === "block" ? renderBlock(model) : renderLeaf(model);
    }
    function button(cls, text, onClick) {
      const b = h("button", { type: "button", class: cls }, text || "");
      b.addEventListener("click", onClick);
      return b;
    }
    function removeButton(node) {
      return button("cb-remove", words.remove, () => {
        // Keep the keyboard in the builder: on the parent group's first button.
        const parent = node.parentElement.closest(".cb-group");
        node.remove();
        const next = parent && parent.querySelector(":scope > .cb-actions > button");
        if (next) next.focus();
        write();
      });
    }
    const newLeaf = () => ({ type: "leaf", field: fields[0], op: fields[0].ops[0], value: undefined });

    function renderGroup(model, depth, isRoot) {
      const combine = h("select", { class: "cb-combine", "aria-label": words.all + " / " + words.any },
        option("all", words.all), option("any", words.any));
      combine.value = model.combine;
      const negate = h("input", { type: "checkbox", class: "cb-negate" });
      negate.checked = model.negate;
      const items = h("div", { class: "cb-items" });
      const actions = h("div", { class: "cb-actions" });
      const group = h("fieldset", { class: "cb-group" },
        h("div", { class: "cb-head" }, combine, h("label", { class: "cb-not" }, negate, " " + words.not)),
        items, actions);
      model.items.forEach((item) => items.append(renderItem(item, depth + 1)));
      const add = (node, focus) => { items.append(node); write(); node.querySelector(focus).focus(); };
      if (fields.length) {
        actions.append(button("cb-add-condition", words.add_condition, () => add(renderLeaf(newLeaf()), ".cb-field")));
      }
      if (depth < ADD_GROUP_DEPTH) {
        // A new group starts with one condition: an empty group is rarely what is wanted.
        const starter = () => ({ type: "group", combine: "all", negate: false, items: fields.length ? [newLeaf()] : [] });
        actions.append(button("cb-add-group", words.add_group, () => add(renderGroup(starter(), depth + 1, false), ".cb-combine")));
      }
      if (blocks.length) {
        actions.append(button("cb-add-block", words.add_block, () => add(renderBlock({ def: blocks[0], values: {} }), ".cb-block-kind")));
      }
      if (!isRoot) actions.append(removeButton(group));
      serializers.set(group, () => {
        const inner = { [combine.value]: Array.from(items.children).map(serialize) };
        return negate.checked ? { not: inner } : inner;
      });
      return group;
    }

    function renderLeaf(model) {
      let field = model.field;
      let op = model.op;
      let read = () => undefined;
      const fieldSelect = h("select", { class: "cb-field", "aria-label": words.field },
        ...fields.map((f) => option(f.value, f.label)));
      const opSelect = h("select", { class: "cb-op", "aria-label": words.op });
      const value = h("span", { class: "cb-value" });
      const leaf = h("div", { class: "cb-leaf" }, fieldSelect, opSelect, value);
      leaf.append(removeButton(leaf));
      function showOps() {
        fieldSelect.value = field.value;
        opSelect.textContent = "";
        field.ops.forEach((o) => opSelect.append(option(o, (vocab.ops || {})[o] || o)));
        opSelect.value = op;
      }
      // Selects fire both input and change; each handler acts once, and before the builder's
      // own listener (on an ancestor) writes the JSON.
      function onField() {
        if (fieldSelect.value === field.value) return;
        field = fieldDef(fieldSelect.value);
        op = field.ops[0];
        showOps();
        read = renderValue(value, field, op, undefined);
      }
      function onOp() {
        if (opSelect.value === op) return;
        const before = shapeOf(field, op);
        const after = shapeOf(field, opSelect.value);
        const kept = before.kind === after.kind && before.type === after.type ? read() : undefined;
        op = opSelect.value;
        read = renderValue(value, field, op, kept);
      }
      ["input", "change"].forEach((type) => {
        fieldSelect.addEventListener(type, onField);
        opSelect.addEventListener(type, onOp);
      });
      showOps();
      read = renderValue(value, field, op, model.value);
      serializers.set(leaf, () => {
        const v = read();
        return v === undefined ? { field: field.value, op } : { field: field.value, op, value: v };
      });
      return leaf;
    }

    // Fills the value span for a field and op; returns a function reading the JSON value
    // (undefined when nothing is filled in, so "value" is left out).
    function renderValue(span, field, op, value) {
      span.textContent = "";
      span.removeAttribute("role");
      span.removeAttribute("aria-label");
      const shape = shapeOf(field, op);
      if (shape.kind === "none") return () => undefined;
      if (shape.kind === "list") {
        return shape.type === "choice" ? checkboxes(span, field, value) : listInput(span, shape.type, value);
      }
      if (shape.kind === "pair") {
        const pair = Array.isArray(value) ? value : [];
        const a = scalarInput(field, shape.type, words.value, pair[0]);
        const b = scalarInput(field, shape.type, words.value + " 2", pair[1]);
        span.append(a.node, h("span", { class: "cb-and" }, words.and || ""), b.node);
        return () => {
          const x = a.read();
          const y = b.read();
          if (x === undefined && y === undefined) return undefined;
          return [x === undefined ? "" : x, y === undefined ? "" : y];
        };
      }
      const one = scalarInput(field, shape.type, words.value, value);
      span.append(one.node);
      return one.read;
    }
    function scalarInput(field, type, label, value) {
      const shown = value === undefined ? "" : String(value);
      if (type === "choice") {
        const select = h("select", { "aria-label": label }, option("", "—"),
          ...(field.choices || []).map((c) => option(c.value, c.label)));
        select.value = shown;
        const read = () => { const c = select.value === "" ? undefined : findChoice(field, select.value); return c && c.value; };
        return { node: select, read };
      }
      const input = h("input", {
        "aria-label": label,
        type: type === "date" || type === "time" ? type : "text",
        inputmode: type === "number" ? "numeric" : undefined,
        placeholder: type === "month_day" ? "MM-DD" : undefined,
      });
      input.value = shown;
      const read = () => {
        const text = input.value.trim();
        if (text === "") return undefined;
        return type === "number" ? toNumber(text) : text;
      };
      return { node: input, read };
    }
    function listInput(span, type, value) {
      const input = h("input", { type: "text", "aria-label": words.value, placeholder: words.list_hint });
      input.value = Array.isArray(value) ? value.join(", ") : "";
      span.append(input);
      return () => {
        const parts = input.value.split(",").map((s) => s.trim()).filter(Boolean);
        if (!parts.length) return undefined;
        return type === "number" ? parts.map(toNumber) : parts;
      };
    }
    function checkboxes(span, field, value) {
      span.setAttribute("role", "group");
      span.setAttribute("aria-label", words.value || "");
      const chosen = (Array.isArray(value) ? value : []).map(String);
      const boxes = (field.choices || []).map((choice) => {
        const box = h("input", { type: "checkbox", value: String(choice.value) });
        box.checked = chosen.includes(String(choice.value));
        span.append(h("label", {}, box, " " + choice.label));
        return { box, choice };
      });
      return () => {
        const picked = boxes.filter((b) => b.box.checked).map((b) => b.choice.value);
        return picked.length ? picked : undefined;
      };
    }

    function renderBlock(model) {
      let def = model.def;
      let inputs = [];
      const kind = h("select", { class: "cb-block-kind", "aria-label": words.block },
        ...blocks.map((b) => option(b.value, b.label)));
      kind.value = def.value;
      const block = h("div", { class: "cb-block" }, kind);
      const remove = removeButton(block);
      block.append(remove);
      function read() {
        const values = {};
        inputs.forEach((input) => { if (input.value.trim()) values[input.dataset.key] = input.value.trim(); });
        return values;
      }
      function showKeys(values) {
        block.querySelectorAll(".cb-key").forEach((label) => label.remove());
        inputs = def.keys.map((key) => {
          const type = DATE_KEYS.includes(key) ? "date" : "text";
          const input = h("input", { class: "cb-key-input", "data-key": key, type });
          input.value = values[key] || "";
          block.insertBefore(h("label", { class: "cb-key" }, ((vocab.block_keys || {})[key] || key) + " ", input), remove);
          return input;
        });
      }
      function onKind() {
        if (kind.value === def.value) return;
        const old = read();
        def = blockDef(kind.value);
        showKeys(old); // the keys the new kind shares keep their values
      }
      ["input", "change"].forEach((type) => kind.addEventListener(type, onKind));
      showKeys(model.values);
      serializers.set(block, () => ({ [def.value]: read() }));
      return block;
    }

    // ---- the textarea. The builder writes it after every change and tells its listeners (the
    // live count); a hand edit is shown once the user leaves the textarea (its change event).
    function write() {
      if (!tree || tree.hidden) return; // the textarea holds JSON the builder cannot show
      const text = JSON.stringify(serialize(tree), null, 2);
      if (text === textarea.value) return; // a select fires input and change: ask the count once
      textarea.value = text;
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
    function load() {
      let model = null;
      try {
        const text = textarea.value.trim();
        const json = text === "" ? { all: [] } : JSON.parse(text);
        // Already on screen: keep the elements (and the focus the user is moving to).
        if (tree && !tree.hidden && JSON.stringify(json) === JSON.stringify(serialize(tree))) return;
        model = readGroup(json, 1);
      } catch (e) {
        model = null; // not JSON, or not something the vocabulary knows
      }
      message.hidden = model !== null;
      if (!model) {
        if (tree) tree.hidden = true;
        return;
      }
      const fresh = renderGroup(model, 1, true);
      if (tree) tree.replaceWith(fresh);
      else root.append(fresh);
      tree = fresh;
    }

    root.append(message);
    root.addEventListener("input", write);
    root.addEventListener("change", write);
    root.addEventListener("keydown", (event) => {
      // Enter in one of the builder's inputs must not submit the surrounding form.
      if (event.key === "Enter" && event.target.tagName === "INPUT") event.preventDefault();
    });
    textarea.addEventListener("change", load);
    load();
    root.hidden = false;
  }

  document.querySelectorAll(".condition-builder").forEach(mount);
})();

// Live counts: an element with data-count-for="TEXTAREA_ID" and data-count-url shows how many
// members the textarea's conditions match, asked 250 ms after the last edit (the builder above
// fires the textarea's input event), with the server's errors in data-count-error's element.
(function () {
  "use strict";
  document.querySelectorAll("[data-count-for][data-count-url]").forEach((output) => {
    const textarea = document.getElementById(output.dataset.countFor);
    if (!textarea) return;
    const errorBox = output.dataset.countError ? document.getElementById(output.dataset.countError) : null;
    const form = textarea.form || output.closest("form");
    function csrf() {
      if (!form) return "";
      const hidden = form.querySelector("input[name=csrf]");
      return form.dataset.csrf || (hidden ? hidden.value : "");
    }
    function show(count, errors) {
      output.textContent = count;
      if (errorBox) errorBox.textContent = errors.map((e) => e.field + ": " + e.message).join("; ");
    }
    let timer = null;
    let asked = 0;
    async function ask() {
      let conditions;
      try { conditions = JSON.parse(textarea.value); } catch (e) { return; } // the server says why on submit
      const mine = ++asked;
      const response = await fetch(output.dataset.countUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf() },
        body: JSON.stringify({ conditions }),
        credentials: "same-origin",
      }).catch(() => null);
      const body = response ? await response.json().catch(() => ({})) : {};
      if (mine !== asked) return; // a newer question is on its way
      if (response && response.ok && typeof body.count === "number") {
        show(new Intl.NumberFormat(document.documentElement.lang || undefined).format(body.count), []);
      } else {
        show("—", Array.isArray(body.errors) ? body.errors : []);
      }
    }
    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(ask, 250);
    });
    ask();
  });
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
