// The loyalty widget: one tag on the shop's page adds a floating button that opens the shop's
// member portal in a panel.
//   <script src="https://loyalty.shop.vn/widget.js" data-shop="ca-phe-sang"
//           data-customer-token="…" async></script>
// With data-customer-token (signed by the shop's site, see API.md) the panel opens signed in.
// No framework, no cookies of its own, nothing sent anywhere but the portal.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__loyaltyWidget) return;
  var shop = script.getAttribute("data-shop") || "";
  if (!/^[a-z0-9-]{3,60}$/.test(shop)) return;
  window.__loyaltyWidget = true;
  var portal = new URL(script.src).origin + "/m/" + shop;
  var token = script.getAttribute("data-customer-token");
  var english = (document.documentElement.lang || "").slice(0, 2) === "en";
  var label = script.getAttribute("data-label") || (english ? "My rewards" : "Ưu đãi của tôi");
  var color = script.getAttribute("data-color") || "#b4232c";
  var frameName = "loyalty-portal-" + shop;
  var button, panel;

  function style(el, rules) {
    for (var k in rules) el.style[k] = rules[k];
  }

  function open() {
    if (panel) {
      panel.hidden = !panel.hidden;
      button.setAttribute("aria-expanded", String(!panel.hidden));
      return;
    }
    panel = document.createElement("div");
    panel.id = "loyalty-widget-panel";
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-label", label);
    style(panel, {
      position: "fixed", right: "16px", bottom: "84px", zIndex: "2147483646",
      width: "min(400px, calc(100vw - 32px))", height: "min(640px, calc(100vh - 112px))",
      borderRadius: "16px", overflow: "hidden", background: "#fff",
      boxShadow: "0 12px 40px rgba(0,0,0,.25)",
    });
    var frame = document.createElement("iframe");
    frame.name = frameName;
    frame.title = label;
    style(frame, { width: "100%", height: "100%", border: "0" });
    panel.appendChild(frame);
    document.body.appendChild(panel);
    if (token) {
      // Posted, not put in the address: the token stays out of logs and history.
      var form = document.createElement("form");
      form.method = "post";
      form.action = portal + "/embed";
      form.target = frameName;
      var field = document.createElement("input");
      field.type = "hidden";
      field.name = "customer_token";
      field.value = token;
      form.appendChild(field);
      style(form, { display: "none" });
      document.body.appendChild(form);
      form.submit();
      form.remove();
    } else {
      frame.src = portal;
    }
    button.setAttribute("aria-expanded", "true");
  }

  function mount() {
    button = document.createElement("button");
    button.type = "button";
    button.id = "loyalty-widget-button";
    button.textContent = "★ " + label;
    button.setAttribute("aria-expanded", "false");
    style(button, {
      position: "fixed", right: "16px", bottom: "16px", zIndex: "2147483647",
      padding: "14px 18px", border: "0", borderRadius: "999px", cursor: "pointer",
      background: color, color: "#fff", font: "600 15px/1 system-ui, sans-serif",
      boxShadow: "0 6px 20px rgba(0,0,0,.25)",
    });
    button.addEventListener("click", open);
    document.body.appendChild(button);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
