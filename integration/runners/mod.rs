//! podinit driving a runtime for the user: `podinit run` with manifests ([`pods`]) and images
//! ([`images`]), under podman ([`podman`]), and `podinit explain` on `testdata/`
//! ([`explain_testdata`]).

mod explain_testdata;
mod images;
mod podman;
mod pods;
