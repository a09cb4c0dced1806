//! Spawning the app by hand: clone (a vfork) + exec.
//!
//! std's `Command` would hand the app the init's blocked signal mask (rust-lang/rust#101077) and
//! reset `SIGPIPE` whatever it was. The fork is `clone(CLONE_VM | CLONE_VFORK)` on a stack of
//! its own, as glibc's `posix_spawn` does: no page tables are copied and the parent takes no
//! copy-on-write faults afterwards (about 80 µs per container start on the 2-vCPU reference VM,
//! the difference between matching tini-static and trailing it). The parent sleeps until the
//! child has called `exec` or `_exit`. The child shares the parent's memory, not its signal
//! dispositions, signal mask or fd table (no `CLONE_SIGHAND`/`CLONE_FILES`), and podinit installs
//! no signal handler, so nothing can run on the shared memory behind the parent's back. The
//! child, between `clone` and `exec`, does only async-signal-safe calls on data prepared
//! before, and writes nothing of the parent's:
//!
//! 1. `setpgid(0, 0)`: the app leads its own process group, so `-g` can signal the group without
//!    hitting the init;
//! 2. `tcsetpgrp(0, pid)` when the init's group owned the terminal on stdin, so the app gets
//!    terminal input and job-control keys (the init blocks `SIGTTOU`, so this cannot stop it);
//! 3. `chdir` back to the init's start directory ([`leave_start_dir`] moved the init to `/`
//!    before the clone);
//! 4. undoes std's start-up changes ([`super::pristine`]): `SIGPIPE` back to `SIG_DFL` unless it
//!    was ignored when podinit started, and closes fds 0-2 that were closed then;
//! 5. restores the signal mask podinit started with;
//! 6. `execv` over the `PATH` candidates (no `/bin/sh` fallback for a file without `#!`: runc
//!    does not do that either, and the app must behave as without podinit).
//!
//! Capabilities, uids/gids, environment, cwd, rlimits and every other fd are left untouched. If
//! no `exec` succeeds, the child writes `errno` (4 bytes) into a close-on-exec pipe and exits
//! 127 (`ENOENT`) or 126; the parent, resumed, reads EOF on success, or the errno (negated when
//! it was the `chdir` that failed).

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use libc::c_char;
use nix::errno::Errno;
use nix::sys::signal::SigSet;

use super::pristine::Pristine;
use crate::sys;

/// Exit code for a command that was not found.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code for a command that was found but could not be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;

