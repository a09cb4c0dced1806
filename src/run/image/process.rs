//! An image's config as the process of a container, the way the kubelet and containerd's CRI
//! plugin combine them: `command` replaces the Entrypoint and drops the Cmd, `args` replaces
//! the Cmd; the image's Env over the runtime's default PATH, the container's env over both
//! (by name); the image's WorkingDir unless `workingDir` is given. The User is in `user`.

use oci_spec::image::ImageConfiguration;

use crate::run::bundle::ContainerSpec;

/// The runtime's default environment (runc's and containerd's spec default).
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What an image's config says about its process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageProcess {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
}

impl ImageProcess {
    /// The busybox image's config (`Cmd ["sh"]`), also used for a root filesystem directory.
    pub fn busybox() -> ImageProcess {
        ImageProcess {
            cmd: vec!["sh".into()],
            ..ImageProcess::default()
        }
    }

    pub fn from_config(config: &ImageConfiguration) -> ImageProcess {
        let Some(c) = config.config() else {
            return ImageProcess::default();
        };
        ImageProcess {
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            env: c.env().clone().unwrap_or_default(),
            working_dir: c.working_dir().clone().filter(|d| !d.is_empty()),
            user: c.user().clone().filter(|u| !u.is_empty()),
        }
    }
}

/// containerd's WithProcessArgs: `None` when nothing is left to run.
pub fn argv(
    command: &[String],
    args: &[String],
    entrypoint: &[String],
    cmd: &[String],
) -> Option<Vec<String>> {
    let mut out: Vec<String> = command.to_vec();
    let mut args = args.to_vec();
    if command.is_empty() {
        if args.is_empty() {
            args = cmd.to_vec();
        }
        // An Entrypoint of [""] is docker's way of clearing it.
        if !(entrypoint.len() == 1 && entrypoint[0].is_empty()) {
            out = entrypoint.to_vec();
        }
    }
    out.extend(args);
    (!out.is_empty()).then_some(out)
}

/// `over` on top of `base`: a variable of the same name is replaced where it stands, a new
/// one appended (containerd's replaceOrAppendEnvValues).
pub fn merge_env(base: &[String], over: &[String]) -> Vec<String> {
    let mut out = base.to_vec();
    for kv in over {
        let key = kv.split('=').next().unwrap_or(kv);
        match out
            .iter_mut()
            .find(|e| e.split('=').next().unwrap_or(e) == key)
        {
            Some(slot) => slot.clone_from(kv),
            None => out.push(kv.clone()),
        }
    }
    out
}

/// Set the container's argv, env and cwd from its declaration and the image's config.
pub fn apply(c: &mut ContainerSpec, image: &ImageProcess) -> Result<(), String> {
    c.argv = argv(&c.command, &c.args, &image.entrypoint, &image.cmd).ok_or_else(|| {
        format!(
            "container {}: no command: the image has no Entrypoint or Cmd and the container \
             gives no command or args",
            c.name
        )
    })?;
    c.env = merge_env(
        &merge_env(&[DEFAULT_PATH.to_owned()], &image.env),
        &c.declared_env,
    );
    c.cwd = match (&c.working_dir, &image.working_dir) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) if d.starts_with('/') => d.clone(),
        (None, Some(d)) => {
            return Err(format!(
                "container {}: the image's WorkingDir {d:?} is not an absolute path; give \
                 workingDir",
                c.name
            ));
        }
        (None, None) => "/".to_owned(),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    /// One case per rule of Kubernetes' "Notes" on command and args (the table in "Define a
    /// Command and Arguments for a Container") and containerd's merge.
    #[rstest]
    #[case::image_defaults("", "", "/ep", "--cmd", Some("/ep --cmd"))]
    #[case::command_replaces_entrypoint_and_drops_cmd("/c", "", "/ep", "--cmd", Some("/c"))]
    #[case::args_replace_cmd("", "--a", "/ep", "--cmd", Some("/ep --a"))]
    #[case::command_and_args("/c", "--a", "/ep", "--cmd", Some("/c --a"))]
    #[case::cmd_alone_is_the_command("", "", "", "sh -c x", Some("sh -c x"))]
    #[case::args_without_entrypoint_are_the_command("", "echo hi", "", "sh", Some("echo hi"))]
    #[case::nothing_at_all("", "", "", "", None)]
    fn command_and_args_merge_with_entrypoint_and_cmd(
        #[case] command: &str,
        #[case] args: &str,
        #[case] entrypoint: &str,
        #[case] cmd: &str,
        #[case] want: Option<&str>,
    ) {
        assert_eq!(
            argv(&v(command), &v(args), &v(entrypoint), &v(cmd)),
            want.map(v)
        );
    }

    #[test]
    fn an_empty_entrypoint_string_clears_it() {
        assert_eq!(argv(&[], &[], &["".into()], &v("sh")), Some(v("sh")));
    }

    #[test]
    fn env_is_replaced_by_name_in_place() {
        let base = v("PATH=/bin A=1 B=2");
        assert_eq!(
            merge_env(&base, &v("B=3 C=4 PATH=/x")),
            v("PATH=/x A=1 B=3 C=4")
        );
    }
}
