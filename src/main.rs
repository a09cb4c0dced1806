//! The `podinit` command line: thin wrappers over the library's drivers.
//!
//! No Rust runtime start-up (`no_main`): `podinit exec` is PID 1 of every container, and std's
//! start-up would change what the app inherits (`SIGPIPE` ignored, `/dev/null` on closed fds
//! 0-2; see `podinit::init::pristine`) and cost a dozen system calls, including a read of
//! `/proc/self/maps`, on every container start. The C `main` below records the pristine state
//! first, then runs the command and leaves through `std::process::exit`, which flushes stdout.
//! The exec command line is parsed without clap when it is well formed
//! (`podinit::init::cli`); clap handles everything else, and `--help`.

#![cfg_attr(not(test), no_main)]

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use podinit::{explain, init};

/// On musl, dlmalloc instead of musl's malloc, which doubled the supervisor's CPU to register a
/// pod's containers (BENCHMARKS.md, "One binary under 1 MiB"). Its lock is a plain pthread
/// mutex with no fork handler: a forked child that allocates must come from a single-threaded
/// process, which is so for every fork podinit makes that allocates (the init's probe checks,
/// the hook's mount helper).
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOC: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[derive(Parser)]
#[command(
    name = "podinit",
    version,
    about = "Kubernetes sidecar semantics at the OCI runtime layer",
    after_help = "podinit [EXEC OPTIONS] [--] CMD [ARGS]... is short for podinit exec, as with tini: \
a first word that is not an option and not one of the commands above is the command to run \
(`podinit -- CMD` runs a CMD named like a command). Run as tini, docker-init or init (a symlink \
or copy), every argument is exec's. Usage errors of exec exit 1."
)]
struct Cli {
    /// More log output: -v info, -vv debug, -vvv trace (or PODINIT_LOG=error|warn|info|debug|trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show how a bundle's container is classified (init/sidecar/app) and why.
    Explain {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The OCI bundle directory (or its config.json).
        bundle: PathBuf,
    },
    /// Run CMD as the container's init: forward signals, reap zombies, exit with CMD's status.
    // Repeated options are fine, the last value wins (as with tini's getopt).
    #[command(args_override_self = true)]
    Exec {
        /// Register as child subreaper even as PID 1 and fail if impossible (automatic when not
        /// PID 1). Env: PODINIT_SUBREAPER.
        #[arg(short = 's', long)]
        subreaper: bool,
        /// Send forwarded signals to CMD's process group. Env: PODINIT_KILL_PROCESS_GROUP.
        #[arg(short = 'g', long)]
        kill_process_group: bool,
        /// Report exit code CODE of CMD (128+N for signal N) as 0; repeatable.
        #[arg(short = 'e', long = "remap-exit", value_name = "CODE")]
        remap_exit: Vec<u8>,
        /// Signal podinit gets (and forwards to CMD) when its parent dies: TERM, SIGKILL, 9, RTMIN+1.
        #[arg(short = 'p', long = "pdeathsig", value_name = "SIGNAL", value_parser = parse_signal)]
        pdeathsig: Option<i32>,
        /// Log each orphan reaped at warning level.
        #[arg(short = 'w', long = "warn-on-reap")]
        warn_on_reap: bool,
        /// The command and its arguments.
        #[arg(value_name = "CMD", required = true, trailing_var_arg = true)]
        command: Vec<OsString>,
    },
    /// Run the pod's supervisor (PID 1 of the sandbox, or a child subreaper).
    Supervise {
        #[command(flatten)]
        paths: Paths,
        /// Settle time in milliseconds for pods that declare neither a pod spec nor
        /// io.podinit.pod-containers.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        settle_ms: u64,
        /// A one-pod sandbox: exit with the first pod's result (0 iff Succeeded) once it
        /// finished. Default: serve every pod until SIGTERM or `podinit stop`.
        /// Env: PODINIT_EXIT_WITH_POD.
        #[arg(long, env = "PODINIT_EXIT_WITH_POD", value_parser = clap::builder::FalseyValueParser::new())]
        exit_with_pod: bool,
    },
    /// OCI runtime hook: reads the state on stdin and reports to the supervisor.
    Hook {
        /// createRuntime, prestart, poststart or poststop (default: from the state's status).
        stage: Option<String>,
        #[command(flatten)]
        paths: Paths,
        /// When the supervisor is unreachable at createRuntime/prestart: fail (default) or
        /// ignore. Env: PODINIT_HOOK_ON_UNREACHABLE.
        #[arg(long, value_name = "POLICY")]
        on_unreachable: Option<String>,
    },
    /// Prepare a bundle: add the hooks (or a claim for its init), mounts and the podinit exec
    /// wrapper to config.json; prints which registration it got and why.
    Inject {
        /// The OCI bundle directory (or its config.json).
        bundle: PathBuf,
        #[command(flatten)]
        paths: Paths,
        /// The podinit binary to use in hooks and mount into containers (default: this one).
        #[arg(long)]
        binary: Option<PathBuf>,
        /// OCI hooks register the container, whatever its pid namespace. Default: no hooks
        /// (its init claims the registration, saving `runc create` ~5 ms) where the container
        /// has a pid namespace of its own, hooks where it shares the host's or joins another's.
        /// Env: PODINIT_HOOKS=1.
        #[arg(long, conflicts_with = "no_hooks")]
        hooks: bool,
        /// No OCI hooks, and refuse a bundle whose container has no pid namespace of its own.
        /// Env: PODINIT_HOOKS=0 (or PODINIT_NO_HOOKS=1).
        #[arg(long)]
        no_hooks: bool,
        /// The id the container will be created with, which a claim carries (default: the
        /// bundle directory's name).
        #[arg(long, value_name = "ID")]
        id: Option<String>,
    },
    /// Show the pods (one line each), or one pod's status; from the state dir's files when
    /// the supervisor is gone.
    Status {
        #[command(flatten)]
        paths: Paths,
        /// Print the status document (as status.json) instead of a table.
        #[arg(long)]
        json: bool,
        /// table (default), json (= --json), or k8s: the pod as a Kubernetes core/v1 PodStatus.
        #[arg(long, value_name = "FORMAT", value_parser = ["table", "json", "k8s"])]
        format: Option<String>,
        /// The pod to show (its key, as `podinit status` lists it); the only one by default.
        #[arg(long, value_name = "KEY")]
        pod: Option<String>,
    },
    /// Run a pod (a Kubernetes manifest, YAML or JSON; default: the embedded demo Job) with a real
    /// OCI runtime, as a sandbox agent would, and exit 0 iff it Succeeded.
    Run {
        /// Manifest files, YAML or JSON, one or more documents each (`---`); `-` reads standard
        /// input. One workload: a Pod, Job, CronJob, Deployment, ReplicaSet, StatefulSet,
        /// DaemonSet (one pod from its template) or a bare PodSpec.
        pod: Vec<PathBuf>,
        /// runc, crun, or the path of a runtime binary.
        #[arg(long, default_value = "runc")]
        runtime: String,
        /// The order in which the containers are created and started: spec, reverse or random.
        #[arg(long, default_value = "spec", value_parser = ["spec", "reverse", "random"])]
        create_order: String,
        /// Seed for --create-order random.
        #[arg(long)]
        seed: Option<u64>,
        /// Keep the work directory (bundles, logs, status.json).
        #[arg(long)]
        keep: bool,
        /// Where to put bundles, logs and state (default: a new temporary directory).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Delete the pod after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
        /// Print the pod as it runs (SidecarSets applied, env from ConfigMaps and Secrets
        /// resolved) before running it; also with -v.
        #[arg(long)]
        explain: bool,
        /// A saved image for a reference, repeatable: NAME=PATH, where PATH is an OCI image
        /// layout directory, an OCI archive (podman save --format oci-archive), a docker
        /// archive (docker save, podman save) or a root filesystem directory. NAME matches a
        /// container's image as docker does (nginx = docker.io/library/nginx:latest).
        #[arg(long = "image", value_name = "NAME=PATH", value_parser = parse_image,
              conflicts_with = "vm")]
        images: Vec<(String, PathBuf)>,
        /// A directory of saved images (OCI layouts, OCI archives, docker archives), each found
        /// by the names it records (RepoTags, org.opencontainers.image.ref.name). An image is
        /// looked up in --image, then as a path, then here, then a reference whose last path
        /// element is busybox runs on the host's static busybox; anything else is an error.
        #[arg(long, value_name = "DIR", conflicts_with = "vm")]
        image_store: Option<PathBuf>,
        /// Inject every bundle with `inject --hooks`: OCI hooks register each container. Default:
        /// as `inject` does, no hooks where a container has a pid namespace of its own (its init
        /// claims its registration; faster create, see README).
        #[arg(long, conflicts_with = "no_hooks")]
        hooks: bool,
        /// Inject every bundle with `inject --no-hooks`: a container without a pid namespace of
        /// its own is refused.
        #[arg(long)]
        no_hooks: bool,
        /// Run the pod in a microVM under qemu whose PID 1 is podinit (podinit sandbox-init),
        /// built from this machine's kernel, busybox, runtime and podinit.
        #[arg(long)]
        vm: bool,
        /// With --vm: the guest kernel (default: the newest Debian cloud kernel in /boot).
        #[arg(long, value_name = "PATH", requires = "vm")]
        kernel: Option<PathBuf>,
        /// With --vm: guest memory, e.g. 256M or 1G.
        #[arg(long, value_name = "SIZE", default_value = "256M", requires = "vm",
              value_parser = parse_memory)]
        memory: u64,
        /// With --vm: virtual CPUs.
        #[arg(long, value_name = "N", default_value_t = 1, requires = "vm",
              value_parser = clap::value_parser!(u32).range(1..=64))]
        cpus: u32,
        /// With --vm: auto (KVM once it has booted a guest here, else emulation), kvm or tcg.
        #[arg(long, value_name = "ACCEL", default_value = "auto", requires = "vm",
              value_parser = ["auto", "kvm", "tcg"])]
        accel: String,
    },
    /// PID 1 of a pod sandbox VM (the kernel's rdinit, with `-- sandbox-init` on the kernel
    /// command line): mounts, reaps, runs the agent, reports the pod's result, powers off.
    /// Configured by podinit.* words on the kernel command line; see docs/vm.md.
    SandboxInit,
    /// The runtime front: an OCI runtime command line (runc's) for an agent's BinaryName /
    /// runtime_path / --runtime. Prepares each bundle at create/run like inject (never a sandbox
    /// container), then execs PODINIT_NEXT_RUNTIME (default runc) with the arguments unchanged.
    /// Also reachable as a multi-call name: podinit-runc, podinit-crun, podinit-<runtime>.
    #[command(disable_help_flag = true)]
    Runtime {
        /// The runtime's own command line, passed on unchanged.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
    /// Delete one pod, or every pod and end the supervisor (same as SIGTERM to it).
    Stop {
        #[command(flatten)]
        paths: Paths,
        /// Grace budget in seconds; a later stop with a smaller grace shortens the deadline.
        #[arg(long)]
        grace: Option<u64>,
        /// Delete only this pod; the supervisor keeps running.
        #[arg(long, value_name = "KEY")]
        pod: Option<String>,
    },
    /// Restart one container's process in place: preStop, its stop signal, SIGKILL after the
    /// grace, then started again at once whatever its restart policy (restartCount + 1); the
    /// other containers are untouched. Refused for unknown, not yet started or finished
    /// containers and for a pod being torn down.
    Restart {
        #[command(flatten)]
        paths: Paths,
        /// The container's pod (needed when the supervisor runs more than one).
        #[arg(long, value_name = "KEY")]
        pod: Option<String>,
        /// The container's name in the pod spec.
        container: String,
    },
    /// Send a signal to one container's main process (e.g. HUP for a config reload). Refused
    /// for unknown, not yet started or finished containers; what the process does with it is
    /// its own (an exit goes through its restart policy as any exit).
    Signal {
        #[command(flatten)]
        paths: Paths,
        /// The container's pod (needed when the supervisor runs more than one).
        #[arg(long, value_name = "KEY")]
        pod: Option<String>,
        /// The container's name in the pod spec.
        container: String,
        /// A signal name or number: HUP, SIGUSR1, 10.
        #[arg(value_parser = parse_operator_signal)]
        signal: podinit::signal::Signal,
    },
}