/// `PATH` when the environment has none (glibc's `execvp` default).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// Everything the child needs, allocated before `clone`.
pub struct Prepared {
    /// For messages: the command as given.
    name: String,
    _argv: Vec<CString>,
    /// `_argv`'s pointers, null-terminated.
    argv_ptrs: Vec<*const c_char>,
    /// Paths to try with `execv`, in order.
    candidates: Vec<CString>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpawnError {
    /// The command could not be executed; the message names it.
    Exec { command: String, errno: Errno },
    /// A system call of the init itself failed.
    Sys { call: &'static str, errno: Errno },
    /// The child could not enter the directory the init started in.
    StartDir { dir: String, errno: Errno },
}

impl SpawnError {
    pub fn exit_code(&self) -> i32 {
        match self {
            SpawnError::Exec {
                errno: Errno::ENOENT,
                ..
            } => EXIT_NOT_FOUND,
            SpawnError::Exec { .. } => EXIT_CANNOT_EXECUTE,
            SpawnError::Sys { .. } | SpawnError::StartDir { .. } => super::EXIT_INIT_FAILURE,
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Exec { command, errno } => {
                write!(f, "cannot execute {command:?}: {}", errno.desc())?;
                if *errno == Errno::ENOENT && !command.contains('/') {
                    write!(f, " (searched PATH)")?;
                }
                Ok(())
            }
            SpawnError::Sys { call, errno } => write!(f, "{call}: {}", errno.desc()),
            SpawnError::StartDir { dir, errno } => write!(
                f,
                "cannot enter {dir:?}, the directory podinit started in, for the app: {}",
                errno.desc()
            ),
        }
    }
}

impl std::error::Error for SpawnError {}

impl Prepared {
    pub fn new(command: &[OsString], path: Option<&OsStr>) -> Result<Prepared, SpawnError> {
        let Some(first) = command.first() else {
            return Err(SpawnError::Exec {
                command: String::new(),
                errno: Errno::ENOENT,
            });
        };
        let name = first.to_string_lossy().into_owned();
        // Arguments come from argv and cannot hold NUL bytes; map it anyway rather than panic.
        let cstr = |s: &[u8]| {
            CString::new(s).map_err(|_| SpawnError::Exec {
                command: name.clone(),
                errno: Errno::EINVAL,
            })
        };
        let argv = command
            .iter()
            .map(|a| cstr(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let candidates = candidates(first.as_bytes(), path.map(OsStrExt::as_bytes))
            .iter()
            .map(|c| cstr(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Prepared {
            name,
            _argv: argv,
            argv_ptrs,
            candidates,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The paths `execvp` would try: the command itself if it contains a `/`, else each `PATH`
/// entry joined with it (an empty entry means the current directory). An empty command has none.
pub fn candidates(command: &[u8], path: Option<&[u8]>) -> Vec<Vec<u8>> {
    if command.is_empty() {
        return Vec::new();
    }
    if command.contains(&b'/') {
        return vec![command.to_vec()];
    }
    path.unwrap_or(DEFAULT_PATH)
        .split(|&b| b == b':')
        .map(|dir| {
            let dir = if dir.is_empty() { b".".as_slice() } else { dir };
            let mut c = Vec::with_capacity(dir.len() + 1 + command.len());
            c.extend_from_slice(dir);
            if !dir.ends_with(b"/") {
                c.push(b'/');
            }
            c.extend_from_slice(command);
            c
        })
        .collect()
}

/// What the child restores before `exec`.
pub struct ChildSetup {
    /// The signal mask podinit started with.
    pub mask: SigSet,
    pub pristine: Pristine,
    /// The init's process group owns the terminal on stdin: hand it to the app.
    pub take_terminal: bool,
    /// Where the app starts: the init's start directory, which the init has left
    /// ([`leave_start_dir`]); `None`: the app starts where the init is.
    pub start_dir: Option<CString>,
}

/// Moves the init to `/` before it starts anything, and returns the directory it was in, for
/// the child to `chdir` back to ([`ChildSetup::start_dir`]). `None` when the init was in `/`
/// already, or when it cannot tell where it is (a deleted directory): it stays, and the caller
/// leaves after the spawn (the app may then see the init there for an instant).
///
/// Why before the clone: a long-lived PID 1 must not pin its start directory's mount
/// (catatonit#28), and the app must never see it do so (`/proc/1/cwd`). After the spawn is too
/// late: the app already runs while the init resumes from the vfork. In between is impossible:
/// the parent sleeps until the child's `exec` (`CLONE_VFORK`), and the child's cwd is its own
/// copy (no `CLONE_FS`), so the parent's move cannot reach it. So the parent moves first and the
/// child moves back before `exec`: when the app's first instruction runs the init is in `/` and
/// the app in its directory. A path, not a descriptor of the directory: a descriptor would keep
/// the directory held, and a managed init keeps its setup for restarts, probes and handlers.
pub fn leave_start_dir() -> Option<CString> {
    let dir = match nix::unistd::getcwd() {
        Ok(dir) => dir,
        Err(errno) => {
            crate::log_debug!(
                "cannot tell the start directory ({}): staying",
                errno.desc()
            );
            return None;
        }
    };
    if dir.as_os_str() == "/" {
        return None;
    }
    // From getcwd, so without NUL bytes.
    let dir = CString::new(dir.into_os_string().into_vec()).ok()?;
    match nix::unistd::chdir("/") {
        Ok(()) => Some(dir),
        // Still in the start directory: the app inherits it as is.
        Err(_) => None,
    }
}

impl ChildSetup {
    /// Whether fd 0 is a terminal whose foreground process group is ours.
    pub fn init_owns_terminal() -> bool {
        // SAFETY: tcgetpgrp and getpgrp take and return plain integers.
        unsafe {
            let fg = libc::tcgetpgrp(0);
            // Both read 0 when the init is PID 1 of a pid namespace entered without a new
            // session (`unshare --pid --fork` from a terminal): the foreground group and ours
            // live in the parent namespace and have no number here. tini takes the terminal
            // then too; not taking it leaves the app stopped by SIGTTIN at its first read.
            fg >= 0 && fg == libc::getpgrp()
        }
    }
}

/// After the app ended: if its process group still owns the terminal on stdin, give the terminal
/// back to the init's group, so whoever started podinit in the foreground gets it back.
pub fn take_terminal_back(app_pgrp: libc::pid_t) {
    // SAFETY: tcgetpgrp/tcsetpgrp/getpgrp take and return plain integers. SIGTTOU is blocked in
    // the init, so tcsetpgrp from a background group does not stop it.
    unsafe {
        if libc::tcgetpgrp(0) == app_pgrp {
            libc::tcsetpgrp(0, libc::getpgrp());
        }
    }
}

/// The child's stack: `child_exec` and `execv` need a few hundred bytes.
const CHILD_STACK: usize = 64 * 1024;

/// What the child entry point gets through `clone`'s argument pointer.
struct ChildArgs<'a> {
    prepared: &'a Prepared,
    setup: &'a ChildSetup,
    err_fd: RawFd,
    output: Option<[RawFd; 2]>,
}

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points to the `ChildArgs` on the parent's stack, which lives until the
    // parent resumes, i.e. after this child called exec or _exit (CLONE_VFORK).
    let args = unsafe { &*(arg as *const ChildArgs<'_>) };
    // SAFETY: we are the freshly cloned child of a single-threaded process.
    unsafe { child_exec(args.prepared, args.setup, args.err_fd, args.output) }
}

/// Starts the app. Returns its pid once `exec` succeeded.
pub fn spawn(prepared: &Prepared, setup: &ChildSetup) -> Result<libc::pid_t, SpawnError> {
    spawn_with_output(prepared, setup, None)
}

/// [`spawn`] with the app's stdout and stderr on these fds (the init's tee, `managed.rs`).
pub fn spawn_with_output(
    prepared: &Prepared,
    setup: &ChildSetup,
    output: Option<[RawFd; 2]>,
) -> Result<libc::pid_t, SpawnError> {
    let sys_err = |call| move |errno| SpawnError::Sys { call, errno };
    let (read_end, write_end) = sys::fd::pipe_cloexec().map_err(sys_err("pipe2"))?;
    let mut stack: Vec<u8> = Vec::with_capacity(CHILD_STACK);
    // The stack grows down from the end of the buffer, 16-byte aligned as the ABI requires.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;
    let mut args = ChildArgs {
        prepared,
        setup,
        err_fd: write_end.as_raw_fd(),
        output,
    };
    // SAFETY: podinit is single-threaded; the child runs `child_entry` on `stack` (owned here
    // and not freed before clone returns, which with CLONE_VFORK is after the child's exec or
    // _exit), makes only async-signal-safe calls and writes no memory of ours (see the module
    // doc); `args` outlives the child's use of it for the same reason.
    let pid = unsafe {
        libc::clone(
            child_entry,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&raw mut args).cast(),
        )
    };
    drop(stack);
    match pid {
        -1 => Err(SpawnError::Sys {
            call: "clone",
            errno: Errno::last(),
        }),
        pid => {
            drop(write_end);
            match read_errno(&read_end) {
                None => Ok(pid),
                Some(raw) => {
                    // The child has exited (127/126/1): collect it so it is not left a zombie.
                    let _ = sys::wait::wait_blocking(pid);
                    let errno = Errno::from_raw(raw.abs());
                    Err(match &setup.start_dir {
                        Some(dir) if raw < 0 => SpawnError::StartDir {
                            dir: dir.to_string_lossy().into_owned(),
                            errno,
                        },
                        _ => SpawnError::Exec {
                            command: prepared.name.clone(),
                            errno,
                        },
                    })
                }
            }
        }
    }
}

/// EOF (the pipe was closed by a successful `exec`) gives `None`; else the raw errno the child
/// wrote (negative: from its `chdir`).
fn read_errno(fd: &OwnedFd) -> Option<i32> {
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(fd, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(Errno::EINTR) => continue,
            // Cannot tell; the reap loop will report how the child ended.
            Err(_) => return None,
        }
    }
    (got == buf.len()).then(|| i32::from_ne_bytes(buf))
}

/// The child between `clone` and `exec`.
///
/// # Safety
///
/// Call only in a freshly cloned child (`CLONE_VM | CLONE_VFORK`, so the parent is suspended)
/// of a single-threaded process without signal handlers. Uses async-signal-safe calls only,
/// writes only its own stack (and the shared `errno`, which the parent does not read across the
/// clone), and never returns.
unsafe fn child_exec(
    prepared: &Prepared,
    setup: &ChildSetup,
    err_fd: RawFd,
    output: Option<[RawFd; 2]>,
) -> ! {
    // SAFETY: (the whole body) each call is async-signal-safe (setpgid, getpid, tcsetpgrp, chdir,
    // signal, close, dup2, sigprocmask, execv, write, _exit, errno reads) and every pointer passed points
    // into `prepared`/`setup`, which the suspended parent keeps alive. Dispositions, mask and
    // fd table are the child's own copies (no CLONE_SIGHAND, CLONE_FILES).
    unsafe {
        libc::setpgid(0, 0);
        if setup.take_terminal {
            libc::tcsetpgrp(0, libc::getpid());
        }
        if let Some(dir) = &setup.start_dir {
            if libc::chdir(dir.as_ptr()) != 0 {
                let bytes = (-Errno::last_raw()).to_ne_bytes();
                libc::write(err_fd, bytes.as_ptr().cast(), bytes.len());
                libc::_exit(super::EXIT_INIT_FAILURE);
            }
        }
        if !setup.pristine.sigpipe_ignored {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        for fd in 0..3 {
            if setup.pristine.stdio_was_closed(fd) {
                libc::close(fd);
            }
        }
        // dup2 clears close-on-exec on the copy; the originals close at exec.
        if let Some([out, err]) = output {
            libc::dup2(out, 1);
            libc::dup2(err, 2);
        }
        libc::sigprocmask(libc::SIG_SETMASK, setup.mask.as_ref(), std::ptr::null_mut());

        // execvp's rules: go on to the next PATH entry when the file is not there, remember
        // EACCES, stop at any other error; report EACCES if some candidate gave it, else the
        // last error.
        let mut errno = libc::ENOENT;
        let mut saw_eacces = false;
        for candidate in &prepared.candidates {
            libc::execv(candidate.as_ptr(), prepared.argv_ptrs.as_ptr());
            errno = Errno::last_raw();
            match errno {
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                libc::EACCES => saw_eacces = true,
                _ => break,
            }
        }
        if saw_eacces
            && matches!(
                errno,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT
            )
        {
            errno = libc::EACCES;
        }
        let bytes = errno.to_ne_bytes();
        libc::write(err_fd, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(if errno == libc::ENOENT {
            EXIT_NOT_FOUND
        } else {
            EXIT_CANNOT_EXECUTE
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn strs(v: Vec<Vec<u8>>) -> Vec<String> {
        v.into_iter()
            .map(|c| String::from_utf8(c).unwrap())
            .collect()
    }

    #[rstest]
    #[case("sh", Some("/usr/bin:/bin"), &["/usr/bin/sh", "/bin/sh"])]
    #[case("sh", None, &["/bin/sh", "/usr/bin/sh"])]
    #[case("sh", Some("/opt/x/:"), &["/opt/x/sh", "./sh"])]
    #[case("sh", Some(""), &["./sh"])]
    #[case("./run", Some("/bin"), &["./run"])]
    #[case("/bin/true", Some("/usr/bin"), &["/bin/true"])]
    #[case("a/b", None, &["a/b"])]
    #[case("", Some("/bin"), &[])]
    fn path_candidates(
        #[case] command: &str,
        #[case] path: Option<&str>,
        #[case] expected: &[&str],
    ) {
        assert_eq!(
            strs(candidates(command.as_bytes(), path.map(str::as_bytes))),
            expected
        );
    }

    #[rstest]
    #[case(Errno::ENOENT, EXIT_NOT_FOUND)]
    #[case(Errno::EACCES, EXIT_CANNOT_EXECUTE)]
    #[case(Errno::ENOEXEC, EXIT_CANNOT_EXECUTE)]
    #[case(Errno::E2BIG, EXIT_CANNOT_EXECUTE)]
    #[case(Errno::ENOTDIR, EXIT_CANNOT_EXECUTE)]
    fn exec_error_codes(#[case] errno: Errno, #[case] expected: i32) {
        let e = SpawnError::Exec {
            command: "x".into(),
            errno,
        };
        assert_eq!(e.exit_code(), expected);
    }

    #[test]
    fn exec_error_names_the_command() {
        let e = SpawnError::Exec {
            command: "no-such-app".into(),
            errno: Errno::ENOENT,
        };
        let msg = e.to_string();
        assert!(msg.contains("\"no-such-app\""), "{msg}");
        assert!(msg.contains("No such file or directory"), "{msg}");
    }

    #[test]
    fn prepared_argv_is_null_terminated() {
        let cmd: Vec<OsString> = ["echo", "a b", ""].iter().map(OsString::from).collect();
        let p = Prepared::new(&cmd, Some(OsStr::new("/bin"))).unwrap();
        assert_eq!(p.argv_ptrs.len(), 4);
        assert!(p.argv_ptrs[3].is_null());
        assert_eq!(p.name(), "echo");
        assert_eq!(p.candidates, vec![CString::new("/bin/echo").unwrap()]);
    }

    #[test]
    fn empty_command_is_not_found() {
        let e = Prepared::new(&[], None).err().unwrap();
        assert_eq!(e.exit_code(), EXIT_NOT_FOUND);
    }
}
