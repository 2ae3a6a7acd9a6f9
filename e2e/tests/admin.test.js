// The admin UI end to end, in a real browser against a real server (see e2e/run.sh): first-run
// setup, signing in, a tier, a member, an order through the API seen on the profile, a
// segment's live count, roles, login throttling, and the language switch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL ?? "http://127.0.0.1:8080";
const SHOTS = process.env.SCREENSHOTS; // a directory: save screenshots of the pages visited
const OWNER = { email: "chu.cua.hang@hoamai.vn", password: "mat-khau-an-toan" };

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
      "--disable-background-networking", "--disable-component-update", "--no-first-run"],
  });
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

async function api(key, method, path, body) {
  const response = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const json = await response.json();
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function signIn(page, email, password) {
  await page.goto(BASE + "/login");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Mật khẩu").fill(password);
  await page.getByRole("button", { name: "Đăng nhập" }).click();
}

test("the admin UI from first run to a segment", async (t) => {
  const browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  let apiKey;
  let memberId;
  try {
    await t.test("a fresh install shows the setup page and creates the shop", async () => {
      await page.goto(BASE + "/");
      assert.match(page.url(), /\/setup$/);
      assert.equal(await page.locator("html").getAttribute("lang"), "vi");
      await shot(page, "setup");
      // A too-short password is refused next to its field, and nothing is created.
      await page.getByLabel("Tên cửa hàng / chuỗi").fill("Tiệm Bánh Hoa Mai");
      await page.getByLabel("Email chủ cửa hàng").fill(OWNER.email);
      await page.getByLabel("Mật khẩu (ít nhất 8 ký tự)").fill("ngan");
      await page.getByLabel("Mật khẩu (ít nhất 8 ký tự)").evaluate((el) => el.removeAttribute("minlength"));
      await page.getByRole("button", { name: "Tạo cửa hàng" }).click();
      await page.locator(".field-error").filter({ hasText: "8" }).waitFor();
      await page.getByLabel("Mật khẩu (ít nhất 8 ký tự)").fill(OWNER.password);
      await page.getByRole("button", { name: "Tạo cửa hàng" }).click();
      apiKey = (await page.locator("#api-key").textContent()).trim();
      assert.match(apiKey, /^lk_[A-Z0-9]+_[A-Z0-9]+$/);
      // Setup is a one-time page.
      await page.goto(BASE + "/setup");
      assert.doesNotMatch(page.url(), /\/setup$/);
    });

    await t.test("signing out and in again, with a wrong password first", async () => {
      await page.goto(BASE + "/dashboard");
      await page.getByRole("button", { name: "Đăng xuất" }).click();
      await page.waitForURL(/\/login/);
      await page.goto(BASE + "/members");
      await page.waitForURL(/\/login\?next=%2Fmembers/);
      await signIn(page, OWNER.email, "not-the-password");
      await page.getByText("Email hoặc mật khẩu không đúng").waitFor();
      await signIn(page, OWNER.email, OWNER.password);
      await page.waitForURL(/\/dashboard$/);
      await page.getByRole("heading", { name: "Tổng quan" }).waitFor();
    });

    await t.test("program settings: a bad value is explained next to its field, a good one saved", async () => {
      await page.goto(BASE + "/program");
      assert.equal(await page.getByLabel("Số tiền chi tiêu cho 1 điểm (₫)").inputValue(), "10000");
      await page.getByLabel("Giá trị 1 điểm khi thanh toán (₫)").fill("0");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.locator("#point-value + .field-error").waitFor();
      await page.getByLabel("Giá trị 1 điểm khi thanh toán (₫)").fill("1.000");
      await page.getByLabel("Số tiền chi tiêu cho 1 điểm (₫)").fill("20.000");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.getByText("Đã lưu thiết lập").waitFor();
      assert.equal(await page.getByLabel("Số tiền chi tiêu cho 1 điểm (₫)").inputValue(), "20000");
      await shot(page, "program");
    });

    await t.test("creating tiers, with the ladder's rule shown next to the field", async () => {
      await page.goto(BASE + "/tiers");
      for (const [name, rank, threshold, multiplier] of [["Bạc", "1", "1.000.000", "1"], ["Vàng", "2", "5.000.000", "1,5"]]) {
        await page.getByLabel("Tên hạng").fill(name);
        await page.getByLabel("Thứ tự").fill(rank);
        await page.getByLabel(/^Ngưỡng/).fill(threshold);
        await page.getByLabel("Hệ số tích điểm").fill(multiplier);
        await page.getByRole("button", { name: "Thêm hạng" }).click();
        await page.locator("#tiers").getByRole("cell", { name, exact: true }).waitFor();
      }
      const rows = await page.locator("#tiers tbody tr").allInnerTexts();
      assert.match(rows[1], /Vàng\s+5\.000\.000 ₫\s+×1\.5/);
      // A higher rank must have a higher threshold: refused, and the ladder unchanged.
      await page.getByLabel("Tên hạng").fill("Kim Cương");
      await page.getByLabel("Thứ tự").fill("3");
      await page.getByLabel(/^Ngưỡng/).fill("100");
      await page.getByRole("button", { name: "Thêm hạng" }).click();
      await page.locator(".field-error").first().waitFor();
      assert.equal(await page.locator("#tiers tbody tr").count(), 2);
      // A multiplier out of range is explained next to its field, and nothing is added.
      await page.getByLabel("Tên hạng").fill("Kim Cương");
      await page.getByLabel("Thứ tự").fill("3");
      await page.getByLabel(/^Ngưỡng/).fill("20.000.000");
      await page.getByLabel("Hệ số tích điểm").fill("20");
      await page.getByRole("button", { name: "Thêm hạng" }).click();
      await page.locator("#tier-multiplier + .field-error").waitFor();
      assert.equal(await page.locator("#tiers tbody tr").count(), 2);
      // Editing a tier: a threshold above the next tier's is refused, a good one kept.
      await page.locator("#tiers tr", { hasText: "Bạc" }).getByRole("link", { name: "Sửa" }).click();
      assert.equal(await page.getByLabel("Tên hạng").inputValue(), "Bạc");
      await page.getByLabel(/^Ngưỡng/).fill("9.000.000");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.locator("#tier-form .field-error").first().waitFor();
      await page.getByLabel(/^Ngưỡng/).fill("2.000.000");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/tiers$/);
      assert.match(await page.locator("#tiers tr", { hasText: "Bạc" }).innerText(), /2\.000\.000 ₫/);
      // A tier added by mistake is deleted.
      await page.getByLabel("Tên hạng").fill("Kim Cương");
      await page.getByLabel("Thứ tự").fill("3");
      await page.getByLabel(/^Ngưỡng/).fill("20.000.000");
      await page.getByRole("button", { name: "Thêm hạng" }).click();
      await page.locator("#tiers").getByRole("cell", { name: "Kim Cương", exact: true }).waitFor();
      await page.locator("#tiers tr", { hasText: "Kim Cương" }).getByRole("button", { name: "Xoá" }).click();
      await page.waitForURL(/\/tiers$/);
      assert.equal(await page.locator("#tiers tbody tr").count(), 2);
      await shot(page, "tiers");
    });

    await t.test("creating a member at the counter", async () => {
      await page.goto(BASE + "/members");
      await page.getByRole("link", { name: "Thêm thành viên" }).click();
      await page.getByLabel("Họ tên").fill("Nguyễn Thị Lan");
      await page.getByLabel("Số điện thoại").fill("0912 345 678");
      await page.getByLabel("Tỉnh/thành").fill("Hà Nội");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/members\/mem_/);
      memberId = page.url().split("/members/")[1];
      await page.getByRole("heading", { name: "Nguyễn Thị Lan" }).waitFor();
      assert.equal((await page.locator("#member-status").textContent()).trim(), "Khách hàng");
      // Editing: a new province; the phone written another way is the same number.
      await page.getByRole("link", { name: "Sửa thông tin" }).click();
      assert.equal(await page.getByLabel("Số điện thoại").inputValue(), "0912345678");
      await page.getByLabel("Tỉnh/thành").fill("Hải Phòng");
      await page.getByLabel("Số điện thoại").fill("+84 912 345 678");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(new RegExp(`/members/${memberId}$`));
      await page.getByText("Hải Phòng").waitFor();
      await page.getByRole("button", { name: "Kích hoạt thành viên" }).click();
      await page.locator("#member-status").filter({ hasText: "Thành viên" }).waitFor();
      // The same phone again is refused with the reason on the form.
      await page.goto(BASE + "/members/new");
      await page.getByLabel("Họ tên").fill("Người khác");
      await page.getByLabel("Số điện thoại").fill("0912345678");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.locator(".field-error").first().waitFor();
    });

    await t.test("an order posted through the API shows on the profile with its points and tier", async () => {
      const order = await api(apiKey, "POST", "/api/v1/orders", {
        source: "pos", external_id: "HN01-000001", member_id: memberId, total: 6_000_000,
        lines: [{ sku: "BANH-01", name: "Bánh bông lan trứng muối", category: "bánh", quantity: 2, unit_price: 3_000_000 }],
      });
      assert.equal(order.member.tier.name, "Vàng");
      const earned = order.points.earned;
      assert.equal(earned, 6_000_000 / 20_000); // the rate set on the program page
      await page.goto(BASE + `/members/${memberId}`);
      assert.equal((await page.locator("#member-tier").textContent()).trim(), "Vàng");
      const shown = (await page.locator("#member-points").textContent()).trim();
      assert.equal(shown, earned.toLocaleString("de-DE")); // grouped with dots, as in Vietnamese
      await page.getByRole("cell", { name: "HN01-000001" }).waitFor();
      await shot(page, "member");
      // The list finds her by a piece of her name, without diacritics, and by her tier.
      await page.goto(BASE + "/members?q=thi lan");
      await page.getByRole("cell", { name: "Nguyễn Thị Lan" }).waitFor();
      await page.goto(BASE + "/members");
      await page.locator("#f-tier").selectOption({ label: "Vàng" });
      await page.getByRole("button", { name: "Tìm" }).click();
      assert.equal(await page.locator("tbody tr").count(), 1);
      await page.getByRole("cell", { name: "Nguyễn Thị Lan" }).waitFor();
    });

    await t.test("adjusting points by hand writes the ledger", async () => {
      await page.goto(BASE + `/members/${memberId}`);
      const before = Number((await page.locator("#member-points").textContent()).replace(/\./g, ""));
      await page.getByLabel("Số điểm (+ cộng, − trừ)").fill("50");
      await page.getByLabel("Lý do", { exact: true }).fill("Khách sinh nhật");
      await page.getByRole("button", { name: "Điều chỉnh" }).click();
      await page.getByRole("cell", { name: "Khách sinh nhật" }).waitFor();
      const after = Number((await page.locator("#member-points").textContent()).replace(/\./g, ""));
      assert.equal(after, before + 50);
    });

    await t.test("a bonus rule is previewed on past orders, saved and paused", async () => {
      await page.goto(BASE + "/rules/new");
      await page.getByLabel("Tên quy tắc").fill("Đơn lớn +100");
      await page.locator("details.condition-json summary").click();
      await page.getByLabel("Điều kiện (JSON)").fill('{"all": [{"field": "order.total", "op": ">=", "value": 1000000}]}');
      await page.getByLabel("Điều kiện (JSON)").dispatchEvent("change"); // the builder redraws now, not under the next click
      await page.getByLabel("Phần thưởng").selectOption("bonus_points");
      await page.getByLabel("Giá trị", { exact: true }).fill("100");
      await page.getByRole("button", { name: "Xem trước" }).click();
      assert.equal((await page.locator("#preview-orders").textContent()).trim(), "1");
      assert.equal((await page.locator("#preview-points").textContent()).trim(), "100");
      // A condition on a field that does not exist is named, and nothing is saved.
      await page.locator("details.condition-json").evaluate((d) => { d.open = true; });
      await page.getByLabel("Điều kiện (JSON)").fill('{"all": [{"field": "order.colour", "op": "=", "value": 1}]}');
      await page.getByLabel("Điều kiện (JSON)").dispatchEvent("change");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.locator(".field-error", { hasText: "conditions" }).waitFor();
      await page.locator("details.condition-json").evaluate((d) => { d.open = true; });
      await page.getByLabel("Điều kiện (JSON)").fill('{"all": [{"field": "order.total", "op": ">=", "value": 1000000}]}');
      await page.getByLabel("Điều kiện (JSON)").dispatchEvent("change");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/rules$/);
      const row = page.locator("#rules tr", { hasText: "Đơn lớn +100" });
      await row.getByText("Đang chạy").waitFor();
      await row.getByRole("button", { name: "Tạm dừng" }).click();
      await page.locator("#rules tr", { hasText: "Đơn lớn +100" }).getByRole("cell", { name: "Tạm dừng" }).waitFor();
      // Changing it: the form comes back filled, the preview shows the change, and saving
      // keeps the rule paused.
      await page.locator("#rules tr", { hasText: "Đơn lớn +100" }).getByRole("link", { name: "Sửa" }).click();
      // The saved tree comes back in the visual builder.
      const leaf = page.locator(".condition-builder .cb-leaf").first();
      assert.equal(await leaf.locator(".cb-field").inputValue(), "order.total");
      assert.equal(await leaf.locator(".cb-value input").inputValue(), "1000000");
      assert.equal(await page.getByLabel("Giá trị", { exact: true }).inputValue(), "100");
      await page.getByLabel("Giá trị", { exact: true }).fill("200");
      await page.getByRole("button", { name: "Xem trước" }).click();
      assert.equal((await page.locator("#preview-points").textContent()).trim(), "200");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/rules$/);
      const changed = page.locator("#rules tr", { hasText: "Đơn lớn +100" });
      assert.match(await changed.innerText(), /"bonus_points":200[\s\S]*Tạm dừng/);
    });

    await t.test("a voucher program with unique codes, generated and downloaded, shows in its report", async () => {
      await page.goto(BASE + "/vouchers/new");
      await page.getByLabel("Tên chương trình").fill("Tết giảm 10%");
      await page.getByLabel("Loại").selectOption("percent");
      await page.getByLabel("Giá trị (phần trăm, hoặc số tiền ₫)").fill("150");
      await page.getByLabel("Giảm tối đa (₫)").fill("50.000");
      await page.getByLabel("Tiền tố của mã riêng").fill("TET");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.locator("#v-value + .field-error").waitFor(); // more than 100%
      await page.getByLabel("Giá trị (phần trăm, hoặc số tiền ₫)").fill("10");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/vouchers\/vpr_/);
      await page.getByLabel("Số lượng mã").fill("5");
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Tạo và tải về (CSV)" }).click(),
      ]);
      const chunks = [];
      for await (const chunk of await download.createReadStream()) chunks.push(chunk);
      const lines = Buffer.concat(chunks).toString("utf8").replace(/^\uFEFF/, "").trim().split(/\r?\n/);
      assert.equal(lines[0], "code");
      assert.equal(lines.length, 6);
      assert.ok(lines.slice(1).every((code) => /^TET[A-Z0-9]+$/.test(code)), lines.join(","));
      await page.reload();
      assert.equal((await page.locator("#report-issued").textContent()).trim(), "5");
      // A code from the file gives its discount through the API.
      const check = await api(apiKey, "POST", "/api/v1/vouchers/validate", { code: lines[1].toLowerCase(), order: { total: 300_000 } });
      assert.equal(check.discount, 30_000);
      // Paused, its codes stop working until it is resumed.
      await page.getByRole("button", { name: "Tạm dừng" }).click();
      await page.locator("#program-status").filter({ hasText: "Tạm dừng" }).waitFor();
      const paused = await api(apiKey, "POST", "/api/v1/vouchers/validate", { code: lines[1], order: { total: 300_000 } });
      assert.equal(paused.valid, false, JSON.stringify(paused));
      await page.getByRole("button", { name: "Chạy lại" }).click();
      await page.locator("#program-status").filter({ hasText: "Đang chạy" }).waitFor();
    });

    await t.test("a member spends points on a reward at the counter and gets a voucher", async () => {
      await page.goto(BASE + "/rewards");
      const add = page.locator("#reward-add");
      await add.getByLabel("Tên quà").fill("Voucher Tết 10%");
      await add.getByLabel("Số điểm cần đổi").fill("100");
      await page.getByLabel("Loại").selectOption("voucher");
      await page.getByLabel("Chương trình voucher (với quà là voucher)").selectOption({ label: "Tết giảm 10%" });
      await page.getByRole("button", { name: "Thêm quà" }).click();
      await page.locator("#rewards").getByRole("cell", { name: "Voucher Tết 10%" }).waitFor();
      await add.getByLabel("Tên quà").fill("Ly giữ nhiệt");
      await add.getByLabel("Số điểm cần đổi").fill("1.000.000");
      await page.getByRole("button", { name: "Thêm quà" }).click();
      await page.locator("#rewards").getByRole("cell", { name: "Ly giữ nhiệt" }).waitFor();

      await page.goto(BASE + `/members/${memberId}`);
      const points = () => page.locator("#member-points").textContent().then((t) => Number(t.replace(/\./g, "")));
      const before = await points();
      await page.getByLabel("Tên quà").selectOption({ label: "Voucher Tết 10% — 100 Điểm" });
      await page.getByRole("button", { name: "Đổi quà" }).click();
      await page.locator("#member-vouchers code").first().waitFor();
      assert.match(await page.locator("#member-vouchers code").first().textContent(), /^TET/);
      assert.equal(await points(), before - 100);
      // Not enough points: refused with the reason, nothing spent.
      await page.getByLabel("Tên quà").selectOption({ label: "Ly giữ nhiệt — 1.000.000 Điểm" });
      await page.getByRole("button", { name: "Đổi quà" }).click();
      await page.locator("#member-error").waitFor();
      assert.equal(await points(), before - 100);
    });

    await t.test("a segment's count is live in the builder and kept when saved", async () => {
      await api(apiKey, "POST", "/api/v1/members", { name: "Trần Văn Minh", phone: "0987654321", province: "Đà Nẵng" });
      await page.goto(BASE + "/segments/new");
      await page.getByLabel("Tên nhóm").fill("Khách hạng Vàng");
      const builder = page.locator(".condition-builder");
      await builder.locator(".cb-add-condition").first().click();
      const row = builder.locator(".cb-leaf").first();
      await row.locator(".cb-field").selectOption("member.tier");
      await row.locator(".cb-op").selectOption("=");
      await row.locator(".cb-value select").selectOption("Vàng");
      await page.locator("#segment-count").filter({ hasText: /^1$/ }).waitFor();
      // Widening the condition changes the count as it is typed.
      await row.locator(".cb-field").selectOption("member.order_count");
      await row.locator(".cb-op").selectOption(">=");
      await row.locator(".cb-value input").fill("0");
      await page.locator("#segment-count").filter({ hasText: /^2$/ }).waitFor();
      await row.locator(".cb-field").selectOption("member.tier");
      await row.locator(".cb-op").selectOption("=");
      await row.locator(".cb-value select").selectOption("Vàng");
      await page.locator("#segment-count").filter({ hasText: /^1$/ }).waitFor();
      await shot(page, "segment-builder");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/segments\/seg_/);
      assert.equal((await page.locator("#segment-count").textContent()).trim(), "1");
      await page.getByRole("cell", { name: "Nguyễn Thị Lan" }).waitFor();
      assert.equal((await page.locator("#segment-revenue").textContent()).trim(), "6.000.000 ₫");
      // A saved segment is changed in the same builder, which shows its tree.
      await page.locator("#edit-segment").click();
      assert.equal(await page.locator(".condition-builder .cb-leaf .cb-field").first().inputValue(), "member.tier");
      await page.getByLabel("Tên nhóm").fill("Khách hạng Vàng (VIP)");
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/segments\/seg_[^/]+$/);
      await page.getByRole("heading", { name: "Khách hạng Vàng (VIP)" }).waitFor();
    });

    await t.test("the dashboard counts the members and the revenue", async () => {
      await page.goto(BASE + "/dashboard");
      assert.equal((await page.locator("#members-total").textContent()).trim(), "2");
      await page.getByText("6.000.000 ₫").first().waitFor();
      assert.equal(await page.locator("svg.chart").count(), 2);
      await shot(page, "dashboard");
    });

    await t.test("switching to English and back", async () => {
      await page.goto(BASE + "/members");
      await page.locator("#lang-switch").click();
      await page.getByRole("heading", { name: "Members" }).waitFor();
      assert.equal(await page.locator("html").getAttribute("lang"), "en");
      assert.match(page.url(), /\/members/);
      await page.goto(BASE + "/dashboard");
      await page.getByText("6,000,000 ₫").first().waitFor();
      await page.locator("#lang-switch").click();
      await page.getByRole("heading", { name: "Tổng quan" }).waitFor();
      assert.equal(await page.locator("html").getAttribute("lang"), "vi");
    });

    await t.test("a bonus rule built in the visual builder from past purchases previews as the API does", async () => {
      const regular = await api(apiKey, "POST", "/api/v1/members", { phone: "0903000123", name: "Khách quen" });
      for (const [id, sku] of [["E2E-CF-1", "CF-001"], ["E2E-CF-2", "TRA-01"]]) {
        await api(apiKey, "POST", "/api/v1/orders", { source: "pos", external_id: id, member_id: regular.id, total: 100_000,
          lines: [{ sku, name: sku, category: "drinks", quantity: 1, unit_price: 100_000 }] });
      }
      await page.goto(BASE + "/rules/new");
      await page.getByLabel("Tên quy tắc").fill("Khách quen cà phê");
      const builder = page.locator(".condition-builder");
      await builder.locator(".cb-add-block").first().click();
      const block = builder.locator(".cb-block").first();
      await block.locator(".cb-block-kind").selectOption("purchased");
      await block.locator('input[data-key="from"]').fill("2026-01-01");
      await block.locator('input[data-key="sku"]').fill("CF-001");
      await page.getByLabel("Phần thưởng").selectOption("bonus_points");
      await page.getByLabel("Giá trị", { exact: true }).fill("50");
      await shot(page, "rule-builder");
      await page.getByRole("button", { name: "Xem trước" }).click();
      const shown = async (id) => Number((await page.locator(id).textContent()).replace(/\./g, ""));
      const [orders, points] = [await shown("#preview-orders"), await shown("#preview-points")];
      assert.ok(orders >= 1, "the tea after the coffee matches");
      // The builder wrote the tree; the API previews it the same over the same 30 days.
      const conditions = JSON.parse(await page.locator("#rule-conditions").inputValue());
      assert.deepEqual(conditions, { all: [{ purchased: { from: "2026-01-01", sku: "CF-001" } }] });
      const now = new Date();
      const asked = await api(apiKey, "POST", "/api/v1/earn-rules/preview", { name: "x", conditions, effect: { bonus_points: 50 },
        from: new Date(now - 30 * 86400_000).toISOString(), to: new Date(now.getTime() + 60_000).toISOString() });
      assert.deepEqual([asked.orders_matched, asked.points], [orders, points]);
      await page.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/rules$/);
      await page.locator("#rules tr", { hasText: "Khách quen cà phê" }).waitFor();
      const next = await api(apiKey, "POST", "/api/v1/orders", { source: "pos", external_id: "E2E-CF-3", member_id: regular.id, total: 100_000 });
      assert.ok(next.points.breakdown.some((b) => b.points === 50), JSON.stringify(next));
    });

    await t.test("importing members from a CSV file shows the progress and the bad rows", async () => {
      const csv = "\uFEFFphone,name,province,points,tier\r\n" +
        "0903000001,Lê Thị Hồng,Hà Nội,100,Bạc\r\n" +
        "0903000002,\"Phạm, Văn Bình\",Huế,0,\r\n" +
        "12345,Số sai,Hà Nội,0,\r\n";
      await page.goto(BASE + "/imports");
      await page.getByLabel("File CSV").setInputFiles({ name: "khach-hang.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
      await page.getByRole("button", { name: "Bắt đầu nhập" }).click();
      await page.waitForURL(/\/imports\/imp_/);
      await page.locator("#import-status").filter({ hasText: "Hoàn tất" }).waitFor({ timeout: 20_000 });
      assert.equal((await page.locator("#import-imported").textContent()).trim(), "2");
      assert.equal((await page.locator("#import-failed").textContent()).trim(), "1");
      const error = await page.locator("#import-errors tbody tr").first().innerText();
      assert.match(error, /^4\s+phone\s+/); // the header is row 1
      await shot(page, "import");
      await page.goto(BASE + "/members?q=le thi hong");
      await page.locator("tbody tr", { hasText: "Lê Thị Hồng" }).getByRole("link").click();
      assert.equal((await page.locator("#member-points").textContent()).trim(), "100");
      assert.equal((await page.locator("#member-tier").textContent()).trim(), "Bạc");

      // Her past orders, as history: the order shows on her profile and earns nothing.
      const orders = "order_id,placed_at,phone,sku,name,category,quantity,unit_price\n" +
        "CU-1001,15/09/2026 10:30,0903000001,BANH-02,Bánh su kem,bánh,3,25.000\n";
      await page.goto(BASE + "/imports");
      await page.getByLabel("Loại dữ liệu").selectOption("orders");
      await page.getByLabel("File CSV").setInputFiles({ name: "don-hang.csv", mimeType: "text/csv", buffer: Buffer.from(orders) });
      await page.getByRole("button", { name: "Bắt đầu nhập" }).click();
      await page.locator("#import-status").filter({ hasText: "Hoàn tất" }).waitFor({ timeout: 20_000 });
      assert.equal((await page.locator("#import-imported").textContent()).trim(), "1");
      await page.goto(BASE + "/members?q=le thi hong");
      await page.locator("tbody tr", { hasText: "Lê Thị Hồng" }).getByRole("link").click();
      await page.getByRole("cell", { name: "CU-1001" }).waitFor();
      assert.equal((await page.locator("#member-points").textContent()).trim(), "100");
    });

    await t.test("brands and stores, with a duplicate store code refused", async () => {
      await page.goto(BASE + "/stores");
      await page.locator("#brand-code").fill("banh");
      await page.locator("#brand-name").fill("Tiệm Bánh Hoa Mai");
      await page.getByRole("button", { name: "Thêm thương hiệu" }).click();
      await page.locator("#brands").getByRole("cell", { name: "Tiệm Bánh Hoa Mai" }).waitFor();
      for (const attempt of [1, 2]) {
        await page.locator("#store-code").fill("HN01");
        await page.locator("#store-name").fill("Hoa Mai Hoàn Kiếm");
        await page.locator("#store-brand").selectOption("banh");
        await page.locator("#store-province").fill("Hà Nội");
        await page.getByRole("button", { name: "Thêm cửa hàng" }).click();
        if (attempt === 2) await page.locator("#store-code + .field-error").waitFor();
      }
      assert.equal(await page.locator("#stores tbody tr").count(), 1);
      assert.match(await page.locator("#stores tbody tr").innerText(), /HN01\s+Hoa Mai Hoàn Kiếm\s+banh\s+Hà Nội/);
      // Edited from its row: the address added, the code kept.
      await page.locator("#edit-HN01 summary").click();
      await page.locator("#edit-HN01").getByLabel("Địa chỉ cửa hàng").fill("12 Hàng Bạc");
      await page.locator("#edit-HN01").getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/stores$/);
      const listed = await (await fetch(BASE + "/api/v1/stores", { headers: { authorization: `Bearer ${apiKey}` } })).json();
      const hn01 = listed.items.find((x) => x.code === "HN01");
      assert.deepEqual([hn01.address, hn01.name, hn01.active], ["12 Hàng Bạc", "Hoa Mai Hoàn Kiếm", true]);
      // A brand renamed from its row (its code stays), and a tier's own discount for it.
      await page.locator("#edit-brand-banh summary").click();
      await page.locator("#brand-name-banh").fill("Bánh Hoa Mai");
      await page.locator("#edit-brand-banh").getByRole("button", { name: "Lưu" }).click();
      await page.locator("#brands").getByRole("cell", { name: "Bánh Hoa Mai", exact: true }).waitFor();
      const tiers = await (await fetch(BASE + "/api/v1/tiers", { headers: { authorization: `Bearer ${apiKey}` } })).json();
      const gold = (tiers.items ?? tiers).find((x) => x.name === "Vàng");
      await page.goto(BASE + `/tiers/${gold.id}/edit`);
      await page.locator("#tier-brand-discounts").fill("banh=12");
      await page.locator("#tier-brand-discounts").press("Enter");
      await page.waitForURL(/\/tiers$/);
      const again = await (await fetch(BASE + "/api/v1/tiers", { headers: { authorization: `Bearer ${apiKey}` } })).json();
      assert.deepEqual((again.items ?? again).find((x) => x.name === "Vàng").benefits.brand_discounts, [{ brand: "banh", discount_percent: 12 }]);
    });

    await t.test("the product catalogue is listed and edited; a till's SKU-only line takes its category", async () => {
      const csv = "sku,name,category,brand,price\nBM-01,Bánh mì pate,banh,banh,25000\nCF-09,Cà phê đen,,,20000\n";
      const imported = await fetch(BASE + "/api/v1/imports/products", { method: "POST",
        headers: { authorization: `Bearer ${apiKey}`, "content-type": "text/csv" }, body: csv });
      assert.ok(imported.ok, await imported.text());
      await page.goto(BASE + "/products");
      await page.locator("#products tbody tr").filter({ hasText: "CF-09" }).waitFor();
      const row = page.locator("#products tbody tr").filter({ hasText: "CF-09" });
      await row.locator("summary").click();
      await row.getByLabel("Ngành hàng").fill("do-uong");
      await row.getByRole("button", { name: "Lưu" }).click();
      await page.waitForURL(/\/products$/);
      await page.locator("#products tbody tr").filter({ hasText: "CF-09" }).filter({ hasText: "do-uong" }).waitFor();
    });

    await t.test("the owner adds a cashier and a till's API key, which works until revoked", async () => {
      await page.goto(BASE + "/staff");
      await page.getByLabel("Email", { exact: true }).fill("thu.ngan@hoamai.vn");
      await page.locator("#staff-role").selectOption("cashier");
      await page.getByLabel("Mật khẩu (ít nhất 8 ký tự)").fill("thu-ngan-123");
      await page.getByRole("button", { name: "Thêm nhân viên" }).click();
      await page.locator("#staff").getByRole("cell", { name: "thu.ngan@hoamai.vn" }).waitFor();
      await page.getByLabel("Tên khoá").fill("POS HN01");
      await page.getByLabel("Quyền").selectOption("pos");
      await page.getByRole("button", { name: "Tạo khoá API" }).click();
      const key = (await page.locator("#new-key").textContent()).trim();
      const members = await fetch(BASE + "/api/v1/members", { headers: { authorization: `Bearer ${key}` } });
      assert.equal(members.status, 200);
      await shot(page, "staff");
      await page.goto(BASE + "/staff");
      await page.locator("#keys tr", { hasText: "POS HN01" }).getByRole("button", { name: "Thu hồi" }).click();
      await page.locator("#keys tr", { hasText: "POS HN01" }).getByText("Đã thu hồi").waitFor();
      const refused = await fetch(BASE + "/api/v1/members", { headers: { authorization: `Bearer ${key}` } });
      assert.equal(refused.status, 401);
    });

    await t.test("the activity log shows who changed what, filtered", async () => {
      await page.goto(BASE + "/activity?entity=tier");
      const rows = await page.locator("#activity tbody tr").allInnerTexts();
      // Bạc and Vàng created, Bạc's threshold changed, Kim Cương created and deleted, Vàng's
      // brand discount set (newest first); the refused tier and the refused change left no trace.
      const actions = rows.map((r) => r.match(/chu\.cua\.hang@hoamai\.vn\s+tier\s+(\w+)/)?.[1]);
      assert.deepEqual(actions, ["update", "delete", "create", "update", "create", "create"], rows.join("\n"));
      await page.goto(BASE + "/activity?entity=member");
      const members = await page.locator("#activity tbody tr").allInnerTexts();
      // Lan registered in the UI (by the owner), Minh through the API (by the owner's key).
      assert.ok(members.some((r) => /chu\.cua\.hang@hoamai\.vn\s+member\s+create/.test(r)), members.join("\n"));
      assert.ok(members.some((r) => /Owner key\s+member\s+create/.test(r)), members.join("\n"));
    });

    await t.test("a cashier sees members but not the dashboard or the tier form", async () => {
      const cashier = await browser.newContext();
      const till = await cashier.newPage();
      await signIn(till, "thu.ngan@hoamai.vn", "thu-ngan-123");
      await till.waitForURL(/\/members$/);
      const response = await till.goto(BASE + "/dashboard");
      assert.equal(response.status(), 403);
      await till.goto(BASE + "/tiers");
      assert.equal(await till.getByRole("button", { name: "Thêm hạng" }).count(), 0);
      await cashier.close();
    });

    await t.test("a form posted without its CSRF token is refused", async () => {
      const response = await page.request.post(BASE + "/tiers", {
        form: { name: "Giả mạo", rank: "9", threshold: "99999999" },
      });
      assert.equal(response.status(), 403);
    });

    await t.test("after a few wrong passwords the account waits seconds, not a lockout", async () => {
      const other = await browser.newContext();
      const p = await other.newPage();
      for (let i = 0; i < 3; i++) {
        await signIn(p, "ai.do@example.vn", "sai-mat-khau");
        await p.getByText("Email hoặc mật khẩu không đúng").waitFor();
      }
      await signIn(p, "ai.do@example.vn", "sai-mat-khau");
      await p.getByText("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 1 giây.").waitFor();
      await p.waitForTimeout(1200);
      await signIn(p, "ai.do@example.vn", "sai-mat-khau");
      await p.getByText("Email hoặc mật khẩu không đúng").waitFor();
      await other.close();
    });

    await t.test("the owner deactivates the cashier, who is signed out at once", async () => {
      const cashier = await browser.newContext();
      const till = await cashier.newPage();
      await signIn(till, "thu.ngan@hoamai.vn", "thu-ngan-123");
      await till.waitForURL(/\/members$/);
      await page.goto(BASE + "/staff");
      const row = page.locator('#staff tr[data-staff="thu.ngan@hoamai.vn"]');
      await row.getByText("Thay đổi").click();
      await row.getByLabel("Được đăng nhập").uncheck();
      await row.getByRole("button", { name: "Lưu" }).click();
      await page.locator('#staff tr[data-staff="thu.ngan@hoamai.vn"]').getByText("Đã khoá").waitFor();
      await shot(page, "staff-offboarding");
      await till.goto(BASE + "/members");
      assert.match(till.url(), /\/login/);
      await signIn(till, "thu.ngan@hoamai.vn", "thu-ngan-123");
      await till.getByText("Email hoặc mật khẩu không đúng").waitFor();
      await cashier.close();
    });

    await t.test("the owner changes their own password and stays signed in", async () => {
      await page.goto(BASE + "/members");
      await page.getByRole("link", { name: "Mật khẩu của tôi" }).click();
      await page.getByLabel("Mật khẩu hiện tại").fill("doan-bua-thoi");
      await page.getByLabel("Mật khẩu mới (ít nhất 8 ký tự)").fill("mat-khau-moi-2026");
      await page.getByRole("button", { name: "Đổi mật khẩu" }).click();
      await page.locator("#current-password + .field-error").waitFor();
      await page.getByLabel("Mật khẩu hiện tại").fill(OWNER.password);
      await page.getByLabel("Mật khẩu mới (ít nhất 8 ký tự)").fill("mat-khau-moi-2026");
      await page.getByRole("button", { name: "Đổi mật khẩu" }).click();
      await page.getByText("Đã đổi mật khẩu").waitFor();
      await page.goto(BASE + "/members");
      assert.match(page.url(), /\/members$/);
    });

    await t.test("a tier set by hand holds, with its reason in the history", async () => {
      await page.goto(BASE + `/members/${memberId}`);
      await page.getByText("Đặt hạng thủ công").first().click();
      await page.locator("#override-tier").selectOption({ label: "Bạc" });
      await page.locator("#override-until").fill("2099-01-01");
      await page.locator("#override-reason").fill("Khách VIP của chủ quán");
      await page.getByRole("button", { name: "Đặt hạng thủ công" }).click();
      await page.locator("#member-tier").filter({ hasText: "Bạc" }).waitFor();
      await page.locator("#tier-override").filter({ hasText: "01/01/2099" }).waitFor();
      await page.getByRole("cell", { name: "Đặt hạng thủ công" }).waitFor();
    });

    await t.test("the orders page: filters, an order's detail, a refund and a cancel, each confirmed", async () => {
      const line = (quantity, unit_price) => [{ sku: "BANH-02", name: "Bánh mì hoa cúc", category: "bánh", quantity, unit_price }];
      const toRefund = await api(apiKey, "POST", "/api/v1/orders", {
        source: "pos", external_id: "HN01-000002", member_id: memberId, store: "HN01", total: 400_000, lines: line(4, 100_000),
      });
      const toCancel = await api(apiKey, "POST", "/api/v1/orders", {
        source: "pos", external_id: "HN01-000003", member_id: memberId, total: 200_000, lines: line(2, 100_000),
      });
      await page.goto(BASE + "/orders");
      await page.getByRole("link", { name: "Đơn hàng" }).first().waitFor();
      assert.ok((await page.locator("#orders tbody tr").count()) >= 3);
      // Newest first; the store filter finds the one order of HN01.
      assert.match(await page.locator("#orders tbody tr").first().innerText(), /HN01-000003/);
      await page.locator("#f-store").fill("HN01");
      await page.getByRole("button", { name: "Lọc" }).click();
      assert.equal(await page.locator("#orders tbody tr").count(), 1);
      await shot(page, "orders");

      await page.getByRole("link", { name: "HN01-000002" }).click();
      await page.waitForURL(/\/orders\/ord_/);
      await page.locator("#order-lines").getByRole("cell", { name: "Bánh mì hoa cúc" }).waitFor();
      assert.ok((await page.locator("#order-breakdown tbody tr").count()) >= 1);
      // A refund without the box ticked is refused by the server too, and nothing changes.
      await page.locator("#refund-amount").fill("100.000");
      await page.locator("#refund-form input[name=confirm]").evaluate((el) => el.removeAttribute("required"));
      await page.getByRole("button", { name: "Hoàn tiền" }).click();
      await page.locator("#refund-form .field-error").filter({ hasText: "xác nhận" }).waitFor();
      assert.equal((await page.locator("#order-refunded").textContent()).trim(), "0 ₫");
      await page.getByLabel("Tôi xác nhận hoàn tiền (điểm tương ứng sẽ bị thu hồi)").check();
      await page.getByRole("button", { name: "Hoàn tiền" }).click();
      await page.locator("#order-status").filter({ hasText: "Hoàn một phần" }).waitFor();
      assert.equal((await page.locator("#order-refunded").textContent()).trim(), "100.000 ₫");
      const reversed = Math.floor((toRefund.points.earned * 100_000) / 400_000);
      assert.equal((await page.locator("#points-reversed").textContent()).trim(), reversed.toLocaleString("de-DE"));
      await page.locator("#order-refunds").getByRole("cell", { name: "100.000 ₫" }).first().waitFor();
      // More than is left is refused in Vietnamese, next to the amount.
      await page.locator("#refund-amount").fill("400.000");
      await page.getByLabel("Tôi xác nhận hoàn tiền (điểm tương ứng sẽ bị thu hồi)").check();
      await page.getByRole("button", { name: "Hoàn tiền" }).click();
      await page.locator("#refund-form .field-error").filter({ hasText: "vượt quá" }).waitFor();
      await shot(page, "order");

      await page.goto(BASE + `/orders/${toCancel.id}`);
      await page.getByLabel("Tôi xác nhận huỷ đơn này").check();
      await page.getByRole("button", { name: "Huỷ đơn" }).click();
      await page.locator("#order-status").filter({ hasText: "Đã huỷ" }).waitFor();
      assert.equal((await page.locator("#points-reversed").textContent()).trim(), toCancel.points.earned.toLocaleString("de-DE"));
      assert.equal(await page.locator("#cancel-form").count(), 0, "a cancelled order offers no more changes");
      await page.goto(BASE + "/orders?status=cancelled");
      assert.equal(await page.locator("#orders tbody tr").count(), 1);
      await page.getByRole("link", { name: "HN01-000003" }).waitFor();
    });

    await t.test("adding a webhook shows its secret once, and its test ping arrives signed", async () => {
      const received = [];
      const receiver = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => { body += chunk; });
        req.on("end", () => { received.push({ headers: req.headers, body }); res.writeHead(200); res.end("ok"); });
      });
      await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
      const url = `http://127.0.0.1:${receiver.address().port}/loyalty-events`;
      try {
        await page.goto(BASE + "/integrations");
        await page.getByLabel("URL").fill(url);
        await page.getByLabel("Sự kiện").fill("order.paid, points.*");
        await page.getByRole("button", { name: "Thêm webhook" }).click();
        const secret = (await page.locator("#webhook-secret").textContent()).trim();
        assert.match(secret, /^whsec_/);
        await shot(page, "integrations");
        await page.getByRole("link", { name: url }).click();
        await page.getByRole("button", { name: "Gửi thử" }).click();
        for (let i = 0; i < 50 && !(await page.locator("#deliveries").getByText("Đã nhận").count()); i++) {
          await page.waitForTimeout(200);
          await page.reload();
        }
        await page.locator("#deliveries").getByText("Đã nhận").waitFor();
        const ping = received.find((r) => r.headers["loyalty-event-type"] === "ping");
        const [, t, v1] = ping.headers["loyalty-signature"].match(/^t=(\d+),v1=([0-9a-f]+)$/);
        assert.equal(createHmac("sha256", secret).update(`${t}.${ping.body}`).digest("hex"), v1);
        await shot(page, "webhook");
        // The secret is not shown again.
        await page.goto(BASE + "/integrations");
        assert.equal(await page.locator("#webhook-secret").count(), 0);
      } finally {
        receiver.closeAllConnections();
        receiver.close();
      }
    });

    await t.test("a Shopify connection: the URL to paste, and its log after a signed order", async () => {
      await page.goto(BASE + "/integrations");
      await page.locator("#connection-platform").selectOption("shopify");
      await page.locator("#connection-name").fill("Cửa hàng Shopify");
      await page.locator("#connection-secret").fill("shpss_bi-mat");
      await page.getByRole("button", { name: "Thêm kết nối" }).click();
      await page.waitForURL(/\/integrations\/connections\/con_/);
      const path = (await page.locator("#webhook-url").textContent()).trim();
      assert.match(path, /^\/hooks\/shopify\/con_/);
      const body = JSON.stringify({
        id: 9001, name: "#9001", financial_status: "paid", total_price: "250000.00", currency: "VND",
        customer: { id: 77, phone: "0903334455", first_name: "Hà", last_name: "Vũ" },
        line_items: [{ sku: "BANH-03", title: "Bánh su kem", quantity: 5, price: "50000.00" }],
      });
      const sign = (secret) => createHmac("sha256", secret).update(body).digest("base64");
      const send = (secret) => fetch(BASE + path, {
        method: "POST", body,
        headers: { "content-type": "application/json", "x-shopify-topic": "orders/paid", "x-shopify-hmac-sha256": sign(secret) },
      });
      assert.equal((await send("not-the-secret")).status, 401);
      assert.equal((await send("shpss_bi-mat")).status, 200);
      assert.equal((await send("shpss_bi-mat")).status, 200);
      await page.reload();
      const row = page.locator("#inbound tbody tr").first();
      await row.getByText("Đã xử lý").waitFor();
      assert.match(await row.innerText(), /9001[\s\S]*2$/); // received twice, applied once
      await shot(page, "connection");
      const connectionPage = page.url();
      await row.getByRole("link", { name: "9001" }).click();
      await page.locator("#order-lines").getByRole("cell", { name: "Bánh su kem" }).waitFor();
      // Switched off, the platform's deliveries get 404; deleted (confirmed), it is gone.
      await page.goto(connectionPage);
      await page.getByRole("button", { name: "Tắt" }).click();
      await page.getByRole("button", { name: "Bật lại" }).waitFor();
      assert.equal((await send("shpss_bi-mat")).status, 404);
      await page.getByLabel("Xoá cả nhật ký; nền tảng sẽ nhận lỗi 404").check();
      await page.getByRole("button", { name: "Xoá kết nối" }).click();
      await page.waitForURL(/\/integrations$/);
      assert.equal(await page.locator("#connections").getByRole("link", { name: "Cửa hàng Shopify" }).count(), 0);
    });

    await t.test("a campaign: an SMS channel tested, a draft previewed for a real member, launched, each member messaged once", async () => {
      const sms = [];
      const esms = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => { body += chunk; });
        req.on("end", () => {
          const message = JSON.parse(body || "{}");
          sms.push(message);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ CodeResult: "100", CountRegenerate: 0, SMSID: `sms-${sms.length}` }));
        });
      });
      await new Promise((resolve) => esms.listen(0, "127.0.0.1", resolve));
      try {
        // Whatever the hour the test runs at: no quiet hours.
        const program = await (await fetch(BASE + "/api/v1/program", { headers: { authorization: `Bearer ${apiKey}` } })).json();
        program.messaging.quiet_hours = null;
        await api(apiKey, "PUT", "/api/v1/program", program);
        const ha = await api(apiKey, "POST", "/api/v1/members", { name: "Phạm Thu Hà", phone: "0971000001", consent: { sms: true } });
        await api(apiKey, "POST", "/api/v1/members", { name: "Đỗ Minh Quân", phone: "0971000002", consent: { sms: true } });
        await api(apiKey, "POST", "/api/v1/members", { name: "Không Nhận Tin", phone: "0971000003" });

        await page.goto(BASE + "/campaigns");
        await page.locator("#channel-type").selectOption("sms_esms");
        await page.locator("#channel-name").fill("eSMS CSKH");
        await page.locator("#channel-brandname").fill("CAPHE");
        await page.locator("#channel-api_base").fill(`http://127.0.0.1:${esms.address().port}`);
        await page.locator("#channel-price").fill("800");
        await page.locator("#channel-api_key").fill("esms-key");
        await page.locator("#channel-secret_key").fill("esms-secret");
        await page.getByRole("button", { name: "Thêm kênh" }).click();
        await page.waitForURL(/\/campaigns$/);
        const row = page.locator("#channels tbody tr").filter({ hasText: "eSMS CSKH" });
        await row.locator("input[name=to]").fill("0909000111");
        await row.getByRole("button", { name: "Gửi thử" }).click();
        await page.locator("#notice").filter({ hasText: "Đã gửi thử đến 0909000111" }).waitFor();
        assert.equal(sms.at(-1).Phone, "0909000111");
        assert.equal(sms.at(-1).Brandname, "CAPHE");

        await page.getByRole("link", { name: "Tạo chiến dịch" }).click();
        // The audience's size, counted as the form opens (every member: at least the three).
        await page.locator("#audience-count").filter({ hasText: /^\d[\d.,]*$/ }).waitFor();
        assert.ok(Number((await page.locator("#audience-count").textContent()).replace(/\D/g, "")) >= 3);
        await page.locator("#campaign-name").fill("Tri ân tháng 12");
        await page.locator("#campaign-channel-1").selectOption({ label: "eSMS CSKH (sms_esms)" });
        await page.locator("#t1-text").fill("Chào {{ member.nickname }}");
        await page.getByRole("button", { name: "Lưu nháp" }).click();
        // A template that does not render is refused, naming the field.
        await page.locator(".field-error").filter({ hasText: "channels[0].template.text" }).waitFor();
        await page.locator("#t1-text").fill("Chào {{ member.first_name }}, bạn có {{ member.points }} điểm tại {{ shop.name }}");
        await shot(page, "campaign-new");
        await page.getByRole("button", { name: "Lưu nháp" }).click();
        await page.waitForURL(/\/campaigns\/cmp_/);
        await page.locator("#campaign-status").filter({ hasText: "Nháp" }).waitFor();
        assert.match(await page.locator("#preview-1").textContent(), /^QC Chào \S+, bạn có \d+ điểm/);
        await page.locator("#test-to").fill("0909000222");
        await page.getByRole("button", { name: "Gửi thử" }).click();
        await page.locator("#notice").filter({ hasText: "Đã gửi thử" }).waitFor();
        assert.equal(sms.at(-1).Phone, "0909000222");
        await page.getByRole("button", { name: "Bắt đầu gửi" }).click();
        for (let i = 0; i < 100 && !(await page.locator("#campaign-status").filter({ hasText: "Đã xong" }).count()); i++) {
          await page.waitForTimeout(300);
          await page.reload();
        }
        await page.locator("#campaign-status").filter({ hasText: "Đã xong" }).waitFor();
        const to = (phone) => sms.filter((m) => m.Phone === phone).length;
        assert.equal(to("0971000001"), 1);
        assert.equal(to("0971000002"), 1);
        assert.equal(to("0971000003"), 0, "no consent, no advertising");
        assert.match(sms.find((m) => m.Phone === "0971000001").Content, /^QC Chào Hà, bạn có 0 điểm/, "advertising carries the QC label");
        assert.ok(Number(await page.locator("#report-sent").textContent()) >= 2);
        assert.ok(Number(await page.locator("#report-no-consent").textContent()) >= 1);
        await shot(page, "campaign");
        await page.goto(BASE + "/campaigns");
        await page.locator("#campaigns").getByRole("link", { name: "Tri ân tháng 12" }).waitFor();
        await shot(page, "campaigns");

        // A ready-made journey through the same channel: saved off and opened in the editor
        // (its steps as forms), then switched on from the list.
        await page.getByRole("link", { name: "Tự động hoá" }).click();
        await page.waitForURL(/\/automations$/);
        await page.locator("#preset").selectOption("thank_you");
        await page.locator("#preset-channel").selectOption({ label: "eSMS CSKH (sms_esms)" });
        await page.getByRole("button", { name: "Thêm hành trình" }).click();
        await page.waitForURL(/\/automations\/aut_/);
        assert.equal(await page.locator("#trigger-type").inputValue(), "order_paid");
        assert.equal(await page.locator("#s0-amount").inputValue(), "2");
        assert.equal(await page.locator("#s0-unit").inputValue(), "hours");
        assert.match(await page.locator("#s1_t1-text").inputValue(), /cảm ơn/);
        assert.equal(await page.locator("#s1_t1-subject").isVisible(), false, "an SMS step shows no e-mail fields");
        await page.getByRole("link", { name: "← Tự động hoá" }).click();
        const journey = page.locator("#automations tbody tr").filter({ hasText: "Cảm ơn sau mua hàng" });
        await journey.filter({ hasText: "Đang tắt" }).waitFor();
        await journey.getByRole("button", { name: "Bật" }).click();
        await page.locator("#automations tbody tr").filter({ hasText: "Cảm ơn sau mua hàng" }).filter({ hasText: "Đang bật" }).waitFor();
        // A birthday gift without a voucher program is refused, in Vietnamese.
        await page.locator("#preset").selectOption("birthday");
        await page.getByRole("button", { name: "Thêm hành trình" }).click();
        await page.locator(".field-error").filter({ hasText: "Quà sinh nhật cần một chương trình voucher" }).waitFor();

        // A journey built in the editor, no JSON: points and a thank-you after each order.
        await page.getByRole("link", { name: "Tạo hành trình" }).click();
        await page.waitForURL(/\/automations\/new$/);
        await page.locator("#automation-name").fill("Tặng điểm sau đơn");
        await page.locator("#trigger-type").selectOption("order_paid");
        assert.equal(await page.locator("#trigger-days").isVisible(), false, "only the trigger's own settings show");
        await page.locator("#s0-channel-1").selectOption({ label: "eSMS CSKH (sms_esms)" });
        await page.locator("#s0_t1-text").fill("Cảm ơn {{ member.first_name }}, bạn được tặng 50 điểm");
        await page.locator("#add-kind").selectOption("give_points");
        await page.locator("#add-step-button").click();
        await page.locator("#unsaved").waitFor();
        assert.match(await page.locator("#s0_t1-text").inputValue(), /tặng 50 điểm/, "what was typed stays");
        await page.locator("#s1-points").fill("mười");
        await page.locator("#save-automation").click();
        await page.locator("#step-1 .field-error").filter({ hasText: "Phải là số nguyên" }).waitFor();
        await page.locator("#s1-points").fill("50");
        await page.locator("#s1-reason").fill("Cảm ơn đã mua hàng");
        // Points first, then the message: the step moves up.
        await page.locator("#step-1").getByRole("button", { name: "Chuyển lên" }).click();
        await page.locator("#step-0[data-kind=give_points]").waitFor();
        await shot(page, "automation");
        await page.locator("#save-automation").click();
        await page.waitForURL(/\/automations\/aut_/);
        await page.locator("#unsaved").waitFor({ state: "detached" });
        assert.equal(await page.locator("#s0-points").inputValue(), "50");
        assert.match(await page.locator("#s1_t1-text").inputValue(), /tặng 50 điểm/);
        const editorUrl = page.url();

        // An order of Hà runs it once: 50 points and one thank-you through the double.
        const thanked = () => sms.filter((m) => /tặng 50 điểm/.test(m.Content)).length;
        await api(apiKey, "POST", "/api/v1/orders", { source: "pos", external_id: "E2E-AUT-1", member_id: ha.id, total: 150_000 });
        for (let i = 0; i < 100 && thanked() === 0; i++) await page.waitForTimeout(100);
        assert.equal(thanked(), 1);
        assert.match(sms.find((m) => /tặng 50 điểm/.test(m.Content)).Content, /^Cảm ơn Hà/);
        await page.goto(editorUrl);
        const run = page.locator("#runs tbody tr").filter({ hasText: "Phạm Thu Hà" });
        for (let i = 0; i < 50 && !(await run.filter({ hasText: "Hoàn tất" }).count()); i++) {
          await page.waitForTimeout(200);
          await page.reload();
        }
        await run.filter({ hasText: "Hoàn tất" }).waitFor();
        assert.equal((await page.locator("#automation-report .stat").first().locator("strong").textContent()).trim(), "1");
        await run.getByRole("link", { name: "Phạm Thu Hà" }).click();
        await page.locator("#member-runs tbody tr").filter({ hasText: "Tặng điểm sau đơn" }).filter({ hasText: "Hoàn tất" }).waitFor();
        await page.goto(BASE + "/automations");

        // The member's own side, on a phone: Hà signs in with the code the SMS double caught
        // and sees her card's QR and her points.
        const settings = await (await fetch(BASE + "/api/v1/program", { headers: { authorization: `Bearer ${apiKey}` } })).json();
        settings.portal = { enabled: true, slug: "hoa-mai", brand_color: "#0f766e" };
        await api(apiKey, "PUT", "/api/v1/program", settings);
        const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
        try {
          const m = await phone.newPage();
          await m.goto(BASE + "/m/hoa-mai");
          await shot(m, "portal-signin");
          await m.locator("#phone").fill("0971000001");
          const texts = sms.length;
          await m.getByRole("button", { name: "Gửi mã" }).click();
          await m.locator("#code-sent").waitFor();
          assert.equal(sms.length, texts + 1, "one code by SMS");
          const code = sms.at(-1).Content.split(" ")[0];
          assert.match(code, /^\d{6}$/);
          await m.locator("#code").fill(code === "000000" ? "111111" : "000000");
          await m.getByRole("button", { name: "Đăng nhập" }).click();
          await m.locator("#portal-error").waitFor();
          await m.locator("#code").fill(code);
          await m.getByRole("button", { name: "Đăng nhập" }).click();
          await m.locator("#member-card").waitFor();
          assert.equal((await m.locator("#portal-name").textContent()).trim(), "Phạm Thu Hà");
          const held = await (await fetch(BASE + `/api/v1/members/${ha.id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          assert.ok(held.points.available >= 50, "the automation's 50 points and the order's");
          assert.equal(Number((await m.locator("#portal-points").textContent()).replace(/\D/g, "")), held.points.available);
          assert.equal(await m.locator("#member-qr svg").count(), 1);
          assert.match((await m.locator("#member-code").textContent()).trim(), /^[A-Z0-9]{8}$/);
          const width = await m.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(width <= 390, `no sideways scrolling on a phone (${width}px)`);
          await shot(m, "portal");
          // A reward within reach, redeemed with one confirmation; its voucher shows at once.
          await api(apiKey, "POST", `/api/v1/members/${ha.id}/points/adjustments`, { points: 100, reason: "e2e" });
          await m.reload();
          const reward = m.locator("#portal-rewards li").filter({ has: m.getByRole("link", { name: "Đổi" }) }).first();
          const rewardName = (await reward.locator("span").first().textContent()).trim();
          await reward.getByRole("link", { name: "Đổi" }).click();
          await m.locator("#confirm").filter({ hasText: rewardName }).waitFor();
          await shot(m, "portal-redeem");
          const vouchersBefore = await m.locator("#portal-vouchers code").count();
          await m.getByRole("button", { name: "Xác nhận đổi quà" }).click();
          await m.locator("#portal-notice").waitFor();
          assert.equal(await m.locator("#portal-vouchers code").count(), vouchersBefore + 1, "the reward's voucher shows at once");
          const after = await (await fetch(BASE + `/api/v1/members/${ha.id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          assert.ok(after.points.available < held.points.available + 100, "points were spent");
          assert.equal(Number((await m.locator("#portal-points").textContent()).replace(/\D/g, "")), after.points.available);
          // Her details and consent: a withdrawal from the portal lands in the consent history.
          await m.locator("#profile-link").click();
          await m.locator("#consent-sms").check();
          await m.getByRole("button", { name: "Lưu" }).click();
          await m.locator("#profile-saved").waitFor();
          await m.locator("#consent-sms").uncheck();
          await m.getByRole("button", { name: "Lưu" }).click();
          await m.locator("#profile-saved").waitFor();
          assert.equal(await m.locator("#consent-sms").isChecked(), false);
          const consents = await (await fetch(BASE + `/api/v1/members/${ha.id}/consent-history`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          assert.deepEqual([consents.items[0].channel, consents.items[0].granted, consents.items[0].source], ["sms", false, "portal"]);
          await m.goto(BASE + "/m/hoa-mai");
          await m.getByRole("button", { name: "Đăng xuất" }).click();
          await m.locator("#phone").waitFor();

          // Wrong codes are limited: after five, even the right code no longer signs in.
          await api(apiKey, "POST", "/api/v1/members", { phone: "0971000009", name: "Lê Văn Tám" });
          await m.locator("#phone").fill("0971000009");
          await m.getByRole("button", { name: "Gửi mã" }).click();
          await m.locator("#code-sent").waitFor();
          const right = sms.at(-1).Content.split(" ")[0];
          const wrong = right === "000000" ? "111111" : "000000";
          for (let i = 0; i < 5; i++) {
            await m.locator("#code").fill(wrong);
            await m.getByRole("button", { name: "Đăng nhập" }).click();
            await m.locator("#portal-error").waitFor();
          }
          await m.locator("#code").fill(right);
          await m.getByRole("button", { name: "Đăng nhập" }).click();
          await m.locator("#portal-error").waitFor();
          assert.equal(await m.locator("#member-card").count(), 0, "the code is spent after five wrong tries");
        } finally {
          await phone.close();
        }

        // The widget on the shop's own website (another origin): one script tag adds a button
        // that opens the portal signed in as the customer the site vouches for; an expired
        // customer token is refused and the panel asks for a phone instead.
        const secret = "bi-mat-trang-web-hoa-mai-2026";
        const signToken = (payload) => {
          const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
          return `${body}.${createHmac("sha256", secret).update(body).digest("hex")}`;
        };
        const portalOrigin = BASE.replace("127.0.0.1", "localhost");
        let shopPages = {};
        const shopSite = createServer((req, res) => {
          res.writeHead(shopPages[req.url] ? 200 : 404, { "content-type": "text/html; charset=utf-8" });
          res.end(shopPages[req.url] ?? "");
        });
        await new Promise((resolve) => shopSite.listen(0, "127.0.0.1", resolve));
        const shopOrigin = `http://127.0.0.1:${shopSite.address().port}`;
        const shopPage = (token) => `<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Tiệm Bánh Hoa Mai</title></head>
<body style="font-family: system-ui; margin: 0; background: #fdf6ec"><header style="background:#0f766e;color:#fff;padding:16px">
<strong>Tiệm Bánh Hoa Mai</strong> · Cửa hàng trực tuyến</header><main style="padding:16px"><h1>Bánh mì hoa cúc</h1>
<p>65.000 ₫ · Giao trong 2 giờ tại Hà Nội</p><button style="padding:12px 20px">Thêm vào giỏ</button></main>
<script src="${portalOrigin}/widget.js" data-shop="hoa-mai" data-customer-token="${token}"></script></body></html>`;
        const now = Math.floor(Date.now() / 1000);
        shopPages = {
          "/": shopPage(signToken({ phone: "0971000001", exp: now + 600 })),
          "/expired": shopPage(signToken({ phone: "0971000001", exp: now - 60 })),
        };
        // Referral switched on from its page: a refused value is named at its field.
        await page.goto(BASE + "/referrals");
        await page.locator("#referral-enabled").check();
        await page.locator("#referrer-kind").selectOption("points");
        await page.locator("#referrer-points").fill("100");
        await page.locator("#friend-kind").selectOption("points");
        await page.locator("#friend-points").fill("0");
        await page.locator("#referral-form").getByRole("button", { name: "Lưu" }).click();
        await page.locator("#friend-reward .field-error").waitFor();
        await page.locator("#friend-points").fill("20");
        await page.locator("#referral-form").getByRole("button", { name: "Lưu" }).click();
        await page.waitForURL(/\/referrals\?saved=1$/);
        assert.equal(await page.locator("#referral-enabled").isChecked(), true);
        const withWidget = await (await fetch(BASE + "/api/v1/program", { headers: { authorization: `Bearer ${apiKey}` } })).json();
        assert.deepEqual(withWidget.referral.friend_reward, { points: 20 });
        withWidget.portal.allowed_origins = [shopOrigin];
        withWidget.portal.customer_token_secret = secret;
        withWidget.portal.self_signup = true;
        await api(apiKey, "PUT", "/api/v1/program", withWidget);
        const visitor = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
        try {
          const w = await visitor.newPage();
          await w.goto(shopOrigin + "/");
          await w.locator("#loyalty-widget-button").click();
          const panel = w.frameLocator("#loyalty-widget-panel iframe");
          await panel.locator("#member-card").waitFor();
          assert.equal((await panel.locator("#portal-name").textContent()).trim(), "Phạm Thu Hà");
          assert.match((await panel.locator("#referral-code").textContent()).trim(), /^[A-Z0-9]{8}$/);
          const link = await panel.locator("#referral-link").inputValue();
          assert.match(link, /\/m\/hoa-mai\?ref=[A-Z0-9]{8}$/);
          await shot(w, "widget");

          // A friend opens Hà's link on their phone and joins with a verified phone.
          const friend = await visitor.newPage();
          await friend.goto(BASE + "/m/hoa-mai?ref=" + link.split("ref=")[1]);
          await friend.locator("#invited").waitFor();
          await friend.locator("#phone").fill("0971000077");
          await friend.getByRole("button", { name: "Gửi mã" }).click();
          await friend.locator("#code-sent").waitFor();
          await friend.locator("#code").fill(sms.at(-1).Content.split(" ")[0]);
          await friend.getByRole("button", { name: "Đăng nhập" }).click();
          await friend.locator("#member-card").waitFor();
          const made = await (await fetch(BASE + `/api/v1/referrals?member_id=${ha.id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          assert.equal(made.length, 1);
          assert.deepEqual([made[0].status, made[0].source], ["pending", "portal"]);
          await friend.close();
          await w.goto(shopOrigin + "/expired");
          await w.locator("#loyalty-widget-button").click();
          await panel.locator("#portal-error").waitFor();
          assert.match(await panel.locator("#portal-error").textContent(), /Không xác nhận được/);
          assert.equal(await panel.locator("#member-card").count(), 0);
          // The portal's pages allow framing by the shop's listed origins only.
          const policy = (await fetch(BASE + "/m/hoa-mai")).headers.get("content-security-policy");
          assert.match(policy, new RegExp(`frame-ancestors 'self' ${shopOrigin}`));
          await page.goto(BASE + "/referrals");
          assert.equal((await page.locator("#referral-report .stat").nth(1).locator("strong").textContent()).trim(), "1");
          await page.locator("#referrals tbody tr").filter({ hasText: "Phạm Thu Hà" }).filter({ hasText: "Chờ đơn đầu tiên" }).waitFor();
          await shot(page, "referrals");

          // Blocking a member from their profile: the till's order for them earns nothing and
          // says why; unblocked, they are a member again.
          const khoa = await api(apiKey, "POST", "/api/v1/members", { phone: "0971000055", name: "Đỗ Văn Khoa" });
          await page.goto(BASE + `/members/${khoa.id}`);
          await page.locator("#block summary").click();
          await page.locator("#block-reason").fill("gian lận tích điểm");
          await page.locator("#block").getByRole("button", { name: "Chặn" }).click();
          await page.locator("#member-status").filter({ hasText: "Đã khoá" }).waitFor();
          // A refusal reaches the Vietnamese page in Vietnamese: redeeming for a blocked member.
          await page.locator("#reward").selectOption({ index: 0 });
          await page.getByRole("button", { name: "Đổi quà", exact: true }).click();
          await page.locator("#member-error").filter({ hasText: "thành viên đã bị khoá" }).waitFor();
          const refused = await api(apiKey, "POST", "/api/v1/orders", { source: "pos", external_id: "E2E-BLOCK-1", member_id: khoa.id, total: 200_000 });
          assert.deepEqual([refused.points.earned, refused.points.reason], [0, "member_blocked"]);
          await page.locator("#unblock").click();
          await page.locator("#member-status").filter({ hasText: "Khách hàng" }).waitFor();
          // Tags and consent are edited on the member's form; the consent change is in their
          // history, made from the admin.
          await page.getByRole("link", { name: "Sửa thông tin" }).click();
          await page.locator("#tags").fill("vip, sinh-vien, vip");
          await page.locator("#consent-sms").check();
          await page.getByRole("button", { name: "Lưu" }).click();
          await page.locator("#member-tags").filter({ hasText: "sinh-vien" }).waitFor();
          assert.equal(await page.locator("#member-tags .badge").count(), 2);
          await page.locator("#consent-history tbody tr").filter({ hasText: "sms" }).filter({ hasText: "Trang quản trị" }).waitFor();

          // The gift counter: one gift handed over at HN01, another cancelled with the points
          // back in the member's balance.
          await api(apiKey, "POST", `/api/v1/members/${khoa.id}/points/adjustments`, { points: 200, reason: "e2e" });
          const bag = await api(apiKey, "POST", "/api/v1/rewards", { name: "Túi vải Hoa Mai", points_cost: 80, kind: "gift", stock: 10 });
          for (let i = 0; i < 2; i++) await api(apiKey, "POST", `/api/v1/members/${khoa.id}/redemptions`, { reward_id: bag.id });
          await page.goto(BASE + "/rewards");
          await page.locator("#gift-counter").click();
          const waiting = page.locator("#gifts-pending tbody tr").filter({ hasText: "Túi vải Hoa Mai" });
          assert.equal(await waiting.count(), 2);
          await shot(page, "gifts");
          await waiting.first().getByRole("button", { name: "Đã trao" }).click();
          await page.locator("#gifts-settled tbody tr").filter({ hasText: "HN01" }).waitFor();
          await waiting.first().getByLabel("Lý do huỷ").fill("khách đổi ý");
          await waiting.first().getByRole("button", { name: "Huỷ" }).click();
          await page.locator("#gifts-settled tbody tr").filter({ hasText: "khách đổi ý" }).waitFor();
          assert.equal(await waiting.count(), 0);
          const ledger = await (await fetch(BASE + `/api/v1/members/${khoa.id}/ledger`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          const back = ledger.items.filter((e) => e.kind === "reverse" && e.points === 80);
          assert.equal(back.length, 1, "one gift's points came back");
          // The reward edited from its row: a new stock, then archived (taken off offer).
          await page.goto(BASE + "/rewards");
          const row = page.locator("#rewards tbody tr").filter({ hasText: "Túi vải Hoa Mai" });
          await row.locator("summary").click();
          await row.getByLabel("Số lượng (để trống: không giới hạn)").fill("3");
          await row.getByLabel("Đang cho đổi (bỏ chọn để lưu trữ: lịch sử vẫn giữ)").uncheck();
          await row.getByRole("button", { name: "Lưu" }).click();
          await page.waitForURL(/\/rewards$/);
          const archived = await (await fetch(BASE + `/api/v1/rewards/${bag.id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          assert.deepEqual([archived.stock, archived.active], [3, false]);

          // At the counter: the member search has the focus, and a scanned card (its code
          // typed by the scanner, then Enter) opens the member.
          await page.goto(BASE + "/members");
          assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "q");
          await page.keyboard.type(khoa.member_code);
          await page.keyboard.press("Enter");
          await page.waitForURL(new RegExp(`/members/${khoa.id}$`));

          // Two records of one customer: suggested as duplicates, merged from the list; the old
          // phone then opens the kept member, whose points hold both records'.
          const first = await api(apiKey, "POST", "/api/v1/members", { phone: "0971000101", name: "Lý Thị Mai", birthday: "1992-05-04" });
          const second = await api(apiKey, "POST", "/api/v1/members", { phone: "0971000102", name: "Lý Thị Mai", birthday: "1992-05-04" });
          const get = async (path) => (await fetch(BASE + path, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          const orderIds = [];
          for (const [who, id] of [[first, "E2E-MERGE-1"], [second, "E2E-MERGE-2"]]) {
            orderIds.push((await api(apiKey, "POST", "/api/v1/orders", { source: "pos", external_id: id, member_id: who.id, total: 200_000 })).id);
          }
          await page.goto(BASE + "/members");
          await page.getByRole("link", { name: "Hồ sơ có thể trùng" }).click();
          const pair = page.locator("#duplicates tbody tr").filter({ hasText: "Lý Thị Mai" });
          await pair.filter({ hasText: "Cùng tên và ngày sinh" }).waitFor();
          await shot(page, "duplicates");
          const keptId = (await pair.locator("form").first().getAttribute("action")).split("/")[2];
          await pair.getByRole("button", { name: "Giữ hồ sơ 1" }).click();
          await page.waitForURL(new RegExp(`/members/${keptId}$`));
          await page.goto(BASE + "/members?q=" + (keptId === first.id ? "0971000102" : "0971000101"));
          await page.waitForURL(new RegExp(`/members/${keptId}$`));
          // Both records' ledgers are the kept member's now, and its balance is their sum.
          const kept = await get(`/api/v1/members/${keptId}`);
          const keptLedger = (await get(`/api/v1/members/${keptId}/ledger?limit=100`)).items;
          for (const order of orderIds) assert.ok(keptLedger.some((e) => e.order_id === order && e.kind === "earn"), order);
          const sum = keptLedger.reduce((total, e) => total + e.points, 0);
          assert.equal(kept.points.available + kept.points.pending - kept.points.debt, sum, "none lost or doubled");
          assert.equal(kept.order_count, 2);
          // Merging into itself from the profile is refused, in Vietnamese.
          await page.locator("#merge summary").click();
          await page.locator("#merge-other").fill("0971000101");
          await page.locator("#merge").getByRole("button", { name: "Gộp vào hồ sơ này" }).click();
          await page.locator("#member-error").filter({ hasText: "không thể gộp một hồ sơ vào chính nó" }).waitFor();

          // A voucher program's scope edited after it was made: its codes show read-only with
          // the reason, and the scope holds for the API.
          await page.goto(BASE + "/vouchers");
          await page.getByRole("link", { name: "Tết giảm 10%" }).click();
          await page.locator("#edit-voucher").click();
          await page.locator("#codes-fixed").waitFor();
          await page.locator("#s-categories").fill("banh, banh-ngot");
          await page.locator("#s-channels").fill("pos");
          await page.locator("#voucher-form").getByRole("button", { name: "Lưu" }).click();
          await page.locator("#voucher-scope").filter({ hasText: "banh-ngot" }).waitFor();
          const programId = page.url().split("/").pop();
          const scoped = await (await fetch(BASE + `/api/v1/voucher-programs/${programId}`, { headers: { authorization: `Bearer ${apiKey}` } })).json();
          assert.deepEqual([scoped.scope.categories, scoped.scope.channels], [["banh", "banh-ngot"], ["pos"]]);
        } finally {
          await visitor.close();
          shopSite.closeAllConnections();
          shopSite.close();
        }
        await shot(page, "automations");
      } finally {
        // The server's pooled connection to the double would keep this process alive.
        esms.closeAllConnections();
        esms.close();
      }
    });
  } finally {
    await browser.close();
  }
});
