use super::*;
use crate::target::Chosen;
use serde_json::json;

fn target(port: u16) -> Target {
    Target {
        scheme: "http",
        host: "127.0.0.1".into(),
        port,
        chosen: Chosen::Default,
    }
}

fn row(port: u16, pid: Option<u32>, project: Option<&str>) -> ServerRow {
    ServerRow {
        port,
        url: format!("http://127.0.0.1:{port}"),
        kind: ServerKind::MpmTop,
        kind_label: "mpm-top".into(),
        pid,
        reported_pid: pid,
        project: project.map(str::to_owned),
        answered: true,
        health: "running".into(),
        clients: Some(0),
        events_per_sec: None,
        uptime_secs: Some(1.0),
        configured: false,
    }
}

#[test]
fn the_scan_covers_claude_mpms_range_the_configured_range_and_the_target() {
    let default = scan_ports(None, &target(8765));
    assert_eq!(default, (8765..=8785).collect::<Vec<_>>());
    let range = PortRange {
        start: 8780,
        end: 8790,
    };
    let ports = scan_ports(Some(range), &target(18931));
    assert_eq!(ports.len(), 21 + 5 + 1, "{ports:?}");
    assert_eq!(ports.first(), Some(&8765));
    assert_eq!(&ports[ports.len() - 2..], &[8790, 18931]);
    assert!(ports.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
    assert!(
        !scan_ports(None, &target(0)).contains(&0),
        "port 0 names no server"
    );
}

#[test]
fn events_per_second_come_from_two_samples_of_the_same_server() {
    let t0 = Instant::now();
    let at = |secs: f64, total: u64, pid: u32| Sample {
        total,
        at: t0 + Duration::from_secs_f64(secs),
        reported_pid: Some(pid),
    };
    assert_eq!(rate(None, &at(1.0, 10, 7)), None, "one sample is no rate");
    assert_eq!(rate(Some(&at(0.0, 10, 7)), &at(2.0, 20, 7)), Some(5.0));
    assert_eq!(rate(Some(&at(0.0, 10, 7)), &at(1.0, 10, 7)), Some(0.0));
    assert_eq!(
        rate(Some(&at(0.0, 10, 7)), &at(1.0, 30, 8)),
        None,
        "another PID: a restarted server"
    );
    assert_eq!(
        rate(Some(&at(0.0, 50, 7)), &at(1.0, 3, 7)),
        None,
        "a counter that went down started again"
    );
    assert_eq!(
        rate(Some(&at(0.0, 0, 7)), &at(0.01, 5, 7)),
        None,
        "too short a window"
    );
    assert_eq!(
        rate(Some(&at(0.0, 0, 7)), &at(1.0, u64::MAX / 2, 7)),
        None,
        "absurd"
    );
}

#[test]
fn the_event_counter_is_read_in_every_spelling_or_not_at_all() {
    assert_eq!(events_total(&json!({"events_total": 42})), Some(42));
    assert_eq!(events_total(&json!({"total_events": 7.0})), Some(7));
    let claude_mpm = json!({"status":"running","service":"claude-mpm-monitor","pid":4,"uptime":3});
    assert_eq!(events_total(&claude_mpm), None);
    assert_eq!(events_total(&json!({"events_total": -1})), None);
    assert_eq!(events_total(&json!({"events_total": 1e300})), None);
    assert_eq!(events_total(&json!({"events_total": "12"})), None);
}

#[test]
fn two_processes_in_one_project_are_named_with_their_ports() {
    let rows = [
        row(8767, Some(30), Some("~/code/a")),
        row(8765, Some(10), Some("~/code/a")),
        row(8766, Some(20), Some("~/code/b")),
        // One process on two ports is one server.
        row(8770, Some(40), Some("~/code/c")),
        row(8771, Some(40), Some("~/code/c")),
        // Unknown projects are never the same project.
        row(8772, None, None),
        row(8773, None, None),
    ];
    assert_eq!(
        same_project(&rows),
        [("~/code/a".to_owned(), vec![8765, 8767])]
    );
    assert!(same_project(&rows[1..]).is_empty());
    // A hung socket or another program listening in the range, from the same folder, is not
    // a second monitor server.
    let mut hung = row(8780, Some(50), Some("~/code/b"));
    hung.answered = false;
    let mut foreign = row(8781, Some(60), Some("~/code/b"));
    foreign.kind = ServerKind::Foreign(Some("nginx".into()));
    assert!(same_project(&[rows[2].clone(), hung, foreign]).is_empty());
}

#[test]
fn hostile_text_and_absurd_figures_from_health_are_made_harmless() {
    let scanner = Scanner::new(&target(8765), None);
    let health = Health::parse(
        json!({"status":"run\u{1b}]2;PWNED\u{7}ning","service":"evil\u{1b}[2J","clients":1e300,
               "uptime":f64::MAX,"pid":99}),
        Duration::ZERO,
    );
    let shown = scanner.row_of("127.0.0.1", 8765, Listener::default(), Ok(&health), None);
    assert_eq!(shown.health, "run\\e]2;PWNED\\x07ning");
    assert_eq!(shown.kind_label, "foreign (evil\\e[2J)");
    assert_eq!((shown.clients, shown.uptime_secs), (None, None));
    assert_eq!((shown.pid, shown.reported_pid), (None, Some(99)));
    assert!(shown.configured && shown.answered);
    let failed = scanner.row_of(
        "127.0.0.1",
        8765,
        Listener::default(),
        Err(&ProbeError::Unexpected("HTTP 404: \u{1b}[31mno".into())),
        None,
    );
    assert_eq!(
        (failed.kind_label.as_str(), failed.health.as_str()),
        ("foreign", "unexpected answer: HTTP 404: \\e[31mno")
    );
    assert!(!failed.answered);
}

/// A listener that accepts and never answers: a hung server.
async fn silent_listener() -> (tokio::net::TcpListener, u16) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

#[tokio::test]
async fn a_scan_of_this_machine_finds_the_server_its_process_and_its_rate() {
    let mut settings = crate::config::Settings::defaults(Path::new("/nonexistent-home"));
    settings.host = "127.0.0.1".into();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = crate::serve::spawn(listener, &settings, None).unwrap();
    let port = server.addr.port();
    let (_hung, hung) = silent_listener().await;
    let (_other_hung, other_hung) = silent_listener().await;
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut ports = vec![port, hung, other_hung, free];
    ports.sort_unstable();
    let mut scanner = Scanner::new(&target(hung), None);

    let first = scanner.scan("127.0.0.1", &ports).await;
    let ours = first.iter().find(|r| r.port == port).expect("the server");
    assert_eq!(ours.kind, ServerKind::MpmTop);
    assert_eq!(ours.pid, Some(std::process::id()));
    assert_eq!(ours.reported_pid, Some(std::process::id()));
    let cwd = std::env::current_dir().unwrap().display().to_string();
    assert_eq!(ours.project.as_deref(), Some(cwd.as_str()));
    assert_eq!(ours.health, "running");
    assert_eq!(ours.events_per_sec, None, "one scan has no rate");
    // Held ports that do not answer are listed on this machine, saying so (a hung monitor is
    // what the user looks for); a free one is not a server.
    let target_row = first.iter().find(|r| r.port == hung).expect("the target");
    assert!(target_row.configured && !target_row.answered);
    assert_eq!(target_row.kind_label, "not answering");
    assert_eq!(target_row.health, "no answer within 300 ms");
    let other = first
        .iter()
        .find(|r| r.port == other_hung)
        .expect("the other");
    assert!(!other.configured && !other.answered && other.pid == Some(std::process::id()));
    assert_eq!(first.len(), 3, "{first:#?}");

    for i in 0..10 {
        server.state.record_event("tool_event", &json!({ "i": i }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = scanner.scan("127.0.0.1", &ports).await;
    let ours = second.iter().find(|r| r.port == port).expect("the server");
    let rate = ours.events_per_sec.expect("a rate from two scans");
    // 10 events in a little over 200 ms (plus the hung probe's 300 ms).
    assert!(rate > 5.0 && rate <= 50.0, "{rate}");
    server.stop().await.unwrap();
}

#[test]
fn a_host_elsewhere_has_no_socket_table_so_every_port_is_asked() {
    let mut owners = Owners::default();
    let mut unowned = BTreeSet::new();
    let ports = BTreeSet::from([8765]);
    assert!(listeners("192.0.2.7", &ports, &mut owners, &mut unowned, None).is_none());
    assert!(
        listeners(
            "127.0.0.1",
            &BTreeSet::new(),
            &mut owners,
            &mut unowned,
            None
        )
        .is_none()
    );
}

#[test]
fn a_scan_can_run_on_a_spawned_task() {
    // The console runs it on its own task every 5 s.
    fn send<T: Send>(_: &T) {}
    let mut scanner = Scanner::new(&target(8765), None);
    let scan = scanner.scan("127.0.0.1", &[]);
    send(&scan);
}
