//! Read-only producers of facts about the machine and the server. Blocking: call them from a
//! blocking thread (`tokio::task::spawn_blocking`), never from the UI task.

pub mod feed;
pub mod http;
pub mod logfields;
pub mod logtail;
pub mod owners;
pub mod pidfiles;
mod plain_http;
pub mod process;
mod procfs;
pub mod servers;
pub mod sockets;
