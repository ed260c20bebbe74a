//! Helper threads inside a PostgreSQL process. They must never take a signal meant
//! for the backend (PostgreSQL's handlers assume the main thread), so every thread
//! starts with all signals blocked: the parent blocks them around the spawn, so the
//! child inherits the blocked mask from its first instruction (and so do the
//! threads it creates in turn).

use std::thread::JoinHandle;

pub fn spawn_quiet<F, T>(name: &str, f: F) -> std::io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let previous = block_all_signals();
    let spawned = std::thread::Builder::new().name(name.to_string()).spawn(f);
    restore_signals(&previous);
    spawned
}

/// Blocks every signal in the calling thread; returns the mask it had.
fn block_all_signals() -> libc::sigset_t {
    // SAFETY: plain libc calls on local, zero-initialised sigset_t values.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut previous: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut previous);
        previous
    }
}

fn restore_signals(previous: &libc::sigset_t) {
    // SAFETY: `previous` came from pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, previous, std::ptr::null_mut());
    }
}

/// True on the process's main thread (the only one that may call PostgreSQL).
pub fn on_main_thread() -> bool {
    // SAFETY: gettid and getpid have no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t == libc::getpid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spawned_threads_start_with_every_signal_blocked() {
        let blocked = spawn_quiet("t", || {
            let mut current: libc::sigset_t = unsafe { std::mem::zeroed() };
            unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current) };
            unsafe {
                libc::sigismember(&current, libc::SIGTERM) == 1
                    && libc::sigismember(&current, libc::SIGUSR1) == 1
            }
        })
        .unwrap()
        .join()
        .unwrap();
        assert!(blocked);
        // The parent's own mask is back as it was.
        let mut current: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut current) };
        assert_eq!(unsafe { libc::sigismember(&current, libc::SIGTERM) }, 0);
        let on_main = spawn_quiet("t", on_main_thread).unwrap().join().unwrap();
        assert!(!on_main);
    }
}
