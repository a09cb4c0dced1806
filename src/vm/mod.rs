//! podinit as the PID 1 of a pod sandbox VM, and `podinit run --vm`, which boots one under qemu.
//!
//! Guest side (`podinit sandbox-init`, the kernel's `rdinit`):
//! - [`cmdline`]: the kernel command line's `podinit.*` words → [`cmdline::SandboxConfig`] (pure);
//! - [`core`]: the PID 1 state machine — signals, control commands, the agent's exit and time
//!   in; forward, kill, finish out (pure, rstest tables);
//! - [`mounts`]: the early mounts and the move off the initramfs root;
//! - [`guest`]: the driver: one epoll loop over a signalfd, the control port and a timer; it
//!   reaps every orphan, runs the agent, writes the result and powers off — it never exits.
//!
//! Host side (`podinit run --vm`):
//! - [`cpio`]: the initramfs archive format (newc), written in memory (pure);
//! - [`initramfs`]: what goes into the archive — busybox, the runtime and its libraries, podinit,
//!   the pod;
//! - [`qemu`]: the kernel, the accelerator (KVM when it boots, emulation otherwise), the machine;
//! - [`host`]: the driver: boot, stream the guest's timeline, Ctrl-C → deletion in the guest,
//!   exit 0 iff the pod Succeeded.
//!
//! The two sides speak over the guest's second serial port (`podinit.control=/dev/ttyS1`):
//! one JSON object per line from the guest (`up`, `result`), one word per line from the host
//! (`delete`, `kill`). [`result`] is that vocabulary.

pub mod cmdline;
pub mod core;
pub mod cpio;
pub mod guest;
pub mod host;
pub mod initramfs;
pub mod mounts;
pub mod qemu;
pub mod result;
