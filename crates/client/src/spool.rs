//! A durable, bounded, on-disk spool for services without a database: [`Spool::emit`] returns once
//! the event is fsync'd to disk, and [`Spool::run`] delivers spooled events to Sealbook with the
//! outbox relay's rule ([`crate::delivery::deliver`]), surviving restarts of the process.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use sealbook_client::{event::{Event, Party}, spool::Spool, Client};
//! let spool = std::sync::Arc::new(Spool::open("/var/lib/orders/audit-spool".as_ref(), 64 << 20)?);
//! let sealbook = Client::new("http://sealbook:8080", "sbk_…")?;
//! tokio::spawn(spool.clone().run(sealbook, std::future::pending()));
//! spool.emit(&Event::new("user.logout", Party::user("u-42"), Party::user("u-42"))).await?;
//! # Ok(()) }
//! ```
//!
//! Layout: one segment file `seg-<generation>.jsonl` (one event per line, appended and fsync'd),
//! `parked.jsonl` (events Sealbook refused for good, with the reason), and `cursor`
//! (`<generation> <byte offset>` of the first undelivered event, replaced atomically). When the
//! delivered prefix grows, the undelivered tail is copied into the next generation before the
//! cursor moves to it, so a crash at any point loses nothing; at worst an event is sent twice,
//! which Sealbook's idempotency by event id absorbs.

use crate::delivery::deliver;
use crate::event::Event;
use crate::{Client, MAX_BATCH};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Spool failures.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool holds `max_bytes` of undelivered events: the event was not accepted.
    #[error("the spool is full ({0} bytes undelivered); the event was not accepted")]
    Full(u64),
    /// The disk failed.
    #[error("spool I/O: {0}")]
    Io(#[from] std::io::Error),
}

struct State {
    generation: u64,
    /// Byte offset of the first undelivered event in the current segment.
    cursor: u64,
    /// Length of the current segment.
    len: u64,
    file: File,
}

/// The spool (see the module docs). Share it in an `Arc`.
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool").field("dir", &self.dir).finish()
    }
}

/// Spooled events hold personal data (and whatever the application put in them, before Sealbook's
/// redaction): files are created readable by the owner only.
fn private() -> OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = OpenOptions::new();
    o.mode(0o600);
    o
}

