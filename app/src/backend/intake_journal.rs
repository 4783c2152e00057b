//! The intake's journal, for SQLite. The registry sends its notifications one envelope at a time
//! and waits for each answer, so every millisecond the answer waits slows the whole stream; in
//! the main database the answer would wait for the one writer at a time (the index, the webhook
//! dispatcher, sessions). So each envelope is appended to a file of its own (`<database>-intake`,
//! next to the database) and answered at once; the mover ([`super::intake::Intake`]) stores the
//! journaled envelopes in the main database in batches, and records in the same transaction how
//! far into the journal it has stored ([`Position`]). Stopped anywhere, it resumes from the last
//! recorded position: nothing is lost, and nothing is stored twice.
//!
//! The file: a header (`WHARFJ1\n` and the file's epoch, 8 bytes), then records, each
//! `length (u32) | CRC-32 of the rest (u32) | received at (i64, ms) | envelope`, little-endian.
//! A write that returned is in the operating system's cache, so a killed process loses nothing
//! (a power cut can lose the last envelopes, as it can the main database's last commits). A torn
//! record at the end (a crash in the middle of an append, whose envelope was not answered) is cut
//! off at the next start. Once everything in the file is stored and it has grown past a limit,
//! it starts again, empty, with a new epoch. The file is locked while a console has it open: a
//! second console on the same data directory does not start. (A hand-written log: appending must cost one write,
//! with no database round trip.)

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::AnyConnection;
use tokio::sync::Notify;

const MAGIC: &[u8; 8] = b"WHARFJ1\n";
const HEADER: u64 = 16;
/// Length, CRC and time before each envelope.
const RECORD_HEAD: usize = 16;
/// An envelope is at most 4 MiB (the intake's limit); a length beyond this is damage.
const MAX_RECORD: usize = 8 * 1024 * 1024;

/// How far the main database has stored the journal: the file's epoch and the offset after the
/// last stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub epoch: i64,
    pub offset: u64,
}

/// One journaled envelope.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The position right after it.
    pub end: Position,
    pub received_at: i64,
    pub body: Vec<u8>,
}

struct Writer {
    file: File,
    epoch: i64,
}

pub struct Journal {
    path: PathBuf,
    writer: Mutex<Writer>,
    /// Bytes written by appends that returned: complete records end here.
    len: AtomicU64,
    appended: Notify,
}

