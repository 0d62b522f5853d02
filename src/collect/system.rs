//! Machine facts for the bundle, natively: `uname -a`, `top`, `free -h`, `df -h`; and the
//! Python versions the guide asks for (the one thing that needs Python itself).

use std::fmt::Write as _;

use sysinfo::{Disks, ProcessRefreshKind, ProcessesToUpdate, System, Users};

fn gib(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss)] // display only
    let g = bytes as f64 / f64::from(1u32 << 30);
    format!("{g:.1}Gi")
}

/// The `uname -a` equivalent.
#[must_use]
pub fn uname() -> String {
    let or = |v: Option<String>| v.unwrap_or_else(|| "?".into());
    format!(
        "{} {} {} ({}) {}\n",
        or(System::name()),
        or(System::host_name()),
        or(System::kernel_version()),
        or(System::long_os_version()),
        System::cpu_arch()
    )
}

/// The 20 busiest processes, `top -b -n 1 | head -20` style.
#[must_use]
pub fn top() -> String {
    let mut system = System::new();
    let what = ProcessRefreshKind::nothing()
        .with_cpu()
        .with_memory()
        .with_cmd(sysinfo::UpdateKind::Always)
        .with_user(sysinfo::UpdateKind::Always);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, what);
    std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, what);
    let users = Users::new_with_refreshed_list();
    // Threads are listed by sysinfo as processes of their own: the guide's `top` shows processes.
    let mut procs: Vec<_> = system
        .processes()
        .values()
        .filter(|p| p.thread_kind().is_none())
        .collect();
    procs.sort_by(|a, b| {
        b.cpu_usage()
            .total_cmp(&a.cpu_usage())
            .then(b.memory().cmp(&a.memory()))
    });
    let mut out = format!(
        "{:>7} {:<10} {:>6} {:>9}  COMMAND\n",
        "PID", "USER", "%CPU", "RSS"
    );
    for p in procs.into_iter().take(20) {
        let user = p
            .user_id()
            .and_then(|u| users.get_user_by_id(u))
            .map_or("?", sysinfo::User::name);
        let cmd: Vec<String> = p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let cmd = if cmd.is_empty() {
            p.name().to_string_lossy().into_owned()
        } else {
            cmd.join(" ")
        };
        let cmd: String = crate::text::clean(&cmd).chars().take(120).collect();
        let _ = writeln!(
            out,
            "{:>7} {:<10} {:>6.1} {:>8}M  {cmd}",
            p.pid(),
            user,
            p.cpu_usage(),
            p.memory() >> 20
        );
    }
    out
}

/// `free -h`.
#[must_use]
pub fn memory() -> String {
    let mut system = System::new();
    system.refresh_memory();
    format!(
        "{:<6} {:>8} {:>8} {:>8} {:>10}\nMem:   {:>8} {:>8} {:>8} {:>10}\nSwap:  {:>8} {:>8} {:>8}\n",
        "",
        "total",
        "used",
        "free",
        "available",
        gib(system.total_memory()),
        gib(system.used_memory()),
        gib(system.free_memory()),
        gib(system.available_memory()),
        gib(system.total_swap()),
        gib(system.used_swap()),
        gib(system.free_swap())
    )
}

/// `df -h`.
#[must_use]
pub fn disks() -> String {
    let disks = Disks::new_with_refreshed_list();
    let mut out = format!(
        "{:<24} {:>8} {:>8} {:>8}  MOUNTED ON\n",
        "FILESYSTEM", "SIZE", "USED", "AVAIL"
    );
    for d in disks.list() {
        let used = d.total_space().saturating_sub(d.available_space());
        let _ = writeln!(
            out,
            "{:<24} {:>8} {:>8} {:>8}  {}",
            d.name().to_string_lossy(),
            gib(d.total_space()),
            gib(used),
            gib(d.available_space()),
            d.mount_point().display()
        );
    }
    out
}
