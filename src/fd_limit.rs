//! The open-file limit: servers and load generators hold one descriptor per connection.

/// Raises this process's soft limit on open files to its hard limit, as servers commonly do,
/// so that a thousand connections do not fail at a shell's default soft limit of 1024.
/// Failure is harmless (the old limit stays), so it is not reported.
pub fn raise_to_hard_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}