impl Journal {
    /// Opens (creating it if needed) the journal of the SQLite database at `database_url`, next
    /// to it, cutting off a torn record at its end. `None` for a database without a file.
    pub fn open(database_url: &str) -> io::Result<Option<Journal>> {
        let main = SqliteConnectOptions::from_str(database_url).map_err(io::Error::other)?;
        let Some(path) = journal_path(main.get_filename()) else {
            return Ok(None);
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        // One process appends at a time: a second console on the same data directory would
        // write over the first one's envelopes.
        file.try_lock().map_err(|err| match err {
            std::fs::TryLockError::WouldBlock => io::Error::other(format!(
                "{} is in use by another Wharf process: two consoles cannot share one SQLite data directory",
                path.display()
            )),
            std::fs::TryLockError::Error(err) => err,
        })?;
        let (epoch, len) = match read_header(&mut file)? {
            Some(epoch) => (epoch, complete_length(&mut file)?),
            None => (start_epoch(&mut file)?, HEADER),
        };
        file.set_len(len)?;
        file.seek(SeekFrom::Start(len))?;
        Ok(Some(Journal {
            path,
            writer: Mutex::new(Writer { file, epoch }),
            len: AtomicU64::new(len),
            appended: Notify::new(),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an envelope and wakes the mover.
    pub fn append(&self, received_at: i64, body: &[u8]) -> io::Result<()> {
        if body.len() > MAX_RECORD - RECORD_HEAD {
            return Err(io::Error::other("an envelope too large for the journal"));
        }
        let mut record = Vec::with_capacity(RECORD_HEAD + body.len());
        record.extend_from_slice(&(body.len() as u32).to_le_bytes());
        record.extend_from_slice(&checksum(received_at, body).to_le_bytes());
        record.extend_from_slice(&received_at.to_le_bytes());
        record.extend_from_slice(body);
        let mut writer = self.writer.lock().expect("journal lock");
        let start = self.len.load(Ordering::Acquire);
        if let Err(err) = writer.file.write_all(&record) {
            // Leave no half record behind for the next append to follow.
            let _ = writer.file.set_len(start);
            let _ = writer.file.seek(SeekFrom::Start(start));
            return Err(err);
        }
        self.len.store(start + record.len() as u64, Ordering::Release);
        drop(writer);
        self.appended.notify_one();
        Ok(())
    }

    /// Waits for the next append (or returns at once if one came since the last wait).
    pub async fn appended(&self) {
        self.appended.notified().await;
    }

    /// Where to go on from, given the position the main database recorded: there, if it is in
    /// this file; the file's start if the file started again after it (everything before was
    /// stored) or nothing was recorded yet.
    pub fn resume_from(&self, recorded: Option<Position>) -> Position {
        let epoch = self.writer.lock().expect("journal lock").epoch;
        let len = self.len.load(Ordering::Acquire);
        match recorded {
            Some(position) if position.epoch == epoch => Position {
                epoch,
                offset: position.offset.clamp(HEADER, len),
            },
            _ => Position { epoch, offset: HEADER },
        }
    }

    /// Up to `limit` complete records from `from`.
    pub fn read(&self, from: Position, limit: usize) -> io::Result<Vec<Entry>> {
        let end = self.len.load(Ordering::Acquire);
        if from.offset >= end {
            return Ok(Vec::new());
        }
        let mut reader = BufReader::new(File::open(&self.path)?);
        reader.seek(SeekFrom::Start(from.offset))?;
        let mut entries = Vec::new();
        let mut offset = from.offset;
        while offset < end && entries.len() < limit {
            let Some((received_at, body)) = read_record(&mut reader)? else {
                return Err(io::Error::other(format!(
                    "damaged record at byte {offset} of the journal"
                )));
            };
            offset += (RECORD_HEAD + body.len()) as u64;
            entries.push(Entry {
                end: Position {
                    epoch: from.epoch,
                    offset,
                },
                received_at,
                body,
            });
        }
        Ok(entries)
    }

    /// Starts the file again, empty, when everything in it is stored (`stored` is its end) and it
    /// has grown past `max` bytes. Returns the new start.
    pub fn start_again_if_stored(&self, stored: Position, max: u64) -> io::Result<Option<Position>> {
        let mut writer = self.writer.lock().expect("journal lock");
        let len = self.len.load(Ordering::Acquire);
        if writer.epoch != stored.epoch || stored.offset != len || len <= max {
            return Ok(None);
        }
        writer.epoch = start_epoch(&mut writer.file)?;
        self.len.store(HEADER, Ordering::Release);
        Ok(Some(Position {
            epoch: writer.epoch,
            offset: HEADER,
        }))
    }
}

/// The position the main database recorded, if any.
pub async fn recorded(conn: &mut AnyConnection) -> Result<Option<Position>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT epoch, stored_through FROM intake_journal_position WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(row.map(|(epoch, offset)| Position {
        epoch,
        offset: u64::try_from(offset).unwrap_or(0),
    }))
}

/// Records, on the caller's transaction, that the journal is stored up to `position`.
pub async fn record(conn: &mut AnyConnection, position: Position) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO intake_journal_position (id, epoch, stored_through) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch, stored_through = excluded.stored_through",
    )
    .bind(position.epoch)
    .bind(i64::try_from(position.offset).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn checksum(received_at: i64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&received_at.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// The file's epoch, or `None` when it has no valid header (new, or cut short while starting).
/// The epoch of the journal file at `path` (a copy, say); `None` for an empty file.
pub fn epoch_of(path: &Path) -> io::Result<Option<i64>> {
    read_header(&mut File::open(path)?)
}

fn read_header(file: &mut File) -> io::Result<Option<i64>> {
    let mut header = [0u8; HEADER as usize];
    file.seek(SeekFrom::Start(0))?;
    match file.read_exact(&mut header) {
        Ok(()) if &header[..8] == MAGIC => Ok(Some(i64::from_le_bytes(header[8..].try_into().expect("8 bytes")))),
        Ok(()) => Err(io::Error::other(
            "the intake journal does not start with Wharf's header",
        )),
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => Ok(None),
        Err(err) => Err(err),
    }
}

/// Empties the file and writes a header with a new epoch.
fn start_epoch(file: &mut File) -> io::Result<i64> {
    let epoch = i64::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[..8].try_into().expect("8 bytes"));
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    let mut header = Vec::with_capacity(HEADER as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&epoch.to_le_bytes());
    file.write_all(&header)?;
    Ok(epoch)
}

/// The length of the file's complete records (after the header): where a torn one begins.
fn complete_length(file: &mut File) -> io::Result<u64> {
    let mut reader = BufReader::new(&mut *file);
    reader.seek(SeekFrom::Start(HEADER))?;
    let mut len = HEADER;
    while let Some((_, body)) = read_record(&mut reader)? {
        len += (RECORD_HEAD + body.len()) as u64;
    }
    Ok(len)
}

/// The next record, or `None` at the end of the file or at a record that is torn or damaged.
fn read_record(reader: &mut impl Read) -> io::Result<Option<(i64, Vec<u8>)>> {
    let mut head = [0u8; RECORD_HEAD];
    match reader.read_exact(&mut head) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    let received_at = i64::from_le_bytes(head[8..].try_into().expect("8 bytes"));
    if len > MAX_RECORD {
        return Ok(None);
    }
    let mut body = vec![0u8; len];
    match reader.read_exact(&mut body) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    if checksum(received_at, &body) != crc {
        return Ok(None);
    }
    Ok(Some((received_at, body)))
}

/// `<file>-intake` next to the database file; `None` for an in-memory database.
fn journal_path(database: &Path) -> Option<PathBuf> {
    let name = database.file_name()?.to_str()?;
    if name.is_empty() || name.starts_with(':') {
        return None;
    }
    Some(database.with_file_name(format!("{name}-intake")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_in(dir: &Path) -> Journal {
        Journal::open(&format!("sqlite://{}", dir.join("wharf.db").display()))
            .unwrap()
            .unwrap()
    }

    fn bodies(entries: &[Entry]) -> Vec<Vec<u8>> {
        entries.iter().map(|e| e.body.clone()).collect()
    }

    #[test]
    fn lives_next_to_the_database() {
        assert_eq!(
            journal_path(Path::new("/data/wharf.db")),
            Some(PathBuf::from("/data/wharf.db-intake"))
        );
        assert_eq!(journal_path(Path::new(":memory:")), None);
    }

    #[test]
    fn reads_in_order_from_a_position_and_resumes_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        assert_eq!(journal.path(), dir.path().join("wharf.db-intake"));
        let start = journal.resume_from(None);
        for i in 0..5u8 {
            journal.append(1000 + i64::from(i), &[i; 3]).unwrap();
        }
        let first = journal.read(start, 3).unwrap();
        assert_eq!(bodies(&first), vec![vec![0; 3], vec![1; 3], vec![2; 3]]);
        assert_eq!(first[2].received_at, 1002);
        let stored = first[1].end;
        drop(journal);
        // Opened again (a restart): on from what was recorded as stored.
        let journal = journal_in(dir.path());
        let at = journal.resume_from(Some(stored));
        assert_eq!(at, stored);
        let rest = journal.read(at, 10).unwrap();
        assert_eq!(bodies(&rest), vec![vec![2; 3], vec![3; 3], vec![4; 3]]);
        assert!(
            journal.read(rest[2].end, 10).unwrap().is_empty(),
            "nothing after the last one"
        );
    }

    #[test]
    fn a_second_process_cannot_open_it() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let url = format!("sqlite://{}", dir.path().join("wharf.db").display());
        let Err(err) = Journal::open(&url) else {
            panic!("opened twice")
        };
        assert!(err.to_string().contains("in use by another Wharf process"), "{err}");
        drop(journal);
        assert!(Journal::open(&url).unwrap().is_some(), "free again once closed");
    }

    #[test]
    fn a_torn_record_at_the_end_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        journal.append(1, b"whole").unwrap();
        let whole = journal.len.load(Ordering::Acquire);
        drop(journal);
        // Half of a record, as a crash in the middle of an append leaves it.
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join("wharf.db-intake"))
            .unwrap();
        file.write_all(&[40, 0, 0, 0, 1, 2, 3]).unwrap();
        drop(file);
        let journal = journal_in(dir.path());
        assert_eq!(journal.len.load(Ordering::Acquire), whole);
        journal.append(2, b"next").unwrap();
        let all = journal.read(journal.resume_from(None), 10).unwrap();
        assert_eq!(bodies(&all), vec![b"whole".to_vec(), b"next".to_vec()]);
    }

    #[test]
    fn starts_again_only_when_everything_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let journal = journal_in(dir.path());
        let start = journal.resume_from(None);
        journal.append(1, &[7; 100]).unwrap();
        journal.append(2, &[8; 100]).unwrap();
        let entries = journal.read(start, 10).unwrap();
        assert_eq!(
            journal.start_again_if_stored(entries[0].end, 10).unwrap(),
            None,
            "not all stored"
        );
        assert_eq!(
            journal.start_again_if_stored(entries[1].end, 10_000).unwrap(),
            None,
            "still small"
        );
        let fresh = journal.start_again_if_stored(entries[1].end, 10).unwrap().unwrap();
        assert_ne!(fresh.epoch, start.epoch);
        assert_eq!(std::fs::metadata(journal.path()).unwrap().len(), HEADER);
        journal.append(3, &[9; 4]).unwrap();
        drop(journal);
        // A restart with the old epoch recorded: everything of the new file is still to store.
        let journal = journal_in(dir.path());
        let at = journal.resume_from(Some(entries[1].end));
        assert_eq!(at, fresh);
        assert_eq!(bodies(&journal.read(at, 10).unwrap()), vec![vec![9; 4]]);
    }
}
