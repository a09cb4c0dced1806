//! The one way an integration test skips: [`skip_unless`] (or [`require!`](crate::support::require)
//! at the top of a test). A skipped test prints `SKIP <test>: <why>` and passes, so a developer
//! without runc or podman can still run the rest; with `PODINIT_REQUIRE_ALL=1` (what `.ci/run`
//! sets) the same missing prerequisite fails the test instead, so a CI machine missing runc is
//! red rather than green with nothing run.

use std::path::Path;

/// The environment variable that turns every skip into a failure.
pub const REQUIRE_ALL: &str = "PODINIT_REQUIRE_ALL";

/// Something a test needs from the machine it runs on.
#[derive(Clone, Copy, Debug)]
pub enum Need<'a> {
    /// Effective uid 0.
    Root,
    /// A program: an absolute path that must exist, or a name found on `PATH`; with the Debian
    /// package that provides it.
    Program { name: &'a str, package: &'a str },
    /// A kernel in `/boot` for the VM tests to boot.
    BootKernel,
}

pub use Need::Root;

/// [`Need::Program`] in one call.
pub const fn program<'a>(name: &'a str, package: &'a str) -> Need<'a> {
    Need::Program { name, package }
}

impl Need<'_> {
    /// `None` when the need is met, else what is missing and how to get it.
    pub fn missing(self) -> Option<String> {
        match self {
            Need::Root => {
                // SAFETY: geteuid has no preconditions and cannot fail.
                (unsafe { libc::geteuid() } != 0).then(|| "not root".to_owned())
            }
            Need::Program { name, package } if name.contains('/') => {
                (!is_executable(Path::new(name)))
                    .then(|| format!("{name} is missing (apt-get install {package})"))
            }
            Need::Program { name, package } => (!on_path(name))
                .then(|| format!("`{name}` is not on PATH (apt-get install {package})")),
            Need::BootKernel => {
                let found = std::fs::read_dir("/boot").is_ok_and(|d| {
                    d.filter_map(|e| e.ok())
                        .any(|e| e.file_name().to_string_lossy().starts_with("vmlinuz-"))
                });
                (!found).then(|| {
                    "no kernel in /boot (apt-get install linux-image-cloud-amd64)".to_owned()
                })
            }
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(name))))
}

/// Whether `PODINIT_REQUIRE_ALL` is set to `1`.
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1")
}

/// Every unmet need of `needs`, joined with `; `; `None` when all are met.
pub fn missing(needs: &[Need]) -> Option<String> {
    let why: Vec<String> = needs.iter().filter_map(|n| n.missing()).collect();
    (!why.is_empty()).then(|| why.join("; "))
}

/// True when `test` cannot run here: prints `SKIP <test>: <why>` and the caller returns (the test
/// passes). Panics instead (the test fails, naming what is missing) under `PODINIT_REQUIRE_ALL=1`.
pub fn skip_unless(test: &str, needs: &[Need]) -> bool {
    let Some(why) = missing(needs) else {
        return false;
    };
    if require_all() {
        panic!("{test}: {why}, and {REQUIRE_ALL}=1 says every prerequisite must be here");
    }
    eprintln!("SKIP {test}: {why}");
    true
}

/// Fails `what` when a need is unmet, whatever `PODINIT_REQUIRE_ALL` says: for a harness that
/// cannot return from the test (the CRI tests start containerd deep inside their environment).
pub fn require_or_fail(what: &str, needs: &[Need]) {
    if let Some(why) = missing(needs) {
        panic!("{what}: {why} (bash scripts/install-deps.sh installs everything the tests need)");
    }
}

/// The running test's name as the test harness gives it (`module::test`, or `test::case_1` for an
/// rstest case): libtest runs each test on a thread of that name.
pub fn this_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_owned()
}
