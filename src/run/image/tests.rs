//! Saved images built here with the `tar` crate, hostile ones included: every refusal names
//! the layer and the entry, and nothing lands outside the root.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::blobs::sha256;
use super::*;

/// One tar entry; names are written raw, so `../x` and `/x` can be built.
enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Link(&'a str, &'a str),
    Char(&'a str),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let (name, data): (&str, &[u8]) = match e {
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                (n, d)
            }
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, b"")
            }
            E::Symlink(n, t) | E::Link(n, t) => {
                h.set_entry_type(if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                h.set_mode(0o777);
                h.as_old_mut().linkname[..t.len()].copy_from_slice(t.as_bytes());
                (n, b"")
            }
            E::Char(n) => {
                h.set_entry_type(tar::EntryType::Char);
                h.set_mode(0o666);
                (n, b"")
            }
        };
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(bytes).unwrap();
    g.finish().unwrap()
}

fn temp(tag: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("podinit-image-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// An OCI layout written blob by blob.
struct Layout(PathBuf);

impl Layout {
    fn new(tag: &str) -> Layout {
        let d = temp(tag);
        std::fs::create_dir_all(d.join("blobs/sha256")).unwrap();
        std::fs::write(d.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout(d)
    }

    fn blob(&self, media: &str, bytes: &[u8]) -> Value {
        let digest = sha256(bytes);
        std::fs::write(
            self.0.join("blobs/sha256").join(&digest["sha256:".len()..]),
            bytes,
        )
        .unwrap();
        json!({"mediaType": media, "digest": digest, "size": bytes.len()})
    }

    fn config(&self, process: Value, layers: usize) -> Value {
        let c = json!({"architecture": "amd64", "os": "linux", "config": process,
            "rootfs": {"type": "layers", "diff_ids": vec!["sha256:00"; layers]}});
        self.blob(
            "application/vnd.oci.image.config.v1+json",
            c.to_string().as_bytes(),
        )
    }

    fn manifest(&self, config: Value, layers: Vec<Value>) -> Value {
        let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config, "layers": layers});
        self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            m.to_string().as_bytes(),
        )
    }

    fn index(&self, manifests: Vec<Value>) {
        let i = json!({"schemaVersion": 2, "manifests": manifests});
        std::fs::write(self.0.join("index.json"), i.to_string()).unwrap();
    }

    /// One image of these layers (tars, gzipped when `gz`).
    fn image(tag: &str, layers: &[(Vec<u8>, bool)]) -> (Layout, Value) {
        let l = Layout::new(tag);
        let descs = layers
            .iter()
            .map(|(t, gz)| {
                if *gz {
                    l.blob("application/vnd.oci.image.layer.v1.tar+gzip", &gzip(t))
                } else {
                    l.blob("application/vnd.oci.image.layer.v1.tar", t)
                }
            })
            .collect();
        let config = l.config(json!({"Cmd": ["sh"]}), layers.len());
        let mut m = l.manifest(config, descs);
        m["annotations"] = json!({"org.opencontainers.image.ref.name": "localhost/myapp:1"});
        l.index(vec![m.clone()]);
        (l, m)
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Load and unpack into a fresh cache; the unpacked root or the error.
fn unpack(path: &Path) -> Result<PathBuf, Error> {
    let img = load(path, "myapp")?;
    rootfs::unpacked(&img, &path.join("cache"))
}

#[test]
fn layers_apply_in_order_with_whiteouts_gzip_or_not() {
    let base = tar_of(&[
        E::Dir("etc/"),
        E::File("etc/passwd", b"root:x:0:0::/:/bin/sh\n"),
        E::Dir("opt/old/"),
        E::File("opt/old/a", b"a"),
        E::File("opt/keep", b"k"),
        E::File("gone", b"g"),
        E::Symlink("lib", "usr/lib"),
        E::Dir("usr/lib/"),
    ]);
    let top = tar_of(&[
        E::File(".wh.gone", b""),
        E::File("opt/new", b"n"),
        E::File("opt/.wh..wh..opq", b""),
        E::File("lib/libx.so", b"x"),
        E::Link("opt/hard", "opt/new"),
        E::File(".wh.never-existed", b""),
    ]);
    let (l, m) = Layout::image("order", &[(base, true), (top, false)]);
    let img = load(&l.0, "myapp").unwrap();
    assert_eq!(img.key, m["digest"].as_str().unwrap());
    assert_eq!(img.layers.len(), 2);
    let root = rootfs::unpacked(&img, &l.0.join("cache")).unwrap();
    assert!(root.join("etc/passwd").is_file());
    assert!(!root.join("gone").exists());
    assert!(!root.join("opt/old").exists() && !root.join("opt/keep").exists());
    assert_eq!(std::fs::read(root.join("opt/new")).unwrap(), b"n");
    assert_eq!(std::fs::read(root.join("opt/hard")).unwrap(), b"n");
    assert_eq!(std::fs::read(root.join("usr/lib/libx.so")).unwrap(), b"x");
    assert!(
        std::fs::symlink_metadata(root.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Unpacked once: the second call finds it.
    assert_eq!(rootfs::unpacked(&img, &l.0.join("cache")).unwrap(), root);
    let copy = l.0.join("copy");
    rootfs::copy_tree(&root, &copy).unwrap();
    assert_eq!(std::fs::read(copy.join("opt/hard")).unwrap(), b"n");
    assert!(
        std::fs::symlink_metadata(copy.join("lib"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// The layer error for `entries`, after checking it names the layer and the entry.
fn refused(entries: &[E], entry: &str) -> String {
    let layer = tar_of(entries);
    let (l, m) = Layout::image("hostile", &[(layer.clone(), false)]);
    let e = unpack(&l.0).expect_err("a hostile layer unpacked");
    let text = e.to_string();
    assert!(
        matches!(&e, Error::Layer { digest, entry: en, .. } if *digest == sha256(&layer) && en == entry),
        "{text}"
    );
    assert!(
        text.contains(entry) && text.contains(&sha256(&layer)),
        "{text}"
    );
    assert!(
        !l.0.join("cache").join(img_dir(&m)).join("rootfs").exists(),
        "half a root kept"
    );
    text
}

fn img_dir(m: &Value) -> String {
    m["digest"].as_str().unwrap().replace(':', "-")
}

#[test]
fn hostile_entries_are_refused_with_the_layer_and_the_entry() {
    let outside = temp("outside");
    let out = outside.to_string_lossy().into_owned();
    let up = "../".repeat(outside.components().count() + 8);
    let t = refused(&[E::File("../x", b"x")], "../x");
    assert!(t.contains("..") && t.contains("layer sha256:"), "{t}");
    refused(&[E::File("/abs", b"x")], "/abs");
    // A relative symlink climbing out, then a write through it.
    let via = format!("{up}{}", out.trim_start_matches('/'));
    refused(
        &[E::Symlink("evil", &via), E::File("evil/x", b"x")],
        "evil/x",
    );
    assert!(!outside.join("x").exists());
    refused(&[E::Char("etc/mem")], "etc/mem");
    refused(&[E::File("a", b"a"), E::Link("b", "../../etc/passwd")], "b");
    refused(&[E::Link("b", "nonexistent")], "b");
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn absolute_symlinks_resolve_inside_the_root_and_devices_under_dev_are_skipped() {
    let outside = temp("abs-outside");
    let target = outside.join("y").to_string_lossy().into_owned();
    let layer = tar_of(&[
        E::Symlink("abs", &outside.to_string_lossy()),
        E::File("abs/y", b"y"),
        E::Char("dev/null"),
    ]);
    let (l, _) = Layout::image("abs", &[(layer, false)]);
    let root = unpack(&l.0).unwrap();
    assert!(!Path::new(&target).exists(), "wrote through to the host");
    let inside = root.join(outside.strip_prefix("/").unwrap()).join("y");
    assert_eq!(std::fs::read(inside).unwrap(), b"y");
    assert!(!root.join("dev/null").exists());
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn a_symlink_then_a_file_replaces_the_link_not_its_target() {
    let outside = temp("replace");
    std::fs::write(outside.join("t"), b"host").unwrap();
    let layer = tar_of(&[
        E::Symlink("f", &outside.join("t").to_string_lossy()),
        E::File("f", b"image"),
    ]);
    let (l, _) = Layout::image("replace", &[(layer, false)]);
    let root = unpack(&l.0).unwrap();
    assert_eq!(std::fs::read(outside.join("t")).unwrap(), b"host");
    assert_eq!(std::fs::read(root.join("f")).unwrap(), b"image");
    let _ = std::fs::remove_dir_all(&outside);
}

#[test]
fn blobs_are_checked_against_their_descriptors() {
    let layer = tar_of(&[E::File("a", b"a")]);
    // Digest mismatch: the blob's bytes changed after the descriptor was written.
    let (l, m) = Layout::image("digest", &[(layer.clone(), false)]);
    let d = sha256(&layer);
    let blob = l.0.join("blobs/sha256").join(&d["sha256:".len()..]);
    let mut altered = layer.clone();
    altered[600] ^= 1;
    std::fs::write(&blob, &altered).unwrap();
    let e = unpack(&l.0).unwrap_err();
    assert!(
        matches!(&e, Error::Digest { expected, .. } if *expected == d),
        "{e}"
    );
    // Size mismatch: one byte more.
    let mut longer = layer.clone();
    longer.push(0);
    std::fs::write(&blob, &longer).unwrap();
    let e = unpack(&l.0).unwrap_err();
    assert!(
        matches!(&e, Error::Size { expected, found, .. } if *found == *expected + 1),
        "{e}"
    );
    // Missing blob: found before anything is unpacked.
    std::fs::remove_file(&blob).unwrap();
    let e = load(&l.0, "myapp").err().unwrap();
    assert!(
        matches!(&e, Error::MissingBlob { digest } if *digest == d),
        "{e}"
    );
    // A damaged manifest.
    let md = m["digest"].as_str().unwrap();
    std::fs::write(l.0.join("blobs/sha256").join(&md["sha256:".len()..]), b"{}").unwrap();
    let e = load(&l.0, "myapp").err().unwrap();
    assert!(
        matches!(e, Error::Size { .. } | Error::Digest { .. }),
        "{e}"
    );
}

#[test]
fn bad_json_and_foreign_platforms_are_errors() {
    let (l, _) = Layout::image("json", &[(tar_of(&[]), false)]);
    std::fs::write(
        l.0.join("index.json"),
        "{\"schemaVersion\": 2, \"manifests\": [",
    )
    .unwrap();
    let e = load(&l.0, "x").err().unwrap().to_string();
    assert!(e.contains("index.json") && e.contains("not valid"), "{e}");
    // An index with arm64 and s390x only.
    let l = Layout::new("platform");
    let config = l.config(json!({}), 0);
    let mut arm = l.manifest(config.clone(), vec![]);
    arm["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    let mut s390 = l.manifest(config, vec![]);
    s390["platform"] = json!({"os": "linux", "architecture": "s390x"});
    l.index(vec![arm, s390]);
    let e = load(&l.0, "x").err().unwrap();
    assert!(
        matches!(&e, Error::Platform { found } if found.contains(&"linux/arm64/v8".to_owned())),
        "{e}"
    );
    assert!(e.to_string().contains("linux/s390x"), "{e}");
    // A config that says arm64 behind a descriptor without a platform.
    let l = Layout::new("config-arch");
    let c = json!({"architecture": "arm64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}});
    let config = l.blob(
        "application/vnd.oci.image.config.v1+json",
        c.to_string().as_bytes(),
    );
    let m = l.manifest(config, vec![]);
    l.index(vec![m]);
    assert!(matches!(load(&l.0, "x"), Err(Error::Platform { .. })));
    assert!(matches!(
        load(Path::new("/nonexistent-image"), "x"),
        Err(Error::Io { .. })
    ));
}

#[test]
fn the_amd64_manifest_is_picked_through_a_nested_index() {
    let l = Layout::new("nested");
    let layer = l.blob(
        "application/vnd.oci.image.layer.v1.tar",
        &tar_of(&[E::File("amd", b"1")]),
    );
    let config = l.config(json!({"Entrypoint": ["/app"]}), 1);
    let mut amd = l.manifest(config.clone(), vec![layer]);
    amd["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut arm = l.manifest(config, vec![]);
    arm["platform"] = json!({"os": "linux", "architecture": "arm64"});
    let inner = json!({"schemaVersion": 2, "manifests": [arm, amd.clone()]});
    let inner = l.blob(
        "application/vnd.oci.image.index.v1+json",
        inner.to_string().as_bytes(),
    );
    l.index(vec![inner]);
    let img = load(&l.0, "x").unwrap();
    assert_eq!(img.key, amd["digest"].as_str().unwrap());
    let root = rootfs::unpacked(&img, &l.0.join("cache")).unwrap();
    assert!(root.join("amd").is_file());
}

/// A tarball of the directory `dir`'s files (what podman save writes).
fn archive_of(dir: &Path, to: &Path) {
    let mut b = tar::Builder::new(std::fs::File::create(to).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.finish().unwrap();
}

#[test]
fn an_oci_archive_is_read_in_place() {
    let (l, m) = Layout::image("oci-archive", &[(tar_of(&[E::File("hello", b"hi")]), true)]);
    let out = temp("oci-archive-out");
    let tarball = out.join("img.tar");
    archive_of(&l.0, &tarball);
    assert_eq!(names(&tarball).unwrap(), ["localhost/myapp:1"]);
    let img = load(&tarball, "localhost/myapp:1").unwrap();
    assert_eq!(img.key, m["digest"].as_str().unwrap());
    let root = rootfs::unpacked(&img, &out.join("cache")).unwrap();
    assert_eq!(std::fs::read(root.join("hello")).unwrap(), b"hi");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_docker_archive_is_checked_against_its_diff_ids() {
    let d = temp("docker");
    let layer = tar_of(&[E::File("hello", b"docker")]);
    std::fs::create_dir_all(d.join("abc")).unwrap();
    std::fs::write(d.join("abc/layer.tar"), &layer).unwrap();
    let config = json!({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
        "container_config": {"Hostname": "x"}, "docker_version": "24",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}})
    .to_string();
    let config_name = format!("{}.json", &sha256(config.as_bytes())["sha256:".len()..]);
    std::fs::write(d.join(&config_name), &config).unwrap();
    let manifest =
        json!([{"Config": config_name, "RepoTags": ["myapp:latest"], "Layers": ["abc/layer.tar"]}]);
    std::fs::write(d.join("manifest.json"), manifest.to_string()).unwrap();
    let tarball = temp("docker-out").join("img.tar");
    archive_of(&d, &tarball);
    assert_eq!(names(&tarball).unwrap(), ["docker.io/library/myapp:latest"]);
    let img = load(&tarball, "docker.io/library/myapp").unwrap();
    assert_eq!(img.key, sha256(config.as_bytes()));
    let root = rootfs::unpacked(&img, &d.join("cache")).unwrap();
    assert_eq!(std::fs::read(root.join("hello")).unwrap(), b"docker");
    // A layer that is not the one the config names.
    std::fs::write(
        d.join("abc/layer.tar"),
        tar_of(&[E::File("hello", b"other")]),
    )
    .unwrap();
    let img = load(&d, "myapp").unwrap();
    let e = rootfs::unpacked(&img, &d.join("cache2")).unwrap_err();
    assert!(
        matches!(&e, Error::Digest { expected, .. } if *expected == sha256(&layer)),
        "{e}"
    );
    // A config whose name is not its digest.
    std::fs::write(d.join(&config_name), config.replace("24", "25")).unwrap();
    assert!(matches!(load(&d, "myapp"), Err(Error::Digest { .. })));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_dir_all(tarball.parent().unwrap());
}

#[rstest::rstest]
#[case("nginx", "docker.io/library/nginx:latest")]
#[case("nginx:1.25", "docker.io/library/nginx:1.25")]
#[case("elastic/filebeat:7.17.0", "docker.io/elastic/filebeat:7.17.0")]
#[case("localhost/myapp:1", "localhost/myapp:1")]
#[case("localhost:5000/a/b", "localhost:5000/a/b:latest")]
#[case("quay.io/x/y@sha256:ab", "quay.io/x/y@sha256:ab")]
#[case("index.docker.io/library/busybox:1", "docker.io/library/busybox:1")]
fn references_normalize_as_docker_does(#[case] r: &str, #[case] want: &str) {
    assert_eq!(normalize(r), want);
}

#[test]
fn image_options_resolve_by_name_and_the_store_by_recorded_names() {
    use crate::run::images::{Image, Sources, resolve};
    let (l, _) = Layout::image("store-a", &[(tar_of(&[]), false)]);
    let store = temp("store");
    archive_of(&l.0, &store.join("myapp.tar"));
    std::fs::write(store.join("notes.txt"), "not an image").unwrap();
    let rootfs = temp("rootfs-dir");
    let s = Sources {
        named: vec![
            ("web".into(), l.0.clone()),
            ("plain".into(), rootfs.clone()),
            ("missing".into(), PathBuf::from("/nonexistent-x")),
        ],
        store: Some(store.clone()),
    };
    assert_eq!(
        resolve("c", "docker.io/library/web:latest", &s),
        Ok(Image::Saved(l.0.clone()))
    );
    assert_eq!(resolve("c", "plain", &s), Ok(Image::Rootfs(rootfs.clone())));
    assert_eq!(
        resolve("c", "localhost/myapp:1", &s),
        Ok(Image::Saved(store.join("myapp.tar")))
    );
    assert_eq!(resolve("c", "busybox:1.36", &s), Ok(Image::Busybox));
    let p = l.0.to_string_lossy().into_owned();
    assert_eq!(
        resolve("c", &p, &Sources::default()),
        Ok(Image::Saved(l.0.clone()))
    );
    let e = resolve("c", "missing", &s).unwrap_err().to_string();
    assert!(e.contains("--image missing=/nonexistent-x"), "{e}");
    let e = resolve("app", "nginx:1.25", &s).unwrap_err().to_string();
    for part in [
        "container app",
        "\"nginx:1.25\"",
        "--image nginx:1.25=PATH",
        "--image-store",
        "localhost/myapp:1",
    ] {
        assert!(e.contains(part), "{part}: {e}");
    }
    let _ = std::fs::remove_dir_all(&store);
    let _ = std::fs::remove_dir_all(&rootfs);
}
