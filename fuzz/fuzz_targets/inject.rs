//! `podinit inject` on a fuzzed `config.json` in a temp bundle: injecting twice is injecting
//! once (the second run reports no change and leaves the bytes as the first wrote them), and a
//! refused config is left byte for byte as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::inject::{self, HookMode, InjectError, InjectOptions, Outcome};

fuzz_target!(|input: &[u8]| {
    let bundle = podinit_fuzz::temp_bundle();
    let config = bundle.join("config.json");
    std::fs::write(&config, input).expect("write the temp bundle's config.json");
    let opts = InjectOptions {
        binary: "/usr/local/bin/podinit".into(),
        socket: "/run/podinit-fuzz/podinit.sock".into(),
        state_dir: "/run/podinit-fuzz".into(),
        log_level: Some("debug".into()),
        // Forced hooks: a claim (the default for a bundle with a pid namespace of its own) is
        // written into the state dir, outside the temp bundle this target owns.
        hooks: HookMode::Hooks,
        id: "fuzz".into(),
    };
    let read = || std::fs::read(&config).expect("read the temp bundle's config.json");
    match inject::inject(bundle, &opts) {
        Ok(first) => {
            let once = read();
            if !matches!(first, Outcome::Changed(_)) {
                assert_eq!(once, input, "{first:?} but the bytes changed");
            }
            let second = inject::inject(bundle, &opts).expect("an injected bundle injects again");
            assert!(
                matches!(second, Outcome::Unchanged(_) | Outcome::Sandbox(_)),
                "second inject: {second:?}"
            );
            assert_eq!(read(), once, "the second inject changed the bytes");
        }
        Err(e @ (InjectError::NotJson(..) | InjectError::NotOci(..))) => {
            assert!(e.to_string().contains("left unchanged"), "{e}");
            assert_eq!(read(), input, "a refused config.json was changed: {e}");
        }
        Err(e) => panic!("unexpected error on a tmpfs bundle: {e}"),
    }
});
