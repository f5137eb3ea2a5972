//! A progress line on stderr while a load takes more than a moment (a compile):
//! the file, its size and the time so far. Nothing on a pipe.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How long a load runs before the line shows: a cached load ends well before.
const QUIET_FOR: Duration = Duration::from_millis(300);

/// Shows the line until dropped.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts watching the load of `path`; does nothing when stderr is not a terminal.
    pub fn loading(path: &std::path::Path) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { stop: None, thread: None };
        }
        let label = match std::fs::metadata(path) {
            Ok(meta) => format!("compiling {} ({:.1} MB)", path.display(), meta.len() as f64 / 1e6),
            Err(_) => format!("compiling {}", path.display()),
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            if stopped.recv_timeout(QUIET_FOR) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            while stopped.recv_timeout(Duration::from_millis(100)) == Err(mpsc::RecvTimeoutError::Timeout) {
                bar.set_message(format!("{label}, {:.1} s", started.elapsed().as_secs_f64()));
                bar.tick();
            }
            bar.finish_and_clear();
        });
        Progress { stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
