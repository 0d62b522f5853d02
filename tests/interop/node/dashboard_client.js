// A Socket.IO client with the options of Claude MPM's dashboard (its Svelte build connects
// with exactly these): prints one JSON line per event it receives, and the answers to the
// requests the dashboard makes. Exits 0 once a tool_event with the awaited correlation id
// arrives, 1 after 20 s without it.
//   node dashboard_client.js URL CORRELATION_ID
const { io } = require("socket.io-client");

const [url, awaited] = process.argv.slice(2);
const socket = io(url, {
  transports: ["polling", "websocket"],
  upgrade: true,
  reconnection: true,
  reconnectionDelay: 1000,
  reconnectionAttempts: 10,
  timeout: 20000,
});
const say = (what) => process.stdout.write(JSON.stringify(what) + "\n");
const names = ["claude_event", "hook_event", "tool_event", "system_event", "agent_event",
  "session_event", "response_event", "file_event", "event_history", "heartbeat",
  "dashboard:welcome", "dashboard:client:count", "dashboard:status:response", "dashboard:pong"];
for (const name of names) {
  socket.on(name, (data) => {
    say({ event: name, data, transport: socket.io.engine.transport.name });
    if (name === "tool_event" && data && data.correlation_id === awaited) {
      socket.close();
      process.exit(0);
    }
  });
}
socket.on("connect", () => {
  say({ event: "connect", sid: socket.id });
  socket.emit("dashboard:status", {});
  socket.emit("dashboard:ping", { timestamp: 1 });
});
socket.on("connect_error", (e) => say({ event: "connect_error", message: String(e) }));
setTimeout(() => {
  say({ event: "timeout" });
  process.exit(1);
}, 20000);
