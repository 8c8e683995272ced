//! Starts moto (the AWS emulator, from the repo's `.venv`) on a free loopback port,
//! through `local/moto_server.py`, which serves one request at a time (see there why).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// moto_server.py's exit status when the installed moto is not the one its patch wraps.
const WRONG_MOTO: i32 = 3;

/// A running moto server; stopped when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's root (where `.venv` and `template.yaml` live).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("local/ has a parent")
        .to_path_buf()
}

/// A port the kernel says is free on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Moto {
    /// Starts `moto_server` with real TOTP checks and waits until it answers.
    /// `die_with_parent` makes the kernel stop it if this process dies without cleaning up.
    pub fn start(die_with_parent: bool) -> std::io::Result<Self> {
        Self::start_on(die_with_parent, "127.0.0.1", None)
    }

    /// As `start`, listening on `host` (`0.0.0.0`: every interface, so containers can
    /// reach it) and on `port` when given, else on a free one.
    pub fn start_on(die_with_parent: bool, host: &str, port: Option<u16>) -> std::io::Result<Self> {
        let python = repo_root().join(".venv/bin/python");
        if !repo_root().join(".venv/bin/moto_server").exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "moto is not installed in {}: run `make venv` first",
                    repo_root().join(".venv").display()
                ),
            ));
        }
        let port = port.unwrap_or_else(free_port);
        let mut command = Command::new(python);
        command
            .arg(repo_root().join("local/moto_server.py"))
            .arg(port.to_string())
            .arg(host)
            .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
            // The server exits when this pipe closes: when we stop it or die.
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if die_with_parent {
            set_parent_death_signal(&mut command);
        }
        let child = command.spawn()?;
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = moto.child.try_wait() {
                if status.code() == Some(WRONG_MOTO) {
                    return Err(std::io::Error::other(
                        "the installed moto is not the version local/moto_patches.py wraps: \
                         `make test-emulator` says what differs",
                    ));
                }
                // Gone otherwise: most likely the port was taken (by another moto, say).
                return Err(std::io::Error::other(format!(
                    "moto stopped at start ({status}): is port {port} in use?"
                )));
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(moto);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "moto did not start within 30 s",
        ))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

#[cfg(target_os = "linux")]
fn set_parent_death_signal(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child being started.
    // The one unsafe block of the workspace: pre_exec runs between fork and exec, where
    // only async-signal-safe calls are allowed; prctl is one.
    #[allow(unsafe_code)]
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn set_parent_death_signal(_command: &mut Command) {}