#[derive(clap::Args, Clone)]
struct Paths {
    /// The supervisor's control socket. Env: PODINIT_SOCKET.
    #[arg(long, env = "PODINIT_SOCKET", default_value = podinit::proto::DEFAULT_SOCKET)]
    socket: PathBuf,
    /// The supervisor's state directory. Env: PODINIT_STATE_DIR.
    #[arg(long, env = "PODINIT_STATE_DIR", default_value = podinit::proto::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
}

impl Paths {
    fn target(self, pod: Option<String>) -> podinit::operator::Target {
        podinit::operator::Target {
            socket: self.socket,
            state_dir: self.state_dir,
            pod,
        }
    }
}

fn parse_image(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => {
            Ok((name.to_owned(), PathBuf::from(path)))
        }
        _ => Err(format!(
            "{s:?} is not NAME=PATH (e.g. myapp=./myapp-oci or nginx:1.25=nginx.tar)"
        )),
    }
}

fn parse_memory(s: &str) -> Result<u64, String> {
    podinit::vm::qemu::parse_memory(s)
        .ok_or_else(|| format!("{s:?} is not a memory size from 64M up (e.g. 256M, 1G)"))
}

/// Whether `name` is a podinit subcommand (clap's `help` included), from the clap definition so a
/// subcommand added later is one too. Any other first word is a command to run (`podinit CMD`).
fn is_subcommand(name: &str) -> bool {
    name == "help" || <Command as Subcommand>::has_subcommand(name)
}

