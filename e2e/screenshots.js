// Screenshots of the main pages for the README and the user guide, taken from a demo tenant.
// Usage: e2e/screenshots.sh (which creates the demo and starts the server).
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.BASE_URL;
const OUT = process.env.SCREENSHOTS;
const [email, password] = [process.env.OWNER_EMAIL, process.env.OWNER_PASSWORD];
mkdirSync(OUT, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  await page.goto(BASE + "/login");
  await page.screenshot({ path: `${OUT}/login.png` });
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Mật khẩu").fill(password);
  await page.getByRole("button", { name: "Đăng nhập" }).click();
  await page.waitForURL(/\/dashboard/);
  await page.goto(BASE + "/dashboard?days=90");
  await page.screenshot({ path: `${OUT}/dashboard.png`, fullPage: true });
  await page.goto(BASE + "/members");
  await page.screenshot({ path: `${OUT}/members.png` });
  await page.locator("tbody tr a").nth(3).click();
  await page.waitForURL(/\/members\/mem_/);
  await page.screenshot({ path: `${OUT}/member.png`, fullPage: true });
  await page.goto(BASE + "/orders");
  await page.screenshot({ path: `${OUT}/orders.png` });
  await page.locator("#orders tbody a").first().click();
  await page.waitForURL(/\/orders\/ord_/);
  await page.screenshot({ path: `${OUT}/order.png`, fullPage: true });
  await page.goto(BASE + "/integrations");
  await page.screenshot({ path: `${OUT}/integrations.png`, fullPage: true });
  await page.goto(BASE + "/tiers");
  await page.screenshot({ path: `${OUT}/tiers.png`, fullPage: true });
  await page.goto(BASE + "/program");
  await page.screenshot({ path: `${OUT}/program.png`, fullPage: true });
  await page.goto(BASE + "/vouchers");
  await page.locator("#vouchers tbody a").first().click();
  await page.screenshot({ path: `${OUT}/voucher.png`, fullPage: true });
  await page.goto(BASE + "/rules/new");
  await page.getByRole("button", { name: "Xem trước" }).click();
  await page.screenshot({ path: `${OUT}/rule-preview.png`, fullPage: true });
  await page.goto(BASE + "/segments/new");
  await page.getByLabel("Tên nhóm").fill("Khách Hà Nội vắng 60 ngày");
  // The count of every member shows first; the screenshot waits for the built one.
  await page.locator("#segment-count").filter({ hasText: /\d/ }).waitFor();
  const everyone = await page.locator("#segment-count").textContent();
  const builder = page.locator(".condition-builder");
  await builder.locator(".cb-add-condition").first().click();
  const row = builder.locator(".cb-leaf").first();
  await row.locator(".cb-field").selectOption("member.province");
  await row.locator(".cb-value input").fill("Hà Nội");
  await builder.locator(".cb-add-block").first().click();
  const block = builder.locator(".cb-block").first();
  await block.locator(".cb-block-kind").selectOption("not_purchased");
  await block.locator('input[data-key="from"]').fill(new Date(Date.now() - 60 * 86400_000).toISOString().slice(0, 10));
  await page.locator("#segment-name").click(); // the date field loses the focus
  await page.waitForFunction((all) => /\d/.test(document.querySelector("#segment-count").textContent)
    && document.querySelector("#segment-count").textContent !== all, everyone);
  await page.screenshot({ path: `${OUT}/segment-builder.png`, fullPage: true });
  await page.locator("#lang-switch").click();
  await page.goto(BASE + "/dashboard?days=90");
  await page.screenshot({ path: `${OUT}/dashboard-en.png`, fullPage: true });
  // A counter tablet, portrait.
  await page.setViewportSize({ width: 800, height: 1100 });
  await page.locator("#lang-switch").click();
  await page.goto(BASE + "/members");
  await page.screenshot({ path: `${OUT}/members-tablet.png` });
} finally {
  await browser.close();
}