fn segment(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("seg-{generation}.jsonl"))
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `<generation> <offset>` to `dir/cursor` atomically and durably.
fn write_cursor(dir: &Path, generation: u64, offset: u64) -> std::io::Result<()> {
    let tmp = dir.join("cursor.tmp");
    let mut f = private()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
    writeln!(f, "{generation} {offset}")?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join("cursor"))?;
    sync_dir(dir)
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, accepting up to `max_bytes` of undelivered
    /// events.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir)?;
        let (generation, cursor) = match std::fs::read_to_string(dir.join("cursor")) {
            Ok(s) => {
                let mut it = s.split_whitespace().map(str::parse::<u64>);
                match (it.next(), it.next()) {
                    (Some(Ok(g)), Some(Ok(o))) => (g, o),
                    _ => {
                        return Err(SpoolError::Io(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            "unreadable spool cursor",
                        )))
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_cursor(dir, 0, 0)?;
                (0, 0)
            }
            Err(e) => return Err(e.into()),
        };
        // Segments of other generations are leftovers of an interrupted compaction.
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if name.starts_with("seg-") && name != format!("seg-{generation}.jsonl") {
                std::fs::remove_file(dir.join(name))?;
            }
        }
        let mut file = private()
            .create(true)
            .read(true)
            .append(true)
            .open(segment(dir, generation))?;
        let mut len = file.seek(SeekFrom::End(0))?;
        // A torn last line (a crash mid-append, never acknowledged) is cut off.
        if len > 0 {
            let mut bytes = Vec::new();
            file.seek(SeekFrom::Start(0))?;
            file.read_to_end(&mut bytes)?;
            let whole = bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p as u64 + 1);
            if whole < len {
                file.set_len(whole)?;
                file.sync_all()?;
                len = whole;
            }
        }
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
            state: Mutex::new(State {
                generation,
                cursor: cursor.min(len),
                len,
                file,
            }),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// Appends `event` and returns once it is on disk (fsync'd). Refuses with
    /// [`SpoolError::Full`] rather than drop anything.
    pub async fn emit(self: &Arc<Self>, event: &Event) -> Result<(), SpoolError> {
        let mut line = event.to_json().to_string().into_bytes();
        line.push(b'\n');
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = me.state.lock().expect("spool lock");
            let undelivered = s.len - s.cursor;
            if undelivered + line.len() as u64 > me.max_bytes {
                return Err(SpoolError::Full(undelivered));
            }
            s.file.write_all(&line)?;
            s.file.sync_data()?;
            s.len += line.len() as u64;
            Ok(())
        })
        .await
        .map_err(|e| SpoolError::Io(std::io::Error::other(e.to_string())))??;
        self.wake.notify_one();
        Ok(())
    }

    /// Bytes of events not yet delivered.
    pub fn pending_bytes(&self) -> u64 {
        let s = self.state.lock().expect("spool lock");
        s.len - s.cursor
    }

    /// Up to `max` undelivered events and the offset just past them.
    fn next_batch(
        &self,
        max: usize,
    ) -> Result<(Vec<serde_json::Value>, Vec<String>, u64), SpoolError> {
        let s = self.state.lock().expect("spool lock");
        let mut f = File::open(segment(&self.dir, s.generation))?;
        f.seek(SeekFrom::Start(s.cursor))?;
        let mut reader = BufReader::new(f.take(s.len - s.cursor));
        let (mut events, mut raw) = (Vec::new(), Vec::new());
        let mut offset = s.cursor;
        let mut line = String::new();
        while events.len() < max {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 {
                break;
            }
            offset += n as u64;
            let text = line.trim_end().to_owned();
            events.push(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null));
            raw.push(text);
        }
        Ok((events, raw, offset))
    }

    /// Marks everything before `offset` delivered, and compacts once the delivered prefix is
    /// larger than the undelivered tail allowance.
    fn advance(&self, offset: u64) -> Result<(), SpoolError> {
        let mut s = self.state.lock().expect("spool lock");
        write_cursor(&self.dir, s.generation, offset)?;
        s.cursor = offset;
        if s.cursor > self.max_bytes / 2 || (s.cursor == s.len && s.len > 0) {
            // Copy the tail into the next generation, then move the cursor to it.
            let next = s.generation + 1;
            let mut tail = Vec::new();
            let mut f = File::open(segment(&self.dir, s.generation))?;
            f.seek(SeekFrom::Start(s.cursor))?;
            f.read_to_end(&mut tail)?;
            let mut new = private()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(segment(&self.dir, next))?;
            new.write_all(&tail)?;
            new.sync_all()?;
            sync_dir(&self.dir)?;
            write_cursor(&self.dir, next, 0)?;
            let _ = std::fs::remove_file(segment(&self.dir, s.generation));
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .open(segment(&self.dir, next))?;
            *s = State {
                generation: next,
                cursor: 0,
                len: tail.len() as u64,
                file,
            };
        }
        Ok(())
    }

    fn park(&self, raw: &str, why: &str) -> Result<(), SpoolError> {
        let mut f = private()
            .create(true)
            .append(true)
            .open(self.dir.join("parked.jsonl"))?;
        writeln!(f, "{}", serde_json::json!({"event": raw, "error": why}))?;
        f.sync_data()?;
        Ok(())
    }

    /// One delivery cycle: returns how many events left the spool (delivered or parked).
    pub async fn deliver_once(
        self: &Arc<Self>,
        sealbook: &Client,
    ) -> Result<usize, crate::ClientError> {
        let me = self.clone();
        let (events, raw, offset) =
            tokio::task::spawn_blocking(move || me.next_batch(MAX_BATCH / 2))
                .await
                .expect("spool task")
                .map_err(|e| crate::ClientError::Unexpected {
                    status: 0,
                    body: e.to_string(),
                })?;
        if events.is_empty() {
            return Ok(0);
        }
        let n = events.len();
        let outcome = deliver(sealbook, events).await?;
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            for (pos, why) in &outcome.parked {
                me.park(&raw[*pos], why)?;
            }
            me.advance(offset)
        })
        .await
        .expect("spool task")
        .map_err(|e| crate::ClientError::Unexpected {
            status: 0,
            body: e.to_string(),
        })?;
        Ok(n)
    }

    /// Delivers until `shutdown` resolves, backing off while Sealbook is unavailable.
    pub async fn run(
        self: Arc<Self>,
        sealbook: Client,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            let pause = match self.deliver_once(&sealbook).await {
                Ok(0) => None,
                Ok(_) => {
                    failures = 0;
                    Some(Duration::ZERO)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    Some(sealbook.retry.delay(failures.min(10), &e))
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = async {
                    match pause {
                        Some(p) => tokio::time::sleep(p).await,
                        None => {
                            let _ = tokio::time::timeout(Duration::from_secs(1), self.wake.notified()).await;
                        }
                    }
                } => {}
            }
        }
    }
}