/// Prints clap's message and returns the exit code: 0 for help, 1 for a usage error of an exec
/// line (tini's code: an image's init line is written for tini), clap's 2 for the other commands.
fn usage_error(e: &clap::Error, exec_line: bool) -> i32 {
    let _ = e.print();
    match e.exit_code() {
        0 => 0,
        _ if exec_line => init::EXIT_INIT_FAILURE,
        code => code,
    }
}

fn parse_signal(s: &str) -> Result<i32, String> {
    podinit::sys::signal::parse(s)
        .ok_or_else(|| format!("{s:?} is not a signal name or number (e.g. TERM, SIGKILL, 9)"))
}

/// `--hooks` / `--no-hooks` (clap makes them exclusive); `None`: neither given.
fn hook_flags(hooks: bool, no_hooks: bool) -> Option<podinit::inject::HookMode> {
    match (hooks, no_hooks) {
        (true, _) => Some(podinit::inject::HookMode::Hooks),
        (_, true) => Some(podinit::inject::HookMode::NoHooks),
        _ => None,
    }
}

/// `parse_signal` into the core's type (every number it accepts is one).
fn parse_operator_signal(s: &str) -> Result<podinit::signal::Signal, String> {
    let n = parse_signal(s)?;
    podinit::signal::Signal::new(n).ok_or_else(|| format!("{s:?}: {n} is not a signal number"))
}

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    init::pristine::capture();
    // SAFETY: argc and argv are the C runtime's, as it passes them to `main`.
    let args = unsafe { args_from_main(argc, argv) };
    std::process::exit(run(args))
}

