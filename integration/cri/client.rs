//! A blocking CRI v1 client over containerd's unix socket: the crates.io `k8s-cri` bindings
//! (tonic) driven by a current-thread tokio runtime owned by the client, so the scenarios stay
//! plain synchronous code. Every call has a deadline (the `Endpoint` timeout): a hung runtime
//! fails the test with the call's name instead of hanging the test binary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerStatus, ContainerStatusRequest, CreateContainerRequest, ImageSpec,
    ImageStatusRequest, PodSandboxConfig, RemoveContainerRequest, RemovePodSandboxRequest,
    RunPodSandboxRequest, StartContainerRequest, StopContainerRequest, StopPodSandboxRequest,
    VersionRequest,
};
use tokio::net::UnixStream;
use tokio::runtime::Runtime;
use tonic::transport::{Channel, Endpoint, Uri};

/// Longest any single CRI call may take. StopContainer waits for the container's exit up to
/// its own timeout (10 s in the scenarios), so this is well above that.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Cri {
    rt: Runtime,
    channel: Channel,
    socket: PathBuf,
}

type Res<T> = Result<T, String>;

impl Cri {
    /// Connects (lazily: the first call dials) to the CRI server on `socket`.
    pub fn new(socket: &Path) -> Res<Cri> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        let path = socket.to_path_buf();
        // The URI is a placeholder: the connector ignores it and dials the unix socket.
        let endpoint = Endpoint::try_from("http://[::]:50051")
            .map_err(|e| e.to_string())?
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(5));
        let channel = {
            let _guard = rt.enter();
            endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
                let path = path.clone();
                async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
            }))
        };
        Ok(Cri {
            rt,
            channel,
            socket: socket.to_path_buf(),
        })
    }

    fn rs(&self) -> RuntimeServiceClient<Channel> {
        RuntimeServiceClient::new(self.channel.clone())
    }

    fn is(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone())
    }

    fn err(&self, call: &str, s: tonic::Status) -> String {
        format!(
            "CRI {call} on {}: {:?}: {}",
            self.socket.display(),
            s.code(),
            s.message()
        )
    }

    /// `Version`: the runtime's name and version, e.g. `containerd 1.6.20~ds1`.
    pub fn version(&self) -> Res<String> {
        let r = self
            .rt
            .block_on(self.rs().version(VersionRequest {
                version: "v1".into(),
            }))
            .map_err(|s| self.err("Version", s))?
            .into_inner();
        Ok(format!("{} {}", r.runtime_name, r.runtime_version))
    }

    /// Whether the image service knows `image` (by name).
    pub fn image_present(&self, image: &str) -> Res<bool> {
        let r = self
            .rt
            .block_on(self.is().image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.into(),
                    ..Default::default()
                }),
                verbose: false,
            }))
            .map_err(|s| self.err("ImageStatus", s))?
            .into_inner();
        Ok(r.image.is_some())
    }

    pub fn run_pod_sandbox(&self, config: PodSandboxConfig, handler: &str) -> Res<String> {
        let r = self
            .rt
            .block_on(self.rs().run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: handler.into(),
            }))
            .map_err(|s| self.err("RunPodSandbox", s))?;
        Ok(r.into_inner().pod_sandbox_id)
    }

    pub fn create_container(
        &self,
        sandbox_id: &str,
        config: ContainerConfig,
        sandbox_config: PodSandboxConfig,
    ) -> Res<String> {
        let name = config.metadata.as_ref().map_or("", |m| &m.name).to_owned();
        let r = self
            .rt
            .block_on(self.rs().create_container(CreateContainerRequest {
                pod_sandbox_id: sandbox_id.into(),
                config: Some(config),
                sandbox_config: Some(sandbox_config),
            }))
            .map_err(|s| self.err(&format!("CreateContainer {name}"), s))?;
        Ok(r.into_inner().container_id)
    }

    pub fn start_container(&self, id: &str) -> Res<()> {
        self.rt
            .block_on(self.rs().start_container(StartContainerRequest {
                container_id: id.into(),
            }))
            .map_err(|s| self.err(&format!("StartContainer {id}"), s))?;
        Ok(())
    }

    /// `StopContainer` on every id at once (concurrent requests on one HTTP/2 connection), the
    /// way a kubelet deletes a pod; the results in the order of `ids`.
    pub fn stop_containers(&self, ids: &[&str], timeout_s: i64) -> Vec<Res<()>> {
        let calls: Vec<_> = ids
            .iter()
            .map(|id| {
                let mut c = self.rs();
                let id = id.to_string();
                self.rt.spawn(async move {
                    c.stop_container(StopContainerRequest {
                        container_id: id.clone(),
                        timeout: timeout_s,
                    })
                    .await
                    .map(drop)
                    .map_err(|s| (id, s))
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|h| match self.rt.block_on(h) {
                Ok(Ok(())) => Ok(()),
                Ok(Err((id, s))) => Err(self.err(&format!("StopContainer {id}"), s)),
                Err(e) => Err(format!("StopContainer task: {e}")),
            })
            .collect()
    }

    pub fn stop_container(&self, id: &str, timeout_s: i64) -> Res<()> {
        self.stop_containers(&[id], timeout_s).remove(0)
    }

    pub fn remove_container(&self, id: &str) -> Res<()> {
        self.rt
            .block_on(self.rs().remove_container(RemoveContainerRequest {
                container_id: id.into(),
            }))
            .map_err(|s| self.err(&format!("RemoveContainer {id}"), s))?;
        Ok(())
    }

    pub fn container_status(&self, id: &str) -> Res<ContainerStatus> {
        let r = self
            .rt
            .block_on(self.rs().container_status(ContainerStatusRequest {
                container_id: id.into(),
                verbose: false,
            }))
            .map_err(|s| self.err(&format!("ContainerStatus {id}"), s))?;
        r.into_inner()
            .status
            .ok_or_else(|| format!("ContainerStatus {id}: no status"))
    }

    pub fn stop_pod_sandbox(&self, id: &str) -> Res<()> {
        self.rt
            .block_on(self.rs().stop_pod_sandbox(StopPodSandboxRequest {
                pod_sandbox_id: id.into(),
            }))
            .map_err(|s| self.err(&format!("StopPodSandbox {id}"), s))?;
        Ok(())
    }

    pub fn remove_pod_sandbox(&self, id: &str) -> Res<()> {
        self.rt
            .block_on(self.rs().remove_pod_sandbox(RemovePodSandboxRequest {
                pod_sandbox_id: id.into(),
            }))
            .map_err(|s| self.err(&format!("RemovePodSandbox {id}"), s))?;
        Ok(())
    }
}
