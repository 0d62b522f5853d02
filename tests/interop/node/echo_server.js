// A node socket.io server doing what mpm-top serve does for the benchmarks: the same echo
// and broadcasts as tests/interop/py_echo_server.py, plus hook posts at POST /api/events.
// Usage: node echo_server.js [PORT]. Binds 127.0.0.1 (port 0 = any) and prints
// "listening on http://127.0.0.1:PORT" once ready.
const http = require("http");
const { Server } = require("socket.io");

const server = http.createServer((req, res) => {
  if (req.method === "GET" && req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "running", service: "node-echo-server",
      clients: io.engine.clientsCount, rss_bytes: process.memoryUsage().rss }));
    return;
  }
  if (req.method === "POST" && req.url === "/api/events") {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch (e) {
        res.writeHead(400);
        res.end(`malformed JSON: ${e}\n`);
        return;
      }
      const inner = body.data && typeof body.data === "object" ? body.data : body;
      io.emit("claude_event", { type: "claude_event", subtype: inner.subtype, data: inner.data || {} });
      res.writeHead(204);
      res.end();
    });
    return;
  }
  res.writeHead(404);
  res.end();
});
const io = new Server(server, { cors: { origin: "*" } });
let clients = 0;
io.on("connection", (socket) => {
  clients += 1;
  socket.emit("dashboard:welcome", { message: "Connected", session_id: socket.id });
  io.emit("dashboard:client:count", { count: clients });
  socket.on("disconnect", () => {
    clients -= 1;
    io.emit("dashboard:client:count", { count: clients });
  });
  socket.on("benchmark_event", (data) => socket.emit("benchmark_response", data));
  socket.on("test_event", (data) => socket.emit("test_response", { received: data }));
  socket.on("dashboard:ping", (data) =>
    socket.emit("dashboard:pong", { timestamp: (data || {}).timestamp }));
  socket.on("claude_event", (data) => io.emit("hook:event", data));
});
server.listen(Number(process.argv[2] || 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
