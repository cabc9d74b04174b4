// Drives headless Chromium (Debian's /usr/bin/chromium) through the task API
// from a page served on another origin, as a frontend would.
//
//   API_URL=... TOKEN=... USER_ID=... ALLOWED_PORT=... DENIED_PORT=... node browser.mjs
//
// Serves the same small page on ALLOWED_PORT (an origin in the API's
// ALLOWED_ORIGINS) and DENIED_PORT (one that is not); prints one JSON object
// with what the page's JavaScript saw. The Rust test judges it.
import http from "node:http";
import { chromium } from "playwright-core";

const { API_URL, TOKEN, USER_ID, ALLOWED_PORT, DENIED_PORT } = process.env;
for (const [k, v] of Object.entries({ API_URL, TOKEN, USER_ID, ALLOWED_PORT, DENIED_PORT })) {
  if (!v) throw new Error(`${k} is required`);
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>tasks</title></head>
<body><ul id="tasks"></ul><script>
  // What a frontend's API client does: bearer token, JSON in and out.
  window.api = async (method, path, body, headers = {}) => {
    const init = { method, headers: { Authorization: "Bearer " + window.TOKEN, ...headers } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const r = await fetch(window.API_URL + path, init);
    const text = await r.text();
    return {
      status: r.status,
      location: r.headers.get("Location"),
      etag: r.headers.get("ETag"),
      body: text ? JSON.parse(text) : null,
    };
  };
</script></body></html>`;

const serve = (port) =>
  new Promise((resolve) => {
    const server = http.createServer((req, res) => {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      res.end(PAGE);
    });
    server.listen(Number(port), "127.0.0.1", () => resolve(server));
  });

const servers = await Promise.all([serve(ALLOWED_PORT), serve(DENIED_PORT)]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const result = {};
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${ALLOWED_PORT}/`);
  result.allowed = await page.evaluate(async ({ api, token, user }) => {
    window.API_URL = api;
    window.TOKEN = token;
    const base = `/api/${user}/tasks`;
    const steps = {};
    steps.emptyList = await window.api("GET", base);
    steps.create = await window.api("POST", base, { title: "From the browser", description: "via fetch" });
    const one = `${base}/${steps.create.body.id}`;
    steps.update = await window.api("PUT", one, { title: "Renamed in the browser" });
    steps.toggle = await window.api("PATCH", `${one}/complete`);
    steps.list = await window.api("GET", base);
    steps.delete = await window.api("DELETE", one);
    steps.afterDelete = await window.api("GET", one);
    // Render what the API returned, as a page would.
    document.getElementById("tasks").textContent = steps.list.body.map((t) => t.title).join(",");
    return steps;
  }, { api: API_URL, token: TOKEN, user: USER_ID });
  result.rendered = await page.textContent("#tasks");

  // Two tabs load the same task; tab A saves first, then tab B saves the
  // copy it loaded, with If-Match: B gets a 412, and A's edit is not lost.
  const open = async () => {
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${ALLOWED_PORT}/`);
    await tab.evaluate(({ api, token }) => { window.API_URL = api; window.TOKEN = token; },
      { api: API_URL, token: TOKEN });
    return tab;
  };
  const [tabA, tabB] = [await open(), await open()];
  const base = `/api/${USER_ID}/tasks`;
  const created = await tabA.evaluate((b) => window.api("POST", b, { title: "Shared" }), base);
  const one = `${base}/${created.body.id}`;
  const load = (tab) => tab.evaluate((p) => window.api("GET", p), one);
  const [loadedA, loadedB] = [await load(tabA), await load(tabB)];
  const save = (tab, loaded, changes) =>
    tab.evaluate(({ p, body, etag }) => window.api("PUT", p, body, { "If-Match": etag }),
      { p: one, body: { ...changes }, etag: loaded.etag });
  result.conflict = {
    etag: loadedB.etag,
    saveA: await save(tabA, loadedA, { title: "Edited in A" }),
    saveB: await save(tabB, loadedB, { title: loadedB.body.title, description: "Edited in B" }),
    after: await load(tabA),
  };

  const denied = await browser.newPage();
  await denied.goto(`http://127.0.0.1:${DENIED_PORT}/`);
  result.denied = await denied.evaluate(async ({ api, token, user }) => {
    window.API_URL = api;
    window.TOKEN = token;
    try {
      const r = await window.api("GET", `/api/${user}/tasks`);
      return { status: r.status };
    } catch (e) {
      return { error: String(e) };
    }
  }, { api: API_URL, token: TOKEN, user: USER_ID });

  // The docs page renders every operation of the document (Swagger UI,
  // served by local-api itself).
  const docs = await browser.newPage();
  await docs.goto(`${API_URL}/docs`);
  await docs.waitForSelector(".opblock", { timeout: 15000 });
  result.docsOperations = await docs.locator(".opblock").count();
} finally {
  await browser.close();
  servers.forEach((s) => s.close());
}
console.log(JSON.stringify(result));
