// Loads Claude MPM's dashboard in chromium-headless-shell and waits until its page shows the
// text given (a tool name the test posts once the page is connected). Prints "connected" when
// the page's socket is up, then "seen" and exits 0; exits 1 after 30 s.
//   node browser.js BROWSER_PATH URL TEXT
const puppeteer = require("puppeteer-core");

const [browserPath, url, text] = process.argv.slice(2);
(async () => {
  const browser = await puppeteer.launch({
    executablePath: browserPath,
    headless: "shell",
    // Root in a container: Chromium's sandbox needs user namespaces it may not have.
    args: ["--no-sandbox", "--disable-gpu"],
  });
  const fail = async (why) => {
    console.log(`failed: ${why}`);
    await browser.close();
    process.exit(1);
  };
  const timer = setTimeout(() => fail("timeout"), 30000);
  const page = await browser.newPage();
  page.on("console", (m) => {
    const line = m.text();
    if (line.includes("Connecting to Socket.IO") || line.toLowerCase().includes("error")) {
      console.log(`page: ${line}`);
    }
  });
  await page.goto(url, { waitUntil: "domcontentloaded" });
  console.log("loaded");
  await page.waitForFunction(
    (wanted) => document.body && document.body.innerText.includes(wanted),
    { polling: 200, timeout: 28000 },
    text,
  ).catch((e) => fail(String(e)));
  clearTimeout(timer);
  console.log("seen");
  await browser.close();
  process.exit(0);
})().catch((e) => {
  console.log(`failed: ${e}`);
  process.exit(1);
});
