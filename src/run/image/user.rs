//! The image's `User` (`uid`, `uid:gid`, `name`, `name:group`, …) as numbers, looked up in the
//! image's own /etc/passwd and /etc/group as containerd's WithUser does: a uid alone takes its
//! passwd entry's group, else 0. `runAsUser` / `runAsGroup` win over it.

use std::path::Path;

use super::unpack;

/// Resolve `spec` with the text of the image's passwd and group files (`None`: absent).
pub fn resolve(
    spec: &str,
    passwd: Option<&str>,
    group: Option<&str>,
) -> Result<(u32, u32), String> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entries = |text: Option<&str>| -> Vec<Vec<String>> {
        text.unwrap_or("")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split(':').map(str::to_owned).collect())
            .collect()
    };
    let users = entries(passwd);
    let field = |e: &Vec<String>, i: usize| e.get(i).and_then(|f| f.parse::<u32>().ok());
    let (uid, primary) = match user.parse::<u32>() {
        Ok(uid) => (
            uid,
            users
                .iter()
                .find(|e| field(e, 2) == Some(uid))
                .and_then(|e| field(e, 3)),
        ),
        Err(_) => {
            let e = users
                .iter()
                .find(|e| e.first().map(String::as_str) == Some(user))
                .ok_or_else(|| {
                    format!(
                        "user {user:?} is not in the image's /etc/passwd{}",
                        if passwd.is_none() {
                            " (it has none)"
                        } else {
                            ""
                        }
                    )
                })?;
            (
                field(e, 2).ok_or_else(|| format!("/etc/passwd: {user}'s uid is not a number"))?,
                field(e, 3),
            )
        }
    };
    let gid = match grp {
        None => primary.unwrap_or(0),
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => entries(group)
                .iter()
                .find(|e| e.first().map(String::as_str) == Some(g))
                .and_then(|e| field(e, 2))
                .ok_or_else(|| {
                    format!(
                        "group {g:?} is not in the image's /etc/group{}",
                        if group.is_none() {
                            " (it has none)"
                        } else {
                            ""
                        }
                    )
                })?,
        },
    };
    Ok((uid, gid))
}

/// A file of the image, its symlinks followed inside `root`; `None` when absent.
pub fn read_in(root: &Path, path: &str) -> Option<String> {
    let p = unpack::resolve_file(root, path).ok()??;
    std::fs::read_to_string(p).ok()
}

/// The user a container runs as: `runAsUser`/`runAsGroup` where given, else the image's User.
pub fn for_container(
    run_as: (Option<u32>, Option<u32>),
    image_user: Option<&str>,
    root: &Path,
) -> Result<(u32, u32), String> {
    let (uid, gid) = match (run_as.0, image_user) {
        // Today's rule for an explicit runAsUser: its group is runAsGroup, else the uid.
        (Some(uid), _) => (uid, uid),
        (None, Some(spec)) => resolve(
            spec,
            read_in(root, "etc/passwd").as_deref(),
            read_in(root, "etc/group").as_deref(),
        )
        .map_err(|e| format!("the image's User {spec:?}: {e}"))?,
        (None, None) => (0, 0),
    };
    Ok((uid, run_as.1.unwrap_or(gid)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:app\napp:x:1001:\n";

    #[rstest]
    #[case::uid("1000", Ok((1000, 1001)))]
    #[case::unknown_uid_takes_group_0("4242", Ok((4242, 0)))]
    #[case::uid_gid("7:8", Ok((7, 8)))]
    #[case::name("app", Ok((1000, 1001)))]
    #[case::name_group("app:staff", Ok((1000, 50)))]
    #[case::uid_group("5:staff", Ok((5, 50)))]
    #[case::name_gid("root:9", Ok((0, 9)))]
    #[case::unknown_name("nobody", Err("user \"nobody\" is not in the image's /etc/passwd"))]
    #[case::unknown_group("app:wheel", Err("group \"wheel\" is not in the image's /etc/group"))]
    fn users_resolve_like_containerd(#[case] spec: &str, #[case] want: Result<(u32, u32), &str>) {
        assert_eq!(
            resolve(spec, Some(PASSWD), Some(GROUP)),
            want.map_err(str::to_owned)
        );
    }

    #[test]
    fn a_name_without_passwd_is_an_error_and_run_as_wins() {
        assert!(
            resolve("app", None, None)
                .unwrap_err()
                .contains("it has none")
        );
        let root = Path::new("/nonexistent-root");
        assert_eq!(
            for_container((Some(5), None), Some("app"), root),
            Ok((5, 5))
        );
        assert_eq!(
            for_container((None, Some(9)), Some("3:4"), root),
            Ok((3, 9))
        );
        assert_eq!(for_container((None, None), None, root), Ok((0, 0)));
        assert!(for_container((None, None), Some("app"), root).is_err());
    }
}
