// Drives the hearth dashboard in headless Chromium with playwright-core and
// prints what it saw as one JSON object on stdout, for dashboard_test.go to
// check. It fails (exit 1, message on stderr) when the page does not show
// what it waits for.
//
// Environment: DASHBOARD_URL (the page), SCREENSHOT_DIR, CHROMIUM (the
// browser's path), FUNCTION (the function to look at), TOKEN (the API
// token to give the page when it asks), NODE_PATH (where playwright-core
// is installed).
"use strict";

const path = require("path");
const { chromium } = require("playwright-core");

const url = process.env.DASHBOARD_URL;
const shots = process.env.SCREENSHOT_DIR;
const fn = process.env.FUNCTION || "hello";
const phases = ["provision", "runtime", "code", "init", "handler"];

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // This machine's network is closed: without these, Chromium keeps
    // trying to reach Google's hosts, and as root it needs --no-sandbox.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const out = { consoleErrors: [], screenshots: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => { if (m.type() === "error") out.consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => out.consoleErrors.push(String(e)));
    page.on("requestfailed", (r) => out.consoleErrors.push("request failed: " + r.url()));

    await page.goto(url, { waitUntil: "load" });
    if (process.env.TOKEN) {
      // The node wants a token: the page asks for it, as a person sees it.
      const dialog = page.getByRole("dialog", { name: "API token" });
      await dialog.waitFor({ timeout: 15000 });
      await dialog.getByLabel("Token").fill(process.env.TOKEN);
      await dialog.getByRole("button", { name: "Use token" }).click();
      out.askedForToken = true;
      // Asking for data without the token is how the page learns it needs
      // one; Chromium logs those 401s, which are kept apart.
      out.errorsBeforeToken = out.consoleErrors.splice(0);
    }
    const row = page.locator(`#functions tr[data-function="${fn}"]`);
    const cold = row.locator('td[data-col="cold"]');
    // The table is live: wait for the cold-start percentage to be there.
    await page.waitForFunction((sel) => {
      const el = document.querySelector(sel);
      return el && /%$/.test(el.textContent);
    }, `#functions tr[data-function="${fn}"] td[data-col="cold"]`, { timeout: 15000 });
    out.title = await page.title();
    out.row = await row.evaluate((tr) => [...tr.children].map((c) => c.textContent.trim()));
    out.headers = await page.locator("#functions thead th").allTextContents();
    out.coldPct = (await cold.textContent()).trim();
    out.poolSeries = await page.locator(`[aria-labelledby="pool-${fn}"] path[data-series]`).evaluateAll(
      (ps) => ps.map((p) => p.dataset.series));
    out.screenshots.push(path.join(shots, "functions.png"));
    await page.screenshot({ path: out.screenshots.at(-1), fullPage: true });

    // Into the function page by clicking its link, as a person would.
    await row.getByRole("link", { name: fn }).click();
    await page.waitForSelector("#waterfall g.cold-start", { timeout: 15000 });
    out.hash = await page.evaluate(() => location.hash);
    out.heading = (await page.locator("main h1").textContent()).trim();
    out.waterfall = await page.locator("#waterfall g.cold-start").evaluateAll((gs) =>
      gs.map((g) => [...g.querySelectorAll("rect[data-phase]")].map((r) => ({
        phase: r.dataset.phase, x: Number(r.getAttribute("x")), width: Number(r.getAttribute("width")),
      }))));
    out.legend = await page.locator("#waterfall .legend li").allTextContents();
    out.histogram = await page.locator("#histogram g.bar").evaluateAll((gs) =>
      gs.reduce((n, g) => n + Number(g.dataset.count), 0));
    out.screenshots.push(path.join(shots, "function.png"));
    await page.screenshot({ path: out.screenshots.at(-1), fullPage: true });

    // A workflow execution and its state-machine graph.
    await page.getByRole("link", { name: "Workflows" }).click();
    const exec = page.locator("main tbody tr").first();
    await exec.waitFor({ timeout: 15000 });
    out.execution = await exec.evaluate((tr) => [...tr.children].map((c) => c.textContent.trim()));
    await exec.getByRole("link").click();
    await page.waitForSelector("#graph g.state", { timeout: 15000 });
    out.graph = await page.locator("#graph g.state").evaluateAll((gs) =>
      Object.fromEntries(gs.map((g) => [g.dataset.state, g.getAttribute("class").replace("state state-", "")])));
    out.edges = await page.locator("#graph line").count();
    out.screenshots.push(path.join(shots, "workflow.png"));
    await page.screenshot({ path: out.screenshots.at(-1), fullPage: true });

    // A view whose source is not wired says so instead of breaking.
    await page.getByRole("link", { name: "Dead letters" }).click();
    await page.waitForSelector("main .empty", { timeout: 15000 });
    out.deadLetters = (await page.locator("main .empty").textContent()).trim();

    // The most recent trace, as a span waterfall.
    await page.getByRole("link", { name: "Traces" }).click();
    await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Traces");
    await page.waitForSelector("main tbody tr", { timeout: 15000 });
    out.traces = await page.locator("main tbody tr").count();
    await page.locator("main tbody tr").first().getByRole("link").click();
    await page.waitForSelector("main svg g.span", { timeout: 15000 });
    out.spans = await page.locator("main svg g.span").evaluateAll((gs) => gs.map((g) => g.dataset.span));
    out.screenshots.push(path.join(shots, "trace.png"));
    await page.screenshot({ path: out.screenshots.at(-1), fullPage: true });
    out.phasesExpected = phases;
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