/// The command line from `main`'s own `argc`/`argv`. `std::env::args_os` is filled by std's
/// start-up (glibc passes argv to init_array functions, musl does not), which `no_main` skips
/// on musl: there it would be empty.
///
/// # Safety
/// `argv` points to `argc` valid NUL-terminated strings (what the C runtime gives `main`).
#[cfg(not(test))]
unsafe fn args_from_main(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
) -> Vec<OsString> {
    use std::os::unix::ffi::OsStrExt;
    let n = usize::try_from(argc).unwrap_or(0);
    (0..n)
        .filter_map(|i| {
            // SAFETY: i < argc, so argv[i] is within the array the caller vouches for.
            let p = unsafe { *argv.add(i) };
            // SAFETY: a non-null argv[i] is a NUL-terminated string that lives for the process.
            (!p.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(p) })
        })
        .map(|s| std::ffi::OsStr::from_bytes(s.to_bytes()).to_os_string())
        .collect()
}

fn run(mut args: Vec<OsString>) -> i32 {
    // The runtime front is dispatched before clap: the agent's command line is runc's, and
    // `--help`, `--version` or any flag of it belongs to the next runtime, not to us.
    // Both checks compare bytes: `podinit exec` (every container's PID 1) pays no allocation.
    let multi_call = args.first().is_some_and(|a| {
        let name = std::path::Path::new(a).file_name().unwrap_or_default();
        let name = name.as_encoded_bytes();
        name.len() > b"podinit-".len() && name.starts_with(b"podinit-")
    });
    if multi_call || args.get(1).is_some_and(|a| a == "runtime") {
        let argv0 = args[0].to_string_lossy().into_owned();
        let rest = args.split_off(if multi_call { 1 } else { 2 });
        podinit::log::init_from_env(0);
        return podinit::front::main(&argv0, rest);
    }
    if let Some(exec) = init::cli::parse(&args, is_subcommand) {
        let (opts, verbose) = exec.into_options();
        return exec_init(opts, verbose);
    }
    // The hook runs at every stage of every container: no clap on a well-formed line either.
    if let Some(hook) = podinit::hook_cli::parse(&args, |k| std::env::var_os(k)) {
        podinit::log::init_from_env(0);
        return podinit::cli::run(hook_command(hook));
    }
    let exec_line = init::cli::route_to_exec(&mut args, is_subcommand);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e, exec_line),
    };
    match cli.command {
        Command::Explain { json, bundle } => {
            podinit::log::init_from_env(cli.verbose);
            match explain::classify_path(&bundle) {
                Ok(classified) => {
                    let text = if json {
                        format!("{}\n", explain::to_json(&classified))
                    } else {
                        explain::to_text(&classified)
                    };
                    // A closed stdout (`| head`) is not an error worth a panic.
                    let _ = std::io::stdout().write_all(text.as_bytes());
                    0
                }
                Err(e) => {
                    eprintln!("podinit explain: {e}");
                    2
                }
            }
        }
        exec @ Command::Exec { .. } => {
            let (opts, verbose) = exec_args(exec, cli.verbose).into_options();
            exec_init(opts, verbose)
        }
        other => {
            podinit::log::init_from_env(cli.verbose);
            podinit::cli::run(lower(other, cli.verbose))
        }
    }
}

