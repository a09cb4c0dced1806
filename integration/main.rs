//! The integration tests: one binary (`cargo test --test integration`), one module per concern.
//! Shared code: [`support`] (running commands with deadlines, `/proc`, and [`support::require!`],
//! the one way a test skips) and [`pod`] (the runc pod harness); the CRI harness is [`cri`]'s.
//!
//! | module | what |
//! |---|---|
//! | `init::host`, `init::runc` | the in-container init on the host and as PID 1 under runc |
//! | `hooks` | the shipped OCI hook and runtime-front files under `oci-hooks/` |
//! | `supervisor::{socket, restart, faults, claims, multi_pod}` | the supervisor's socket protocol, its restart, state-dir faults, registration claims, several pods on one supervisor |
//! | `pods::{startup, steady, teardown, recovery, hostile}` | the pod scenarios (real runc pods) by what each tests; `pods::harness` the harness's own checks |
//! | `runners::{pods, images, podman, explain_testdata}` | `podinit run` with manifests and images, podman, `explain` on `testdata/` |
//! | `cri::scenarios` | pods through containerd's CRI v1, as a kubelet drives it |
//! | `vm` | `podinit run --vm` |
//! | `chaos` | the supervisor SIGKILLed at random moments |
//!
//! A test's path is its filter: `cargo test --test integration -- init::host` runs the host init
//! tests, `-- pods::` every pod scenario.
//!
//! Every test shares this one process with every other module's, on libtest's threads: so no test
//! changes what the process has for all (environment variables, current directory, signal
//! dispositions, limits; a child gets its changes through `Command`), and every directory,
//! container id, socket and netns a test makes carries its module's own prefix, the process id
//! and a counter (`podinit-sock-…`, `podinit-ocihooks-…`, the pod harness's one counter for
//! every module that runs pods). The VM tests take turns on one lock (`vm::ONE_VM`).

mod support;

mod pod;

mod chaos;
mod cri;
mod hooks;
mod init;
mod pods;
mod runners;
mod supervisor;
mod vm;
