//! Helper threads inside a PostgreSQL process. They must never take a signal meant
//! for the backend (PostgreSQL's handlers assume the main thread), so every signal
//! is blocked in them before they run any code.

use std::thread::JoinHandle;

pub fn spawn_quiet<F, T>(name: &str, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            block_all_signals();
            f()
        })
}

fn block_all_signals() {
    // SAFETY: plain libc calls on a local, zero-initialised sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