/// The non-init commands, handed to the library's CLI drivers.
fn lower(command: Command, verbose: u8) -> podinit::cli::Command {
    use podinit::cli::Command as C;
    match command {
        Command::Supervise {
            paths,
            settle_ms,
            exit_with_pod,
        } => C::Supervise {
            socket: paths.socket,
            state_dir: paths.state_dir,
            settle_ms,
            exit_with_pod,
        },
        Command::Hook {
            stage,
            paths,
            on_unreachable,
        } => hook_command(podinit::hook_cli::HookArgs {
            stage,
            socket: paths.socket,
            state_dir: paths.state_dir,
            on_unreachable,
        }),
        Command::Inject {
            bundle,
            paths,
            binary,
            hooks,
            no_hooks,
            id,
        } => {
            let hooks = hook_flags(hooks, no_hooks);
            C::Inject {
                id: id.unwrap_or_else(|| bundle_name(&bundle)),
                bundle,
                socket: paths.socket,
                state_dir: paths.state_dir,
                binary,
                hooks,
            }
        }
        Command::Status {
            paths,
            json,
            format,
            pod,
        } => C::Status {
            target: paths.target(pod),
            format: match format.as_deref() {
                Some("k8s") => podinit::operator::Format::K8s,
                Some("json") => podinit::operator::Format::Json,
                _ if json => podinit::operator::Format::Json,
                _ => podinit::operator::Format::Table,
            },
        },
        Command::Stop { paths, grace, pod } => C::Stop {
            target: paths.target(pod),
            grace,
        },
        Command::Restart {
            paths,
            pod,
            container,
        } => C::Operate {
            target: paths.target(pod),
            container,
            op: podinit::engine::Operation::Restart,
        },
        Command::Signal {
            paths,
            pod,
            container,
            signal,
        } => C::Operate {
            target: paths.target(pod),
            container,
            op: podinit::engine::Operation::Signal(signal),
        },
        Command::Run {
            pod,
            runtime,
            create_order,
            seed,
            keep,
            work_dir,
            timeout,
            explain,
            images,
            image_store,
            hooks,
            no_hooks,
            vm,
            kernel,
            memory,
            cpus,
            accel,
        } => {
            let opts = podinit::run::RunOptions {
                pod,
                runtime,
                order: match create_order.as_str() {
                    "reverse" => podinit::run::CreateOrder::Reverse,
                    "random" => podinit::run::CreateOrder::Random,
                    _ => podinit::run::CreateOrder::Spec,
                },
                seed,
                keep,
                work_dir,
                timeout: std::time::Duration::from_secs(timeout),
                explain: explain || verbose > 0,
                images: podinit::run::images::Sources {
                    named: images,
                    store: image_store,
                },
                hooks: hook_flags(hooks, no_hooks).unwrap_or_default(),
            };
            if vm {
                C::RunVm(
                    opts,
                    podinit::vm::host::VmOptions {
                        kernel,
                        memory_mib: memory,
                        cpus,
                        accel: podinit::vm::qemu::AccelChoice::parse(&accel)
                            .unwrap_or(podinit::vm::qemu::AccelChoice::Auto),
                    },
                )
            } else {
                C::Run(opts)
            }
        }
        Command::SandboxInit => C::SandboxInit,
        Command::Explain { .. } | Command::Exec { .. } | Command::Runtime { .. } => {
            unreachable!("handled in run")
        }
    }
}

