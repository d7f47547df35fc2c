//! Servers a test starts for itself: a certificate authority and a server certificate made on
//! the spot (openssl), a PostgreSQL cluster of its own (initdb, optionally with TLS, optionally a
//! streaming replica of another) and a Redis that speaks only TLS. Where the tools are missing,
//! outside CI the test says so and does not run; in CI it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `tool` runs here; if not, says so (outside CI) or fails (in CI).
pub fn available(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        || pg_bin(tool).is_some();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is missing; CI must have it for {test}"
        );
        eprintln!("{test}: NOT RUN ({tool} is not installed)");
    }
    found
}

/// PostgreSQL's own programs (`initdb`, `pg_basebackup`, `postgres`) are often not on `PATH`.
fn pg_bin(tool: &str) -> Option<PathBuf> {
    let dirs = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    let mut found: Vec<PathBuf> = dirs
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("bin").join(tool))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

fn program(tool: &str) -> PathBuf {
    pg_bin(tool).unwrap_or_else(|| PathBuf::from(tool))
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A CA and a server certificate it signed for `localhost` (not for 127.0.0.1), and another CA
/// that signed nothing here.
pub struct Certificates {
    pub ca: PathBuf,
    pub other_ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn certificates(dir: &Path) -> Certificates {
    let at = |name: &str| dir.join(name);
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other_ca"] {
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-days",
                "2",
                "-subj",
                &format!("/CN=almanac test {ca}"),
            ])
            .args(ec)
            .arg("-keyout")
            .arg(at(&format!("{ca}.key")))
            .arg("-out")
            .arg(at(&format!("{ca}.pem"))));
    }
    run(Command::new("openssl")
        .args(["req", "-subj", "/CN=localhost"])
        .args(ec)
        .arg("-keyout")
        .arg(at("server.key"))
        .arg("-out")
        .arg(at("server.csr")));
    std::fs::write(
        at("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(at("server.csr"))
        .arg("-CA")
        .arg(at("ca.pem"))
        .arg("-CAkey")
        .arg(at("ca.key"))
        .arg("-extfile")
        .arg(at("server.ext"))
        .arg("-out")
        .arg(at("server.pem")));
    Certificates {
        ca: at("ca.pem"),
        other_ca: at("other_ca.pem"),
        cert: at("server.pem"),
        key: at("server.key"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A command run as the `postgres` user when this process is root (PostgreSQL refuses root).
fn as_postgres(tool: &str) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program(tool));
        command
    } else {
        Command::new(program(tool))
    }
}

/// Makes `path` (and its parents up to the temp dir) usable by the `postgres` user.
fn hand_over(path: &Path) {
    if is_root() {
        run(Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(path));
    }
}

/// A PostgreSQL cluster of a test's own, stopped when dropped.
pub struct Cluster {
    pub port: u16,
    data: PathBuf,
}

impl Cluster {
    /// A new cluster in `dir`/`name` on a free port, trusting local connections, with TLS from
    /// `tls` if given, accepting replication connections.
    pub fn start(dir: &Path, name: &str, tls: Option<&Certificates>) -> Self {
        let root = dir.join(name);
        std::fs::create_dir_all(&root).unwrap();
        let _ = Command::new("chmod").arg("755").arg(dir).status();
        hand_over(&root);
        let data = root.join("data");
        run(as_postgres("initdb")
            .args([
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data));
        let mut settings = String::from(
            "listen_addresses = '127.0.0.1'\nfsync = off\nwal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n",
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        if let Some(tls) = tls {
            std::fs::copy(&tls.cert, data.join("server.pem")).unwrap();
            std::fs::copy(&tls.key, data.join("server.key")).unwrap();
            run(Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key")));
            settings
                .push_str("ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n");
        }
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&settings);
        std::fs::write(&conf, text).unwrap();
        hand_over(&root);
        let cluster = Self {
            port: free_port(),
            data,
        };
        cluster.launch();
        cluster
    }

    /// A streaming replica of `primary` made with `pg_basebackup`, on its own port.
    pub fn replica_of(primary: &Cluster, dir: &Path, name: &str) -> Self {
        let root = dir.join(name);
        std::fs::create_dir_all(&root).unwrap();
        hand_over(&root);
        let data = root.join("data");
        run(as_postgres("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-R",
                "-X",
                "stream",
                // A checkpoint now, not the next spread one (minutes away).
                "--checkpoint=fast",
                "-p",
            ])
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(&data));
        hand_over(&root);
        let cluster = Self {
            port: free_port(),
            data,
        };
        cluster.launch();
        cluster
    }

    fn launch(&self) {
        let log = self.data.parent().unwrap().join("server.log");
        run(as_postgres("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(format!("-p {} -k {}", self.port, self.data.display()))
            .args(["-w", "-t", "60", "start"]));
    }

    /// Stops the server at once (a crash, as far as its clients can tell).
    pub fn stop(&self) {
        let _ = as_postgres("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }

    pub fn url(&self, host: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres", self.port)
    }

    /// Runs SQL with psql on this cluster's `postgres` database; its output.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// Runs SQL with psql in `database`; its output.
    pub fn psql_in(&self, database: &str, sql: &str) -> String {
        let output = Command::new("psql")
            .arg(format!(
                "postgres://postgres@127.0.0.1:{}/{database}",
                self.port
            ))
            .args(["-At", "-c", sql])
            .output()
            .expect("psql");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Redis that speaks only TLS, killed when dropped.
pub struct TlsRedis {
    pub port: u16,
    child: Child,
}

impl TlsRedis {
    pub fn start(tls: &Certificates) -> Self {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&tls.cert)
            .arg("--tls-key-file")
            .arg(&tls.key)
            .arg("--tls-ca-cert-file")
            .arg(&tls.ca)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
