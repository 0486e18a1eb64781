//! `SmtpSink`: a real SMTP server for the e-mail tests, Python's aiosmtpd run by
//! `tests/scripts/smtp_sink.py` on a free loopback port, optionally with STARTTLS (a given
//! certificate) and AUTH PLAIN/LOGIN (a given user). Each message it accepts lands in a
//! directory as JSON: the envelope, the EHLO name, TLS and AUTH facts, the raw data and the
//! message as Python's `email` package parses it (decoded headers, decoded leaf parts);
//! `wait_for` reads them back with a deadline.
//!
//! The sink needs aiosmtpd (`scripts/setup.sh smtp`); without it `start` fails saying so.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

#[derive(Debug, Clone, Default)]
pub struct SmtpSinkOptions {
    /// Certificate and key (PEM files): the sink offers STARTTLS, and AUTH only after it.
    pub starttls: Option<(PathBuf, PathBuf)>,
    /// User and password: the sink offers AUTH PLAIN and LOGIN and accepts only these.
    pub auth: Option<(String, String)>,
    /// The first this many messages are refused at DATA with `fail_reply` (default
    /// `451 4.3.0 Try again later`, a transient failure).
    pub fail_first: u32,
    pub fail_reply: Option<String>,
}

/// One MIME leaf part, decoded.
#[derive(Debug, Clone)]
pub struct MailPart {
    pub content_type: String,
    pub transfer_encoding: Option<String>,
    pub body: String,
}

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    /// The client's EHLO/HELO name.
    pub helo: String,
    /// Whether the session was under TLS (after STARTTLS) when the message came.
    pub tls: bool,
    pub auth_user: Option<String>,
    /// `PLAIN` or `LOGIN`.
    pub auth_mechanism: Option<String>,
    /// The message's own type, e.g. `multipart/alternative`.
    pub content_type: String,
    /// Decoded (RFC 2047), in order.
    pub headers: Vec<(String, String)>,
    pub parts: Vec<MailPart>,
    /// The DATA as sent.
    pub raw: String,
}

impl ReceivedMail {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first part of `content_type` (`text/html`).
    pub fn part(&self, content_type: &str) -> Option<&MailPart> {
        self.parts.iter().find(|p| p.content_type == content_type)
    }

    fn from_json(v: &serde_json::Value) -> anyhow::Result<ReceivedMail> {
        let s = |k: &str| v[k].as_str().map(str::to_string);
        let pairs = v["headers"]
            .as_array()
            .context("headers")?
            .iter()
            .map(|h| {
                (
                    h[0].as_str().unwrap_or("").to_string(),
                    h[1].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let parts = v["parts"]
            .as_array()
            .context("parts")?
            .iter()
            .map(|p| MailPart {
                content_type: p["content_type"].as_str().unwrap_or("").to_string(),
                transfer_encoding: p["transfer_encoding"].as_str().map(str::to_string),
                body: p["body"].as_str().unwrap_or("").to_string(),
            })
            .collect();
        Ok(ReceivedMail {
            mail_from: s("mail_from").unwrap_or_default(),
            rcpt_tos: v["rcpt_tos"]
                .as_array()
                .context("rcpt_tos")?
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect(),
            helo: s("helo").unwrap_or_default(),
            tls: v["tls"].as_bool().unwrap_or(false),
            auth_user: s("auth_user"),
            auth_mechanism: s("auth_mechanism"),
            content_type: s("content_type").unwrap_or_default(),
            headers: pairs,
            parts,
            raw: s("data").unwrap_or_default(),
        })
    }
}

pub struct SmtpSink {
    child: Child,
    /// Held open: the sink exits when it closes (also if this process dies).
    _stdin: Option<ChildStdin>,
    dir: tempfile::TempDir,
    port: u16,
}

impl SmtpSink {
    pub fn script() -> PathBuf {
        crate::workspace_root().join("tests/scripts/smtp_sink.py")
    }

    pub fn start(options: SmtpSinkOptions) -> anyhow::Result<SmtpSink> {
        let probe = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !probe.is_ok_and(|s| s.success()) {
            bail!("the SMTP sink needs python3 with aiosmtpd: run `scripts/setup.sh smtp`");
        }
        let dir = tempfile::tempdir()?;
        let mut cmd = Command::new("python3");
        cmd.arg(Self::script()).arg("--out-dir").arg(dir.path());
        if let Some((cert, key)) = &options.starttls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if let Some((user, password)) = &options.auth {
            cmd.args(["--user", user, "--password", password]);
        }
        if options.fail_first > 0 {
            cmd.args(["--fail-first", &options.fail_first.to_string()]);
        }
        if let Some(reply) = &options.fail_reply {
            cmd.args(["--fail-reply", reply]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the SMTP sink (python3)")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("sink stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(port) = line
            .trim()
            .strip_prefix("READY ")
            .and_then(|p| p.parse::<u16>().ok())
        else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the SMTP sink did not start (it said {line:?}; its stderr is above)");
        };
        Ok(SmtpSink {
            child,
            _stdin: stdin,
            dir,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, an e-mail integration's `smarthost`.
    pub fn smarthost(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The messages received so far, in order.
    pub fn messages(&self) -> anyhow::Result<Vec<ReceivedMail>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f)?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("{}: {text}", f.display()))?;
                ReceivedMail::from_json(&v)
            })
            .collect()
    }

    /// Waits until at least `count` messages have arrived, at most `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> anyhow::Result<Vec<ReceivedMail>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages()?;
            if got.len() >= count {
                return Ok(got);
            }
            if Instant::now() >= deadline {
                bail!(
                    "the SMTP sink received {} messages within {timeout:?}, expected {count}",
                    got.len()
                );
            }
            // Polling a directory: the sink writes whole files by rename.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