fn hook_command(h: podinit::hook_cli::HookArgs) -> podinit::cli::Command {
    podinit::cli::Command::Hook {
        stage: h.stage,
        socket: h.socket,
        state_dir: h.state_dir,
        on_unreachable: h.on_unreachable,
    }
}

fn exec_args(command: Command, verbose: u8) -> init::cli::ExecArgs {
    let Command::Exec {
        subreaper,
        kill_process_group,
        remap_exit,
        pdeathsig,
        warn_on_reap,
        command,
    } = command
    else {
        unreachable!("exec_args is only called with Command::Exec")
    };
    init::cli::ExecArgs {
        subreaper,
        kill_process_group,
        remap_exit,
        pdeathsig,
        warn_on_reap,
        verbose,
        command,
    }
}

/// `podinit exec`: runs the init and ends the process with its code. It leaves through
/// `_exit`: the init writes nothing buffered (each log line is one `write(2)` to stderr) and
/// registers nothing with `atexit`, and a long-lived init has released the pages of the exit
/// handlers it would otherwise fault back in (`podinit::sys::mem`).
fn exec_init(mut opts: init::InitOptions, verbose: u8) -> i32 {
    podinit::log::init_from_env(verbose);
    opts.apply_env(|k| std::env::var_os(k));
    // 0-255 by construction (exit status, 128+signal, 126/127, 1).
    let code = init::run(&opts).clamp(0, 255);
    // SAFETY: _exit ends the process at once; nothing is left to flush (see above).
    unsafe { libc::_exit(code) }
}

