//! `cargo bench --bench console_render`: time to render one full console frame at 200×60 with
//! full buffers (2,000 events, rates for 20 types, 500 log lines), drawn into a `TestBackend`.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::time::Instant;

use mpm_top::app::{Action, Effect, Stamp, State, update};
use mpm_top::console::logging;
use mpm_top::target::{Chosen, Target};
use mpm_top::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;

fn main() {
    let target = Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port: 8765,
        chosen: Chosen::Default,
    };
    let mut state = State::new(target, false);
    for i in 0..5000u32 {
        let at = Stamp::fixed(f64::from(i) / 10.0);
        let subtype = if i % 2 == 0 { "pre_tool" } else { "post_tool" };
        let name = format!("type_{}", i % 20);
        update(
            &mut state,
            Action::FeedEvent {
                name,
                data: json!({"subtype": subtype, "session_id": "s", "correlation_id": format!("c-{}", i / 2), "data": {"tool_name": "Bash", "status": "success"}}),
                at,
            },
        );
        update(&mut state, Action::Latency(0.5 + f64::from(i % 7) / 10.0));
    }
    logging::init(None);
    for i in 0..500 {
        state.note(format!("log line {i}: the Log pane holds its newest 500"));
        for effect in update(&mut state, Action::Resize) {
            if let Effect::Log(entry) = effect {
                logging::emit(&entry);
            }
        }
    }
    logging::flush();
    let log = logging::view();
    let theme = Theme::new(false);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();
    for _ in 0..50 {
        terminal.draw(|f| render(f, &state, &theme, &log)).unwrap(); // warm-up
    }
    let mut times: Vec<f64> = (0..1000)
        .map(|_| {
            let started = Instant::now();
            terminal.draw(|f| render(f, &state, &theme, &log)).unwrap();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "full frame at 200x60, {} events held: mean {mean:.3} ms, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        state.events.len(),
        times[500],
        times[989],
        times[999]
    );
}