/// The name of a bundle directory (given as the directory or its config.json): the default id.
fn bundle_name(bundle: &std::path::Path) -> String {
    let dir = if bundle.ends_with("config.json") {
        bundle.parent().unwrap_or(bundle)
    } else {
        bundle
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "container".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<OsString> {
        std::iter::once("podinit")
            .chain(s.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What clap makes of an exec line (after the same `--` routing as `run`).
    fn with_clap(s: &[&str]) -> Option<init::cli::ExecArgs> {
        let mut args = argv(s);
        init::cli::route_to_exec(&mut args, is_subcommand);
        let cli = Cli::try_parse_from(args).ok()?;
        match cli.command {
            exec @ Command::Exec { .. } => Some(exec_args(exec, cli.verbose)),
            _ => None,
        }
    }

    fn fast(s: &[&str]) -> Option<init::cli::ExecArgs> {
        init::cli::parse(&argv(s), is_subcommand)
    }

    /// What clap makes of a hook line.
    fn hook_with_clap(s: &[&str]) -> Option<podinit::hook_cli::HookArgs> {
        let cli = Cli::try_parse_from(argv(s)).ok()?;
        match cli.command {
            Command::Hook {
                stage,
                paths,
                on_unreachable,
            } if cli.verbose == 0 => Some(podinit::hook_cli::HookArgs {
                stage,
                socket: paths.socket,
                state_dir: paths.state_dir,
                on_unreachable,
            }),
            _ => None,
        }
    }

    /// Every hook line the fast parser accepts means the same to clap (the environment's
    /// defaults included); the ones it declines are clap's to reject, help with, or route.
    #[test]
    fn fast_hook_parser_agrees_with_clap() {
        let fast = |s: &[&str]| podinit::hook_cli::parse(&argv(s), |k| std::env::var_os(k));
        let accepted: &[&[&str]] = &[
            &["hook"],
            &["hook", "createRuntime"],
            &["hook", "poststart"],
            &["hook", "nonsense-stage"],
            &["hook", "poststop", "--socket", "/run/x.sock"],
            &["hook", "--socket=/run/x.sock", "prestart"],
            &["hook", "--state-dir", "/s", "--socket", "/c", "poststart"],
            &["hook", "--on-unreachable", "ignore", "createRuntime"],
            &["hook", "--on-unreachable=fail"],
            &["hook", "--socket=/a=b"],
        ];
        for s in accepted {
            let f = fast(s);
            assert!(f.is_some(), "fast parser declined {s:?}");
            assert_eq!(f, hook_with_clap(s), "{s:?}");
        }
        let declined: &[&[&str]] = &[
            &["hook", "--help"],
            &["hook", "-h"],
            &["hook", "--bogus", "x"],
            &["hook", "a", "b"],
            &["hook", "--socket"],
            &["hook", "--socket="],
            &["hook", "--socket", "--state-dir", "x"],
            &["hook", "--socket", "/a", "--socket", "/b"],
            &["hook", "--", "poststart"],
            &["hook", "-v", "poststart"],
            &["-v", "hook", "poststart"],
            &["explain", "hook"],
        ];
        for s in declined {
            assert_eq!(fast(s), None, "{s:?}");
        }
        // declined by the fast parser, still a hook to clap
        assert!(hook_with_clap(&["hook", "--", "poststart"]).is_some());
    }

    /// tini's convention for an init line; clap's for the operator commands.
    #[test]
    fn usage_errors_exit_1_on_exec_lines_and_clap_codes_elsewhere() {
        let exec_lines: &[&[&str]] = &[
            &["exec"],
            &["--"],
            &["exec", "-x", "sh"],
            &["-e", "256", "--", "true"],
            &["-p", "NOSIG", "sh"],
            &["-v", "exec", "--bogus", "sh"],
        ];
        for s in exec_lines {
            assert_eq!(run(argv(s)), 1, "{s:?}");
        }
        assert_eq!(run(argv(&[])), 2);
        assert_eq!(run(argv(&["explain"])), 2);
        assert_eq!(run(argv(&["status", "--format", "nope"])), 2);
        assert_eq!(run(argv(&["help"])), 0);
        assert_eq!(run(argv(&["exec", "--help"])), 0);
    }

    #[test]
    fn every_subcommand_is_one_and_help_too() {
        use clap::CommandFactory;
        for sub in Cli::command().get_subcommands() {
            assert!(is_subcommand(sub.get_name()), "{}", sub.get_name());
        }
        assert!(is_subcommand("help"));
        assert!(!is_subcommand("sh"));
    }

    #[test]
    fn explain_still_routes_through_clap() {
        assert_eq!(run(argv(&["explain", "/nonexistent/bundle"])), 2);
        assert_eq!(run(argv(&["-v", "explain", "/nonexistent/bundle"])), 2);
    }

    /// Every line the fast parser accepts means the same to clap; the ones it declines are the
    /// ones clap rejects, helps with, or routes elsewhere.
    #[test]
    fn fast_exec_parser_agrees_with_clap() {
        let accepted: &[&[&str]] = &[
            &["exec", "--", "sh", "-c", "exit 3"],
            &["exec", "sh", "-c", "exit 3"],
            &["exec", "sh", "-s", "--", "-g"],
            &["--", "sh"],
            &["--", "-x"],
            &["-s", "-g", "--", "sh", "-c", "x"],
            &["-sgw", "-vvv", "--", "sh"],
            &["-e", "143", "-e3", "--", "sh"],
            &["-e", "0", "-e", "255", "sh"],
            &["-p", "TERM", "--", "sh"],
            &["-pSIGKILL", "sh"],
            &["-p", "RTMIN+2", "sh"],
            &[
                "exec",
                "--subreaper",
                "--kill-process-group",
                "--warn-on-reap",
                "sh",
            ],
            &["exec", "--remap-exit", "7", "--remap-exit=8", "sh"],
            &["exec", "--pdeathsig", "9", "--pdeathsig=HUP", "sh"],
            &["-p", "9", "-e", "1", "-p1", "-e", "2", "--", "sh"],
            &["exec", "-s", "-s", "sh"],
            &["exec", "-ss", "--subreaper", "sh"],
            &["exec", "-gg", "-ww", "sh"],
            &["exec", "--verbose", "-v", "sh"],
            &["exec", "-ge5", "sh"],
            &["-s", "sh", "explain"],
            &["exec", "--", "explain"],
            &["sh", "-c", "exit 3"],
            &["./app", "exec", "-s"],
        ];
        for s in accepted {
            let f = fast(s);
            assert!(f.is_some(), "fast parser declined {s:?}");
            assert_eq!(f, with_clap(s), "{s:?}");
        }
        let declined: &[&[&str]] = &[
            &["exec"],
            &["exec", "--"],
            &["--"],
            &["exec", "-e", "256", "sh"],
            &["exec", "-e", "x", "sh"],
            &["exec", "-p", "NOPE", "sh"],
            &["exec", "-x", "sh"],
            &["exec", "--bogus", "sh"],
            &["exec", "-gep", "2", "sh"],
            &["exec", "--subreaper=1", "sh"],
            &["explain", "bundle"],
        ];
        for s in declined {
            assert_eq!(fast(s), None, "{s:?}");
            assert_eq!(with_clap(s), None, "{s:?}");
        }
        // declined by the fast parser, accepted by clap: help/version and global -v first
        assert_eq!(fast(&["-v", "exec", "--", "sh"]), None);
        assert_eq!(with_clap(&["-v", "exec", "--", "sh"]).unwrap().verbose, 1);
    }
}
